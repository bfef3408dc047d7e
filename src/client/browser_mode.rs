//! Browser mode's flows: bootstrap (the callback, restore, silent SSO), sign-in, sign-out, and
//! `redeem`, the one body that sends a code or a refresh token and verifies and stores what
//! comes back. The stored session lives in `session.rs`, provider metadata and keys in
//! `provider.rs`, renewal in `renewal.rs`.

use super::platform::{Area, Platform};
use super::provider::ProviderCache;
use super::renewal::Renewal;
use super::session::Store;
use super::shared::Shared;
use super::{SignOutOptions, SignOutOutcome, VaultStatus};
use crate::core::authorize::{
    authorization_request, silent_failure_is_quiet, silent_request, PendingSignIn, SignInOptions,
};
use crate::core::callback::{
    check_response, classify_location, parse_response, AuthorizationResponse, Landing,
};
use crate::core::config::{sanitize_return_to, BrowserConfig};
use crate::core::discovery::Provider;
use crate::core::error::{Error, ErrorKind};
use crate::core::json::{decode as from_json, Field, Fields, FromJson, Writer};
use crate::core::logout::{end_session_url, is_sign_out_return, revocation_body};
use crate::core::pkce::{b64url, Entropy};
use crate::core::secret::AuthorizationCode;
use crate::core::session::{
    after_callback_error, renewal_still_wanted, session_from_tokens, CallbackVerdict, Status,
    StoredSession, VerifiedIdToken,
};
use crate::core::text::{before, cat, parse_uint, uint};
use crate::core::token::{code_exchange_body, token_result, TokenResponse};
use crate::core::url::{query_of, HttpUrl};
use crate::core::user::userinfo_wanted;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

/// Browser mode's state: the configuration, the provider's metadata and keys, the session.
pub(super) struct BrowserInner<P: Platform> {
    pub(super) shared: Shared<P>,
    pub(super) config: BrowserConfig,
    /// Discovery and keys (`provider.rs`).
    pub(super) cache: ProviderCache,
    pub(super) session: RefCell<Option<Rc<StoredSession>>>,
    /// The renewal timer, wake-ups and counters (`renewal.rs`).
    pub(super) renewal: Renewal<P>,
    /// Where the session lives (`session.rs`): the one thing that knows about the vault.
    pub(super) store: RefCell<Store<P>>,
    pub(super) vault_status: Cell<VaultStatus>,
}

/// Where a browser-mode client runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A page: Web Storage, navigation, iframes; with a vault, the tokens are the worker's.
    Page,
    /// The vault's service worker: the session in the vault's sealed store, no page APIs.
    VaultWorker,
}

/// The browser-mode engine (cheap to clone).
pub(crate) struct BrowserClient<P: Platform> {
    pub(super) inner: Rc<BrowserInner<P>>,
}

impl<P: Platform> Clone for BrowserClient<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct PendingSignOut {
    state: String,
    return_to: Option<String>,
}

impl FromJson for PendingSignOut {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            state: f.req_str("state"),
            return_to: f.str("return_to"),
        })
    }
}

impl PendingSignOut {
    fn to_json(&self) -> String {
        Writer::default()
            .str("state", &self.state)
            .opt_str("return_to", self.return_to.as_deref())
            .finish()
    }
}

impl<P: Platform> BrowserClient<P> {
    pub(super) fn new(platform: P, config: BrowserConfig, place: Place) -> Self {
        let vault_status = match (place, &config.token_vault) {
            (Place::Page, Some(_)) => VaultStatus::Starting,
            _ => VaultStatus::Off,
        };
        let prefix = cat(&["oidc-session:", &config.issuer, ":", &config.client_id]);
        let store = Store::new(place, &config);
        Self {
            inner: Rc::new(BrowserInner {
                shared: Shared::new(platform, prefix),
                config,
                cache: ProviderCache::default(),
                session: RefCell::default(),
                renewal: Renewal::default(),
                store: RefCell::new(store),
                vault_status: Cell::new(vault_status),
            }),
        }
    }

    pub(super) fn shared(&self) -> &Shared<P> {
        &self.inner.shared
    }

    /// Where this client runs.
    pub(super) fn p(&self) -> &P {
        &self.inner.shared.platform
    }

    pub(super) fn config(&self) -> &BrowserConfig {
        &self.inner.config
    }

    pub(super) fn key(&self, what: &str) -> String {
        self.inner.shared.key(what)
    }

    // ---- bootstrap ------------------------------------------------------------------------

    /// One bootstrap (run once by `Shared::boot`). Publishes `Loading` (a retry after a
    /// failure), then exactly one outcome: the view is its result.
    pub(super) async fn run_bootstrap(self) -> Result<(), Error> {
        let shared = self.shared();
        // A no-op on the first run (the view starts there); a retry after a failure shows it.
        shared.set_view(Status::Loading, None, None);
        self.watch_wake_ups();
        let href = match self.p().href() {
            Ok(h) => h,
            Err(e) => {
                shared.set_view(Status::Failed, None, Some(e));
                return Ok(());
            }
        };
        let clean = self.callback_clean_path();
        if let Err(e) = self.connect_vault().await {
            shared.set_view(Status::Failed, None, Some(e));
            return Ok(());
        }
        // After the vault connected: whether tabs share the session (and so hear each other's
        // `session` and `signedOut`) depends on where the tokens live, which the vault decides.
        self.open_channel();
        // The stored session is loaded into memory first (the vault's, by `connect_vault`), but
        // published only with the outcome: a callback goes `Loading → SignedIn | Failed`, never
        // through `SignedOut`.
        self.load_stored();
        match classify_location(&href, &self.config().redirect_uri) {
            Err(e) => {
                self.p().replace_url(&clean);
                self.callback_failed(e, false);
            }
            Ok(Landing::Callback(response)) => match self.finish_callback(response).await {
                Ok(return_to) => self.p().replace_url(return_to.as_deref().unwrap_or(&clean)),
                Err((e, replay)) => {
                    self.p().replace_url(&clean);
                    self.callback_failed(e, replay);
                }
            },
            Ok(Landing::Normal) => {
                let signed_out_here = self.finish_sign_out_return(&href);
                let has_session = self.inner.session.borrow().is_some();
                if self.config().silent_sso && !has_session && !signed_out_here {
                    match self.silent_sign_in(None).await {
                        Ok(()) => {}
                        Err(e) if silent_failure_is_quiet(&e) => {
                            shared.set_view(Status::SignedOut, None, None)
                        }
                        Err(e) => shared.set_view(Status::Failed, None, Some(e)),
                    }
                } else {
                    self.publish_session();
                }
            }
        }
        self.schedule_renewal();
        Ok(())
    }

    /// Publishes the outcome of a callback that did not sign in: see `after_callback_error`.
    fn callback_failed(&self, e: Error, replay: bool) {
        let has_session = self.inner.session.borrow().is_some();
        match after_callback_error(&e, has_session, replay) {
            CallbackVerdict::KeepQuietly => self.publish_session(),
            CallbackVerdict::KeepAndReport => {
                let user = self.session_user();
                self.shared().set_view(Status::SignedIn, user, Some(e));
            }
            CallbackVerdict::Fail => self.shared().set_view(Status::Failed, None, Some(e)),
        }
    }

    /// The redirect URI's path and query: where the URL goes after a callback is handled.
    fn callback_clean_path(&self) -> String {
        HttpUrl::parse(&self.config().redirect_uri)
            .map(|u| before(&u.rest, b'#').to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// Redeems the callback's code. The error says whether the callback was a replay (its
    /// `state` is one this browser already completed): nothing is redeemed then either.
    async fn finish_callback(
        &self,
        response: AuthorizationResponse,
    ) -> Result<Option<String>, (Error, bool)> {
        let state = response
            .state
            .clone()
            .ok_or((ErrorKind::StateMismatch.into(), false))?;
        let key = self.key(&cat(&["pending:", &state]));
        let pending: Option<PendingSignIn> = self
            .p()
            .get(Area::Session, &key)
            .and_then(|t| from_json(&t, "pending sign-in").ok());
        let Some(pending) = pending else {
            let replay = self.was_completed(&state);
            return Err((ErrorKind::StateMismatch.into(), replay));
        };
        let provider = self.provider().await.map_err(|e| (e, false))?;
        let code = check_response(response, &pending, &provider, self.p().now())
            .map_err(|e| (e, false))?;
        // Consumed exactly once, before anything is awaited: a second run finds nothing, and
        // knows the state as completed (a replay, not a forgery).
        self.p().remove(Area::Session, &key);
        self.mark_completed(&state);
        self.redeem_code(&provider, code, &pending, None)
            .await
            .map_err(|e| (e, false))?;
        Ok(pending.return_to)
    }

    /// Remembers that `state`'s callback was handled, for a pending sign-in's lifetime, so that
    /// a reload or Back onto the callback URL is told apart from a forged `state`.
    fn mark_completed(&self, state: &str) {
        let _ = self.p().set(
            Area::Session,
            &self.key(&cat(&["completed:", state])),
            &uint(self.p().now()),
        );
    }

    fn was_completed(&self, state: &str) -> bool {
        self.p()
            .get(Area::Session, &self.key(&cat(&["completed:", state])))
            .and_then(|t| parse_uint(&t))
            .is_some_and(|at| !crate::core::authorize::is_stale(at, self.p().now()))
    }

    // ---- sign-in --------------------------------------------------------------------------

    /// Stores a pending sign-in and navigates to the provider.
    pub(super) async fn sign_in(&self, options: SignInOptions) -> Result<(), Error> {
        // Refuse a hostile returnTo before any request.
        if let Some(r) = &options.return_to {
            sanitize_return_to(r, &self.config().app_origin)?;
        }
        let provider = self.provider().await?;
        let entropy = self.draw_entropy().await?;
        let t = self.p().now();
        let (url, pending) =
            authorization_request(self.config(), &provider, &options, &entropy, t)?;
        self.prune_pending(t);
        self.p().set(
            Area::Session,
            &self.key(&cat(&["pending:", &pending.state])),
            &pending.to_json(),
        )?;
        self.p().leave(&url, options.replace)
    }

    /// Drops pending sign-ins and completed-callback marks that can no longer matter, so
    /// abandoned attempts do not pile up.
    fn prune_pending(&self, t: u64) {
        for k in self
            .p()
            .keys_with_prefix(Area::Session, &self.key("pending:"))
        {
            let stale = self
                .p()
                .get(Area::Session, &k)
                .and_then(|v| from_json::<PendingSignIn>(&v, "pending sign-in").ok());
            if stale.is_none_or(|p| p.is_expired(t)) {
                self.p().remove(Area::Session, &k);
            }
        }
        for k in self
            .p()
            .keys_with_prefix(Area::Session, &self.key("completed:"))
        {
            let at = self.p().get(Area::Session, &k).and_then(|v| parse_uint(&v));
            if at.is_none_or(|at| crate::core::authorize::is_stale(at, t)) {
                self.p().remove(Area::Session, &k);
            }
        }
    }

    /// `Client::sign_in_silently`: a silent sign-in unless a session is held already.
    pub(super) async fn sign_in_silently(&self) -> Result<(), Error> {
        if self.inner.session.borrow().is_some() {
            return Ok(());
        }
        self.silent_sign_in(None).await
    }

    /// A `prompt=none` sign-in in a hidden iframe: resumes the provider's session without a form.
    pub(super) async fn silent_sign_in(&self, previous_sub: Option<&str>) -> Result<(), Error> {
        let provider = self.provider().await?;
        let entropy = self.draw_entropy().await?;
        let (url, pending) = silent_request(self.config(), &provider, &entropy, self.p().now())?;
        let origin = &self.config().app_origin;
        let timeout_ms = u32::try_from(self.config().silent_timeout * 1000).unwrap_or(u32::MAX);
        let href = self
            .p()
            .silent(&url, origin, &pending.state, timeout_ms)
            .await?;
        let response = parse_response(query_of(&href))?.ok_or(ErrorKind::StateMismatch)?;
        let code = check_response(response, &pending, &provider, self.p().now())?;
        self.redeem_code(&provider, code, &pending, previous_sub)
            .await
    }

    /// The token request body that redeems `code` (with the sign-in's PKCE verifier).
    pub(super) fn code_body(&self, code: &AuthorizationCode, pending: &PendingSignIn) -> String {
        code_exchange_body(
            code,
            &pending.verifier,
            &pending.redirect_uri,
            &self.config().client_id,
        )
    }

    /// Redeems a grant at the token endpoint: an authorization code (`pending` is its sign-in),
    /// or the refresh token of `current`, the session being renewed. Verifies the ID token that
    /// came back (the same subject as `previous_sub` when renewing), reads UserInfo for a new
    /// sign-in whose ID token lacks the profile, and stores the session.
    pub(super) async fn redeem(
        &self,
        provider: &Provider,
        body: String,
        pending: Option<&PendingSignIn>,
        current: Option<&StoredSession>,
        previous_sub: Option<&str>,
    ) -> Result<(), Error> {
        let reply = self.p().post_form(provider.token_endpoint(), body).await?;
        let parsed = from_json::<TokenResponse>(&reply.body, "token response")?;
        let mut tokens = token_result(reply.status, parsed, self.p().now())?;
        let mut userinfo = None;
        let mut unreported = None;
        let id = match tokens.id_token.take() {
            Some(t) => {
                let (claims, payload) = self
                    .verify_issued_with(
                        provider,
                        &t,
                        &tokens.access_token,
                        pending.map(|p| p.nonce.as_str()),
                        pending.and_then(|p| p.max_age),
                        previous_sub,
                    )
                    .await?;
                let sub = claims.sub.unwrap_or_default();
                let endpoint = provider.metadata.userinfo_endpoint.as_deref();
                let wanted = userinfo_wanted(
                    current.is_some(),
                    endpoint.is_some(),
                    &self.config().scopes,
                    &payload,
                )?;
                if let (true, Some(endpoint)) = (wanted, endpoint) {
                    match self.userinfo(endpoint, &tokens.access_token, &sub).await {
                        Ok(info) => userinfo = Some(info),
                        // Not fatal (the ID token identifies the user), but never silent.
                        Err(e) if matches!(e.kind(), ErrorKind::UserinfoUnavailable) => {
                            unreported = Some(e)
                        }
                        Err(e) => return Err(e),
                    }
                }
                Some(VerifiedIdToken { token: t, sub })
            }
            None => None,
        };
        let expires_at = tokens.expires_at;
        let session = session_from_tokens(tokens, id, userinfo, current, self.p().now())?;
        if current.is_some() {
            let held = if self.shared_by_tabs() {
                // The shared copy; else the storage area's, for a session kept by a version
                // before the IndexedDB copy existed (a sign-out clears both).
                self.read_shared().await.or_else(|| self.read_stored())
            } else {
                self.inner.session.borrow().as_deref().cloned()
            };
            if !renewal_still_wanted(held.as_ref()) {
                // Signed out while the request was in flight: the answer is dropped unstored,
                // so nobody holds its tokens (the sign-out revoked the grant's refresh token).
                return Err(ErrorKind::NotSignedIn.into());
            }
        }
        self.write_shared(Some(&session)).await?;
        self.save_session(session)?;
        if let Some(e) = unreported {
            let user = self.session_user();
            self.shared().set_view(Status::SignedIn, user, Some(e));
        }
        if previous_sub.is_some() {
            self.shared().refreshed(Ok(expires_at));
        }
        Ok(())
    }

    // ---- sign-out -------------------------------------------------------------------------

    /// Revokes the refresh token, clears the session, and (unless `local_only`) ends the
    /// provider's session through RP-Initiated Logout.
    pub(super) async fn sign_out(&self, options: SignOutOptions) -> Result<SignOutOutcome, Error> {
        let return_to = options
            .return_to
            .as_deref()
            .map(|r| sanitize_return_to(r, &self.config().app_origin))
            .transpose()?;
        let session = self.inner.session.borrow().clone();
        // Where the vault holds the refresh token, it revokes it and forgets the session for
        // every tab. If it cannot, the session is not reported ended (it would come back).
        self.sign_out_remote().await?;
        let provider = self.provider().await.ok();
        // RFC 7009 answers 200 even for unknown tokens. A failure must not keep the user
        // signed in, and must not pass silently either: the view reports `not_revoked`.
        let mut not_revoked = None;
        // A page whose tokens the vault holds has no refresh token (the vault's replies never
        // carry one): the vault revoked it above.
        if let Some(rt) = session.as_ref().and_then(|s| s.refresh_token.as_ref()) {
            let endpoint = match &provider {
                Some(p) => self.revocation_endpoint(p).await,
                None => None,
            };
            not_revoked = match endpoint {
                None => Some("the provider names no revocation endpoint"),
                Some(ep) => {
                    let body = revocation_body(rt, &self.config().client_id);
                    self.p()
                        .post_form_no_content(&ep, body)
                        .await
                        .err()
                        .map(|_| "the revocation request failed")
                }
            };
        }
        self.write_shared(None).await?;
        self.drop_session();
        if let Some(reason) = not_revoked {
            let e = ErrorKind::NotRevoked { reason }.into();
            self.shared().set_view(Status::SignedOut, None, Some(e));
        }
        // Where the page goes next: the end-session URL (unless `local_only`), else `returnTo`.
        let end = match (&provider, options.local_only) {
            (Some(p), false) => {
                let state = b64url(&self.p().random::<16>()?);
                let url = end_session_url(
                    p,
                    &self.config().client_id,
                    session.as_ref().map(|s| &s.id_token),
                    self.config().post_logout_redirect_uri.as_deref(),
                    &state,
                );
                if url.is_some() {
                    let pending = PendingSignOut {
                        state,
                        return_to: return_to.clone(),
                    };
                    self.p()
                        .set(Area::Session, &self.key("signout"), &pending.to_json())?;
                }
                url
            }
            _ => None,
        };
        self.shared().leave_after_sign_out(end, return_to)
    }

    /// On the return from the provider's logout, checks its `state` and restores `returnTo`.
    /// Returns true when this page is the return from our own sign-out (then no silent sign-in).
    fn finish_sign_out_return(&self, href: &str) -> bool {
        let key = self.key("signout");
        let Some(pending) = self
            .p()
            .get(Area::Session, &key)
            .and_then(|t| from_json::<PendingSignOut>(&t, "sign-out").ok())
        else {
            return false;
        };
        if !is_sign_out_return(query_of(href), &pending.state) {
            return false;
        }
        self.p().remove(Area::Session, &key);
        let clean = self
            .config()
            .post_logout_redirect_uri
            .as_deref()
            .and_then(HttpUrl::parse)
            .map(|u| u.path().to_owned());
        if let Some(to) = pending.return_to.or(clean) {
            self.p().replace_url(&to);
        }
        true
    }

    /// The random values of one sign-in, with the verifier hashed by the platform.
    async fn draw_entropy(&self) -> Result<Entropy, Error> {
        let drawn = Entropy::from_bytes(self.p().random::<96>()?);
        let digest = self
            .p()
            .sha256(drawn.verifier().secret().as_bytes())
            .await?;
        Ok(drawn.hashed(digest))
    }
}
