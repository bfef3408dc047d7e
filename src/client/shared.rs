//! What both modes share: the view, the refresh hook, the cross-tab channel and storage keys,
//! the run-once bootstrap (`Boot`) and the single-flight refresh (`Flight`).

use super::view::{Observers, View};
use super::{RefreshHook, RefreshOutcome, SignOutOutcome};
use crate::browser::builtins::Promise;
use crate::browser::channel::Channel;
use crate::browser::lock;
use crate::core::error::{Error, ErrorKind};
use crate::core::session::Status;
use crate::core::user::User;
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::JsValue;

/// A boxed flow, so the single-flight wrapper is compiled once for every kind of refresh.
pub(super) type Boxed<T> = Pin<Box<dyn Future<Output = T>>>;

/// Cross-tab messages. They carry no token: the receiving tab re-reads storage.
#[cfg(feature = "browser-mode")]
pub(super) const MSG_SESSION: &str = "session";
pub(super) const MSG_SIGNED_OUT: &str = "signedOut";
/// Server mode: `refreshed:{ms}`, when a tab's `/refresh` succeeded.
pub(super) const MSG_REFRESHED: &str = "refreshed:";

pub(super) struct Shared {
    pub(super) observers: Rc<Observers>,
    pub(super) boot: Boot,
    pub(super) flight: Flight,
    hook: RefCell<Option<RefreshHook>>,
    /// Open while the session is shared by tabs (localStorage, or server mode).
    pub(super) channel: RefCell<Option<Channel>>,
    key_prefix: String,
}

impl Shared {
    pub(super) fn new(key_prefix: String) -> Self {
        Self {
            observers: Observers::new(),
            boot: Boot::default(),
            flight: Flight::default(),
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

    pub(super) fn broadcast(&self, msg: &str) {
        if let Some(c) = &*self.channel.borrow() {
            c.post(msg);
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
}

/// Where the page goes after a sign-out, in both modes: the end-session page when there is
/// one, else `return_to` (already checked to be of this origin) in place, else nowhere.
pub(super) fn leave_after_sign_out(
    end: Option<String>,
    return_to: Option<String>,
) -> Result<SignOutOutcome, Error> {
    match end {
        Some(url) => {
            crate::browser::nav::assign(&url)?;
            Ok(SignOutOutcome::LeavingPage)
        }
        None => {
            if let Some(r) = return_to {
                crate::browser::nav::replace_url(&r);
            }
            Ok(SignOutOutcome::StayedOnPage)
        }
    }
}

enum BootState {
    Idle,
    Running(Vec<Waker>),
    Done(Rc<View>),
}

/// The bootstrap, run once: the first call spawns it (so it finishes even when that caller
/// goes away), every call waits for its view.
pub(super) struct Boot(Rc<RefCell<BootState>>);

impl Default for Boot {
    fn default() -> Self {
        Self(Rc::new(RefCell::new(BootState::Idle)))
    }
}

impl Boot {
    pub(super) async fn once(&self, start: impl FnOnce() -> Boxed<Rc<View>>) -> Rc<View> {
        let idle = matches!(*self.0.borrow(), BootState::Idle);
        if idle {
            *self.0.borrow_mut() = BootState::Running(Vec::new());
            let job = start();
            let cell = self.0.clone();
            crate::browser::spawn(async move {
                let view = job.await;
                let before = std::mem::replace(&mut *cell.borrow_mut(), BootState::Done(view));
                if let BootState::Running(waiting) = before {
                    for w in waiting {
                        w.wake();
                    }
                }
            });
        }
        BootWait(self.0.clone()).await
    }

    /// After a finished bootstrap, lets the next `once` run it again.
    pub(super) fn reset(&self) {
        let done = matches!(*self.0.borrow(), BootState::Done(_));
        if done {
            *self.0.borrow_mut() = BootState::Idle;
        }
    }
}

struct BootWait(Rc<RefCell<BootState>>);

impl Future for BootWait {
    type Output = Rc<View>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Rc<View>> {
        match &mut *self.0.borrow_mut() {
            BootState::Done(v) => Poll::Ready(v.clone()),
            BootState::Running(waiting) => {
                if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                    waiting.push(cx.waker().clone());
                }
                Poll::Pending
            }
            // Reset while this caller waited: the next bootstrap's view is not this call's.
            BootState::Idle => Poll::Ready(Rc::new(View {
                status: Status::Loading,
                user: None,
                error: None,
            })),
        }
    }
}

/// A refresh's error, for every caller that waited on it (a JS promise cannot carry it).
type Outcome = Rc<RefCell<Option<Error>>>;

/// The refresh under way in this tab: its lock request, and where its error will be.
#[derive(Default)]
pub(super) struct Flight(Rc<RefCell<Option<(Promise, Outcome)>>>);

impl Flight {
    /// Runs `work` under the cross-tab lock `lock_name`, unless a refresh is already under way
    /// in this tab: then `work` is dropped unstarted (futures do nothing until polled) and this
    /// waits for that one. Every caller gets the same outcome. The promise every caller waits
    /// on is the lock request itself.
    pub(super) async fn run(
        &self,
        lock_name: &str,
        work: Boxed<Result<(), Error>>,
    ) -> Result<(), Error> {
        let current = self.0.borrow().clone();
        let (promise, outcome) = match current {
            Some(flight) => flight,
            None => {
                let outcome = Outcome::default();
                let (cell, slot) = (self.0.clone(), outcome.clone());
                let job: lock::Job = Box::pin(async move {
                    let r = work.await;
                    cell.borrow_mut().take();
                    r.map(|()| JsValue::UNDEFINED).map_err(|e| {
                        *slot.borrow_mut() = Some(e);
                        JsValue::NULL
                    })
                });
                let p = lock::request(lock_name, job);
                *self.0.borrow_mut() = Some((p.clone(), outcome.clone()));
                (p, outcome)
            }
        };
        if crate::browser::settled(&promise).await.is_ok() {
            return Ok(());
        }
        let recorded = outcome.borrow().clone();
        if let Some(e) = recorded {
            return Err(e);
        }
        // No error recorded: the lock was refused and `work` never ran, so nothing cleared
        // this flight.
        let mut flight = self.0.borrow_mut();
        if flight
            .as_ref()
            .is_some_and(|(_, o)| Rc::ptr_eq(o, &outcome))
        {
            flight.take();
        }
        Err(ErrorKind::Unsupported {
            what: "the lock request was refused",
        }
        .into())
    }
}
