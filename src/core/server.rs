//! Server-managed mode (backend-for-frontend): the backend keeps the tokens in HttpOnly cookies;
//! the browser calls its `me`, `refresh`, `signout` and `login` endpoints. This module reads the
//! backend's answers (the contract in ANCHORS.md) and builds its URLs.

use crate::core::config::sanitize_return_to;
use crate::core::error::{Error, ErrorKind};
use crate::core::json::{parse, Fields, Json};
use crate::core::token::check_json_response;
use crate::core::url::{form_encode, with_query};
use crate::core::user::User;

/// The backend's endpoints and the CSRF header it requires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// `GET`: the session.
    pub me_url: String,
    /// `POST`: rotate the cookies.
    pub refresh_url: String,
    /// `POST`: end the session.
    pub sign_out_url: String,
    /// `GET` (navigation): start a sign-in.
    pub login_url: String,
    /// The CSRF header's name (default `X-Requested-With`).
    pub csrf_name: String,
    /// The CSRF header's value (default `oidc-session`).
    pub csrf_value: String,
    /// The backend's origin (`serverOrigin`, or the app's own): `fetch()` adds the CSRF header
    /// to requests for this origin only.
    pub origin: String,
    /// True when the backend is on another origin: requests then send `credentials: "include"`.
    pub cross_origin: bool,
    /// One `POST {refresh}` when bootstrap's `GET {me}` answers 401 (opt-in).
    pub refresh_on_bootstrap: bool,
    /// The app's origin (`location.origin`).
    pub app_origin: String,
}

impl ServerConfig {
    /// The CSRF header every request to the backend carries: (name, value).
    pub fn csrf(&self) -> (&str, &str) {
        (&self.csrf_name, &self.csrf_value)
    }
}

/// What `GET …/me` said.
#[derive(Debug, Clone, PartialEq)]
pub enum Me {
    /// Signed in.
    User(Box<User>),
    /// 401, whatever its code: no session (not an error). The backend refreshes on its side;
    /// a client configured with `refresh_on_bootstrap` tries one refresh itself.
    SignedOut,
}

/// Reads `GET …/me`.
///
/// Accepted bodies: `{ success: true, data: { user?, claims?, tenantId? } }` (the user preferred,
/// else derived from the claims), or a plain user object with a `sub`.
pub fn me_result(status: u16, content_type: Option<&str>, body: &str) -> Result<Me, Error> {
    if status == 401 {
        return Ok(Me::SignedOut);
    }
    check_json_response(status, content_type, body, None)?;
    if status != 200 {
        return Err(error_of(status, body));
    }
    let bad = |reason: &str| -> Error {
        ErrorKind::InvalidResponse {
            what: "session (me) response",
            reason: reason.into(),
        }
        .into()
    };
    let v = parse(body).ok_or_else(|| bad("the body is not valid JSON"))?;
    let top = Fields::of(&v).ok_or_else(|| bad("the body is not a JSON object"))?;
    if top.bool("success") == Some(false) {
        return Err(error_of(status, body));
    }
    let (user, claims, tenant) = match top.get("data") {
        Some(data) => {
            let d = Fields::of(data).ok_or_else(|| bad("`data` is not an object"))?;
            (
                d.get("user").filter(|u| matches!(u, Json::Obj(_))),
                d.get("claims").filter(|c| matches!(c, Json::Obj(_))),
                d.get("tenantId"),
            )
        }
        None => (Some(&v), None, None),
    };
    if user.is_none() && claims.is_none() {
        return Err(bad("neither `data.user` nor `data.claims`"));
    }
    User::from_server(user, claims, tenant)
        .map(|u| Me::User(Box::new(u)))
        .ok_or_else(|| bad("the user has no `sub`"))
}

/// Reads `POST …/refresh`: a 2xx that is not an HTML page is success.
pub fn refresh_result(status: u16, content_type: Option<&str>, body: &str) -> Result<(), Error> {
    let html = crate::core::token::looks_like_html(content_type, body);
    if status == 429 || html {
        check_json_response(status, content_type, body, None)?;
    }
    if (200..300).contains(&status) {
        return Ok(());
    }
    Err(error_of(status, body))
}

/// Reads `POST …/signout`: the provider's end-session URL, when the backend returns one.
pub fn sign_out_result(status: u16, body: &str) -> Result<Option<String>, Error> {
    if !(200..300).contains(&status) {
        return Err(error_of(status, body));
    }
    let v = parse(body).unwrap_or(Json::Null);
    let url = Fields::of(&v)
        .and_then(|f| f.get("data").and_then(Fields::of).or(Some(f)))
        .and_then(|d| d.str("endSessionUrl"));
    // Only http(s) URLs are followed.
    Ok(url.filter(|u| crate::core::url::HttpUrl::parse(u).is_some()))
}

/// True when `e` says the backend could not be asked (network, 5xx, 429, an HTML page), as
/// opposed to an answer about the session. At bootstrap only these are `Failed`; any other
/// refused refresh means there is no session to resume.
pub fn backend_unavailable(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Network { .. }
        | ErrorKind::HtmlResponse { .. }
        | ErrorKind::RateLimited { .. } => true,
        ErrorKind::HttpError { status } => *status >= 500,
        _ => false,
    }
}

/// The navigation target of `signIn({ returnTo })`: `{login}?returnTo=…`, same-origin only.
pub fn login_url(
    cfg: &ServerConfig,
    return_to: Option<&str>,
    app_origin: &str,
) -> Result<String, Error> {
    match return_to {
        None => Ok(cfg.login_url.clone()),
        Some(r) => {
            let r = sanitize_return_to(r, app_origin)?;
            Ok(with_query(
                &cfg.login_url,
                &form_encode(&[("returnTo", r.as_str())]),
            ))
        }
    }
}

/// The backend's error: `{ error: { code, message } }`, `{ code, message }` or OAuth's
/// `{ error, error_description }`; otherwise the HTTP status.
fn error_of(status: u16, body: &str) -> Error {
    let v = parse(body).unwrap_or(Json::Null);
    let f = Fields::of(&v);
    let nested = f.as_ref().and_then(|f| f.get("error")).and_then(Fields::of);
    let (code, message) = match (&nested, &f) {
        (Some(e), _) => (e.str("code"), e.str("message")),
        (None, Some(f)) => (
            f.str("code").or_else(|| f.str("error")),
            f.str("message").or_else(|| f.str("error_description")),
        ),
        _ => (None, None),
    };
    match code {
        Some(error) if !error.is_empty() => ErrorKind::Provider {
            error,
            description: message,
        }
        .into(),
        _ => ErrorKind::HttpError { status }.into(),
    }
}

// ---- the refresh rules ---------------------------------------------------------------------

/// How far past this tab's clock a `refreshed` mark may lie, in ms. Every tab of an origin
/// reads the same clock; the slack covers rounding and the time between the read and the write.
pub const MARK_SKEW_MS: u64 = 2_000;

/// The time of the last successful `/refresh` any tab reported (a `refreshed:{ms}` broadcast
/// or the IndexedDB copy), as far as it is believable. A mark from the future is ignored: a
/// script of the origin could otherwise write a far-future time once and disable `/refresh`
/// for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshMark(u64);

impl RefreshMark {
    /// Takes `mark_ms` when it is later than the one held and not past `now_ms` plus
    /// [`MARK_SKEW_MS`]; returns whether it was taken.
    pub fn observe(&mut self, mark_ms: u64, now_ms: u64) -> bool {
        if mark_ms > now_ms.saturating_add(MARK_SKEW_MS) || mark_ms <= self.0 {
            return false;
        }
        self.0 = mark_ms;
        true
    }

    /// Whether a request that started at `request_started_ms` and was answered 401 needs a
    /// `/refresh`: not when a refresh finished after it started (it only needs a retry).
    pub fn refresh_needed(&self, request_started_ms: u64) -> bool {
        self.0 <= request_started_ms
    }
}

/// Whether a failed `POST …/refresh` ends the session in every tab: a terminal answer of the
/// contract ([`classify`](crate::core::refresh::classify)), or a 401 (the backend has no
/// session to refresh). Network failures, 5xx, 429 and the rest keep it.
pub fn refresh_ends_session(e: &Error) -> bool {
    crate::core::refresh::classify(e) != crate::core::refresh::Verdict::Transient
        || matches!(e.kind(), ErrorKind::HttpError { status: 401 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::refresh::{classify, Verdict};

    const JSON: Option<&str> = Some("application/json");

    fn cfg() -> ServerConfig {
        ServerConfig {
            me_url: "/api/auth/me".into(),
            refresh_url: "/api/auth/refresh".into(),
            sign_out_url: "/api/auth/signout".into(),
            login_url: "/api/auth/login".into(),
            csrf_name: "X-Requested-With".into(),
            csrf_value: "oidc-session".into(),
            origin: "https://app.example".into(),
            cross_origin: false,
            refresh_on_bootstrap: false,
            app_origin: "https://app.example".into(),
        }
    }

    fn user_field(u: &User, k: &'static str) -> Option<String> {
        match u.claim(k) {
            Some(Json::Str(s)) => Some(s.clone()),
            _ => None,
        }
    }

    #[test]
    fn envelope_with_a_user_is_preferred() {
        let body = r#"{"success":true,"data":{"user":{"sub":"u1","email":"a@x","name":"A"},"claims":{"sub":"u1","email":"other@x","roles":["admin"]},"tenantId":"t1"}}"#;
        let Me::User(u) = me_result(200, JSON, body).unwrap() else {
            panic!()
        };
        assert_eq!(u.sub, "u1");
        assert_eq!(user_field(&u, "email").as_deref(), Some("a@x"));
        assert_eq!(u.email.as_deref(), Some("a@x"));
        assert!(u
            .to_json()
            .contains("\"claims\":{\"sub\":\"u1\",\"email\":\"other@x\",\"roles\":[\"admin\"]}"));
    }

    #[test]
    fn envelope_with_claims_only_derives_the_user() {
        let body = r#"{"success":true,"data":{"claims":{"sub":"u2","email":"b@x","name":"B","picture":"https://p/x.png","roles":["r"],"permissions":["p"],"iss":"https://op","aud":"x"},"tenantId":"t9"}}"#;
        let Me::User(u) = me_result(200, JSON, body).unwrap() else {
            panic!()
        };
        assert_eq!(u.sub, "u2");
        assert_eq!(user_field(&u, "name").as_deref(), Some("B"));
        assert_eq!(user_field(&u, "tenant").as_deref(), Some("t9"));
        assert_eq!(u.permissions, ["p"]);
        assert!(u.claim("iss").is_none(), "protocol claims stay in claims");
    }

    #[test]
    fn a_plain_user_object_is_accepted() {
        let Me::User(u) = me_result(200, JSON, r#"{"sub":"u3","email":"c@x"}"#).unwrap() else {
            panic!()
        };
        assert_eq!(u.sub, "u3");
        assert_eq!(u.token_claims().count(), 0);
    }

    #[test]
    fn only_infrastructure_failures_count_as_unavailable() {
        let e = |k: ErrorKind| Error::from(k);
        assert!(backend_unavailable(&e(ErrorKind::Network {
            detail: "x".into()
        })));
        assert!(backend_unavailable(&e(ErrorKind::HttpError {
            status: 503
        })));
        assert!(backend_unavailable(&e(ErrorKind::RateLimited {
            retry_after: None
        })));
        assert!(!backend_unavailable(&e(ErrorKind::HttpError {
            status: 401
        })));
        assert!(!backend_unavailable(
            &refresh_result(401, JSON, r#"{"error":{"code":"NO_SESSION"}}"#).unwrap_err()
        ));
        assert!(!backend_unavailable(
            &refresh_result(401, JSON, r#"{"error":{"code":"TOKEN_EXPIRED"}}"#).unwrap_err()
        ));
    }

    #[test]
    fn signed_out_and_malformed_answers() {
        assert_eq!(
            me_result(401, JSON, r#"{"success":false}"#).unwrap(),
            Me::SignedOut
        );
        assert_eq!(
            me_result(
                401,
                JSON,
                r#"{"success":false,"error":{"code":"UNAUTHENTICATED"}}"#
            )
            .unwrap(),
            Me::SignedOut
        );
        assert_eq!(
            me_result(401, Some("text/html"), "<html>login</html>").unwrap(),
            Me::SignedOut
        );
        assert_eq!(
            me_result(
                401,
                JSON,
                r#"{"success":false,"error":{"code":"TOKEN_EXPIRED"}}"#
            )
            .unwrap(),
            Me::SignedOut,
            "a 401 is signed out whatever its code"
        );
        for bad in [
            r#"{"success":true,"data":{}}"#,
            r#"{"success":true,"data":{"user":{"email":"x"}}}"#,
            r#"{"success":true,"data":[]}"#,
            "[]",
            "{",
        ] {
            assert_eq!(
                me_result(200, JSON, bad).unwrap_err().code(),
                "invalid_response",
                "{bad}"
            );
        }
        assert_eq!(
            me_result(200, Some("text/html"), "<!doctype html>")
                .unwrap_err()
                .code(),
            "html_response"
        );
        assert_eq!(
            me_result(
                503,
                JSON,
                r#"{"success":false,"error":{"code":"UPSTREAM_DOWN"}}"#
            )
            .unwrap_err(),
            ErrorKind::Provider {
                error: "UPSTREAM_DOWN".into(),
                description: None
            }
        );
        assert_eq!(
            me_result(500, Some("text/plain"), "oops").unwrap_err(),
            ErrorKind::HttpError { status: 500 }
        );
        assert_eq!(
            me_result(429, JSON, "{}").unwrap_err().code(),
            "rate_limited"
        );
    }

    #[test]
    fn refresh_failures_classify_as_the_contract_says() {
        let c = |status, body: &str| classify(&refresh_result(status, JSON, body).unwrap_err());
        assert!(refresh_result(204, None, "").is_ok());
        for (status, body, verdict) in [
            (
                401,
                r#"{"success":false,"error":{"code":"TOKEN_REVOKED","message":"revoked"}}"#,
                Verdict::Terminal,
            ),
            (401, r#"{"code":"SESSION_REVOKED"}"#, Verdict::Terminal),
            (400, r#"{"error":"INVALID_GRANT"}"#, Verdict::Terminal),
            (
                403,
                r#"{"error":{"code":"USER_DISABLED"}}"#,
                Verdict::Terminal,
            ),
            (
                403,
                r#"{"error":{"code":"TENANT_SUSPENDED"}}"#,
                Verdict::Terminal,
            ),
            (410, "", Verdict::Terminal),
            (
                401,
                r#"{"error":{"code":"TOKEN_EXPIRED"}}"#,
                Verdict::Transient,
            ),
            (
                401,
                r#"{"error":{"code":"TOKEN_INVALID"}}"#,
                Verdict::Transient,
            ),
            (
                503,
                r#"{"error":{"code":"UPSTREAM_UNAVAILABLE"}}"#,
                Verdict::Transient,
            ),
            (502, "", Verdict::Transient),
        ] {
            assert_eq!(c(status, body), verdict, "{status} {body}");
        }
        // A proxy or captive portal answering 200 with a page is not a refresh.
        let e = refresh_result(200, Some("text/html"), "<html>sign in to the wifi").unwrap_err();
        assert_eq!(
            (e.code(), classify(&e)),
            ("html_response", Verdict::Transient)
        );
        assert_eq!(
            refresh_result(502, Some("text/html"), "<html>bad gateway")
                .unwrap_err()
                .code(),
            "html_response"
        );
        assert_eq!(
            refresh_result(429, JSON, "{}").unwrap_err().code(),
            "rate_limited"
        );
    }

    #[test]
    fn sign_out_returns_the_end_session_url_when_safe() {
        assert_eq!(
            sign_out_result(200, r#"{"success":true,"data":{"endSessionUrl":"http://127.0.0.1:9090/session/end?x=1"}}"#).unwrap().as_deref(),
            Some("http://127.0.0.1:9090/session/end?x=1")
        );
        assert_eq!(
            sign_out_result(
                200,
                r#"{"success":true,"data":{"endSessionUrl":"javascript:alert(1)"}}"#
            )
            .unwrap(),
            None
        );
        assert_eq!(sign_out_result(204, "").unwrap(), None);
        assert!(sign_out_result(403, r#"{"error":{"code":"CSRF"}}"#).is_err());
    }

    #[test]
    fn login_url_keeps_return_to_same_origin() {
        let app = "https://app.example";
        assert_eq!(login_url(&cfg(), None, app).unwrap(), "/api/auth/login");
        assert_eq!(
            login_url(&cfg(), Some("/orders?id=1"), app).unwrap(),
            "/api/auth/login?returnTo=%2Forders%3Fid%3D1"
        );
        assert_eq!(
            login_url(&cfg(), Some("//evil.example"), app).unwrap_err(),
            ErrorKind::ReturnToInvalid
        );
    }

    #[test]
    fn refresh_marks_from_the_future_are_ignored() {
        let now = 1_700_000_000_000;
        let mut mark = RefreshMark::default();
        assert!(mark.refresh_needed(now - 5_000), "no mark: refresh");
        assert!(mark.observe(now - 1_000, now));
        assert!(
            !mark.refresh_needed(now - 5_000),
            "refreshed after the request started"
        );
        assert!(
            mark.refresh_needed(now - 1_000),
            "refreshed before (or as) it started"
        );
        assert!(
            !mark.observe(now - 2_000, now),
            "an older mark changes nothing"
        );
        assert!(mark.observe(now + MARK_SKEW_MS, now), "within the skew");
        for hostile in [now + MARK_SKEW_MS + 1, now + 86_400_000, u64::MAX] {
            let mut m = RefreshMark::default();
            assert!(!m.observe(hostile, now), "{hostile}");
            assert!(
                m.refresh_needed(now),
                "a future mark must not disable /refresh"
            );
        }
    }

    #[test]
    fn which_refresh_failures_end_the_session() {
        let provider = |c: &str| -> Error {
            ErrorKind::Provider {
                error: c.into(),
                description: None,
            }
            .into()
        };
        let table: Vec<(Error, bool)> = vec![
            (ErrorKind::HttpError { status: 401 }.into(), true),
            (ErrorKind::HttpError { status: 410 }.into(), true),
            (provider("TOKEN_REVOKED"), true),
            (provider("SESSION_REVOKED"), true),
            (provider("USER_DISABLED"), true),
            (provider("invalid_grant"), true),
            (provider("TOKEN_EXPIRED"), false),
            (provider("TOKEN_INVALID"), false),
            (ErrorKind::HttpError { status: 503 }.into(), false),
            (ErrorKind::RateLimited { retry_after: None }.into(), false),
            (ErrorKind::Network { detail: "x".into() }.into(), false),
        ];
        for (e, ends) in table {
            assert_eq!(refresh_ends_session(&e), ends, "{e:?}");
        }
    }
}
