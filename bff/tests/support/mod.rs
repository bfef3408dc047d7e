//! Test harness: the real OpenID Provider (`node op/server.mjs`, a child process killed on drop)
//! and the backend-for-frontend, in-process or as a [`Cluster`] of the binary behind HAProxy, plus
//! a cookie-jar HTTP client that signs in through the provider's devInteractions forms.

#![allow(dead_code)]

use oidc_session_bff::{router, App, Config, MemoryStore, RedisStore, SessionStore};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::{header, Client, Method, Response, StatusCode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
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

/// An OP, a BFF and a browser-like client. The BFF runs in this process, except in
/// `tests/contract_cluster.rs` (chosen by the test target's name), where it is a [`Cluster`]:
/// three instances of the binary on one Redis behind HAProxy, the browser on the proxy's origin.
pub struct Harness {
    pub op: Op,
    /// The origin the browser talks to: the in-process backend's, or the proxy's.
    pub origin: String,
    pub base: String,
    /// The backend's configuration (each instance's, in a cluster).
    pub config: Config,
    /// The memory store (empty when `shared` is another store).
    pub store: Arc<MemoryStore>,
    /// The store the backend uses (in a cluster, a connection of this process to its Redis).
    pub shared: Arc<dyn SessionStore>,
    pub jar: Arc<Jar>,
    pub browser: Client,
    backend: Backend,
}

enum Backend {
    InProcess {
        app: Arc<App>,
        server: tokio::task::JoinHandle<()>,
    },
    Cluster(Box<Cluster>),
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Backend::InProcess { server, .. } = &self.backend {
            server.abort();
        }
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
        if env!("CARGO_CRATE_NAME") == "contract_cluster" {
            return Self::start_cluster(base_path, configure).await;
        }
        Self::start_with_store(base_path, configure, None).await
    }

    /// [`Harness::start_with`] on `store` (the memory store when `None`), in this process.
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
        let app = App::new(config.clone(), shared.clone()).unwrap();
        let server = serve(listener, app.clone());
        let (jar, browser) = new_browser();
        Some(Harness {
            op,
            origin,
            base: base_path.into(),
            config,
            store: memory,
            shared,
            jar,
            browser,
            backend: Backend::InProcess { app, server },
        })
    }

    /// Three instances of the binary on one Redis behind HAProxy, configured by `BFF_*` variables
    /// that give each of them the configuration `configure` asked for (checked: a setting the
    /// variables do not carry fails here, instead of testing another configuration).
    async fn start_cluster(
        base_path: &str,
        configure: impl FnOnce(&mut Config),
    ) -> Option<Harness> {
        if !provider_installed() {
            return None;
        }
        let mut cluster = Cluster::prepare(3, base_path, ClusterStore::Redis);
        let op = Op::start(&cluster.proxy.origin);
        let base = cluster.config(&op.issuer, &[]);
        let mut config = base.clone();
        configure(&mut config);
        config.normalize().unwrap();
        let extra = settings_as_env(&base, &config);
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let given = cluster.config(&op.issuer, &extra);
        assert_eq!(
            format!("{given:?}"),
            format!("{config:?}"),
            "the test changed a setting that `settings_as_env` does not pass to the binary"
        );
        cluster.start(&op.issuer, &extra).await;
        let shared = RedisStore::new(
            &config.store,
            &config.store_prefix,
            config.refresh_lease,
            config.store_timeout,
        )
        .unwrap();
        let (jar, browser) = new_browser();
        Some(Harness {
            op,
            origin: cluster.proxy.origin.clone(),
            base: base_path.into(),
            config,
            store: Arc::new(MemoryStore::new()),
            shared: Arc::new(shared),
            jar,
            browser,
            backend: Backend::Cluster(Box::new(cluster)),
        })
    }

    /// The backend in this process (not for a cluster harness: the binary runs there).
    pub fn app(&self) -> Arc<App> {
        match &self.backend {
            Backend::InProcess { app, .. } => app.clone(),
            Backend::Cluster(_) => panic!("a cluster harness has no backend in this process"),
        }
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}{}{}", self.origin, self.base, path)
    }

    /// Each backend instance's API, not through the proxy: its counters and injected faults are
    /// its process's own.
    pub fn instance_apis(&self) -> Vec<String> {
        match &self.backend {
            Backend::InProcess { .. } => vec![self.api("")],
            Backend::Cluster(c) => (0..c.ports.len()).map(|i| c.instance_api(i)).collect(),
        }
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
        cookie_value(&self.jar, &self.origin, self.config.session_cookie())
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
        let app = App::new(self.config.clone(), store).unwrap();
        let server = serve(listener, app.clone());
        (format!("http://127.0.0.1:{port}{}", self.base), app, server)
    }

    /// The backend's counters (`__test/stats`), summed over the instances of a cluster.
    pub async fn stats(&self) -> Value {
        let mut total = serde_json::Map::new();
        for api in self.instance_apis() {
            let r = call_with(&self.browser, Method::GET, &format!("{api}/__test/stats")).await;
            assert_eq!(r.status(), StatusCode::OK);
            let body: Value = r.json().await.unwrap();
            for (k, v) in body["data"].as_object().unwrap() {
                match (total.get_mut(k), v.as_u64()) {
                    (Some(Value::Number(sum)), Some(n)) => {
                        *sum = (sum.as_u64().unwrap() + n).into();
                    }
                    (None, _) => {
                        total.insert(k.clone(), v.clone());
                    }
                    // Not a counter (the armed fault, …): the first instance's.
                    (Some(_), _) => {}
                }
            }
        }
        Value::Object(total)
    }

    /// Arms `__test/fail-refresh?kind={kind}` (`off` disarms). Faults are injected per process, so
    /// in a cluster every instance is armed: whichever the proxy hands the refresh fails.
    pub async fn fail_refresh(&self, kind: &str) {
        for api in self.instance_apis() {
            let url = format!("{api}/__test/fail-refresh?kind={kind}");
            let r = call_with(&self.browser, Method::POST, &url).await;
            assert_eq!(r.status(), StatusCode::OK, "{url}");
        }
    }

    pub async fn op_counters(&self) -> Value {
        self.op.counters().await
    }

    /// Spends a refresh token at the provider directly (as client `bff`).
    pub async fn op_refresh(&self, refresh_token: &str) -> (StatusCode, Value) {
        let c = &self.config;
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

/// The `BFF_*` variables that turn `base` (what a cluster's instances are given anyway) into
/// `wanted` for the settings the contract tests change; [`Harness::start_cluster`] checks that
/// nothing else differs.
fn settings_as_env(base: &Config, wanted: &Config) -> Vec<(&'static str, String)> {
    let mut env = Vec::new();
    if wanted.me_refreshes != base.me_refreshes {
        let v = if wanted.me_refreshes {
            "refresh"
        } else {
            "401"
        };
        env.push(("BFF_ME_EXPIRED", v.to_owned()));
    }
    if wanted.cors_origins != base.cors_origins {
        env.push(("BFF_CORS_ORIGINS", wanted.cors_origins.join(",")));
    }
    env
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
    /// On a free port. A port found free can be taken by a concurrent test before redis-server
    /// binds it (it then exits at once): another port is tried.
    pub fn start() -> Redis {
        for _ in 0..5 {
            if let Some(redis) = Self::try_launch(free_port(), None) {
                return redis;
            }
        }
        panic!("redis-server could not bind any of 5 free ports");
    }

    pub fn start_on(port: u16) -> Redis {
        Self::launch(port, None)
    }

    /// With an append-only file in `dir`, fsynced at every write: what it held survives a stop.
    pub fn start_persistent(port: u16, dir: &Path) -> Redis {
        Self::launch(port, Some(dir))
    }

    fn launch(port: u16, dir: Option<&Path>) -> Redis {
        Self::try_launch(port, dir)
            .unwrap_or_else(|| panic!("redis-server exited at start on port {port}"))
    }

    /// `None` when redis-server exited before it answered (its port was taken).
    fn try_launch(port: u16, dir: Option<&Path>) -> Option<Redis> {
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
        let mut redis = Redis {
            child: Some(child),
            port,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        for _ in 0..200 {
            if redis.ping() {
                return Some(redis);
            }
            let exited = redis
                .child
                .as_mut()
                .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))));
            if exited {
                return None;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("redis-server did not answer on port {port}");
    }

    fn ping(&self) -> bool {
        self.command("PING").is_some_and(|answer| answer == "+PONG")
    }

    /// `DBSIZE`: every key in the database, whatever its prefix.
    pub fn dbsize(&self) -> usize {
        let answer = self.command("DBSIZE").expect("redis-server answers DBSIZE");
        answer
            .strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("DBSIZE answered {answer:?}"))
    }

    /// One inline command whose answer is one line (without its CRLF); `None` when the server
    /// cannot be reached or does not answer within 500 ms.
    fn command(&self, command: &str) -> Option<String> {
        let s = std::net::TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
        (&s).write_all(format!("{command}\r\n").as_bytes()).ok()?;
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).ok()?;
        line.strip_suffix("\r\n").map(str::to_owned)
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
    /// `http://127.0.0.1:{port}{BFF_BASE_PATH or /api/auth}`
    pub api: String,
}

impl BffProcess {
    /// The variables every started binary gets, before `env`: its port, the provider, the test
    /// endpoints. None is inherited from this process (`BFF_*` variables of the caller's shell
    /// are removed), so the configuration is exactly what these and `env` say.
    pub fn variables(port: u16, issuer: &str) -> [(&'static str, String); 3] {
        [
            ("BFF_PORT", port.to_string()),
            ("BFF_ISSUER", issuer.to_owned()),
            ("BFF_TEST_ENDPOINTS", "1".to_owned()),
        ]
    }

    pub fn start(port: u16, issuer: &str, env: &[(&str, &str)]) -> BffProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oidc-session-bff"));
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("BFF_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(Self::variables(port, issuer))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let base_path = env
            .iter()
            .find(|(k, _)| *k == "BFF_BASE_PATH")
            .map_or("/api/auth", |(_, v)| *v);
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
            api: format!("http://127.0.0.1:{port}{base_path}"),
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
/// `{base_path}/healthz`, retrying refused connections on another backend, adding
/// `X-Forwarded-For`. A missing binary fails loudly: `cargo xtask setup` installs it.
pub struct Haproxy {
    child: Child,
    pub port: u16,
    pub origin: String,
    dir: TempDir,
}

impl Haproxy {
    pub fn start(backends: &[u16], base_path: &str) -> Haproxy {
        let port = free_port();
        let dir = TempDir::new("haproxy");
        let servers: String = backends
            .iter()
            .enumerate()
            .map(|(i, p)| format!("  server b{i} 127.0.0.1:{p} check inter 100 fall 2 rise 1\n"))
            .collect();
        let socket = dir.0.join("stats.sock");
        let config = format!(
            "global\n  maxconn 2000\n  stats socket {}\n\
             defaults\n  mode http\n  timeout connect 1s\n  timeout client 30s\n  timeout server 30s\n  timeout check 2s\n\
             \x20 retries 3\n  option redispatch 1\n  retry-on conn-failure empty-response\n\
             frontend fe\n  bind 127.0.0.1:{port}\n  option forwardfor\n  default_backend bffs\n\
             backend bffs\n  balance roundrobin\n  option httpchk GET {base_path}/healthz\n{servers}",
            socket.display()
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
                    dir,
                };
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("haproxy did not listen on {port}");
    }

    /// Each backend's state as its health checks left it (`UP`, `DOWN`, `UP 1/2`, …), from the
    /// stats socket's `show stat`.
    pub fn backend_states(&self) -> Vec<String> {
        let mut socket = std::os::unix::net::UnixStream::connect(self.dir.0.join("stats.sock"))
            .expect("haproxy's stats socket");
        socket.write_all(b"show stat\n").unwrap();
        let mut csv = String::new();
        socket.read_to_string(&mut csv).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines
            .next()
            .unwrap_or_default()
            .trim_start_matches("# ")
            .split(',')
            .collect();
        let column = |name: &str| header.iter().position(|c| *c == name).unwrap();
        let (px, sv, status) = (column("pxname"), column("svname"), column("status"));
        lines
            .map(|l| l.split(',').collect::<Vec<_>>())
            .filter(|f| f.len() > status && f[px] == "bffs" && f[sv].starts_with('b'))
            .map(|f| f[status].to_owned())
            .collect()
    }

    /// Waits until the health checks see every backend up (10 s at most).
    pub async fn wait_until_all_up(&self) {
        let mut states = Vec::new();
        for _ in 0..200 {
            states = self.backend_states();
            if states.iter().all(|s| s == "UP") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("haproxy does not see every backend up: {states:?}");
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a [`Cluster`]'s instances keep their sessions.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClusterStore {
    /// Each instance its own memory store (a cluster of one).
    Memory,
    /// One `redis-server` without persistence.
    Redis,
    /// One `redis-server` with an append-only file: what it held survives
    /// [`Cluster::restart_redis`].
    PersistentRedis,
}

/// Instances of the binary behind HAProxy (round robin, health checks, `X-Forwarded-For`) on one
/// store: the deployment of `cluster.rs`, `contract_cluster.rs` and the bench. The provider must
/// know the proxy's origin and the instances the provider's issuer, hence two steps:
/// [`Cluster::prepare`] (store and proxy), the caller's `Op::start(&cluster.proxy.origin)`, then
/// [`Cluster::start`].
pub struct Cluster {
    pub redis: Option<Redis>,
    redis_dir: Option<TempDir>,
    pub proxy: Haproxy,
    pub ports: Vec<u16>,
    pub instances: Vec<BffProcess>,
    pub base_path: String,
    /// The API as the browser sees it: `{proxy origin}{base path}`.
    pub api: String,
    issuer: String,
    /// What every instance is given besides [`BffProcess::variables`].
    env: Vec<(String, String)>,
}

impl Cluster {
    /// The store and the proxy over `size` free ports; no instance runs yet.
    pub fn prepare(size: usize, base_path: &str, store: ClusterStore) -> Cluster {
        let (redis, redis_dir) = match store {
            ClusterStore::Memory => (None, None),
            ClusterStore::Redis => (Some(Redis::start()), None),
            ClusterStore::PersistentRedis => {
                let dir = TempDir::new("redis");
                (
                    Some(Redis::start_persistent(free_port(), &dir.0)),
                    Some(dir),
                )
            }
        };
        let ports: Vec<u16> = (0..size).map(|_| free_port()).collect();
        let proxy = Haproxy::start(&ports, base_path);
        let store = redis
            .as_ref()
            .map_or("memory".to_owned(), |r| r.url.clone());
        let env = [
            ("BFF_STORE", store),
            ("BFF_PUBLIC_ORIGIN", proxy.origin.clone()),
            ("BFF_BASE_PATH", base_path.to_owned()),
            ("BFF_CLIENT_IP_HEADER", "x-forwarded-for".to_owned()),
            ("BFF_LOG", "warn".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .to_vec();
        Cluster {
            redis,
            redis_dir,
            api: format!("{}{base_path}", proxy.origin),
            proxy,
            ports,
            instances: Vec::new(),
            base_path: base_path.to_owned(),
            issuer: String::new(),
            env,
        }
    }

    /// The configuration an instance reads from its variables, with `extra` added: what
    /// [`Cluster::start`] with `extra` gives each of them (all but the port, instance 0's).
    pub fn config(&self, issuer: &str, extra: &[(&str, &str)]) -> Config {
        let mut vars: Vec<(String, String)> = BffProcess::variables(self.ports[0], issuer)
            .map(|(k, v)| (k.to_owned(), v))
            .to_vec();
        vars.extend(self.env.iter().cloned());
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        // The last value of a variable wins, as in the `Command` that starts the binary.
        Config::from_lookup(|name| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .unwrap()
    }

    /// Starts every instance with the shared variables and `extra` (after them: `extra` wins),
    /// then waits until the proxy's health checks see all of them up.
    pub async fn start(&mut self, issuer: &str, extra: &[(&str, &str)]) {
        self.issuer = issuer.to_owned();
        self.env
            .extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.instances = self.ports.iter().map(|&p| self.start_instance(p)).collect();
        self.proxy.wait_until_all_up().await;
    }

    /// One instance on `port` (a restart: the port of one that stopped).
    pub fn start_instance(&self, port: u16) -> BffProcess {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        BffProcess::start(port, &self.issuer, &env)
    }

    /// Instance `i`'s API, directly (not through the proxy).
    pub fn instance_api(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}{}", self.ports[i], self.base_path)
    }

    /// Starts Redis again on its port (after `redis.stop()`), on its append-only file if it has
    /// one.
    pub fn restart_redis(&mut self) {
        let port = self.redis.as_ref().expect("a cluster on Redis").port;
        self.redis = Some(match &self.redis_dir {
            Some(dir) => Redis::start_persistent(port, &dir.0),
            None => Redis::start_on(port),
        });
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

/// 43 base64url characters, like a session id, from a counter and a seed (no RNG needed).
pub fn random_cookie(i: u64, seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ seed;
    (0..43)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % 64) as usize] as char
        })
        .collect()
}

/// The resident-memory limit the hostile-traffic tests state for their process (the harness, the
/// runtime and the backend with its store measure ~17-20 MiB there).
pub const RESIDENT_LIMIT_KIB: u64 = 64 * 1024;

/// `VmRSS` of process `pid` (`"self"`: this one), in KiB.
pub fn resident_kib(pid: &str) -> Option<u64> {
    proc_status_kib(pid, "VmRSS:")
}

/// `field` (`VmRSS:`, `VmHWM:`, …) of `/proc/{pid}/status`, in KiB.
pub fn proc_status_kib(pid: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// `one(0)`, …, `one(n - 1)` on `workers` concurrent tasks (worker `w` takes `w`, `w + workers`,
/// …); how many answered each status code.
pub async fn flood<F, Fut>(n: u64, workers: u64, one: F) -> BTreeMap<u16, u64>
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = StatusCode> + Send,
{
    let one = Arc::new(one);
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let one = one.clone();
            tokio::spawn(async move {
                let mut counts = BTreeMap::new();
                for i in (w..n).step_by(workers as usize) {
                    *counts.entry(one(i).await.as_u16()).or_insert(0) += 1;
                }
                counts
            })
        })
        .collect();
    let mut total = BTreeMap::new();
    for t in tasks {
        for (status, count) in t.await.unwrap() {
            *total.entry(status).or_insert(0) += count;
        }
    }
    total
}
