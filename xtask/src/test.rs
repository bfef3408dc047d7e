//! `cargo xtask test [native|browser|build|e2e]`: every test stage, timed and counted.
//!
//! Ends with one line `N passed, M failed` summing the counts of all stages, parsed
//! from cargo's `test result:` lines and Playwright's `N passed` / `N failed` lines.

use crate::util::{self, run_tee, strip_ansi, timed, Result};
use crate::{build, setup};
use std::io::IsTerminal;
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    Native,
    Browser,
    Build,
    E2e,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Native => "native",
            Stage::Browser => "browser",
            Stage::Build => "build",
            Stage::E2e => "e2e",
        }
    }
}

/// How one stage went.
struct Outcome {
    stage: Stage,
    time: Duration,
    counts: Counts,
    ok: bool,
}

#[derive(Default, Clone, Copy)]
struct Counts {
    passed: u64,
    failed: u64,
}

pub fn run(args: &[&str]) -> Result {
    use Stage::*;
    let stages = match args {
        [] => vec![Native, Browser, Build, E2e],
        ["native"] => vec![Native],
        ["browser"] => vec![Browser],
        ["build"] => vec![Build],
        // The e2e tests load pkg/: never test a stale one.
        ["e2e"] => vec![Build, E2e],
        _ => {
            return Err(format!(
                "unknown test stage `{}`: use native, browser, build or e2e",
                args.join(" ")
            ))
        }
    };
    if stages != [Native] {
        setup::all()?;
    } else {
        // The backend's Redis-store tests start their own redis-server.
        setup::services()?;
    }

    let mut outcomes = Vec::new();
    for stage in stages {
        println!(
            "\n==================== test: {} ====================",
            stage.name()
        );
        let (result, time) = timed(|| run_stage(stage));
        let (ok, counts, error) = match result {
            Ok((ok, counts)) => (ok, counts, None),
            Err(e) => (false, Counts::default(), Some(e)),
        };
        let verdict = if ok { "ok" } else { "FAILED" };
        println!(
            "---- {}: {verdict} in {:.1} s",
            stage.name(),
            time.as_secs_f64()
        );
        outcomes.push(Outcome {
            stage,
            time,
            counts,
            ok,
        });
        if !ok {
            summary(&outcomes);
            return Err(error.unwrap_or_else(|| format!("test stage `{}` failed", stage.name())));
        }
    }
    summary(&outcomes);
    Ok(())
}

/// Runs one stage: whether it passed, and the test counts it printed.
fn run_stage(stage: Stage) -> Result<(bool, Counts)> {
    // The e2e stage's backend binary, for the cluster suite that runs after the main one.
    let mut bff_bin = None;
    let mut cmd = match stage {
        Stage::Native => {
            let mut cmd = util::cargo();
            // With the Leptos components: their server render (`tests/leptos_ssr.rs`) and
            // doctests.
            cmd.args(["test", "--workspace", "--features", "oidc-session/leptos"]);
            cmd
        }
        Stage::Browser => {
            // The same tests in both engines: the platform adapters are the code a browser
            // difference breaks.
            let mut ok = true;
            let mut counts = Counts::default();
            for engine in [Engine::Chromium, Engine::Firefox] {
                println!("test: browser layer in {}", engine.name());
                let (status, output) = run_tee(&mut browser_tests(engine)?)?;
                let c = cargo_counts(&strip_ansi(&output));
                ok &= status.success();
                counts.passed += c.passed;
                counts.failed += c.failed;
            }
            return Ok((ok, counts));
        }
        Stage::Build => {
            build::build()?;
            typecheck_js()?;
            check_package()?;
            // The packed package in examples/vite-spa: installed from its tarball, its
            // declarations checked by a TypeScript consumer (the tsc checks are the counts).
            crate::consumer::install()?;
            let passed = crate::consumer::typecheck()?;
            return Ok((true, Counts { passed, failed: 0 }));
        }
        Stage::E2e => {
            // playwright.config.mjs starts three instances of the reference backend-for-frontend
            // from the built binary (server mode): never test a stale one.
            let bff = build::bff()?;
            // The Leptos example (tests/e2e/leptos-app.spec.mjs), served in both modes.
            let leptos_app = crate::leptos_app::build()?;
            // examples/vite-spa bundled by Vite, webpack and esbuild (tests/e2e/bundlers.spec.mjs).
            crate::consumer::bundles()?;
            // node_modules/.bin directly: what `npx playwright test` runs, with no chance of
            // npx fetching a package. playwright.config.mjs starts the OPs, the static servers
            // and the BFFs.
            let mut cmd = Command::new(crate::root().join("node_modules/.bin/playwright"));
            bff_bin = Some(bff.clone());
            cmd.arg("test")
                .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
                .env("BFF_BIN", bff)
                .env("LEPTOS_APP_DIR", leptos_app);
            cmd
        }
    };
    if std::io::stdout().is_terminal() {
        // Output goes through a pipe; keep the colours the terminal would have had.
        cmd.env("CARGO_TERM_COLOR", "always")
            .env("FORCE_COLOR", "1");
    }
    let (status, output) = run_tee(&mut cmd)?;
    let output = strip_ansi(&output);
    let mut counts = match stage {
        Stage::E2e => playwright_counts(&output),
        _ => cargo_counts(&output),
    };
    let mut ok = status.success();
    if let Some(bff) = bff_bin {
        // The backend-for-frontend as a cluster: three instances on one Redis behind HAProxy, the page on the
        // proxy's origin (playwright.cluster.config.mjs: its own ports, provider, redis-server and haproxy).
        let mut cluster = Command::new(crate::root().join("node_modules/.bin/playwright"));
        cluster
            .arg("test")
            .arg("--config")
            .arg(crate::root().join("playwright.cluster.config.mjs"))
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .env("BFF_BIN", bff);
        if std::io::stdout().is_terminal() {
            cluster.env("FORCE_COLOR", "1");
        }
        let (cluster_status, cluster_output) = run_tee(&mut cluster)?;
        let more = playwright_counts(&strip_ansi(&cluster_output));
        counts.passed += more.passed;
        counts.failed += more.failed;
        ok = ok && cluster_status.success();
    }
    Ok((ok, counts))
}

#[derive(Clone, Copy)]
enum Engine {
    Chromium,
    Firefox,
}

impl Engine {
    fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "headless Chromium",
            Engine::Firefox => "headless Firefox ESR",
        }
    }
}

/// The library's browser tests (`src/browser/tests.rs`, in the crate: they drive its private
/// adapters) and the components' (`src/leptos/tests.rs`), in one engine. The runner starts the
/// browser headless itself.
fn browser_tests(engine: Engine) -> Result<Command> {
    let mut cmd = util::cargo();
    cmd.args([
        "test",
        "--package",
        "oidc-session",
        "--lib",
        "--features",
        "leptos",
        "--target",
        setup::WASM_TARGET,
    ])
    .env(
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
        "wasm-bindgen-test-runner",
    );
    match engine {
        Engine::Chromium => {
            cmd.env("CHROMEDRIVER", setup::CHROMEDRIVER);
            // Extra WebDriver capabilities for Chrome; the runner adds `headless`,
            // `no-sandbox` and `disable-dev-shm-usage` itself.
            let caps = crate::root().join("webdriver.json");
            if caps.exists() {
                cmd.env("WASM_BINDGEN_TEST_WEBDRIVER_JSON", caps);
            }
        }
        Engine::Firefox => {
            let driver = setup::geckodriver().ok_or("geckodriver is missing: run `cargo xtask setup`")?;
            cmd.env("GECKODRIVER", driver);
        }
    }
    if std::io::stdout().is_terminal() {
        cmd.env("CARGO_TERM_COLOR", "always");
    }
    Ok(cmd)
}

/// `tsc --checkJs` over the hand-written JS of the glue (`tsconfig.json`: `platform.js`, the
/// facade's `facade.js`): their JSDoc types, strict.
fn typecheck_js() -> Result {
    println!("test: tsc --checkJs (src/browser/platform.js, npm/src/facade.js)");
    util::run(
        Command::new(crate::root().join("node_modules/.bin/tsc"))
            .args(["--project", "tsconfig.json"]),
    )
}

/// `npm pack --dry-run` of `pkg/`: the tarball holds exactly the package's files, and every
/// path the manifest's `exports`, `main` and `types` name is in it.
fn check_package() -> Result {
    println!("test: npm pack --dry-run (pkg/)");
    let out = Command::new("npm")
        .args(["pack", "--dry-run", "--json", "--ignore-scripts"])
        .current_dir(crate::root().join(build::PKG))
        .output()
        .map_err(|e| format!("could not start npm: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "npm pack --dry-run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let listing = String::from_utf8_lossy(&out.stdout);
    let name = build::NAME;
    let expected = [
        "README.md".to_string(),
        "LICENSE-MIT".to_string(),
        "LICENSE-APACHE".to_string(),
        format!("{name}.d.ts"),
        format!("{name}.js"),
        format!("{name}_bg.wasm"),
        build::VAULT_WORKER.to_string(),
        format!("{dir}/{name}.d.ts", dir = build::SERVER_DIR),
        format!("{dir}/{name}.js", dir = build::SERVER_DIR),
        format!("{dir}/{name}_bg.wasm", dir = build::SERVER_DIR),
        format!("{dir}/{name}.d.ts", dir = build::WORKER_DIR),
        format!("{dir}/{name}.js", dir = build::WORKER_DIR),
        format!("{dir}/{name}_bg.wasm", dir = build::WORKER_DIR),
        "package.json".to_string(),
    ];
    // `"path": "…"` entries of npm's JSON listing.
    let mut packed: Vec<&str> = listing
        .split("\"path\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    packed.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(String::as_str).collect();
    want.sort_unstable();
    if packed != want {
        return Err(format!("the tarball holds {packed:?}, expected {want:?}"));
    }
    let manifest = std::fs::read_to_string(crate::root().join(build::PKG).join("package.json"))
        .map_err(|e| format!("reading pkg/package.json: {e}"))?;
    for file in &expected {
        let named = format!("\"./{file}\"");
        // `./server/oidc_session.js` and its types are exported as `./server`.
        let exported = manifest.contains(&named)
            || (file.starts_with(build::SERVER_DIR) && !file.ends_with(".wasm"))
            || (file.starts_with(build::WORKER_DIR) && file.ends_with(".d.ts"));
        if !file.starts_with("README") && !file.starts_with("LICENSE") && !exported {
            return Err(format!("pkg/package.json `exports` does not name {named}"));
        }
    }
    println!("test: the tarball holds {}", packed.join(", "));
    Ok(())
}

/// Sums `test result: ok. 12 passed; 0 failed; ...` lines (cargo and wasm-bindgen-test-runner).
fn cargo_counts(output: &str) -> Counts {
    let mut counts = Counts::default();
    for line in output.lines() {
        if let Some((_, rest)) = line.split_once("test result:") {
            counts.passed += number_before(rest, " passed");
            counts.failed += number_before(rest, " failed");
        }
    }
    counts
}

/// Playwright's closing lines: `  5 passed (12.3s)`, `  1 failed`, `  1 flaky`
/// (flaky tests passed on a retry, so they count as passed).
fn playwright_counts(output: &str) -> Counts {
    let mut counts = Counts::default();
    for line in output.lines().map(str::trim) {
        let Some((n, rest)) = line.split_once(' ') else {
            continue;
        };
        let Ok(n) = n.parse::<u64>() else { continue };
        let word = rest.split_whitespace().next().unwrap_or("");
        match word {
            "passed" | "flaky" => counts.passed += n,
            "failed" => counts.failed += n,
            _ => {}
        }
    }
    counts
}

/// The number just before `word` in `text` (`"3 passed"` -> 3), 0 if none.
fn number_before(text: &str, word: &str) -> u64 {
    let Some(end) = text.find(word) else { return 0 };
    let digits = text[..end].trim_end();
    let start = digits
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    digits[start..].parse().unwrap_or(0)
}

fn summary(outcomes: &[Outcome]) {
    println!("\n==================== test summary ====================");
    let mut total = Counts::default();
    let mut time = Duration::ZERO;
    for o in outcomes {
        let counts = if o.stage == Stage::Build && o.counts.passed + o.counts.failed == 0 {
            String::new()
        } else {
            format!("{:>4} passed, {} failed", o.counts.passed, o.counts.failed)
        };
        let verdict = if o.ok { "ok" } else { "FAILED" };
        let row = format!(
            "  {:<8} {:>7.1} s  {verdict:<6}  {counts}",
            o.stage.name(),
            o.time.as_secs_f64()
        );
        println!("{}", row.trim_end());
        total.passed += o.counts.passed;
        total.failed += o.counts.failed;
        time += o.time;
    }
    println!("  {:<8} {:>7.1} s", "total", time.as_secs_f64());
    println!("{} passed, {} failed", total.passed, total.failed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_cargo_and_runner_lines() {
        let out = "test result: ok. 12 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
                   noise 99 passed\n\
                   test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 filtered out; finished in 1.2s\n";
        let c = cargo_counts(out);
        assert_eq!((c.passed, c.failed), (15, 2));
    }

    #[test]
    fn counts_playwright_lines() {
        let out = "Running 7 tests using 1 worker\n  ✓  1 [chromium] › a.spec.mjs:3:1 › signs in (2.1s)\n\n  \
                   1 failed\n    [chromium] › b.spec.mjs:9:1 › refresh\n  1 flaky\n  5 passed (14.2s)\n";
        let c = playwright_counts(out);
        assert_eq!((c.passed, c.failed), (6, 1));
    }

    #[test]
    fn strips_colours() {
        assert_eq!(strip_ansi("\x1b[32m5 passed\x1b[39m (1s)"), "5 passed (1s)");
    }
}
