//! The one seam between the session's flows and the platform they run on.
//!
//! Every effect a flow has (HTTP, Web Storage, IndexedDB and the vault's sealed store, the
//! cross-tab lock and channel, timers and the clock, randomness and WebCrypto, navigation, the
//! silent iframe, the vault's worker) is a method of [`Platform`]. The clients are generic over
//! it: the browser adapters (`crate::browser::Browser`, a zero-sized type) are the one
//! production instantiation, so the generic compiles to the same code as direct calls did; the
//! simulation (`crate::simulation`) instantiates the same clients over an in-memory origin.
//!
//! A platform method only carries the call out and reports what happened: no method decides
//! anything about the session (those decisions are the core's).

use crate::core::error::Error;
use crate::core::jwt::{Alg, Jwk};
use crate::core::pkce::Sha256;
use crate::core::server::ServerConfig;
use std::future::Future;
use std::pin::Pin;

/// A boxed flow: what runs under the cross-tab lock, or is spawned.
pub(crate) type Job<T> = Pin<Box<dyn Future<Output = T>>>;

/// One of the browser's Web Storage areas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// `sessionStorage`: this tab's.
    Session,
    /// `localStorage`: every tab's of the origin.
    Local,
}

impl Area {
    /// The area for a token-storage choice (`None` for memory).
    pub(crate) fn for_tokens(kind: crate::core::config::StorageKind) -> Option<Self> {
        use crate::core::config::StorageKind;
        match kind {
            StorageKind::Memory => None,
            StorageKind::Session => Some(Self::Session),
            StorageKind::Local => Some(Self::Local),
        }
    }
}

/// A vetted JSON answer (`core::token::check_json_response` passed): its status and text.
pub(crate) struct JsonReply {
    /// HTTP status.
    pub(crate) status: u16,
    /// Body text, known to start like JSON.
    pub(crate) body: String,
}

impl JsonReply {
    /// `reply` vetted by `core::token::check_json_response` (HTML, 429 and non-JSON bodies are
    /// typed errors before any parser runs): what every platform's JSON requests answer.
    pub(crate) fn vetted(reply: Reply) -> Result<Self, Error> {
        crate::core::token::check_json_response(
            reply.status,
            reply.content_type.as_deref(),
            &reply.body,
            reply.retry_after.as_deref(),
        )?;
        Ok(Self {
            status: reply.status,
            body: reply.body,
        })
    }
}

/// An answer whose body may be anything (the server-mode backend).
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// `Content-Type`.
    pub(crate) content_type: Option<String>,
    /// `Retry-After`.
    pub(crate) retry_after: Option<String>,
    /// Body text.
    pub(crate) body: String,
}

/// What the session's flows need from where they run. See the module docs.
///
/// Handles (`Channel`, `Timer`) undo their registration on `Drop`.
pub(crate) trait Platform: Clone + 'static {
    /// An open cross-tab channel (closed on `Drop`).
    type Channel;
    /// A timer or event registration (cancelled on `Drop`).
    type Timer;
    /// The vault worker's registration, as a page holds it.
    type Vault: Clone;

    // ---- clock, randomness, crypto --------------------------------------------------------

    /// Milliseconds since the epoch: the flows' only clock.
    fn now_ms(&self) -> u64;
    /// Seconds since the epoch.
    fn now(&self) -> u64 {
        self.now_ms() / 1000
    }
    /// `N` bytes from a secure random source.
    fn random<const N: usize>(&self) -> Result<[u8; N], Error>;
    /// SHA-256 of `data`.
    fn sha256(&self, data: &[u8]) -> impl Future<Output = Result<Sha256, Error>>;
    /// Whether `signature` over `input` verifies with `key` under `alg` (`Ok(false)`: it does
    /// not; `Err`: the key or the platform could not be used).
    fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, Error>>;

    // ---- HTTP -----------------------------------------------------------------------------

    /// `GET url` expecting JSON, with a bearer token if given.
    fn get_json(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> impl Future<Output = Result<JsonReply, Error>>;
    /// `POST url` with a form body, expecting JSON (the token endpoint).
    fn post_form(&self, url: &str, body: String) -> impl Future<Output = Result<JsonReply, Error>>;
    /// `POST url` with a form body, expecting any 2xx (revocation): the status.
    fn post_form_no_content(
        &self,
        url: &str,
        body: String,
    ) -> impl Future<Output = Result<u16, Error>>;
    /// A request to the server-mode backend, with its CSRF header (and its cookies).
    fn backend(
        &self,
        method: &str,
        url: &str,
        server: &ServerConfig,
    ) -> impl Future<Output = Result<Reply, Error>>;

    // ---- storage --------------------------------------------------------------------------

    /// Reads a Web Storage key (a storage that cannot be opened reads as empty).
    fn get(&self, area: Area, key: &str) -> Option<String>;
    /// Writes a Web Storage key.
    fn set(&self, area: Area, key: &str, value: &str) -> Result<(), Error>;
    /// Removes a Web Storage key.
    fn remove(&self, area: Area, key: &str);
    /// The Web Storage keys that start with `prefix`.
    fn keys_with_prefix(&self, area: Area, prefix: &str) -> Vec<String>;
    /// The origin's IndexedDB key-value store: consistent across tabs once a write committed.
    fn idb_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>>;
    /// Writes (or, for `None`, deletes) an IndexedDB key and waits for the commit.
    fn idb_set(&self, key: &str, value: Option<&str>) -> impl Future<Output = Result<(), Error>>;
    /// The vault worker's sealed store (worker side).
    fn sealed_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>>;
    /// Seals (or deletes) a value in the vault worker's store and waits for the commit.
    fn sealed_set(&self, key: &str, value: Option<&str>)
        -> impl Future<Output = Result<(), Error>>;

    // ---- tabs: lock, channel, tasks, timers -----------------------------------------------

    /// `job` to run while this context holds the cross-tab lock `name` (others asking wait):
    /// settles as the job does, or fails when the lock is refused. Nothing starts until the
    /// returned job is polled.
    fn locked(&self, name: String, job: Job<Result<(), Error>>) -> Job<Result<(), Error>>;
    /// Opens the cross-tab channel `name`; `on_message` hears the other tabs (never this one).
    /// `None` where there is no channel.
    fn open_channel(
        &self,
        name: &str,
        on_message: impl FnMut(String) + 'static,
    ) -> Option<Self::Channel>;
    /// Sends `msg` to the other tabs on `channel`.
    fn post(&self, channel: &Self::Channel, msg: &str);
    /// Runs `job` to completion on this context's thread, starting later (never inside the
    /// caller). Boxed: one compiled task for every kind of job.
    fn spawn(&self, job: Job<()>);
    /// Calls `f` once after `ms` milliseconds; `f` should defer real work with `spawn`.
    fn timeout(&self, ms: u32, f: impl FnMut() + 'static) -> Self::Timer;
    /// Calls `f` whenever the page may have slept or gone offline (timers stop then).
    fn on_wake_up(&self, f: impl FnMut() + 'static) -> Self::Timer;

    // ---- navigation -----------------------------------------------------------------------

    /// The document's URL.
    fn href(&self) -> Result<String, Error>;
    /// The document's origin.
    fn origin(&self) -> Result<String, Error>;
    /// Replaces the current history entry's URL (same origin) without navigating.
    fn replace_url(&self, url: &str);
    /// Leaves the page for `url`, in place of the current history entry when `replace`.
    fn leave(&self, url: &str, replace: bool) -> Result<(), Error>;
    /// Loads `url` (a `prompt=none` authorization request) in a hidden iframe and answers the
    /// URL the silent redirect page reported for `state`, or fails after `timeout_ms`.
    fn silent(
        &self,
        url: &str,
        origin: &str,
        state: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<String, Error>>;

    // ---- the token vault, page side -------------------------------------------------------

    /// Registers the vault's service worker. `Ok(None)`: no service workers here.
    fn vault_register(&self, url: &str)
        -> impl Future<Output = Result<Option<Self::Vault>, Error>>;
    /// Sends `text` to the vault's worker and waits up to `ms` for its reply text.
    fn vault_ask(
        &self,
        vault: &Self::Vault,
        text: &str,
        ms: u32,
    ) -> impl Future<Output = Result<String, Error>>;
}
