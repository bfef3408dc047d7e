//! `cargo xtask setup`: installs what the build and the tests need, idempotently.
//!
//! Each check is cheap when the tool is already there, so the other commands call
//! these functions first.

use crate::util::{self, run, stdout_of, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The npm `binaryen` package's wasm-opt. Debian's `binaryen` (108) writes broken
/// output for wasm-bindgen 0.2.130, so a wasm-opt found on PATH is never used.
pub const WASM_OPT: &str = "node_modules/.bin/wasm-opt";
const NPM_STAMP: &str = "node_modules/.xtask-stamp";

/// Everything: `cargo xtask setup`.
pub fn all() -> Result {
    toolchain()?;
    chromium()?;
    firefox()?;
    services()
}

/// Debian's Firefox ESR, for the browser layer's second engine (wasm-bindgen-test drives it
/// through geckodriver).
pub const FIREFOX: &str = "/usr/bin/firefox-esr";
/// geckodriver, installed with `cargo install` (Debian has no package for it).
pub const GECKODRIVER: &str = "geckodriver";
const GECKODRIVER_VERSION: &str = "0.37.1";

/// Firefox ESR (apt) and geckodriver (`cargo install`, ~3 min the first time).
pub fn firefox() -> Result {
    if !Path::new(FIREFOX).exists() {
        println!("setup: installing firefox-esr with apt-get (~1 min)");
        apt_install(&["firefox-esr"])?;
        if !Path::new(FIREFOX).exists() {
            return Err(format!("apt-get installed firefox-esr but {FIREFOX} is still missing"));
        }
    }
    if geckodriver().is_none() {
        println!("setup: installing geckodriver {GECKODRIVER_VERSION} (found none; takes ~3 min)");
        cargo_install(GECKODRIVER, Some(GECKODRIVER_VERSION))?;
        if geckodriver().is_none() {
            return Err("cargo installed geckodriver but it is not on PATH".into());
        }
    }
    println!("setup: firefox-esr + geckodriver ok");
    Ok(())
}

/// The geckodriver to use: on PATH, or where `cargo install` puts it.
pub fn geckodriver() -> Option<PathBuf> {
    on_path(GECKODRIVER).or_else(|| {
        let home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        let p = home.join("bin").join(GECKODRIVER);
        p.is_file().then_some(p)
    })
}

/// `redis-server` (Debian's, 7.0): the backend-for-frontend's Redis-store tests start their own
/// on a loopback port (bff/tests/redis.rs), so it is installed, never started here.
pub const REDIS_SERVER: &str = "redis-server";

/// HAProxy (Debian's, 2.6): the cluster test (bff/tests/cluster.rs) puts three backend instances
/// behind one, round robin.
pub const HAPROXY: &str = "haproxy";

/// The services the backend tests start themselves: `redis-server` and `haproxy`, installed with
/// apt-get when missing (Debian puts haproxy in /usr/sbin).
pub fn services() -> Result {
    let missing: Vec<&str> = [REDIS_SERVER, HAPROXY]
        .into_iter()
        .filter(|tool| find_tool(tool).is_none())
        .collect();
    if !missing.is_empty() {
        println!(
            "setup: installing {} with apt-get (~20 s)",
            missing.join(" and ")
        );
        apt_install(&missing)?;
        if let Some(tool) = missing.iter().find(|t| find_tool(t).is_none()) {
            return Err(format!("apt-get installed {tool} but it is still missing"));
        }
    }
    println!("setup: redis-server + haproxy ok");
    Ok(())
}

/// `name` on PATH or in /usr/sbin (not on every user's PATH).
pub fn find_tool(name: &str) -> Option<PathBuf> {
    on_path(name).or_else(|| {
        let sbin = Path::new("/usr/sbin").join(name);
        sbin.is_file().then_some(sbin)
    })
}

/// `apt-get update` then `apt-get install -y PACKAGES` (through sudo when not root).
fn apt_install(packages: &[&str]) -> Result {
    let root = stdout_of(Command::new("id").arg("-u")).as_deref() == Some("0");
    let apt = |args: &[&str]| {
        let mut cmd = Command::new(if root { "apt-get" } else { "sudo" });
        if !root {
            cmd.arg("apt-get");
        }
        run(cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive"))
    };
    apt(&["update"])?;
    let mut install = vec!["install", "-y"];
    install.extend_from_slice(packages);
    apt(&install)
}

/// What `build` needs: the wasm target, wasm-bindgen and node_modules (for wasm-opt and
/// terser). The standard library's source (for the size build) is wanted but not required.
pub fn toolchain() -> Result {
    wasm_target()?;
    if let Err(e) = rust_src() {
        println!("setup: note: {e}; the bundle will be built with the prebuilt standard library");
    }
    wasm_bindgen()?;
    node_modules()
}

/// The toolchain's sysroot (`rustc --print sysroot`).
pub fn sysroot() -> Option<PathBuf> {
    stdout_of(Command::new("rustc").args(["--print", "sysroot"])).map(|s| PathBuf::from(s.trim()))
}

/// True when the standard library's source is installed (what `-Z build-std` compiles).
pub fn has_rust_src() -> bool {
    sysroot().is_some_and(|s| s.join("lib/rustlib/src/rust/library/Cargo.lock").is_file())
}

/// `rustup component add rust-src` (~3 MB) when missing: the size build recompiles the
/// standard library for the bundle (see build.rs).
pub fn rust_src() -> Result {
    if !has_rust_src() {
        println!("setup: adding the rust-src component (for the size build of the bundle)");
        run(Command::new("rustup").args(["component", "add", "rust-src"]))?;
        if !has_rust_src() {
            return Err("rust-src is still missing after `rustup component add rust-src`".into());
        }
    }
    println!("setup: rust-src ok");
    Ok(())
}

pub fn wasm_target() -> Result {
    let installed = stdout_of(Command::new("rustup").args(["target", "list", "--installed"]))
        .ok_or("`rustup target list --installed` failed: is rustup installed?")?;
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        println!("setup: adding the {WASM_TARGET} target");
        run(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    println!("setup: {WASM_TARGET} ok");
    Ok(())
}

/// The wasm-bindgen CLI (and its test runner) must be exactly the version in Cargo.lock.
pub fn wasm_bindgen() -> Result {
    let want = lock_version("wasm-bindgen")?;
    let found = |tool: &str| -> Option<String> {
        let out = stdout_of(Command::new(tool).arg("--version"))?;
        out.split_whitespace().nth(1).map(str::to_string)
    };
    let have = found("wasm-bindgen");
    let runner = found("wasm-bindgen-test-runner");
    if have.as_deref() != Some(&*want) || runner.as_deref() != Some(&*want) {
        println!(
            "setup: installing wasm-bindgen-cli {want} (found {}; takes ~4 min)",
            have.as_deref().unwrap_or("none")
        );
        cargo_install("wasm-bindgen-cli", Some(&want))?;
        let now = found("wasm-bindgen");
        if now.as_deref() != Some(&*want) {
            return Err(format!(
                "installed wasm-bindgen-cli {want} but `wasm-bindgen --version` says {}: \
                 is another wasm-bindgen earlier on PATH?",
                now.as_deref().unwrap_or("nothing")
            ));
        }
    }
    println!("setup: wasm-bindgen {want} ok");
    Ok(())
}

/// `cargo install`, first `--locked` and, if that fails, without it
/// (some crates' lock files no longer resolve against the registry).
pub fn cargo_install(krate: &str, version: Option<&str>) -> Result {
    let install = |locked: bool| {
        let mut cmd = util::cargo();
        cmd.args(["install", krate]);
        if let Some(v) = version {
            cmd.args(["--version", v]);
        }
        if locked {
            cmd.arg("--locked");
        }
        run(&mut cmd)
    };
    install(true).or_else(|e| {
        println!("setup: {e}; retrying without --locked");
        install(false)
    })
}

/// The version of `name` in Cargo.lock (which is created if missing).
pub fn lock_version(name: &str) -> Result<String> {
    let lock = crate::root().join("Cargo.lock");
    if !lock.exists() {
        run(util::cargo()
            .args(["metadata", "--format-version", "1", "--quiet"])
            .stdout(std::process::Stdio::null()))?;
    }
    let text = fs::read_to_string(&lock).map_err(|e| format!("reading {}: {e}", lock.display()))?;
    let versions = lock_versions(&text, name);
    match versions.as_slice() {
        [v] => Ok(v.clone()),
        [] => Err(format!(
            "Cargo.lock has no `{name}` package: is it a dependency?"
        )),
        many => Err(format!(
            "Cargo.lock has several `{name}` versions ({}): pin one with `=` in Cargo.toml",
            many.join(", ")
        )),
    }
}

/// Every version of package `name` in the text of a Cargo.lock.
fn lock_versions(lock: &str, name: &str) -> Vec<String> {
    let mut versions = Vec::new();
    for package in lock.split("[[package]]").skip(1) {
        let field = |key: &str| {
            package.lines().find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == key).then(|| v.trim().trim_matches('"').to_string())
            })
        };
        if field("name").as_deref() == Some(name) {
            versions.extend(field("version"));
        }
    }
    versions
}

/// Chromium and chromedriver from Debian, for wasm-bindgen-test and Playwright.
pub fn chromium() -> Result {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!("setup: installing chromium and chromium-driver with apt-get (~1 min)");
        apt_install(&["chromium", "chromium-driver"])?;
        for path in [CHROMIUM, CHROMEDRIVER] {
            if !Path::new(path).exists() {
                return Err(format!(
                    "apt-get installed chromium but {path} is still missing"
                ));
            }
        }
    }
    println!("setup: chromium + chromedriver ok");
    Ok(())
}

/// `npm ci` when node_modules is missing or older than package.json / package-lock.json.
pub fn node_modules() -> Result {
    let root = crate::root();
    if !root.join("package.json").exists() {
        return Err(format!(
            "no package.json in {}: it declares the Node side (oidc-provider, @playwright/test, binaryen)",
            root.display()
        ));
    }
    if util::npm_install_stale(root, NPM_STAMP) {
        let has_lock = root.join("package-lock.json").exists();
        let verb = if has_lock { "ci" } else { "install" };
        println!("setup: npm {verb}");
        run(Command::new("npm")
            .args([verb, "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1"))?;
        if !has_lock {
            println!("setup: note: npm created package-lock.json; commit it so `npm ci` is used");
        }
        fs::write(
            root.join(NPM_STAMP),
            "written by `cargo xtask setup` after npm succeeded\n",
        )
        .map_err(|e| format!("writing {NPM_STAMP}: {e}"))?;
    }
    println!("setup: node_modules ok");
    let wasm_opt = wasm_opt()?;
    // "wasm-opt version 132 (version_132)"
    let version = stdout_of(Command::new(&wasm_opt).arg("--version"))
        .and_then(|v| v.split_whitespace().nth(2).map(str::to_string))
        .ok_or_else(|| format!("`{WASM_OPT} --version` failed: try `rm -rf node_modules`"))?;
    println!("setup: wasm-opt {version} ok ({WASM_OPT})");
    if let Some(other) = on_path("wasm-opt").filter(|p| !p.starts_with(root)) {
        println!(
            "setup: note: ignoring {} (only the npm binaryen is used)",
            other.display()
        );
    }
    Ok(())
}

/// The npm binaryen's wasm-opt, checked to exist.
pub fn wasm_opt() -> Result<PathBuf> {
    let path = crate::root().join(WASM_OPT);
    if !path.exists() {
        return Err(format!(
            "{WASM_OPT} is missing: add `\"binaryen\": \"132.0.0\"` to package.json devDependencies \
             (Debian's binaryen is broken for wasm-bindgen output and is never used)"
        ));
    }
    Ok(path)
}

/// The first `name` on PATH, like `which`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_versions_in_cargo_lock() {
        let lock = "version = 4\n\n[[package]]\nname = \"wasm-bindgen\"\nversion = \"0.2.130\"\n\
                    source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n\
                    [[package]]\nname = \"wasm-bindgen-futures\"\nversion = \"0.4.80\"\n";
        assert_eq!(super::lock_versions(lock, "wasm-bindgen"), ["0.2.130"]);
        assert!(super::lock_versions(lock, "serde").is_empty());
    }
}
