//! `cargo xtask bench bff` (ignored by `cargo test`; run with `--release -- --ignored`): `/me`
//! and coalesced `/refresh` throughput and p50/p99 latency through HAProxy, for one instance on
//! the memory store, and one and three instances on one Redis, side by side; and the upstream
//! refreshes per access-token expiry under 4 tabs x 25 concurrent fetches. Figures only, no
//! assertion on them. `BENCH_BFF_SECONDS` (default 3) per measurement, `BENCH_BFF_WORKERS`
//! (default 32) concurrent clients, `BENCH_BFF_SESSIONS` (default 16) signed-in users.
//! `cargo xtask bench bff login-flood`: the binary's resident memory under a flood of sign-ins
//! from one address ([`bench_login_flood`]).

mod support;

use reqwest::cookie::Jar;
use reqwest::{Client, StatusCode};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{
    authorize_at, free_port, proc_status_kib, provider_installed, resident_kib, BffProcess,
    Cluster, ClusterStore, Op,
};

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

/// `cargo xtask bench bff login-flood` (ignored by `cargo test`; run with `--release -- --ignored`):
/// the measurement again, on the binary with its defaults (memory store, 20 sign-ins in
/// progress per client address, 10,000 in total): `BENCH_BFF_LOGINS` (default 432,000)
/// unauthenticated `GET /login` from one client address, paced to last `BENCH_BFF_LOGIN_SECONDS`
/// (default 15, the pace of 28,800 per second; 0: as fast as they go), on
/// `BENCH_BFF_CONNECTIONS` (default 32) keep-alive connections with up to 64 requests in flight
/// on each (HTTP/1.1 pipelining: the cheapest flood one client can send); and the binary's
/// resident memory (`VmRSS`) before, after, and its peak (`VmHWM`). Before the caps the issue
/// measured 5.5 MB -> 175 MB for 432,000 in 15 s, held for the pending logins' 10 minutes.
/// Figures only.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: cargo xtask bench bff login-flood"]
async fn bench_login_flood() {
    if !provider_installed() {
        panic!("node_modules/oidc-provider is missing: run `cargo xtask setup`");
    }
    const DEPTH: u64 = 64;
    let n = setting("BENCH_BFF_LOGINS", 432_000);
    let connections = setting("BENCH_BFF_CONNECTIONS", 32);
    let pace = setting("BENCH_BFF_LOGIN_SECONDS", 15);
    let port = free_port();
    let op = Op::start(&format!("http://127.0.0.1:{port}"));
    let bff = BffProcess::start(port, &op.issuer, &[("BFF_LOG", "warn")]);
    let pid = bff.child.id().to_string();
    let before = resident_kib(&pid).unwrap_or(0);
    let (server_cpu, client_cpu) = (cpu_seconds(&pid), cpu_seconds("self"));
    let started = tokio::time::Instant::now();
    // Each connection sends its k-th batch at `started + k * every` (at once when behind).
    let batches = n.div_ceil(DEPTH * connections).max(1);
    let every = Duration::from_secs(pace) / batches as u32;
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let count = n / connections + u64::from(c < n % connections);
            let path = "/api/auth/login?returnTo=/";
            tokio::spawn(pipelined_gets(port, path, count, DEPTH, started, every))
        })
        .collect();
    let mut statuses = BTreeMap::new();
    for t in tasks {
        for (status, count) in t.await.unwrap() {
            *statuses.entry(status).or_insert(0) += count;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (server_cpu, client_cpu) = (
        cpu_seconds(&pid) - server_cpu,
        cpu_seconds("self") - client_cpu,
    );
    let after = resident_kib(&pid).unwrap_or(0);
    let peak = proc_status_kib(&pid, "VmHWM:").unwrap_or(0);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let build = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    println!(
        "\nbench bff login-flood: {n} GET /login from one address on {connections} connections, \
         paced to {pace} s (0: unpaced), {build} build of the binary: {seconds:.1} s ({:.0} per \
         second); answers {statuses:?}; \
         resident {:.1} MiB before -> {:.1} MiB after (peak {:.1} MiB); CPU time: the binary \
         {server_cpu:.1} s ({:.1} us per request), this client {client_cpu:.1} s, on {} cores \
         shared with whatever else runs",
        n as f64 / seconds,
        mib(before),
        mib(after),
        mib(peak),
        server_cpu * 1e6 / n as f64,
        std::thread::available_parallelism().map_or(0, |p| p.get()),
    );
}

/// User + system CPU time of process `pid` (`"self"`: this one) so far, in seconds
/// (`/proc/{pid}/stat`, in clock ticks of 1/100 s, Linux's `USER_HZ`).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // After the command name (in parentheses, which may hold spaces): the state is the first
    // field, utime the 12th and stime the 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// `count` × `GET {path}` on one keep-alive connection to 127.0.0.1:`port`, in batches of
/// `depth` sent before their answers are read (HTTP/1.1 pipelining), batch k not before
/// `start + k * every`; how many answered each status.
async fn pipelined_gets(
    port: u16,
    path: &str,
    count: u64,
    depth: u64,
    start: tokio::time::Instant,
    every: Duration,
) -> BTreeMap<u16, u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n");
    let mut counts = BTreeMap::new();
    let mut buf = Vec::with_capacity(1 << 16);
    let (mut sent, mut answered) = (0, 0);
    for k in 0.. {
        if answered == count {
            break;
        }
        tokio::time::sleep_until(start + every * k).await;
        let batch = depth.min(count - sent);
        stream
            .write_all(request.repeat(batch as usize).as_bytes())
            .await
            .unwrap();
        sent += batch;
        while answered < sent {
            match parse_response(&buf) {
                Some((status, len)) => {
                    buf.drain(..len);
                    *counts.entry(status).or_insert(0) += 1;
                    answered += 1;
                }
                None => {
                    let mut chunk = [0u8; 1 << 14];
                    let read = stream.read(&mut chunk).await.unwrap();
                    assert!(read > 0, "the binary closed the connection");
                    buf.extend_from_slice(&chunk[..read]);
                }
            }
        }
    }
    counts
}

/// The status and length of the complete response at the start of `buf` (its body sized by
/// `content-length`), or `None` until it has all arrived.
fn parse_response(buf: &[u8]) -> Option<(u16, usize)> {
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..head_end]).expect("an HTTP/1.1 head");
    let status = head
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    (buf.len() >= head_end + body).then_some((status, head_end + body))
}
