//! oidc-session
pub mod core;
