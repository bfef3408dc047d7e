//! Process helpers shared by the commands.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// Errors are messages for a person: say what failed and what to do about it.
pub type Result<T = ()> = std::result::Result<T, String>;

/// `cargo`, the one that runs this xtask (so the same toolchain builds the crate).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// The cargo target directory: `$CARGO_TARGET_DIR` or `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::root().join("target"))
}

/// A command as a shell line, for messages: `cargo build --release`
/// (paths inside the repository shown relative to it).
pub fn show(cmd: &Command) -> String {
    let root = format!("{}/", crate::root().display());
    let name = |s: &OsStr| {
        let s = s.to_string_lossy();
        s.strip_prefix(&root).unwrap_or(&s).to_string()
    };
    let program = Path::new(cmd.get_program());
    let program = match program.file_name() {
        Some(file) if file == "cargo" => "cargo".to_string(),
        _ => name(program.as_os_str()),
    };
    let mut line: Vec<String> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some(format!("{}={}", name(k), name(v?))))
        .collect();
    line.push(program);
    line.extend(cmd.get_args().map(name));
    line.join(" ")
}

fn spawn_error(cmd: &Command, e: io::Error) -> String {
    let hint = if e.kind() == io::ErrorKind::NotFound {
        " (not found: is it installed and on PATH? `cargo xtask setup` installs the tools)"
    } else {
        ""
    };
    format!("could not start `{}`: {e}{hint}", show(cmd))
}

fn check(cmd: &Command, status: ExitStatus) -> Result {
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{}` failed ({status})", show(cmd)))
    }
}

/// Prints the command, runs it with the terminal attached and fails unless it exits 0.
pub fn run(cmd: &mut Command) -> Result {
    println!("  $ {}", show(cmd));
    let status = cmd.status().map_err(|e| spawn_error(cmd, e))?;
    check(cmd, status)
}

/// Runs a command quietly; its trimmed stdout if it exits 0, `None` if it is missing or fails.
pub fn stdout_of(cmd: &mut Command) -> Option<String> {
    let out = cmd
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs a command showing its output live (like `tee`) and also returns that output,
/// stdout and stderr both, for counting test results. Does not fail on a non-zero exit.
pub fn run_tee(cmd: &mut Command) -> Result<(ExitStatus, String)> {
    println!("  $ {}", show(cmd));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| spawn_error(cmd, e))?;
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    // Copy in chunks, not lines, so progress bars that end with '\r' still show live.
    let out = std::thread::spawn(move || copy_and_keep(out, io::stdout()));
    let err = std::thread::spawn(move || copy_and_keep(err, io::stderr()));
    let status = child
        .wait()
        .map_err(|e| format!("waiting for `{}`: {e}", show(cmd)))?;
    let mut text = out.join().unwrap_or_default();
    text.push_str(&err.join().unwrap_or_default());
    Ok((status, text))
}

fn copy_and_keep(mut from: impl Read, mut to: impl Write) -> String {
    let (mut kept, mut buf) = (Vec::new(), [0u8; 8192]);
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let _ = to.write_all(&buf[..n]);
        let _ = to.flush();
        kept.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// Removes ANSI colour codes (`ESC [ ... letter`) so output can be parsed.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Runs `f`, returning its result and how long it took.
/// When `path` was last modified, if it exists.
pub fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Whether `dir`'s node_modules needs `npm ci`: there is no `stamp` file (written after the last
/// install that succeeded), or `package.json` or `package-lock.json` is newer than it.
pub fn npm_install_stale(dir: &Path, stamp: &str) -> bool {
    match modified(&dir.join(stamp)) {
        None => true,
        Some(stamp) => ["package.json", "package-lock.json"]
            .iter()
            .any(|f| modified(&dir.join(f)).is_some_and(|t| t > stamp)),
    }
}

pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let start = Instant::now();
    let value = f();
    (value, start.elapsed())
}
