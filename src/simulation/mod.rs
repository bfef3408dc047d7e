//! Deterministic simulations, native, in `cargo test` (test code only).
//!
//! - `model`: the refresh race and sign-out as the core's decisions, driven by a model of the
//!   client: fast (10,000 scenarios in about a second), it walks the lock, the channel and the
//!   provider's rotation in every order.
//! - `origin` and `clients`: the real clients (`BrowserClient`, the vault's `VaultServer`,
//!   `ServerClient`) over `origin::Sim`, an in-memory browser origin implementing
//!   `client::platform::Platform`: tabs with their own memory and `sessionStorage`, shared
//!   `localStorage`, IndexedDB, Web Locks and a BroadcastChannel, the vault's service worker,
//!   timers on a simulated clock, and a strict provider, all driven by one seed.

#[cfg(feature = "browser-mode")]
mod clients;
mod model;
#[cfg(feature = "browser-mode")]
mod origin;
