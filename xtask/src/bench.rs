//! `cargo xtask bench size`: what the npm package costs a web page, beside its npm peers
//! (bench_peers.rs).
//! `cargo xtask bench refresh`: the multi-tab refresh race, oidc-session against oidc-client-ts.
//! `cargo xtask bench bff`: the backend-for-frontend through HAProxy, memory and Redis stores.

use crate::build;
use crate::setup;
use crate::util::{run, stdout_of, Result};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};

/// Budget for the wasm and the JS glue together, gzip -9.
const BUDGET_GZIP: u64 = 72_000;

pub fn size() -> Result {
    build::run()?;

    let (raw_total, gzip_total) = bundle_table(build::Bundle::Full)?;
    let verdict = if gzip_total < BUDGET_GZIP {
        "pass"
    } else {
        "OVER"
    };
    println!("budget: total gzip < {BUDGET_GZIP} B: {verdict} ({gzip_total} B)");

    // `oidc-session/server`: shipped because it is at least 30 % smaller than the full bundle.
    let (_, server_gzip) = bundle_table(build::Bundle::Server)?;
    println!(
        "server-mode-only entry: {server_gzip} B gzip, {:.1} % smaller than the full bundle",
        100.0 * (1.0 - server_gzip as f64 / gzip_total as f64)
    );

    // The token vault's worker: its own bundle, loaded only by the service worker.
    let (_, worker_gzip) = bundle_table(build::Bundle::Worker)?;
    println!("token vault worker (pkg/worker/, not loaded by pages): {worker_gzip} B gzip");

    // The npm peers, bundled by esbuild the way an app ships them, beside the totals above.
    crate::bench_peers::compare(raw_total, gzip_total)?;

    // The Leptos example: what an app on the components ships (the library, Leptos,
    // leptos_router and the app). No budget: it is reported, not held to a number.
    let dist = crate::leptos_app::build()?;
    println!("\nbench size: the Leptos example (examples/leptos-app, no budget)");
    println!("  {:<40} {:>10} {:>12}", "file", "raw B", "gzip -9 B");
    for path in crate::leptos_app::files(&dist) {
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        println!("  {file:<40} {raw:>10} {:>12}", gzip_size(&path)?);
    }

    println!("\nbench size: top 10 contributors (twiggy, wasm-bindgen output before wasm-opt)");
    match twiggy() {
        Ok(()) => {}
        Err(e) => println!("bench size: twiggy unavailable, skipping the breakdown: {e}"),
    }
    Ok(())
}

/// Builds pkg/, then `node bench/refresh.mjs`: 4 tabs x 25 concurrent `getAccessToken()` right after
/// expiry, per expiry cycle, for oidc-session and for oidc-client-ts against one local provider with
/// 4-second access tokens (the script starts the provider and the static server on free ports).
/// Then, in the same run, the reload storm of bench/reload-storm.mjs: reloads of a random tab at random
/// moments (1 and 3 tabs), counting refresh-token reuse (invalid_grant) and forced sign-outs.
/// Environment: see the headers of bench/refresh.mjs (`BENCH_CYCLES`, default 10; `BENCH_PARTS`,
/// default `race,storm`) and bench/reload-storm.mjs (`BENCH_STORM_RELOADS`, default 100).
pub fn refresh() -> Result {
    // Chromium and node_modules (oidc-client-ts, @playwright/test) besides the build's toolchain.
    setup::all()?;
    build::build()?;
    println!();
    run(Command::new("node")
        .arg("bench/refresh.mjs")
        .env("CHROMIUM_PATH", setup::CHROMIUM))
}

/// `bff/tests/bench.rs` (an ignored test, release build): `/me` and coalesced `/refresh`
/// throughput and p50/p99 latency through HAProxy for one instance on the memory store and one
/// and three on Redis, side by side, and refresh_token grants per expiry under 4 tabs x 25
/// fetches. Environment: `BENCH_BFF_SECONDS`, `BENCH_BFF_WORKERS`, `BENCH_BFF_SESSIONS`.
pub fn bff() -> Result {
    bff_bench_test("bench_bff")
}

/// `bench_login_flood` in `bff/tests/bench.rs` (release): 432,000 `GET /login` from one address
/// in 15 s (the pace) against the binary on its defaults, its resident memory before,
/// after and at its peak. Environment: `BENCH_BFF_LOGINS`, `BENCH_BFF_LOGIN_SECONDS` (0:
/// unpaced), `BENCH_BFF_CONNECTIONS`.
pub fn bff_login_flood() -> Result {
    bff_bench_test("bench_login_flood")
}

/// One ignored test of `bff/tests/bench.rs`, in release.
fn bff_bench_test(name: &str) -> Result {
    // The provider's node_modules, redis-server and haproxy.
    setup::node_modules()?;
    setup::services()?;
    run(crate::util::cargo().args([
        "test",
        "--release",
        "-p",
        build::BFF_PACKAGE,
        "--test",
        "bench",
        "--",
        "--ignored",
        "--exact",
        name,
        "--nocapture",
    ]))
}

/// Bytes of `gzip -9 -c path`.
/// Prints one bundle's files (raw and gzip -9) and returns its totals.
fn bundle_table(bundle: build::Bundle) -> Result<(u64, u64)> {
    let dir = crate::root().join(bundle.dir());
    println!("\nbench size: {}/", bundle.dir().display());
    println!("  {:<40} {:>10} {:>12}", "file", "raw B", "gzip -9 B");
    let (mut raw_total, mut gzip_total) = (0, 0);
    for path in build::bundle_files(&dir)? {
        let file = path
            .strip_prefix(&dir)
            .unwrap_or(&path)
            .display()
            .to_string();
        // pkg/snippets/<crate>-<hash>/src/browser/idb.js -> snippets/…/idb.js
        let file = match file.strip_prefix("snippets/") {
            Some(rest) => format!("snippets/…/{}", rest.rsplit('/').next().unwrap_or(rest)),
            None => file,
        };
        let raw = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        let gzip = gzip_size(&path)?;
        println!("  {file:<40} {raw:>10} {gzip:>12}");
        raw_total += raw;
        gzip_total += gzip;
    }
    println!("  {:<40} {raw_total:>10} {gzip_total:>12}", "total");
    Ok((raw_total, gzip_total))
}

pub fn gzip_size(path: &Path) -> Result<u64> {
    let mut child = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(path)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start gzip: {e}"))?;
    let mut bytes = 0u64;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut buf = [0u8; 65536];
    loop {
        match stdout.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => bytes += n as u64,
            Err(e) => return Err(format!("reading gzip output: {e}")),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("gzip -9 -c {} failed ({status})", path.display()));
    }
    Ok(bytes)
}

fn twiggy() -> Result {
    if stdout_of(Command::new("twiggy").arg("--version")).is_none() {
        println!("bench size: installing twiggy (~2 min, once)");
        setup::cargo_install("twiggy", None)?;
    }
    run(Command::new("twiggy")
        .args(["top", "-n", "10"])
        .arg(build::unoptimized_wasm()))?;
    println!(
        "(the \"function names\" subsection is debug data that wasm-opt drops: it is not in pkg/)"
    );
    Ok(())
}
