//! The session client: drives the core's decisions with the browser adapters. One per
//! configuration; cheap to clone (an `Rc`).
//!
//! `Client` exists on every target. In the browser (`wasm32`) it runs the session; elsewhere
//! (the server half of an SSR app, native tests) it is a stand-in whose view stays
//! [`Status::Loading`](crate::Status::Loading), that touches nothing, and whose actions fail
//! with [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported).
//!
//! Inside, the mode is an enum of two engines (`browser_mode`, `server_mode`) that share the
//! view, the single-flight refresh and the run-once bootstrap (`shared`); neither carries the
//! other's fields.

// The flows compile for the browser, and natively for the simulation's in-memory platform,
// which drives only part of them (browser mode's flows, not server mode's `fetch_with`).
#![cfg_attr(all(test, not(target_arch = "wasm32")), allow(dead_code))]

mod view;

#[cfg(all(any(target_arch = "wasm32", test), feature = "browser-mode"))]
mod browser_mode;
#[cfg(any(target_arch = "wasm32", test))]
mod engine;
#[cfg(any(target_arch = "wasm32", test))]
pub(crate) mod platform;
#[cfg(all(any(target_arch = "wasm32", test), feature = "browser-mode"))]
mod provider;
#[cfg(all(any(target_arch = "wasm32", test), feature = "browser-mode"))]
mod renewal;
#[cfg(any(target_arch = "wasm32", test))]
mod server_mode;
#[cfg(all(any(target_arch = "wasm32", test), feature = "browser-mode"))]
mod session;
#[cfg(any(target_arch = "wasm32", test))]
mod shared;
#[cfg(all(any(target_arch = "wasm32", test), feature = "browser-mode"))]
mod vault;

#[cfg(not(target_arch = "wasm32"))]
mod standin;

/// What `Client` runs: the engine over the browser; elsewhere, the stand-in.
#[cfg(target_arch = "wasm32")]
type Engine = engine::Engine<crate::browser::Browser>;
#[cfg(not(target_arch = "wasm32"))]
type Engine = standin::Engine;

/// What the simulation drives: the engine `Client` runs, over the simulation's platform.
#[cfg(all(test, not(target_arch = "wasm32"), feature = "browser-mode"))]
pub(crate) mod sim_api {
    pub(crate) use super::engine::Engine;
    pub(crate) use super::vault::VaultServer;
}

pub use view::{Subscription, View};

use crate::core::authorize::SignInOptions;
use crate::core::config::{ConfigInput, Mode};
use crate::core::error::Error;
use crate::core::secret::AccessToken;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

/// A flow's future, built and boxed in this crate. `Client`'s methods return one (as `impl
/// Future`) and are not inlined into callers: async bodies are instantiated wherever their
/// future is built, so a caller in another crate that built them would compile its own copy of
/// every flow they reach (the npm bundle measured the facade's copies at ~30 KB gzip).
type Flow<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

fn flow<'a, T>(f: impl Future<Output = T> + 'a) -> Flow<'a, T> {
    Box::pin(f)
}

/// Options of [`Client::sign_out`].
#[derive(Debug, Clone, Default)]
pub struct SignOutOptions {
    /// A same-origin path or URL to show after sign-out.
    pub return_to: Option<String>,
    /// Clear the local session only; do not end the provider's session.
    pub local_only: bool,
}

/// Where a successful [`Client::sign_out`] left the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignOutOutcome {
    /// The browser is on its way to the provider's end-session page (RP-Initiated Logout) and
    /// this document is about to unload: nothing on it should start another flow (a
    /// sign-in-on-signed-out redirect would race the logout).
    LeavingPage,
    /// The session ended and this document stays: a local sign-out, a provider or backend
    /// without an end-session page. The URL is `return_to` when one was given.
    StayedOnPage,
}

/// How a refresh request ended, for [`Client::on_refresh`]: `Ok` with the new access token's
/// expiry (seconds since the epoch) when known, or the error. Never carries a token.
pub type RefreshOutcome<'a> = Result<Option<u64>, &'a Error>;

/// Called after each refresh request (for logging or metrics).
pub type RefreshHook = Rc<dyn Fn(RefreshOutcome<'_>)>;

/// Where a browser-mode session keeps its tokens, as far as the service-worker vault goes
/// ([`ConfigInput::token_vault`](crate::ConfigInput::token_vault)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum VaultStatus {
    /// No vault configured (or server mode): tokens in the configured storage.
    Off,
    /// A vault is configured and the bootstrap has not connected to it yet.
    Starting,
    /// The vault's service worker holds the tokens; the page has the access token in memory.
    Active,
    /// A vault is configured but cannot run here: the session is in the tab's memory (with
    /// [`VaultFallback::Storage`](crate::VaultFallback::Storage), in the configured storage;
    /// with [`VaultFallback::Refuse`](crate::VaultFallback::Refuse), the bootstrap failed).
    Unavailable,
}

/// The token vault's service-worker side: answers the messages of its origin's pages.
///
/// A service worker script creates one and hands it every `message` event's text and sender
/// origin, replying with the returned text (the npm package's `oidc-session-sw.js` does this).
/// Messages from other origins, of another protocol version or malformed are answered with a
/// `vault_unavailable` or `invalid_response` failure; nothing it answers carries a refresh token.
/// Outside a worker of a `wasm32` build every answer is an `unsupported` failure.
#[derive(Default)]
pub struct VaultWorker {
    #[cfg(all(target_arch = "wasm32", feature = "browser-mode"))]
    server: vault::VaultServer<crate::browser::Browser>,
}

impl std::fmt::Debug for VaultWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultWorker").finish_non_exhaustive()
    }
}

impl VaultWorker {
    /// A vault with no clients yet (each page's configuration creates its own).
    pub fn new() -> Self {
        Self::default()
    }

    /// The reply text to `message`, sent by a page of `sender_origin`.
    pub fn handle<'a>(
        &'a self,
        message: &'a str,
        sender_origin: &'a str,
    ) -> impl Future<Output = String> + 'a {
        #[cfg(all(target_arch = "wasm32", feature = "browser-mode"))]
        return flow(self.server.handle(message, sender_origin));
        #[cfg(not(all(target_arch = "wasm32", feature = "browser-mode")))]
        {
            let _ = (message, sender_origin);
            let e: Error = crate::core::error::ErrorKind::Unsupported {
                what: "the token vault runs in a wasm32 service worker with browser mode",
            }
            .into();
            let reply = crate::core::vault::Reply::Failed {
                code: e.code().to_owned(),
                message: e.message(),
                ended: false,
            };
            std::future::ready(crate::core::vault::reply_text(&reply))
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn new_engine(input: ConfigInput) -> Result<Engine, Error> {
    Engine::new(crate::browser::Browser, input)
}

#[cfg(not(target_arch = "wasm32"))]
fn new_engine(input: ConfigInput) -> Result<Engine, Error> {
    Engine::new(input)
}

/// A browser session for one provider and client (browser mode) or one backend (server mode).
///
/// ```no_run
/// # async fn example() -> Result<(), oidc_session::Error> {
/// use oidc_session::{Client, ConfigInput, SignInOptions, Status};
///
/// let client = Client::new(ConfigInput {
///     issuer: "https://login.example.com".into(),
///     client_id: "my-app".into(),
///     redirect_uri: "https://app.example.com/".into(),
///     ..Default::default()
/// })?;
/// let _guard = client.subscribe(|view| println!("{:?}", view.status));
/// if client.bootstrap().await.status != Status::SignedIn {
///     client.sign_in(SignInOptions::default()).await?;
/// }
/// let token = client.access_token().await?; // token.secret() for the Authorization header
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    engine: Engine,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("mode", &self.mode())
            .field("status", &self.view().status)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Checks the configuration for this page's origin. Nothing is fetched or read yet.
    ///
    /// Off `wasm32` this builds the stand-in (see the module docs) without checking anything.
    pub fn new(input: ConfigInput) -> Result<Self, Error> {
        Ok(Self {
            engine: new_engine(input)?,
        })
    }

    /// Browser or server mode.
    pub fn mode(&self) -> Mode {
        self.engine.mode()
    }

    /// Whether the service-worker token vault holds this session's tokens (known after
    /// [`bootstrap`](Self::bootstrap)).
    pub fn vault_status(&self) -> VaultStatus {
        self.engine.vault_status()
    }

    /// The current view (the same `Rc` until the view changes).
    pub fn view(&self) -> Rc<View> {
        self.engine.observers().view()
    }

    /// Calls `f` on every change of the view until the returned guard is dropped.
    pub fn subscribe(&self, f: impl Fn(&Rc<View>) + 'static) -> Subscription {
        self.engine.observers().subscribe(f)
    }

    /// Sets the hook called after every refresh request. Set it before the session starts: the
    /// hook is called in place, so a call from inside the hook itself is ignored.
    pub fn on_refresh(&self, hook: RefreshHook) {
        self.engine.on_refresh(hook);
    }

    /// Finishes the sign-in when this page is the redirect URI with `code` (or `error`), else
    /// restores the stored session (and with silent SSO tries `prompt=none`); in server mode,
    /// one `GET {me}`. Never fails: the outcome is the returned (and observable) view.
    ///
    /// Runs once per client: a second or concurrent call waits for the first and returns the
    /// same view, and never exchanges a code twice. The states it publishes are
    /// `Loading → SignedIn | SignedOut | Failed`, never `SignedOut` before a callback's
    /// `SignedIn`.
    #[inline(never)]
    pub fn bootstrap(&self) -> impl Future<Output = Rc<View>> + '_ {
        flow(self.engine.bootstrap())
    }

    /// Runs the bootstrap again after it ended (after [`Status::Failed`](crate::Status::Failed),
    /// e.g. the provider or backend was down); while one is under way, waits for it.
    #[inline(never)]
    pub fn retry(&self) -> impl Future<Output = Rc<View>> + '_ {
        flow(self.engine.retry())
    }

    /// Stores a pending sign-in and navigates to the provider (server mode: to the backend's
    /// login route). Fails without navigating on a `return_to` of another origin.
    #[inline(never)]
    pub fn sign_in(&self, options: SignInOptions) -> impl Future<Output = Result<(), Error>> + '_ {
        flow(self.engine.sign_in(options))
    }

    /// Browser mode: resumes the provider's session without a form (`prompt=none` in a hidden
    /// iframe on `silent_redirect_uri`), after the bootstrap, when no session is held; publishes
    /// `SignedIn` on success. On failure (`login_required`, `timeout`, …) the view is unchanged
    /// and the error is returned for the caller to decide, e.g. to show a sign-in form. Server
    /// mode: fails with `unsupported`.
    #[inline(never)]
    pub fn sign_in_silently(&self) -> impl Future<Output = Result<(), Error>> + '_ {
        flow(self.engine.sign_in_silently())
    }

    /// A valid access token: the stored one while fresh, else a refresh (one request for every
    /// caller and tab). Server mode has none in the browser: fails with `unsupported`.
    #[inline(never)]
    pub fn access_token(&self) -> impl Future<Output = Result<AccessToken, Error>> + '_ {
        flow(self.engine.access_token())
    }

    /// Revokes the refresh token, clears the session in every tab and (unless `local_only`)
    /// ends the provider's session through RP-Initiated Logout. Server mode: `POST {signout}`.
    /// Answers where that left the page ([`SignOutOutcome`]): UI that reacts to `SignedOut`
    /// must not start a new flow while the page is leaving for the provider's logout.
    #[inline(never)]
    pub fn sign_out(
        &self,
        options: SignOutOptions,
    ) -> impl Future<Output = Result<SignOutOutcome, Error>> + '_ {
        flow(self.engine.sign_out(options))
    }

    /// Server mode: sends an app request with `send` and, when the backend answers 401, asks
    /// for one `POST {refresh}` (shared by every caller and tab; skipped when another refresh
    /// finished after this request started) and sends it once more.
    ///
    /// `send` is called at most twice and answers the response and its HTTP status;
    /// `to_backend` says whether the request goes to the backend (only then is a 401 a reason
    /// to refresh). Add [`Client::csrf_header`] to requests for the backend. Browser mode:
    /// fails with `unsupported`.
    pub async fn fetch_with<R, F, Fut>(&self, to_backend: bool, send: F) -> Result<R, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(R, u16), Error>>,
    {
        self.engine.fetch_with(to_backend, send).await
    }

    /// Server mode: the CSRF header every request to the backend must carry, and the
    /// backend's origin: `(name, value, origin)`. `None` in browser mode.
    pub fn csrf_header(&self) -> Option<(&str, &str, &str)> {
        self.engine.csrf_header()
    }
}
