//! The packed npm package in a real consumer: examples/vite-spa, a TypeScript app that installs
//! `target/npm/oidc-session.tgz` (`npm pack` of `pkg/`: the bytes `npm publish` would upload),
//! type-checks against the package's declarations and is bundled by Vite, webpack and esbuild.
//!
//! `cargo xtask test build` packs, installs and runs the type checks ([`install`],
//! [`typecheck`]); `cargo xtask test e2e` builds the three bundles ([`bundles`]), which
//! playwright.config.mjs serves and tests/e2e/bundlers.spec.mjs drives.

use crate::build::{NAME, PKG};
use crate::util::{self, Result};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example, relative to the repository root.
pub const EXAMPLE: &str = "examples/vite-spa";
/// Where `npm pack` of `pkg/` goes. Fixed, under the repository's own `target/` whatever
/// `CARGO_TARGET_DIR` says: the example's package.json names it
/// (`"oidc-session": "file:../../target/npm/oidc-session.tgz"`).
pub const TARBALL: &str = "target/npm/oidc-session.tgz";
/// Written into the example's node_modules after `npm ci` succeeded (`npm ci` removes it).
const STAMP: &str = "node_modules/.xtask-stamp";

/// The three builds of the same entry (`src/main.ts`): the package.json script and the
/// directory it writes, relative to the example.
pub const BUNDLES: [(&str, &str, &str); 3] = [
    ("vite", "build", "dist"),
    ("webpack", "build:webpack", "dist-webpack"),
    ("esbuild", "build:esbuild", "dist-esbuild"),
];

fn example() -> PathBuf {
    crate::root().join(EXAMPLE)
}

/// `npm pack` of `pkg/` into [`TARBALL`] (npm names it `oidc-session-{version}.tgz`; the
/// example needs one name whatever the version).
pub fn pack() -> Result<PathBuf> {
    let root = crate::root();
    let tarball = root.join(TARBALL);
    let dir = tarball.parent().expect("the tarball is in a directory");
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    println!("consumer: npm pack ({PKG}/ -> {TARBALL})");
    let out = Command::new("npm")
        .args(["pack", "--ignore-scripts", "--silent", "--pack-destination"])
        .arg(dir)
        .current_dir(root.join(PKG))
        .output()
        .map_err(|e| format!("could not start npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack of {PKG}/ failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // `npm pack` prints the file name it wrote, last.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let name = stdout
        .lines()
        .map(str::trim)
        .rfind(|l| l.ends_with(".tgz"))
        .ok_or_else(|| format!("npm pack printed no file name: {stdout}"))?;
    fs::rename(dir.join(name), &tarball)
        .map_err(|e| format!("renaming {name} to {}: {e}", tarball.display()))?;
    let size = fs::metadata(&tarball).map(|m| m.len()).unwrap_or(0);
    println!("consumer: {TARBALL} ({size} B)");
    Ok(tarball)
}

/// Packs `pkg/` and installs the tarball in the example, fresh: `npm ci` when its node_modules
/// is missing or older than package.json / package-lock.json, then always
/// `npm install --no-save` of the tarball, then a byte-for-byte check against `pkg/`.
///
/// The lock file must not pin the tarball's `integrity`: the tarball changes with every build,
/// and with a pinned hash `npm ci` either refuses it (EINTEGRITY) or, worse, installs the old
/// bytes from npm's cache, which keys tarballs by that hash (seen here).
pub fn install() -> Result {
    let tarball = pack()?;
    let dir = example();
    check_lock(
        &fs::read_to_string(dir.join("package-lock.json"))
            .map_err(|e| format!("reading {EXAMPLE}/package-lock.json: {e}"))?,
    )?;
    if util::npm_install_stale(&dir, STAMP) {
        println!("consumer: npm ci ({EXAMPLE})");
        util::run(npm(&dir).args(["ci", "--no-audit", "--no-fund"]))?;
        fs::write(
            dir.join(STAMP),
            "written by `cargo xtask test` after npm ci succeeded\n",
        )
        .map_err(|e| format!("writing {EXAMPLE}/{STAMP}: {e}"))?;
    }
    // The same spec as package.json's, so the lock file stays as it is.
    let spec = relative_to(&tarball, &dir);
    println!("consumer: npm install --no-save {spec} ({EXAMPLE})");
    util::run(
        npm(&dir)
            .args(["install", "--no-save", "--no-audit", "--no-fund"])
            .arg(&spec),
    )?;
    let stale = installed_differs()?;
    if let Some(file) = stale {
        return Err(format!(
            "{EXAMPLE}/node_modules/oidc-session/{file} is not {PKG}/{file} after the install"
        ));
    }
    println!("consumer: {EXAMPLE}/node_modules/oidc-session is {PKG}/, byte for byte");
    Ok(())
}

fn npm(dir: &Path) -> Command {
    let mut cmd = Command::new("npm");
    cmd.current_dir(dir);
    cmd
}

/// The first file of `pkg/` (every entry's wasm, glue and d.ts, the manifest) that the
/// installed package does not hold byte for byte, if any.
fn installed_differs() -> Result<Option<String>> {
    let installed = example().join("node_modules/oidc-session");
    let pkg = crate::root().join(PKG);
    for path in files_in(&pkg)? {
        let file = path.strip_prefix(&pkg).unwrap_or(&path).to_path_buf();
        // npm never packs these (`.gitignore`, `.npmignore`).
        if file.to_string_lossy().starts_with('.') {
            continue;
        }
        let want = fs::read(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        if fs::read(installed.join(&file)).ok().as_ref() != Some(&want) {
            return Ok(Some(file.display().to_string()));
        }
    }
    Ok(None)
}

/// The lock file's `node_modules/oidc-session` entry must have no `integrity` (see [`install`]).
fn check_lock(lock: &str) -> Result {
    let entry = lock
        .split("\"node_modules/oidc-session\": {")
        .nth(1)
        .and_then(|rest| rest.split('}').next())
        .ok_or_else(|| format!("{EXAMPLE}/package-lock.json has no node_modules/oidc-session"))?;
    if !entry.contains(&format!("\"resolved\": \"file:../../{TARBALL}\"")) {
        return Err(format!(
            "{EXAMPLE}/package-lock.json: oidc-session must resolve to file:../../{TARBALL}"
        ));
    }
    if entry.contains("\"integrity\"") {
        return Err(format!(
            "{EXAMPLE}/package-lock.json pins the integrity of {TARBALL} (npm install writes it): \
             delete that `integrity` line; the tarball changes with every build"
        ));
    }
    Ok(())
}

/// `tsc --noEmit` (strict, see the example's tsconfig.json) over the app and
/// `typecheck/consumer.ts`, which must compile; then over `typecheck/wrong-option.ts`, which
/// must not: one error on each line its `expect:` comments mark, naming what they say, and no
/// other error. Returns the number of checks that passed.
pub fn typecheck() -> Result<u64> {
    let dir = example();
    let tsc = dir.join("node_modules/.bin/tsc");
    println!("consumer: tsc --noEmit -p tsconfig.json ({EXAMPLE}: src/, typecheck/consumer.ts)");
    util::run(
        Command::new(&tsc)
            .args(["--noEmit", "-p", "tsconfig.json"])
            .current_dir(&dir),
    )?;

    let negative = "typecheck/wrong-option.ts";
    println!("consumer: tsc --noEmit -p typecheck/tsconfig.wrong-option.json (must fail)");
    let out = Command::new(&tsc)
        .args([
            "--noEmit",
            "-p",
            "typecheck/tsconfig.wrong-option.json",
            "--pretty",
            "false",
        ])
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("could not start {}: {e}", tsc.display()))?;
    let output = String::from_utf8_lossy(&out.stdout);
    print!("{output}");
    if out.status.success() {
        return Err(format!(
            "tsc compiled {negative}: its mistakes went unnoticed"
        ));
    }
    let source = fs::read_to_string(dir.join(negative))
        .map_err(|e| format!("reading {EXAMPLE}/{negative}: {e}"))?;
    let refused = check_refusals(&source, &output, negative)?;
    println!(
        "consumer: tsc refused each of the {refused} mistakes of {negative} (exit {})",
        out.status.code().unwrap_or(-1)
    );
    Ok(1 + refused)
}

/// A tsc diagnostic: line, column (1-based) and message.
struct Diagnostic {
    line: usize,
    column: usize,
    message: String,
}

/// tsc's `--pretty false` output for `file`: `file(L,C): error TSnnnn: message`, continuation
/// lines indented.
fn diagnostics(output: &str, file: &str) -> Vec<Diagnostic> {
    let mut found: Vec<Diagnostic> = Vec::new();
    for line in output.lines() {
        if let Some(rest) = line.strip_prefix(file).and_then(|r| r.strip_prefix('(')) {
            let Some((pos, message)) = rest.split_once("): ") else {
                continue;
            };
            let mut pos = pos.split(',').map(|n| n.parse::<usize>().unwrap_or(0));
            found.push(Diagnostic {
                line: pos.next().unwrap_or(0),
                column: pos.next().unwrap_or(0),
                message: message.to_string(),
            });
        } else if line.starts_with(' ') {
            if let Some(last) = found.last_mut() {
                last.message.push(' ');
                last.message.push_str(line.trim());
            }
        } else if line.contains("error TS") {
            // An error elsewhere (the package's d.ts, a config): attributed to no line.
            found.push(Diagnostic {
                line: 0,
                column: 0,
                message: line.to_string(),
            });
        }
    }
    found
}

/// Checks tsc's errors against the `expect:` comments of `source`: each marks the next line,
/// which must have exactly one error that names the text after `expect:` (in the message, or
/// as the code at the error's column: tsc points at the member whose value is wrong); no
/// error elsewhere. Returns how many lines were refused as expected.
fn check_refusals(source: &str, output: &str, file: &str) -> Result<u64> {
    let lines: Vec<&str> = source.lines().collect();
    let mut expected = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some((_, want)) = line.split_once("expect: ") {
            // 1-based number of the next line.
            expected.push((i + 2, want.trim().to_string()));
        }
    }
    if expected.is_empty() {
        return Err(format!("{file} marks no line with `expect:`"));
    }
    let found = diagnostics(output, file);
    let mut problems = Vec::new();
    for (line, want) in &expected {
        let here: Vec<&Diagnostic> = found.iter().filter(|d| d.line == *line).collect();
        let code = |d: &Diagnostic| {
            lines
                .get(d.line.wrapping_sub(1))
                .and_then(|l| l.get(d.column.saturating_sub(1)..))
                .unwrap_or("")
        };
        let bare = want.trim_matches('\'');
        match here.as_slice() {
            [d] if d.message.contains(want.as_str()) || code(d).starts_with(bare) => {}
            [d] => problems.push(format!(
                "line {line}: the error does not name {want}: {}",
                d.message
            )),
            [] => problems.push(format!(
                "line {line}: compiled, expected an error naming {want}"
            )),
            many => problems.push(format!("line {line}: {} errors, expected one", many.len())),
        }
    }
    for d in &found {
        if !expected.iter().any(|(line, _)| *line == d.line) {
            problems.push(format!(
                "an unexpected error (line {}): {}",
                d.line, d.message
            ));
        }
    }
    if problems.is_empty() {
        Ok(expected.len() as u64)
    } else {
        Err(format!("tsc over {file}:\n  {}", problems.join("\n  ")))
    }
}

/// Builds the example with each bundler (the installed package must be `pkg/`'s: [`install`]
/// when it is not) and checks each output holds the package's `.wasm` unchanged, under a name
/// its JS refers to. Returns the output directories.
pub fn bundles() -> Result<Vec<PathBuf>> {
    let dir = example();
    if !dir.join(STAMP).exists() || installed_differs()?.is_some() {
        install()?;
    }
    let wasm = fs::read(crate::root().join(PKG).join(format!("{NAME}_bg.wasm")))
        .map_err(|e| format!("reading {PKG}/{NAME}_bg.wasm: {e}"))?;
    let mut dirs = Vec::new();
    for (bundler, script, out) in BUNDLES {
        println!("consumer: {bundler} build ({EXAMPLE}: npm run {script} -> {out}/)");
        util::run(npm(&dir).args(["run", script]))?;
        let out_dir = dir.join(out);
        let files = files_in(&out_dir)?;
        let wasms: Vec<&PathBuf> = files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
            .collect();
        let [emitted] = wasms.as_slice() else {
            return Err(format!(
                "{EXAMPLE}/{out}: {} .wasm files, expected one",
                wasms.len()
            ));
        };
        if fs::read(emitted).ok().as_ref() != Some(&wasm) {
            return Err(format!("{}: not the package's .wasm", emitted.display()));
        }
        let wasm_name = emitted.file_name().unwrap().to_string_lossy().into_owned();
        let mut report = Vec::new();
        let mut named = false;
        for file in &files {
            let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
            if ext != "js" && ext != "wasm" {
                continue;
            }
            if ext == "js" {
                named |= fs::read_to_string(file).is_ok_and(|js| js.contains(&wasm_name));
            }
            let raw = fs::metadata(file).map(|m| m.len()).unwrap_or(0);
            let gzip = crate::bench::gzip_size(file)?;
            let shown = file.strip_prefix(&out_dir).unwrap_or(file).display();
            report.push(format!("{shown} {raw} B ({gzip} B gzip -9)"));
        }
        if !named {
            return Err(format!("{EXAMPLE}/{out}: no .js refers to {wasm_name}"));
        }
        println!("consumer: {bundler}: {}", report.join(", "));
        dirs.push(out_dir);
    }
    Ok(dirs)
}

/// Every file under `dir`, sorted.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).map_err(|e| format!("listing {}: {e}", d.display()))? {
            let p = entry.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                pending.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `path` relative to `from` (both inside the repository), with `/`.
fn relative_to(path: &Path, from: &Path) -> String {
    let root = crate::root();
    let up = from
        .strip_prefix(root)
        .map(|p| p.components().count())
        .unwrap_or(0);
    let down = path.strip_prefix(root).unwrap_or(path);
    let mut parts = vec![".."; up].join("/");
    for c in down.components() {
        parts.push('/');
        parts.push_str(&c.as_os_str().to_string_lossy());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_must_not_pin_the_tarball() {
        let ok = "\"node_modules/oidc-session\": {\n  \"version\": \"0.1.0\",\n  \
                  \"resolved\": \"file:../../target/npm/oidc-session.tgz\",\n  \"license\": \"MIT\"\n},";
        assert!(check_lock(ok).is_ok());
        let pinned = ok.replace("\"license\"", "\"integrity\": \"sha512-x\",\n  \"license\"");
        assert!(check_lock(&pinned).unwrap_err().contains("integrity"));
        assert!(check_lock("{}").is_err());
    }

    #[test]
    fn refusals_are_matched_to_their_lines() {
        let source = "// expect: 'redirectUrl'\nnew S({ redirectUrl: 1 });\n\
                      // expect: 'scopes'\nnew S({ scopes: \"a\" });\n";
        let output = "t.ts(2,9): error TS2353: 'redirectUrl' does not exist in type 'SessionConfig'.\n\
                      t.ts(4,9): error TS2322: Type 'string' is not assignable to type 'string[]'.\n";
        assert_eq!(check_refusals(source, output, "t.ts").unwrap(), 2);
        // A line that compiled.
        let one = output.lines().next().unwrap();
        assert!(check_refusals(source, one, "t.ts")
            .unwrap_err()
            .contains("line 4: compiled"));
        // An error elsewhere, continuation lines joined.
        let extra = format!("{output}t.ts(9,1): error TS1: other\n  more\n");
        assert!(check_refusals(source, &extra, "t.ts")
            .unwrap_err()
            .contains("other more"));
        // An error that names something else.
        let wrong = output
            .replace("'redirectUrl'", "'x'")
            .replace("(2,9)", "(2,1)");
        assert!(check_refusals(source, &wrong, "t.ts").is_err());
    }

    #[test]
    fn the_tarball_spec_is_relative_to_the_example() {
        let root = crate::root();
        assert_eq!(
            relative_to(&root.join(TARBALL), &root.join(EXAMPLE)),
            "../../target/npm/oidc-session.tgz"
        );
    }
}
