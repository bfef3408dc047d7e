//! Hostile traffic leaves bounded state: requests without a session or a login create nothing,
//! pending logins are capped per client address and in total. The requests go straight into the
//! router (`tower::ServiceExt::oneshot`, no sockets), so 100,000 of them take seconds; the
//! figures are printed (`cargo test -- --nocapture`), the assertions are on counts only.

mod support;

use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use oidc_session_bff::{router, App, Config, MemoryCounts, MemoryStore, SessionStore};
use std::net::SocketAddr;
use std::sync::Arc;
use support::{random_cookie, resident_kib, Harness, RESIDENT_LIMIT_KIB};
use tower::ServiceExt;

const CSRF: (&str, &str) = ("x-requested-with", "oidc-session");

/// A backend whose provider is nowhere (127.0.0.1:9, discard): these requests must never need it.
fn offline_app(store: Arc<MemoryStore>) -> Arc<App> {
    let mut config = Config {
        issuer: "http://127.0.0.1:9".into(),
        upstream_timeout: std::time::Duration::from_millis(200),
        ..Config::default()
    };
    config.normalize().unwrap();
    App::new(config, store as Arc<dyn SessionStore>).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_and_signout_with_random_cookies_create_nothing() {
    let store = Arc::new(MemoryStore::new());
    let app = offline_app(store.clone());
    let routes = router(app);
    let before = resident_kib("self");
    const N: u64 = 100_000;
    for i in 0..N {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/refresh")
            .header(CSRF.0, CSRF.1)
            .header(
                header::COOKIE,
                format!("oidc_session={}", random_cookie(i, 1)),
            )
            .body(Body::empty())
            .unwrap();
        let response = routes.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let after_refresh = store.counts();
    // Sign-out with random cookies: fewer (each one asks the absent provider for discovery).
    const M: u64 = 1_000;
    for i in 0..M {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/auth/signout")
            .header(CSRF.0, CSRF.1)
            .header(
                header::COOKIE,
                format!("oidc_session={}", random_cookie(i, 2)),
            )
            .body(Body::empty())
            .unwrap();
        let response = routes.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let after = store.counts();
    println!(
        "bounds: {N} /refresh + {M} /signout with random cookies -> {after_refresh:?} then {after:?}; \
         resident {} -> {} KiB",
        before.unwrap_or(0),
        resident_kib("self").unwrap_or(0)
    );
    assert_eq!(
        after_refresh,
        MemoryCounts::default(),
        "no lock entry, no session"
    );
    if let Some(kib) = resident_kib("self") {
        assert!(
            kib < RESIDENT_LIMIT_KIB,
            "resident {kib} KiB after {N} /refresh"
        );
    }
    assert_eq!(after, MemoryCounts::default());
}

fn login_request(peer: SocketAddr, forwarded: Option<&str>) -> Request<Body> {
    let mut request = Request::builder()
        .method(Method::GET)
        .uri("/api/auth/login?returnTo=/")
        .body(Body::empty())
        .unwrap();
    if let Some(f) = forwarded {
        request
            .headers_mut()
            .insert("x-forwarded-for", f.parse().unwrap());
    }
    request.extensions_mut().insert(ConnectInfo(peer));
    request
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_from_one_address_stop_at_the_cap_with_429() {
    let Some(h) = Harness::start_with("/api/auth", |c| {
        c.login_limits.per_client = 20;
        c.login_limits.total = 1_000;
    })
    .await
    else {
        return;
    };
    let routes = router(h.app());
    let peer: SocketAddr = "203.0.113.7:40000".parse().unwrap();
    let before = resident_kib("self");
    const N: usize = 100_000;
    let (mut stored, mut refused) = (0, 0);
    for _ in 0..N {
        let response = routes
            .clone()
            .oneshot(login_request(peer, None))
            .await
            .unwrap();
        match response.status() {
            StatusCode::SEE_OTHER => stored += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                let retry: u64 = response.headers()[header::RETRY_AFTER]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                assert!((1..=600).contains(&retry), "Retry-After {retry}");
            }
            other => panic!("unexpected {other}"),
        }
    }
    let one_address = h.store.counts();
    // Many addresses: the total cap holds (a fresh address per request, 5,000 of them).
    for i in 0..5_000u32 {
        let peer = SocketAddr::from(([198, 18, (i >> 8) as u8, i as u8], 1234));
        let response = routes
            .clone()
            .oneshot(login_request(peer, None))
            .await
            .unwrap();
        assert!(
            matches!(
                response.status(),
                StatusCode::SEE_OTHER | StatusCode::TOO_MANY_REQUESTS
            ),
            "{}",
            response.status()
        );
    }
    let many = h.store.counts();
    println!(
        "bounds: {N} /login from one address -> {stored} stored, {refused} answered 429; {one_address:?}; \
         then 5,000 addresses -> {many:?}; resident {} -> {} KiB",
        before.unwrap_or(0),
        resident_kib("self").unwrap_or(0)
    );
    assert_eq!(stored, 20);
    assert_eq!(refused, N - 20);
    // The stated limit: the whole test process (harness, runtime, store) stays under 64 MiB.
    if let Some(kib) = resident_kib("self") {
        assert!(
            kib < RESIDENT_LIMIT_KIB,
            "resident {kib} KiB after {N} /login"
        );
    }
    assert_eq!(one_address.logins, 20);
    assert_eq!(one_address.login_clients, 1);
    assert_eq!(many.logins, 1_000, "the total cap");
    assert!(many.login_clients <= 1_000);
    assert_eq!(
        h.stats().await["refusedLogins"],
        (N - 20 + 5_000 - 980) as u64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_address_comes_from_the_configured_proxy_header() {
    let Some(h) = Harness::start_with("/api/auth", |c| {
        c.login_limits.per_client = 2;
        c.client_ip_header = Some("x-forwarded-for".into());
    })
    .await
    else {
        return;
    };
    let routes = router(h.app());
    // Every request comes from the proxy; the client is the last X-Forwarded-For entry.
    let proxy: SocketAddr = "127.0.0.1:5000".parse().unwrap();
    let status = |r: axum::response::Response| r.status();
    for _ in 0..2 {
        let r = routes
            .clone()
            .oneshot(login_request(proxy, Some("10.9.9.9, 192.0.2.1")))
            .await
            .unwrap();
        assert_eq!(status(r), StatusCode::SEE_OTHER);
    }
    // The same client: refused. A spoofed first entry does not make it another client.
    let r = routes
        .clone()
        .oneshot(login_request(proxy, Some("1.2.3.4, 192.0.2.1")))
        .await
        .unwrap();
    assert_eq!(status(r), StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy: its own budget.
    let r = routes
        .clone()
        .oneshot(login_request(proxy, Some("192.0.2.2")))
        .await
        .unwrap();
    assert_eq!(status(r), StatusCode::SEE_OTHER);
    // IPv6 clients count by /64.
    for (addr, want) in [
        ("2001:db8:1:2::1", StatusCode::SEE_OTHER),
        ("2001:db8:1:2::2", StatusCode::SEE_OTHER),
        ("2001:db8:1:2:ffff::3", StatusCode::TOO_MANY_REQUESTS),
    ] {
        let r = routes
            .clone()
            .oneshot(login_request(proxy, Some(addr)))
            .await
            .unwrap();
        assert_eq!(status(r), want, "{addr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_bodies_carry_no_upstream_text() {
    // The provider is unreachable: the body says so generically, without its address.
    let store = Arc::new(MemoryStore::new());
    let routes = router(offline_app(store));
    let request = Request::builder()
        .uri("/api/auth/login")
        .body(Body::empty())
        .unwrap();
    let response = routes.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("UPSTREAM_UNAVAILABLE"), "{text}");
    for leak in [
        "127.0.0.1",
        ":9",
        "discovery",
        "error sending request",
        "Connection refused",
    ] {
        assert!(!text.contains(leak), "{leak} in {text}");
    }
}
