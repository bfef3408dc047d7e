//! `cargo xtask bench size`, second part: the npm peers bundled the way an app would ship them,
//! beside our package, in the same run.
//!
//! Each peer has an entry file in `bench/peers/` with the calls a typical SPA makes (the callback
//! on load, the stored session, sign-in and sign-out by redirect, a token for an API call: what our
//! demo page uses). `esbuild --bundle --minify --format=esm` bundles it into `target/bench-peers/`,
//! and the bundle is measured raw and gzip -9. The versions are read from `node_modules`, so the
//! figures say what was measured, not what package.json asked for.

use crate::bench::gzip_size;
use crate::util::{self, show, Result};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

/// From the root package.json (npm `esbuild`).
const ESBUILD: &str = "node_modules/.bin/esbuild";
const ESBUILD_ARGS: &[&str] = &["--bundle", "--minify", "--format=esm"];
const ENTRIES: &str = "bench/peers";

/// (npm package, entry file in `bench/peers/`), smallest first.
const PEERS: &[(&str, &str)] = &[
    ("keycloak-js", "keycloak-js.js"),
    ("oidc-client-ts", "oidc-client-ts.js"),
    ("@auth0/auth0-spa-js", "auth0-spa-js.js"),
    ("@azure/msal-browser", "msal-browser.js"),
];

/// One measured bundle.
struct Row {
    name: String,
    version: String,
    raw: u64,
    gzip: u64,
}

/// Bundles and measures every peer, then prints them under ours (`ours_raw`/`ours_gzip`: the
/// totals of pkg/'s files as `bench size` prints them, each file gzipped on its own).
pub fn compare(ours_raw: u64, ours_gzip: u64) -> Result {
    let root = crate::root();
    let ours_version = version_in(
        &root.join(crate::build::PKG).join("package.json"),
        "oidc-session",
    )?;
    let esbuild = root.join(ESBUILD);
    if !esbuild.exists() {
        return Err(format!(
            "{ESBUILD} is missing: package.json's devDependencies should list esbuild \
             (`cargo xtask setup` runs npm ci)"
        ));
    }
    let esbuild_version = package_version(root, "esbuild")?;
    let out = util::target_dir().join("bench-peers");
    fs::create_dir_all(&out).map_err(|e| format!("creating {}: {e}", out.display()))?;

    let mut rows = Vec::new();
    for (name, entry) in PEERS {
        let bundle = out.join(entry);
        bundle_with(&esbuild, &Path::new(ENTRIES).join(entry), &bundle)?;
        let raw = fs::metadata(&bundle)
            .map_err(|e| format!("{}: {e}", bundle.display()))?
            .len();
        rows.push(Row {
            name: name.to_string(),
            version: package_version(root, name)?,
            raw,
            gzip: gzip_size(&bundle)?,
        });
    }

    println!(
        "\nbench size: the peers, each {ENTRIES}/<name>.js bundled by esbuild {esbuild_version} {} \
         into target/bench-peers/",
        ESBUILD_ARGS.join(" ")
    );
    println!(
        "  {:<26} {:>8} {:>10} {:>10} {:>12} {:>12}",
        "package", "version", "raw B", "gzip -9 B", "ratio raw", "ratio gzip"
    );
    println!(
        "  {:<26} {:>8} {ours_raw:>10} {ours_gzip:>10}",
        "oidc-session (wasm + JS)", ours_version
    );
    for row in &rows {
        println!(
            "  {:<26} {:>8} {:>10} {:>10} {:>12} {:>12}",
            row.name,
            row.version,
            row.raw,
            row.gzip,
            ratio(ours_raw, row.raw),
            ratio(ours_gzip, row.gzip)
        );
    }
    println!(
        "(ratio: ours / theirs, below 1.00x we ship less; ours is pkg/'s files gzipped one by one, \
         theirs one bundle each)"
    );
    Ok(())
}

/// `esbuild --bundle --minify --format=esm entry --outfile=bundle`, quiet unless it fails.
fn bundle_with(esbuild: &Path, entry: &Path, bundle: &Path) -> Result {
    let mut cmd = Command::new(esbuild);
    cmd.args(ESBUILD_ARGS)
        .arg("--log-level=warning")
        .arg(entry)
        .arg(format!("--outfile={}", bundle.display()))
        .stdin(Stdio::null());
    let output = cmd
        .output()
        .map_err(|e| format!("could not start `{}`: {e}", show(&cmd)))?;
    // Warnings (e.g. a peer's `require` of a Node module) are worth seeing; they go to stderr.
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "`{}` failed ({}):\n{stderr}",
            show(&cmd),
            output.status
        ));
    }
    if !stderr.trim().is_empty() {
        println!(
            "bench size: esbuild warned on {}:\n{stderr}",
            entry.display()
        );
    }
    Ok(())
}

/// The `version` of `node_modules/<name>/package.json`.
fn package_version(root: &Path, name: &str) -> Result<String> {
    version_in(
        &root.join("node_modules").join(name).join("package.json"),
        name,
    )
}

/// The top-level `version` of the package.json at `path` (of package `name`, for messages).
fn version_in(path: &Path, name: &str) -> Result<String> {
    let text = fs::read_to_string(path).map_err(|e| {
        format!(
            "reading {}: {e} (is `{name}` installed? `cargo xtask setup` runs npm ci, `cargo xtask build` writes pkg/)",
            path.display()
        )
    })?;
    top_level_string(&text, "version")
        .ok_or_else(|| format!("{} has no top-level \"version\"", path.display()))
}

/// The string value of `key` at the top level of a JSON object (nested objects, which may hold
/// their own `version`, are skipped). Enough JSON for package.json files; std only.
fn top_level_string(json: &str, key: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut chars = json.char_indices().peekable();
    // The last string read at depth 1 and whether it is followed by `:` (then it is a key).
    let mut pending_key: Option<String> = None;
    while let Some((_, c)) = chars.next() {
        match c {
            '{' | '[' => {
                depth += 1;
                pending_key = None;
            }
            '}' | ']' => {
                depth = depth.checked_sub(1)?;
                pending_key = None;
            }
            '"' => {
                let mut s = String::new();
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            let (_, escaped) = chars.next()?;
                            s.push(match escaped {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                        }
                        other => s.push(other),
                    }
                }
                if depth == 1 {
                    match pending_key.take() {
                        Some(k) if k == key => return Some(s),
                        Some(_) => {}
                        None => {
                            // A key if a `:` follows.
                            while chars.peek().is_some_and(|(_, c)| c.is_whitespace()) {
                                chars.next();
                            }
                            if chars.peek().is_some_and(|(_, c)| *c == ':') {
                                chars.next();
                                pending_key = Some(s);
                            }
                        }
                    }
                }
            }
            ',' => pending_key = None,
            _ => {}
        }
    }
    None
}

/// `ours / theirs` with two decimals and an `x`: `0.42x`; `-` when theirs is 0.
fn ratio(ours: u64, theirs: u64) -> String {
    if theirs == 0 {
        return "-".into();
    }
    format!("{:.2}x", ours as f64 / theirs as f64)
}

#[cfg(test)]
mod tests {
    use super::{ratio, top_level_string};

    #[test]
    fn ratio_is_ours_over_theirs_with_two_decimals() {
        assert_eq!(ratio(50_000, 17_584), "2.84x");
        assert_eq!(ratio(50_000, 200_000), "0.25x");
        assert_eq!(ratio(1, 1), "1.00x");
        assert_eq!(ratio(1, 0), "-");
    }

    #[test]
    fn reads_the_top_level_version_only() {
        let json = r#"{
  "name": "x",
  "engines": { "node": ">=18", "version": "9.9.9" },
  "files": ["a", "version"],
  "description": "a \"version\": \"1\" in a string",
  "version" : "3.5.0",
  "dependencies": { "y": "1" }
}"#;
        assert_eq!(top_level_string(json, "version").as_deref(), Some("3.5.0"));
        assert_eq!(top_level_string(json, "name").as_deref(), Some("x"));
        assert_eq!(top_level_string(json, "main"), None);
        assert_eq!(top_level_string("{\"version\": 3}", "version"), None);
    }
}
