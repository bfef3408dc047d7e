//! Test harness: the real OpenID Provider (`node op/server.mjs`, a child process killed on drop)
//! and the backend-for-frontend in-process, plus a cookie-jar HTTP client that signs in through
//! the provider's devInteractions forms.

#![allow(dead_code)]

use oidc_session_bff::{router, App, Config, MemoryStore, SessionStore};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{header, Client, Method, Response, StatusCode};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::net::TcpListener as StdListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

pub const CSRF: (&str, &str) = ("X-Requested-With", "oidc-session");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bff/ sits one level below the repository root")
        .to_path_buf()
}

/// False (with a message) when the provider's node_modules are not installed: the only reason
/// to skip. `cargo xtask setup` / `npm ci` installs them.
pub fn provider_installed() -> bool {
    let dir = repo_root().join("node_modules/oidc-provider");
    if dir.is_dir() {
        return true;
    }
    // Straight to the process's stderr (not the test harness's capture), once, so it is seen.
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "oidc-session-bff: SKIPPING the contract tests: {} is missing; \
             run `cargo xtask setup` (or `npm ci`) to run them",
            dir.display()
        );
    });
    false
}

/// `node op/server.mjs` on a free port, killed when dropped.
pub struct Op {
    child: Child,
    pub issuer: String,
    stderr: Arc<Mutex<String>>,
}

impl Op {
    pub fn start(bff_origins: &str) -> Op {
        let port = free_port();
        let mut child = Command::new("node")
            .arg("op/server.mjs")
            .current_dir(repo_root())
            .env("OP_PORT", port.to_string())
            .env("BFF_ORIGINS", bff_origins)
            .env_remove("BFF_CLIENT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot run `node` (is Node.js installed?)");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().unwrap();
            let buf = stderr.clone();
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = pipe.read_to_string(&mut s);
                buf.lock().unwrap().push_str(&s);
            });
        }
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("op ready") {
                    let _ = tx.send(());
                }
            }
        });
        let mut op = Op {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
            stderr,
        };
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = op.child.kill();
            std::thread::sleep(Duration::from_millis(100));
            panic!("the OP did not start: {}", op.stderr.lock().unwrap());
        }
        op
    }

    /// The provider's request counters (`GET /__test/counters`).
    pub async fn counters(&self) -> Value {
        reqwest::get(format!("{}/__test/counters", self.issuer))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// What the provider wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Op {
    fn drop(&mut self) {
        self.kill();
    }
}

pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An OP, a BFF (in this process) and a browser-like client.
pub struct Harness {
    pub op: Op,
    pub origin: String,
    pub base: String,
    /// The memory store (empty when `shared` is another store).
    pub store: Arc<MemoryStore>,
    /// The store the backend uses.
    pub shared: Arc<dyn SessionStore>,
    pub app: Arc<App>,
    pub jar: Arc<Jar>,
    pub browser: Client,
    server: tokio::task::JoinHandle<()>,
    /// The Redis server of a Redis-store harness.
    pub redis: Option<Redis>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Harness {
    pub async fn start(base_path: &str) -> Option<Harness> {
        Self::start_with(base_path, |_| {}).await
    }

    /// [`Harness::start`] with the BFF's configuration adjusted by `configure`.
    pub async fn start_with(
        base_path: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Harness> {
        // `tests/contract_redis.rs` runs the contract on the Redis store.
        if env!("CARGO_CRATE_NAME") == "contract_redis" {
            let redis = Redis::start();
            let store = oidc_session_bff::RedisStore::new(
                &redis.url,
                "bff:",
                Duration::from_secs(2),
                Duration::from_secs(1),
            )
            .unwrap();
            let mut h = Self::start_with_store(base_path, configure, Some(Arc::new(store))).await?;
            h.redis = Some(redis);
            return Some(h);
        }
        Self::start_with_store(base_path, configure, None).await
    }

    /// [`Harness::start_with`] on `store` (the memory store when `None`).
    pub async fn start_with_store(
        base_path: &str,
        configure: impl FnOnce(&mut Config),
        store: Option<Arc<dyn SessionStore>>,
    ) -> Option<Harness> {
        if !provider_installed() {
            return None;
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let origin = format!("http://127.0.0.1:{port}");
        let op = Op::start(&origin);
        let mut config = Config {
            port,
            issuer: op.issuer.clone(),
            base_path: base_path.into(),
            public_origin: origin.clone(),
            post_logout_redirect_uri: String::new(),
            test_endpoints: true,
            ..Config::default()
        };
        configure(&mut config);
        config.normalize().unwrap();
        let memory = Arc::new(MemoryStore::new());
        let shared: Arc<dyn SessionStore> = store.unwrap_or_else(|| memory.clone());
        let store = memory;
        let app = App::new(config, shared.clone()).unwrap();
        let server = serve(listener, app.clone());
        let (jar, browser) = new_browser();
        Some(Harness {
            op,
            origin,
            base: base_path.into(),
            store,
            shared,
            app,
            jar,
            browser,
            server,
            redis: None,
        })
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.base, path)
    }

    /// A request from the page: credentials included, the CSRF header set.
    pub async fn call(&self, method: Method, path: &str) -> Response {
        call_with(&self.browser, method, &self.api(path)).await
    }

    pub async fn json(&self, method: Method, path: &str) -> (StatusCode, Value) {
        let r = self.call(method, path).await;
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Signs in `user` through the provider's forms; returns the callback's `Location`.
    pub async fn sign_in(&self, user: &str, return_to: &str) -> String {
        let callback = self.authorize(&self.browser, user, return_to).await;
        let r = self.browser.get(&callback).send().await.unwrap();
        assert_eq!(
            r.status(),
            StatusCode::SEE_OTHER,
            "callback: {}",
            r.text().await.unwrap()
        );
        location(&r)
    }

    /// Runs `/login` and the provider's forms with `client`; returns the callback URL (not
    /// visited).
    pub async fn authorize(&self, client: &Client, user: &str, return_to: &str) -> String {
        authorize_at(client, &self.api(""), &self.op.issuer, user, return_to).await
    }

    pub fn session_id(&self) -> Option<String> {
        cookie_value(&self.jar, &self.origin, self.app.config().session_cookie())
    }

    /// The server-side session of this browser.
    pub async fn store_session(&self) -> oidc_session_bff::Session {
        self.store_session_opt()
            .await
            .expect("a server-side session")
    }

    pub async fn store_session_opt(&self) -> Option<oidc_session_bff::Session> {
        let sid = self.session_id()?;
        self.shared.get(&sid).await.unwrap()
    }

    /// Another instance of the backend, same configuration (same public origin: as behind one
    /// proxy), on its own port and `store`. Returns its API base URL (`http://127.0.0.1:N/api/auth`).
    pub async fn instance(
        &self,
        store: Arc<dyn SessionStore>,
    ) -> (String, Arc<App>, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let app = App::new(self.app.config().clone(), store).unwrap();
        let server = serve(listener, app.clone());
        (format!("http://127.0.0.1:{port}{}", self.base), app, server)
    }

    pub async fn stats(&self) -> Value {
        let (status, body) = self.json(Method::GET, "/__test/stats").await;
        assert_eq!(status, StatusCode::OK);
        body["data"].clone()
    }

    pub async fn op_counters(&self) -> Value {
        self.op.counters().await
    }

    /// Spends a refresh token at the provider directly (as client `bff`).
    pub async fn op_refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let c = self.app.config();
        let r = Client::new()
            .post(format!("{}/token", self.op.issuer))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

/// Serves `app` on `listener` (with the peer address, as the binary does) until aborted.
pub fn serve(listener: tokio::net::TcpListener, app: Arc<App>) -> tokio::task::JoinHandle<()> {
    let routes = router(app).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move {
        axum::serve(listener, routes).await.unwrap();
    })
}

/// `redis-server` on a free loopback port, without persistence; killed when dropped. A missing
/// binary fails the test loudly: `cargo xtask setup` installs it (Debian's `redis-server`).
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
}

impl Redis {
    pub fn start() -> Redis {
        Self::start_on(free_port())
    }

    pub fn start_on(port: u16) -> Redis {
        Self::launch(port, None)
    }

    /// With an append-only file in `dir`, fsynced at every write: what it held survives a stop.
    pub fn start_persistent(port: u16, dir: &Path) -> Redis {
        Self::launch(port, Some(dir))
    }

    fn launch(port: u16, dir: Option<&Path>) -> Redis {
        let mut args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        match dir {
            Some(d) => args.extend(
                [
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "always",
                    "--dir",
                    &d.display().to_string(),
                ]
                .map(String::from),
            ),
            None => args.extend(["--appendonly", "no"].map(String::from)),
        }
        let child = Command::new("redis-server")
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `redis-server` ({e}): the Redis-store tests need it; \
                     `cargo xtask setup` installs it (apt-get install redis-server)"
                )
            });
        let redis = Redis {
            child: Some(child),
            port,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        for _ in 0..200 {
            if redis.ping() {
                return redis;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn ping(&self) -> bool {
        use std::io::Write;
        let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 7];
        s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
    }

    /// Stops the server (SIGKILL) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// [`Harness::authorize`] for any backend at `api` (its base URL) and provider `issuer`.
pub async fn authorize_at(
    client: &Client,
    api: &str,
    issuer: &str,
    user: &str,
    return_to: &str,
) -> String {
    let login = format!("{api}/login?returnTo={}", urlencode(return_to));
    let r = client.get(&login).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::SEE_OTHER,
        "login: {}",
        r.text().await.unwrap()
    );
    let mut url = location(&r);
    assert!(
        url.starts_with(issuer),
        "login redirects to the provider: {url}"
    );
    let callback_prefix = format!("{api}/callback");
    for _ in 0..12 {
        if url.starts_with(&callback_prefix) {
            return url;
        }
        let r = client.get(&url).send().await.unwrap();
        if r.status().is_redirection() {
            url = absolute(&url, &location(&r));
            continue;
        }
        assert_eq!(r.status(), StatusCode::OK, "provider page {url}");
        let html = r.text().await.unwrap();
        let action = absolute(&url, &form_action(&html));
        let form: Vec<(&str, &str)> = if html.contains("name=\"login\"") {
            vec![("prompt", "login"), ("login", user), ("password", "any")]
        } else if html.contains("value=\"consent\"") {
            vec![("prompt", "consent")]
        } else {
            panic!("unexpected provider page at {url}: {html}");
        };
        let r = client.post(&action).form(&form).send().await.unwrap();
        assert!(
            r.status().is_redirection(),
            "form post {action}: {}",
            r.status()
        );
        url = absolute(&action, &location(&r));
    }
    panic!("no callback after 12 steps; last URL {url}");
}

/// The `oidc-session-bff` binary on `port` with the provider `issuer` and extra `BFF_*`
/// variables (test endpoints on); killed when dropped.
pub struct BffProcess {
    pub child: Child,
    pub stderr: Arc<Mutex<String>>,
    pub port: u16,
    /// `http://127.0.0.1:{port}/api/auth`
    pub api: String,
}

impl BffProcess {
    pub fn start(port: u16, issuer: &str, env: &[(&str, &str)]) -> BffProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oidc-session-bff"));
        cmd.env("BFF_PORT", port.to_string())
            .env("BFF_ISSUER", issuer)
            .env("BFF_TEST_ENDPOINTS", "1")
            .env_remove("BFF_CLIENT_SECRET")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("the oidc-session-bff binary");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().unwrap();
            let buf = stderr.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    buf.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&chunk[..n]));
                }
            });
        }
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("bff ready") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(20)).is_err() {
            let _ = child.kill();
            panic!("the binary did not start: {}", stderr.lock().unwrap());
        }
        BffProcess {
            child,
            stderr,
            port,
            api: format!("http://127.0.0.1:{port}/api/auth"),
        }
    }

    /// SIGTERM (a graceful stop).
    pub fn terminate(&self) {
        signal(self.child.id(), "-TERM");
    }

    /// SIGKILL, and waits for the process.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BffProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn signal(pid: u32, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {sig} {pid}");
}

/// HAProxy on a free loopback port, round robin over `backends` (ports), health-checked on
/// `{base}/healthz`, retrying refused connections on another backend, adding `X-Forwarded-For`.
/// A missing binary fails loudly: `cargo xtask setup` installs it.
pub struct Haproxy {
    child: Child,
    pub port: u16,
    pub origin: String,
    _dir: TempDir,
}

impl Haproxy {
    pub fn start(backends: &[u16]) -> Haproxy {
        let port = free_port();
        let dir = TempDir::new("haproxy");
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  server b{i} 127.0.0.1:{p} check inter 100 fall 2 rise 1\n"))
            .collect();
        let config = format!(
            "global\n  maxconn 2000\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  timeout check 2s\n\
             \x20 retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\n\
             frontend fe\n  bind 127.0.0.1:{port}\n  option forwardfor\n  default_backend bffs\n\
             backend bffs\n  balance roundrobin\n  option httpchk GET /api/auth/healthz\n{servers}"
        );
        let path = dir.0.join("haproxy.cfg");
        std::fs::write(&path, config).unwrap();
        let bin = ["/usr/sbin/haproxy", "/usr/bin/haproxy", "haproxy"]
            .into_iter()
            .find(|p| !p.starts_with('/') || Path::new(p).exists())
            .unwrap();
        let mut child = Command::new(bin)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run `haproxy` ({e}): the cluster test needs it; \
                     `cargo xtask setup` installs it (apt-get install haproxy)"
                )
            });
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Haproxy {
                    child,
                    port,
                    origin: format!("http://127.0.0.1:{port}"),
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("haproxy did not listen on {port}");
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory under the system temp dir, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("oidc-session-bff-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A cookie-jar client that does not follow redirects (so each hop can be checked).
pub fn new_browser() -> (Arc<Jar>, Client) {
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    (jar, client)
}

pub async fn call_with(client: &Client, method: Method, url: &str) -> Response {
    client
        .request(method, url)
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap()
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_owned()
}

pub fn set_cookies(r: &Response) -> Vec<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

pub fn cookie_value(jar: &Jar, origin: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(origin).unwrap();
    let header = jar.cookies(&url)?;
    header
        .to_str()
        .ok()?
        .split(';')
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn absolute(base: &str, location: &str) -> String {
    reqwest::Url::parse(base)
        .unwrap()
        .join(location)
        .unwrap()
        .to_string()
}

/// The `action` of the provider page's form (`<form autocomplete="off" action="…" method="post">`).
fn form_action(html: &str) -> String {
    let start = html.find("<form").expect("a form");
    let tag = &html[start..start + html[start..].find('>').unwrap()];
    let a = tag.find("action=\"").expect("a form action") + "action=\"".len();
    let raw = &tag[a..a + tag[a..].find('"').unwrap()];
    raw.replace("&amp;", "&")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
}

pub fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
