//! A deterministic simulation of the refresh race, native, in `cargo test` (test code only).
//!
//! Several tabs of one origin share a Web Storage/IndexedDB copy of the session, one cross-tab
//! lock (FIFO, released when its holder's page goes away, as Web Locks are) and a broadcast
//! channel with delays. Each tab runs the core's own decisions: `core::refresh::RefreshRun`
//! under the lock, `core::session::session_from_tokens` for every answer, `adopt_announced`
//! for every broadcast, `needs_refresh` for every call. The provider is as strict as the ones we
//! test against: refresh tokens rotate and are single-use, a reused one revokes the whole grant.
//! Faults: slow answers, stalled requests (cut by the client's request timeout), 503s and
//! HTML pages, reloads at any point (a tab's memory and its waiting flow are dropped, a new one
//! restores from storage), clock jumps (a laptop waking up).
//!
//! One seed decides every choice; a failing scenario prints its seed and its event trace, and
//! `SIM_SEED=<seed>` replays exactly that one. `SIM_SEEDS=<n>` sets how many scenarios run
//! (`cargo xtask sim --seeds N`).
//!
//! What it does not model yet: the client object itself (the flows run here are the core's
//! state machines driven by this file, not `BrowserClient` over a platform seam), the token
//! vault's worker, silent SSO and server mode.

use crate::core::error::{Error, ErrorKind};
use crate::core::refresh::{needs_refresh, RefreshRun, RefreshStep};
use crate::core::secret::{AccessToken, IdToken, RefreshToken};
use crate::core::session::{adopt_announced, session_from_tokens, StoredSession};
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
    current: String,
    used: HashSet<String>,
    /// Refresh tokens whose rotation answer never reached a page (a reload cut it off, or the
    /// client's timeout gave up on it, e.g. across a sleep).
    cut: HashSet<String>,
    /// Requests the provider answered with a rotation.
    rotated: HashSet<u64>,
    serial: u64,
    lifetime: u64,
    grants: u64,
}

/// What a scenario counted.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub scenarios: u64,
    pub calls: u64,
    pub refresh_grants: u64,
    pub adopted_without_request: u64,
    pub reloads: u64,
    pub cut_in_flight: u64,
    /// Rotations whose answer came after the client's timeout (a sleep mid-request).
    lost_to_timeout: u64,
    /// Invariant 1's known exception: a token presented again after its rotation was cut.
    pub reuse_after_cut: u64,
    /// Sign-outs after the provider ended the grant (only ever after a cut).
    pub signed_out_grant_ended: u64,
    pub transient_failures: u64,
    pub longest_call: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.scenarios += o.scenarios;
        self.calls += o.calls;
        self.refresh_grants += o.refresh_grants;
        self.adopted_without_request += o.adopted_without_request;
        self.reloads += o.reloads;
        self.cut_in_flight += o.cut_in_flight;
        self.lost_to_timeout += o.lost_to_timeout;
        self.reuse_after_cut += o.reuse_after_cut;
        self.signed_out_grant_ended += o.signed_out_grant_ended;
        self.transient_failures += o.transient_failures;
        self.longest_call = self.longest_call.max(o.longest_call);
    }
}

struct Flight {
    run: RefreshRun,
    /// The session a `Redeem` step sent, while its answer is awaited.
    sent: Option<(StoredSession, u64)>,
    /// When each waiting caller called, and how far the clock had jumped by then.
    callers: Vec<(u64, u64)>,
}

#[derive(Default)]
struct Tab {
    /// Bumped at each reload: answers and timers of an older page are dropped.
    page: u64,
    session: Option<StoredSession>,
    signed_in: bool,
    flight: Option<Flight>,
}

#[derive(Debug, Clone)]
enum Event {
    Call(usize),
    /// The token request of `tab`'s page `page`, request number `req`, reaches the provider.
    Arrive {
        tab: usize,
        page: u64,
        req: u64,
        rt: String,
        fault: Fault,
    },
    Answer {
        tab: usize,
        page: u64,
        req: u64,
        result: Result<TokenSet2, Error>,
    },
    Timeout {
        tab: usize,
        page: u64,
        req: u64,
    },
    Broadcast {
        tab: usize,
        signed_out: bool,
    },
    Reload(usize),
    ClockJump(u64),
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    None,
    Unavailable,
    Html,
    Stall,
}

/// A `TokenSet` that can be cloned into the event queue.
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
    tabs: Vec<Tab>,
    /// The shared copy (IndexedDB, committed before the lock is released).
    shared: Option<StoredSession>,
    lock: Option<usize>,
    waiting: Vec<usize>,
    provider: Provider,
    req: u64,
    /// Time the clock skipped (a sleep): no call is expected to settle while asleep.
    jumped: u64,
    counts: Counts,
    trace: String,
    /// The first broken invariant.
    broken: Option<String>,
}

impl World {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
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
            tabs: (0..tabs)
                .map(|_| Tab {
                    session: Some(session.clone()),
                    signed_in: true,
                    ..Tab::default()
                })
                .collect(),
            shared: Some(session),
            lock: None,
            waiting: vec![],
            provider: Provider {
                alive: true,
                current: "rt-0".into(),
                used: HashSet::new(),
                cut: HashSet::new(),
                rotated: HashSet::new(),
                serial: 0,
                lifetime,
                grants: 0,
            },
            req: 0,
            jumped: 0,
            counts: Counts {
                scenarios: 1,
                ..Counts::default()
            },
            trace: String::new(),
            broken: None,
        };
        // The scenario: calls spread over several token lifetimes, reloads and clock jumps.
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
        w
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
        // Every call settled.
        for (i, t) in self.tabs.iter().enumerate() {
            if let Some(f) = &t.flight {
                let what = format!("tab {i} still has {} callers waiting", f.callers.len());
                self.break_invariant(what);
                break;
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
                tab,
                page,
                req,
                rt,
                fault,
            } => self.arrive(tab, page, req, rt, fault),
            Event::Answer {
                tab,
                page,
                req,
                result,
            } => self.answer(tab, page, req, result),
            Event::Timeout { tab, page, req } => {
                if self.awaits(tab, page, req) {
                    self.log(format_args!("tab {tab}: request {req} timed out"));
                    let sent = self.tabs[tab].flight.as_mut().and_then(|f| f.sent.take());
                    if self.provider.rotated.contains(&req) {
                        self.counts.lost_to_timeout += 1;
                        if let Some(rt) = sent.and_then(|(s, _)| s.refresh_token) {
                            self.provider.cut.insert(rt.secret().to_owned());
                        }
                    }
                    let e: Error = ErrorKind::Network {
                        detail: "timed out".into(),
                    }
                    .into();
                    let step = self.run_of(tab).answered(Err(e));
                    self.step(tab, step);
                }
            }
            Event::Broadcast { tab, signed_out } => {
                let t = &mut self.tabs[tab];
                if signed_out {
                    t.session = None;
                    t.signed_in = false;
                } else if let Some(s) = self.shared.clone() {
                    if adopt_announced(t.session.as_ref(), &s) {
                        t.session = Some(s);
                        t.signed_in = true;
                    }
                }
            }
            Event::Reload(tab) => self.reload(tab),
            Event::ClockJump(by) => {
                self.log(format_args!("clock jumps {by} s"));
                self.now += by;
                self.jumped += by;
            }
        }
    }

    fn awaits(&self, tab: usize, page: u64, req: u64) -> bool {
        self.tabs[tab].page == page
            && self.tabs[tab]
                .flight
                .as_ref()
                .and_then(|f| f.sent.as_ref())
                .is_some_and(|(_, r)| *r == req)
    }

    fn run_of(&mut self, tab: usize) -> &mut RefreshRun {
        &mut self.tabs[tab].flight.as_mut().expect("a flight").run
    }

    /// `access_token()`: the session's token while fresh, else join (or start) the flight.
    fn call(&mut self, tab: usize) {
        self.counts.calls += 1;
        let now = self.now;
        let t = &mut self.tabs[tab];
        let Some(s) = &t.session else { return };
        if !needs_refresh(s.expires_at, s.issued_at, now, MARGIN) {
            return;
        }
        if let Some(f) = &mut t.flight {
            f.callers.push((now, self.jumped));
            return;
        }
        let (run, _) = RefreshRun::start(false, MARGIN);
        t.flight = Some(Flight {
            run,
            sent: None,
            callers: vec![(now, self.jumped)],
        });
        self.log(format_args!("tab {tab}: waits for the lock"));
        self.waiting.push(tab);
        self.grant_lock();
    }

    fn grant_lock(&mut self) {
        if self.lock.is_some() || self.waiting.is_empty() {
            return;
        }
        let tab = self.waiting.remove(0);
        self.lock = Some(tab);
        self.log(format_args!("tab {tab}: holds the lock"));
        self.step(tab, RefreshStep::ReadShared);
    }

    /// Carries out one step of `tab`'s refresh, as the client does.
    fn step(&mut self, tab: usize, mut step: RefreshStep) {
        loop {
            step = match step {
                RefreshStep::ReadShared => {
                    let shared = self.shared.clone();
                    let mine = self.tabs[tab].session.clone();
                    let now = self.now;
                    self.run_of(tab).read(shared, mine, now)
                }
                RefreshStep::Redeem(current) => {
                    self.req += 1;
                    let req = self.req;
                    let page = self.tabs[tab].page;
                    let rt = current
                        .refresh_token
                        .as_ref()
                        .map(|t| t.secret().to_owned())
                        .unwrap_or_default();
                    self.tabs[tab].flight.as_mut().expect("a flight").sent = Some((current, req));
                    let fault = match self.rng.below(100) {
                        0..=4 => Fault::Unavailable,
                        5..=6 => Fault::Html,
                        7..=8 => Fault::Stall,
                        _ => Fault::None,
                    };
                    let delay = self.rng.below(3);
                    self.log(format_args!("tab {tab}: sends {rt} (request {req})"));
                    self.after(
                        delay,
                        Event::Arrive {
                            tab,
                            page,
                            req,
                            rt,
                            fault,
                        },
                    );
                    self.after(TIMEOUT, Event::Timeout { tab, page, req });
                    return;
                }
                RefreshStep::SilentSignIn { .. } => {
                    let e: Error = ErrorKind::Provider {
                        error: "login_required".into(),
                        description: None,
                    }
                    .into();
                    self.run_of(tab).answered(Err(e))
                }
                RefreshStep::Adopt(s) => {
                    self.counts.adopted_without_request += 1;
                    self.log(format_args!("tab {tab}: adopts the shared session"));
                    self.tabs[tab].session = Some(s);
                    self.tabs[tab].signed_in = true;
                    return self.finish(tab);
                }
                RefreshStep::Done {
                    result,
                    end_session,
                } => {
                    if end_session {
                        self.log(format_args!("tab {tab}: ends the session ({result:?})"));
                        if self.provider.alive {
                            self.break_invariant(format!(
                                "tab {tab} signed out while the grant is alive: {result:?}"
                            ));
                        } else {
                            self.counts.signed_out_grant_ended += 1;
                        }
                        self.shared = None;
                        self.tabs[tab].session = None;
                        self.tabs[tab].signed_in = false;
                        self.broadcast(tab, true);
                    } else if result.is_err() {
                        self.counts.transient_failures += 1;
                    }
                    return self.finish(tab);
                }
            };
        }
    }

    fn finish(&mut self, tab: usize) {
        if let Some(f) = self.tabs[tab].flight.take() {
            for (called, jumped) in f.callers {
                let waited = self.now - called - (self.jumped - jumped);
                self.counts.longest_call = self.counts.longest_call.max(waited);
                if waited > settle_bound(self.tabs.len()) {
                    self.break_invariant(format!("a call of tab {tab} waited {waited} s"));
                }
            }
        }
        if self.lock == Some(tab) {
            self.lock = None;
            self.log(format_args!("tab {tab}: releases the lock"));
            self.grant_lock();
        }
    }

    fn broadcast(&mut self, from: usize, signed_out: bool) {
        for tab in 0..self.tabs.len() {
            if tab != from {
                let delay = self.rng.below(2);
                self.after(delay, Event::Broadcast { tab, signed_out });
            }
        }
    }

    /// The provider handles a refresh request.
    fn arrive(&mut self, tab: usize, page: u64, req: u64, rt: String, fault: Fault) {
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
                    } else {
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
                    p.grants += 1;
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
        self.log(format_args!(
            "provider: request {req} with {rt} -> {}",
            match &result {
                Ok(t) => t.refresh.clone(),
                Err(e) => e.code().to_owned(),
            }
        ));
        let delay = self.rng.below(3);
        self.after(
            delay,
            Event::Answer {
                tab,
                page,
                req,
                result,
            },
        );
    }

    fn answer(&mut self, tab: usize, page: u64, req: u64, result: Result<TokenSet2, Error>) {
        if !self.awaits(tab, page, req) {
            // The page that asked is gone (a rotated token is lost with it), or it gave up.
            return;
        }
        let (current, _) = self.tabs[tab]
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
                match session_from_tokens(tokens, None, None, Some(&current), self.now) {
                    Ok(s) => {
                        // Committed to the shared copy before the lock is released and before
                        // the other tabs are told, as the client does.
                        self.shared = Some(s.clone());
                        self.tabs[tab].session = Some(s);
                        self.tabs[tab].signed_in = true;
                        self.broadcast(tab, false);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        };
        let step = self.run_of(tab).answered(outcome);
        self.step(tab, step);
    }

    /// A reload: the page's memory and flow are gone, its lock is released, a new page
    /// restores the stored session.
    fn reload(&mut self, tab: usize) {
        self.counts.reloads += 1;
        let in_flight = self.tabs[tab]
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
            // If the provider has already rotated it (or will), that answer is lost.
            if self
                .queue
                .values()
                .any(|e| matches!(e, Event::Answer { req: r, result: Ok(_), .. } if *r == req))
                || self
                    .queue
                    .values()
                    .any(|e| matches!(e, Event::Arrive { req: r, .. } if *r == req))
            {
                self.counts.cut_in_flight += 1;
                self.provider.cut.insert(rt);
            }
        }
        self.log(format_args!("tab {tab}: reloads"));
        let t = &mut self.tabs[tab];
        t.page += 1;
        // The page's callers went with it.
        t.flight = None;
        t.session = self.shared.clone();
        t.signed_in = t.session.is_some();
        self.waiting.retain(|w| *w != tab);
        if self.lock == Some(tab) {
            self.lock = None;
            self.grant_lock();
        }
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
                    "simulation: {} scenarios in {secs:.2} s ({:.0}/s): {} calls, {} refresh grants, \
                     {} adopted without a request, {} reloads, {} answers cut in flight by a reload, \
                     {} rotations lost to the request timeout, {} reuses after a cut, {} sign-outs after the provider ended the grant, \
                     {} transient failures, longest call {} s (bound {} s)",
                    c.scenarios,
                    c.scenarios as f64 / secs,
                    c.calls,
                    c.refresh_grants,
                    c.adopted_without_request,
                    c.reloads,
                    c.cut_in_flight,
                    c.lost_to_timeout,
                    c.reuse_after_cut,
                    c.signed_out_grant_ended,
                    c.transient_failures,
                    c.longest_call,
                    settle_bound(4),
                );
                assert!(
                    c.refresh_grants > 0 && c.reloads > 0,
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
        let a = World::new(42).run().map(|_| ()).map_err(|e| e.1);
        let b = World::new(42).run().map(|_| ()).map_err(|e| e.1);
        assert_eq!(a, b);
        let t1 = {
            let mut w = World::new(7);
            while let Some(((time, _), e)) = w.queue.pop_first() {
                w.now = w.now.max(time);
                w.handle(e);
            }
            w.trace
        };
        let t2 = {
            let mut w = World::new(7);
            while let Some(((time, _), e)) = w.queue.pop_first() {
                w.now = w.now.max(time);
                w.handle(e);
            }
            w.trace
        };
        assert_eq!(t1, t2);
        assert!(!t1.is_empty());
    }
}
