//! An in-memory browser origin: the `Platform` the simulation runs the real clients on.
//!
//! One `World` is the origin and everything it talks to: tabs (pages come and go; a tab keeps
//! its `sessionStorage` across reloads), `localStorage`, IndexedDB, Web Locks (FIFO, released
//! when the holder's page goes away), a BroadcastChannel with delays, the vault's service
//! worker (stopped and restarted at will; its sealed store survives), a simulated clock with
//! timers and wake-up events, a single-threaded executor, and the provider. A page's tasks,
//! timers and listeners belong to its page id: a reload drops them all at once, as a browser
//! does, and a new page starts on the same storage.
//!
//! Nothing here decides anything about the session; it only carries calls out and records what
//! the provider saw.

use crate::client::platform::{Area, Job, JsonReply, Platform, Reply};
use crate::core::error::{Error, ErrorKind};
use crate::core::jwt::{Alg, Jwk};
use crate::core::pkce::{b64url, Sha256};
use crate::core::server::ServerConfig;
use crate::core::token::REQUEST_TIMEOUT_MS;
use crate::core::url::{form_encode, parse_query, query_of};
use sha2::Digest;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

pub(crate) const ISSUER: &str = "https://op.example";
pub(crate) const APP: &str = "https://app.example";
pub(crate) const CLIENT_ID: &str = "sim-app";
/// The tab id of the vault's service worker (it has no `sessionStorage`).
pub(crate) const WORKER_TAB: u64 = u64::MAX;
const KID: &str = "k1";

/// splitmix64: small, seedable, and the same on every machine.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

// ---- executor ---------------------------------------------------------------------------------

type Task = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Default)]
struct ReadyQueue(Mutex<VecDeque<u64>>);

struct TaskWaker {
    id: u64,
    queue: Arc<ReadyQueue>,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        self.queue.0.lock().unwrap().push_back(self.id);
    }
}

/// A value delivered later (an HTTP answer, a lock grant, a vault reply): the first delivery
/// wins.
pub(crate) struct Slot<T>(Rc<RefCell<(Option<T>, Option<Waker>, bool)>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Self {
        Self(Rc::new(RefCell::new((None, None, false))))
    }
    pub(crate) fn deliver(&self, v: T) {
        let waker = {
            let mut s = self.0.borrow_mut();
            if s.2 {
                return;
            }
            s.2 = true;
            s.0 = Some(v);
            s.1.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T> Future for Slot<T> {
    type Output = T;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut s = self.0.borrow_mut();
        match s.0.take() {
            Some(v) => Poll::Ready(v),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

// ---- the provider -----------------------------------------------------------------------------

/// One grant: a sign-in and its chain of rotating refresh tokens.
pub(crate) struct Grant {
    pub(crate) sub: String,
    pub(crate) alive: bool,
    /// Ended by a revocation (a sign-out), not by a reuse.
    pub(crate) revoked: bool,
    /// When its last access token expires (ms).
    pub(crate) expires_ms: u64,
}

struct Code {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    used: bool,
    sub: String,
}

/// Faults the provider's token endpoint may show, in percent of requests.
#[derive(Clone, Copy, Default)]
pub(crate) struct Faults {
    pub(crate) unavailable: u64,
    pub(crate) html: u64,
    pub(crate) stall: u64,
    /// The largest answer latency, in ms.
    pub(crate) latency_ms: u64,
}

/// A provider as strict as the ones we test against: codes are single-use and PKCE-checked,
/// refresh tokens rotate and are single-use, a reused one ends the whole grant, revocation
/// ends it too.
#[derive(Default)]
pub(crate) struct Provider {
    pub(crate) grants: Vec<Grant>,
    /// Refresh token → (grant, already used).
    refresh: HashMap<String, (usize, bool)>,
    codes: HashMap<String, Code>,
    /// Every access and refresh token issued (for the invariant on where tokens are written).
    pub(crate) issued: Vec<String>,
    /// Refresh tokens presented a second time (each ended its grant).
    pub(crate) presented_twice: Vec<String>,
    /// Refresh tokens whose rotation answer did not reach the client that presented them (its
    /// page went away, or the request stalled past the timeout): the one known cause of a
    /// token presented again.
    pub(crate) answers_lost: BTreeSet<String>,
    pub(crate) refresh_grants: u64,
    pub(crate) code_grants: u64,
    pub(crate) revocations: u64,
    /// The user has a session at the provider (for `prompt=none`).
    pub(crate) logged_in: bool,
    pub(crate) access_lifetime: u64,
    serial: u64,
}

fn sha(data: &[u8]) -> Sha256 {
    sha2::Sha256::digest(data).into()
}

/// The simulated ES256 signature: 64 bytes that only the key id and the input determine.
fn signature(kid: &str, input: &[u8]) -> Vec<u8> {
    let mut a = b"sim|".to_vec();
    a.extend_from_slice(kid.as_bytes());
    a.extend_from_slice(input);
    let mut b = input.to_vec();
    b.extend_from_slice(kid.as_bytes());
    let mut sig = sha(&a).to_vec();
    sig.extend_from_slice(&sha(&b));
    sig
}

fn json_reply(status: u16, body: String) -> Reply {
    Reply {
        status,
        content_type: Some("application/json".into()),
        retry_after: None,
        body,
    }
}

fn oauth_error(code: &str) -> Reply {
    json_reply(400, format!(r#"{{"error":"{code}"}}"#))
}

impl Provider {
    fn fresh(&mut self, what: &str) -> String {
        self.serial += 1;
        format!("{what}-{}", self.serial)
    }

    pub(crate) fn discovery() -> String {
        format!(
            r#"{{"issuer":"{ISSUER}","authorization_endpoint":"{ISSUER}/authorize","token_endpoint":"{ISSUER}/token","jwks_uri":"{ISSUER}/jwks","revocation_endpoint":"{ISSUER}/revoke","end_session_endpoint":"{ISSUER}/logout","response_types_supported":["code"],"subject_types_supported":["public"],"id_token_signing_alg_values_supported":["ES256"],"code_challenge_methods_supported":["S256"],"authorization_response_iss_parameter_supported":true}}"#
        )
    }

    fn jwks() -> String {
        let xy = b64url(&[7u8; 32]);
        format!(
            r#"{{"keys":[{{"kty":"EC","crv":"P-256","kid":"{KID}","use":"sig","alg":"ES256","x":"{xy}","y":"{xy}"}}]}}"#
        )
    }

    /// A code for a sign-in whose authorization request is `url`.
    pub(crate) fn authorize(&mut self, url: &str, sub: &str) -> Option<(String, String, String)> {
        let q: HashMap<String, String> = parse_query(query_of(url)).into_iter().collect();
        let code = self.fresh("code");
        self.codes.insert(
            code.clone(),
            Code {
                nonce: q.get("nonce")?.clone(),
                challenge: q.get("code_challenge")?.clone(),
                redirect_uri: q.get("redirect_uri")?.clone(),
                used: false,
                sub: sub.into(),
            },
        );
        self.logged_in = true;
        Some((
            code,
            q.get("state")?.clone(),
            q.get("redirect_uri")?.clone(),
        ))
    }

    fn tokens(&mut self, grant: usize, nonce: Option<&str>, now_ms: u64) -> Reply {
        let access = self.fresh("at");
        let refresh = self.fresh("rt");
        self.issued.push(access.clone());
        self.issued.push(refresh.clone());
        self.refresh.insert(refresh.clone(), (grant, false));
        let now = now_ms / 1000;
        let g = &mut self.grants[grant];
        g.expires_ms = now_ms + self.access_lifetime * 1000;
        let digest = sha(access.as_bytes());
        let at_hash = b64url(&digest[..16]);
        let nonce = nonce.map_or(String::new(), |n| format!(r#","nonce":"{n}""#));
        let payload = format!(
            r#"{{"iss":"{ISSUER}","sub":"{}","aud":"{CLIENT_ID}","iat":{now},"exp":{},"at_hash":"{at_hash}","name":"User {}"{nonce}}}"#,
            g.sub,
            now + 600,
            g.sub
        );
        let header = format!(r#"{{"alg":"ES256","kid":"{KID}","typ":"JWT"}}"#);
        let input = format!(
            "{}.{}",
            b64url(header.as_bytes()),
            b64url(payload.as_bytes())
        );
        let id = format!("{input}.{}", b64url(&signature(KID, input.as_bytes())));
        json_reply(
            200,
            format!(
                r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":{},"refresh_token":"{refresh}","id_token":"{id}","scope":"openid"}}"#,
                self.access_lifetime
            ),
        )
    }

    fn token(&mut self, form: &HashMap<String, String>, now_ms: u64) -> Reply {
        match form.get("grant_type").map(String::as_str) {
            Some("authorization_code") => {
                self.code_grants += 1;
                let Some(c) = form.get("code").and_then(|c| self.codes.get_mut(c)) else {
                    return oauth_error("invalid_grant");
                };
                let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                if c.used
                    || b64url(&sha(verifier.as_bytes())) != c.challenge
                    || form.get("redirect_uri") != Some(&c.redirect_uri)
                {
                    return oauth_error("invalid_grant");
                }
                c.used = true;
                let (sub, nonce) = (c.sub.clone(), c.nonce.clone());
                self.grants.push(Grant {
                    sub,
                    alive: true,
                    revoked: false,
                    expires_ms: 0,
                });
                let g = self.grants.len() - 1;
                self.tokens(g, Some(&nonce), now_ms)
            }
            Some("refresh_token") => {
                self.refresh_grants += 1;
                let rt = form.get("refresh_token").cloned().unwrap_or_default();
                let Some(&(g, used)) = self.refresh.get(&rt) else {
                    return oauth_error("invalid_grant");
                };
                if used {
                    self.presented_twice.push(rt);
                    self.grants[g].alive = false;
                    return oauth_error("invalid_grant");
                }
                if !self.grants[g].alive {
                    return oauth_error("invalid_grant");
                }
                self.refresh.insert(rt, (g, true));
                self.tokens(g, None, now_ms)
            }
            _ => oauth_error("unsupported_grant_type"),
        }
    }

    fn revoke(&mut self, form: &HashMap<String, String>) -> Reply {
        self.revocations += 1;
        if let Some(&(g, _)) = form.get("token").and_then(|t| self.refresh.get(t)) {
            self.grants[g].alive = false;
            self.grants[g].revoked = true;
        }
        json_reply(200, String::new())
    }

    fn handle(&mut self, method: &str, url: &str, body: Option<&str>, now_ms: u64) -> Reply {
        let form: HashMap<String, String> = parse_query(body.unwrap_or("")).into_iter().collect();
        let path = url.strip_prefix(ISSUER).unwrap_or("");
        match (method, path) {
            ("GET", "/.well-known/openid-configuration") => json_reply(200, Self::discovery()),
            ("GET", "/jwks") => json_reply(200, Self::jwks()),
            ("POST", "/token") => self.token(&form, now_ms),
            ("POST", "/revoke") => self.revoke(&form),
            _ => Reply {
                status: 404,
                content_type: Some("text/html".into()),
                retry_after: None,
                body: "<html>not found</html>".into(),
            },
        }
    }

    /// The refresh token a token request presents, if it is one.
    fn presented(body: Option<&str>) -> Option<String> {
        let form: HashMap<String, String> = parse_query(body?).into_iter().collect();
        (form.get("grant_type")? == "refresh_token").then(|| form.get("refresh_token").cloned())?
    }

    /// The refresh token a successful rotation answer carries.
    fn rotated(reply: &Reply) -> Option<String> {
        if reply.status != 200 {
            return None;
        }
        let i = reply.body.find(r#""refresh_token":""#)? + 17;
        let rest = &reply.body[i..];
        Some(rest[..rest.find('"')?].to_owned())
    }
}

// ---- the backend of server mode -----------------------------------------------------------------

/// The app's backend-for-frontend (server mode), as the contract says it behaves: one session
/// per browser (its cookie), `me`, `refresh`, `signout`, `login`, and an API that answers 401
/// once the session's access token expired.
#[derive(Default)]
pub(crate) struct Backend {
    /// The session: its user and when its access token expires (ms).
    pub(crate) session: Option<(String, u64)>,
    pub(crate) lifetime_ms: u64,
    pub(crate) refreshes: u64,
    /// Bumped at every sign-in and sign-out: which session a call met.
    pub(crate) generation: u64,
    /// `/refresh` calls that came while the access token was still fresh (another tab had
    /// refreshed already): the skip rule's misses.
    pub(crate) redundant_refreshes: u64,
}

/// An API of the app, behind the backend.
pub(crate) const API: &str = "https://app.example/api/data";

impl Backend {
    fn handle(&mut self, method: &str, url: &str, now_ms: u64) -> Reply {
        let path = url.strip_prefix(APP).unwrap_or("");
        let fresh = self.session.as_ref().is_some_and(|(_, exp)| *exp > now_ms);
        match (method, path, &self.session) {
            ("GET", "/api/auth/me", Some((sub, _))) => {
                json_reply(200, format!(r#"{{"sub":"{sub}","name":"User {sub}"}}"#))
            }
            ("POST", "/api/auth/refresh", Some(_)) => {
                self.refreshes += 1;
                if fresh {
                    self.redundant_refreshes += 1;
                }
                if let Some((_, exp)) = &mut self.session {
                    *exp = now_ms + self.lifetime_ms;
                }
                json_reply(200, "{}".into())
            }
            ("POST", "/api/auth/signout", _) => {
                self.session = None;
                self.generation += 1;
                json_reply(200, "{}".into())
            }
            ("GET", "/api/data", Some(_)) if fresh => json_reply(200, r#"{"data":1}"#.into()),
            _ => json_reply(401, r#"{"error":{"code":"UNAUTHENTICATED"}}"#.into()),
        }
    }
}

// ---- the world --------------------------------------------------------------------------------

/// An event on the simulated clock, dropped when its page is gone.
struct Event {
    page: Option<u64>,
    run: Box<dyn FnOnce()>,
}

struct Listener {
    name: String,
    page: u64,
    alive: Rc<Cell<bool>>,
    f: Rc<RefCell<dyn FnMut(String)>>,
}

struct WakeListener {
    page: u64,
    alive: Rc<Cell<bool>>,
    f: Rc<RefCell<dyn FnMut()>>,
}

#[derive(Default)]
struct LockState {
    holder: Option<u64>,
    /// Waiting requests; a grant delivers `true`, giving up delivers `false`.
    queue: VecDeque<(u64, Slot<bool>)>,
}

/// A page: its URL, and where it is navigating to, if anywhere.
pub(crate) struct Page {
    pub(crate) href: String,
    pub(crate) left: Option<String>,
}

/// The vault's worker as the origin runs it: its page id (a new one after each restart) and
/// its server.
pub(crate) struct Worker {
    pub(crate) page: u64,
    pub(crate) server: Rc<crate::client::sim_api::VaultServer<Sim>>,
}

pub(crate) struct World {
    pub(crate) now_ms: Cell<u64>,
    pub(crate) rng: RefCell<Rng>,
    tasks: RefCell<BTreeMap<u64, (u64, Option<Task>)>>,
    ready: Arc<ReadyQueue>,
    next_id: Cell<u64>,
    events: RefCell<BTreeMap<(u64, u64), Event>>,
    pub(crate) pages: RefCell<BTreeMap<u64, Page>>,
    pub(crate) local: RefCell<BTreeMap<String, String>>,
    pub(crate) session: RefCell<BTreeMap<(u64, String), String>>,
    pub(crate) idb: RefCell<BTreeMap<String, String>>,
    pub(crate) sealed: RefCell<BTreeMap<String, String>>,
    locks: RefCell<BTreeMap<String, LockState>>,
    listeners: RefCell<Vec<Listener>>,
    wake_listeners: RefCell<Vec<WakeListener>>,
    pub(crate) provider: RefCell<Provider>,
    pub(crate) backend: RefCell<Backend>,
    pub(crate) faults: Cell<Faults>,
    /// Service workers can run here.
    pub(crate) vault_supported: Cell<bool>,
    pub(crate) worker: RefCell<Option<Worker>>,
    /// Pages whose script no longer runs.
    frozen: RefCell<BTreeSet<u64>>,
    /// Token requests whose answer was dropped because the asking page was gone.
    pub(crate) cut_in_flight: Cell<u64>,
    /// Vault questions answered by a timeout (the worker was stopped mid-question).
    pub(crate) vault_timeouts: Cell<u64>,
    /// How far the clock has jumped in all (sleeps).
    pub(crate) jumped_ms: Cell<u64>,
    /// Refresh requests of each page: (page, request, the token presented, the token its
    /// answer rotated to, once known). A page that goes away before the rotated token is
    /// stored has cut the rotation.
    in_flight: RefCell<Vec<(u64, u64, String, Option<String>)>>,
    /// What the provider saw and what became of its answers, for a failing scenario's trace.
    pub(crate) log: RefCell<Vec<(u64, String)>>,
}

impl World {
    pub(crate) fn new(seed: u64) -> Rc<Self> {
        Rc::new(Self {
            now_ms: Cell::new(1_800_000_000_000),
            rng: RefCell::new(Rng(seed)),
            tasks: RefCell::default(),
            ready: Arc::default(),
            next_id: Cell::new(1),
            events: RefCell::default(),
            pages: RefCell::default(),
            local: RefCell::default(),
            session: RefCell::default(),
            idb: RefCell::default(),
            sealed: RefCell::default(),
            locks: RefCell::default(),
            listeners: RefCell::default(),
            wake_listeners: RefCell::default(),
            provider: RefCell::default(),
            backend: RefCell::default(),
            faults: Cell::default(),
            vault_supported: Cell::new(true),
            worker: RefCell::default(),
            frozen: RefCell::default(),
            cut_in_flight: Cell::new(0),
            vault_timeouts: Cell::new(0),
            log: RefCell::default(),
            in_flight: RefCell::default(),
            jumped_ms: Cell::new(0),
        })
    }

    fn id(&self) -> u64 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        id
    }

    pub(crate) fn random(&self, n: u64) -> u64 {
        self.rng.borrow_mut().below(n)
    }

    pub(crate) fn chance(&self, percent: u64) -> bool {
        self.rng.borrow_mut().chance(percent)
    }

    /// Opens a page in `tab` at `href`: the platform handle its client runs on.
    pub(crate) fn open_page(self: &Rc<Self>, tab: u64, href: &str) -> Sim {
        let page = self.id();
        self.pages.borrow_mut().insert(
            page,
            Page {
                href: href.into(),
                left: None,
            },
        );
        Sim {
            world: self.clone(),
            page,
            tab,
        }
    }

    /// Whether the page is open and its script runs (not frozen).
    pub(crate) fn page_alive(&self, page: u64) -> bool {
        self.pages.borrow().contains_key(&page) && !self.frozen.borrow().contains(&page)
    }

    /// The page's script stops for good (the browser froze the tab, or its JS hangs): its tasks
    /// are never polled again and nothing reaches it, but it keeps its locks until it goes away.
    pub(crate) fn freeze(&self, page: u64) {
        self.frozen.borrow_mut().insert(page);
    }

    /// The page goes away (reload, navigation, close): its tasks, timers, listeners and locks
    /// go with it. Its tab's `sessionStorage` stays.
    pub(crate) fn close_page(&self, page: u64) {
        self.pages.borrow_mut().remove(&page);
        self.frozen.borrow_mut().remove(&page);
        self.drop_context(page);
    }

    fn drop_context(&self, page: u64) {
        // Whatever this page's token requests present may be spent without its answer.
        let cut: Vec<String> = {
            let mut f = self.in_flight.borrow_mut();
            let cut = f
                .iter()
                .filter(|(p, _, _, new)| {
                    *p == page && new.as_deref().is_none_or(|n| !self.stored(n))
                })
                .map(|(_, _, rt, _)| rt.clone())
                .collect();
            f.retain(|(p, _, _, _)| *p != page);
            cut
        };
        if !cut.is_empty() {
            let t = self.now_ms.get();
            let mut log = self.log.borrow_mut();
            for rt in &cut {
                log.push((t, format!("page {page} gone with {rt} in flight")));
            }
            self.provider.borrow_mut().answers_lost.extend(cut);
        }
        self.listeners.borrow_mut().retain(|l| l.page != page);
        self.wake_listeners.borrow_mut().retain(|l| l.page != page);
        let dropped: Vec<_> = {
            let mut tasks = self.tasks.borrow_mut();
            let ids: Vec<u64> = tasks
                .iter()
                .filter(|(_, (p, _))| *p == page)
                .map(|(id, _)| *id)
                .collect();
            ids.into_iter().filter_map(|id| tasks.remove(&id)).collect()
        };
        // Dropped outside the borrow: dropping a future releases its locks, which may grant
        // (and wake) another page's request.
        drop(dropped);
        let events: Vec<_> = {
            let mut ev = self.events.borrow_mut();
            let keys: Vec<_> = ev
                .iter()
                .filter(|(_, e)| e.page == Some(page))
                .map(|(k, _)| *k)
                .collect();
            keys.into_iter().filter_map(|k| ev.remove(&k)).collect()
        };
        drop(events);
    }

    /// The browser stops the vault's worker (its memory and tasks are gone; its store stays).
    pub(crate) fn stop_worker(&self) {
        let w = self.worker.borrow_mut().take();
        if let Some(w) = w {
            self.drop_context(w.page);
            drop(w);
        }
    }

    fn worker(self: &Rc<Self>) -> (u64, Rc<crate::client::sim_api::VaultServer<Sim>>) {
        if let Some(w) = &*self.worker.borrow() {
            return (w.page, w.server.clone());
        }
        let page = self.id();
        let sim = Sim {
            world: self.clone(),
            page,
            tab: WORKER_TAB,
        };
        let server = Rc::new(crate::client::sim_api::VaultServer::new(sim));
        *self.worker.borrow_mut() = Some(Worker {
            page,
            server: server.clone(),
        });
        (page, server)
    }

    pub(crate) fn spawn_in(&self, page: u64, job: Task) {
        let id = self.id();
        self.tasks.borrow_mut().insert(id, (page, Some(job)));
        self.ready.0.lock().unwrap().push_back(id);
    }

    /// Schedules `run` at `at_ms` (dropped if `page` is gone by then).
    pub(crate) fn at(&self, at_ms: u64, page: Option<u64>, run: impl FnOnce() + 'static) {
        let key = (at_ms.max(self.now_ms.get()), self.id());
        self.events.borrow_mut().insert(
            key,
            Event {
                page,
                run: Box::new(run),
            },
        );
    }

    /// Polls every task that is ready, until none is.
    pub(crate) fn run_ready(&self) {
        loop {
            let next = self.ready.0.lock().unwrap().pop_front();
            let Some(id) = next else { return };
            let fut = self
                .tasks
                .borrow_mut()
                .get_mut(&id)
                .filter(|(page, _)| !self.frozen.borrow().contains(page))
                .and_then(|(_, f)| f.take());
            let Some(mut fut) = fut else { continue };
            let waker = Waker::from(Arc::new(TaskWaker {
                id,
                queue: self.ready.clone(),
            }));
            let mut cx = Context::from_waker(&waker);
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(()) => {
                    self.tasks.borrow_mut().remove(&id);
                }
                Poll::Pending => {
                    let mut tasks = self.tasks.borrow_mut();
                    match tasks.get_mut(&id) {
                        Some((_, slot)) => *slot = Some(fut),
                        None => {
                            drop(tasks);
                            drop(fut);
                        }
                    }
                }
            }
        }
    }

    /// Runs every task and event up to `until_ms`, then sets the clock there.
    pub(crate) fn run_until(&self, until_ms: u64) {
        loop {
            self.run_ready();
            let next = {
                let mut ev = self.events.borrow_mut();
                match ev.keys().next().copied() {
                    Some(k) if k.0 <= until_ms => ev.remove(&k).map(|e| (k.0, e)),
                    _ => None,
                }
            };
            let Some((at, e)) = next else { break };
            self.now_ms.set(self.now_ms.get().max(at));
            if e.page
                .is_none_or(|p| self.page_alive(p) || self.is_worker(p))
            {
                (e.run)();
            }
        }
        self.now_ms.set(self.now_ms.get().max(until_ms));
    }

    /// Writes IndexedDB directly (a script of the origin that is not the client).
    pub(crate) fn idb_set_raw(&self, key: &str, value: &str) {
        self.idb.borrow_mut().insert(key.into(), value.into());
    }

    /// Whether `token` is kept anywhere that outlives a page.
    fn stored(&self, token: &str) -> bool {
        let has = |m: &BTreeMap<String, String>| m.values().any(|v| v.contains(token));
        has(&self.local.borrow())
            || has(&self.idb.borrow())
            || has(&self.sealed.borrow())
            || self.session.borrow().values().any(|v| v.contains(token))
    }

    fn is_worker(&self, page: u64) -> bool {
        self.worker
            .borrow()
            .as_ref()
            .is_some_and(|w| w.page == page)
    }

    /// The clock jumps (a laptop wakes up): timers did not run meanwhile; the pages hear
    /// `focus`/`visibilitychange`.
    pub(crate) fn jump(&self, ms: u64) {
        self.now_ms.set(self.now_ms.get() + ms);
        self.jumped_ms.set(self.jumped_ms.get() + ms);
        let listeners: Vec<_> = self
            .wake_listeners
            .borrow()
            .iter()
            .filter(|l| l.alive.get())
            .map(|l| l.f.clone())
            .collect();
        for f in listeners {
            (f.borrow_mut())();
        }
    }

    /// Breaks the cycles between the world and what runs in it.
    pub(crate) fn shutdown(&self) {
        self.worker.borrow_mut().take();
        let tasks = std::mem::take(&mut *self.tasks.borrow_mut());
        drop(tasks);
        let events = std::mem::take(&mut *self.events.borrow_mut());
        drop(events);
        self.listeners.borrow_mut().clear();
        self.wake_listeners.borrow_mut().clear();
    }

    /// One HTTP exchange: the provider handles the request when it arrives (whether or not the
    /// answer comes back), the answer reaches `page` after the latency, unless the page is
    /// gone or the request timed out first.
    fn http(
        self: &Rc<Self>,
        page: u64,
        method: &str,
        url: &str,
        body: Option<String>,
    ) -> Slot<Result<Reply, Error>> {
        let slot = Slot::new();
        let faults = self.faults.get();
        let token = url.ends_with("/token") || url.ends_with("/api/auth/refresh");
        let request = self.id();
        if let Some(rt) = Provider::presented(body.as_deref()) {
            self.in_flight.borrow_mut().push((page, request, rt, None));
        }
        let fault = if token { self.random(100) } else { 100 };
        let latency = 1 + self.random(faults.latency_ms.max(1));
        let now = self.now_ms.get();
        let (world, reply_slot) = (self.clone(), slot.clone());
        let (method, url) = (method.to_owned(), url.to_owned());
        self.at(now + latency / 2, None, move || {
            let stall = fault < faults.stall;
            let reply = if fault < faults.stall + faults.unavailable && !stall {
                Reply {
                    status: 503,
                    content_type: Some("application/json".into()),
                    retry_after: Some("1".into()),
                    body: r#"{"error":"temporarily_unavailable"}"#.into(),
                }
            } else if fault < faults.stall + faults.unavailable + faults.html && !stall {
                Reply {
                    status: 502,
                    content_type: Some("text/html".into()),
                    retry_after: None,
                    body: "<html>bad gateway</html>".into(),
                }
            } else if url.starts_with(APP) {
                let t = world.now_ms.get();
                let r = world.backend.borrow_mut().handle(&method, &url, t);
                let path = url.strip_prefix(APP).unwrap_or("");
                let line = format!("page {page}: {method} {path} -> {}", r.status);
                world.log.borrow_mut().push((t, line));
                r
            } else {
                let t = world.now_ms.get();
                world
                    .provider
                    .borrow_mut()
                    .handle(&method, &url, body.as_deref(), t)
            };
            let rotated = Provider::rotated(&reply);
            let presented = Provider::presented(body.as_deref());
            // The token whose rotation answer may now be lost: the one presented.
            let spent = rotated.as_ref().and(presented.clone());
            if token && !url.starts_with(APP) {
                let what = match (&presented, &rotated, stall) {
                    (Some(rt), Some(new), false) => format!("refresh {rt} -> {new}"),
                    (Some(rt), Some(new), true) => format!("refresh {rt} -> {new}, answer stalls"),
                    (Some(rt), None, _) => {
                        format!("refresh {rt} -> {} {}", reply.status, reply.body)
                    }
                    (None, _, _) => format!("code exchange -> {}", reply.status),
                };
                world
                    .log
                    .borrow_mut()
                    .push((world.now_ms.get(), format!("page {page}: {what}")));
            }
            let answer_at = world.now_ms.get() + latency / 2;
            let w = world.clone();
            if stall {
                // The answer never comes; the client's timeout cuts the request.
                if let Some(rt) = spent {
                    w.provider.borrow_mut().answers_lost.insert(rt);
                }
                return;
            }
            world.at(answer_at, None, move || {
                for f in w.in_flight.borrow_mut().iter_mut() {
                    if f.1 == request {
                        f.3 = rotated.clone();
                    }
                }
                let timed_out = reply_slot.0.borrow().2;
                if timed_out {
                    // The client's timeout came first (the machine slept mid-request).
                    if let Some(rt) = spent {
                        let t = w.now_ms.get();
                        w.log
                            .borrow_mut()
                            .push((t, format!("page {page} timed out: {rt} lost")));
                        w.provider.borrow_mut().answers_lost.insert(rt);
                    }
                } else if w.page_alive(page) || w.is_worker(page) {
                    if token {
                        let t = w.now_ms.get();
                        w.log
                            .borrow_mut()
                            .push((t, format!("page {page}: answer delivered")));
                    }
                    reply_slot.deliver(Ok(reply));
                } else if let Some(rt) = spent {
                    let t = w.now_ms.get();
                    w.log
                        .borrow_mut()
                        .push((t, format!("page {page} gone: {rt} lost")));
                    w.cut_in_flight.set(w.cut_in_flight.get() + 1);
                    w.provider.borrow_mut().answers_lost.insert(rt);
                }
            });
        });
        let (timeout_slot, w) = (slot.clone(), self.clone());
        self.at(now + u64::from(REQUEST_TIMEOUT_MS), Some(page), move || {
            if !timeout_slot.0.borrow().2 {
                // Timed out (the provider stalled, or the machine slept mid-request): whatever
                // the request presented may be spent without an answer; and a rotation this
                // page received but has not stored yet (it was still verifying the answer,
                // e.g. fetching the keys) is lost with the step that timed out.
                let presented: Vec<String> = w
                    .in_flight
                    .borrow()
                    .iter()
                    .filter(|f| {
                        f.1 == request
                            || (f.0 == page && f.3.as_deref().is_some_and(|n| !w.stored(n)))
                    })
                    .map(|f| f.2.clone())
                    .collect();
                w.provider.borrow_mut().answers_lost.extend(presented);
            }
            timeout_slot.deliver(Err(ErrorKind::Network {
                detail: "the request timed out".into(),
            }
            .into()))
        });
        slot
    }

    fn lock_release(&self, name: &str, req: u64) {
        let grant = {
            let mut locks = self.locks.borrow_mut();
            let l = locks.entry(name.to_owned()).or_default();
            if l.holder == Some(req) {
                l.holder = None;
                // The next request that is still waiting (one that gave up is withdrawn when
                // its future ends).
                let mut next = None;
                while let Some((r, s)) = l.queue.pop_front() {
                    if !s.0.borrow().2 {
                        l.holder = Some(r);
                        next = Some(s);
                        break;
                    }
                }
                next
            } else {
                l.queue.retain(|(r, _)| *r != req);
                None
            }
        };
        if let Some(s) = grant {
            s.deliver(true);
        }
    }
}

/// Releases (or withdraws) a lock request when the future that made it is dropped: a page
/// that goes away releases its locks, as with Web Locks.
struct LockGuard {
    world: Rc<World>,
    name: String,
    req: u64,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        self.world.lock_release(&self.name, self.req);
    }
}

/// A timer or listener registration: dropping it cancels.
pub(crate) struct Registration(Rc<Cell<bool>>);

impl Drop for Registration {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// An open channel of one page.
pub(crate) struct Channel {
    name: String,
    _open: Registration,
}

/// The vault as a page holds it.
#[derive(Clone)]
pub(crate) struct VaultLink;

/// A page (or the vault's worker) of the simulated origin: the platform its client runs on.
#[derive(Clone)]
pub(crate) struct Sim {
    pub(crate) world: Rc<World>,
    pub(crate) page: u64,
    pub(crate) tab: u64,
}

impl Sim {
    /// The app's own request to its API behind the backend (server mode).
    pub(crate) fn api_get(&self) -> Slot<Result<Reply, Error>> {
        self.world.http(self.page, "GET", API, None)
    }

    fn later<T: 'static>(&self, v: T) -> Slot<T> {
        // IndexedDB and the sealed store answer in a later task, as they do in a browser.
        let slot = Slot::new();
        let s = slot.clone();
        self.world
            .at(self.world.now_ms.get() + 1, Some(self.page), move || {
                s.deliver(v)
            });
        slot
    }

    fn vetted(r: Result<Reply, Error>) -> Result<JsonReply, Error> {
        JsonReply::vetted(r?)
    }
}

impl Platform for Sim {
    type Channel = Channel;
    type Timer = Registration;
    type Vault = VaultLink;

    fn now_ms(&self) -> u64 {
        self.world.now_ms.get()
    }
    fn random<const N: usize>(&self) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        for x in &mut b {
            *x = self.world.random(256) as u8;
        }
        Ok(b)
    }
    fn sha256(&self, data: &[u8]) -> impl Future<Output = Result<Sha256, Error>> {
        std::future::ready(Ok(sha(data)))
    }
    fn verify(
        &self,
        _alg: Alg,
        key: &Jwk,
        input: &[u8],
        sig: &[u8],
    ) -> impl Future<Output = Result<bool, Error>> {
        let kid = key.kid.clone().unwrap_or_default();
        std::future::ready(Ok(signature(&kid, input) == sig))
    }
    fn get_json(
        &self,
        url: &str,
        _bearer: Option<&str>,
    ) -> impl Future<Output = Result<JsonReply, Error>> {
        let slot = self.world.http(self.page, "GET", url, None);
        async move { Self::vetted(slot.await) }
    }
    fn post_form(&self, url: &str, body: String) -> impl Future<Output = Result<JsonReply, Error>> {
        let slot = self.world.http(self.page, "POST", url, Some(body));
        async move { Self::vetted(slot.await) }
    }
    fn post_form_no_content(
        &self,
        url: &str,
        body: String,
    ) -> impl Future<Output = Result<u16, Error>> {
        let slot = self.world.http(self.page, "POST", url, Some(body));
        async move {
            match slot.await?.status {
                s @ 200..=299 => Ok(s),
                s => Err(ErrorKind::HttpError { status: s }.into()),
            }
        }
    }
    fn backend(
        &self,
        method: &str,
        url: &str,
        _server: &ServerConfig,
    ) -> impl Future<Output = Result<Reply, Error>> {
        // The backend's paths are relative to the app's origin by default.
        let url = if url.starts_with('/') {
            format!("{APP}{url}")
        } else {
            url.to_owned()
        };
        self.world.http(self.page, method, &url, None)
    }
    fn get(&self, area: Area, key: &str) -> Option<String> {
        match area {
            Area::Local => self.world.local.borrow().get(key).cloned(),
            Area::Session => self
                .world
                .session
                .borrow()
                .get(&(self.tab, key.to_owned()))
                .cloned(),
        }
    }
    fn set(&self, area: Area, key: &str, value: &str) -> Result<(), Error> {
        if self.tab == WORKER_TAB {
            return Err(ErrorKind::Storage {
                detail: "a service worker has no Web Storage".into(),
            }
            .into());
        }
        match area {
            Area::Local => {
                self.world
                    .local
                    .borrow_mut()
                    .insert(key.into(), value.into());
            }
            Area::Session => {
                self.world
                    .session
                    .borrow_mut()
                    .insert((self.tab, key.into()), value.into());
            }
        }
        Ok(())
    }
    fn remove(&self, area: Area, key: &str) {
        match area {
            Area::Local => {
                self.world.local.borrow_mut().remove(key);
            }
            Area::Session => {
                self.world
                    .session
                    .borrow_mut()
                    .remove(&(self.tab, key.to_owned()));
            }
        }
    }
    fn keys_with_prefix(&self, area: Area, prefix: &str) -> Vec<String> {
        match area {
            Area::Local => self
                .world
                .local
                .borrow()
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect(),
            Area::Session => self
                .world
                .session
                .borrow()
                .keys()
                .filter(|(t, k)| *t == self.tab && k.starts_with(prefix))
                .map(|(_, k)| k.clone())
                .collect(),
        }
    }
    fn idb_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>> {
        self.later(Ok(self.world.idb.borrow().get(key).cloned()))
    }
    fn idb_set(&self, key: &str, value: Option<&str>) -> impl Future<Output = Result<(), Error>> {
        match value {
            Some(v) => self.world.idb.borrow_mut().insert(key.into(), v.into()),
            None => self.world.idb.borrow_mut().remove(key),
        };
        self.later(Ok(()))
    }
    fn sealed_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>> {
        self.later(Ok(self.world.sealed.borrow().get(key).cloned()))
    }
    fn sealed_set(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> {
        match value {
            Some(v) => self.world.sealed.borrow_mut().insert(key.into(), v.into()),
            None => self.world.sealed.borrow_mut().remove(key),
        };
        self.later(Ok(()))
    }
    fn locked(&self, name: String, job: Job<Result<(), Error>>) -> Job<Result<(), Error>> {
        let (world, page) = (self.world.clone(), self.page);
        Box::pin(async move {
            let req = world.id();
            let granted = Slot::new();
            {
                let mut locks = world.locks.borrow_mut();
                let l = locks.entry(name.clone()).or_default();
                if l.holder.is_none() {
                    l.holder = Some(req);
                    granted.deliver(true);
                } else {
                    l.queue.push_back((req, granted.clone()));
                    // As Web Locks with an AbortSignal: not granted in time, given up.
                    let g = granted.clone();
                    let at = world.now_ms.get() + u64::from(crate::core::lease::LOCK_WAIT_MS);
                    world.at(at, Some(page), move || g.deliver(false));
                }
            }
            // Dropping this future (its page went away) releases or withdraws the request.
            let _guard = LockGuard { world, name, req };
            if !granted.await {
                return Err(ErrorKind::Timeout {
                    what: "waiting for another tab's refresh",
                }
                .into());
            }
            job.await
        })
    }

    fn open_channel(
        &self,
        name: &str,
        on_message: impl FnMut(String) + 'static,
    ) -> Option<Channel> {
        let alive = Rc::new(Cell::new(true));
        self.world.listeners.borrow_mut().push(Listener {
            name: name.into(),
            page: self.page,
            alive: alive.clone(),
            f: Rc::new(RefCell::new(on_message)),
        });
        Some(Channel {
            name: name.into(),
            _open: Registration(alive),
        })
    }
    fn post(&self, channel: &Channel, msg: &str) {
        let targets: Vec<_> = self
            .world
            .listeners
            .borrow()
            .iter()
            .filter(|l| l.name == channel.name && l.page != self.page && l.alive.get())
            .map(|l| (l.page, l.alive.clone(), l.f.clone()))
            .collect();
        for (page, alive, f) in targets {
            let delay = 1 + self.world.random(40);
            let msg = msg.to_owned();
            self.world
                .at(self.world.now_ms.get() + delay, Some(page), move || {
                    if alive.get() {
                        (f.borrow_mut())(msg);
                    }
                });
        }
    }
    fn spawn(&self, job: Job<()>) {
        self.world.spawn_in(self.page, job);
    }
    fn timeout(&self, ms: u32, mut f: impl FnMut() + 'static) -> Registration {
        let alive = Rc::new(Cell::new(true));
        let a = alive.clone();
        self.world.at(
            self.world.now_ms.get() + u64::from(ms),
            Some(self.page),
            move || {
                if a.get() {
                    f();
                }
            },
        );
        Registration(alive)
    }
    fn on_wake_up(&self, f: impl FnMut() + 'static) -> Registration {
        let alive = Rc::new(Cell::new(true));
        self.world.wake_listeners.borrow_mut().push(WakeListener {
            page: self.page,
            alive: alive.clone(),
            f: Rc::new(RefCell::new(f)),
        });
        Registration(alive)
    }
    fn href(&self) -> Result<String, Error> {
        match self.world.pages.borrow().get(&self.page) {
            Some(p) => Ok(p.href.clone()),
            None => Ok(APP.to_owned() + "/"),
        }
    }
    fn origin(&self) -> Result<String, Error> {
        Ok(APP.into())
    }
    fn replace_url(&self, url: &str) {
        if let Some(p) = self.world.pages.borrow_mut().get_mut(&self.page) {
            p.href = if url.starts_with('/') {
                format!("{APP}{url}")
            } else {
                url.into()
            };
        }
    }
    fn leave(&self, url: &str, _replace: bool) -> Result<(), Error> {
        if let Some(p) = self.world.pages.borrow_mut().get_mut(&self.page) {
            p.left = Some(url.into());
        }
        Ok(())
    }
    fn silent(
        &self,
        url: &str,
        _origin: &str,
        _state: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<String, Error>> {
        let slot = Slot::new();
        let logged_in = self.world.provider.borrow().logged_in;
        let answer =
            if logged_in {
                let sub = "alice";
                self.world.provider.borrow_mut().authorize(url, sub).map(
                    |(code, state, redirect)| {
                        format!(
                            "{redirect}?{}",
                            form_encode(&[("code", &code), ("state", &state), ("iss", ISSUER)])
                        )
                    },
                )
            } else {
                let q: HashMap<String, String> = parse_query(query_of(url)).into_iter().collect();
                q.get("redirect_uri").zip(q.get("state")).map(|(r, s)| {
                    format!(
                        "{r}?{}",
                        form_encode(&[("error", "login_required"), ("state", s), ("iss", ISSUER)])
                    )
                })
            };
        let now = self.world.now_ms.get();
        let s = slot.clone();
        match answer {
            Some(a) => self.world.at(
                now + 5 + self.world.random(50),
                Some(self.page),
                move || s.deliver(Ok(a)),
            ),
            None => self
                .world
                .at(now + u64::from(timeout_ms), Some(self.page), move || {
                    s.deliver(Err(ErrorKind::Timeout {
                        what: "silent sign-in",
                    }
                    .into()))
                }),
        }
        slot
    }
    fn vault_register(&self, _url: &str) -> impl Future<Output = Result<Option<VaultLink>, Error>> {
        let supported = self.world.vault_supported.get();
        std::future::ready(Ok(supported.then_some(VaultLink)))
    }
    fn vault_ask(
        &self,
        _vault: &VaultLink,
        text: &str,
        ms: u32,
    ) -> impl Future<Output = Result<String, Error>> {
        let slot: Slot<Result<String, Error>> = Slot::new();
        let (world, page, now) = (self.world.clone(), self.page, self.world.now_ms.get());
        let (s, text) = (slot.clone(), text.to_owned());
        self.world.at(now + 1, None, move || {
            let (wpage, server) = world.worker();
            let w = world.clone();
            world.spawn_in(
                wpage,
                Box::pin(async move {
                    let reply = server.handle(&text, APP).await;
                    let at = w.now_ms.get() + 1;
                    w.at(at, Some(page), move || s.deliver(Ok(reply)));
                }),
            );
        });
        let (t, w) = (slot.clone(), self.world.clone());
        self.world
            .at(now + u64::from(ms), Some(self.page), move || {
                if !t.0.borrow().2 {
                    w.vault_timeouts.set(w.vault_timeouts.get() + 1);
                }
                t.deliver(Err(ErrorKind::VaultUnavailable {
                    reason: "the service worker did not answer",
                }
                .into()))
            });
        slot
    }
}
