//! `cargo xtask`: setup, build, test, demo and size benchmark for oidc-session.
//!
//! One module per command; `util` holds the process helpers they share.
//! Std only, so that `cargo xtask` builds in seconds on a fresh machine.

mod bench;
mod bench_peers;
mod build;
mod consumer;
mod demo;
mod leptos_app;
mod minify;
mod setup;
mod startup;
mod test;
mod util;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  setup               install what the build needs (wasm target, wasm-bindgen CLI,
                      Chromium + chromedriver, node_modules, redis-server and haproxy for the
                      backend tests); fast when present
  build               build the npm package into pkg/ (cargo, wasm-bindgen, wasm-opt)
  build leptos-app    build the Leptos example (examples/leptos-app) into target/leptos-app/
  test [STAGE]        run native, browser, build and e2e stages, or one STAGE:
                      native | browser | build | e2e
  demo                run the local OpenID Provider and the demo page until Ctrl-C, in
                      browser mode (:8080) and server mode (bff/, :8090), and the
                      Leptos example beside it (:8081 and :8091)
  sim [--seeds N]     the deterministic simulations (src/simulation/), N
                      scenarios (default 1,000,000) in release; prints scenarios per second
                      and every invariant's counts; a failure prints its seed and trace
  bench size          build, then print the package's sizes beside the npm peers' (each
                      bundled by esbuild from bench/peers/), and the biggest functions
  bench refresh       build, then race 4 tabs x 25 getAccessToken() calls at each token
                      expiry, for oidc-session (with and without the token vault) and
                      oidc-client-ts (BENCH_CYCLES, default 10),
                      then a reload storm with 1 and 3 tabs (BENCH_STORM_RELOADS, default
                      100; BENCH_PARTS=race or storm for one of the two)
  bench bff           the backend-for-frontend through HAProxy (release): /me and coalesced
                      /refresh throughput and p50/p99, 1 instance on memory, 1 and 3 on
                      Redis, and refresh_token grants per expiry under 4 tabs x 25 fetches
  bench bff login-flood
                      432,000 GET /login from one address in 15 s against the release
                      binary (BENCH_BFF_LOGINS, BENCH_BFF_LOGIN_SECONDS): its resident
                      memory before, after and at the peak";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    if let Err(e) = prepare_env() {
        eprintln!("xtask: error: {e}");
        return ExitCode::FAILURE;
    }
    let result = match args.as_slice() {
        ["setup"] => setup::all(),
        ["build"] => build::run(),
        ["build", "leptos-app"] => leptos_app::run(),
        ["test", stage @ ..] => test::run(stage),
        ["demo"] => demo::run(),
        ["sim"] => sim(None),
        ["sim", "--seeds", n] => sim(Some(n)),
        ["bench", "size"] => bench::size(),
        ["bench", "refresh"] => bench::refresh(),
        ["bench", "bff"] => bench::bff(),
        ["bench", "bff", "login-flood"] => bench::bff_login_flood(),
        ["bench", "startup"] => startup::startup(),
        ["bench", "token"] => startup::token(),
        [] | ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("xtask: unknown command `{}`\n\n{USAGE}", args.join(" "));
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The repository root (the parent of `xtask/`).
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in a subdirectory of the repository")
}

/// Where `cargo install` puts binaries: `$CARGO_HOME/bin`, default `~/.cargo/bin`.
pub fn cargo_bin_dir() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    Some(home.join("bin"))
}

/// Runs everything from the repository root, with freshly `cargo install`ed tools on PATH.
fn prepare_env() -> util::Result {
    std::env::set_current_dir(root())
        .map_err(|e| format!("cannot enter {}: {e}", root().display()))?;
    if let Some(bin) = cargo_bin_dir() {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
        if !dirs.contains(&bin) {
            dirs.insert(0, bin);
            let joined = std::env::join_paths(dirs).map_err(|e| format!("bad PATH: {e}"))?;
            // Single-threaded at this point, so changing the environment is sound.
            std::env::set_var("PATH", joined);
        }
    }
    Ok(())
}

/// `cargo xtask sim [--seeds N]`: a long soak of the two simulations that `cargo test` runs
/// with 10,000 and 1,000 seeds: N scenarios of the refresh-race model, and N / 20 of the real
/// clients over the simulated origin (each of those runs the whole client, about 60 times
/// the work).
fn sim(seeds: Option<&str>) -> util::Result {
    let n = seeds.unwrap_or("1000000");
    let Ok(count) = n.parse::<u64>() else {
        return Err(format!("--seeds takes a number, not `{n}`"));
    };
    util::run(
        util::cargo()
            .args(["test", "-p", "oidc-session", "--release", "--lib"])
            .args(["simulation::", "--", "--nocapture", "--test-threads=1"])
            .env("SIM_SEEDS", n)
            .env("SIM_CLIENT_SEEDS", (count / 20).max(1).to_string()),
    )
}
