//! `cargo xtask demo`: the local OpenID Provider and the demo app, until Ctrl-C.
//!
//! No orphans: the servers stay in our process group, so the terminal's Ctrl-C (SIGINT)
//! reaches them too; a guard kills them when the xtask returns (e.g. one server died);
//! and each server exits when its stdin, a pipe from the xtask, closes, which covers the
//! xtask being killed by any signal.

use crate::util::{show, Result};
use crate::{build, setup};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const OP_PORT: u16 = 9090;
const APP_PORT: u16 = 8080;

/// Preloaded into each server: exit when the xtask's end of the stdin pipe closes.
const EXIT_WITH_PARENT: &str =
    "data:text/javascript,process.stdin.on('end',()=>process.exit(0));process.stdin.on('data',()=>{});";

pub fn run() -> Result {
    // Before the build, so a busy port fails fast.
    for port in [OP_PORT, APP_PORT] {
        TcpListener::bind(("127.0.0.1", port)).map_err(|e| {
            format!("port {port} is busy ({e}): is another demo or server running? (`ss -ltnp | grep {port}`)")
        })?;
    }
    setup::toolchain()?;
    build::build()?;

    let op_origin = format!("http://127.0.0.1:{OP_PORT}");
    let app_origin = format!("http://127.0.0.1:{APP_PORT}");
    let mut op = Server::start(
        "OP",
        node("op/server.mjs")
            .env("OP_PORT", OP_PORT.to_string())
            .env("APP_ORIGIN", &app_origin),
    )?;
    let mut app = Server::start(
        "app",
        node("www/serve.mjs")
            .env("APP_PORT", APP_PORT.to_string())
            .env("OP_ISSUER", &op_origin),
    )?;
    op.wait_until_serving(OP_PORT, "/.well-known/openid-configuration")?;
    app.wait_until_serving(APP_PORT, "/")?;

    println!("\ndemo: OpenID Provider at {op_origin}, app at {app_origin}");
    println!("Open {app_origin} and sign in with any user name, e.g. alice");
    println!("(Ctrl-C stops both servers)\n");
    loop {
        for server in [&mut op, &mut app] {
            if let Some(status) = server.child.try_wait().map_err(|e| e.to_string())? {
                // Returning drops the guards, which stop the other server.
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
