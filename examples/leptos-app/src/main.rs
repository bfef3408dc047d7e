//! A client-side Leptos app on oidc-session's components, in either mode from one build.
//!
//! The page loads a small generated `/config.js` before the app (`window.OIDC_DEMO`):
//! `www/serve.mjs` writes `{ issuer }` (browser mode: the page runs authorization code + PKCE
//! against the provider, as client `leptos-demo`), and bff/ writes
//! `{ mode: "server", serverBasePath, csrfHeader, csrfValue }` (server mode: the backend holds
//! the tokens). `?op=down` points browser mode at an issuer nothing answers on, to show the
//! failed state.
//!
//! Routes: `/` (a sign-in card when signed out), `/protected` (behind `SignedIn`, redirecting
//! to the provider when signed out, with an admins-only panel), `/callback` (the redirect URI).

#[cfg(target_arch = "wasm32")]
mod app;

#[cfg(target_arch = "wasm32")]
fn main() {
    leptos::mount::mount_to_body(app::App);
}

/// Off wasm32 there is nothing to run: the app is a browser app.
#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "oidc-session-leptos-app runs in the browser: `cargo xtask demo` builds and serves it"
    );
}
