//! # oidc-session
//!
//! OpenID Connect sign-in sessions for the browser: authorization code + PKCE against any
//! standard provider, ID tokens validated in the browser (claims and signature, with WebCrypto),
//! token storage, single-flight refresh across tabs, and sign-out (RFC 7009 revocation,
//! RP-Initiated Logout). Or, in server mode, a session that the app's backend keeps in
//! HttpOnly cookies.
//!
//! The crate is a [`Client`] and the typed values it hands out: the [`View`] an application
//! renders (a [`Status`], the [`User`], an [`Error`]), the options of its actions, and the
//! redacted [`AccessToken`]. Every protocol decision is made by a core with no I/O (tested
//! natively); thin adapters call the browser. `Client` and its types exist on every target:
//! off `wasm32` (the server half of an SSR app) the client is a stand-in whose view stays
//! [`Status::Loading`] and whose actions fail with [`ErrorKind::Unsupported`].
//!
//! The npm package (`SessionManager` for JavaScript) is a separate facade crate built on this
//! API; nothing of it reaches a Rust app that depends on this crate.
//!
//! ## Usage (browser mode)
//!
//! ```no_run
//! # async fn example() -> Result<(), oidc_session::Error> {
//! use oidc_session::{Client, ConfigInput, SignInOptions, Status, StorageKind};
//!
//! let client = Client::new(ConfigInput {
//!     issuer: "https://login.example.com".into(),
//!     client_id: "my-app".into(),
//!     redirect_uri: "https://app.example.com/".into(),
//!     storage: Some(StorageKind::Session),
//!     ..Default::default()
//! })?;
//! let _guard = client.subscribe(|view| {
//!     if let Some(user) = &view.user {
//!         println!("signed in as {}", user.display_name());
//!     }
//! });
//! if client.bootstrap().await.status != Status::SignedIn {
//!     client.sign_in(SignInOptions::default()).await?;
//! }
//! let token = client.access_token().await?;
//! let header = format!("Bearer {}", token.secret());
//! # let _ = header; Ok(()) }
//! ```
//!
//! ## Usage (server mode)
//!
//! ```no_run
//! # async fn example() -> Result<(), oidc_session::Error> {
//! use oidc_session::{Client, ConfigInput, Mode, Status};
//!
//! let client = Client::new(ConfigInput { mode: Mode::Server, ..Default::default() })?;
//! let view = client.bootstrap().await; // one GET /api/auth/me
//! if view.status == Status::SignedIn {
//!     let user = view.user.as_ref().unwrap();
//!     println!("{} {:?}", user.sub, user.roles);
//! }
//! # Ok(()) }
//! ```
//!
//! ## Errors
//!
//! Every failure is an [`Error`]: [`Error::code`] is stable (`state_mismatch`, `network`, a
//! provider's `access_denied`, …), [`Error::message`] says what happened without a secret, and
//! [`Error::kind`] is the [`ErrorKind`] to match on.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub(crate) mod core;

#[cfg(target_arch = "wasm32")]
pub(crate) mod browser;
mod client;
#[cfg(feature = "leptos")]
pub mod leptos;
#[cfg(all(test, not(target_arch = "wasm32")))]
mod simulation;

pub use crate::client::{
    Client, RefreshHook, RefreshOutcome, SignOutOptions, SignOutOutcome, Subscription, VaultStatus,
    VaultWorker, View,
};
pub use crate::core::authorize::SignInOptions;
pub use crate::core::config::{ConfigInput, Mode, StorageKind, TokenVault, VaultFallback};
pub use crate::core::error::{Error, ErrorKind, IssuerSource, TokenProblem};
pub use crate::core::json::Number;
pub use crate::core::secret::AccessToken;
pub use crate::core::session::Status;
pub use crate::core::user::{User, Value};

/// Called on the silent redirect page (`silent_redirect_uri`): hands the page's URL to the
/// parent window, on this origin only. Fails off `wasm32` and outside an iframe.
pub fn handle_silent_callback() -> Result<(), Error> {
    #[cfg(target_arch = "wasm32")]
    return crate::browser::silent::notify_parent();
    #[cfg(not(target_arch = "wasm32"))]
    Err(ErrorKind::Unsupported {
        what: "the silent callback runs in the browser",
    }
    .into())
}
