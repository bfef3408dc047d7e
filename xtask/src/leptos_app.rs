//! `cargo xtask build leptos-app`: the Leptos example (examples/leptos-app) as a static site in
//! `target/leptos-app/`, which `cargo xtask demo` and the e2e tests serve in both modes.
//!
//! The same tools as the npm package, nothing else (no trunk): cargo (release, wasm32) ->
//! wasm-bindgen `--target web` -> wasm-opt `-Oz` (npm binaryen) -> the example's `static/`
//! files (index.html, boot.js, app.css, logo.svg). No `config.js`: the server generates it
//! (www/serve.mjs for browser mode, bff/ for server mode), and that is what picks the
//! mode at runtime.

use crate::util::{self, Result};
use crate::{build, setup};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const PACKAGE: &str = "oidc-session-leptos-app";
/// The file names of the wasm-bindgen output (`{NAME}.js`, `{NAME}_bg.wasm`), as boot.js
/// imports them.
const NAME: &str = "oidc_session_leptos_app";
const EXAMPLE_DIR: &str = "examples/leptos-app";

/// The release profile, tuned for size for this build only (Leptos' own advice for a CSR
/// app); the root Cargo.toml's profiles belong to the library and the npm bundle.
const PROFILE_ENV: &[(&str, &str)] = &[
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z"),
    ("CARGO_PROFILE_RELEASE_LTO", "true"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
    ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
];

/// Where the site goes: `target/leptos-app/`.
pub fn dist() -> PathBuf {
    util::target_dir().join("leptos-app")
}

/// The wasm after wasm-opt and its JS glue, for the size report.
pub fn files(dist: &Path) -> [PathBuf; 2] {
    [
        dist.join(format!("{NAME}_bg.wasm")),
        dist.join(format!("{NAME}.js")),
    ]
}

/// `cargo xtask build leptos-app`.
pub fn run() -> Result {
    setup::toolchain()?;
    build().map(drop)
}

/// Builds the site, assuming the tools are installed (see `setup::toolchain`); returns its
/// directory.
pub fn build() -> Result<PathBuf> {
    println!(
        "build: {PACKAGE} ({EXAMPLE_DIR}, release, {})",
        setup::WASM_TARGET
    );
    let mut cargo = util::cargo();
    cargo.args([
        "build",
        "--release",
        "--package",
        PACKAGE,
        "--target",
        setup::WASM_TARGET,
    ]);
    for (k, v) in PROFILE_ENV {
        cargo.env(k, v);
    }
    util::run(&mut cargo)?;
    let wasm = util::target_dir()
        .join(setup::WASM_TARGET)
        .join("release")
        .join(format!("{PACKAGE}.wasm"));

    let dist = dist();
    if dist.exists() {
        fs::remove_dir_all(&dist).map_err(|e| format!("removing stale {}: {e}", dist.display()))?;
    }
    println!("build: wasm-bindgen --target web ({PACKAGE})");
    util::run(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--no-typescript", "--out-name", NAME])
            .arg("--out-dir")
            .arg(&dist)
            .arg(&wasm),
    )?;

    let [bg, glue] = files(&dist);
    let unoptimized = fs::metadata(&bg).map(|m| m.len()).unwrap_or(0);
    println!("build: wasm-opt -Oz ({PACKAGE})");
    let tmp = bg.with_extension("opt.wasm");
    util::run(
        Command::new(setup::wasm_opt()?)
            .arg("-Oz")
            .args(build::WASM_FEATURES)
            .args(["--strip-producers", "--strip-target-features"])
            .arg(&bg)
            .arg("-o")
            .arg(&tmp),
    )?;
    fs::rename(&tmp, &bg)
        .map_err(|e| format!("moving {} to {}: {e}", tmp.display(), bg.display()))?;

    let statics = crate::root().join(EXAMPLE_DIR).join("static");
    for entry in
        fs::read_dir(&statics).map_err(|e| format!("listing {}: {e}", statics.display()))?
    {
        let from = entry.map_err(|e| e.to_string())?.path();
        if from.is_file() {
            let to = dist.join(from.file_name().expect("a file has a name"));
            fs::copy(&from, &to).map_err(|e| format!("copying {}: {e}", from.display()))?;
        }
    }

    let wasm_gzip = crate::bench::gzip_size(&bg)?;
    let wasm_raw = fs::metadata(&bg).map(|m| m.len()).unwrap_or(0);
    let glue_raw = fs::metadata(&glue).map(|m| m.len()).unwrap_or(0);
    let glue_gzip = crate::bench::gzip_size(&glue)?;
    println!(
        "build: {} ready: {NAME}_bg.wasm {wasm_raw} B ({wasm_gzip} B gzip -9; {unoptimized} B before wasm-opt), \
         {NAME}.js {glue_raw} B ({glue_gzip} B gzip -9)",
        shown(&dist)
    );
    Ok(dist)
}

/// A path inside the repository, relative to it.
fn shown(p: &Path) -> String {
    p.strip_prefix(crate::root())
        .unwrap_or(p)
        .display()
        .to_string()
}
