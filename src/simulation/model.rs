//! A deterministic simulation of the refresh race and sign-out, native, in `cargo test` (test
//! code only).
//!
//! Several tabs of one origin share the session's shared copy (IndexedDB, or the token vault's
//! sealed store), one cross-tab lock (FIFO, released when its holder's page goes away, as Web
//! Locks are) and a broadcast channel with delays, which a tab listens to only when
//! `BrowserConfig::shared_by_tabs` says so. Without the vault each tab runs the refresh itself;
//! with it the vault's worker runs it for every tab and a page only asks. Everything decided is
//! the core's own: `RefreshRun` under the lock, `session_from_tokens` for every answer,
//! `adopt_announced` for every broadcast, `needs_refresh` for every call. The provider is as
//! strict as the ones we test against: refresh tokens rotate and are single-use, a reused one
//! revokes the whole grant, and revocation at sign-out ends the grant. Faults: slow answers,
//! stalled requests (cut by the client's request timeout), 503s and HTML pages, reloads at any
//! point (a page's memory and its waiting callers are dropped, a new page restores from the
//! shared copy), clock jumps (a laptop waking up), sign-outs while another tab refreshes.
//!
//! One seed decides every choice (mode, storage, tabs, events); a failing scenario prints its
//! seed and its event trace, and `SIM_SEED=<seed>` replays exactly that one. `SIM_SEEDS=<n>`
//! sets how many scenarios run (`cargo xtask sim --seeds N`).
//!
//! This is a model of the client, fast enough to walk the lock, the channel and the rotation
//! in every order. `clients.rs` runs the real client (with the worker stopped mid-refresh,
//! silent SSO, and `memory`/`session` storage without the vault) over `origin.rs`.

use crate::core::config::{BrowserConfig, Config, ConfigInput, StorageKind, TokenVault};
use crate::core::error::{Error, ErrorKind};
use crate::core::refresh::{needs_refresh, Answer, RefreshRun, RefreshStep};
use crate::core::secret::{AccessToken, IdToken, RefreshToken};
use crate::core::session::{
    adopt_announced, renewal_still_wanted, session_from_tokens, StoredSession,
};
use crate::core::token::{TokenSet, REQUEST_TIMEOUT_MS};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

/// The refresh margin the tabs use, in seconds.
const MARGIN: u64 = 60;
/// The client's request timeout, in seconds.
const TIMEOUT: u64 = REQUEST_TIMEOUT_MS as u64 / 1000;
/// Every `access_token()` settles within this many seconds of simulated time: each tab ahead
/// of it in the lock's queue sends at most two requests (the re-check), each cut by the timeout.
fn settle_bound(tabs: usize) -> u64 {
    (tabs as u64 + 1) * 2 * (TIMEOUT + 5)
}

/// splitmix64: small, seedable, and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The provider: one grant, rotating single-use refresh tokens.
struct Provider {
    alive: bool,
    /// The grant ended because a tab signed out (revocation), not because of a reuse.
    revoked_at_sign_out: bool,
    current: String,
    used: HashSet<String>,
    /// Refresh tokens whose rotation answer a reload cut off in flight.
    cut: HashSet<String>,
    /// Refresh tokens whose rotation answer came after the client's timeout gave up (a sleep
    /// mid-request: the answer is lost on the network, with or without the vault).
    lost: HashSet<String>,
    /// Requests the provider answered with a rotation.
    rotated: HashSet<u64>,
    serial: u64,
    lifetime: u64,
}

/// What the scenarios counted.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub scenarios: u64,
    pub vault_scenarios: u64,
    pub calls: u64,
    pub refresh_grants: u64,
    pub adopted_without_request: u64,
    pub reloads: u64,
    pub sign_outs: u64,
    /// Rotations whose answer a reload cut off in flight (without the vault only).
    pub cut_in_flight: u64,
    /// Rotations whose answer came after the client's timeout (a sleep mid-request).
    pub lost_to_timeout: u64,
    /// Invariant 1's known exception: a token presented again after a reload cut its rotation.
    pub reuse_after_cut: u64,
    /// A token presented again after its rotation's answer was lost to a sleep.
    pub reuse_after_loss: u64,
    /// Sign-outs the refresh flow decided after the provider ended the grant (after a cut).
    pub signed_out_grant_ended: u64,
    pub transient_failures: u64,
    pub longest_call: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.scenarios += o.scenarios;
        self.vault_scenarios += o.vault_scenarios;
        self.calls += o.calls;
        self.refresh_grants += o.refresh_grants;
        self.adopted_without_request += o.adopted_without_request;
        self.reloads += o.reloads;
        self.sign_outs += o.sign_outs;
        self.cut_in_flight += o.cut_in_flight;
        self.lost_to_timeout += o.lost_to_timeout;
        self.reuse_after_cut += o.reuse_after_cut;
        self.reuse_after_loss += o.reuse_after_loss;
        self.signed_out_grant_ended += o.signed_out_grant_ended;
        self.transient_failures += o.transient_failures;
        self.longest_call = self.longest_call.max(o.longest_call);
    }
}

/// A caller of `access_token()` waiting for a flight.
struct Caller {
    tab: usize,
    page: u64,
    called: u64,
    /// How far the clock had jumped by then.
    jumped: u64,
}

struct Flight {
    /// The flow, while it waits for the answer to a request.
    answer: Option<Answer>,
    /// The session a `Redeem` step sent, with its request number, while its answer is awaited.
    sent: Option<(StoredSession, u64)>,
    callers: Vec<Caller>,
}

/// Who runs refreshes: a tab's page, or (with the vault) the worker, the last actor.
#[derive(Default)]
struct Actor {
    /// Bumped at each reload: answers and timers of an older page are dropped.
    page: u64,
    flight: Option<Flight>,
}

#[derive(Default)]
struct Tab {
    /// What the page holds in memory (with the vault: what the worker answered).
    session: Option<StoredSession>,
    signed_in: bool,
    /// Whether this page listens to the channel (`BrowserConfig::shared_by_tabs`).
    listens: bool,
}

#[derive(Debug, Clone)]
enum Event {
    Call(usize),
    /// Request `req` of `actor`'s page `page` reaches the provider.
    Arrive {
        actor: usize,
        page: u64,
        req: u64,
        rt: String,
        fault: Fault,
    },
    Answer {
        actor: usize,
        page: u64,
        req: u64,
        result: Result<TokenSet2, Error>,
    },
    Timeout {
        actor: usize,
        page: u64,
        req: u64,
    },
    Broadcast {
        tab: usize,
        signed_out: bool,
    },
    Reload(usize),
    SignOut(usize),
    ClockJump(u64),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    Unavailable,
    Html,
    Stall,
}

/// A token response that can be cloned into the event queue.
#[derive(Debug, Clone)]
struct TokenSet2 {
    access: String,
    refresh: String,
    expires_at: u64,
}

struct World {
    rng: Rng,
    now: u64,
    seq: u64,
    queue: BTreeMap<(u64, u64), Event>,
    vault: bool,
    tabs: Vec<Tab>,
    actors: Vec<Actor>,
    /// The shared copy (IndexedDB or the vault's store), committed before the lock is released.
    shared: Option<StoredSession>,
    lock: Option<usize>,
    waiting: Vec<usize>,
    provider: Provider,
    req: u64,
    /// Time the clock skipped (a sleep): no call is expected to settle while asleep.
    jumped: u64,
    signed_out: bool,
    counts: Counts,
    trace: String,
    /// The first broken invariant.
    broken: Option<String>,
}

fn config(storage: StorageKind, vault: bool) -> BrowserConfig {
    let input = ConfigInput {
        issuer: "https://op.example".into(),
        client_id: "app".into(),
        redirect_uri: "https://app.example/cb".into(),
        storage: Some(storage),
        token_vault: vault.then(|| TokenVault {
            service_worker: "/sw.js".into(),
            when_unavailable: Default::default(),
        }),
        ..Default::default()
    };
    match Config::new(input, "https://app.example") {
        Ok(Config::Browser(c)) => c,
        other => panic!("{other:?}"),
    }
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        let vault = rng.chance(40);
        // Without the vault only `local` sessions are shared by tabs (one grant for all).
        let storage = if vault {
            [
                StorageKind::Memory,
                StorageKind::Session,
                StorageKind::Local,
            ][rng.below(3) as usize]
        } else {
            StorageKind::Local
        };
        let listens = config(storage, vault).shared_by_tabs(vault);
        let tabs = 1 + rng.below(4) as usize;
        let lifetime = [70, 120, 300, 3600][rng.below(4) as usize];
        let session = StoredSession {
            access_token: AccessToken::new("at-0".into()),
            refresh_token: Some(RefreshToken::new("rt-0".into())),
            id_token: IdToken::new("id".into()),
            expires_at: Some(1_000 + lifetime),
            issued_at: Some(1_000),
            scope: None,
            userinfo: None,
            sub: "alice".into(),
        };
        let mut w = World {
            rng,
            now: 1_000,
            seq: 0,
            queue: BTreeMap::new(),
            vault,
            tabs: (0..tabs)
                .map(|_| Tab {
                    session: Some(session.clone()),
                    signed_in: true,
                    listens,
                })
                .collect(),
            actors: (0..=tabs).map(|_| Actor::default()).collect(),
            shared: Some(session),
            lock: None,
            waiting: vec![],
            provider: Provider {
                alive: true,
                revoked_at_sign_out: false,
                current: "rt-0".into(),
                used: HashSet::new(),
                cut: HashSet::new(),
                lost: HashSet::new(),
                rotated: HashSet::new(),
                serial: 0,
                lifetime,
            },
            req: 0,
            jumped: 0,
            signed_out: false,
            counts: Counts {
                scenarios: 1,
                vault_scenarios: u64::from(vault),
                ..Counts::default()
            },
            trace: String::new(),
            broken: None,
        };
        w.log(format_args!(
            "{tabs} tabs, vault {vault}, storage {storage:?}, tokens live {lifetime} s"
        ));
        // The scenario: calls spread over several token lifetimes, reloads, clock jumps and
        // now and then a sign-out.
        let span = lifetime * 4;
        for _ in 0..(10 + w.rng.below(40)) {
            let at = 1_000 + w.rng.below(span);
            let tab = w.rng.below(tabs as u64) as usize;
            w.at(at, Event::Call(tab));
        }
        for _ in 0..w.rng.below(6) {
            let at = 1_000 + w.rng.below(span);
            let tab = w.rng.below(tabs as u64) as usize;
            w.at(at, Event::Reload(tab));
        }
        if w.rng.chance(30) {
            let at = 1_000 + w.rng.below(span);
            let by = w.rng.below(lifetime * 3);
            w.at(at, Event::ClockJump(by));
        }
        if w.rng.chance(25) {
            let at = 1_000 + w.rng.below(span);
            let tab = w.rng.below(tabs as u64) as usize;
            w.at(at, Event::SignOut(tab));
        }
        w
    }

    fn worker(&self) -> usize {
        self.tabs.len()
    }

    fn at(&mut self, time: u64, e: Event) {
        self.seq += 1;
        self.queue.insert((time, self.seq), e);
    }

    fn after(&mut self, delay: u64, e: Event) {
        self.at(self.now + delay, e);
    }

    fn log(&mut self, line: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.trace, "{:>6} {line}", self.now);
    }

    fn name(&self, actor: usize) -> String {
        if actor == self.worker() {
            "worker".into()
        } else {
            format!("tab {actor}")
        }
    }

    fn break_invariant(&mut self, what: String) {
        if self.broken.is_none() {
            self.log(format_args!("BROKEN: {what}"));
            self.broken = Some(what);
        }
    }

    fn run(mut self) -> Result<Counts, (String, String)> {
        while let Some(((time, _), event)) = self.queue.pop_first() {
            self.now = self.now.max(time);
            self.handle(event);
            self.check_every_step();
            if self.broken.is_some() {
                break;
            }
        }
        // Invariant 6: every call settled.
        if let Some(a) = self.actors.iter().position(|a| a.flight.is_some()) {
            let what = format!("{} still has callers waiting", self.name(a));
            self.break_invariant(what);
        }
        // Invariant 4: a sign-out reached every tab.
        if self.signed_out {
            if let Some(t) = self.tabs.iter().position(|t| t.signed_in) {
                self.break_invariant(format!("tab {t} is still signed in after a sign-out"));
            }
        }
        match self.broken {
            Some(b) => Err((b, self.trace)),
            None => Ok(self.counts),
        }
    }

    fn handle(&mut self, e: Event) {
        match e {
            Event::Call(tab) => self.call(tab),
            Event::Arrive {
                actor,
                page,
                req,
                rt,
                fault,
            } => self.arrive(actor, page, req, rt, fault),
            Event::Answer {
                actor,
                page,
                req,
                result,
            } => self.answer(actor, page, req, result),
            Event::Timeout { actor, page, req } => {
                if self.awaits(actor, page, req) {
                    let who = self.name(actor);
                    self.log(format_args!("{who}: request {req} timed out"));
                    let sent = self.actors[actor]
                        .flight
                        .as_mut()
                        .and_then(|f| f.sent.take());
                    if self.provider.rotated.contains(&req) {
                        self.counts.lost_to_timeout += 1;
                        if let Some(rt) = sent.and_then(|(s, _)| s.refresh_token) {
                            self.provider.lost.insert(rt.secret().to_owned());
                        }
                    }
                    let e: Error = ErrorKind::Network {
                        detail: "timed out".into(),
                    }
                    .into();
                    let step = self.answer_of(actor).answered(Err(e));
                    self.step(actor, step);
                }
            }
            Event::Broadcast { tab, signed_out } => {
                let shared = self.shared.clone();
                let t = &mut self.tabs[tab];
                if !t.listens {
                } else if signed_out {
                    t.session = None;
                    t.signed_in = false;
                } else if let Some(s) = shared {
                    if adopt_announced(t.session.as_ref(), &s) {
                        t.session = Some(s);
                        t.signed_in = true;
                    }
                }
            }
            Event::Reload(tab) => self.reload(tab),
            Event::SignOut(tab) => self.sign_out(tab),
            Event::ClockJump(by) => {
                self.log(format_args!("clock jumps {by} s"));
                self.now += by;
                self.jumped += by;
            }
        }
    }

    fn awaits(&self, actor: usize, page: u64, req: u64) -> bool {
        self.actors[actor].page == page
            && self.actors[actor]
                .flight
                .as_ref()
                .and_then(|f| f.sent.as_ref())
                .is_some_and(|(_, r)| *r == req)
    }

    /// The flow of `actor`'s flight, which waits for an answer.
    fn answer_of(&mut self, actor: usize) -> Answer {
        let flight = self.actors[actor].flight.as_mut().expect("a flight");
        flight.answer.take().expect("a flow waiting for an answer")
    }

    /// `access_token()`: the session's token while fresh, else join (or start) the flight of
    /// this tab (without the vault) or of the worker (with it).
    fn call(&mut self, tab: usize) {
        self.counts.calls += 1;
        let now = self.now;
        let Some(s) = &self.tabs[tab].session else {
            return;
        };
        if !needs_refresh(s.expires_at, s.issued_at, now, MARGIN) {
            return;
        }
        let actor = if self.vault { self.worker() } else { tab };
        let caller = Caller {
            tab,
            page: self.actors[tab].page,
            called: now,
            jumped: self.jumped,
        };
        if let Some(f) = &mut self.actors[actor].flight {
            f.callers.push(caller);
            return;
        }
        self.actors[actor].flight = Some(Flight {
            answer: None,
            sent: None,
            callers: vec![caller],
        });
        let who = self.name(actor);
        self.log(format_args!(
            "{who}: waits for the lock (asked by tab {tab})"
        ));
        self.waiting.push(actor);
        self.grant_lock();
    }

    fn grant_lock(&mut self) {
        if self.lock.is_some() || self.waiting.is_empty() {
            return;
        }
        let actor = self.waiting.remove(0);
        self.lock = Some(actor);
        let who = self.name(actor);
        self.log(format_args!("{who}: holds the lock"));
        self.step(actor, RefreshRun::start(false, MARGIN));
    }

    /// Carries out the steps of `actor`'s refresh, as the client does.
    fn step(&mut self, actor: usize, mut step: RefreshStep) {
        loop {
            step = match step {
                RefreshStep::ReadShared(next) => {
                    let shared = self.shared.clone();
                    // The worker's memory is re-read from its store on every message.
                    let mine = match self.tabs.get(actor) {
                        Some(t) => t.session.clone(),
                        None => self.shared.clone(),
                    };
                    next.read(shared, mine, self.now)
                }
                RefreshStep::Redeem(current, next) => {
                    self.req += 1;
                    let req = self.req;
                    let page = self.actors[actor].page;
                    let rt = current
                        .refresh_token
                        .as_ref()
                        .map(|t| t.secret().to_owned())
                        .unwrap_or_default();
                    let flight = self.actors[actor].flight.as_mut().expect("a flight");
                    flight.sent = Some((current, req));
                    flight.answer = Some(next);
                    let fault = match self.rng.below(100) {
                        0..=4 => Fault::Unavailable,
                        5..=6 => Fault::Html,
                        7..=8 => Fault::Stall,
                        _ => Fault::None,
                    };
                    let delay = self.rng.below(3);
                    let who = self.name(actor);
                    self.log(format_args!("{who}: sends {rt} (request {req})"));
                    let arrive = Event::Arrive {
                        actor,
                        page,
                        req,
                        rt,
                        fault,
                    };
                    self.after(delay, arrive);
                    self.after(TIMEOUT, Event::Timeout { actor, page, req });
                    return;
                }
                RefreshStep::SilentSignIn { then, .. } => {
                    let e: Error = ErrorKind::Provider {
                        error: "login_required".into(),
                        description: None,
                    }
                    .into();
                    then.answered(Err(e))
                }
                RefreshStep::Adopt(s) => {
                    self.counts.adopted_without_request += 1;
                    let who = self.name(actor);
                    self.log(format_args!("{who}: adopts the shared session"));
                    if let Some(t) = self.tabs.get_mut(actor) {
                        t.session = Some(s);
                        t.signed_in = true;
                    }
                    return self.finish(actor, false);
                }
                RefreshStep::Done {
                    result,
                    end_session,
                } => {
                    if end_session {
                        let who = self.name(actor);
                        self.log(format_args!("{who}: ends the session ({result:?})"));
                        if self.provider.alive {
                            self.break_invariant(format!(
                                "{who} signed out while the grant is alive: {result:?}"
                            ));
                        } else if !self.provider.revoked_at_sign_out {
                            self.counts.signed_out_grant_ended += 1;
                        }
                        self.shared = None;
                        if let Some(t) = self.tabs.get_mut(actor) {
                            t.session = None;
                            t.signed_in = false;
                        }
                        self.broadcast(actor, true);
                    } else if result.is_err() {
                        self.counts.transient_failures += 1;
                    }
                    return self.finish(actor, end_session);
                }
            };
        }
    }

    /// The flight is over: its callers get their answer (with the vault, the worker's reply:
    /// the stored session, or "ended"), and the lock goes to the next in line.
    fn finish(&mut self, actor: usize, ended: bool) {
        if let Some(f) = self.actors[actor].flight.take() {
            for c in f.callers {
                let waited = self.now - c.called - (self.jumped - c.jumped);
                self.counts.longest_call = self.counts.longest_call.max(waited);
                if waited > settle_bound(self.tabs.len()) {
                    self.break_invariant(format!("a call of tab {} waited {waited} s", c.tab));
                }
                if self.vault && self.actors[c.tab].page == c.page {
                    let t = &mut self.tabs[c.tab];
                    if ended {
                        t.session = None;
                        t.signed_in = false;
                    } else if let Some(s) = &self.shared {
                        if adopt_announced(t.session.as_ref(), s) {
                            t.session = Some(s.clone());
                        }
                    }
                }
            }
        }
        if self.lock == Some(actor) {
            self.lock = None;
            let who = self.name(actor);
            self.log(format_args!("{who}: releases the lock"));
            self.grant_lock();
        }
    }

    /// Posts on the channel: every tab but the sender hears it (if it listens).
    fn broadcast(&mut self, from: usize, signed_out: bool) {
        for tab in 0..self.tabs.len() {
            if tab != from {
                let delay = self.rng.below(2);
                self.after(delay, Event::Broadcast { tab, signed_out });
            }
        }
    }

    /// The provider handles a refresh request.
    fn arrive(&mut self, actor: usize, page: u64, req: u64, rt: String, fault: Fault) {
        let p = &mut self.provider;
        let result: Result<TokenSet2, Error> = match fault {
            Fault::Stall => {
                self.log(format_args!("provider: stalls request {req}"));
                return;
            }
            Fault::Unavailable => Err(ErrorKind::HttpError { status: 503 }.into()),
            Fault::Html => Err(ErrorKind::HtmlResponse {
                status: 200,
                snippet: "<html>".into(),
            }
            .into()),
            Fault::None => {
                if p.used.contains(&rt) {
                    // Reuse: the whole grant is revoked (strict providers do this).
                    p.alive = false;
                    if p.cut.contains(&rt) {
                        self.counts.reuse_after_cut += 1;
                    } else if p.lost.contains(&rt) {
                        self.counts.reuse_after_loss += 1;
                    } else if !p.revoked_at_sign_out {
                        let what = format!("the provider saw {rt} presented twice");
                        self.log(format_args!("BROKEN: {what}"));
                        self.broken.get_or_insert(what);
                    }
                    Err(invalid_grant())
                } else if !p.alive || rt != p.current {
                    Err(invalid_grant())
                } else {
                    p.used.insert(rt.clone());
                    p.rotated.insert(req);
                    p.serial += 1;
                    self.counts.refresh_grants += 1;
                    p.current = format!("rt-{}", p.serial);
                    Ok(TokenSet2 {
                        access: format!("at-{}", p.serial),
                        refresh: p.current.clone(),
                        expires_at: self.now + p.lifetime,
                    })
                }
            }
        };
        let outcome = match &result {
            Ok(t) => t.refresh.clone(),
            Err(e) => e.code().to_owned(),
        };
        self.log(format_args!(
            "provider: request {req} with {rt} -> {outcome}"
        ));
        let delay = self.rng.below(3);
        let answer = Event::Answer {
            actor,
            page,
            req,
            result,
        };
        self.after(delay, answer);
    }

    fn answer(&mut self, actor: usize, page: u64, req: u64, result: Result<TokenSet2, Error>) {
        if !self.awaits(actor, page, req) {
            // The page that asked is gone (a rotated token is lost with it), or it gave up.
            return;
        }
        let (current, _) = self.actors[actor]
            .flight
            .as_mut()
            .and_then(|f| f.sent.take())
            .expect("awaited");
        let outcome = match result {
            Ok(t) => {
                let tokens = TokenSet {
                    access_token: AccessToken::new(t.access),
                    refresh_token: Some(RefreshToken::new(t.refresh)),
                    id_token: None,
                    expires_at: Some(t.expires_at),
                    scope: None,
                };
                // Where the session is kept: the shared copy (tabs share it in every mode
                // simulated here).
                let held = self.shared.clone();
                match session_from_tokens(tokens, None, None, Some(&current), self.now) {
                    Ok(_) if !renewal_still_wanted(held.as_ref()) => {
                        let who = self.name(actor);
                        self.log(format_args!("{who}: signed out meanwhile, not committed"));
                        Err(ErrorKind::NotSignedIn.into())
                    }
                    Ok(s) => {
                        // Committed to the shared copy before the lock is released and before
                        // the other tabs are told, as the client does.
                        self.shared = Some(s.clone());
                        if let Some(t) = self.tabs.get_mut(actor) {
                            t.session = Some(s);
                            t.signed_in = true;
                        }
                        self.broadcast(actor, false);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let step = self.answer_of(actor).answered(outcome);
        self.step(actor, step);
    }

    /// A reload: the page's memory and its callers are gone, and without the vault its flow
    /// and its lock too; the new page restores the shared copy.
    fn reload(&mut self, tab: usize) {
        self.counts.reloads += 1;
        if !self.vault {
            let in_flight = self.actors[tab]
                .flight
                .as_ref()
                .and_then(|f| f.sent.as_ref())
                .map(|(s, req)| {
                    (
                        s.refresh_token.as_ref().map(|t| t.secret().to_owned()),
                        *req,
                    )
                });
            if let Some((Some(rt), req)) = in_flight {
                // If the provider has rotated it (or will), that answer is lost with the page.
                let pending = self.queue.values().any(|e| match e {
                    Event::Answer { req: r, result, .. } => *r == req && result.is_ok(),
                    Event::Arrive { req: r, .. } => *r == req,
                    _ => false,
                });
                if pending {
                    self.counts.cut_in_flight += 1;
                    self.provider.cut.insert(rt);
                }
            }
            self.actors[tab].flight = None;
            self.waiting.retain(|w| *w != tab);
            if self.lock == Some(tab) {
                self.lock = None;
                self.grant_lock();
            }
        }
        self.log(format_args!("tab {tab}: reloads"));
        self.actors[tab].page += 1;
        let t = &mut self.tabs[tab];
        t.session = self.shared.clone();
        t.signed_in = t.session.is_some();
    }

    /// `signOut()` in `tab`: the refresh token is revoked (the provider ends the grant), the
    /// shared copy is cleared, and the tabs are told.
    fn sign_out(&mut self, tab: usize) {
        if !self.tabs[tab].signed_in {
            return;
        }
        self.counts.sign_outs += 1;
        self.log(format_args!("tab {tab}: signs out"));
        self.signed_out = true;
        self.provider.alive = false;
        self.provider.revoked_at_sign_out = true;
        self.shared = None;
        self.tabs[tab].session = None;
        self.tabs[tab].signed_in = false;
        // With the vault the worker forgets the session and tells every tab; the page too.
        self.broadcast(tab, true);
    }

    fn check_every_step(&mut self) {
        // Invariant 2, continuously: while the grant is alive, a signed-out tab is a bug.
        if self.provider.alive {
            if let Some(i) = self.tabs.iter().position(|t| !t.signed_in) {
                self.break_invariant(format!("tab {i} shows signed out while the grant is alive"));
            }
        }
        // Invariant 3: signed-in tabs agree on the user.
        let subs: HashSet<&str> = self
            .tabs
            .iter()
            .filter_map(|t| t.session.as_ref().map(|s| s.sub.as_str()))
            .collect();
        if subs.len() > 1 {
            self.break_invariant(format!("tabs disagree on the user: {subs:?}"));
        }
        // Invariant 1 with the vault: a reload never cuts a refresh (the worker's, not the page's).
        if self.vault && self.counts.reuse_after_cut > 0 {
            self.break_invariant("a reload cut a refresh through the vault".into());
        }
    }
}

fn invalid_grant() -> Error {
    ErrorKind::Provider {
        error: "invalid_grant".into(),
        description: None,
    }
    .into()
}

/// Runs scenarios `first..first + n`; the first failure comes back with its seed and trace.
pub(crate) fn run_seeds(first: u64, n: u64) -> Result<Counts, (u64, String, String)> {
    let mut total = Counts::default();
    for seed in first..first + n {
        match World::new(seed).run() {
            Ok(c) => total.add(&c),
            Err((what, trace)) => return Err((seed, what, trace)),
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_race_simulation() {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let (first, n) = match env("SIM_SEED") {
            Some(seed) => (seed, 1),
            None => (0, env("SIM_SEEDS").unwrap_or(10_000)),
        };
        let started = std::time::Instant::now();
        match run_seeds(first, n) {
            Ok(c) => {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "simulation: {} scenarios ({} with the vault) in {secs:.2} s ({:.0}/s)\n  \
                     {} calls, {} refresh grants, {} adopted without a request, {} reloads, \
                     {} sign-outs\n  invariant 1: 0 refresh tokens presented twice, except {} \
                     after a reload cut the rotation's answer ({} cuts; never with the vault) and \
                     {} after a sleep lost it ({} losses, with or without the vault)\n  \
                     invariant 2: 0 sign-outs while the grant lived; {} after the provider ended \
                     it (all after a cut or a loss)\n  \
                     invariants 3, 4: tabs agreed on the user, every sign-out reached every tab\n  \
                     invariant 6: longest call {} s (bound {} s); {} transient failures",
                    c.scenarios,
                    c.vault_scenarios,
                    c.scenarios as f64 / secs,
                    c.calls,
                    c.refresh_grants,
                    c.adopted_without_request,
                    c.reloads,
                    c.sign_outs,
                    c.reuse_after_cut,
                    c.cut_in_flight,
                    c.reuse_after_loss,
                    c.lost_to_timeout,
                    c.signed_out_grant_ended,
                    c.longest_call,
                    settle_bound(4),
                    c.transient_failures,
                );
                assert!(
                    c.refresh_grants > 0 && c.reloads > 0 && c.sign_outs > 0,
                    "the scenarios exercise nothing"
                );
            }
            Err((seed, what, trace)) => {
                panic!("seed {seed}: {what}\nreplay: SIM_SEED={seed} cargo test -p oidc-session refresh_race_simulation -- --nocapture\n{trace}")
            }
        }
    }

    #[test]
    fn a_seed_replays_exactly() {
        let trace = |seed| {
            let mut w = World::new(seed);
            while let Some(((time, _), e)) = w.queue.pop_first() {
                w.now = w.now.max(time);
                w.handle(e);
            }
            w.trace
        };
        assert_eq!(trace(7), trace(7));
        assert_eq!(trace(42), trace(42));
        assert!(trace(7).lines().count() > 1);
    }
}
