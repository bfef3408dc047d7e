//! The Redis store against a real `redis-server` (started by each test on a free loopback port,
//! no persistence): versioned writes, the lease lock, the data model's TTLs, Redis going away,
//! two backend instances on one Redis refreshing a session once, and hostile traffic.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use oidc_session_bff::{
    router, App, Cas, Config, LoginAdmission, LoginLimits, PendingLogin, RedisStore, Session,
    SessionStore,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{call_with, flood, random_cookie, resident_kib, Harness, Redis, RESIDENT_LIMIT_KIB};
use tower::ServiceExt;

const MINUTE: Duration = Duration::from_secs(60);

fn store(redis: &Redis, lease_ms: u64) -> Arc<RedisStore> {
    Arc::new(
        RedisStore::new(
            &redis.url,
            "bff:",
            Duration::from_millis(lease_ms),
            Duration::from_millis(1000),
        )
        .unwrap(),
    )
}

fn session(sub: &str, sid: Option<&str>) -> Session {
    Session {
        sub: sub.into(),
        sid: sid.map(String::from),
        claims: Map::new(),
        id_token: "id".into(),
        access_token: "at-1".into(),
        access_expires_at: None,
        refresh_token: Some("rt-1".into()),
        refreshed_at_ms: 0,
        expires_at: u64::MAX / 2,
        version: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_refuses_a_stale_write() {
    let redis = Redis::start();
    // Two instances, each with its own connection.
    let (a, b) = (store(&redis, 1000), store(&redis, 1000));
    a.create("s1", session("alice", Some("op-1")), MINUTE)
        .await
        .unwrap();
    let read_by_a = a.get("s1").await.unwrap().unwrap();
    let read_by_b = b.get("s1").await.unwrap().unwrap();
    assert_eq!((read_by_a.version, read_by_b.version), (1, 1));
    let mut newer = read_by_a;
    newer.refresh_token = Some("rt-2".into());
    assert_eq!(
        a.update("s1", newer, MINUTE).await.unwrap(),
        Cas::Written(2)
    );
    let mut older = read_by_b;
    older.refresh_token = Some("rt-stale".into());
    assert_eq!(
        b.update("s1", older.clone(), MINUTE).await.unwrap(),
        Cas::Stale
    );
    let now = b.get("s1").await.unwrap().unwrap();
    assert_eq!(
        (now.refresh_token.as_deref(), now.version),
        (Some("rt-2"), 2)
    );
    // Deleted: never written again.
    a.delete("s1").await.unwrap();
    older.version = 2;
    assert_eq!(b.update("s1", older, MINUTE).await.unwrap(), Cas::Gone);
    assert!(b.get("s1").await.unwrap().is_none());
    let (keys, without_ttl) = a.key_census().await.unwrap();
    assert_eq!(
        (keys, without_ttl),
        (0, 0),
        "the session and its indexes are gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lease_is_renewed_while_held_and_released_by_its_owner() {
    let redis = Redis::start();
    // A lease of 900 ms, renewed every 300 ms (room for a busy machine's scheduling).
    let (a, b) = (store(&redis, 900), store(&redis, 900));
    let held = a.acquire("s1").await.unwrap();
    // Four leases long, a second instance stays out: the holder keeps renewing.
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(
            b.try_acquire("s1").await.unwrap().is_none(),
            "B got in while A held the lock"
        );
    }
    assert!(!held.lost());
    // Another session's lock is independent.
    assert!(b.try_acquire("s2").await.unwrap().is_some());
    drop(held);
    // Released (asynchronously, by compare-and-delete): B takes it.
    let b_lock = b.acquire("s1").await.unwrap();
    // A stale owner cannot release B's lock: A acquiring now waits.
    assert!(a.try_acquire("s1").await.unwrap().is_none());
    drop(b_lock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_holders_lease_expires_and_another_takes_over() {
    let redis = Redis::start();
    let (a, b) = (store(&redis, 400), store(&redis, 400));
    let held = a.acquire("s1").await.unwrap();
    assert!(b.try_acquire("s1").await.unwrap().is_none());
    // A dies: no renewal, no release.
    held.abandon();
    let taken_over = b
        .acquire("s1")
        .await
        .expect("the lease ran out and B took the lock");
    assert!(!taken_over.lost());
    assert!(a.try_acquire("s1").await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_indexes_and_jtis_all_expire_and_are_bounded() {
    let redis = Redis::start();
    let s = store(&redis, 1000);
    let limits = LoginLimits {
        per_client: 3,
        total: 5,
    };
    let login = |client: &str| PendingLogin {
        binding: "b".into(),
        nonce: "n".into(),
        pkce_verifier: "v".into(),
        return_to: "/".into(),
        client: client.into(),
    };
    for i in 0..3 {
        let r = s
            .put_login(&format!("a{i}"), login("1.1.1.1"), MINUTE, limits)
            .await
            .unwrap();
        assert_eq!(r, LoginAdmission::Stored);
    }
    match s
        .put_login("a3", login("1.1.1.1"), MINUTE, limits)
        .await
        .unwrap()
    {
        LoginAdmission::Refused { retry_after } => {
            assert!(retry_after <= MINUTE && retry_after > Duration::from_secs(50))
        }
        other => panic!("{other:?}"),
    }
    assert!(s.take_login("a0").await.unwrap().is_some());
    assert!(s.take_login("a0").await.unwrap().is_none(), "taken once");
    assert_eq!(
        s.put_login("a4", login("1.1.1.1"), MINUTE, limits)
            .await
            .unwrap(),
        LoginAdmission::Stored
    );
    for c in ["2.2.2.2", "3.3.3.3"] {
        assert_eq!(
            s.put_login(c, login(c), MINUTE, limits).await.unwrap(),
            LoginAdmission::Stored
        );
    }
    assert!(matches!(
        s.put_login("x", login("4.4.4.4"), MINUTE, limits)
            .await
            .unwrap(),
        LoginAdmission::Refused { .. }
    ));

    s.create("1", session("alice", Some("op-1")), MINUTE)
        .await
        .unwrap();
    s.create("2", session("alice", Some("op-2")), MINUTE)
        .await
        .unwrap();
    s.create("3", session("bob", Some("op-3")), MINUTE)
        .await
        .unwrap();
    assert!(s.first_use("jti-1", MINUTE).await.unwrap());
    assert!(!s.first_use("jti-1", MINUTE).await.unwrap());
    let (keys, without_ttl) = s.key_census().await.unwrap();
    // 5 logins + lall + 3 lc + 3 sessions + 3 sid + 2 sub + 1 jti
    println!("redis: data model census: {keys} keys, {without_ttl} without a TTL");
    assert_eq!((keys, without_ttl), (18, 0));

    assert_eq!(s.end_sessions(Some("op-1"), None).await.unwrap(), 1);
    assert_eq!(
        s.end_sessions(Some("op-3"), Some("alice")).await.unwrap(),
        0
    );
    assert_eq!(s.end_sessions(None, Some("alice")).await.unwrap(), 1);
    assert!(s.get("3").await.unwrap().is_some());
}

fn offline_app(store: Arc<dyn SessionStore>) -> Arc<App> {
    let mut config = Config {
        issuer: "http://127.0.0.1:9".into(),
        upstream_timeout: Duration::from_millis(200),
        ..Config::default()
    };
    config.normalize().unwrap();
    App::new(config, store).unwrap()
}

async fn call(
    routes: &axum::Router,
    method: Method,
    path: &str,
    cookie: &str,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("x-requested-with", "oidc-session")
        .header(header::COOKIE, format!("oidc_session={cookie}"))
        .body(Body::empty())
        .unwrap();
    let response = routes.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_answers_store_unavailable_and_recovers() {
    let mut redis = Redis::start();
    let s = store(&redis, 1000);
    let routes = router(offline_app(s.clone()));
    let cookie = "A".repeat(43);
    s.create(&cookie, session("alice", None), MINUTE)
        .await
        .unwrap();
    let (status, body) = call(&routes, Method::GET, "/api/auth/me", &cookie).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    redis.stop();
    for path in ["/api/auth/me", "/api/auth/refresh"] {
        let method = if path.ends_with("me") {
            Method::GET
        } else {
            Method::POST
        };
        let (status, body) = call(&routes, method, path, &cookie).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE", "{path}: {body}");
        let text = body.to_string();
        assert!(
            !text.contains("127.0.0.1") && !text.contains("redis"),
            "no internals: {text}"
        );
    }
    let (status, _) = call(&routes, Method::GET, "/api/auth/readyz", "").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);

    // Back (empty: no persistence in this test): the same backend answers again.
    let _redis = Redis::start_on(redis.port);
    let mut answered = None;
    for _ in 0..100 {
        let (status, body) = call(&routes, Method::POST, "/api/auth/refresh", &cookie).await;
        if status != StatusCode::SERVICE_UNAVAILABLE {
            answered = Some((status, body));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = answered.expect("the store came back");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "SESSION_REVOKED");
}

/// Two backend instances on one Redis, behind one origin: a session made on A is served by B;
/// 20 concurrent refreshes spread over both, while the provider holds its answer for longer
/// than the lock's lease (2 s against 800 ms: the lease must be renewed), make exactly one
/// refresh_token grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_one_redis_refresh_once() {
    let redis = Redis::start();
    let a_store = store(&redis, 800);
    let Some(h) = Harness::start_with_store(
        "/api/auth",
        |c| {
            c.refresh_lease = Duration::from_millis(800);
            c.refresh_coalesce = Duration::ZERO;
        },
        Some(a_store.clone() as Arc<dyn SessionStore>),
    )
    .await
    else {
        return;
    };
    let (b_api, _b_app, _b_server) = h.instance(store(&redis, 800)).await;
    h.sign_in("alice", "/").await;
    let me_b = call_with(&h.browser, Method::GET, &format!("{b_api}/me")).await;
    assert_eq!(me_b.status(), StatusCode::OK, "B serves A's session");

    let client = reqwest::Client::new();
    client
        .post(format!("{}/__test/reset", h.op.issuer))
        .send()
        .await
        .unwrap();
    let hold = client
        .post(format!("{}/__test/hold-refresh?ms=2000", h.op.issuer))
        .send()
        .await
        .unwrap();
    assert!(hold.status().is_success());
    let (status, _) = h.json(Method::POST, "/__test/expire").await;
    assert_eq!(status, StatusCode::OK);

    let mut calls = Vec::new();
    for i in 0..20 {
        let url = if i % 2 == 0 {
            h.api("/refresh")
        } else {
            format!("{b_api}/refresh")
        };
        let browser = h.browser.clone();
        calls.push(tokio::spawn(async move {
            let r = call_with(&browser, Method::POST, &url).await;
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut ok = 0;
    for c in calls {
        let (status, body) = c.await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        ok += 1;
    }
    client
        .post(format!("{}/__test/hold-refresh?ms=0", h.op.issuer))
        .send()
        .await
        .unwrap();
    let counters = h.op_counters().await;
    println!(
        "redis: 20 concurrent /refresh over 2 instances, provider answer held 2000 ms, lease 800 ms -> \
         {ok} answered 200, {} refresh_token grants, {} invalid_grant",
        counters["token"]["refresh_token"], counters["refresh_invalid_grant"]
    );
    assert_eq!(counters["token"]["refresh_token"], 1);
    assert_eq!(counters["refresh_invalid_grant"], 0);
    let after = h.store_session().await;
    assert_eq!(
        after.version, 3,
        "created (1), expired by the test hook (2), refreshed once (3)"
    );
    // Both instances answer /me with the fresh session.
    let me_a = call_with(&h.browser, Method::GET, &h.api("/me")).await;
    let me_b = call_with(&h.browser, Method::GET, &format!("{b_api}/me")).await;
    assert_eq!(
        (me_a.status(), me_b.status()),
        (StatusCode::OK, StatusCode::OK)
    );
    let (keys, without_ttl) = a_store.key_census().await.unwrap();
    println!("redis: after the cluster test: {keys} keys, {without_ttl} without a TTL");
    assert_eq!(without_ttl, 0);
}

/// Hostile traffic on the Redis store, 100,000 requests of each kind through the router, 64 at a
/// time (the store's one multiplexed connection pipelines them): `/refresh` with random
/// well-formed cookies leaves no key; `/login` from one address stops at the per-client cap (20
/// pending sign-ins, the rest `429` with `Retry-After`) and leaves 22 keys, all with a TTL; this
/// process (the backend, its store connection, the harness) stays under the stated resident limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_traffic_leaves_redis_bounded() {
    const N: u64 = 100_000;
    const WORKERS: u64 = 64;
    const PER_CLIENT: usize = 20;
    let redis = Redis::start();
    let s = store(&redis, 1000);
    let Some(h) = Harness::start_with_store(
        "/api/auth",
        |c| c.login_limits.per_client = PER_CLIENT,
        Some(s.clone() as Arc<dyn SessionStore>),
    )
    .await
    else {
        return;
    };
    let routes = router(h.app());
    let resident_before = resident_kib("self");

    let started = Instant::now();
    let r = routes.clone();
    let refreshes = flood(N, WORKERS, move |i| {
        let r = r.clone();
        async move {
            let cookie = random_cookie(i, 3);
            call(&r, Method::POST, "/api/auth/refresh", &cookie).await.0
        }
    })
    .await;
    let refresh_time = started.elapsed();
    let (refresh_keys, refresh_without_ttl) = s.key_census().await.unwrap();
    let refresh_dbsize = redis.dbsize();
    println!(
        "redis: {N} /refresh with random cookies in {:.1} s -> {refreshes:?}; {refresh_keys} keys \
         ({refresh_without_ttl} without a TTL), DBSIZE {refresh_dbsize}",
        refresh_time.as_secs_f64()
    );
    assert_eq!(refreshes, BTreeMap::from([(401, N)]));
    assert_eq!(
        (refresh_keys, refresh_without_ttl, refresh_dbsize),
        (0, 0, 0)
    );

    let started = Instant::now();
    let peer: std::net::SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let logins = flood(N, WORKERS, move |_| {
        let r = routes.clone();
        async move {
            let mut request = Request::builder()
                .uri("/api/auth/login?returnTo=/")
                .body(Body::empty())
                .unwrap();
            request
                .extensions_mut()
                .insert(axum::extract::connect_info::ConnectInfo(peer));
            let response = r.oneshot(request).await.unwrap();
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                assert!(response.headers().contains_key(header::RETRY_AFTER));
            }
            response.status()
        }
    })
    .await;
    let login_time = started.elapsed();
    let (keys, without_ttl) = s.key_census().await.unwrap();
    let dbsize = redis.dbsize();
    let resident_after = resident_kib("self");
    println!(
        "redis: {N} /login from one address in {:.1} s -> {logins:?}; {keys} keys ({without_ttl} \
         without a TTL), DBSIZE {dbsize}; resident {} -> {} KiB (limit {RESIDENT_LIMIT_KIB})",
        login_time.as_secs_f64(),
        resident_before.unwrap_or(0),
        resident_after.unwrap_or(0)
    );
    let per_client = PER_CLIENT as u64;
    assert_eq!(
        logins,
        BTreeMap::from([(303, per_client), (429, N - per_client)])
    );
    // The per-client cap's pending logins (`l:`), the client's sorted set and the global one.
    assert_eq!(
        (keys, without_ttl, dbsize),
        (PER_CLIENT + 2, 0, PER_CLIENT + 2)
    );
    if let Some(kib) = resident_after {
        assert!(
            kib < RESIDENT_LIMIT_KIB,
            "resident {kib} KiB after {N} /refresh and {N} /login"
        );
    }
}
