//! The authorization response on the redirect URI (OIDC Core 3.1.2.5-3.1.2.7, RFC 9207).

use crate::core::authorize::PendingSignIn;
use crate::core::discovery::Provider;
use crate::core::error::{Error, ErrorKind, IssuerSource};
use crate::core::secret::AuthorizationCode;
use crate::core::text::cat;
use crate::core::url::{parse_query, query_of, HttpUrl};

/// A parsed authorization response. Its `state` still has to be matched to a pending sign-in.
#[derive(Debug)]
pub struct AuthorizationResponse {
    /// `state` as returned.
    pub state: Option<String>,
    /// `iss` as returned (RFC 9207).
    pub iss: Option<String>,
    /// The code, or the provider's error.
    pub outcome: Outcome,
}

/// Success or error.
#[derive(Debug)]
pub enum Outcome {
    /// `code=…`
    Code(AuthorizationCode),
    /// `error=…&error_description=…`
    Error {
        /// The OAuth error code.
        error: String,
        /// `error_description`.
        description: Option<String>,
    },
}

/// What a page load is, as far as sign-in is concerned.
#[derive(Debug)]
pub enum Landing {
    /// The redirect URI with `code` or `error`: finish a sign-in.
    Callback(AuthorizationResponse),
    /// Any other URL: restore the stored session.
    Normal,
}

/// Classifies the current location. Only a URL whose origin and path equal the redirect URI's
/// and that carries `code` or `error` is a callback. Duplicate protocol parameters are refused.
pub fn classify_location(current_url: &str, redirect_uri: &str) -> Result<Landing, Error> {
    let (Some(cur), Some(red)) = (HttpUrl::parse(current_url), HttpUrl::parse(redirect_uri)) else {
        return Ok(Landing::Normal);
    };
    if cur.origin() != red.origin() || cur.path() != red.path() {
        return Ok(Landing::Normal);
    }
    parse_response(query_of(&cur.rest)).map(|r| r.map_or(Landing::Normal, Landing::Callback))
}

/// Whether a message posted to the page is silent SSO's answer, and if so the silent page's
/// URL: the message must be text (`data`), come from that very iframe (`from_frame`) and from
/// a page of `app_origin` exactly, and carry `state` among its query's `state` parameters
/// (the core then checks the whole response). Anything else is someone else's message.
pub fn silent_answer(
    data: Option<String>,
    origin: Option<&str>,
    from_frame: bool,
    app_origin: &str,
    state: &str,
) -> Option<String> {
    let url = data?;
    if !from_frame || origin != Some(app_origin) || HttpUrl::parse(&url).is_none() {
        return None;
    }
    let ours = parse_query(query_of(&url))
        .iter()
        .any(|(k, v)| k == "state" && v == state);
    ours.then_some(url)
}

/// Parses a callback query. `Ok(None)` when it has neither `code` nor `error`.
pub fn parse_response(query: &str) -> Result<Option<AuthorizationResponse>, Error> {
    let pairs = parse_query(query);
    let one = |name: &str| -> Result<Option<String>, Error> {
        let mut first = None;
        let mut twice = false;
        for (k, v) in &pairs {
            if k == name {
                twice |= first.replace(v).is_some();
            }
        }
        if twice {
            // RFC 6749 3.1: parameters must not be included more than once.
            return Err(ErrorKind::InvalidResponse {
                what: "authorization response",
                reason: cat(&["`", name, "` appears twice"]),
            }
            .into());
        }
        Ok(first.cloned())
    };
    let code = one("code")?;
    let error = one("error")?;
    let description = one("error_description")?;
    let state = one("state")?;
    let iss = one("iss")?;
    let outcome = match (code, error) {
        (_, Some(error)) => Outcome::Error { error, description },
        (Some(code), None) if !code.is_empty() => Outcome::Code(AuthorizationCode::new(code)),
        (Some(_), None) => {
            return Err(ErrorKind::InvalidResponse {
                what: "authorization response",
                reason: "empty `code`".into(),
            }
            .into())
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(AuthorizationResponse {
        state,
        iss,
        outcome,
    }))
}

/// Checks a response against its pending sign-in and the provider; returns the code to exchange.
///
/// Order matters: `state` (CSRF), then `iss` (mix-up, also for error responses), then the
/// provider's error, so an attacker cannot make us show a forged error for someone else's flow.
pub fn check_response(
    response: AuthorizationResponse,
    pending: &PendingSignIn,
    provider: &Provider,
    now: u64,
) -> Result<AuthorizationCode, Error> {
    if response.state.as_deref() != Some(pending.state.as_str()) {
        return Err(ErrorKind::StateMismatch.into());
    }
    if pending.is_expired(now) {
        return Err(ErrorKind::SignInExpired.into());
    }
    match response.iss {
        Some(iss) if iss != provider.metadata.issuer => {
            return Err(ErrorKind::IssMismatch {
                source: IssuerSource::AuthorizationResponse,
                found: iss,
            }
            .into())
        }
        None if provider
            .metadata
            .authorization_response_iss_parameter_supported =>
        {
            return Err(ErrorKind::IssMissing.into())
        }
        _ => {}
    }
    match response.outcome {
        Outcome::Code(code) => Ok(code),
        Outcome::Error { error, description } => {
            Err(ErrorKind::Provider { error, description }.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_iframe_s_answer_with_our_state_is_taken() {
        const APP: &str = "https://app.example";
        let url = "https://app.example/silent.html?code=c&state=s1&iss=x".to_owned();
        let take = |data: Option<&str>, origin: Option<&str>, from_frame: bool| {
            silent_answer(data.map(str::to_owned), origin, from_frame, APP, "s1")
        };
        assert_eq!(take(Some(&url), Some(APP), true), Some(url.clone()));
        assert_eq!(take(Some(&url), Some(APP), false), None, "another window");
        assert_eq!(take(Some(&url), Some("https://evil.example"), true), None);
        assert_eq!(
            take(Some(&url), Some("https://app.example:444"), true),
            None
        );
        assert_eq!(take(Some(&url), None, true), None);
        assert_eq!(take(None, Some(APP), true), None, "not text");
        assert_eq!(
            take(Some("https://app.example/s?state=s2"), Some(APP), true),
            None
        );
        assert_eq!(
            take(Some("https://app.example/s?xstate=s1"), Some(APP), true),
            None
        );
        assert_eq!(take(Some("state=s1"), Some(APP), true), None, "not a URL");
        assert!(
            take(
                Some("https://app.example/s?state=s0&state=s1"),
                Some(APP),
                true
            )
            .is_some(),
            "every state parameter is looked at; the core refuses duplicates later"
        );
    }
    use crate::core::discovery::tests::provider;
    use crate::core::secret::PkceVerifier;

    fn pending() -> PendingSignIn {
        PendingSignIn {
            state: "s1".into(),
            nonce: "n1".into(),
            verifier: PkceVerifier::new("v".repeat(43)),
            redirect_uri: "https://app.example/".into(),
            return_to: None,
            max_age: None,
            created_at: 100,
        }
    }

    fn check(query: &str) -> Result<AuthorizationCode, Error> {
        let r = parse_response(query)?.expect("a callback");
        check_response(r, &pending(), &provider(), 200)
    }

    #[test]
    fn accepts_a_matching_response() {
        let code = check("code=abc&state=s1&iss=https%3A%2F%2Fop.example").unwrap();
        assert_eq!(code.secret(), "abc");
    }

    #[test]
    fn refuses_every_tampering() {
        assert_eq!(
            check("code=abc&state=s2&iss=https%3A%2F%2Fop.example").unwrap_err(),
            ErrorKind::StateMismatch
        );
        assert_eq!(
            check("code=abc&iss=https%3A%2F%2Fop.example").unwrap_err(),
            ErrorKind::StateMismatch
        );
        assert!(matches!(
            check("code=abc&state=s1&iss=https%3A%2F%2Fevil.example")
                .unwrap_err()
                .kind(),
            ErrorKind::IssMismatch {
                source: IssuerSource::AuthorizationResponse,
                ..
            }
        ));
        assert!(matches!(
            check("code=abc&state=s1&iss=https%3A%2F%2Fop.example%2F")
                .unwrap_err()
                .kind(),
            ErrorKind::IssMismatch { .. }
        ));
        assert_eq!(
            check("code=abc&state=s1").unwrap_err(),
            ErrorKind::IssMissing
        );
        assert!(matches!(
            check("code=a&code=b&state=s1").unwrap_err().kind(),
            ErrorKind::InvalidResponse { .. }
        ));
        assert!(matches!(
            check("code=a&state=s1&state=s1").unwrap_err().kind(),
            ErrorKind::InvalidResponse { .. }
        ));
        assert!(matches!(
            check("code=&state=s1").unwrap_err().kind(),
            ErrorKind::InvalidResponse { .. }
        ));
    }

    #[test]
    fn missing_iss_is_fine_when_the_provider_does_not_advertise_rfc9207() {
        let mut p = provider();
        p.metadata.authorization_response_iss_parameter_supported = false;
        let r = parse_response("code=abc&state=s1").unwrap().unwrap();
        assert!(check_response(r, &pending(), &p, 200).is_ok());
        let r = parse_response("code=abc&state=s1&iss=https%3A%2F%2Fevil.example")
            .unwrap()
            .unwrap();
        assert!(matches!(
            check_response(r, &pending(), &p, 200)
                .as_ref()
                .map_err(|e| e.kind()),
            Err(ErrorKind::IssMismatch { .. })
        ));
    }

    #[test]
    fn provider_errors_are_typed_after_state_and_iss_checks() {
        let e = check("error=access_denied&error_description=User+said+no&state=s1&iss=https%3A%2F%2Fop.example")
            .unwrap_err();
        assert_eq!(e.code(), "access_denied");
        assert_eq!(
            e,
            ErrorKind::Provider {
                error: "access_denied".into(),
                description: Some("User said no".into())
            }
        );
        assert_eq!(
            check("error=login_required&state=s1&iss=https%3A%2F%2Fop.example")
                .unwrap_err()
                .code(),
            "login_required"
        );
        // A forged error for another flow is a state mismatch, not the provider's word.
        assert_eq!(
            check("error=access_denied&state=zzz").unwrap_err(),
            ErrorKind::StateMismatch
        );
        // A forged error with a foreign issuer is a mix-up attempt.
        assert!(matches!(
            check("error=access_denied&state=s1&iss=https%3A%2F%2Fevil.example")
                .unwrap_err()
                .kind(),
            ErrorKind::IssMismatch { .. }
        ));
    }

    #[test]
    fn expired_pending_sign_ins_are_refused() {
        let r = parse_response("code=abc&state=s1&iss=https%3A%2F%2Fop.example")
            .unwrap()
            .unwrap();
        assert_eq!(
            check_response(r, &pending(), &provider(), 100 + 3601).unwrap_err(),
            ErrorKind::SignInExpired
        );
    }

    #[test]
    fn classifies_only_the_redirect_uri_with_code_or_error() {
        let cb = |u: &str| classify_location(u, "https://app.example/cb").unwrap();
        for u in [
            "https://app.example/cb?code=x&state=y",
            "https://app.example/cb?error=access_denied&state=y",
        ] {
            assert!(matches!(cb(u), Landing::Callback(_)), "{u}");
        }
        for u in [
            "https://app.example/cb",
            "https://app.example/cb?state=y",
            "https://app.example/other?code=x&state=y",
            "https://evil.example/cb?code=x&state=y",
            "https://app.example/cb#code=x&state=y",
            // a ? inside the fragment
            "https://app.example/cb#x?code=x&state=y",
        ] {
            assert!(matches!(cb(u), Landing::Normal), "{u}");
        }
    }
}
