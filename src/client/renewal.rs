//! Browser mode's renewal: `access_token` (the stored token while fresh, else one refresh for
//! every caller and tab), the refresh under the cross-tab lock, the renewal timer with jitter
//! and backoff, and the wake-up listeners that re-read the clock.

use super::browser_mode::{BrowserClient, BrowserInner};
use super::platform::Platform;
use crate::core::error::{Error, ErrorKind};
use crate::core::refresh::{
    needs_refresh, next_renewal, Next, RefreshRun, RefreshStep, ScheduleInput,
};
use crate::core::secret::AccessToken;
use crate::core::token::refresh_body;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// The renewal's own state: its timer, the wake-up listeners, when the last attempt started
/// and how many failed in a row. Nothing else reads or writes these.
pub(super) struct Renewal<P: Platform> {
    /// The proactive renewal timer.
    timer: RefCell<Option<P::Timer>>,
    /// `focus`, `online`, `visibilitychange`: the clock is re-read when the page wakes up.
    wake: RefCell<Option<P::Timer>>,
    last_attempt: Cell<Option<u64>>,
    failures: Cell<u32>,
}

impl<P: Platform> Default for Renewal<P> {
    fn default() -> Self {
        Self {
            timer: RefCell::default(),
            wake: RefCell::default(),
            last_attempt: Cell::default(),
            failures: Cell::default(),
        }
    }
}

impl<P: Platform> Renewal<P> {
    /// Stops the timer (the session ended, or it is re-armed).
    pub(super) fn cancel(&self) {
        self.timer.borrow_mut().take();
    }

    /// A refresh attempt starts now.
    pub(super) fn attempt_started(&self, now: u64) {
        self.last_attempt.set(Some(now));
    }

    fn attempt_ended(&self, ok: bool) {
        let failures = if ok {
            0
        } else {
            self.failures.get().saturating_add(1)
        };
        self.failures.set(failures);
    }
}

impl<P: Platform> BrowserClient<P> {
    fn margin(&self) -> u64 {
        self.config().refresh_margin
    }

    /// A valid access token: the stored one while fresh, else a refresh (one request per tab,
    /// however many callers wait).
    pub(super) async fn access_token(&self) -> Result<AccessToken, Error> {
        {
            let s = self.inner.session.borrow();
            let s = s.as_ref().ok_or(ErrorKind::NotSignedIn)?;
            if !needs_refresh(s.expires_at, s.issued_at, self.p().now(), self.margin()) {
                return Ok(s.access_token.clone());
            }
            if !self.renewable(s) {
                return Err(ErrorKind::TokenExpired.into());
            }
        }
        self.renew_once().await?;
        self.inner
            .session
            .borrow()
            .as_ref()
            .map(|s| s.access_token.clone())
            .ok_or_else(|| ErrorKind::NotSignedIn.into())
    }

    /// One refresh for every tab, run under the cross-tab lock: carries out the steps of
    /// `core::refresh::RefreshRun`, which decides what to read, adopt, redeem or end.
    pub(super) async fn refresh_now(self) -> Result<(), Error> {
        self.inner.renewal.attempt_started(self.p().now());
        let mut step = RefreshRun::start(self.config().silent_sso, self.margin());
        let result = loop {
            step = match step {
                RefreshStep::ReadShared(next) => {
                    let shared = self.read_shared().await;
                    let mine = self.inner.session.borrow().as_deref().cloned();
                    next.read(shared, mine, self.p().now())
                }
                RefreshStep::Redeem(current, next) => {
                    let r = match (self.provider().await, &current.refresh_token) {
                        (Ok(provider), Some(rt)) => {
                            let body = refresh_body(rt, &self.config().client_id);
                            self.redeem(&provider, body, None, Some(&current), Some(&current.sub))
                                .await
                        }
                        (Err(e), _) => Err(e),
                        (Ok(_), None) => Err(ErrorKind::NotSignedIn.into()),
                    };
                    next.answered(r)
                }
                RefreshStep::SilentSignIn { sub, then } => {
                    then.answered(self.silent_sign_in(Some(&sub)).await)
                }
                RefreshStep::Adopt(stored) => {
                    self.adopt(stored);
                    break Ok(());
                }
                RefreshStep::Done {
                    result,
                    end_session,
                } => {
                    if end_session {
                        let _ = self.write_shared(None).await;
                        self.drop_session();
                    }
                    break result;
                }
            };
        };
        self.count_attempt(&result);
        result
    }

    /// After a refresh attempt (here or in the token vault): resets the failure count, or
    /// counts the failure, tells the refresh hook and re-arms the timer with its backoff.
    pub(super) fn count_attempt(&self, result: &Result<(), Error>) {
        self.inner.renewal.attempt_ended(result.is_ok());
        if let Err(e) = result {
            self.shared().refreshed(Err(e));
            self.schedule_renewal();
        }
    }

    /// (Re)arms the renewal timer from the session, the last attempt and the failure count.
    pub(super) fn schedule_renewal(&self) {
        let renewal = &self.inner.renewal;
        renewal.cancel();
        if !self.config().auto_refresh {
            return;
        }
        let (expires_at, issued_at) = match &*self.inner.session.borrow() {
            Some(s) if self.renewable(s) => (s.expires_at, s.issued_at),
            _ => return,
        };
        let jitter = self
            .p()
            .random::<1>()
            .map(|b| f64::from(b[0]) / 256.0)
            .unwrap_or(0.5);
        let next = next_renewal(&ScheduleInput {
            expires_at,
            issued_at,
            margin: self.margin(),
            now: self.p().now(),
            last_attempt: renewal.last_attempt.get(),
            failures: renewal.failures.get(),
            jitter,
        });
        let secs = match next {
            Next::Idle => return,
            Next::RenewIn(d) | Next::RecheckIn(d) => d,
        };
        let weak = Rc::downgrade(&self.inner);
        let timer = self
            .p()
            .timeout(u32::try_from(secs * 1000).unwrap_or(u32::MAX), move || {
                renew_soon(&weak)
            });
        *renewal.timer.borrow_mut() = Some(timer);
    }

    /// Reads the wall clock and renews when due (timers alone are not trusted: they stop while
    /// the machine sleeps), then re-arms the timer.
    async fn renew_if_due(self) {
        if self.inner.session.borrow().is_some() {
            let _ = self.access_token().await;
        }
        self.schedule_renewal();
    }

    pub(super) fn watch_wake_ups(&self) {
        let wake = &self.inner.renewal.wake;
        if !self.config().auto_refresh || wake.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        *wake.borrow_mut() = Some(self.p().on_wake_up(move || renew_soon(&weak)));
    }
}

/// Starts `renew_if_due` from a timer or an event, unless the client is gone.
fn renew_soon<P: Platform>(weak: &Weak<BrowserInner<P>>) {
    if let Some(inner) = weak.upgrade() {
        let me = BrowserClient { inner };
        me.p().spawn(Box::pin(me.clone().renew_if_due()));
    }
}
