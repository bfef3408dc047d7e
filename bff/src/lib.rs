//! oidc-session-bff: the backend-for-frontend of oidc-session's server mode.
//!
//! The browser holds one opaque, HttpOnly session cookie; the tokens stay here. Endpoints, under a
//! configurable base path (default `/api/auth`):
//!
//! | endpoint | what |
//! |---|---|
//! | `GET {base}/login?returnTo=/path` | starts the code flow (PKCE, state, nonce kept server-side); 429 past the pending-login caps |
//! | `GET {base}/callback` | code exchange, ID-token validation, session cookie, 303 to `returnTo` |
//! | `GET {base}/me` | `{ success, data: { user, claims, tenantId } }`, or 401 |
//! | `POST {base}/refresh` | rotates the tokens, one refresh per session across instances |
//! | `POST {base}/signout` | revokes, clears the cookie, returns the end-session URL |
//! | `POST {base}/backchannel-logout` | OpenID Connect Back-Channel Logout: ends the sessions a valid `logout_token` names, on every instance |
//! | `GET {base}/healthz`, `GET {base}/readyz` | process up; store and provider reachable |
//!
//! Mount it in an axum app with [`router`] (its [`App`] holds the [`Config`] and a
//! [`SessionStore`]), or run the `oidc-session-bff` binary ([`run`]). See `README.md` for the
//! contract, the cookie attributes, the CSRF header and deployment.

pub mod backchannel;
pub mod config;
pub mod provider;
pub mod redis_store;
mod routes;
mod statics;
pub mod store;
mod test_hooks;
pub mod web;

pub use config::Config;
pub use redis_store::{RedisLock, RedisStore};
pub use store::{
    Cas, LoginAdmission, LoginLimits, MemoryCounts, MemoryStore, PendingLogin, Session,
    SessionStore, StoreError,
};

use axum::serve::ListenerExt as _;
use axum::Router;
use std::sync::Arc;

/// Shared state of the handlers.
pub struct App {
    pub(crate) config: Config,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) upstream: provider::Upstream,
    pub(crate) hooks: test_hooks::Hooks,
}

impl App {
    pub fn new(config: Config, store: Arc<dyn SessionStore>) -> Result<Arc<App>, String> {
        let upstream = provider::Upstream::new(&config)?;
        Ok(Arc::new(App {
            config,
            store,
            upstream,
            hooks: test_hooks::Hooks::default(),
        }))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// The whole application: the API under the base path, the test hooks when enabled, and the
/// static directories when configured.
pub fn router(app: Arc<App>) -> Router {
    let base = app.config.base_path.clone();
    let mut api = routes::api();
    if app.config.test_endpoints {
        api = api.merge(test_hooks::routes());
    }
    let api = api
        .fallback(routes::not_found)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            routes::cors,
        ));
    let mut router = Router::new().nest(&base, api);
    if app.config.static_dir.is_some() || app.config.pkg_dir.is_some() {
        router = router.fallback(statics::serve);
    }
    router.with_state(app)
}

/// The store `config.store` names: `memory`, or a shared store by URL.
pub fn store_from_config(config: &Config) -> Result<Arc<dyn SessionStore>, String> {
    if config.store == "memory" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    Ok(Arc::new(RedisStore::from_config(config)?))
}

/// Binds `config.bind:config.port` and serves until Ctrl-C / SIGTERM. On a signal it stops
/// accepting connections and finishes the requests in flight (a refresh that reached the
/// provider completes and stores its tokens) before returning.
pub async fn run(config: Config, store: Arc<dyn SessionStore>) -> Result<(), String> {
    let addr = format!("{}:{}", config.bind, config.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?
        // Without TCP_NODELAY, requests sent back to back on one kept-alive connection (a
        // proxy's pooled connection) wait up to 40 ms each for a delayed ACK (measured: 8
        // connections reached 11,400 requests/s at 21 % CPU).
        .tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "TCP_NODELAY not set on a connection");
            }
        });
    let app = App::new(config, store)?;
    let c = &app.config;
    tracing::info!(
        origin = %c.public_origin,
        base = %c.base_path,
        issuer = %c.issuer,
        client = %c.client_id,
        store = %config::redact_url_password(&c.store),
        test_endpoints = c.test_endpoints,
        "bff ready"
    );
    // The line the test harnesses and `cargo xtask demo` wait for.
    println!(
        "bff ready {} (api {}{}, issuer {}, client {}{}{})",
        c.public_origin,
        c.public_origin,
        c.base_path,
        c.issuer,
        c.client_id,
        if c.test_endpoints {
            ", TEST ENDPOINTS ON"
        } else {
            ""
        },
        if c.static_dir.is_some() {
            ", serving static files"
        } else {
            ""
        },
    );
    let service = router(app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, service)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| format!("server error: {e}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("bff stopping: finishing the requests in flight");
}
