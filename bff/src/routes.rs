//! The wire contract's endpoints.

use crate::provider::{LoginOptions, UpstreamError};
use crate::store::{Cas, LoginAdmission, PendingLogin, Session, StoreError};
use crate::web::{
    clear_cookie, cookie, fail, is_token_like, loggable, now_ms, now_secs, ok,
    safe_return_to_among, see_other, set_cookie, with_cookie,
};
use crate::App;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::Router;
use openidconnect::core::CoreAuthPrompt;
use openidconnect::CsrfToken;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long a sign-in may take from `/login` to `/callback`.
pub(crate) const LOGIN_TTL: Duration = Duration::from_secs(10 * 60);

pub fn api() -> Router<Arc<App>> {
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/me", get(me))
        .route("/refresh", post(refresh))
        .route("/signout", post(signout))
        .route(
            "/backchannel-logout",
            post(crate::backchannel::backchannel_logout),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// CORS for `BFF_CORS_ORIGINS` only: preflights answered, credentials allowed, `Vary: Origin`.
/// Any other origin gets no CORS header at all, so its preflight fails and nothing is sent.
pub async fn cors(
    State(app): State<Arc<App>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let allowed = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|o| app.config.cors_origins.iter().any(|c| c == o))
        .and_then(|o| HeaderValue::from_str(o).ok());
    let preflight = request.method() == Method::OPTIONS;
    let mut response = match (&allowed, preflight) {
        (Some(_), true) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            if let Ok(v) = HeaderValue::from_str(&app.config.csrf_header) {
                h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, v);
            }
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static("600"),
            );
            r
        }
        _ => next.run(request).await,
    };
    let h = response.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    response
}

pub async fn not_found() -> Response {
    fail(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint")
}

// ---- shared pieces ---------------------------------------------------------------------------

impl App {
    /// CORS-based CSRF defence (BCP 212): a cross-site page cannot add a custom header without a
    /// CORS preflight, which this server answers only for `BFF_CORS_ORIGINS`. A present `Origin`
    /// must also be ours (or one of those).
    pub(crate) fn csrf_refusal(&self, headers: &HeaderMap) -> Option<Response> {
        let c = &self.config;
        let header_ok = headers
            .get(c.csrf_header.as_str())
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() == c.csrf_value);
        if !header_ok {
            return Some(fail(
                StatusCode::FORBIDDEN,
                "CSRF_HEADER_MISSING",
                format!(
                    "this request needs the header `{}: {}`",
                    c.csrf_header, c.csrf_value
                ),
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
            if origin != c.public_origin && !c.cors_origins.iter().any(|o| o == origin) {
                return Some(fail(
                    StatusCode::FORBIDDEN,
                    "CSRF_ORIGIN_MISMATCH",
                    "cross-origin requests are not accepted",
                ));
            }
        }
        None
    }

    /// The session id from the cookie, if it looks like one of ours.
    pub(crate) fn session_id(&self, headers: &HeaderMap) -> Option<String> {
        cookie(headers, self.config.session_cookie()).filter(|v| is_token_like(v))
    }

    pub(crate) fn clear_session_cookie(&self) -> axum::http::HeaderValue {
        clear_cookie(self.config.session_cookie(), self.config.secure_cookies())
    }

    /// The `data` of `/me` (and of a successful `/refresh`).
    pub(crate) fn envelope(&self, s: &Session) -> Value {
        let c = &s.claims;
        let text = |keys: &[&str]| -> Value {
            keys.iter()
                .find_map(|k| c.get(*k).filter(|v| v.is_string()).cloned())
                .unwrap_or(Value::Null)
        };
        let list = |key: &str| -> Value {
            match c.get(key) {
                Some(Value::Array(items)) => {
                    Value::Array(items.iter().filter(|v| v.is_string()).cloned().collect())
                }
                Some(Value::String(s)) => {
                    Value::Array(s.split_whitespace().map(|x| json!(x)).collect())
                }
                _ => json!([]),
            }
        };
        let tenant = match text(&["tenant", "tenant_id", "tenantId", "tid"]) {
            Value::String(t) => t,
            _ => self.config.default_tenant.clone(),
        };
        json!({
            "user": {
                "sub": s.sub,
                "email": text(&["email"]),
                "name": text(&["name", "preferred_username", "nickname"]),
                "picture": text(&["picture"]),
                "roles": list("roles"),
                "permissions": list("permissions"),
                "tenant": tenant,
            },
            "claims": Value::Object(c.clone()),
            "tenantId": tenant,
            "expiresAt": s.access_expires_at,
        })
    }

    /// How long the store keeps a session: until its absolute end.
    pub(crate) fn remaining(&self, s: &Session) -> Duration {
        Duration::from_secs(s.expires_at.saturating_sub(now_secs()).max(1))
    }
}

pub(crate) fn store_down(e: StoreError) -> Response {
    tracing::warn!(error = %loggable(&e.to_string()), "session store unavailable");
    fail(
        StatusCode::SERVICE_UNAVAILABLE,
        "STORE_UNAVAILABLE",
        "the session store is not available; try again",
    )
}

/// The browser gets a stable code and this generic text; the provider's own words (internal
/// URLs, claim values) go to the log only.
pub(crate) fn public_message(code: &str) -> &'static str {
    match code {
        "UPSTREAM_UNAVAILABLE" => "the identity provider is not reachable; try again",
        "UPSTREAM_ERROR" => "the identity provider could not answer; try again",
        "INVALID_GRANT" => "the sign-in has ended at the identity provider; sign in again",
        "SESSION_REVOKED" => "the session ended; sign in again",
        "ISS_MISMATCH" | "ISS_MISSING" => {
            "the sign-in response does not come from this backend's identity provider"
        }
        "ID_TOKEN_INVALID" | "ID_TOKEN_SIGNATURE" => {
            "the identity provider's answer is not acceptable; sign in again"
        }
        _ => "the sign-in could not be completed",
    }
}

fn upstream_failure(e: UpstreamError) -> Response {
    match e {
        UpstreamError::Transient { code, message } => {
            tracing::warn!(code, detail = %loggable(&message), "provider unavailable");
            fail(StatusCode::SERVICE_UNAVAILABLE, code, public_message(code))
        }
        UpstreamError::Terminal { code, message } | UpstreamError::Rejected { code, message } => {
            tracing::warn!(code, detail = %loggable(&message), "provider answer refused");
            fail(StatusCode::BAD_REQUEST, code, public_message(code))
        }
    }
}

/// The client's address for the pending-login caps: the last entry of `BFF_CLIENT_IP_HEADER`
/// (what the proxy in front added) when configured, else the TCP peer. IPv6 addresses count
/// by /64, which one client usually holds whole.
pub(crate) fn client_address(app: &App, headers: &HeaderMap, peer: Option<SocketAddr>) -> String {
    let ip = match &app.config.client_ip_header {
        Some(name) => headers
            .get_all(name.as_str())
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok()),
        None => peer.map(|p| p.ip()),
    };
    match ip {
        Some(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(IpAddr::V6(v6)) => v6
            .to_ipv4_mapped()
            .map(|v4| v4.to_string())
            .unwrap_or_default(),
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

fn no_session(app: &App, status: StatusCode, code: &str, message: &str) -> Response {
    with_cookie(fail(status, code, message), app.clear_session_cookie())
}

fn random_id() -> String {
    // 32 random bytes from the OS-seeded CSPRNG, base64url: 43 characters.
    CsrfToken::new_random_len(32).secret().clone()
}

// ---- GET {base}/login ------------------------------------------------------------------------

#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(rename = "returnTo")]
    return_to: Option<String>,
    #[serde(rename = "return_to")]
    return_to_snake: Option<String>,
    prompt: Option<String>,
    login_hint: Option<String>,
}

async fn login(
    State(app): State<Arc<App>>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Response {
    let raw = q.return_to.or(q.return_to_snake).unwrap_or_default();
    let Some(return_to) =
        safe_return_to_among(&raw, &app.config.public_origin, &app.config.cors_origins)
    else {
        return fail(
            StatusCode::BAD_REQUEST,
            "INVALID_RETURN_TO",
            "returnTo must be a path on this origin",
        );
    };
    let prompt = match q.prompt.as_deref() {
        None | Some("") => None,
        Some("login") => Some(CoreAuthPrompt::Login),
        Some("consent") => Some(CoreAuthPrompt::Consent),
        Some("select_account") => Some(CoreAuthPrompt::SelectAccount),
        Some("none") => Some(CoreAuthPrompt::None),
        Some(_) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "INVALID_PROMPT",
                "unsupported prompt value",
            )
        }
    };
    let login_hint = q.login_hint.filter(|h| !h.is_empty() && h.len() <= 256);
    let client = client_address(&app, &headers, peer.map(|Extension(ConnectInfo(p))| p));
    let limits = app.config.login_limits;
    // Over a cap: refused before any PKCE, URL or provider work (a flood costs little).
    match app.store.login_refusal(&client, limits).await {
        Ok(Some(retry_after)) => return too_many_logins(&app, retry_after),
        Ok(None) => {}
        Err(e) => return store_down(e),
    }
    let provider = match app.upstream.get().await {
        Ok(p) => p,
        Err(e) => return upstream_failure(e),
    };
    let start = provider.login(LoginOptions { prompt, login_hint });
    // One binding per browser, shared by concurrent sign-ins in several tabs.
    let binding = cookie(&headers, app.config.login_cookie())
        .filter(|v| is_token_like(v))
        .unwrap_or_else(random_id);
    let pending = PendingLogin {
        binding: binding.clone(),
        nonce: start.nonce,
        pkce_verifier: start.pkce_verifier,
        return_to,
        client,
    };
    match app
        .store
        .put_login(&start.state, pending, LOGIN_TTL, limits)
        .await
    {
        Ok(LoginAdmission::Stored) => {}
        Ok(LoginAdmission::Refused { retry_after }) => return too_many_logins(&app, retry_after),
        Err(e) => return store_down(e),
    }
    app.hooks.count(|s| s.logins += 1);
    with_cookie(
        see_other(&start.url),
        set_cookie(
            app.config.login_cookie(),
            &binding,
            LOGIN_TTL,
            app.config.secure_cookies(),
        ),
    )
}

/// 429 `TOO_MANY_LOGINS` with `Retry-After` in whole seconds (at least 1).
fn too_many_logins(app: &App, retry_after: Duration) -> Response {
    app.hooks.count(|s| s.refused_logins += 1);
    let mut r = fail(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_LOGINS",
        "too many sign-ins in progress; try again later",
    );
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    r
}

// ---- GET {base}/callback ---------------------------------------------------------------------

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    let Some(state) = q.state.filter(|s| !s.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "INVALID_CALLBACK",
            "the callback carries no state",
        );
    };
    // Redeemed once, whatever happens next: a replayed or reloaded callback finds nothing.
    let pending = match app.store.take_login(&state).await {
        Ok(Some(p)) => p,
        Ok(None) => {
            return fail(
                StatusCode::BAD_REQUEST,
                "LOGIN_EXPIRED",
                "unknown, expired or already used sign-in state; start again",
            )
        }
        Err(e) => return store_down(e),
    };
    if cookie(&headers, app.config.login_cookie()).as_deref() != Some(pending.binding.as_str()) {
        return fail(
            StatusCode::BAD_REQUEST,
            "LOGIN_CSRF",
            "this sign-in was not started by this browser",
        );
    }
    // Defence in depth: the stored value was validated at /login already.
    let return_to = safe_return_to_among(
        &pending.return_to,
        &app.config.public_origin,
        &app.config.cors_origins,
    )
    .unwrap_or_else(|| "/".into());
    let provider = match app.upstream.get().await {
        Ok(p) => p,
        Err(e) => return upstream_failure(e),
    };
    if let Err(e) = provider.check_response_iss(q.iss.as_deref()) {
        return upstream_failure(e);
    }
    if let Some(error) = q.error {
        // The provider said no (access_denied, login_required for prompt=none, …): back to the app,
        // which reads `auth_error` (never `error`, which a client-side OIDC callback would parse).
        // Both come from the query string, i.e. from whoever crafted the link: escaped.
        tracing::info!(
            error = %loggable(&error),
            description = %loggable(q.error_description.as_deref().unwrap_or_default()),
            "sign-in ended by the provider"
        );
        let code: String = error
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .take(64)
            .collect();
        return see_other(&append_query(&return_to, "auth_error", &code));
    }
    let Some(code) = q.code.filter(|c| !c.is_empty()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "INVALID_CALLBACK",
            "the callback carries no code",
        );
    };
    let result = provider.finish_login(code, &pending).await;
    if let Err(UpstreamError::Rejected {
        code: "ID_TOKEN_SIGNATURE",
        ..
    }) = &result
    {
        // Perhaps the provider rotated its keys since discovery. The code is spent, so the user
        // has to start again, but the next attempt sees the new keys.
        let _ = app.upstream.rediscover(&provider).await;
    }
    let session = match result {
        Ok(s) => s,
        Err(e) => return upstream_failure(e),
    };
    // A fresh id on every sign-in (session fixation); the previous session of this browser ends.
    if let Some(old) = app.session_id(&headers) {
        let _ = app.store.delete(&old).await;
    }
    let sid = random_id();
    let ttl = app.config.session_ttl;
    if let Err(e) = app.store.create(&sid, session, ttl).await {
        return store_down(e);
    }
    app.hooks.count(|s| s.callbacks += 1);
    let secure = app.config.secure_cookies();
    let mut response = see_other(&return_to);
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(app.config.session_cookie(), &sid, ttl, secure),
    );
    response
}

/// `path` with `key=value` added to its query (before any fragment).
fn append_query(path: &str, key: &str, value: &str) -> String {
    let (before, fragment) = match path.split_once('#') {
        Some((b, f)) => (b, Some(f)),
        None => (path, None),
    };
    let sep = if before.contains('?') { '&' } else { '?' };
    let mut s = format!("{before}{sep}{key}={value}");
    if let Some(f) = fragment {
        s.push('#');
        s.push_str(f);
    }
    s
}

// ---- GET {base}/me ---------------------------------------------------------------------------

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if app.config.csrf_on_me {
        if let Some(r) = app.csrf_refusal(&headers) {
            return r;
        }
    }
    let Some(sid) = app.session_id(&headers) else {
        // `__test/me-missing-cookie` (BFF_TEST_ENDPOINTS=1 only) may change this answer's code.
        if let Some(code) = app.hooks.me_missing_cookie_code() {
            return fail(
                StatusCode::UNAUTHORIZED,
                &code,
                "not signed in (code set by __test/me-missing-cookie)",
            );
        }
        return fail(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", "not signed in");
    };
    let session = match app.store.get(&sid).await {
        Ok(Some(s)) if s.expires_at > now_secs() => s,
        Ok(_) => {
            return no_session(
                &app,
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "not signed in",
            )
        }
        Err(e) => return store_down(e),
    };
    if session
        .access_expires_at
        .is_some_and(|exp| exp <= now_secs())
    {
        if app.config.me_refreshes {
            // BFF_ME_EXPIRED=refresh: refresh here (same single flight as POST /refresh).
            return match refresh_session(&app, &sid, now_ms()).await {
                Ok(fresh) => ok(app.envelope(&fresh)),
                Err(response) => response,
            };
        }
        // The library's fetch() answers this with one POST /refresh, then asks again.
        return fail(
            StatusCode::UNAUTHORIZED,
            "TOKEN_EXPIRED",
            "the access token expired; refresh the session",
        );
    }
    ok(app.envelope(&session))
}

// ---- POST {base}/refresh ---------------------------------------------------------------------

async fn refresh(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = app.csrf_refusal(&headers) {
        return r;
    }
    let arrived_ms = now_ms();
    app.hooks.count(|s| s.refresh_requests += 1);
    let Some(sid) = app.session_id(&headers) else {
        return no_session(
            &app,
            StatusCode::UNAUTHORIZED,
            "SESSION_REVOKED",
            "no session",
        );
    };
    match refresh_session(&app, &sid, arrived_ms).await {
        Ok(session) => ok(app.envelope(&session)),
        Err(response) => response,
    }
}

/// Refreshes session `sid` upstream, once for all concurrent callers: the fresh session, or the
/// contract's error answer (terminal: session deleted and cookie cleared; transient: 503).
async fn refresh_session(app: &App, sid: &str, arrived_ms: u64) -> Result<Session, Response> {
    let ended = || {
        no_session(
            app,
            StatusCode::UNAUTHORIZED,
            "SESSION_REVOKED",
            "the session ended (signed out, expired or revoked)",
        )
    };
    // Nothing is created (not even a lock entry) for a cookie that names no session.
    match app.store.get(sid).await {
        Ok(Some(s)) if s.expires_at > now_secs() => {}
        Ok(_) => return Err(ended()),
        Err(e) => return Err(store_down(e)),
    }
    // Single flight: one refresh per session at a time; whoever waited finds the fresh tokens
    // (re-read under the lock: another request, or another instance, may have refreshed).
    let _lock = app.store.lock(sid).await.map_err(store_down)?;
    let session = match app.store.get(sid).await {
        Ok(Some(s)) if s.expires_at > now_secs() => s,
        Ok(_) => {
            return Err(no_session(
                app,
                StatusCode::UNAUTHORIZED,
                "SESSION_REVOKED",
                "the session ended (signed out, expired or revoked)",
            ))
        }
        Err(e) => return Err(store_down(e)),
    };
    let access_valid = session.access_expires_at.is_none_or(|exp| exp > now_secs());
    let recent = now_ms().saturating_sub(session.refreshed_at_ms)
        < app.config.refresh_coalesce.as_millis() as u64;
    // Refreshed by someone else after this request arrived (the winner of the race, perhaps on
    // another instance), or very recently: that result is the answer, if its access token is
    // still good (clocks of several instances may differ a little).
    if access_valid && (session.refreshed_at_ms >= arrived_ms || recent) {
        app.hooks.count(|s| s.coalesced_refreshes += 1);
        return Ok(session);
    }

    let result = match app.hooks.take_fault() {
        Some(fault) => {
            app.hooks.count(|s| s.upstream_refreshes += 1);
            Err(fault)
        }
        None => match app.upstream.get().await {
            Ok(provider) => {
                app.hooks.count(|s| s.upstream_refreshes += 1);
                provider.refresh(&session).await
            }
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(mut next) => {
            let ttl = app.remaining(&next);
            // Compare-and-set on the version read under the lock. If this fails, the provider has
            // rotated the refresh token and we could not keep the new one: say so instead of
            // pretending.
            match app.store.update(sid, next.clone(), ttl).await {
                Ok(Cas::Written(version)) => {
                    next.version = version;
                    Ok(next)
                }
                Ok(Cas::Gone) => Err(ended()),
                Ok(Cas::Stale) => {
                    // Someone wrote newer tokens meanwhile (the lock's lease was lost): theirs win.
                    tracing::warn!(
                        "refresh result older than the stored session; keeping the stored one"
                    );
                    match app.store.get(sid).await {
                        Ok(Some(s)) => Ok(s),
                        Ok(None) => Err(ended()),
                        Err(e) => Err(store_down(e)),
                    }
                }
                Err(e) => Err(store_down(e)),
            }
        }
        Err(UpstreamError::Terminal { code, message }) => {
            app.hooks.count(|s| s.failed_refreshes += 1);
            tracing::info!(code, detail = %loggable(&message), "refresh ended the session");
            let _ = app.store.delete(sid).await;
            Err(no_session(
                app,
                StatusCode::UNAUTHORIZED,
                code,
                public_message(code),
            ))
        }
        Err(
            UpstreamError::Transient { code, message } | UpstreamError::Rejected { code, message },
        ) => {
            app.hooks.count(|s| s.failed_refreshes += 1);
            tracing::warn!(code, detail = %loggable(&message), "refresh failed, session kept");
            Err(fail(
                StatusCode::SERVICE_UNAVAILABLE,
                code,
                public_message(code),
            ))
        }
    }
}

// ---- POST {base}/signout ---------------------------------------------------------------------

async fn signout(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    if let Some(r) = app.csrf_refusal(&headers) {
        return r;
    }
    let provider = app.upstream.get().await.ok();
    let mut id_token = None;
    let mut revoked = false;
    // Only a session that exists is locked (a random cookie creates nothing).
    let existing = match app.session_id(&headers) {
        Some(sid) => match app.store.get(&sid).await {
            Ok(Some(_)) => Some(sid),
            Ok(None) => None,
            Err(e) => return store_down(e),
        },
        None => None,
    };
    if let Some(sid) = existing {
        // Not while a refresh is rotating the token we are about to revoke.
        let lock = match app.store.lock(&sid).await {
            Ok(lock) => lock,
            Err(e) => return store_down(e),
        };
        match app.store.get(&sid).await {
            Ok(Some(session)) => {
                if let Some(p) = &provider {
                    match p.revoke(&session).await {
                        Ok(done) => {
                            revoked = done;
                            if done {
                                app.hooks.count(|s| s.revocations += 1);
                            }
                        }
                        Err(e) => tracing::warn!(
                            detail = %loggable(&format!("{e:?}")),
                            "revocation failed (signing out anyway)"
                        ),
                    }
                }
                id_token = Some(session.id_token);
            }
            Ok(None) => {}
            Err(e) => return store_down(e),
        }
        if let Err(e) = app.store.delete(&sid).await {
            return store_down(e);
        }
        drop(lock);
    }
    app.hooks.count(|s| s.signouts += 1);
    let end_session_url = provider
        .as_ref()
        .and_then(|p| p.end_session_url(id_token.as_deref()));
    let mut data = Map::new();
    data.insert("endSessionUrl".into(), json!(end_session_url));
    data.insert("revoked".into(), json!(revoked));
    let secure = app.config.secure_cookies();
    let mut response = ok(Value::Object(data));
    response
        .headers_mut()
        .append(header::SET_COOKIE, app.clear_session_cookie());
    response.headers_mut().append(
        header::SET_COOKIE,
        clear_cookie(app.config.login_cookie(), secure),
    );
    response
}

// ---- GET {base}/healthz, {base}/readyz ---------------------------------------------------------

/// The process is up.
async fn healthz() -> Response {
    ok(json!({ "status": "ok" }))
}

/// The store and the provider answer: 200, else 503 `NOT_READY` naming which does not.
async fn readyz(State(app): State<Arc<App>>) -> Response {
    let store = tokio::time::timeout(app.config.store_timeout, app.store.ping())
        .await
        .is_ok_and(|r| r.is_ok());
    let provider = app.upstream.get().await.is_ok();
    let body = json!({ "store": store, "provider": provider });
    if store && provider {
        ok(body)
    } else {
        let down = match (store, provider) {
            (false, false) => "the session store and the identity provider are not reachable",
            (false, true) => "the session store is not reachable",
            _ => "the identity provider is not reachable",
        };
        let _ = body;
        let mut r = fail(StatusCode::SERVICE_UNAVAILABLE, "NOT_READY", down);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::append_query;

    #[test]
    fn append_query_keeps_query_and_fragment() {
        assert_eq!(append_query("/", "e", "x"), "/?e=x");
        assert_eq!(append_query("/a?b=1#f", "e", "x"), "/a?b=1&e=x#f");
    }
}
