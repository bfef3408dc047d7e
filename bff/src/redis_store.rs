//! The shared store for several instances: Redis (7, as Debian ships it), through the `redis`
//! crate's [`ConnectionManager`] (one multiplexed connection, reconnecting by itself).
//!
//! ## Data model (every key under `BFF_STORE_PREFIX`, default `bff:`; no key without a TTL)
//!
//! | key | type | content | TTL |
//! |---|---|---|---|
//! | `s:{id}` | hash | `v`: version, `d`: the [`Session`] as JSON | the session's absolute end |
//! | `sid:{sid}`, `sub:{sub}` | set | session ids of a provider session / subject | ≥ the longest member's |
//! | `l:{state}` | string | the [`PendingLogin`] as JSON | the login TTL (10 min) |
//! | `lc:{client}`, `lall` | sorted set | pending states of one client / of everyone, scored by expiry | the login TTL |
//! | `lock:{id}` | string | the refresh lock's owner token | the lease, renewed by its owner |
//! | `jti:{jti}` | string | a back-channel logout token's `jti`, seen | the token's lifetime |
//!
//! ## Writes are compare-and-set
//! A session write (`update`) is a Lua script that writes only while `v` is the version the
//! writer read, and bumps it; a deleted session is never written again. So an instance that read
//! an older record (or lost its lock's lease) can never overwrite newer tokens.
//!
//! ## The refresh lock
//! `SET lock:{id} {owner} NX PX {lease}`: the owner token is 32 random bytes. While the holder
//! calls the provider, a task renews the lease every third of it (`PEXPIRE` only if the value is
//! still the owner's: a Lua compare-and-pexpire), so a slow provider never lets a second instance
//! in. Released by compare-and-delete (only the owner's value is deleted). A holder that dies
//! stops renewing; the lease expires and the next instance takes over. Waiters poll every 25 ms
//! and, once they hold the lock, re-read the session: the winner's refresh is their answer. If
//! Redis does not answer, the store errs (`503 STORE_UNAVAILABLE`) and nobody refreshes without
//! the lock. A waiter gives up (503) after three leases plus 12 s.

use crate::store::{
    Cas, LoginAdmission, LoginLimits, PendingLogin, Session, SessionLock, SessionStore, StoreError,
    StoreFuture,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// The Redis store (`BFF_STORE=redis://host:port/db`).
#[derive(Clone)]
pub struct RedisStore {
    con: ConnectionManager,
    prefix: String,
    lease: Duration,
    timeout: Duration,
    max_wait: Duration,
}

static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', 1, 'd', ARGV[1])
local ttl = tonumber(ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
for i = 2, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[3])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1",
    )
});

static UPDATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('HGET', KEYS[1], 'v')
if not cur then return -1 end
if tonumber(cur) ~= tonumber(ARGV[1]) then return 0 end
local nv = tonumber(cur) + 1
redis.call('HSET', KEYS[1], 'v', nv, 'd', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return nv",
    )
});

static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local d = redis.call('HGET', KEYS[1], 'd')
redis.call('DEL', KEYS[1])
if not d then return 0 end
local ok, s = pcall(cjson.decode, d)
if ok and type(s) == 'table' then
  if type(s.sid) == 'string' then redis.call('SREM', ARGV[1] .. 'sid:' .. s.sid, ARGV[2]) end
  if type(s.sub) == 'string' then redis.call('SREM', ARGV[1] .. 'sub:' .. s.sub, ARGV[2]) end
end
return 1",
    )
});

static PUT_LOGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return math.max(tonumber(first[2]) - now, 1)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return math.max(tonumber(first[2]) - now, 1)
end
redis.call('ZADD', KEYS[1], now + ttl, ARGV[5])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('SET', KEYS[3], ARGV[4], 'PX', ttl)
return 0",
    )
});

static TAKE_LOGIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local d = redis.call('GETDEL', KEYS[1])
if not d then return false end
redis.call('ZREM', KEYS[2], ARGV[1])
local ok, l = pcall(cjson.decode, d)
if ok and type(l) == 'table' and type(l.client) == 'string' then
  redis.call('ZREM', ARGV[2] .. 'lc:' .. l.client, ARGV[1])
end
return d",
    )
});

static LOGIN_REFUSAL: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 2 do
  local cap = tonumber(ARGV[i])
  if redis.call('ZCOUNT', KEYS[i], '(' .. now, '+inf') >= cap then
    local first = redis.call('ZRANGEBYSCORE', KEYS[i], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    return math.max(tonumber(first[2]) - now, 1)
  end
end
return 0",
    )
});

static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0",
    )
});

static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0",
    )
});

fn ms(d: Duration) -> u64 {
    d.as_millis().max(1) as u64
}

fn owner_token() -> String {
    openidconnect::CsrfToken::new_random_len(32)
        .secret()
        .clone()
}

impl RedisStore {
    /// A store on `url` (`redis://host:port/db`); it connects lazily, so the backend starts (and
    /// answers `503 STORE_UNAVAILABLE`) while Redis is down. `lease`: the refresh lock's lease;
    /// `timeout`: of each store request.
    pub fn new(
        url: &str,
        prefix: &str,
        lease: Duration,
        timeout: Duration,
    ) -> Result<RedisStore, String> {
        let client = redis::Client::open(url).map_err(|e| format!("BFF_STORE: {e}"))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let con = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("BFF_STORE: {e}"))?;
        Ok(RedisStore {
            con,
            prefix: prefix.to_owned(),
            lease,
            timeout,
            // A live holder renews until its provider call ends (at most the upstream timeout,
            // 10 s by default); a dead one's lease runs out after `lease`. Bounded either way.
            max_wait: lease * 3 + timeout + Duration::from_secs(10),
        })
    }

    /// [`RedisStore::new`] from `BFF_STORE`, `BFF_STORE_PREFIX`, `BFF_REFRESH_LEASE_MS` and
    /// `BFF_STORE_TIMEOUT_MS`.
    pub fn from_config(c: &crate::Config) -> Result<RedisStore, String> {
        Self::new(&c.store, &c.store_prefix, c.refresh_lease, c.store_timeout)
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Runs one store request with the store timeout; any failure is a [`StoreError`].
    async fn run<T>(&self, f: impl Future<Output = RedisResult<T>>) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(StoreError(format!("redis: {e}"))),
            Err(_) => Err(StoreError(format!(
                "redis did not answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    /// Takes the refresh lock of session `id`, waiting (bounded) while another holds it.
    pub async fn acquire(&self, id: &str) -> Result<RedisLock, StoreError> {
        let key = self.key("lock", id);
        let token = owner_token();
        let started = Instant::now();
        loop {
            if let Some(lock) = self.try_acquire_with(&key, &token).await? {
                return Ok(lock);
            }
            if started.elapsed() > self.max_wait {
                return Err(StoreError("the refresh lock stayed busy; try again".into()));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// One attempt at the refresh lock of session `id`: `None` while another holds it.
    pub async fn try_acquire(&self, id: &str) -> Result<Option<RedisLock>, StoreError> {
        self.try_acquire_with(&self.key("lock", id), &owner_token())
            .await
    }

    async fn try_acquire_with(
        &self,
        key: &str,
        token: &str,
    ) -> Result<Option<RedisLock>, StoreError> {
        let mut con = self.con.clone();
        let set: Option<String> = self
            .run(
                redis::cmd("SET")
                    .arg(key)
                    .arg(token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(self.lease))
                    .query_async(&mut con),
            )
            .await?;
        if set.is_none() {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewal = {
            let (store, key, token, lost) =
                (self.clone(), key.to_owned(), token.to_owned(), lost.clone());
            tokio::spawn(async move {
                let every = store.lease / 3;
                loop {
                    tokio::time::sleep(every).await;
                    let mut con = store.con.clone();
                    let renewed: Result<i64, _> = store
                        .run(
                            RENEW
                                .key(&key)
                                .arg(&token)
                                .arg(ms(store.lease))
                                .invoke_async(&mut con),
                        )
                        .await;
                    match renewed {
                        Ok(1) => {}
                        Ok(_) => {
                            lost.store(true, Ordering::SeqCst);
                            tracing::warn!("refresh lock lost (its lease ran out)");
                            return;
                        }
                        // Redis hiccup: try again at the next tick; the lease still runs.
                        Err(e) => tracing::warn!(error = %e, "refresh lock renewal failed"),
                    }
                }
            })
        };
        Ok(Some(RedisLock {
            store: self.clone(),
            key: key.to_owned(),
            token: token.to_owned(),
            renewal: Some(renewal),
            lost,
            released: false,
        }))
    }

    /// How many keys under this store's prefix exist, and how many of them have no TTL (tests
    /// and benchmarks: the second must be 0).
    pub async fn key_census(&self) -> Result<(usize, usize), StoreError> {
        let mut con = self.con.clone();
        let mut cursor: u64 = 0;
        let (mut keys, mut without_ttl) = (0, 0);
        loop {
            let (next, batch): (u64, Vec<String>) = self
                .run(
                    redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{}*", self.prefix))
                        .arg("COUNT")
                        .arg(1000)
                        .query_async(&mut con),
                )
                .await?;
            for key in batch {
                keys += 1;
                let ttl: i64 = self
                    .run(redis::cmd("PTTL").arg(&key).query_async(&mut con))
                    .await?;
                if ttl < 0 {
                    without_ttl += 1;
                }
            }
            if next == 0 {
                return Ok((keys, without_ttl));
            }
            cursor = next;
        }
    }

    async fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let mut con = self.con.clone();
        let n: i64 = self
            .run(
                DELETE
                    .key(self.key("s", id))
                    .arg(&self.prefix)
                    .arg(id)
                    .invoke_async(&mut con),
            )
            .await?;
        Ok(n == 1)
    }
}

/// The refresh lock of one session, held by this instance; renewed while held, released
/// (compare-and-delete) when dropped.
pub struct RedisLock {
    store: RedisStore,
    key: String,
    token: String,
    renewal: Option<tokio::task::JoinHandle<()>>,
    lost: Arc<AtomicBool>,
    released: bool,
}

impl RedisLock {
    /// True once a renewal found the lease gone (another instance may hold the lock now; the
    /// versioned write still refuses to overwrite its newer tokens).
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and walks away without releasing: what a killed instance does (tests).
    pub fn abandon(mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
        self.released = true;
    }
}

impl Drop for RedisLock {
    fn drop(&mut self) {
        if let Some(r) = self.renewal.take() {
            r.abort();
        }
        if self.released {
            return;
        }
        let (store, key, token) = (self.store.clone(), self.key.clone(), self.token.clone());
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let mut con = store.con.clone();
                let released: Result<i64, _> = store
                    .run(RELEASE.key(&key).arg(&token).invoke_async(&mut con))
                    .await;
                if let Err(e) = released {
                    // The lease runs out by itself.
                    tracing::warn!(error = %e, "refresh lock release failed");
                }
            });
        }
    }
}

impl SessionStore for RedisStore {
    fn get(&self, id: &str) -> StoreFuture<'_, Option<Session>> {
        let key = self.key("s", id);
        Box::pin(async move {
            let mut con = self.con.clone();
            let (version, data): (Option<u64>, Option<String>) = self
                .run(
                    redis::cmd("HMGET")
                        .arg(&key)
                        .arg("v")
                        .arg("d")
                        .query_async(&mut con),
                )
                .await?;
            let (Some(version), Some(data)) = (version, data) else {
                return Ok(None);
            };
            let mut session: Session = serde_json::from_str(&data)
                .map_err(|e| StoreError(format!("unreadable session record: {e}")))?;
            session.version = version;
            Ok(Some(session))
        })
    }

    fn create(&self, id: &str, mut session: Session, ttl: Duration) -> StoreFuture<'_, ()> {
        let id = id.to_owned();
        Box::pin(async move {
            session.version = 1;
            let json = serde_json::to_string(&session)
                .map_err(|e| StoreError(format!("cannot serialize a session: {e}")))?;
            let mut invocation = CREATE.key(self.key("s", &id));
            invocation.key(self.key("sub", &session.sub));
            if let Some(sid) = &session.sid {
                invocation.key(self.key("sid", sid));
            }
            invocation.arg(json).arg(ms(ttl)).arg(&id);
            let mut con = self.con.clone();
            let _: i64 = self.run(invocation.invoke_async(&mut con)).await?;
            Ok(())
        })
    }

    fn update(&self, id: &str, session: Session, ttl: Duration) -> StoreFuture<'_, Cas> {
        let key = self.key("s", id);
        Box::pin(async move {
            let json = serde_json::to_string(&session)
                .map_err(|e| StoreError(format!("cannot serialize a session: {e}")))?;
            let mut con = self.con.clone();
            let outcome: i64 = self
                .run(
                    UPDATE
                        .key(&key)
                        .arg(session.version)
                        .arg(json)
                        .arg(ms(ttl))
                        .invoke_async(&mut con),
                )
                .await?;
            Ok(match outcome {
                -1 => Cas::Gone,
                0 => Cas::Stale,
                v => Cas::Written(v as u64),
            })
        })
    }

    fn delete(&self, id: &str) -> StoreFuture<'_, ()> {
        let id = id.to_owned();
        Box::pin(async move { self.delete_session(&id).await.map(drop) })
    }

    fn put_login(
        &self,
        state: &str,
        login: PendingLogin,
        ttl: Duration,
        limits: LoginLimits,
    ) -> StoreFuture<'_, LoginAdmission> {
        let state = state.to_owned();
        Box::pin(async move {
            let json = serde_json::to_string(&login)
                .map_err(|e| StoreError(format!("cannot serialize a login: {e}")))?;
            let mut con = self.con.clone();
            let retry_ms: i64 = self
                .run(
                    PUT_LOGIN
                        .key(format!("{}lall", self.prefix))
                        .key(self.key("lc", &login.client))
                        .key(self.key("l", &state))
                        .arg(limits.total)
                        .arg(limits.per_client)
                        .arg(ms(ttl))
                        .arg(json)
                        .arg(&state)
                        .invoke_async(&mut con),
                )
                .await?;
            Ok(if retry_ms <= 0 {
                LoginAdmission::Stored
            } else {
                LoginAdmission::Refused {
                    retry_after: Duration::from_millis(retry_ms as u64),
                }
            })
        })
    }

    fn take_login(&self, state: &str) -> StoreFuture<'_, Option<PendingLogin>> {
        let state = state.to_owned();
        Box::pin(async move {
            let mut con = self.con.clone();
            let data: Option<String> = self
                .run(
                    TAKE_LOGIN
                        .key(self.key("l", &state))
                        .key(format!("{}lall", self.prefix))
                        .arg(&state)
                        .arg(&self.prefix)
                        .invoke_async(&mut con),
                )
                .await?;
            data.map(|d| {
                serde_json::from_str(&d)
                    .map_err(|e| StoreError(format!("unreadable login record: {e}")))
            })
            .transpose()
        })
    }

    fn login_refusal(
        &self,
        client: &str,
        limits: LoginLimits,
    ) -> StoreFuture<'_, Option<Duration>> {
        let client_key = self.key("lc", client);
        Box::pin(async move {
            let mut con = self.con.clone();
            let retry_ms: i64 = self
                .run(
                    LOGIN_REFUSAL
                        .key(client_key)
                        .key(format!("{}lall", self.prefix))
                        .arg(limits.per_client)
                        .arg(limits.total)
                        .invoke_async(&mut con),
                )
                .await?;
            Ok((retry_ms > 0).then(|| Duration::from_millis(retry_ms as u64)))
        })
    }

    fn lock(&self, id: &str) -> StoreFuture<'_, SessionLock> {
        let id = id.to_owned();
        Box::pin(async move {
            let lock = self.acquire(&id).await?;
            Ok(Box::new(lock) as SessionLock)
        })
    }

    fn end_sessions(&self, sid: Option<&str>, sub: Option<&str>) -> StoreFuture<'_, usize> {
        let (sid, sub) = (sid.map(str::to_owned), sub.map(str::to_owned));
        Box::pin(async move {
            let index = match (&sid, &sub) {
                (Some(sid), _) => self.key("sid", sid),
                (None, Some(sub)) => self.key("sub", sub),
                (None, None) => return Ok(0),
            };
            let mut con = self.con.clone();
            let ids: Vec<String> = self
                .run(redis::cmd("SMEMBERS").arg(&index).query_async(&mut con))
                .await?;
            let mut ended = 0;
            for id in ids {
                if let (Some(_), Some(sub)) = (&sid, &sub) {
                    match self.get(&id).await? {
                        Some(s) if s.sub == *sub => {}
                        _ => continue,
                    }
                }
                if self.delete_session(&id).await? {
                    ended += 1;
                }
            }
            Ok(ended)
        })
    }

    fn first_use(&self, jti: &str, ttl: Duration) -> StoreFuture<'_, bool> {
        let key = self.key("jti", jti);
        Box::pin(async move {
            let mut con = self.con.clone();
            let set: Option<String> = self
                .run(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("NX")
                        .arg("PX")
                        .arg(ms(ttl))
                        .query_async(&mut con),
                )
                .await?;
            Ok(set.is_some())
        })
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut con = self.con.clone();
            let _: String = self.run(redis::cmd("PING").query_async(&mut con)).await?;
            Ok(())
        })
    }
}
