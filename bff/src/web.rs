//! Small HTTP helpers: cookies, the JSON envelope, `returnTo` validation, clocks.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Text from outside (a query parameter, a provider's error) made safe for one log line: at most
/// 200 characters, with control characters, quotes and backslashes escaped, so a crafted value
/// cannot forge log lines.
pub fn loggable(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_debug).collect();
    if s.chars().nth(200).is_some() {
        out.push_str("...");
    }
    out
}

// ---- cookies ---------------------------------------------------------------------------------

/// The value of cookie `name` in the request, if any (the first one when repeated).
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for an HttpOnly, SameSite=Lax, Path=/ cookie (`Secure` when asked). `max_age`
/// zero deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: Duration, secure: bool) -> HeaderValue {
    let mut s = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}",
        max_age.as_secs()
    );
    if secure {
        s.push_str("; Secure");
    }
    HeaderValue::from_str(&s).expect("cookie names and values are token characters")
}

pub fn clear_cookie(name: &str, secure: bool) -> HeaderValue {
    set_cookie(name, "", Duration::ZERO, secure)
}

/// Ids we mint are base64url; anything else in a cookie is not ours (and is never looked up).
pub fn is_token_like(s: &str) -> bool {
    (16..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---- the JSON envelope -----------------------------------------------------------------------

/// `{ "success": true, "data": … }`, never cached.
pub fn ok(data: Value) -> Response {
    no_store(
        (
            StatusCode::OK,
            axum::Json(json!({ "success": true, "data": data })),
        )
            .into_response(),
    )
}

/// `{ "success": false, "error": { "code", "message" } }` with `status`, never cached.
pub fn fail(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "success": false, "error": { "code": code, "message": message.into() } });
    no_store((status, axum::Json(body)).into_response())
}

pub fn no_store(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

pub fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// 303 to a same-origin path.
pub fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    no_store(r)
}

// ---- returnTo --------------------------------------------------------------------------------

/// Validates a `returnTo`: a same-origin path (`/x?y#z`) or an absolute URL of `public_origin`,
/// returned as a path. Refuses other origins, scheme-relative `//host`, `/\host`, control
/// characters and anything that would resolve elsewhere.
pub fn safe_return_to(raw: &str, public_origin: &str) -> Option<String> {
    safe_return_to_among(raw, public_origin, &[])
}

/// [`safe_return_to`], also accepting absolute URLs of the `trusted` origins (`BFF_CORS_ORIGINS`),
/// which are returned absolute.
pub fn safe_return_to_among(raw: &str, public_origin: &str, trusted: &[String]) -> Option<String> {
    use openidconnect::url::Url;
    if !trusted.is_empty()
        && !raw.starts_with('/')
        && !raw.chars().any(|c| c.is_control() || c == '\\')
    {
        if let Ok(url) = Url::parse(raw) {
            let origin = url.origin().ascii_serialization();
            if trusted.contains(&origin)
                && url.username().is_empty()
                && url.password().is_none()
                && raw.len() <= 2048
            {
                return Some(url.to_string());
            }
        }
    }
    same_origin_return_to(raw, public_origin)
}

fn same_origin_return_to(raw: &str, public_origin: &str) -> Option<String> {
    use openidconnect::url::Url;
    if raw.is_empty() {
        return Some("/".into());
    }
    if raw.len() > 2048 || raw.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    let base = Url::parse(&format!("{public_origin}/")).ok()?;
    if raw.starts_with('/') {
        // `//host` and `/\host` are scheme-relative to browsers; `\` was refused above.
        if raw.starts_with("//") {
            return None;
        }
    } else {
        // Only an absolute URL of our own origin; `javascript:`, `x.com/…`, `../` are refused.
        let url = Url::parse(raw).ok()?;
        if url.origin() != base.origin() {
            return None;
        }
    }
    let url = base.join(raw).ok()?;
    if url.origin() != base.origin() || !url.username().is_empty() || url.password().is_some() {
        return None;
    }
    let mut path = url.path().to_owned();
    if path.starts_with("//") {
        return None;
    }
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    if let Some(f) = url.fragment() {
        path.push('#');
        path.push_str(f);
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "http://127.0.0.1:8090";

    #[test]
    fn same_origin_paths_pass() {
        assert_eq!(safe_return_to("", ORIGIN).as_deref(), Some("/"));
        assert_eq!(safe_return_to("/", ORIGIN).as_deref(), Some("/"));
        assert_eq!(
            safe_return_to("/account?tab=2#top", ORIGIN).as_deref(),
            Some("/account?tab=2#top")
        );
        assert_eq!(
            safe_return_to("http://127.0.0.1:8090/x", ORIGIN).as_deref(),
            Some("/x")
        );
        assert_eq!(safe_return_to("/a/../b", ORIGIN).as_deref(), Some("/b"));
    }

    #[test]
    fn hostile_values_are_refused() {
        for bad in [
            "//evil.test",
            "//evil.test/x",
            "/\\evil.test",
            "\\\\evil.test",
            "/\\/evil.test",
            "https://evil.test/",
            "http://127.0.0.1:8091/",
            "https://127.0.0.1:8090/",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.test",
            "/x\ny",
            "/\t/evil.test",
            "http://user@127.0.0.1:8090/",
            "///evil.test",
        ] {
            assert_eq!(safe_return_to(bad, ORIGIN), None, "{bad:?} must be refused");
        }
    }

    #[test]
    fn trusted_origins_may_be_returned_to() {
        let trusted = ["http://127.0.0.1:8180".to_string()];
        assert_eq!(
            safe_return_to_among("http://127.0.0.1:8180/a?b#c", ORIGIN, &trusted).as_deref(),
            Some("http://127.0.0.1:8180/a?b#c")
        );
        assert_eq!(
            safe_return_to_among("/x", ORIGIN, &trusted).as_deref(),
            Some("/x")
        );
        for bad in [
            "http://127.0.0.1:8181/",
            "http://u@127.0.0.1:8180/",
            "//127.0.0.1:8180/",
        ] {
            assert_eq!(safe_return_to_among(bad, ORIGIN, &trusted), None, "{bad}");
        }
    }

    #[test]
    fn loggable_text_stays_on_one_line() {
        let forged = "access_denied\n2026-01-01T00:00:00Z INFO admin signed in\r\u{1b}[0m\"x";
        let safe = loggable(forged);
        assert!(
            !safe.contains('\n') && !safe.contains('\r') && !safe.contains('\u{1b}'),
            "{safe}"
        );
        assert!(safe.contains("\\n2026"), "{safe}");
        assert_eq!(loggable(&"a".repeat(500)).len(), 203);
    }

    #[test]
    fn cookies_parse_and_format() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; oidc_session=abc; b=2"),
        );
        assert_eq!(cookie(&h, "oidc_session").as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "missing"), None);
        let c = set_cookie("n", "v", Duration::from_secs(60), true);
        assert_eq!(
            c.to_str().unwrap(),
            "n=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure"
        );
        assert!(!clear_cookie("n", false)
            .to_str()
            .unwrap()
            .contains("Secure"));
    }
}
