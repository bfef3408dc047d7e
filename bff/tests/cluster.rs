//! Three backend instances (the binary) on one Redis, behind HAProxy (round robin, health checks),
//! the "browser" on the proxy's origin: one cookie jar shared by 4 tabs, each making 25
//! concurrent `fetch()`es the way the library's server mode does (`GET /me`; on 401
//! `TOKEN_EXPIRED` one `POST /refresh`, then `GET /me` again).
//!
//! - 10 access-token expiries × 100 fetches: exactly one `refresh_token` grant per expiry,
//!   0 `invalid_grant`, 0 signed-out fetches;
//! - the instance holding the refresh lock is SIGKILLed while it waits for the provider: its lease
//!   runs out, another instance refreshes, the session survives; the instance restarts and serves;
//! - a rolling restart (SIGTERM, start again) of all three while the tabs keep calling: no
//!   session lost;
//! - Redis stopped: 503 `STORE_UNAVAILABLE` (transient), then back (its append-only file kept the
//!   session): 200;
//! - a back-channel logout received through the proxy ends the session on every instance.
//!
//! Counts are asserted; timings are only printed.

mod support;

use reqwest::cookie::Jar;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{authorize_at, provider_installed, Cluster, ClusterStore, Op};

const TABS: usize = 4;
const FETCHES_PER_TAB: usize = 25;
const EXPIRIES: usize = 10;
const LEASE_MS: &str = "1000";

#[derive(Default, Debug, Clone, Copy)]
struct Outcome {
    ok: u64,
    refreshes: u64,
    signed_out: u64,
    transient: u64,
}

/// One `auth.fetch()` of server mode: `/me`, and on `TOKEN_EXPIRED` one `/refresh` and `/me` again.
async fn fetch(tab: &Client, api: &str) -> Outcome {
    let mut o = Outcome::default();
    let me = || async {
        let r = tab
            .get(format!("{api}/me"))
            .header("x-requested-with", "oidc-session")
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = me().await;
    let (status, body) =
        if status == StatusCode::UNAUTHORIZED && body["error"]["code"] == "TOKEN_EXPIRED" {
            o.refreshes += 1;
            let r = tab
                .post(format!("{api}/refresh"))
                .header("x-requested-with", "oidc-session")
                .send()
                .await
                .unwrap();
            match r.status() {
                StatusCode::OK => me().await,
                s => (s, r.json::<Value>().await.unwrap_or(Value::Null)),
            }
        } else {
            (status, body)
        };
    match status {
        StatusCode::OK => o.ok += 1,
        StatusCode::UNAUTHORIZED => o.signed_out += 1,
        _ => o.transient += 1,
    }
    let _ = body;
    o
}

/// 4 tabs × 25 concurrent fetches.
async fn burst(tabs: &[Client], api: &str) -> Outcome {
    let mut calls = Vec::new();
    for tab in tabs {
        for _ in 0..FETCHES_PER_TAB {
            let (tab, api) = (tab.clone(), api.to_owned());
            calls.push(tokio::spawn(async move { fetch(&tab, &api).await }));
        }
    }
    let mut total = Outcome::default();
    for c in calls {
        let o = c.await.unwrap();
        total.ok += o.ok;
        total.refreshes += o.refreshes;
        total.signed_out += o.signed_out;
        total.transient += o.transient;
    }
    total
}

async fn op(issuer: &str, method: Method, path: &str) -> Value {
    Client::new()
        .request(method, format!("{issuer}{path}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap_or(Value::Null)
}

async fn expire(tab: &Client, api: &str) {
    let r = tab
        .post(format!("{api}/__test/expire"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_behind_haproxy_on_one_redis() {
    if !provider_installed() {
        return;
    }
    let mut cluster = Cluster::prepare(3, "/api/auth", ClusterStore::PersistentRedis);
    let provider = Op::start(&cluster.proxy.origin);
    cluster
        .start(&provider.issuer, &[("BFF_REFRESH_LEASE_MS", LEASE_MS)])
        .await;
    let ports = cluster.ports.clone();
    let api = cluster.api.clone();
    let issuer = provider.issuer.clone();
    let jar = Arc::new(Jar::default());
    let tab = || {
        Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap()
    };
    let tabs: Vec<Client> = (0..TABS).map(|_| tab()).collect();

    // Sign in through the proxy; /me is answered by each instance directly.
    let callback = authorize_at(&tabs[0], &api, &issuer, "dana", "/").await;
    assert_eq!(
        tabs[0].get(&callback).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    for port in &ports {
        let r = tabs[0]
            .get(format!("http://127.0.0.1:{port}/api/auth/me"))
            .header("x-requested-with", "oidc-session")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::OK,
            "instance on {port} serves the session"
        );
    }

    // ---- 10 expiries × 4 tabs × 25 fetches ----------------------------------------------------
    op(&issuer, Method::POST, "/__test/reset").await;
    let started = Instant::now();
    let mut total = Outcome::default();
    for round in 0..EXPIRIES {
        expire(&tabs[0], &api).await;
        let before = op(&issuer, Method::GET, "/__test/counters").await["token"]["refresh_token"]
            .as_u64()
            .unwrap();
        let o = burst(&tabs, &api).await;
        let after = op(&issuer, Method::GET, "/__test/counters").await["token"]["refresh_token"]
            .as_u64()
            .unwrap();
        assert_eq!(
            after - before,
            1,
            "round {round}: one refresh_token grant per expiry ({o:?})"
        );
        assert_eq!(
            (o.ok, o.signed_out, o.transient),
            (100, 0, 0),
            "round {round}: {o:?}"
        );
        total.ok += o.ok;
        total.refreshes += o.refreshes;
    }
    let counters = op(&issuer, Method::GET, "/__test/counters").await;
    println!(
        "cluster: {EXPIRIES} expiries x {TABS} tabs x {FETCHES_PER_TAB} fetches over 3 instances behind haproxy: \
         {} fetches ok, {} of them called /refresh, {} refresh_token grants, {} invalid_grant, 0 signed out ({:.1} s)",
        total.ok,
        total.refreshes,
        counters["token"]["refresh_token"],
        counters["refresh_invalid_grant"],
        started.elapsed().as_secs_f64()
    );
    assert_eq!(counters["token"]["refresh_token"], EXPIRIES as u64);
    assert_eq!(counters["refresh_invalid_grant"], 0);

    // ---- SIGKILL of the lock holder while the provider holds the refresh -----------------------
    op(&issuer, Method::POST, "/__test/reset").await;
    op(
        &issuer,
        Method::POST,
        "/__test/hold-refresh?ms=1500&before=1",
    )
    .await;
    expire(&tabs[0], &api).await;
    // The refresh goes to instance 0 directly, so the holder is known.
    let holder_url = format!("http://127.0.0.1:{}/api/auth/refresh", ports[0]);
    let doomed = {
        let tab = tabs[0].clone();
        tokio::spawn(async move {
            tab.post(holder_url)
                .header("x-requested-with", "oidc-session")
                .send()
                .await
        })
    };
    for _ in 0..200 {
        if op(&issuer, Method::GET, "/__test/counters").await["refresh_held"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cluster.instances[0].kill();
    assert!(
        doomed.await.unwrap().is_err(),
        "the killed instance never answered"
    );
    op(&issuer, Method::POST, "/__test/hold-refresh?ms=0").await;
    // The tabs go on through the proxy: the lease runs out, another instance refreshes.
    let o = burst(&tabs, &api).await;
    let counters = op(&issuer, Method::GET, "/__test/counters").await;
    println!(
        "cluster: lock holder SIGKILLed mid-refresh -> {} dropped at the provider, then {} refresh_token grant(s), \
         {} invalid_grant; 100 fetches: {o:?}",
        counters["token_dropped"], counters["token"]["refresh_token"], counters["refresh_invalid_grant"]
    );
    assert_eq!(counters["token_dropped"], 1);
    assert_eq!(counters["token"]["refresh_token"], 1);
    assert_eq!(counters["refresh_invalid_grant"], 0);
    assert_eq!((o.ok, o.signed_out), (100, 0), "{o:?}");
    // The killed instance restarts and joins in.
    cluster.instances[0] = cluster.start_instance(ports[0]);
    let r = tabs[0]
        .get(format!("http://127.0.0.1:{}/api/auth/me", ports[0]))
        .header("x-requested-with", "oidc-session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    // ---- rolling restart while the tabs keep calling -------------------------------------------
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (tabs, api, stop) = (tabs.clone(), api.clone(), stop.clone());
        tokio::spawn(async move {
            let mut total = Outcome::default();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let o = burst(&tabs[..1], &api).await;
                total.ok += o.ok;
                total.refreshes += o.refreshes;
                total.signed_out += o.signed_out;
                total.transient += o.transient;
            }
            total
        })
    };
    for i in 0..3 {
        cluster.instances[i].terminate();
        let _ = cluster.instances[i].child.wait();
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.instances[i] = cluster.start_instance(cluster.ports[i]);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let rolling = load.await.unwrap();
    println!("cluster: rolling restart of 3 instances under load: {rolling:?}");
    assert_eq!(rolling.signed_out, 0, "no session lost: {rolling:?}");
    assert!(rolling.ok > 0);
    assert_eq!(fetch(&tabs[0], &api).await.ok, 1);

    // ---- Redis stopped, then back ------------------------------------------------------------
    cluster.redis.as_mut().unwrap().stop();
    let r = tabs[0]
        .get(format!("{api}/me"))
        .header("x-requested-with", "oidc-session")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    cluster.restart_redis();
    let mut back = None;
    for _ in 0..100 {
        let o = fetch(&tabs[0], &api).await;
        if o.transient == 0 {
            back = Some(o);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let back = back.expect("the cluster answers again once Redis is back");
    assert_eq!(
        (back.ok, back.signed_out),
        (1, 0),
        "the session survived: {back:?}"
    );

    // ---- back-channel logout through the proxy ends it everywhere --------------------------------
    let sid = {
        let r = tabs[0]
            .get(format!("{api}/me"))
            .header("x-requested-with", "oidc-session")
            .send()
            .await
            .unwrap();
        let me: Value = r.json().await.unwrap();
        me["data"]["claims"]["sid"].as_str().unwrap().to_owned()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token: Value = Client::new()
        .post(format!("{issuer}/__test/logout-token"))
        .body(
            json!({
                "iss": issuer, "aud": "bff", "iat": now, "exp": now + 120, "jti": "cluster-1",
                "sid": sid, "events": { "http://schemas.openid.net/event/backchannel-logout": {} },
            })
            .to_string(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = Client::new()
        .post(format!("{api}/backchannel-logout"))
        .form(&[("logout_token", token["logout_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    for port in &ports {
        let r = tabs[0]
            .get(format!("http://127.0.0.1:{port}/api/auth/me"))
            .header("x-requested-with", "oidc-session")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "instance on {port}");
    }
}
