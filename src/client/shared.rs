//! What both modes share: the platform, the view, the refresh hook, the cross-tab channel and
//! storage keys, the run-once bootstrap and the single-flight refresh (both a `SingleFlight`).

use super::platform::{Job, Platform};
use super::view::Observers;
use super::{RefreshHook, RefreshOutcome, SignOutOutcome};
use crate::core::error::Error;
use crate::core::session::Status;
use crate::core::user::User;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// A boxed flow, so the single-flight wrapper is compiled once for every kind of refresh.
pub(super) type Boxed<T> = Job<T>;

/// Cross-tab messages. They carry no token: the receiving tab re-reads storage.
#[cfg(feature = "browser-mode")]
pub(super) const MSG_SESSION: &str = "session";
pub(super) const MSG_SIGNED_OUT: &str = "signedOut";
/// Server mode: `refreshed:{ms}`, when a tab's `/refresh` succeeded.
pub(super) const MSG_REFRESHED: &str = "refreshed:";

pub(super) struct Shared<P: Platform> {
    /// Where the flows run: every effect goes through it.
    pub(super) platform: P,
    pub(super) observers: Rc<Observers>,
    /// The bootstrap: runs once, until `retry` resets it (its outcome is the view).
    pub(super) boot: SingleFlight,
    /// The refresh under way in this tab (one for every caller).
    pub(super) flight: SingleFlight,
    hook: RefCell<Option<RefreshHook>>,
    /// Open while the session is shared by tabs (localStorage, or server mode).
    pub(super) channel: RefCell<Option<P::Channel>>,
    key_prefix: String,
}

impl<P: Platform> Shared<P> {
    pub(super) fn new(platform: P, key_prefix: String) -> Self {
        Self {
            platform,
            observers: Observers::new(),
            boot: SingleFlight::default(),
            flight: SingleFlight::default(),
            hook: RefCell::default(),
            channel: RefCell::default(),
            key_prefix,
        }
    }

    /// A storage key (and lock and channel name) of this configuration: `{prefix}:{what}`.
    pub(super) fn key(&self, what: &str) -> String {
        let mut k = self.key_prefix.clone();
        k.push(':');
        k.push_str(what);
        k
    }

    pub(super) fn set_view(&self, status: Status, user: Option<User>, error: Option<Error>) {
        self.observers.set(status, user, error);
    }

    /// Another tab (or the vault's worker) announced a sign-out: published as `SignedOut`,
    /// except while the bootstrap runs, whose outcome is what gets published (a sign-out that
    /// finishes late must not show `SignedOut` before a callback's `SignedIn`).
    pub(super) fn signed_out_elsewhere(&self) {
        if self.observers.view().status != Status::Loading {
            self.set_view(Status::SignedOut, None, None);
        }
    }

    pub(super) fn broadcast(&self, msg: &str) {
        if let Some(c) = &*self.channel.borrow() {
            self.platform.post(c, msg);
        }
    }

    pub(super) fn set_hook(&self, hook: RefreshHook) {
        if let Ok(mut slot) = self.hook.try_borrow_mut() {
            *slot = Some(hook);
        }
    }

    /// Tells the refresh hook, if any, how a refresh request ended. Called in place (no clone).
    pub(super) fn refreshed(&self, outcome: RefreshOutcome<'_>) {
        if let Some(h) = &*self.hook.borrow() {
            h(outcome);
        }
    }

    /// Runs `work` under the cross-tab lock `lock_name`, unless a refresh is already under
    /// way in this tab: then `work` is dropped unstarted (futures do nothing until polled) and
    /// this waits for that one. Every caller gets the same outcome.
    pub(super) fn refresh_once(
        &self,
        lock_name: String,
        work: Boxed<Result<(), Error>>,
    ) -> impl Future<Output = Result<(), Error>> {
        let locked = self.platform.locked(lock_name, work);
        self.flight.run(&self.platform, false, locked)
    }

    /// Where the page goes after a sign-out, in both modes: the end-session page when there is
    /// one, else `return_to` (already checked to be of this origin) in place, else nowhere.
    pub(super) fn leave_after_sign_out(
        &self,
        end: Option<String>,
        return_to: Option<String>,
    ) -> Result<SignOutOutcome, Error> {
        match end {
            Some(url) => {
                self.platform.leave(&url, false)?;
                Ok(SignOutOutcome::LeavingPage)
            }
            None => {
                if let Some(r) = return_to {
                    self.platform.replace_url(&r);
                }
                Ok(SignOutOutcome::StayedOnPage)
            }
        }
    }
}

/// One run's outcome and who waits for it.
struct Slot {
    outcome: Option<Result<(), Error>>,
    waiting: Vec<Waker>,
}

type SlotRef = Rc<RefCell<Slot>>;

/// Single flight, the one mechanism for "one run, every caller gets its outcome": the first
/// caller spawns its job (so it finishes even when that caller goes away); callers that come
/// while it runs drop theirs unstarted (futures do nothing until polled) and wait for the same
/// run. A run that `keep`s its outcome answers every later caller too, until `reset` (the
/// bootstrap); otherwise the next caller after it ended starts a new run (the refresh). Not
/// generic over the outcome: one compiled copy serves both.
#[derive(Default)]
pub(super) struct SingleFlight(Rc<RefCell<Option<SlotRef>>>);

impl SingleFlight {
    pub(super) fn run<P: Platform>(
        &self,
        platform: &P,
        keep: bool,
        job: Boxed<Result<(), Error>>,
    ) -> impl Future<Output = Result<(), Error>> {
        let current = self.0.borrow().clone();
        let slot = match current {
            Some(slot) => slot,
            None => {
                let slot: SlotRef = Rc::new(RefCell::new(Slot {
                    outcome: None,
                    waiting: Vec::new(),
                }));
                *self.0.borrow_mut() = Some(slot.clone());
                let (cell, mine) = (self.0.clone(), slot.clone());
                platform.spawn(Box::pin(async move {
                    let outcome = job.await;
                    if !keep {
                        let mut c = cell.borrow_mut();
                        if c.as_ref().is_some_and(|s| Rc::ptr_eq(s, &mine)) {
                            c.take();
                        }
                    }
                    let waiting = {
                        let mut s = mine.borrow_mut();
                        s.outcome = Some(outcome);
                        std::mem::take(&mut s.waiting)
                    };
                    for w in waiting {
                        w.wake();
                    }
                }));
                slot
            }
        };
        Wait(slot)
    }

    /// After a finished run, lets the next `run` start another (the bootstrap's `retry`).
    pub(super) fn reset(&self) {
        let mut c = self.0.borrow_mut();
        if c.as_ref().is_some_and(|s| s.borrow().outcome.is_some()) {
            c.take();
        }
    }
}

struct Wait(SlotRef);

impl Future for Wait {
    type Output = Result<(), Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut s = self.0.borrow_mut();
        if let Some(o) = &s.outcome {
            return Poll::Ready(o.clone());
        }
        if !s.waiting.iter().any(|w| w.will_wake(cx.waker())) {
            s.waiting.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
