//! `{base}/__test/*`: counters and fault injection for the tests. Mounted only with
//! `BFF_TEST_ENDPOINTS=1`; never enable them in production.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET  __test/stats` | counters (`upstreamRefreshes`, `coalescedRefreshes`, …) |
//! | `POST __test/reset` | zeroes the counters and clears injected faults (and the `/me` answer below) |
//! | `POST __test/expire` | the current session's access token expires now (`/me` then answers 401) |
//! | `POST __test/fail-refresh?kind=terminal\|transient\|off[&count=N]` | the next N (default 1) upstream refreshes fail |
//! | `POST __test/me-missing-cookie?code=CODE\|off` | `GET /me` without a session cookie answers 401 `CODE` (e.g. `TOKEN_EXPIRED`, as some backends do) instead of `UNAUTHENTICATED`; `off` restores that |

use crate::provider::UpstreamError;
use crate::web::{fail, now_secs, ok};
use crate::App;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;
use std::sync::{Arc, Mutex};

#[derive(Default, Clone, Copy)]
pub struct Stats {
    pub logins: u64,
    pub callbacks: u64,
    pub refresh_requests: u64,
    /// Refreshes that went (or, injected, would have gone) to the provider.
    pub upstream_refreshes: u64,
    /// Refreshes answered from a refresh that had just happened (single flight).
    pub coalesced_refreshes: u64,
    pub failed_refreshes: u64,
    pub signouts: u64,
    pub revocations: u64,
    /// `GET /login` answered 429 (a pending-login cap).
    pub refused_logins: u64,
    /// Back-channel logouts accepted, and the sessions they ended.
    pub backchannel_logouts: u64,
    pub backchannel_sessions_ended: u64,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Fault {
    Terminal,
    Transient,
}

#[derive(Default)]
pub struct Hooks {
    stats: Mutex<Stats>,
    fault: Mutex<Option<(Fault, u32)>>,
    /// The error code `GET /me` answers (401) when the request has no session cookie; `None`:
    /// the normal `UNAUTHENTICATED`.
    me_missing_cookie: Mutex<Option<String>>,
}

impl Hooks {
    /// Counters are kept whether or not the endpoints are mounted (they cost a mutex).
    pub fn count(&self, f: impl FnOnce(&mut Stats)) {
        f(&mut self.stats.lock().unwrap_or_else(|e| e.into_inner()));
    }

    pub fn stats(&self) -> Stats {
        *self.stats.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The error code `GET /me` answers without a session cookie, when `__test/me-missing-cookie`
    /// set one.
    pub fn me_missing_cookie_code(&self) -> Option<String> {
        self.me_missing_cookie
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The injected failure for this upstream refresh, if one is armed.
    pub fn take_fault(&self) -> Option<UpstreamError> {
        let mut slot = self.fault.lock().unwrap_or_else(|e| e.into_inner());
        let (fault, left) = (*slot)?;
        *slot = if left > 1 {
            Some((fault, left - 1))
        } else {
            None
        };
        Some(match fault {
            Fault::Terminal => UpstreamError::Terminal {
                code: "INVALID_GRANT",
                message: "injected by __test/fail-refresh: invalid_grant".into(),
            },
            Fault::Transient => UpstreamError::Transient {
                code: "UPSTREAM_UNAVAILABLE",
                message: "injected by __test/fail-refresh: provider unreachable".into(),
            },
        })
    }
}

pub fn routes() -> Router<Arc<App>> {
    Router::new()
        .route("/__test/stats", get(stats))
        .route("/__test/reset", post(reset))
        .route("/__test/expire", post(expire))
        .route("/__test/fail-refresh", post(fail_refresh))
        .route("/__test/me-missing-cookie", post(me_missing_cookie))
}

async fn stats(State(app): State<Arc<App>>) -> Response {
    let s = app.hooks.stats();
    let fault = *app.hooks.fault.lock().unwrap_or_else(|e| e.into_inner());
    ok(json!({
        "logins": s.logins,
        "callbacks": s.callbacks,
        "refreshRequests": s.refresh_requests,
        "upstreamRefreshes": s.upstream_refreshes,
        "coalescedRefreshes": s.coalesced_refreshes,
        "failedRefreshes": s.failed_refreshes,
        "signouts": s.signouts,
        "revocations": s.revocations,
        "refusedLogins": s.refused_logins,
        "backchannelLogouts": s.backchannel_logouts,
        "backchannelSessionsEnded": s.backchannel_sessions_ended,
        "armedFault": fault.map(|(f, n)| json!({ "kind": format!("{f:?}").to_lowercase(), "count": n })),
        "meMissingCookie": app.hooks.me_missing_cookie_code(),
    }))
}

async fn reset(State(app): State<Arc<App>>) -> Response {
    *app.hooks.stats.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
    *app.hooks.fault.lock().unwrap_or_else(|e| e.into_inner()) = None;
    *app.hooks
        .me_missing_cookie
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    ok(json!({}))
}

async fn expire(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(sid) = app.session_id(&headers) else {
        return fail(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "no session cookie",
        );
    };
    let _lock = match app.store.lock(&sid).await {
        Ok(l) => l,
        Err(e) => {
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "STORE_UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    match app.store.get(&sid).await {
        Ok(Some(mut s)) => {
            s.access_expires_at = Some(now_secs().saturating_sub(1));
            let ttl =
                std::time::Duration::from_secs(s.expires_at.saturating_sub(now_secs()).max(1));
            match app.store.update(&sid, s, ttl).await {
                Ok(crate::store::Cas::Written(_)) => ok(json!({ "expired": true })),
                Ok(_) => fail(
                    StatusCode::CONFLICT,
                    "SESSION_CHANGED",
                    "the session changed or ended meanwhile",
                ),
                Err(e) => fail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "STORE_UNAVAILABLE",
                    e.to_string(),
                ),
            }
        }
        Ok(None) => fail(
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
            "no such session",
        ),
        Err(e) => fail(
            StatusCode::SERVICE_UNAVAILABLE,
            "STORE_UNAVAILABLE",
            e.to_string(),
        ),
    }
}

#[derive(Deserialize)]
struct FailQuery {
    kind: String,
    count: Option<u32>,
}

async fn fail_refresh(State(app): State<Arc<App>>, Query(q): Query<FailQuery>) -> Response {
    let fault = match q.kind.as_str() {
        "terminal" => Some(Fault::Terminal),
        "transient" => Some(Fault::Transient),
        "off" => None,
        _ => {
            return fail(
                StatusCode::BAD_REQUEST,
                "INVALID_KIND",
                "kind must be terminal, transient or off",
            )
        }
    };
    let count = q.count.unwrap_or(1).max(1);
    *app.hooks.fault.lock().unwrap_or_else(|e| e.into_inner()) = fault.map(|f| (f, count));
    ok(json!({ "kind": q.kind, "count": if fault.is_some() { count } else { 0 } }))
}

#[derive(Deserialize)]
struct MeMissingCookieQuery {
    code: String,
}

/// `off`: `None` (the normal answer); otherwise an error code of `A-Z`, `0-9` and `_` (at most 64).
fn me_missing_cookie_setting(code: &str) -> Result<Option<String>, ()> {
    match code {
        "off" => Ok(None),
        c if !c.is_empty()
            && c.len() <= 64
            && c.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_') =>
        {
            Ok(Some(c.to_owned()))
        }
        _ => Err(()),
    }
}

async fn me_missing_cookie(
    State(app): State<Arc<App>>,
    Query(q): Query<MeMissingCookieQuery>,
) -> Response {
    let Ok(setting) = me_missing_cookie_setting(&q.code) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "INVALID_CODE",
            "code must be off or an error code of A-Z, 0-9 and _",
        );
    };
    *app.hooks
        .me_missing_cookie
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = setting.clone();
    ok(json!({ "code": setting }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn me_missing_cookie_accepts_codes_and_off() {
        assert_eq!(
            me_missing_cookie_setting("TOKEN_EXPIRED"),
            Ok(Some("TOKEN_EXPIRED".into()))
        );
        assert_eq!(me_missing_cookie_setting("off"), Ok(None));
        for bad in ["", "token_expired", "A B", "X\nY", &"A".repeat(65)] {
            assert_eq!(me_missing_cookie_setting(bad), Err(()), "{bad:?}");
        }
    }

    #[test]
    fn reset_state_answers_normally() {
        let hooks = Hooks::default();
        assert_eq!(hooks.me_missing_cookie_code(), None);
        *hooks.me_missing_cookie.lock().unwrap() = Some("TOKEN_EXPIRED".into());
        assert_eq!(
            hooks.me_missing_cookie_code().as_deref(),
            Some("TOKEN_EXPIRED")
        );
    }
}
