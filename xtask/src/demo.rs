//! `cargo xtask demo`: the local OpenID Provider and the demo page in both modes, until Ctrl-C:
//! browser mode (www/serve.mjs, the page runs the code flow itself) and server mode (the reference
//! backend-for-frontend, bff/, serving the same page and holding the tokens), both signing
//! in against the same provider. Beside it, the Leptos example (examples/leptos-app, one build) in
//! the same two modes: served by www/serve.mjs (browser mode) and by a second backend-for-frontend.
//!
//! No orphans: the servers stay in our process group, so the terminal's Ctrl-C (SIGINT)
//! reaches them too; a guard kills them when the xtask returns (e.g. one server died);
//! each node server exits when its stdin, a pipe from the xtask, closes, and the backend
//! (a Rust binary that does not read stdin) gets SIGKILL from the kernel when the xtask
//! dies (Linux `PR_SET_PDEATHSIG`), which covers the xtask being killed by any signal.

use crate::util::{show, Result};
use crate::{build, leptos_app, setup};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OP_PORT: u16 = 9090;
const APP_PORT: u16 = 8080;
/// The backend-for-frontend: server mode, same page, same provider.
const BFF_PORT: u16 = 8090;
/// The Leptos example: browser mode (www/serve.mjs serving its build) and server mode (a second
/// backend-for-frontend serving it).
const LEPTOS_PORT: u16 = 8081;
const LEPTOS_BFF_PORT: u16 = 8091;

/// Preloaded into each node server: exit when the xtask's end of the stdin pipe closes.
const EXIT_WITH_PARENT: &str =
    "data:text/javascript,process.stdin.on('end',()=>process.exit(0));process.stdin.on('data',()=>{});";

pub fn run() -> Result {
    // Before the build, so a busy port fails fast.
    for port in [OP_PORT, APP_PORT, BFF_PORT, LEPTOS_PORT, LEPTOS_BFF_PORT] {
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            format!("port {port} is busy ({e}): is another demo or server running? (`ss -ltnp | grep {port}`)")
        })?;
    }
    setup::toolchain()?;
    build::build()?;
    let bff_bin = build::bff()?;
    let leptos_dist = leptos_app::build()?;

    let op_origin = format!("http://127.0.0.1:{OP_PORT}");
    let app_origin = format!("http://127.0.0.1:{APP_PORT}");
    let bff_origin = format!("http://127.0.0.1:{BFF_PORT}");
    let leptos_origin = format!("http://127.0.0.1:{LEPTOS_PORT}");
    let leptos_bff_origin = format!("http://127.0.0.1:{LEPTOS_BFF_PORT}");
    let root = crate::root();
    let mut op = Server::start(
        "OP",
        node("op/server.mjs")
            .env("OP_PORT", OP_PORT.to_string())
            .env("APP_ORIGIN", &app_origin)
            .env("BFF_ORIGINS", format!("{bff_origin},{leptos_bff_origin}"))
            .env("LEPTOS_APP_ORIGIN", &leptos_origin),
    )?;
    let mut app = Server::start(
        "app",
        node("www/serve.mjs")
            .env("APP_PORT", APP_PORT.to_string())
            .env("OP_ISSUER", &op_origin),
    )?;
    let mut bff = Server::start(
        "backend-for-frontend",
        dies_with_parent(
            Command::new(&bff_bin)
                .env("BFF_PORT", BFF_PORT.to_string())
                .env("BFF_ISSUER", &op_origin)
                .env("BFF_STATIC_DIR", root.join("www"))
                .env("BFF_PKG_DIR", root.join(build::PKG))
                // The page's bootstrap is one `GET me`: the backend refreshes an expired access
                // token there, as the server-mode contract has it.
                .env("BFF_ME_EXPIRED", "refresh")
                .env_remove("BFF_TEST_ENDPOINTS"),
        ),
    )?;
    let mut leptos = Server::start(
        "Leptos example",
        node("www/serve.mjs")
            .env("APP_PORT", LEPTOS_PORT.to_string())
            .env("OP_ISSUER", &op_origin)
            .env("STATIC_DIR", &leptos_dist),
    )?;
    let mut leptos_bff = Server::start(
        "Leptos example's backend-for-frontend",
        dies_with_parent(
            Command::new(&bff_bin)
                .env("BFF_PORT", LEPTOS_BFF_PORT.to_string())
                .env("BFF_ISSUER", &op_origin)
                // The example's build, and the /config.js the backend generates (server mode).
                .env("BFF_STATIC_DIR", &leptos_dist)
                .env_remove("BFF_PKG_DIR")
                .env("BFF_ME_EXPIRED", "refresh")
                .env_remove("BFF_TEST_ENDPOINTS"),
        ),
    )?;
    op.wait_until_serving(OP_PORT, "/.well-known/openid-configuration")?;
    app.wait_until_serving(APP_PORT, "/")?;
    bff.wait_until_serving(BFF_PORT, "/config.js")?;
    leptos.wait_until_serving(LEPTOS_PORT, "/")?;
    leptos_bff.wait_until_serving(LEPTOS_BFF_PORT, "/config.js")?;

    println!("\ndemo: OpenID Provider at {op_origin}");
    println!("  browser mode: {app_origin}  (the page runs authorization code + PKCE itself)");
    println!("  server mode:  {bff_origin}  (the backend-for-frontend holds the tokens; the page has an HttpOnly cookie)");
    println!("Leptos example (examples/leptos-app, one build in both modes):");
    println!("  browser mode: {leptos_origin}");
    println!("  server mode:  {leptos_bff_origin}");
    println!("Open any and sign in with any user name, e.g. alice (a name starting with admin has the admin role)");
    println!("(Ctrl-C stops all five servers)\n");
    loop {
        for server in [&mut op, &mut app, &mut bff, &mut leptos, &mut leptos_bff] {
            if let Some(status) = server.child.try_wait().map_err(|e| e.to_string())? {
                // Returning drops the guards, which stop the other servers.
                let message = format!("the {} server exited ({status})", server.name);
                return if status.success() {
                    println!("demo: {message}; stopping");
                    Ok(())
                } else {
                    Err(message)
                };
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The kernel kills the child (SIGKILL) when the xtask dies, however it dies. Linux only; elsewhere
/// the guard and the terminal's Ctrl-C still stop it.
#[cfg(target_os = "linux")]
fn dies_with_parent(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    extern "C" {
        // glibc/musl: int prctl(int option, ...); std links the C library already.
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGKILL: std::ffi::c_ulong = 9;
    const ESRCH: i32 = 3;
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only makes two system calls
    // (prctl, getppid) and builds errors without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The xtask may have died before prctl: then no signal would ever come.
            if std::os::unix::process::parent_id() != parent {
                return Err(std::io::Error::from_raw_os_error(ESRCH));
            }
            Ok(())
        })
    }
}

#[cfg(not(target_os = "linux"))]
fn dies_with_parent(cmd: &mut Command) -> &mut Command {
    cmd
}

fn node(script: &str) -> Command {
    let mut cmd = Command::new("node");
    cmd.args(["--import", EXIT_WITH_PARENT, script]);
    cmd
}

/// A child server that is killed when this guard is dropped.
struct Server {
    name: &'static str,
    child: Child,
}

impl Server {
    fn start(name: &'static str, cmd: &mut Command) -> Result<Server> {
        println!("demo: starting the {name} server");
        let child = cmd
            .stdin(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start `{}`: {e}", show(cmd)))?;
        Ok(Server { name, child })
    }

    /// Waits until `GET path` on the port gets any HTTP answer (30 s at most).
    fn wait_until_serving(&mut self, port: u16, path: &str) -> Result {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if http_answers(port, path) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the {} server exited ({status}) before answering on port {port}",
                    self.name
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the {} server did not answer on port {port} within 30 s",
                    self.name
                ));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Whether an HTTP server on 127.0.0.1:`port` answers `GET path` with a status line.
fn http_answers(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    let mut head = [0u8; 12];
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
}
