//! `cargo xtask build`: the npm package in `pkg/`.
//!
//! cargo (release, wasm32, feature `js`) -> wasm-bindgen `--target web` -> wasm-opt (-Oz, twice --flatten --rereloop)
//! (npm binaryen) -> terser (the JS glue) -> `pkg/package.json` + README.

use crate::setup;
use crate::util::{self, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The token vault's service-worker script, shipped as it is in `pkg/`.
pub const VAULT_WORKER: &str = "oidc-session-sw.js";
pub const PKG: &str = "pkg";
/// The package's file names (`oidc_session.js`, `oidc_session_bg.wasm`).
pub const NAME: &str = "oidc_session";
/// The facade crate the bundle is built from (`npm/`), and its library's file name.
pub const FACADE_PACKAGE: &str = "oidc-session-npm";
const FACADE_LIB: &str = "oidc_session_npm";
/// The cargo profile of the bundle (root Cargo.toml `[profile.bundle]`).
const PROFILE: &str = "bundle";

/// The JS minifier, from the committed package.json (npm `terser`).
pub const TERSER: &str = "node_modules/.bin/terser";

/// rustc's default wasm32 features (Rust 1.95 / LLVM 21), spelled for binaryen 132.
/// wasm-opt also reads them from the module's `target_features` section, but
/// without that section it rejects the module (`memory.copy ... requires bulk memory`),
/// so they are passed explicitly.
pub const WASM_FEATURES: &[&str] = &[
    "--enable-bulk-memory",
    "--enable-bulk-memory-opt",
    "--enable-call-indirect-overlong",
    "--enable-mutable-globals",
    "--enable-multivalue",
    "--enable-nontrapping-float-to-int",
    "--enable-reference-types",
    "--enable-sign-ext",
];

/// wasm-opt's passes. After `-Oz`, rebuilding the control flow of every function from scratch
/// (`--flatten --rereloop`) and optimising again finds smaller shapes for the state machines
/// that `async fn`s compile to; a second round still pays, a third no longer does (56,686 ->
/// 56,321 B gzip for the wasm, measured; about 20 s more build time). One more `-Oz` in the
/// converging list paid at both code states it was measured at (wasm 48,733 -> 48,710 and
/// 46,017 -> 45,929). The neighbours are a lottery within ~100 B that changes with the code:
/// no first `-Oz` won at one state (-145) and lost at the next (+118); `-O3` as the middle
/// round's optimiser -40 at both, `-O2`/`-O4` +20/+84; three rounds +26.
const OPT_PASSES: &[&str] = &[
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Oz",
    "--flatten",
    "--rereloop",
    "-Oz",
    "--converge",
    "-Oz",
];

pub fn run() -> Result {
    setup::toolchain()?;
    build()
}

/// The wasm-bindgen output before wasm-opt, kept for `bench size` (twiggy).
pub fn unoptimized_wasm() -> PathBuf {
    util::target_dir()
        .join("xtask")
        .join(format!("{NAME}_bg.unoptimized.wasm"))
}

/// Rust embeds source paths in panic locations; remap them so the published bundle names no
/// directory of the machine that built it (`$CARGO_HOME/registry/src/…`, the checkout).
fn remap_flags() -> String {
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_default();
    let flags = [
        format!("--remap-path-prefix={}=cargo", cargo_home.display()),
        format!(
            "--remap-path-prefix={}=oidc-session",
            crate::root().display()
        ),
    ];
    flags.join("\x1f")
}

/// The reference backend-for-frontend (bff/), which `cargo xtask demo` and the e2e tests
/// start for server mode.
pub const BFF_PACKAGE: &str = "oidc-session-bff";

/// `cargo build -p oidc-session-bff` (debug: it builds in seconds once the workspace is built);
/// returns the binary's path.
pub fn bff() -> Result<PathBuf> {
    println!("build: {BFF_PACKAGE} (bff/)");
    util::run(util::cargo().args(["build", "-p", BFF_PACKAGE]))?;
    let bin = util::target_dir().join("debug").join(BFF_PACKAGE);
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "`cargo build -p {BFF_PACKAGE}` made no {}",
            bin.display()
        ))
    }
}

/// Set to build the bundle with the prebuilt standard library (to compare sizes); the size
/// build is otherwise required, and its failure stops the build.
pub const PLAIN_STD_ENV: &str = "XTASK_PLAIN_STD";

/// cargo (profile `bundle`, wasm32, the facade crate `npm/`); returns the `.wasm`.
///
/// The size build: the standard library is recompiled for this bundle with
/// `optimize_for_size` and panics become a bare trap (`-C panic=immediate-abort`), which drops
/// the panic machinery, its messages and the char/string formatting it drags in (9.3 KB gzip,
/// docs/size.md); `-Z location-detail=none` and `-Z fmt-debug=none` drop source locations and
/// `Debug` output, which the bundle never shows (0.6 KB gzip). These are unstable flags of the
/// one toolchain `rust-toolchain.toml` pins, enabled with `RUSTC_BOOTSTRAP=1` for this build
/// only (its own target directory; the library, its tests and Rust apps stay on plain
/// stable). When the size build cannot run (no rust-src, a renamed flag), the build fails and
/// says why, rather than quietly shipping a bundle ~9 KB gzip larger; `XTASK_PLAIN_STD=1`
/// builds with the prebuilt std on purpose.
fn compile(bundle: Bundle) -> Result<PathBuf> {
    if std::env::var_os(PLAIN_STD_ENV).is_some() {
        println!(
            "build: cargo ({PROFILE}, {}, {FACADE_PACKAGE}{}, prebuilt std: {PLAIN_STD_ENV} is set)",
            setup::WASM_TARGET,
            bundle.label(),
        );
        util::run(&mut cargo_build(&remap_flags(), bundle))?;
        return Ok(wasm_in(&util::target_dir()));
    }
    if !setup::has_rust_src() {
        return Err(format!(
            "the size build needs the standard library's source: `rustup component add rust-src` \
             (`cargo xtask setup` installs it), or set {PLAIN_STD_ENV}=1 for a larger bundle"
        ));
    }
    println!(
        "build: cargo ({PROFILE}, {}, {FACADE_PACKAGE}{}, std rebuilt for size)",
        setup::WASM_TARGET,
        bundle.label(),
    );
    let dir = util::target_dir().join("bundle");
    let mut flags = remap_flags();
    if let Some(sysroot) = setup::sysroot() {
        flags.push_str(&format!(
            "\x1f--remap-path-prefix={}=rust",
            sysroot.display()
        ));
    }
    flags.push_str("\x1f-Zunstable-options\x1f-Cpanic=immediate-abort\x1f-Zlocation-detail=none\x1f-Zfmt-debug=none");
    // JS values as indices into the glue's heap array rather than an externref table:
    // smaller wasm for a little more glue (66,426 vs 67,253 B gzip in total, measured).
    flags.push_str("\x1f-Ctarget-feature=-reference-types");
    // Inlining tuned for size, measured with the wasm-opt passes below (wasm gzip):
    // - MIR inlining, which rustc turns off at opt-level z, on: small helpers and closures
    //   disappear before LLVM sees the async state machines (54,652 -> 53,156 B);
    // - its threshold 200 instead of 50 (150-250 all land at 52.6-52.8 KB; 300 and more
    //   inline too much: 54,033 at 300, 54,279 at 500);
    // - LLVM's inliner at threshold 12 instead of opt-level z's 5 (12-15 the same; 20:
    //   +0.9 KB).
    // Together 54,964 -> 52,825 B gzip.
    flags.push_str(
        "\x1f-Zinline-mir=yes\x1f-Zinline-mir-threshold=200\x1f-Cllvm-args=-inline-threshold=12",
    );
    // The stack stays first (the target's default, `--stack-first`): a stack overflow then
    // runs below address 0 and traps, instead of overwriting static data.
    let status = cargo_build(&flags, bundle)
        .args([
            "-Z",
            "build-std=std,panic_abort",
            "-Z",
            "build-std-features=optimize_for_size",
        ])
        .env("CARGO_TARGET_DIR", &dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .status()
        .map_err(|e| format!("could not start cargo for the size build: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the size build failed ({status}); set {PLAIN_STD_ENV}=1 to build with the prebuilt std"
        ));
    }
    Ok(wasm_in(&dir))
}

/// `cargo build` of the facade crate (profile `bundle`, wasm32) with `rustflags`
/// (`CARGO_ENCODED_RUSTFLAGS`: separated by 0x1f).
fn cargo_build(rustflags: &str, bundle: Bundle) -> Command {
    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--lib",
        "--package",
        FACADE_PACKAGE,
        "--profile",
        PROFILE,
        "--target",
        setup::WASM_TARGET,
    ])
    .env("CARGO_ENCODED_RUSTFLAGS", rustflags);
    match bundle {
        Bundle::Full => {}
        Bundle::Server => {
            cmd.args(["--no-default-features", "--features", "page"]);
        }
        Bundle::Worker => {
            cmd.args(["--no-default-features", "--features", "vault-worker"]);
        }
    }
    cmd
}

/// The facade's `.wasm` in the cargo target directory `dir`.
fn wasm_in(dir: &Path) -> PathBuf {
    dir.join(setup::WASM_TARGET)
        .join(PROFILE)
        .join(format!("{FACADE_LIB}.wasm"))
}

/// What a page loads from `pkg/`: the wasm, the JS glue and the JS snippets of the browser
/// adapters (`pkg/snippets/**.js`, which the glue imports), in that order.
pub fn bundle_files(pkg: &Path) -> Result<Vec<PathBuf>> {
    fn snippets(dir: &Path, out: &mut Vec<PathBuf>) -> Result {
        let mut entries: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(|e| format!("listing {}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                snippets(&p, out)?;
            } else if p.extension().is_some_and(|e| e == "js") {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = vec![
        pkg.join(format!("{NAME}_bg.wasm")),
        pkg.join(format!("{NAME}.js")),
    ];
    let dir = pkg.join("snippets");
    if dir.is_dir() {
        snippets(&dir, &mut files)?;
    }
    Ok(files)
}

/// The npm package's three bundles: the page's (`oidc-session`), server mode only
/// (`oidc-session/server`: the facade built without its `browser-mode` feature, for apps whose
/// backend holds the session; it refuses a browser-mode configuration with `unsupported`), and
/// the token vault's service worker (`worker/`, imported by `oidc-session-sw.js`: `serveVault`
/// alone, so the page's bundle does not carry the worker's side).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Bundle {
    Full,
    Server,
    Worker,
}

impl Bundle {
    /// Where the bundle goes, relative to the repository root.
    pub fn dir(self) -> PathBuf {
        match self {
            Bundle::Full => PathBuf::from(PKG),
            Bundle::Server => Path::new(PKG).join(SERVER_DIR),
            Bundle::Worker => Path::new(PKG).join(WORKER_DIR),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Bundle::Full => "",
            Bundle::Server => ", server mode only",
            Bundle::Worker => ", token vault worker",
        }
    }
}

/// `pkg/server/`: the server-mode-only bundle (same file names as `pkg/`).
pub const SERVER_DIR: &str = "server";

/// `pkg/worker/`: the token vault's worker bundle (same file names as `pkg/`).
pub const WORKER_DIR: &str = "worker";

/// Builds `pkg/` (and `pkg/server/` in it), assuming the tools are installed (see
/// `setup::toolchain`).
pub fn build() -> Result {
    let pkg = crate::root().join(PKG);
    if pkg.exists() {
        fs::remove_dir_all(&pkg).map_err(|e| format!("removing stale {}: {e}", pkg.display()))?;
    }
    build_bundle(Bundle::Full)?;
    build_bundle(Bundle::Server)?;
    build_bundle(Bundle::Worker)?;
    // The token vault's service worker script: it imports the worker bundle's glue.
    fs::copy(
        crate::root().join("npm/src").join(VAULT_WORKER),
        pkg.join(VAULT_WORKER),
    )
    .map_err(|e| format!("copying {VAULT_WORKER}: {e}"))?;

    for extra in ["README.md", "LICENSE-MIT", "LICENSE-APACHE", "LICENSE"] {
        let from = crate::root().join(extra);
        if from.exists() {
            fs::copy(&from, pkg.join(extra)).map_err(|e| format!("copying {extra}: {e}"))?;
        }
    }
    write_package_json(&pkg)
}

/// One bundle: cargo, wasm-bindgen, wasm-opt, short names, terser, into `bundle.dir()`.
fn build_bundle(bundle: Bundle) -> Result {
    let rel = bundle.dir();
    let out = crate::root().join(&rel);
    let wasm = compile(bundle)?;

    println!("build: wasm-bindgen --target web{}", bundle.label());
    util::run(
        Command::new("wasm-bindgen")
            .args(["--target", "web", "--out-name", NAME, "--out-dir"])
            .arg(&rel)
            .arg(&wasm),
    )?;

    let bg = out.join(format!("{NAME}_bg.wasm"));
    if bundle == Bundle::Full {
        let keep = unoptimized_wasm();
        fs::create_dir_all(keep.parent().unwrap())
            .map_err(|e| format!("creating {}: {e}", keep.display()))?;
        fs::copy(&bg, &keep)
            .map_err(|e| format!("copying {} to {}: {e}", bg.display(), keep.display()))?;
    }

    println!("build: wasm-opt {}", OPT_PASSES.join(" "));
    let tmp = bg.with_extension("opt.wasm");
    util::run(
        Command::new(setup::wasm_opt()?)
            .args(OPT_PASSES)
            .args(WASM_FEATURES)
            // The `producers` and `target_features` sections only describe the build (toolchain
            // versions, features wasm-bindgen has already acted on); browsers ignore them:
            // 206 B gzip.
            .args(["--strip-producers", "--strip-target-features"])
            .arg(&bg)
            .arg("-o")
            .arg(&tmp),
    )?;
    fs::rename(&tmp, &bg)
        .map_err(|e| format!("moving {} to {}: {e}", tmp.display(), bg.display()))?;

    println!("build: short import and export names");
    let glue = out.join(format!("{NAME}.js"));
    crate::minify::apply(&setup::wasm_opt()?, WASM_FEATURES, &bg, &glue, NAME)?;
    // It declared the wasm's exports by their old names; the glue is the package's interface.
    let _ = fs::remove_file(out.join(format!("{NAME}_bg.wasm.d.ts")));
    // So did `InitOutput` in the package's d.ts.
    crate::minify::declarations(&out.join(format!("{NAME}.d.ts")))?;
    crate::minify::inline_snippets(&out, &glue)?;

    // The JS glue and the adapters' JS snippets ship minified, as every peer's dist does (the
    // names the wasm imports are property names and exports, which terser leaves alone):
    // glue 7,647 -> 5,469 B gzip.
    println!("build: terser (JS glue and snippets)");
    for js in bundle_files(&out)?
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "js"))
    {
        let min = js.with_extension("min.js");
        util::run(
            Command::new(crate::root().join(TERSER))
                .arg(&js)
                .args(["--module", "--compress", "--mangle", "--output"])
                .arg(&min),
        )?;
        fs::rename(&min, &js)
            .map_err(|e| format!("moving {} to {}: {e}", min.display(), js.display()))?;
    }

    let size = |p: &Path| fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "build: {}/ ready ({NAME}_bg.wasm {} B, {NAME}.js {} B)",
        rel.display(),
        size(&bg),
        size(&glue)
    );
    Ok(())
}

/// `pkg/package.json`, from the root Cargo.toml's `[package]` fields.
fn write_package_json(pkg: &Path) -> Result {
    let manifest_path = crate::root().join("Cargo.toml");
    let manifest = fs::read_to_string(&manifest_path)
        .map_err(|e| format!("reading {}: {e}", manifest_path.display()))?;
    let field = |key: &str| package_field(&manifest, key);
    let version = field("version").ok_or("root Cargo.toml has no [package] version")?;

    let mut files: Vec<String> = fs::read_dir(pkg)
        .map_err(|e| format!("listing {}: {e}", pkg.display()))?
        .filter_map(|e| e.ok())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() {
                format!("{name}/")
            } else {
                name
            }
        })
        .filter(|n| n != "package.json" && n != ".gitignore")
        .collect();
    files.sort();

    let mut json = vec![
        format!("  \"name\": {}", quote("oidc-session")),
        format!("  \"version\": {}", quote(&version)),
    ];
    if let Some(d) = field("description") {
        json.push(format!("  \"description\": {}", quote(&d)));
    }
    if let Some(l) = field("license") {
        json.push(format!("  \"license\": {}", quote(&l)));
    }
    if let Some(r) = field("repository") {
        json.push(format!(
            "  \"repository\": {{ \"type\": \"git\", \"url\": {} }}",
            quote(&r)
        ));
    }
    if let Some(k) = field("keywords") {
        json.push(format!("  \"keywords\": [{}]", list(&split_array(&k))));
    }
    json.extend([
        "  \"type\": \"module\"".to_string(),
        format!("  \"main\": {}", quote(&format!("{NAME}.js"))),
        format!("  \"module\": {}", quote(&format!("{NAME}.js"))),
        format!("  \"types\": {}", quote(&format!("{NAME}.d.ts"))),
        format!("  \"files\": [{}]", list(&files)),
        // `exports`: what bundlers and Node resolve first; the `.wasm` is exported too, so an app
        // can hand `init()` its URL (`import.meta.resolve`, a bundler's `?url`).
        format!(
            "  \"exports\": {{\n    \".\": {{ \"types\": {}, \"default\": {} }},\n    \"./{NAME}_bg.wasm\": {},\n    \"./server\": {{ \"types\": {}, \"default\": {} }},\n    \"./server/{NAME}_bg.wasm\": {},\n    \"./{VAULT_WORKER}\": {},\n    \"./{WORKER_DIR}/{NAME}.js\": {},\n    \"./{WORKER_DIR}/{NAME}_bg.wasm\": {},\n    \"./package.json\": \"./package.json\"\n  }}",
            quote(&format!("./{NAME}.d.ts")),
            quote(&format!("./{NAME}.js")),
            quote(&format!("./{NAME}_bg.wasm")),
            quote(&format!("./{SERVER_DIR}/{NAME}.d.ts")),
            quote(&format!("./{SERVER_DIR}/{NAME}.js")),
            quote(&format!("./{SERVER_DIR}/{NAME}_bg.wasm")),
            quote(&format!("./{VAULT_WORKER}")),
            quote(&format!("./{WORKER_DIR}/{NAME}.js")),
            quote(&format!("./{WORKER_DIR}/{NAME}_bg.wasm")),
        ),
        "  \"sideEffects\": false".to_string(),
    ]);
    let text = format!("{{\n{}\n}}\n", json.join(",\n"));
    fs::write(pkg.join("package.json"), text)
        .map_err(|e| format!("writing {PKG}/package.json: {e}"))
}

/// A `key = value` line of Cargo.toml's `[package]` table (one-line values only),
/// with the quotes of a string value removed.
fn package_field(manifest: &str, key: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some((k, v)) = line.split_once('=') {
                if k.trim() == key {
                    let v = v.trim();
                    return Some(
                        v.strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or(v)
                            .to_string(),
                    );
                }
            }
        }
    }
    None
}

/// `["a", "b"]` -> `a`, `b`.
fn split_array(value: &str) -> Vec<String> {
    value
        .split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn list(items: &[String]) -> String {
    items
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A JSON string literal.
fn quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_fields() {
        let manifest = "[package]\nname = \"oidc-session\"\nversion = \"0.1.0\"\n\
                        keywords = [\"oidc\", \"wasm\"]\n\n[dependencies]\nversion = \"9\"\n";
        assert_eq!(package_field(manifest, "version").as_deref(), Some("0.1.0"));
        assert_eq!(
            split_array(&package_field(manifest, "keywords").unwrap()),
            ["oidc", "wasm"]
        );
        assert_eq!(package_field(manifest, "license"), None);
    }

    #[test]
    fn quotes_json() {
        assert_eq!(quote("a \"b\" \\ c\n"), r#""a \"b\" \\ c\u000a""#);
    }
}
