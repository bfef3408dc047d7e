//! # oidc-session
//!
//! OpenID Connect sign-in sessions for the browser: authorization code + PKCE against any
//! standard provider, ID tokens validated in the browser (claims and signature, with WebCrypto),
//! token storage, refresh and sign-out (RFC 7009 revocation, RP-Initiated Logout).
//!
//! The crate has three layers:
//!
//! - [`core`]: the protocol, with no I/O. Every security decision is a plain function that takes
//!   values and `now` and returns a verdict, so it is tested natively and deterministically.
//! - `browser` and `client` (on `wasm32`): thin adapters over fetch, Web Storage, WebCrypto and
//!   navigation, and the [`client::Client`] that drives a session with them.
//! - the JS facade (feature `js`): `SessionManager`, the npm package's API.
//!
//! ## Usage (Rust, in the browser)
//!
//! ```no_run
//! # #[cfg(target_arch = "wasm32")]
//! # async fn example() -> Result<(), oidc_session::Error> {
//! use oidc_session::{Client, ConfigInput, SignInOptions, Status};
//!
//! let client = Client::new(ConfigInput {
//!     issuer: "https://login.example.com".into(),
//!     client_id: "my-app".into(),
//!     redirect_uri: "https://app.example.com/".into(),
//!     ..Default::default()
//! })?;
//! let _guard = client.subscribe(|view| { /* render view.status, view.user */ });
//! if client.bootstrap().await.status != Status::SignedIn {
//!     client.sign_in(SignInOptions::default()).await?;
//! }
//! let token = client.access_token().await?;
//! # Ok(()) }
//! ```
//!
//! ## Usage (JavaScript)
//!
//! See the README: `new SessionManager(config)`, `bootstrap()`, `subscribe()`, `signIn()`,
//! `getAccessToken()`, `signOut()`.
#![warn(missing_docs)]

pub mod core;

#[cfg(target_arch = "wasm32")]
pub mod browser;
#[cfg(target_arch = "wasm32")]
pub mod client;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod js;

pub use crate::core::authorize::SignInOptions;
pub use crate::core::config::{ConfigInput, StorageKind};
pub use crate::core::error::{Error, ErrorKind, IssuerSource, TokenProblem};
pub use crate::core::session::Status;

#[cfg(target_arch = "wasm32")]
pub use crate::client::{Client, SignOutOptions, Subscription, User, View};
#[cfg(all(target_arch = "wasm32", feature = "js"))]
pub use crate::js::SessionManager;
