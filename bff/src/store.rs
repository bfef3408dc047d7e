//! Where sessions and pending logins live: the [`SessionStore`] trait, its in-memory default
//! ([`MemoryStore`], one instance) and, in [`crate::redis_store`], the shared store for several
//! instances.
//!
//! The browser only ever holds an opaque, random session id (in an HttpOnly cookie). Everything
//! else (tokens, claims, the PKCE verifier of a login in progress) stays behind this trait.
//!
//! What every implementation guarantees (the handlers rely on it):
//! - **Versioned writes.** [`SessionStore::get`] returns the record with its
//!   [`Session::version`]; [`SessionStore::update`] writes only while the stored record is still
//!   at that version (compare-and-set), so a writer that read an older record never overwrites
//!   newer tokens, and a deleted session is never brought back.
//! - **Bounded.** Every entry expires (sessions at their absolute end, pending logins after the
//!   login TTL, lock entries when released); pending logins are capped per client address and
//!   in total ([`LoginLimits`]); nothing is created for a request without a session or a login.
//! - **One refresh per session.** [`SessionStore::lock`] serializes the refreshes of one session
//!   (across every instance for a shared store).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The future a store method returns (boxed, so that `dyn SessionStore` works).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store that could not answer (a shared store's network, for instance). Handlers answer
/// 503 `STORE_UNAVAILABLE`.
#[derive(Debug, Clone)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "session store: {}", self.0)
    }
}

impl std::error::Error for StoreError {}

/// Held while a session is being refreshed (or signed out); dropping it releases the lock.
pub type SessionLock = Box<dyn Send + Sync>;

/// One signed-in browser session. Serializable, so that a shared store can keep it as JSON.
/// `Debug` shows no token.
#[derive(Clone, Serialize, Deserialize)]
pub struct Session {
    /// The ID token's `sub`.
    pub sub: String,
    /// The provider's session id (the ID token's `sid`), for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Identity claims: the validated ID token's claims, then the userinfo claims over them.
    pub claims: Map<String, Value>,
    /// The raw ID token: the `id_token_hint` of RP-initiated logout.
    pub id_token: String,
    pub access_token: String,
    /// Unix seconds; `None` when the provider sent no `expires_in`.
    pub access_expires_at: Option<u64>,
    pub refresh_token: Option<String>,
    /// Unix milliseconds of the last successful upstream refresh (or of the sign-in).
    pub refreshed_at_ms: u64,
    /// Unix seconds: the absolute end of the session, whatever the refreshes.
    pub expires_at: u64,
    /// The stored record's version, set by [`SessionStore::get`] (0: never stored). Each
    /// successful [`SessionStore::update`] adds one.
    #[serde(default)]
    pub version: u64,
}

const REDACTED: &str = "[redacted]";

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("sub", &self.sub)
            .field("sid", &self.sid)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .field("id_token", &REDACTED)
            .field("access_token", &REDACTED)
            .field("access_expires_at", &self.access_expires_at)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| REDACTED),
            )
            .field("refreshed_at_ms", &self.refreshed_at_ms)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish()
    }
}

/// A sign-in in progress, from `GET /login` to `GET /callback`, keyed by its `state`.
/// `Debug` shows no secret.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The value of the browser's login-binding cookie: the callback must come from the browser
    /// that started the sign-in (login CSRF defence on top of `state`).
    pub binding: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A validated same-origin path.
    pub return_to: String,
    /// The client address that started it (the per-client cap of [`LoginLimits`]).
    #[serde(default)]
    pub client: String,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("binding", &REDACTED)
            .field("nonce", &REDACTED)
            .field("pkce_verifier", &REDACTED)
            .field("return_to", &self.return_to)
            .field("client", &self.client)
            .finish()
    }
}

/// Caps on pending logins (`BFF_LOGIN_LIMIT_PER_CLIENT`, `BFF_LOGIN_LIMIT_TOTAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    pub per_client: usize,
    pub total: usize,
}

/// What [`SessionStore::put_login`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginAdmission {
    Stored,
    /// Over a cap: nothing was stored; a slot frees up after `retry_after`.
    Refused {
        retry_after: Duration,
    },
}

/// What [`SessionStore::update`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cas {
    /// Written; the record's new version.
    Written(u64),
    /// The stored record is newer than the one this write started from: nothing written.
    Stale,
    /// No such session (signed out, ended, expired): nothing written.
    Gone,
}

/// Sessions and pending logins, by opaque random id.
///
/// All methods are async (boxed futures, so the trait is object-safe: the app holds an
/// `Arc<dyn SessionStore>`).
pub trait SessionStore: Send + Sync + 'static {
    /// The session with its current [`Session::version`].
    fn get(&self, id: &str) -> StoreFuture<'_, Option<Session>>;
    /// Stores a new session (version 1) and indexes it by `sid` and `sub`; it disappears after
    /// `ttl`.
    fn create(&self, id: &str, session: Session, ttl: Duration) -> StoreFuture<'_, ()>;
    /// Compare-and-set: replaces the session only while its stored version is still
    /// `session.version`.
    fn update(&self, id: &str, session: Session, ttl: Duration) -> StoreFuture<'_, Cas>;
    fn delete(&self, id: &str) -> StoreFuture<'_, ()>;

    /// Stores a pending login unless its client (or everyone) is over `limits`.
    fn put_login(
        &self,
        state: &str,
        login: PendingLogin,
        ttl: Duration,
        limits: LoginLimits,
    ) -> StoreFuture<'_, LoginAdmission>;
    /// Returns and removes, atomically: a `state` can be redeemed once.
    fn take_login(&self, state: &str) -> StoreFuture<'_, Option<PendingLogin>>;
    /// `Some(retry_after)` when a login of `client` would be refused now (a cheap check before the
    /// PKCE and URL work; [`SessionStore::put_login`] decides, atomically).
    fn login_refusal(&self, client: &str, limits: LoginLimits)
        -> StoreFuture<'_, Option<Duration>>;

    /// Serializes refreshes (and sign-outs) of one session: the refresh single flight.
    /// A shared store implements it as a distributed lease lock.
    fn lock(&self, id: &str) -> StoreFuture<'_, SessionLock>;

    /// Back-channel logout: deletes every session of provider session `sid` (when given, and of
    /// `sub` too when both are), else of subject `sub`. Returns how many ended.
    fn end_sessions(&self, sid: Option<&str>, sub: Option<&str>) -> StoreFuture<'_, usize>;
    /// True the first time `jti` is seen within `ttl` (a replayed logout token gets false).
    fn first_use(&self, jti: &str, ttl: Duration) -> StoreFuture<'_, bool>;
    /// Whether the store answers (`GET /readyz`).
    fn ping(&self) -> StoreFuture<'_, ()>;
}

/// The default store: one process's memory. Right for one instance; several instances need the
/// Redis store (`BFF_STORE=redis://…`).
#[derive(Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

#[derive(Default)]
struct MemoryInner {
    sessions: HashMap<String, (Session, Instant)>,
    by_sid: HashMap<String, HashSet<String>>,
    by_sub: HashMap<String, HashSet<String>>,
    logins: HashMap<String, (PendingLogin, Instant)>,
    /// Per client address: its pending logins' (expiry, state), oldest first.
    login_clients: HashMap<String, VecDeque<(Instant, String)>>,
    locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    jtis: HashMap<String, Instant>,
    writes: u64,
    last_sweep: Option<Instant>,
    /// When the oldest pending login expires, as of the last sweep that found the total cap
    /// reached.
    full_until: Option<Instant>,
}

/// Entry counts of a [`MemoryStore`] (the bounds tests assert them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryCounts {
    pub sessions: usize,
    pub logins: usize,
    pub login_clients: usize,
    pub locks: usize,
    pub index_entries: usize,
    pub jtis: usize,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }

    /// How many entries of each kind it holds right now.
    pub fn counts(&self) -> MemoryCounts {
        self.with(|m| MemoryCounts {
            sessions: m.sessions.len(),
            logins: m.logins.len(),
            login_clients: m.login_clients.len(),
            locks: m.locks.len(),
            index_entries: m
                .by_sid
                .values()
                .chain(m.by_sub.values())
                .map(HashSet::len)
                .sum(),
            jtis: m.jtis.len(),
        })
    }
}

impl MemoryInner {
    /// Drops expired entries every 256 writes or every 5 s of writes, so memory stays bounded
    /// without a timer task.
    fn maybe_sweep(&mut self, now: Instant) {
        self.writes += 1;
        let due = self
            .last_sweep
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(5));
        if self.writes.is_multiple_of(256) || due {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: Instant) {
        self.last_sweep = Some(now);
        self.sessions.retain(|_, (_, until)| *until > now);
        self.logins.retain(|_, (_, until)| *until > now);
        self.login_clients.retain(|_, q| {
            q.retain(|(until, _)| *until > now);
            !q.is_empty()
        });
        self.jtis.retain(|_, until| *until > now);
        let sessions = &self.sessions;
        for index in [&mut self.by_sid, &mut self.by_sub] {
            index.retain(|_, ids| {
                ids.retain(|id| sessions.contains_key(id));
                !ids.is_empty()
            });
        }
    }

    fn unindex(&mut self, id: &str, session: &Session) {
        let drop_from = |index: &mut HashMap<String, HashSet<String>>, key: &str| {
            if let Some(ids) = index.get_mut(key) {
                ids.remove(id);
                if ids.is_empty() {
                    index.remove(key);
                }
            }
        };
        if let Some(sid) = &session.sid {
            drop_from(&mut self.by_sid, sid);
        }
        drop_from(&mut self.by_sub, &session.sub);
    }

    fn remove_session(&mut self, id: &str) -> bool {
        match self.sessions.remove(id) {
            Some((session, _)) => {
                self.unindex(id, &session);
                true
            }
            None => false,
        }
    }

    fn forget_login_of_client(&mut self, client: &str, state: &str) {
        if let Some(q) = self.login_clients.get_mut(client) {
            q.retain(|(_, s)| s != state);
            if q.is_empty() {
                self.login_clients.remove(client);
            }
        }
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

/// The memory store's lock: the per-session mutex's guard; its map entry goes when the last
/// holder or waiter is done, so released locks leave nothing behind.
struct MemoryLock {
    id: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
    inner: Arc<Mutex<MemoryInner>>,
}

impl Drop for MemoryLock {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut m = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Only the map's reference left: nobody holds or waits for it.
        if m.locks
            .get(&self.id)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            m.locks.remove(&self.id);
        }
    }
}

impl SessionStore for MemoryStore {
    fn get(&self, id: &str) -> StoreFuture<'_, Option<Session>> {
        let now = Instant::now();
        let found = self.with(|m| match m.sessions.get(id) {
            Some((session, until)) if *until > now => Some(session.clone()),
            Some(_) => {
                m.remove_session(id);
                None
            }
            None => None,
        });
        ready(found)
    }

    fn create(&self, id: &str, mut session: Session, ttl: Duration) -> StoreFuture<'_, ()> {
        let now = Instant::now();
        session.version = 1;
        self.with(|m| {
            m.maybe_sweep(now);
            m.remove_session(id);
            if let Some(sid) = &session.sid {
                m.by_sid
                    .entry(sid.clone())
                    .or_default()
                    .insert(id.to_owned());
            }
            m.by_sub
                .entry(session.sub.clone())
                .or_default()
                .insert(id.to_owned());
            m.sessions.insert(id.to_owned(), (session, now + ttl));
        });
        ready(())
    }

    fn update(&self, id: &str, mut session: Session, ttl: Duration) -> StoreFuture<'_, Cas> {
        let now = Instant::now();
        let outcome = self.with(|m| {
            m.maybe_sweep(now);
            match m.sessions.get_mut(id) {
                Some((current, until)) if *until > now => {
                    if current.version != session.version {
                        return Cas::Stale;
                    }
                    session.version += 1;
                    // The indexes follow `sid`/`sub`, which a refresh does not change.
                    session.sid.clone_from(&current.sid);
                    session.sub.clone_from(&current.sub);
                    let version = session.version;
                    *current = session;
                    *until = now + ttl;
                    Cas::Written(version)
                }
                _ => Cas::Gone,
            }
        });
        ready(outcome)
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, ()> {
        self.with(|m| {
            m.remove_session(id);
        });
        ready(())
    }

    fn put_login(
        &self,
        state: &str,
        login: PendingLogin,
        ttl: Duration,
        limits: LoginLimits,
    ) -> StoreFuture<'_, LoginAdmission> {
        let now = Instant::now();
        let admission = self.with(|m| {
            m.maybe_sweep(now);
            if let Some(q) = m.login_clients.get_mut(&login.client) {
                while q.front().is_some_and(|(until, _)| *until <= now) {
                    if let Some((_, s)) = q.pop_front() {
                        m.logins.remove(&s);
                    }
                }
                if q.len() >= limits.per_client {
                    let retry_after = q
                        .front()
                        .map_or(ttl, |(until, _)| until.duration_since(now));
                    return LoginAdmission::Refused { retry_after };
                }
            }
            if m.logins.len() >= limits.total {
                // Full: sweep (and find when the oldest entry expires) at most once a second, so
                // a flood of refused requests costs O(1) each.
                if m.last_sweep
                    .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
                {
                    m.sweep(now);
                    m.full_until = m.logins.values().map(|(_, until)| *until).min();
                }
                if m.logins.len() >= limits.total {
                    let retry_after = m
                        .full_until
                        .map_or(ttl, |until| until.saturating_duration_since(now))
                        .max(Duration::from_secs(1));
                    return LoginAdmission::Refused { retry_after };
                }
            }
            let until = now + ttl;
            m.login_clients
                .entry(login.client.clone())
                .or_default()
                .push_back((until, state.to_owned()));
            if let Some((old, _)) = m.logins.insert(state.to_owned(), (login, until)) {
                // A state collision (never with random states): keep the books straight.
                m.forget_login_of_client(&old.client, state);
            }
            LoginAdmission::Stored
        });
        ready(admission)
    }

    fn take_login(&self, state: &str) -> StoreFuture<'_, Option<PendingLogin>> {
        let now = Instant::now();
        let found = self.with(|m| {
            let (login, until) = m.logins.remove(state)?;
            m.forget_login_of_client(&login.client, state);
            (until > now).then_some(login)
        });
        ready(found)
    }

    fn login_refusal(
        &self,
        client: &str,
        limits: LoginLimits,
    ) -> StoreFuture<'_, Option<Duration>> {
        let now = Instant::now();
        let refusal = self.with(|m| {
            if let Some(q) = m.login_clients.get(client) {
                let live: Vec<Instant> = q
                    .iter()
                    .map(|(until, _)| *until)
                    .filter(|until| *until > now)
                    .collect();
                if live.len() >= limits.per_client {
                    return live.first().map(|until| until.duration_since(now));
                }
            }
            if m.logins.len() >= limits.total {
                if let Some(until) = m.full_until.filter(|u| *u > now) {
                    return Some(until.duration_since(now).max(Duration::from_secs(1)));
                }
            }
            None
        });
        ready(refusal)
    }

    fn lock(&self, id: &str) -> StoreFuture<'_, SessionLock> {
        let mutex = self.with(|m| m.locks.entry(id.to_owned()).or_default().clone());
        let inner = self.inner.clone();
        let id = id.to_owned();
        Box::pin(async move {
            let guard = mutex.lock_owned().await;
            Ok(Box::new(MemoryLock {
                id,
                guard: Some(guard),
                inner,
            }) as SessionLock)
        })
    }

    fn end_sessions(&self, sid: Option<&str>, sub: Option<&str>) -> StoreFuture<'_, usize> {
        let ended = self.with(|m| {
            let ids: Vec<String> = match (sid, sub) {
                (Some(sid), _) => m.by_sid.get(sid).into_iter().flatten().cloned().collect(),
                (None, Some(sub)) => m.by_sub.get(sub).into_iter().flatten().cloned().collect(),
                (None, None) => Vec::new(),
            };
            let mut ended = 0;
            for id in ids {
                let matches = m
                    .sessions
                    .get(&id)
                    .is_some_and(|(s, _)| sub.is_none_or(|sub| s.sub == sub));
                if matches && m.remove_session(&id) {
                    ended += 1;
                }
            }
            ended
        });
        ready(ended)
    }

    fn first_use(&self, jti: &str, ttl: Duration) -> StoreFuture<'_, bool> {
        let now = Instant::now();
        let first = self.with(|m| {
            m.maybe_sweep(now);
            match m.jtis.get(jti) {
                Some(until) if *until > now => false,
                _ => {
                    m.jtis.insert(jti.to_owned(), now + ttl);
                    true
                }
            }
        });
        ready(first)
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        ready(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn session(sub: &str) -> Session {
        Session {
            sub: sub.into(),
            sid: None,
            claims: Map::new(),
            id_token: "eyJ.id.token".into(),
            access_token: "at-secret".into(),
            access_expires_at: None,
            refresh_token: Some("rt-secret".into()),
            refreshed_at_ms: 0,
            expires_at: 0,
            version: 0,
        }
    }

    fn login(client: &str) -> PendingLogin {
        PendingLogin {
            binding: "binding-secret".into(),
            nonce: "nonce-secret".into(),
            pkce_verifier: "verifier-secret".into(),
            return_to: "/".into(),
            client: client.into(),
        }
    }

    const LIMITS: LoginLimits = LoginLimits {
        per_client: 3,
        total: 5,
    };
    const MINUTE: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn get_create_delete_and_expiry() {
        let store = MemoryStore::new();
        assert!(store.get("a").await.unwrap().is_none());
        store.create("a", session("alice"), MINUTE).await.unwrap();
        let a = store.get("a").await.unwrap().unwrap();
        assert_eq!((a.sub.as_str(), a.version), ("alice", 1));
        store.delete("a").await.unwrap();
        assert!(store.get("a").await.unwrap().is_none());
        store
            .create("b", session("bob"), Duration::from_millis(0))
            .await
            .unwrap();
        assert!(
            store.get("b").await.unwrap().is_none(),
            "expired entries are gone"
        );
    }

    #[tokio::test]
    async fn update_is_compare_and_set() {
        let store = MemoryStore::new();
        store.create("a", session("alice"), MINUTE).await.unwrap();
        let first = store.get("a").await.unwrap().unwrap();
        let second = store.get("a").await.unwrap().unwrap();
        let mut newer = first.clone();
        newer.refresh_token = Some("rt-2".into());
        assert_eq!(
            store.update("a", newer, MINUTE).await.unwrap(),
            Cas::Written(2)
        );
        // `second` was read before that write: it must not overwrite the newer tokens.
        let mut older = second;
        older.refresh_token = Some("rt-stale".into());
        assert_eq!(store.update("a", older, MINUTE).await.unwrap(), Cas::Stale);
        let now = store.get("a").await.unwrap().unwrap();
        assert_eq!(now.refresh_token.as_deref(), Some("rt-2"));
        assert_eq!(now.version, 2);
        store.delete("a").await.unwrap();
        assert_eq!(store.update("a", now, MINUTE).await.unwrap(), Cas::Gone);
        assert!(store.get("a").await.unwrap().is_none(), "never resurrected");
    }

    #[tokio::test]
    async fn a_login_is_taken_once() {
        let store = MemoryStore::new();
        let r = store
            .put_login("s", login("c"), MINUTE, LIMITS)
            .await
            .unwrap();
        assert_eq!(r, LoginAdmission::Stored);
        assert!(store.take_login("s").await.unwrap().is_some());
        assert!(store.take_login("s").await.unwrap().is_none());
        assert_eq!(
            store.counts(),
            MemoryCounts::default(),
            "nothing left behind"
        );
    }

    #[tokio::test]
    async fn pending_logins_are_capped_per_client_and_in_total() {
        let store = MemoryStore::new();
        for i in 0..3 {
            let r = store
                .put_login(&format!("a{i}"), login("1.1.1.1"), MINUTE, LIMITS)
                .await
                .unwrap();
            assert_eq!(r, LoginAdmission::Stored);
        }
        let refused = store
            .put_login("a3", login("1.1.1.1"), MINUTE, LIMITS)
            .await
            .unwrap();
        match refused {
            LoginAdmission::Refused { retry_after } => {
                assert!(retry_after > Duration::from_secs(50) && retry_after <= MINUTE)
            }
            other => panic!("{other:?}"),
        }
        let precheck = store.login_refusal("1.1.1.1", LIMITS).await.unwrap();
        assert!(
            precheck.is_some_and(|d| d > Duration::from_secs(50)),
            "{precheck:?}"
        );
        assert_eq!(store.login_refusal("9.9.9.9", LIMITS).await.unwrap(), None);
        // A completed sign-in frees its slot.
        store.take_login("a0").await.unwrap().unwrap();
        assert_eq!(store.login_refusal("1.1.1.1", LIMITS).await.unwrap(), None);
        let r = store
            .put_login("a4", login("1.1.1.1"), MINUTE, LIMITS)
            .await
            .unwrap();
        assert_eq!(r, LoginAdmission::Stored);
        // The total cap holds across clients.
        for (i, client) in ["2.2.2.2", "3.3.3.3"].iter().enumerate() {
            let r = store
                .put_login(&format!("b{i}"), login(client), MINUTE, LIMITS)
                .await
                .unwrap();
            assert_eq!(r, LoginAdmission::Stored);
        }
        let r = store
            .put_login("c", login("4.4.4.4"), MINUTE, LIMITS)
            .await
            .unwrap();
        assert!(matches!(r, LoginAdmission::Refused { .. }), "{r:?}");
        assert_eq!(store.counts().logins, 5);
        assert_eq!(store.counts().login_clients, 3);
    }

    #[tokio::test]
    async fn expired_logins_free_their_slots() {
        let store = MemoryStore::new();
        let short = Duration::from_millis(1);
        for i in 0..3 {
            store
                .put_login(&format!("a{i}"), login("c"), short, LIMITS)
                .await
                .unwrap();
        }
        std::thread::sleep(Duration::from_millis(5));
        let r = store
            .put_login("b", login("c"), MINUTE, LIMITS)
            .await
            .unwrap();
        assert_eq!(r, LoginAdmission::Stored);
        assert_eq!(store.counts().logins, 1);
    }

    #[tokio::test]
    async fn the_lock_serializes_one_session_only_and_leaves_nothing() {
        let store = Arc::new(MemoryStore::new());
        let held = store.lock("a").await.unwrap();
        // Another session is not blocked.
        let other = store.lock("b").await.unwrap();
        let s2 = store.clone();
        let (tx, mut rx) = tokio::sync::oneshot::channel();
        let waiter = tokio::spawn(async move {
            let lock = s2.lock("a").await;
            let _ = tx.send(());
            lock.map(drop)
        });
        tokio::task::yield_now().await;
        assert!(rx.try_recv().is_err(), "the second locker of `a` waits");
        drop(held);
        waiter.await.unwrap().unwrap();
        drop(other);
        assert_eq!(store.counts().locks, 0, "released locks leave no entry");
    }

    #[tokio::test]
    async fn end_sessions_by_sid_or_sub() {
        let store = MemoryStore::new();
        let with_sid = |sub: &str, sid: &str| Session {
            sid: Some(sid.into()),
            ..session(sub)
        };
        store
            .create("1", with_sid("alice", "op-1"), MINUTE)
            .await
            .unwrap();
        store
            .create("2", with_sid("alice", "op-2"), MINUTE)
            .await
            .unwrap();
        store
            .create("3", with_sid("bob", "op-3"), MINUTE)
            .await
            .unwrap();
        assert_eq!(store.end_sessions(Some("op-1"), None).await.unwrap(), 1);
        assert!(store.get("1").await.unwrap().is_none());
        assert!(store.get("2").await.unwrap().is_some());
        // sid and sub must both match when both are given.
        assert_eq!(
            store
                .end_sessions(Some("op-3"), Some("alice"))
                .await
                .unwrap(),
            0
        );
        assert_eq!(store.end_sessions(None, Some("alice")).await.unwrap(), 1);
        assert_eq!(store.end_sessions(Some("nope"), None).await.unwrap(), 0);
        assert!(store.get("3").await.unwrap().is_some());
        store.delete("3").await.unwrap();
        assert_eq!(store.counts(), MemoryCounts::default());
    }

    #[tokio::test]
    async fn a_jti_is_used_once() {
        let store = MemoryStore::new();
        assert!(store.first_use("j", MINUTE).await.unwrap());
        assert!(!store.first_use("j", MINUTE).await.unwrap());
    }

    #[test]
    fn debug_shows_no_token() {
        let mut s = session("alice");
        s.sid = Some("op-sid".into());
        let text = format!("{s:?} {:?}", login("c"));
        for secret in [
            "eyJ.id.token",
            "at-secret",
            "rt-secret",
            "binding-secret",
            "nonce-secret",
            "verifier-secret",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("alice"));
    }
}
