//! The protocol core: plain functions and types with no I/O, no clock reads, no `async`, no
//! browser APIs. Time (`now`, seconds since the epoch) and randomness come in as arguments.

pub mod authorize;
pub mod b64;
pub mod callback;
pub mod config;
pub mod discovery;
pub mod error;
pub mod id_token;
pub mod json;
pub mod jwt;
pub mod logout;
pub mod pkce;
pub mod refresh;
pub mod secret;
pub mod server;
pub mod session;
pub mod text;
pub mod token;
pub mod url;
