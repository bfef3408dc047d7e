//! Token endpoint requests and responses (RFC 6749 4.1.3-4.1.4, 6; OIDC Core 3.1.3.3), and the
//! classification of any HTTP answer that should have been JSON.

use crate::core::error::{clip, Error, ErrorKind, TokenProblem};
use crate::core::json::{Field, Fields, FromJson};
use crate::core::secret::{AccessToken, AuthorizationCode, IdToken, PkceVerifier, RefreshToken};
use crate::core::text::parse_uint;
use crate::core::url::form_encode;

/// The form body of the authorization-code exchange (public client: `client_id`, no secret).
pub fn code_exchange_body(
    code: &AuthorizationCode,
    verifier: &PkceVerifier,
    redirect_uri: &str,
    client_id: &str,
) -> String {
    form_encode(&[
        ("grant_type", "authorization_code"),
        ("code", code.secret()),
        ("redirect_uri", redirect_uri),
        ("client_id", client_id),
        ("code_verifier", verifier.secret()),
    ])
}

/// The form body of a refresh (RFC 6749 6).
pub fn refresh_body(refresh_token: &RefreshToken, client_id: &str) -> String {
    form_encode(&[
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token.secret()),
        ("client_id", client_id),
    ])
}

/// An HTML page: a `Content-Type` naming html, or a body that starts with `<`.
pub fn looks_like_html(content_type: Option<&str>, body: &str) -> bool {
    content_type.is_some_and(|c| {
        c.as_bytes()
            .windows(4)
            .any(|w| w.eq_ignore_ascii_case(b"html"))
    }) || body.trim_ascii_start().starts_with("<")
}

/// Decides whether an HTTP answer may be parsed as JSON, before any parser sees it.
///
/// Only the start of `body` is looked at. HTML (by content type or by a leading `<`) is refused
/// with a short snippet; 429 becomes `rate_limited`; other statuses pass, so OAuth error bodies
/// (400/401 with JSON) can be read by the caller.
pub fn check_json_response(
    status: u16,
    content_type: Option<&str>,
    body: &str,
    retry_after: Option<&str>,
) -> Result<(), Error> {
    let trimmed = body.trim_ascii_start();
    let html = looks_like_html(content_type, body);
    if status == 429 {
        return Err(ErrorKind::RateLimited {
            retry_after: retry_after.and_then(|r| parse_uint(r.trim_ascii())),
        }
        .into());
    }
    if html {
        return Err(ErrorKind::HtmlResponse {
            status,
            snippet: clip(trimmed, 80),
        }
        .into());
    }
    if !(trimmed.starts_with("{") || trimmed.starts_with("[")) {
        return Err(if (200..300).contains(&status) {
            ErrorKind::InvalidResponse {
                what: "response",
                reason: "the body is not JSON".into(),
            }
            .into()
        } else {
            ErrorKind::HttpError { status }.into()
        });
    }
    Ok(())
}

/// How long any request (token endpoint, discovery, keys, UserInfo, revocation, the backend's
/// endpoints) may go without its whole answer before it fails as a network error, in ms. A
/// refresh runs under the cross-tab lock: without a bound, one stalled request would leave
/// every tab's `access_token()` pending for ever.
pub const REQUEST_TIMEOUT_MS: u32 = 30_000;

/// A token endpoint answer (success or error members; both optional so one type reads either).
/// Its `Debug` shows which tokens came, never their values.
#[derive(Default)]
pub struct TokenResponse {
    /// Access token.
    pub access_token: Option<String>,
    /// `Bearer`.
    pub token_type: Option<String>,
    /// Lifetime in seconds.
    pub expires_in: Option<f64>,
    /// Refresh token.
    pub refresh_token: Option<String>,
    /// ID token.
    pub id_token: Option<String>,
    /// Granted scope.
    pub scope: Option<String>,
    /// OAuth error code.
    pub error: Option<String>,
    /// Human description.
    pub error_description: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redacted = |v: &Option<String>| v.as_ref().map(|_| "[redacted]");
        f.debug_struct("TokenResponse")
            .field("access_token", &redacted(&self.access_token))
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("id_token", &redacted(&self.id_token))
            .field("scope", &self.scope)
            .field("error", &self.error)
            .field("error_description", &self.error_description)
            .finish()
    }
}

impl FromJson for TokenResponse {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            access_token: f.str("access_token"),
            token_type: f.str("token_type"),
            expires_in: f.seconds("expires_in"),
            refresh_token: f.str("refresh_token"),
            id_token: f.str("id_token"),
            scope: f.str("scope"),
            error: f.str("error"),
            error_description: f.str("error_description"),
        })
    }
}

/// Tokens from a successful response.
#[derive(Debug)]
pub struct TokenSet {
    /// Access token.
    pub access_token: AccessToken,
    /// Refresh token, when issued.
    pub refresh_token: Option<RefreshToken>,
    /// ID token, when issued.
    pub id_token: Option<IdToken>,
    /// Absolute expiry (seconds since the epoch), when `expires_in` was given.
    pub expires_at: Option<u64>,
    /// Granted scope.
    pub scope: Option<String>,
}

/// Turns a parsed token response (with its HTTP status) into tokens or a typed error.
pub fn token_result(status: u16, r: TokenResponse, now: u64) -> Result<TokenSet, Error> {
    if let Some(error) = r.error {
        return Err(ErrorKind::Provider {
            error,
            description: r.error_description,
        }
        .into());
    }
    if !(200..300).contains(&status) {
        return Err(ErrorKind::HttpError { status }.into());
    }
    let Some(access_token) = r.access_token.filter(|t| !t.is_empty()) else {
        return Err(ErrorKind::InvalidResponse {
            what: "token response",
            reason: "no access_token".into(),
        }
        .into());
    };
    match r.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => {}
        other => {
            return Err(Error::token(TokenProblem::UnsupportedTokenType(
                other.unwrap_or_default().into(),
            )))
        }
    }
    let expires_at = r
        .expires_in
        .filter(|e| e.is_finite() && *e >= 0.0)
        .map(|e| now + e as u64);
    Ok(TokenSet {
        access_token: AccessToken::new(access_token),
        refresh_token: r
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(RefreshToken::new),
        id_token: r.id_token.filter(|t| !t.is_empty()).map(IdToken::new),
        expires_at,
        scope: r.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::url::parse_query;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> TokenResponse {
        crate::core::discovery::tests::from_value(v)
    }

    #[test]
    fn code_exchange_carries_the_verifier_and_client_id() {
        let body = code_exchange_body(
            &AuthorizationCode::new("c/1".into()),
            &PkceVerifier::new("v".repeat(43)),
            "https://app.example/",
            "app",
        );
        let q = parse_query(&body);
        assert_eq!(q[0], ("grant_type".into(), "authorization_code".into()));
        assert_eq!(q[1], ("code".into(), "c/1".into()));
        assert_eq!(q[2], ("redirect_uri".into(), "https://app.example/".into()));
        assert_eq!(q[3], ("client_id".into(), "app".into()));
        assert_eq!(q[4], ("code_verifier".into(), "v".repeat(43)));
        assert!(
            refresh_body(&RefreshToken::new("r t".into()), "app").contains("refresh_token=r%20t")
        );
    }

    #[test]
    fn html_where_json_was_expected_is_refused_with_a_snippet() {
        let e = check_json_response(
            200,
            Some("text/html; charset=utf-8"),
            "<!doctype html><title>Oops</title>",
            None,
        )
        .unwrap_err();
        assert_eq!(e.code(), "html_response");
        assert!(
            matches!(&e.kind(), ErrorKind::HtmlResponse { status: 200, snippet } if snippet.starts_with("<!doctype"))
        );
        let e = check_json_response(502, Some("application/json"), "\n <html>Bad gateway", None)
            .unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::HtmlResponse { status: 502, .. }
        ));
        let e =
            check_json_response(429, Some("text/html"), "<html>slow down", Some("7")).unwrap_err();
        assert_eq!(
            e,
            ErrorKind::RateLimited {
                retry_after: Some(7)
            }
        );
        assert_eq!(
            check_json_response(503, Some("text/plain"), "down", None).unwrap_err(),
            ErrorKind::HttpError { status: 503 }
        );
        assert_eq!(
            check_json_response(200, None, "ok", None)
                .unwrap_err()
                .code(),
            "invalid_response"
        );
        check_json_response(
            400,
            Some("application/json"),
            r#"{"error":"invalid_grant"}"#,
            None,
        )
        .unwrap();
        check_json_response(200, Some("application/json;charset=utf-8"), " {}", None).unwrap();
    }

    #[test]
    fn token_results() {
        let ok = token_result(200, parse(json!({"access_token":"at","token_type":"bearer","expires_in":300,"refresh_token":"rt","id_token":"a.b.c","scope":"openid"})), 1000).unwrap();
        assert_eq!(ok.access_token.secret(), "at");
        assert_eq!(ok.expires_at, Some(1300));
        assert_eq!(ok.refresh_token.unwrap().secret(), "rt");
        let e = token_result(
            400,
            parse(json!({"error":"invalid_grant","error_description":"grant request is invalid"})),
            0,
        )
        .unwrap_err();
        assert_eq!(e.code(), "invalid_grant");
        assert_eq!(
            token_result(500, parse(json!({})), 0).unwrap_err(),
            ErrorKind::HttpError { status: 500 }
        );
        assert_eq!(
            token_result(200, parse(json!({"token_type":"Bearer"})), 0)
                .unwrap_err()
                .code(),
            "invalid_response"
        );
        assert_eq!(
            token_result(
                200,
                parse(json!({"access_token":"a","token_type":"mac"})),
                0
            )
            .unwrap_err()
            .code(),
            "token_invalid"
        );
        assert_eq!(
            token_result(200, parse(json!({"access_token":"a"})), 0)
                .unwrap_err()
                .code(),
            "token_invalid"
        );
    }

    #[test]
    fn token_responses_do_not_print_secrets() {
        let r = TokenResponse {
            access_token: Some("AT-SECRET".into()),
            refresh_token: Some("RT-SECRET".into()),
            id_token: Some("ID-SECRET".into()),
            token_type: Some("Bearer".into()),
            ..Default::default()
        };
        let s = format!("{r:?}");
        assert!(!s.contains("SECRET"), "{s}");
        assert!(s.contains("[redacted]") && s.contains("Bearer"), "{s}");
    }
}
