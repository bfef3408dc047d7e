//! Browser mode's stored session: where it lives (`Store`: a page's storage area or memory, the
//! vault seen from a page, the vault's worker), the IndexedDB copy that tabs share, the
//! BroadcastChannel that tells them of changes, and what the view shows of it.

use super::browser_mode::{BrowserClient, Place};
use super::platform::{Area, Job, Platform};
use super::shared::{MSG_SESSION, MSG_SIGNED_OUT};
use crate::core::authorize::PendingSignIn;
use crate::core::config::BrowserConfig;
use crate::core::discovery::Provider;
use crate::core::error::Error;
use crate::core::json::decode as from_json;
use crate::core::jwt::split;
use crate::core::secret::AuthorizationCode;
use crate::core::session::{adopt_announced, Status, StoredSession};
use crate::core::user::User;
use std::future::Future;
use std::rc::Rc;

/// Where a client's session lives: the one type that knows whether there is a vault. Every
/// read, write and adoption of the session, the renewal's route and the sign-in's and
/// sign-out's differences go through it (the methods below); nothing else branches on it.
pub(super) enum Store<P: Platform> {
    /// A page that keeps the tokens itself: in a Web Storage area, or only in the tab's memory
    /// (`None`). Also a page whose vault could not run (`BrowserConfig::page_storage`).
    Page(Option<Area>),
    /// A page whose vault's worker holds the tokens; the page has the access token in memory
    /// and never a refresh token.
    Vault(P::Vault),
    /// The vault's service worker: the session in its sealed store.
    Worker,
}

impl<P: Platform> Store<P> {
    /// Before the bootstrap: a page keeps the tokens where its configuration says without a
    /// vault (a page with a vault moves to `Vault` once it connected).
    pub(super) fn new(place: Place, config: &BrowserConfig) -> Self {
        match place {
            Place::Page => Store::Page(Area::for_tokens(config.page_storage(false))),
            Place::VaultWorker => Store::Worker,
        }
    }
}

impl<P: Platform> BrowserClient<P> {
    /// The Web Storage area of the session: none in memory, in the vault's worker, for a page
    /// whose tokens the vault holds, or whose vault could not run (`BrowserConfig::page_storage`).
    pub(super) fn token_area(&self) -> Option<Area> {
        match &*self.inner.store.borrow() {
            Store::Page(area) => *area,
            Store::Vault(_) | Store::Worker => None,
        }
    }

    /// Whether tabs share this session (and so open the channel): in localStorage, or in the
    /// vault (the worker tells the pages, the pages tell each other).
    pub(super) fn shared_by_tabs(&self) -> bool {
        match &*self.inner.store.borrow() {
            Store::Page(_) => self.config().shared_by_tabs(false),
            Store::Vault(_) => self.config().shared_by_tabs(true),
            Store::Worker => true,
        }
    }

    /// The vault's registration, while this page's tokens are the vault's.
    pub(super) fn vault_link(&self) -> Option<P::Vault> {
        match &*self.inner.store.borrow() {
            Store::Vault(v) => Some(v.clone()),
            Store::Page(_) | Store::Worker => None,
        }
    }

    /// Whether the bootstrap should connect a vault: a page with one configured and not yet
    /// connected.
    pub(super) fn may_connect_vault(&self) -> bool {
        let page = matches!(*self.inner.store.borrow(), Store::Page(_));
        page && self.config().token_vault.is_some()
    }

    /// The vault connected: the tokens are its from now on. (Where it could not run, the
    /// store stays as `Store::new` made it: the page's fallback.)
    pub(super) fn use_vault(&self, vault: P::Vault) {
        *self.inner.store.borrow_mut() = Store::Vault(vault);
    }

    /// Whether a session can be renewed: with a refresh token, by silent SSO, or by the vault
    /// (which holds the refresh token).
    pub(super) fn renewable(&self, s: &StoredSession) -> bool {
        let vault = matches!(*self.inner.store.borrow(), Store::Vault(_));
        vault || s.refresh_token.is_some() || self.config().silent_sso
    }

    /// One renewal for every caller in this tab: the vault's worker refreshes under the
    /// cross-tab lock `refresh` and this tab's callers share one question to it (under another
    /// name: holding `refresh` here while the worker waits for it would deadlock); otherwise
    /// this tab refreshes under `refresh` itself.
    pub(super) fn renew_once(&self) -> impl Future<Output = Result<(), Error>> {
        let (name, work): (_, Job<Result<(), Error>>) = match self.vault_link() {
            Some(_) => ("vault", Box::pin(self.clone().vault_token())),
            None => ("refresh", Box::pin(self.clone().refresh_now())),
        };
        self.shared().refresh_once(self.key(name), work)
    }

    /// Redeems a sign-in's code: in the vault's worker when there is one, else here.
    pub(super) async fn redeem_code(
        &self,
        provider: &Provider,
        code: AuthorizationCode,
        pending: &PendingSignIn,
        previous_sub: Option<&str>,
    ) -> Result<(), Error> {
        if self.vault_link().is_some() {
            return self.vault_redeem(code, pending, previous_sub).await;
        }
        let body = self.code_body(&code, pending);
        self.redeem(provider, body, Some(pending), None, previous_sub)
            .await
    }

    /// At sign-out, before the session is dropped here: the vault revokes its refresh token
    /// and forgets the session for every tab. Nothing to do where the page holds the tokens.
    pub(super) async fn sign_out_remote(&self) -> Result<(), Error> {
        if self.vault_link().is_some() {
            return self.vault_sign_out().await;
        }
        Ok(())
    }

    /// Listens to the other tabs (shared localStorage only): a `session` message means the
    /// stored session changed (a refresh or a sign-in elsewhere), `signedOut` that it ended.
    pub(super) fn open_channel(&self) {
        let shared = self.shared();
        if !self.shared_by_tabs() || shared.channel.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let channel = self.p().open_channel(&self.key("events"), move |msg| {
            let Some(inner) = weak.upgrade() else { return };
            let me = BrowserClient { inner };
            match msg.as_str() {
                MSG_SESSION => me.p().clone().spawn(Box::pin(async move {
                    if let Some(s) = me.read_shared().await {
                        let newer = adopt_announced(me.inner.session.borrow().as_deref(), &s);
                        if newer {
                            me.adopt(s);
                        }
                    }
                })),
                MSG_SIGNED_OUT => {
                    me.inner.session.borrow_mut().take();
                    me.inner.renewal.cancel();
                    me.shared().signed_out_elsewhere();
                }
                _ => {}
            }
        });
        *shared.channel.borrow_mut() = channel;
    }

    /// The stored session, if the configured area holds a readable one.
    pub(super) fn read_stored(&self) -> Option<StoredSession> {
        let area = self.token_area()?;
        self.p()
            .get(area, &self.key("session"))
            .and_then(|t| from_json(&t, "stored session").ok())
    }

    /// The session as every tab sees it: for localStorage sessions, the IndexedDB copy, which
    /// is consistent across tabs the moment another tab's write committed (localStorage is
    /// not); otherwise (or if IndexedDB is unavailable) the storage area.
    pub(super) async fn read_shared(&self) -> Option<StoredSession> {
        let worker = matches!(*self.inner.store.borrow(), Store::Worker);
        if worker {
            return match self.p().sealed_get(&self.key("session")).await {
                Ok(v) => v.and_then(|t| from_json(&t, "stored session").ok()),
                Err(_) => None,
            };
        }
        if self.vault_link().is_some() {
            return self.vault_session().await;
        }
        if self.token_area() == Some(Area::Local) {
            if let Ok(v) = self.p().idb_get(&self.key("session")).await {
                return v.and_then(|t| from_json(&t, "stored session").ok());
            }
        }
        self.read_stored()
    }

    /// Commits the shared copy (before the lock is released and before other tabs are told).
    pub(super) async fn write_shared(&self, s: Option<&StoredSession>) -> Result<(), Error> {
        let json = s.map(StoredSession::to_json);
        let worker = matches!(*self.inner.store.borrow(), Store::Worker);
        if worker {
            // The vault is the worker's only store: a write it could not commit is an error.
            return self
                .p()
                .sealed_set(&self.key("session"), json.as_deref())
                .await;
        }
        if self.token_area() == Some(Area::Local) {
            let _ = self
                .p()
                .idb_set(&self.key("session"), json.as_deref())
                .await;
        }
        Ok(())
    }

    /// Loads the stored session into memory, without publishing it. Unusable entries (expired
    /// with no refresh token, unreadable) are removed.
    pub(super) fn load_stored(&self) {
        if self.inner.session.borrow().is_some() {
            return;
        }
        let Some(area) = self.token_area() else {
            return;
        };
        let key = self.key("session");
        match self
            .p()
            .get(area, &key)
            .map(|t| from_json::<StoredSession>(&t, "stored session"))
        {
            Some(Ok(s)) if s.access_token_fresh(self.p().now(), 0) || s.refresh_token.is_some() => {
                *self.inner.session.borrow_mut() = Some(Rc::new(s));
            }
            Some(_) => self.p().remove(area, &key),
            None => {}
        }
    }

    /// The user of the session in memory.
    pub(super) fn session_user(&self) -> Option<User> {
        self.inner.session.borrow().as_deref().and_then(user_of)
    }

    /// Publishes the session in memory: signed in with its user, or signed out.
    pub(super) fn publish_session(&self) {
        match self.session_user() {
            Some(u) => self.shared().set_view(Status::SignedIn, Some(u), None),
            None => self.shared().set_view(Status::SignedOut, None, None),
        }
    }

    /// Takes `s` (written by this or another tab) as the session, without writing it back.
    pub(super) fn adopt(&self, s: StoredSession) {
        let user = user_of(&s);
        *self.inner.session.borrow_mut() = Some(Rc::new(s));
        if let Some(u) = user {
            self.shared().set_view(Status::SignedIn, Some(u), None);
        }
        self.schedule_renewal();
    }

    pub(super) fn save_session(&self, session: StoredSession) -> Result<(), Error> {
        if let Some(area) = self.token_area() {
            self.p()
                .set(area, &self.key("session"), &session.to_json())?;
        }
        let user = user_of(&session);
        *self.inner.session.borrow_mut() = Some(Rc::new(session));
        self.shared().set_view(Status::SignedIn, user, None);
        self.shared().broadcast(MSG_SESSION);
        self.schedule_renewal();
        Ok(())
    }

    pub(super) fn drop_session(&self) {
        self.inner.session.borrow_mut().take();
        if let Some(area) = self.token_area() {
            self.p().remove(area, &self.key("session"));
        }
        self.shared().set_view(Status::SignedOut, None, None);
        self.shared().broadcast(MSG_SIGNED_OUT);
        self.inner.renewal.cancel();
    }
}

/// The user of a stored session: the ID token's payload (verified before it was stored)
/// merged with the stored UserInfo.
fn user_of(s: &StoredSession) -> Option<User> {
    let jws = split(s.id_token.secret()).ok()?;
    let payload = std::str::from_utf8(&jws.payload).ok()?;
    User::from_id_token(payload, s.userinfo.as_deref())
}
