//! `POST {base}/backchannel-logout`: OpenID Connect Back-Channel Logout 1.0.
//!
//! The provider POSTs `logout_token` (form-encoded), a JWT signed with its keys. It is accepted
//! only when: the signature verifies with the provider's JWKS and an accepted asymmetric
//! algorithm; `iss` is the issuer; `aud` names this client; `iat` is present, not in the future
//! and at most [`MAX_AGE`] old; `exp`, when present, is not past; `events` has the member
//! `http://schemas.openid.net/event/backchannel-logout` (an object); `sid` and/or `sub` is
//! present; there is no `nonce`; `jti` is present and was not seen before within the token's
//! lifetime (kept in the store, so a replay to another instance is refused too). Then every
//! session of that `sid` (and `sub`, when both are given), or of that `sub`, ends in the store,
//! hence on every instance: their next `/me` or `/refresh` is 401.
//!
//! Answers: 200 (empty, `Cache-Control: no-store`) on success, also when no session matched;
//! 400 `{ "error": "invalid_request", "error_description": … }` for a bad token (the
//! description is generic: the reason goes to the log); 503 when the store or the provider's
//! keys cannot be reached (the provider may retry).

use crate::provider::JwsError;
use crate::routes::store_down;
use crate::web::{loggable, no_store, now_secs};
use crate::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The back-channel logout event's member name in `events`.
pub const LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The oldest `iat` accepted (and how long a `jti` is remembered when there is no `exp`).
pub const MAX_AGE: Duration = Duration::from_secs(10 * 60);
/// Clock skew tolerated for `iat` in the future and `exp` in the past.
const SKEW_SECS: u64 = 60;

fn bad(reason: &str) -> Response {
    tracing::warn!(reason, "back-channel logout token refused");
    no_store(
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "error": "invalid_request",
                "error_description": "the logout token is not acceptable",
            })),
        )
            .into_response(),
    )
}

/// What an accepted logout token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutClaims {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// How long to remember `jti`.
    pub lifetime: Duration,
}

/// Checks a verified token's claims (everything but the signature and the replay).
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutClaims, &'static str> {
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    if text("iss") != Some(issuer) {
        return Err("iss is not the issuer");
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err("aud does not name this client");
    }
    let iat = claims.get("iat").and_then(Value::as_u64).ok_or("no iat")?;
    if iat > now + SKEW_SECS {
        return Err("iat is in the future");
    }
    if now.saturating_sub(iat) > MAX_AGE.as_secs() {
        return Err("iat is too old");
    }
    let exp = match claims.get("exp") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or("exp is not a number")?),
    };
    if exp.is_some_and(|exp| exp + SKEW_SECS < now) {
        return Err("expired");
    }
    let event = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|e| e.get(LOGOUT_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err("no back-channel logout event");
    }
    if claims.contains_key("nonce") {
        return Err("a nonce is present");
    }
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err("neither sid nor sub");
    }
    let jti = text("jti").ok_or("no jti")?;
    if jti.len() > 256 {
        return Err("jti too long");
    }
    let lifetime = match exp {
        Some(exp) => Duration::from_secs(exp.saturating_sub(now) + SKEW_SECS),
        None => MAX_AGE,
    }
    .max(MAX_AGE);
    Ok(LogoutClaims {
        sid: sid.map(str::to_owned),
        sub: sub.map(str::to_owned),
        jti: jti.to_owned(),
        lifetime,
    })
}

/// The `logout_token` of a form-encoded body.
fn logout_token(body: &[u8]) -> Option<String> {
    openidconnect::url::form_urlencoded::parse(body)
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty() && v.len() <= 16 * 1024)
}

pub async fn backchannel_logout(State(app): State<Arc<App>>, body: Bytes) -> Response {
    let Some(token) = logout_token(&body) else {
        return bad("no logout_token");
    };
    let provider = match app.upstream.get().await {
        Ok(p) => p,
        Err(_) => return unavailable("the provider's keys are not reachable"),
    };
    let claims = match provider.verify_jws(&token) {
        Ok(c) => c,
        Err(JwsError::UnknownKey) => {
            // The provider may have rotated its keys since discovery: look once more.
            match app.upstream.rediscover(&provider).await {
                Ok(p) => match p.verify_jws(&token) {
                    Ok(c) => c,
                    Err(e) => return bad(jws_reason(e)),
                },
                Err(_) => return unavailable("the provider's keys are not reachable"),
            }
        }
        Err(e) => return bad(jws_reason(e)),
    };
    let logout = match check_claims(&claims, provider.issuer(), provider.client_id(), now_secs()) {
        Ok(l) => l,
        Err(reason) => return bad(reason),
    };
    match app.store.first_use(&logout.jti, logout.lifetime).await {
        Ok(true) => {}
        Ok(false) => return bad("jti replayed"),
        Err(e) => return store_down(e),
    }
    let ended = match app
        .store
        .end_sessions(logout.sid.as_deref(), logout.sub.as_deref())
        .await
    {
        Ok(n) => n,
        Err(e) => return store_down(e),
    };
    app.hooks.count(|s| {
        s.backchannel_logouts += 1;
        s.backchannel_sessions_ended += ended as u64;
    });
    tracing::info!(
        sid = %loggable(logout.sid.as_deref().unwrap_or("-")),
        sub = %loggable(logout.sub.as_deref().unwrap_or("-")),
        ended,
        "back-channel logout"
    );
    no_store(StatusCode::OK.into_response())
}

fn unavailable(why: &'static str) -> Response {
    tracing::warn!(why, "back-channel logout not processed");
    no_store(
        (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "error": "temporarily_unavailable" })),
        )
            .into_response(),
    )
}

fn jws_reason(e: JwsError) -> &'static str {
    match e {
        JwsError::Malformed => "malformed JWS",
        JwsError::Algorithm => "algorithm not accepted",
        JwsError::UnknownKey => "no such key at the provider",
        JwsError::Signature => "bad signature",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISS: &str = "http://op.test";
    const NOW: u64 = 1_800_000_000;

    fn valid() -> Map<String, Value> {
        match json!({
            "iss": ISS, "aud": "bff", "iat": NOW - 5, "exp": NOW + 115, "jti": "j-1",
            "sid": "op-sid", "sub": "alice",
            "events": { LOGOUT_EVENT: {} },
        }) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn a_valid_token_names_its_sessions() {
        let l = check_claims(&valid(), ISS, "bff", NOW).unwrap();
        assert_eq!(l.sid.as_deref(), Some("op-sid"));
        assert_eq!(l.sub.as_deref(), Some("alice"));
        assert_eq!(l.jti, "j-1");
        assert!(l.lifetime >= MAX_AGE);
        let mut aud_list = valid();
        aud_list.insert("aud".into(), json!(["other", "bff"]));
        assert!(check_claims(&aud_list, ISS, "bff", NOW).is_ok());
        let mut sub_only = valid();
        sub_only.remove("sid");
        assert!(check_claims(&sub_only, ISS, "bff", NOW).is_ok());
    }

    #[test]
    fn every_rule_refuses() {
        type Edit = fn(&mut Map<String, Value>);
        let cases: &[(&str, Edit)] = &[
            ("iss", |c| {
                c.insert("iss".into(), json!("http://evil.test"));
            }),
            ("aud", |c| {
                c.insert("aud".into(), json!("someone-else"));
            }),
            ("no iat", |c| {
                c.remove("iat");
            }),
            ("future iat", |c| {
                c.insert("iat".into(), json!(NOW + 3600));
            }),
            ("old iat", |c| {
                c.insert("iat".into(), json!(NOW - 3600));
            }),
            ("expired", |c| {
                c.insert("exp".into(), json!(NOW - 3600));
            }),
            ("no event", |c| {
                c.insert("events".into(), json!({}));
            }),
            ("event not an object", |c| {
                c.insert("events".into(), json!({ LOGOUT_EVENT: "yes" }));
            }),
            ("nonce", |c| {
                c.insert("nonce".into(), json!("n"));
            }),
            ("no sid or sub", |c| {
                c.remove("sid");
                c.remove("sub");
            }),
            ("no jti", |c| {
                c.remove("jti");
            }),
        ];
        for (name, edit) in cases {
            let mut c = valid();
            edit(&mut c);
            assert!(
                check_claims(&c, ISS, "bff", NOW).is_err(),
                "{name} must be refused"
            );
        }
    }

    #[test]
    fn the_form_field_is_read() {
        assert_eq!(
            logout_token(b"logout_token=a.b.c").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(
            logout_token(b"x=1&logout_token=a%2Eb.c").as_deref(),
            Some("a.b.c")
        );
        assert_eq!(logout_token(b"logout_token="), None);
        assert_eq!(logout_token(b""), None);
    }
}
