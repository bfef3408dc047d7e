//! The real clients under the simulation: scenarios of tabs that sign in, call for tokens,
//! reload at any moment, sleep, sign out, with or without the token vault (whose worker the
//! browser stops at will), over every storage, against a strict provider with faults.
//!
//! Every tab runs `client::engine::Engine`, what `Client` runs in a browser, over
//! `origin::Sim`. One seed decides everything; a failure prints the seed and the trace, and
//! `SIM_SEED=<seed>` replays that scenario alone (`SIM_CLIENT_SEEDS=<n>` sets how many run).
//!
//! Invariants, checked after every step:
//! 1. No refresh token is presented twice, except one whose rotation answer never reached the
//!    client that asked (its page went away, or the request stalled past the timeout): those
//!    are counted apart. With the vault, page reloads never cause one.
//! 2. No tab goes from signed in to signed out unless a sign-out was asked for (in a tab that
//!    shares its session) or its grant really ended at the provider.
//! 3. Every page's view starts `Loading`, then one outcome; a callback page never shows
//!    `SignedOut`; signed-in tabs agree on the user.
//! 4. A sign-out reaches every tab that shares the session (localStorage, or the vault).
//! 5. No token is written to Web Storage or IndexedDB where the mode says none is: with the
//!    vault active nowhere a page can read; with `memory` storage nowhere; with `session`
//!    storage not in localStorage or IndexedDB.
//! 6. Every `access_token()` and `bootstrap()` of a page that stays settles within a bound.

use super::origin::{Faults, Sim, World, APP, CLIENT_ID, ISSUER};
use crate::client::platform::Platform;
use crate::client::sim_api::Engine;
use crate::client::{SignOutOptions, Subscription, VaultStatus};
use crate::core::authorize::SignInOptions;
use crate::core::config::{ConfigInput, StorageKind, TokenVault, VaultFallback};
use crate::core::session::Status;
use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;

const REDIRECT: &str = "https://app.example/callback";
/// How long the channel and IndexedDB take at most to carry a change to every tab (ms).
const SETTLE_MS: u64 = 2_000;

/// What the scenarios counted.
#[derive(Default, Debug, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) scenarios: u64,
    pub(crate) vault_scenarios: u64,
    pub(crate) sign_ins: u64,
    pub(crate) calls: u64,
    pub(crate) calls_ok: u64,
    pub(crate) refresh_grants: u64,
    pub(crate) reloads: u64,
    pub(crate) sign_outs: u64,
    pub(crate) worker_stops: u64,
    pub(crate) freezes: u64,
    pub(crate) hostile_marks: u64,
    /// Server mode: `/refresh` calls at the backend, and those that came while the access
    /// token was still fresh.
    pub(crate) backend_refreshes: u64,
    pub(crate) backend_redundant: u64,
    pub(crate) server_scenarios: u64,
    pub(crate) jumps: u64,
    /// Rotation answers that never reached the client (invariant 1's known cause).
    pub(crate) answers_lost: u64,
    /// Refresh tokens presented again after their rotation's answer was lost.
    pub(crate) reuse_after_loss: u64,
    /// Tabs signed out because the provider ended the grant (all after a lost answer).
    pub(crate) signed_out_grant_ended: u64,
    pub(crate) sign_outs_checked: u64,
    pub(crate) token_places_checked: u64,
    pub(crate) longest_call_ms: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.scenarios += o.scenarios;
        self.vault_scenarios += o.vault_scenarios;
        self.sign_ins += o.sign_ins;
        self.calls += o.calls;
        self.calls_ok += o.calls_ok;
        self.refresh_grants += o.refresh_grants;
        self.reloads += o.reloads;
        self.sign_outs += o.sign_outs;
        self.worker_stops += o.worker_stops;
        self.freezes += o.freezes;
        self.hostile_marks += o.hostile_marks;
        self.backend_refreshes += o.backend_refreshes;
        self.backend_redundant += o.backend_redundant;
        self.server_scenarios += o.server_scenarios;
        self.jumps += o.jumps;
        self.answers_lost += o.answers_lost;
        self.reuse_after_loss += o.reuse_after_loss;
        self.signed_out_grant_ended += o.signed_out_grant_ended;
        self.sign_outs_checked += o.sign_outs_checked;
        self.token_places_checked += o.token_places_checked;
        self.longest_call_ms = self.longest_call_ms.max(o.longest_call_ms);
    }
}

/// A call in flight: when it started, and how far the clock had jumped by then.
struct Call {
    page: u64,
    what: &'static str,
    started: u64,
    jumped: u64,
    done: Rc<Cell<bool>>,
}

/// One page of a tab and what it showed.
struct PageRun {
    sim: Sim,
    engine: Engine<Sim>,
    statuses: Rc<RefCell<Vec<Status>>>,
    callback: bool,
    _sub: Subscription,
}

struct Scenario {
    seed: u64,
    world: Rc<World>,
    input: ConfigInput,
    shared: bool,
    vault: bool,
    /// The vault is configured and can run.
    vault_runs: bool,
    /// Where the session lives without a running vault.
    effective: StorageKind,
    /// Server mode: the backend keeps the tokens.
    server: bool,
    tabs: Vec<Option<PageRun>>,
    calls: Vec<Call>,
    jumped: u64,
    /// Sign-outs asked for: (when, the tab), for invariants 2 and 4.
    sign_outs: Vec<(u64, usize)>,
    /// Sign-outs that succeeded and whose reach (invariant 4) is still to be checked: when it
    /// was asked for, from which tab, and when it finished.
    reach_checks: Vec<(u64, usize, Rc<Cell<Option<u64>>>)>,
    /// When each tab last showed `SignedIn` (any of its pages).
    signed_in_at: Vec<Rc<Cell<u64>>>,
    trace: String,
    counts: Counts,
    longest: Rc<Cell<u64>>,
    calls_ok: Rc<Cell<u64>>,
    /// Server mode: retries that met 401 while the backend's session lived.
    stale_401: Rc<Cell<u64>>,
    bound_ms: u64,
}

impl Scenario {
    fn new(seed: u64) -> Self {
        let world = World::new(seed);
        let storage = match world.random(3) {
            0 => StorageKind::Memory,
            1 => StorageKind::Session,
            _ => StorageKind::Local,
        };
        // One scenario in four is server mode: the backend keeps the tokens.
        let server = seed % 4 == 3;
        let vault = world.chance(40) && !server;
        world.vault_supported.set(!vault || world.chance(90));
        let faults = if world.chance(50) {
            Faults {
                unavailable: world.random(8),
                html: world.random(4),
                stall: world.random(4),
                latency_ms: 50 + world.random(3_000),
            }
        } else {
            Faults {
                latency_ms: 20 + world.random(400),
                ..Faults::default()
            }
        };
        world.faults.set(faults);
        world.provider.borrow_mut().access_lifetime = 90 + world.random(600);
        world.backend.borrow_mut().lifetime_ms = world.provider.borrow().access_lifetime * 1000;
        let input = if server {
            ConfigInput {
                mode: crate::core::config::Mode::Server,
                ..ConfigInput::default()
            }
        } else {
            ConfigInput {
                issuer: ISSUER.into(),
                client_id: CLIENT_ID.into(),
                redirect_uri: REDIRECT.into(),
                storage: Some(storage),
                token_vault: vault.then(|| TokenVault {
                    service_worker: "/oidc-session-sw.js".into(),
                    when_unavailable: VaultFallback::Memory,
                }),
                silent_sso: Some(world.chance(20)),
                silent_redirect_uri: Some(format!("{APP}/silent")),
                ..ConfigInput::default()
            }
        };
        let tabs = 1 + world.random(3) as usize;
        let mut trace = String::new();
        let _ = writeln!(
            trace,
            "seed {seed}: server mode {server}, storage {storage:?}, vault {vault} (supported {}), {tabs} tab(s), \
             access tokens {} s, faults {}/{}/{} %, latency ≤ {} ms, silent SSO {:?}",
            world.vault_supported.get(),
            world.provider.borrow().access_lifetime,
            faults.unavailable,
            faults.html,
            faults.stall,
            faults.latency_ms,
            input.silent_sso,
        );
        // Each tab ahead in the lock's queue sends at most two token requests (the re-check)
        // and a silent sign-in, each cut by its timeout; the vault adds its own wait.
        let bound_ms = (tabs as u64 + 1) * 3 * 35_000 + 30_000;
        // Where the session really lives: in the vault, or (the vault unavailable, its default
        // fallback) in the tab's memory, or in the configured storage.
        let vault_runs = vault && world.vault_supported.get();
        let effective = if vault && !vault_runs {
            StorageKind::Memory
        } else {
            storage
        };
        let shared = server || vault_runs || effective == StorageKind::Local;
        Self {
            seed,
            world,
            input,
            shared,
            vault,
            vault_runs,
            effective,
            server,
            tabs: (0..tabs).map(|_| None).collect(),
            calls: Vec::new(),
            jumped: 0,
            sign_outs: Vec::new(),
            reach_checks: Vec::new(),
            signed_in_at: (0..tabs).map(|_| Rc::default()).collect(),
            trace,
            longest: Rc::default(),
            calls_ok: Rc::default(),
            stale_401: Rc::default(),
            counts: Counts {
                scenarios: 1,
                vault_scenarios: u64::from(vault),
                server_scenarios: u64::from(server),
                ..Counts::default()
            },
            bound_ms,
        }
    }

    fn now(&self) -> u64 {
        self.world.now_ms.get()
    }

    fn log(&mut self, what: &str) {
        let t = self.now() % 10_000_000;
        let _ = writeln!(self.trace, "  {t:>8} ms  {what}");
    }

    fn fail(&self, invariant: &str) -> String {
        let mut provider = String::new();
        for (t, line) in self.world.log.borrow().iter() {
            let _ = writeln!(provider, "  {:>8} ms  {line}", t % 10_000_000);
        }
        format!(
            "simulation of the clients, seed {}: {invariant}\nreplay: SIM_SEED={} cargo test \
             client_simulation\n{}provider:\n{provider}",
            self.seed, self.seed, self.trace
        )
    }

    /// Opens a page in `tab` at `href` and starts its bootstrap.
    fn open(&mut self, tab: usize, href: &str) {
        let sim = self.world.open_page(tab as u64, href);
        self.log(&format!("tab {tab}: page {} opens {href}", sim.page));
        let engine = Engine::new(sim.clone(), self.input.clone()).expect("a valid configuration");
        let statuses: Rc<RefCell<Vec<Status>>> = Rc::new(RefCell::new(vec![Status::Loading]));
        let (s, at, world) = (
            statuses.clone(),
            self.signed_in_at[tab].clone(),
            self.world.clone(),
        );
        let sub = engine.observers().subscribe(move |v| {
            let mut s = s.borrow_mut();
            if s.last() != Some(&v.status) {
                s.push(v.status);
                if v.status == Status::SignedIn {
                    at.set(world.now_ms.get());
                }
            }
        });
        let (w, page) = (self.world.clone(), sim.page);
        engine.on_refresh(Rc::new(move |outcome| {
            let what = match outcome {
                Ok(_) => "refreshed".to_owned(),
                Err(e) => format!("refresh failed: {} {}", e.code(), e.message()),
            };
            let t = w.now_ms.get();
            w.log.borrow_mut().push((t, format!("page {page}: {what}")));
        }));
        let done = Rc::new(Cell::new(false));
        self.calls.push(Call {
            page: sim.page,
            what: "bootstrap",
            started: self.now(),
            jumped: self.jumped,
            done: done.clone(),
        });
        let e = engine.clone();
        sim.world.spawn_in(
            sim.page,
            Box::pin(async move {
                e.bootstrap().await;
                done.set(true);
            }),
        );
        self.tabs[tab] = Some(PageRun {
            sim,
            engine,
            statuses,
            callback: href.starts_with(REDIRECT),
            _sub: sub,
        });
    }

    fn close(&mut self, tab: usize) {
        if let Some(p) = self.tabs[tab].take() {
            self.world.close_page(p.sim.page);
        }
    }

    /// The view of the tab's page, while its script runs (not for a frozen page).
    fn status(&self, tab: usize) -> Option<Status> {
        self.tabs[tab]
            .as_ref()
            .filter(|p| self.world.page_alive(p.sim.page))
            .map(|p| p.engine.observers().view().status)
    }

    fn run(&mut self, ms: u64) -> Result<(), String> {
        let until = self.now() + ms;
        self.world.run_until(until);
        self.follow_navigations();
        self.check()
    }

    /// A page that left for the provider: the provider signs the user in and sends the browser
    /// back to the callback; after an end-session page, the user comes back to the app.
    fn follow_navigations(&mut self) {
        for tab in 0..self.tabs.len() {
            let left = self.tabs[tab].as_ref().and_then(|p| {
                self.world
                    .pages
                    .borrow()
                    .get(&p.sim.page)
                    .and_then(|pg| pg.left.clone())
            });
            let Some(url) = left else { continue };
            self.close(tab);
            if url.starts_with("/api/auth/login")
                || url.starts_with(&format!("{APP}/api/auth/login"))
            {
                let lifetime = self.world.backend.borrow().lifetime_ms;
                let mut b = self.world.backend.borrow_mut();
                b.session = Some(("alice".into(), self.now() + lifetime));
                b.generation += 1;
                drop(b);
                self.log(&format!(
                    "tab {tab}: signed in at the backend, back to the app"
                ));
                self.open(tab, &format!("{APP}/"));
            } else if url.starts_with(&format!("{ISSUER}/authorize")) {
                let code = self.world.provider.borrow_mut().authorize(&url, "alice");
                if let Some((code, state, redirect)) = code {
                    let back = format!(
                        "{redirect}?{}",
                        crate::core::url::form_encode(&[
                            ("code", &code),
                            ("state", &state),
                            ("iss", ISSUER)
                        ])
                    );
                    self.log(&format!("tab {tab}: back from the provider with a code"));
                    self.open(tab, &back);
                }
            } else {
                self.world.provider.borrow_mut().logged_in = false;
                self.log(&format!("tab {tab}: at {url}, then back to the app"));
                self.open(tab, &format!("{APP}/"));
            }
        }
    }

    fn spawn_call(&mut self, tab: usize) {
        let Some(p) = &self.tabs[tab] else { return };
        if !self.world.page_alive(p.sim.page) {
            return;
        }
        let (e, page) = (p.engine.clone(), p.sim.page);
        let done = Rc::new(Cell::new(false));
        let d = done.clone();
        self.calls.push(Call {
            page,
            what: "access_token",
            started: self.now(),
            jumped: self.jumped,
            done,
        });
        self.counts.calls += 1;
        let (w, longest, ok) = (
            self.world.clone(),
            self.longest.clone(),
            self.calls_ok.clone(),
        );
        let (started, jumped) = (self.now(), self.world.jumped_ms.get());
        let generation = self.world.backend.borrow().generation;
        let (sim, server, stale) = (p.sim.clone(), self.server, self.stale_401.clone());
        self.world.spawn_in(
            page,
            Box::pin(async move {
                if server {
                    // An API call through the backend: on a 401, one shared /refresh and one
                    // retry. A retry that meets 401 again while the backend's session lives
                    // means the refresh was skipped when it was needed.
                    let attempts = Cell::new(0);
                    let r = e
                        .fetch_with(true, || {
                            attempts.set(attempts.get() + 1);
                            let call = sim.api_get();
                            async move { call.await.map(|r| (r.status, r.status)) }
                        })
                        .await;
                    match r {
                        Ok(200) => ok.set(ok.get() + 1),
                        Ok(401) if attempts.get() == 2 => {
                            // The backend's session exists: a refresh would have renewed it
                            // (unless the machine slept past the renewed token's life between
                            // the refresh and the retry).
                            // Not when the session changed during the call (a sign-out, a new
                            // sign-in): the 401 may be the old session's.
                            let slept = w.jumped_ms.get() != jumped;
                            let b = w.backend.borrow();
                            let same = b.generation == generation;
                            if b.session.is_some() && same && !slept {
                                stale.set(stale.get() + 1);
                            }
                        }
                        _ => {}
                    }
                } else if e.access_token().await.is_ok() {
                    ok.set(ok.get() + 1);
                }
                let took = w.now_ms.get() - started - (w.jumped_ms.get() - jumped);
                longest.set(longest.get().max(took));
                d.set(true);
            }),
        );
    }

    fn spawn_sign_in(&mut self, tab: usize) {
        let Some(p) = &self.tabs[tab] else { return };
        let e = p.engine.clone();
        self.world.spawn_in(
            p.sim.page,
            Box::pin(async move {
                let _ = e.sign_in(SignInOptions::default()).await;
            }),
        );
    }

    fn spawn_sign_out(&mut self, tab: usize, local_only: bool) {
        let Some(p) = &self.tabs[tab] else { return };
        let e = p.engine.clone();
        self.sign_outs.push((self.now(), tab));
        self.counts.sign_outs += 1;
        let finished = Rc::new(Cell::new(None));
        self.reach_checks.push((self.now(), tab, finished.clone()));
        let w = self.world.clone();
        self.world.spawn_in(
            p.sim.page,
            Box::pin(async move {
                let options = SignOutOptions {
                    local_only,
                    return_to: None,
                };
                if e.sign_out(options).await.is_ok() {
                    finished.set(Some(w.now_ms.get()));
                }
            }),
        );
    }

    /// Whether a sign-out that concerns `tab` was asked for after `since`.
    fn signed_out_since(&self, tab: usize, since: u64) -> bool {
        self.sign_outs
            .iter()
            .any(|(at, t)| *at >= since && (self.shared || *t == tab))
    }

    fn check(&mut self) -> Result<(), String> {
        let now = self.now();
        // 1: a refresh token presented twice had its rotation's answer lost.
        {
            let p = self.world.provider.borrow();
            for rt in &p.presented_twice {
                if !p.answers_lost.contains(rt) {
                    return Err(self.fail(&format!(
                        "invariant 1: refresh token {rt} presented twice, its rotation answered"
                    )));
                }
            }
        }
        // 3: view sequences.
        let mut user_tabs = Vec::new();
        for (tab, p) in self.tabs.iter().enumerate() {
            let Some(p) = p.as_ref().filter(|p| self.world.page_alive(p.sim.page)) else {
                continue;
            };
            let s = p.statuses.borrow();
            if s.first() != Some(&Status::Loading) {
                return Err(self.fail(&format!("invariant 3: tab {tab} did not start loading")));
            }
            if s.iter().skip(1).any(|x| *x == Status::Loading) {
                return Err(self.fail(&format!(
                    "invariant 3: tab {tab} went back to loading: {s:?}"
                )));
            }
            if p.callback && s.get(1) == Some(&Status::SignedOut) {
                return Err(self.fail(&format!(
                    "invariant 3: tab {tab} showed signedOut during its callback: {s:?}"
                )));
            }
            if let Some(u) = &p.engine.observers().view().user {
                user_tabs.push(u.sub.clone());
            }
        }
        if user_tabs.windows(2).any(|w| w[0] != w[1]) {
            return Err(self.fail("invariant 3: signed-in tabs disagree on the user"));
        }
        if self.stale_401.get() > 0 {
            return Err(self.fail(
                "invariant 2 (server mode): a retry met 401 while the backend's session lived: \
                 the refresh was skipped when it was needed",
            ));
        }
        // 5: where tokens are written. Server mode writes nothing to Web Storage, and to
        // IndexedDB only the time of the last refresh.
        if self.server {
            let web =
                !self.world.local.borrow().is_empty() || !self.world.session.borrow().is_empty();
            let idb_other = self
                .world
                .idb
                .borrow()
                .values()
                .any(|v| !v.bytes().all(|b| b.is_ascii_digit()));
            if web || idb_other {
                return Err(self.fail("invariant 5 (server mode): something but a time was stored"));
            }
        }
        let vault_active = self
            .tabs
            .iter()
            .flatten()
            .any(|p| p.engine.vault_status() == VaultStatus::Active);
        let storage = self.effective;
        let issued = self.world.provider.borrow().issued.clone();
        let found = |map: &dyn Fn(&mut dyn FnMut(&str))| {
            let mut hit = None;
            map(&mut |v: &str| {
                if hit.is_none() {
                    hit = issued.iter().find(|t| v.contains(t.as_str())).cloned();
                }
            });
            hit
        };
        let in_local = found(&|f| self.world.local.borrow().values().for_each(|v| f(v)));
        let in_session = found(&|f| self.world.session.borrow().values().for_each(|v| f(v)));
        let in_idb = found(&|f| self.world.idb.borrow().values().for_each(|v| f(v)));
        let forbidden = if vault_active || storage == StorageKind::Memory {
            in_local.or(in_session).or(in_idb)
        } else if storage == StorageKind::Session {
            in_local.or(in_idb)
        } else {
            None
        };
        if let Some(t) = forbidden {
            return Err(self.fail(&format!(
                "invariant 5: token {t} written where the mode keeps none (vault active: \
                 {vault_active}, storage {storage:?})"
            )));
        }
        self.counts.token_places_checked += 1;
        // 6: calls settle.
        for c in &self.calls {
            if c.done.get() || !self.world.page_alive(c.page) {
                continue;
            }
            let waited = now - c.started - (self.jumped - c.jumped);
            if waited > self.bound_ms {
                return Err(self.fail(&format!(
                    "invariant 6: {} pending for {waited} ms (bound {} ms)",
                    c.what, self.bound_ms
                )));
            }
        }
        self.calls
            .retain(|c| !c.done.get() && self.world.page_alive(c.page));
        Ok(())
    }

    /// Invariant 2 at a transition to signed out; invariant 4 after a sign-out settled.
    fn check_sign_outs(&mut self, before: &[Option<(u64, Status)>]) -> Result<(), String> {
        // A page's memory is all a `memory` session has: a reload ends it by design.
        let kept_across_reloads =
            self.server || self.vault_runs || self.effective != StorageKind::Memory;
        for tab in 0..self.tabs.len() {
            let Some((page, Status::SignedIn)) = before[tab] else {
                continue;
            };
            let Some(p) = &self.tabs[tab] else { continue };
            if p.sim.page != page && !kept_across_reloads {
                continue;
            }
            // A reloaded page is judged once its bootstrap ended.
            if self.status(tab) != Some(Status::SignedOut) {
                continue;
            }
            // A sign-out still in flight when this tab signed in (it ends at most a request
            // timeout later) may end the session this tab shows.
            let since = self.signed_in_at[tab].get().saturating_sub(30_000);
            if self.signed_out_since(tab, since) {
                continue;
            }
            let p = self.world.provider.borrow();
            let ended = if self.server {
                self.world.backend.borrow().session.is_none()
            } else {
                p.grants.iter().any(|g| !g.alive)
            };
            drop(p);
            if ended {
                self.counts.signed_out_grant_ended += 1;
                continue;
            }
            return Err(self.fail(&format!(
                "invariant 2: tab {tab} signed out while its grant lived"
            )));
        }
        Ok(())
    }

    fn step(&mut self) -> Result<(), String> {
        let before: Vec<Option<(u64, Status)>> = (0..self.tabs.len())
            .map(|t| Some((self.tabs[t].as_ref()?.sim.page, self.status(t)?)))
            .collect();
        let tab = self.world.random(self.tabs.len() as u64) as usize;
        match self.world.random(100) {
            0..=34 => {
                self.log(&format!("tab {tab}: access_token()"));
                self.spawn_call(tab);
            }
            35..=49 => {
                let ms = self
                    .world
                    .random(self.world.provider.borrow().access_lifetime * 1000);
                self.log(&format!("time passes: {ms} ms"));
                self.run(ms)?;
            }
            50..=59 => {
                self.log(&format!("tab {tab}: reload"));
                self.counts.reloads += 1;
                self.close(tab);
                self.open(tab, &format!("{APP}/"));
            }
            60..=64 => {
                let local = self.world.chance(50);
                if self.status(tab) == Some(Status::SignedIn) {
                    self.log(&format!("tab {tab}: sign_out(local_only: {local})"));
                    self.spawn_sign_out(tab, local);
                }
            }
            65..=69 => {
                let ms = 600_000 + self.world.random(7_200_000);
                self.log(&format!("the machine sleeps {ms} ms"));
                self.counts.jumps += 1;
                self.jumped += ms;
                self.world.jump(ms);
            }
            72..=73 if self.server => {
                // A same-origin script claims a refresh far in the future: it must not switch
                // /refresh off (marks later than now plus a small skew are ignored).
                self.log("a hostile script posts refreshed:<in ten years>");
                self.counts.hostile_marks += 1;
                let hostile = self.world.open_page(u64::MAX - 1, &format!("{APP}/evil"));
                // The configuration's default `me` path: relative, the backend on this origin.
                let name = "oidc-session:server:/api/auth/me:events".to_owned();
                if let Some(c) = hostile.open_channel(&name, |_| {}) {
                    let at = self.now() + 10 * 365 * 86_400_000;
                    hostile.post(&c, &format!("refreshed:{at}"));
                }
                let _ = hostile.world.idb_set_raw(
                    &format!("oidc-session:server:{APP}/api/auth/me:refreshed"),
                    &(self.now() + 10 * 365 * 86_400_000).to_string(),
                );
                self.world.close_page(hostile.page);
            }
            72..=73 if self.vault => {
                self.log("the browser stops the vault's worker");
                self.counts.worker_stops += 1;
                self.world.stop_worker();
            }
            70..=71 if self.tabs.len() > 1 => {
                // A tab whose script stops for good (frozen by the browser, or hung) while it
                // may hold the lock: the others must not wait for it for ever.
                if let Some(page) = self.tabs[tab].as_ref().map(|p| p.sim.page) {
                    self.log(&format!("tab {tab}: page {page} freezes"));
                    self.counts.freezes += 1;
                    self.world.freeze(page);
                }
            }
            74..=79 => {
                if self.status(tab) == Some(Status::SignedOut) {
                    self.log(&format!("tab {tab}: sign_in()"));
                    self.spawn_sign_in(tab);
                }
            }
            _ => {}
        }
        let small = self.world.random(300);
        self.run(small)?;
        self.check_sign_outs(&before)
    }

    /// Invariant 4: once a sign-out finished and the channel had time to carry it, every tab
    /// sharing the session is signed out (unless someone signed in after it was asked for).
    fn check_reach(&mut self) -> Result<(), String> {
        let now = self.now();
        let due: Vec<(u64, usize, u64)> = self
            .reach_checks
            .iter()
            .filter_map(|(at, from, done)| {
                let d = done.get()?;
                (now >= d + SETTLE_MS).then_some((*at, *from, d))
            })
            .collect();
        self.reach_checks
            .retain(|(_, _, done)| done.get().is_none_or(|d| now < d + SETTLE_MS));
        for (at, from, _) in due {
            let signed_in_since = self.signed_in_at.iter().any(|t| t.get() > at);
            if !self.shared || signed_in_since {
                continue;
            }
            for tab in 0..self.tabs.len() {
                if self.status(tab) == Some(Status::SignedIn) {
                    return Err(self.fail(&format!(
                        "invariant 4: tab {tab} still signed in {} ms after tab {from}'s \
                         sign-out finished",
                        now - at
                    )));
                }
            }
            self.counts.sign_outs_checked += 1;
        }
        Ok(())
    }

    fn play(&mut self) -> Result<(), String> {
        // Every tab opens the app; the first signs in.
        for tab in 0..self.tabs.len() {
            self.open(tab, &format!("{APP}/"));
        }
        self.run(100)?;
        self.spawn_sign_in(0);
        self.run(5_000)?;
        self.counts.sign_ins += 1;
        for _ in 0..40 {
            self.step()?;
            self.check_reach()?;
        }
        // Let everything in flight finish.
        self.run(self.bound_ms)?;
        let p = self.world.provider.borrow();
        self.counts.refresh_grants = p.refresh_grants;
        self.counts.answers_lost = p.answers_lost.len() as u64;
        self.counts.reuse_after_loss = p.presented_twice.len() as u64;
        self.counts.longest_call_ms = self.longest.get();
        self.counts.calls_ok = self.calls_ok.get();
        let b = self.world.backend.borrow();
        self.counts.backend_refreshes = b.refreshes;
        self.counts.backend_redundant = b.redundant_refreshes;
        Ok(())
    }
}

fn run_one(seed: u64) -> Result<Counts, String> {
    let mut s = Scenario::new(seed);
    let r = s.play();
    s.world.shutdown();
    r.map(|()| s.counts)
}

pub(crate) fn run_seeds(first: u64, n: u64) -> Result<Counts, String> {
    let mut total = Counts::default();
    for seed in first..first + n {
        total.add(&run_one(seed)?);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_simulation() {
        let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
        let (first, n) = match env("SIM_SEED") {
            Some(seed) => (seed, 1),
            None => (1_000_000, env("SIM_CLIENT_SEEDS").unwrap_or(1_000)),
        };
        let started = std::time::Instant::now();
        match run_seeds(first, n) {
            Ok(c) => {
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "client simulation: {} scenarios ({} with the vault, {} in server mode, \
                     with {} hostile refresh marks) in {secs:.2} s \
                     ({:.0}/s)\n  {} sign-ins, {} access_token() calls ({} answered a token), \
                     {} refresh grants, {} reloads, {} sign-outs, {} worker stops, {} frozen \
                     tabs, {} sleeps; server mode: {} /refresh at the backend, {} of them while \
                     the access token was fresh\n  \
                     invariant 1: 0 refresh tokens presented twice, except {} whose rotation \
                     answer was lost ({} answers lost to a reload, a stopped worker or a \
                     timeout)\n  invariant 2: 0 sign-outs while the grant lived; {} after the \
                     provider ended it\n  invariant 3: every view sequence valid, tabs agreed \
                     on the user\n  invariant 4: {} sign-outs checked to reach every tab \
                     sharing the session\n  invariant 5: {} checks of where tokens are \
                     written\n  invariant 6: longest access_token() {} ms",
                    c.scenarios,
                    c.vault_scenarios,
                    c.server_scenarios,
                    c.hostile_marks,
                    c.scenarios as f64 / secs,
                    c.sign_ins,
                    c.calls,
                    c.calls_ok,
                    c.refresh_grants,
                    c.reloads,
                    c.sign_outs,
                    c.worker_stops,
                    c.freezes,
                    c.jumps,
                    c.backend_refreshes,
                    c.backend_redundant,
                    c.reuse_after_loss,
                    c.answers_lost,
                    c.signed_out_grant_ended,
                    c.sign_outs_checked,
                    c.token_places_checked,
                    c.longest_call_ms,
                );
                // A replayed seed (`SIM_SEED`) need not exercise everything; a run of many must.
                assert!(
                    n == 1
                        || (c.refresh_grants > 0 && c.sign_outs_checked > 0 && c.worker_stops > 0),
                    "the scenarios exercise nothing"
                );
            }
            Err(e) => panic!("{e}"),
        }
    }
}
