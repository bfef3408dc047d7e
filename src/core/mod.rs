//! The protocol core: plain functions and types with no I/O, no clock reads, no `async`, no
//! browser APIs. Time (`now`, seconds since the epoch) and randomness come in as arguments.
//!
//! Private to the crate: its types reach users through the crate root's `pub use`s.
// Off `wasm32` the client is a stand-in, so much of the core has no caller there but its tests;
// a build without `browser-mode` (server mode only) leaves browser mode's checks unused too.
#![cfg_attr(
    any(not(target_arch = "wasm32"), not(feature = "browser-mode")),
    allow(dead_code)
)]

pub(crate) mod authorize;
pub(crate) mod b64;
pub(crate) mod callback;
pub(crate) mod config;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod id_token;
pub(crate) mod json;
pub(crate) mod jwt;
pub(crate) mod lease;
pub(crate) mod logout;
pub(crate) mod pkce;
pub(crate) mod refresh;
pub(crate) mod secret;
pub(crate) mod server;
pub(crate) mod session;
pub(crate) mod text;
pub(crate) mod token;
pub(crate) mod url;
pub(crate) mod user;
pub(crate) mod vault;
