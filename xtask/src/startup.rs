//! `cargo xtask bench startup`: a reload with a stored, valid session until the page knows the
//! session, oidc-session against oidc-client-ts in headless Chromium, with the breakdown of our
//! time; then the `getAccessToken()` microbenchmark.
//! `cargo xtask bench token`: the `getAccessToken()` microbenchmark alone.
//!
//! Both run `node bench/startup.mjs` (it starts the local provider and the static server on free
//! ports; its header describes what it measures and the `BENCH_*` variables). Figures only: no
//! timed assertion.

use crate::build::{self, NAME, PKG};
use crate::setup;
use crate::util::{modified, run, Result};
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

/// What the package is built from: pkg/ is rebuilt when one of these is newer than its `.wasm`.
const SOURCES: &[&str] = &["src", "npm", "xtask/src/build.rs", "xtask/src/minify.rs"];

pub fn startup() -> Result {
    bench("startup,token")
}

pub fn token() -> Result {
    bench("token")
}

fn bench(parts: &str) -> Result {
    // Chromium and node_modules (oidc-client-ts, @playwright/test) besides the build's toolchain.
    setup::all()?;
    match stale_reason() {
        Some(why) => {
            println!("bench: building {PKG}/ ({why})");
            build::build()?;
        }
        None => println!(
            "bench: {PKG}/ is newer than {}: not rebuilt (BENCH_REBUILD=1 rebuilds)",
            SOURCES.join(", ")
        ),
    }
    println!();
    run(Command::new("node")
        .arg("bench/startup.mjs")
        .env("CHROMIUM_PATH", setup::CHROMIUM)
        .env("BENCH_PARTS", parts))
}

/// Why pkg/ must be rebuilt before measuring it, or `None` when it is current. Rebuilding only
/// when needed leaves pkg/ in place for whoever else is serving it meanwhile.
fn stale_reason() -> Option<String> {
    if std::env::var_os("BENCH_REBUILD").is_some_and(|v| v == "1") {
        return Some("BENCH_REBUILD=1".into());
    }
    let root = crate::root();
    let wasm = root.join(PKG).join(format!("{NAME}_bg.wasm"));
    let Some(built) = modified(&wasm) else {
        return Some(format!("no {PKG}/{NAME}_bg.wasm"));
    };
    SOURCES.iter().find_map(|s| {
        let newest = newest(&root.join(s))?;
        (newest > built).then(|| format!("{s} changed since it was built"))
    })
}

/// The latest modification time of a file, or of any file under a directory.
fn newest(path: &Path) -> Option<SystemTime> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return meta.modified().ok();
    }
    std::fs::read_dir(path)
        .ok()?
        .filter_map(|entry| newest(&entry.ok()?.path()))
        .max()
}
