//! Server mode's flows: the backend keeps the tokens in HttpOnly cookies; the browser calls
//! its `me` (bootstrap: one read-only request), `refresh` (after a 401, once for every caller
//! and tab), `signout` and `login` endpoints. Nothing is written to web storage and no timer
//! runs; IndexedDB holds only the time of the last successful refresh.

use super::platform::Platform;
use super::shared::{Boxed, Shared, MSG_REFRESHED, MSG_SIGNED_OUT};
use super::{SignOutOptions, SignOutOutcome};
use crate::core::authorize::SignInOptions;
use crate::core::error::Error;
use crate::core::server::{
    backend_unavailable, login_url, me_result, refresh_ends_session, refresh_result,
    sign_out_result, Me, RefreshMark, ServerConfig,
};
use crate::core::session::Status;
use crate::core::text::{cat, parse_uint, uint};
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;

pub(super) struct ServerInner<P: Platform> {
    shared: Shared<P>,
    config: ServerConfig,
    /// When the last `/refresh` of any tab succeeded, as far as it is believable.
    refreshed_at: Cell<RefreshMark>,
}

/// The server-mode engine (cheap to clone).
pub(crate) struct ServerClient<P: Platform> {
    inner: Rc<ServerInner<P>>,
}

impl<P: Platform> Clone for ServerClient<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Platform> ServerClient<P> {
    pub(super) fn new(platform: P, config: ServerConfig) -> Self {
        let prefix = cat(&["oidc-session:server:", &config.me_url]);
        Self {
            inner: Rc::new(ServerInner {
                shared: Shared::new(platform, prefix),
                config,
                refreshed_at: Cell::new(RefreshMark::default()),
            }),
        }
    }

    pub(super) fn shared(&self) -> &Shared<P> {
        &self.inner.shared
    }

    /// Where this client runs.
    fn p(&self) -> &P {
        &self.inner.shared.platform
    }

    pub(super) fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Listens to the other tabs: `refreshed:{ms}` (a tab's `/refresh` succeeded) and
    /// `signedOut`.
    fn open_channel(&self) {
        let shared = self.shared();
        if shared.channel.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let channel = self.p().open_channel(&shared.key("events"), move |msg| {
            let Some(inner) = weak.upgrade() else { return };
            if msg == MSG_SIGNED_OUT {
                inner.shared.signed_out_elsewhere();
            } else if let Some(at) = msg.strip_prefix(MSG_REFRESHED).and_then(parse_uint) {
                inner.observe(at);
            }
        });
        *shared.channel.borrow_mut() = channel;
    }

    /// One `GET {me}`; a 401 is `SignedOut` whatever its code. With `refresh_on_bootstrap`, a
    /// 401 is followed by one `POST {refresh}` and, when that succeeded, one more `GET {me}`.
    pub(super) async fn run_bootstrap(self) -> Result<(), Error> {
        let shared = self.shared();
        // A no-op on the first run (the view starts there); a retry after a failure shows it.
        shared.set_view(Status::Loading, None, None);
        self.open_channel();
        let started = self.p().now_ms();
        let mut result = self.me().await;
        if self.config().refresh_on_bootstrap && matches!(result, Ok(Me::SignedOut)) {
            result = match self.refresh(started).await {
                Ok(()) => self.me().await,
                Err(e) if backend_unavailable(&e) => Err(e),
                // Refused: there is no session to resume.
                Err(_) => Ok(Me::SignedOut),
            };
        }
        match result {
            Ok(Me::User(u)) => shared.set_view(Status::SignedIn, Some(*u), None),
            Ok(Me::SignedOut) => shared.set_view(Status::SignedOut, None, None),
            Err(e) => shared.set_view(Status::Failed, None, Some(e)),
        }
        Ok(())
    }

    async fn me(&self) -> Result<Me, Error> {
        let c = self.config();
        let r = self.p().backend("GET", &c.me_url, c).await?;
        me_result(r.status, r.content_type.as_deref(), &r.body)
    }

    /// Navigates to the backend's login route with `returnTo`.
    pub(super) fn sign_in(&self, options: SignInOptions) -> Result<(), Error> {
        let c = self.config();
        let url = login_url(c, options.return_to.as_deref(), &c.app_origin)?;
        self.p().leave(&url, options.replace)
    }

    /// `POST {signout}`, then the provider's end-session page when the backend names one
    /// (unless `local_only`), else `returnTo`.
    pub(super) async fn sign_out(&self, options: SignOutOptions) -> Result<SignOutOutcome, Error> {
        let c = self.config();
        let return_to = options
            .return_to
            .as_deref()
            .map(|r| crate::core::config::sanitize_return_to(r, &c.app_origin))
            .transpose()?;
        let reply = self.p().backend("POST", &c.sign_out_url, c).await?;
        let end = sign_out_result(reply.status, &reply.body)?;
        self.shared().set_view(Status::SignedOut, None, None);
        self.shared().broadcast(MSG_SIGNED_OUT);
        self.shared()
            .leave_after_sign_out(end.filter(|_| !options.local_only), return_to)
    }

    /// Sends an app request; on a 401 from the backend, one shared refresh and one retry.
    pub(super) async fn fetch_with<R, F, Fut>(
        &self,
        to_backend: bool,
        mut send: F,
    ) -> Result<R, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(R, u16), Error>>,
    {
        let started = self.p().now_ms();
        let (first, status) = send().await?;
        if status != 401 || !to_backend {
            return Ok(first);
        }
        drop(first);
        self.refresh(started).await?;
        Ok(send().await?.0)
    }

    /// `POST {refresh}` once for every caller and tab whose request started before the last
    /// successful refresh; terminal failures sign every tab out. Boxed and not inlined: the
    /// generic `fetch_with` is compiled in its caller's crate, which would otherwise build (and
    /// so compile its own copy of) the refresh flow.
    #[inline(never)]
    fn refresh(&self, request_started: u64) -> Boxed<Result<(), Error>> {
        let me = self.clone();
        Box::pin(async move {
            let work = Box::pin(me.clone().refresh_locked(request_started));
            me.shared()
                .refresh_once(me.shared().key("refresh"), work)
                .await
        })
    }

    async fn refresh_locked(self, started: u64) -> Result<(), Error> {
        if !self.inner.refreshed_at.get().refresh_needed(started) {
            // Another caller or tab refreshed after this request went out: just retry it.
            return Ok(());
        }
        // The other tab's BroadcastChannel message may still be in flight when its lock is
        // released: the IndexedDB copy, committed before that release, is authoritative.
        let key = self.shared().key("refreshed");
        if let Ok(Some(t)) = self.p().idb_get(&key).await {
            if let Some(at) = parse_uint(&t) {
                self.inner.observe(at);
                if !self.inner.refreshed_at.get().refresh_needed(started) {
                    return Ok(());
                }
            }
        }
        let c = self.config();
        let result = match self.p().backend("POST", &c.refresh_url, c).await {
            Ok(r) => refresh_result(r.status, r.content_type.as_deref(), &r.body),
            Err(e) => Err(e),
        };
        match &result {
            Ok(()) => {
                let at = self.p().now_ms();
                self.inner.observe(at);
                let _ = self.p().idb_set(&key, Some(&uint(at))).await;
                self.shared().broadcast(&cat(&[MSG_REFRESHED, &uint(at)]));
            }
            // 401 from refresh: the backend has no session to refresh.
            Err(e) if refresh_ends_session(e) => {
                self.shared().set_view(Status::SignedOut, None, None);
                self.shared().broadcast(MSG_SIGNED_OUT);
            }
            Err(_) => {}
        }
        self.shared().refreshed(result.as_ref().map(|_| None));
        result
    }
}

impl<P: Platform> ServerInner<P> {
    /// Takes a `refreshed` mark (broadcast, IndexedDB, or this tab's own) if `core::server`
    /// finds it believable now.
    fn observe(&self, at_ms: u64) {
        let mut m = self.refreshed_at.get();
        if m.observe(at_ms, self.shared.platform.now_ms()) {
            self.refreshed_at.set(m);
        }
    }
}
