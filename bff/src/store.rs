//! Where sessions and pending logins live: the [`SessionStore`] trait and its in-memory default.
//!
//! The browser only ever holds an opaque, random session id (in an HttpOnly cookie). Everything
//! else (tokens, claims, the PKCE verifier of a login in progress) stays behind this trait.
//!
//! A deployment with several backend instances needs an implementation shared by all of them
//! (Redis, a database, …): a session created by one instance must be readable by the next, and the
//! refresh lock ([`SessionStore::lock`]) must be a *distributed* lock, otherwise two instances can
//! refresh the same session at once and the second one burns the single-use refresh token that the
//! first one already rotated (the provider then revokes the whole grant). See the README.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The future a store method returns (boxed, so that `dyn SessionStore` works).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store that could not answer (a shared store's network, for instance). Handlers answer 503.
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
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Session {
    /// The ID token's `sub`.
    pub sub: String,
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
}

/// A sign-in in progress, from `GET /login` to `GET /callback`, keyed by its `state`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingLogin {
    /// The value of the browser's login-binding cookie: the callback must come from the browser
    /// that started the sign-in (login CSRF defence on top of `state`).
    pub binding: String,
    pub nonce: String,
    pub pkce_verifier: String,
    /// A validated same-origin path.
    pub return_to: String,
}

/// Sessions and pending logins, by opaque random id.
///
/// All methods are async (boxed futures, so the trait is object-safe: the app holds an
/// `Arc<dyn SessionStore>`).
pub trait SessionStore: Send + Sync + 'static {
    fn get(&self, id: &str) -> StoreFuture<'_, Option<Session>>;
    /// Creates or replaces; the entry disappears after `ttl`.
    fn put(&self, id: &str, session: Session, ttl: Duration) -> StoreFuture<'_, ()>;
    fn delete(&self, id: &str) -> StoreFuture<'_, ()>;

    fn put_login(&self, state: &str, login: PendingLogin, ttl: Duration) -> StoreFuture<'_, ()>;
    /// Returns and removes, atomically: a `state` can be redeemed once.
    fn take_login(&self, state: &str) -> StoreFuture<'_, Option<PendingLogin>>;

    /// Serializes refreshes (and sign-outs) of one session: the refresh single-flight.
    /// A shared store must implement this as a distributed lock with a timeout.
    fn lock(&self, id: &str) -> StoreFuture<'_, SessionLock>;
}

/// The default store: one process's memory. Fine for one instance; see the module docs otherwise.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Default)]
struct MemoryInner {
    sessions: HashMap<String, (Session, Instant)>,
    logins: HashMap<String, (PendingLogin, Instant)>,
    locks: HashMap<String, Arc<tokio::sync::Mutex<()>>>,
    puts: u64,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut MemoryInner) -> T) -> T {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut guard)
    }
}

impl MemoryInner {
    /// Drops expired entries every 256 writes, so memory stays bounded without a timer task.
    fn maybe_sweep(&mut self) {
        self.puts += 1;
        if !self.puts.is_multiple_of(256) {
            return;
        }
        let now = Instant::now();
        self.sessions.retain(|_, (_, until)| *until > now);
        self.logins.retain(|_, (_, until)| *until > now);
        let sessions = &self.sessions;
        // A lock nobody holds (only the map's reference left) for a session that is gone.
        self.locks
            .retain(|id, lock| sessions.contains_key(id) || Arc::strong_count(lock) > 1);
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> StoreFuture<'a, T> {
    Box::pin(std::future::ready(Ok(value)))
}

impl SessionStore for MemoryStore {
    fn get(&self, id: &str) -> StoreFuture<'_, Option<Session>> {
        let found = self.with(|m| match m.sessions.get(id) {
            Some((session, until)) if *until > Instant::now() => Some(session.clone()),
            Some(_) => {
                m.sessions.remove(id);
                None
            }
            None => None,
        });
        ready(found)
    }

    fn put(&self, id: &str, session: Session, ttl: Duration) -> StoreFuture<'_, ()> {
        self.with(|m| {
            m.maybe_sweep();
            m.sessions
                .insert(id.to_owned(), (session, Instant::now() + ttl));
        });
        ready(())
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, ()> {
        self.with(|m| {
            m.sessions.remove(id);
            if m.locks.get(id).is_some_and(|l| Arc::strong_count(l) == 1) {
                m.locks.remove(id);
            }
        });
        ready(())
    }

    fn put_login(&self, state: &str, login: PendingLogin, ttl: Duration) -> StoreFuture<'_, ()> {
        self.with(|m| {
            m.maybe_sweep();
            m.logins
                .insert(state.to_owned(), (login, Instant::now() + ttl));
        });
        ready(())
    }

    fn take_login(&self, state: &str) -> StoreFuture<'_, Option<PendingLogin>> {
        let found = self.with(|m| {
            m.logins
                .remove(state)
                .filter(|(_, until)| *until > Instant::now())
                .map(|(login, _)| login)
        });
        ready(found)
    }

    fn lock(&self, id: &str) -> StoreFuture<'_, SessionLock> {
        let mutex = self.with(|m| m.locks.entry(id.to_owned()).or_default().clone());
        Box::pin(async move {
            let guard = mutex.lock_owned().await;
            Ok(Box::new(guard) as SessionLock)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(sub: &str) -> Session {
        Session {
            sub: sub.into(),
            claims: Map::new(),
            id_token: String::new(),
            access_token: "at".into(),
            access_expires_at: None,
            refresh_token: None,
            refreshed_at_ms: 0,
            expires_at: 0,
        }
    }

    #[tokio::test]
    async fn get_put_delete_and_expiry() {
        let store = MemoryStore::new();
        assert!(store.get("a").await.unwrap().is_none());
        store
            .put("a", session("alice"), Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(store.get("a").await.unwrap().unwrap().sub, "alice");
        store.delete("a").await.unwrap();
        assert!(store.get("a").await.unwrap().is_none());
        store
            .put("b", session("bob"), Duration::from_millis(0))
            .await
            .unwrap();
        assert!(
            store.get("b").await.unwrap().is_none(),
            "expired entries are gone"
        );
    }

    #[tokio::test]
    async fn a_login_is_taken_once() {
        let store = MemoryStore::new();
        let login = PendingLogin {
            binding: "b".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            return_to: "/".into(),
        };
        store
            .put_login("s", login, Duration::from_secs(60))
            .await
            .unwrap();
        assert!(store.take_login("s").await.unwrap().is_some());
        assert!(store.take_login("s").await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_lock_serializes_one_session_only() {
        let store = Arc::new(MemoryStore::new());
        let held = store.lock("a").await.unwrap();
        // Another session is not blocked.
        let _other = store.lock("b").await.unwrap();
        let s2 = store.clone();
        let waiter = tokio::spawn(async move { s2.lock("a").await.map(|_| ()) });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the second locker of `a` waits");
        drop(held);
        waiter.await.unwrap().unwrap();
    }
}
