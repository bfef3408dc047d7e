//! `cargo xtask bench bff` (ignored by `cargo test`; run with `--release -- --ignored`): `/me`
//! and coalesced `/refresh` throughput and p50/p99 latency through HAProxy, for one instance on
//! the memory store, and one and three instances on one Redis, side by side; and the upstream
//! refreshes per access-token expiry under 4 tabs x 25 concurrent fetches. Figures only, no
//! assertion on them. `BENCH_BFF_SECONDS` (default 3) per measurement, `BENCH_BFF_WORKERS`
//! (default 32) concurrent clients, `BENCH_BFF_SESSIONS` (default 16) signed-in users.

mod support;

use reqwest::cookie::Jar;
use reqwest::{Client, StatusCode};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{authorize_at, provider_installed, Cluster, ClusterStore, Op};

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Figures {
    requests: usize,
    errors: usize,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

/// `workers` clients, each on its own session (round robin over `sessions`), calling `method
/// path` for `seconds`.
async fn load(
    sessions: &[Client],
    api: &str,
    post: bool,
    path: &str,
    workers: usize,
    seconds: u64,
) -> Figures {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..workers {
        let client = sessions[w % sessions.len()].clone();
        let url = format!("{api}{path}");
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            while Instant::now() < deadline {
                let t = Instant::now();
                let request = if post {
                    client.post(&url)
                } else {
                    client.get(&url)
                };
                match request
                    .header("x-requested-with", "oidc-session")
                    .send()
                    .await
                {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let _ = r.bytes().await;
                        latencies.push(t.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let (mut all, mut errors) = (Vec::new(), 0);
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.is_empty() {
            return f64::NAN;
        }
        let i = ((all.len() as f64 - 1.0) * p).round() as usize;
        all[i].as_secs_f64() * 1000.0
    };
    Figures {
        requests: all.len(),
        errors,
        rps: all.len() as f64 / elapsed,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
    }
}

/// 4 tabs x 25 concurrent fetches of one session at each of `expiries` expiries: upstream
/// refresh_token grants per expiry.
async fn race(tab: &Client, api: &str, op: &Op, expiries: usize) -> (f64, u64) {
    let http = Client::new();
    http.post(format!("{}/__test/reset", op.issuer))
        .send()
        .await
        .unwrap();
    let mut invalid = 0;
    for _ in 0..expiries {
        tab.post(format!("{api}/__test/expire"))
            .send()
            .await
            .unwrap();
        let mut calls = Vec::new();
        for _ in 0..100 {
            let (tab, api) = (tab.clone(), api.to_owned());
            calls.push(tokio::spawn(async move {
                let me = tab
                    .get(format!("{api}/me"))
                    .header("x-requested-with", "oidc-session")
                    .send()
                    .await
                    .unwrap();
                if me.status() == StatusCode::UNAUTHORIZED {
                    let _ = tab
                        .post(format!("{api}/refresh"))
                        .header("x-requested-with", "oidc-session")
                        .send()
                        .await;
                }
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
    }
    let c = op.counters().await;
    invalid += c["refresh_invalid_grant"].as_u64().unwrap_or(0);
    (
        c["token"]["refresh_token"].as_u64().unwrap_or(0) as f64 / expiries as f64,
        invalid,
    )
}

struct Row {
    name: String,
    me: Figures,
    refresh: Figures,
    per_expiry: f64,
    invalid_grant: u64,
}

async fn measure(name: &str, instances: usize, store: ClusterStore) -> Row {
    let workers = setting("BENCH_BFF_WORKERS", 32) as usize;
    let seconds = setting("BENCH_BFF_SECONDS", 3);
    let users = setting("BENCH_BFF_SESSIONS", 16) as usize;
    let mut cluster = Cluster::prepare(instances, "/api/auth", store);
    let op = Op::start(&cluster.proxy.origin);
    cluster
        .start(&op.issuer, &[("BFF_REFRESH_COALESCE_MS", "60000")])
        .await;
    let api = cluster.api.clone();
    let mut sessions = Vec::new();
    for i in 0..users {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar)
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .build()
            .unwrap();
        let callback = authorize_at(&client, &api, &op.issuer, &format!("user{i}"), "/").await;
        assert_eq!(
            client.get(&callback).send().await.unwrap().status(),
            StatusCode::SEE_OTHER
        );
        sessions.push(client);
    }
    let me = load(&sessions, &api, false, "/me", workers, seconds).await;
    let refresh = load(&sessions, &api, true, "/refresh", workers, seconds).await;
    let (per_expiry, invalid_grant) = race(&sessions[0], &api, &op, 5).await;
    Row {
        name: name.to_owned(),
        me,
        refresh,
        per_expiry,
        invalid_grant,
    }
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: cargo xtask bench bff"]
async fn bench_bff() {
    if !provider_installed() {
        panic!("node_modules/oidc-provider is missing: run `cargo xtask setup`");
    }
    let rows = vec![
        measure("1 instance, memory", 1, ClusterStore::Memory).await,
        measure("1 instance, Redis", 1, ClusterStore::Redis).await,
        measure("3 instances, Redis", 3, ClusterStore::Redis).await,
    ];
    println!(
        "\nbench bff: through HAProxy (round robin), {} clients on {} sessions, {} s per figure, {} build",
        setting("BENCH_BFF_WORKERS", 32),
        setting("BENCH_BFF_SESSIONS", 16),
        setting("BENCH_BFF_SECONDS", 3),
        if cfg!(debug_assertions) { "debug" } else { "release" }
    );
    println!(
        "  {:<20} | {:>9} {:>8} {:>8} | {:>9} {:>8} {:>8} | {:>12} {:>8}",
        "",
        "/me rps",
        "p50 ms",
        "p99 ms",
        "/refresh",
        "p50 ms",
        "p99 ms",
        "grants/expiry",
        "inv_grant"
    );
    for r in &rows {
        println!(
            "  {:<20} | {:>9.0} {:>8.2} {:>8.2} | {:>9.0} {:>8.2} {:>8.2} | {:>12.2} {:>8}",
            r.name,
            r.me.rps,
            r.me.p50_ms,
            r.me.p99_ms,
            r.refresh.rps,
            r.refresh.p50_ms,
            r.refresh.p99_ms,
            r.per_expiry,
            r.invalid_grant
        );
    }
    for r in &rows {
        println!(
            "  {}: /me {} ok, {} failed; /refresh (coalesced) {} ok, {} failed",
            r.name, r.me.requests, r.me.errors, r.refresh.requests, r.refresh.errors
        );
    }
    println!("  (4 tabs x 25 concurrent fetches at each of 5 expiries; grants/expiry is refresh_token grants at the provider per expiry)");
}
