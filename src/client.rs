//! The session client: drives the core's decisions with the browser adapters. One per
//! configuration; cheap to clone (`Rc`). Used by the JS facade and the Leptos components.

use crate::browser::builtins::date_now;
use crate::browser::channel::Channel;
use crate::browser::crypto::{random_bytes, sha256, verify};
use crate::browser::http::{
    backend, get_json, post_form, post_form_no_content, send, AppRequest, JsonReply,
};
use crate::browser::idb;
use crate::browser::lock::request as request_lock;
use crate::browser::storage::Area;
use crate::browser::timer::{on_wake_up, timeout, Guard};
use crate::browser::Call;
use crate::browser::{nav, now};
use crate::core::authorize::{authorization_request, silent_request, PendingSignIn, SignInOptions};
use crate::core::callback::{
    check_response, classify_location, parse_response, AuthorizationResponse, Landing,
};
use crate::core::config::{sanitize_return_to, Config, ConfigInput};
use crate::core::discovery::{discovery_url, validate_metadata, Provider, ProviderMetadata};
use crate::core::error::{Error, ErrorKind, TokenProblem};
use crate::core::id_token::{check_userinfo_sub, validate_claims, Expectations, IdTokenClaims};
use crate::core::json::{decode as from_json, Field, Fields, FromJson, Writer};
use crate::core::jwt::{
    check_header, check_signature_shape, select_key, split, JoseHeader, JwkSet,
};
use crate::core::logout::{end_session_url, revocation_body};
use crate::core::pkce::{b64url, Entropy};
use crate::core::refresh::{classify, needs_refresh, next_renewal, Next, ScheduleInput, Verdict};
use crate::core::secret::{AccessToken, AuthorizationCode, IdToken};
use crate::core::server::{
    login_url, me_result, refresh_result, sign_out_result, Me, ServerConfig,
};
use crate::core::session::{status_after_callback_error, Status, StoredSession};
use crate::core::text::{before, cat, parse_uint, split_once, uint};
use crate::core::token::{code_exchange_body, refresh_body, token_result, TokenResponse};
use crate::core::url::{parse_query, query_of, HttpUrl};
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use wasm_bindgen::JsValue;

/// How long a cached discovery document is used before it is fetched again, in seconds.
const DISCOVERY_TTL: u64 = 3600;
/// Cross-tab messages. They carry no token: the receiving tab re-reads storage.
const MSG_SESSION: &str = "session";
const MSG_SIGNED_OUT: &str = "signedOut";
/// Server mode: `refreshed:{ms}`, when a tab's `/refresh` succeeded.
const MSG_REFRESHED: &str = "refreshed:";

/// The signed-in user: the ID token's claims, merged with UserInfo when that was needed.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Subject.
    pub sub: String,
    /// The ID token's claims (JSON text).
    pub claims_json: String,
    /// The UserInfo response (JSON text), when fetched.
    pub userinfo_json: Option<String>,
}

/// What an application observes.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Loading, signed in, signed out or failed.
    pub status: Status,
    /// Present when signed in.
    pub user: Option<User>,
    /// Present when failed.
    pub error: Option<Error>,
}

/// Options of `sign_out`.
#[derive(Debug, Clone, Default)]
pub struct SignOutOptions {
    /// Same-origin location to show after sign-out.
    pub return_to: Option<String>,
    /// Clear the local session only; do not end the provider's session.
    pub local_only: bool,
}

impl SignOutOptions {
    /// Reads the JS options object (as JSON text).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let v = crate::core::json::parse(text).unwrap_or(crate::core::json::Json::Null);
        let Some(f) = Fields::of(&v) else {
            return Ok(Self::default());
        };
        let read = || -> Field<Self> {
            f.done(Self {
                return_to: f.str("returnTo"),
                local_only: f.bool("localOnly").unwrap_or(false),
            })
        };
        read().map_err(|field| {
            ErrorKind::ConfigInvalid {
                field,
                reason: "has the wrong type (see the SignOutOptions type)",
            }
            .into()
        })
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

struct ProfileHints {
    sub: Option<String>,
    email: Option<String>,
    name: Option<String>,
}

impl FromJson for ProfileHints {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self {
            sub: f.str("sub"),
            email: f.str("email"),
            name: f.str("name"),
        })
    }
}

type Subscriber = Rc<dyn Fn(&Rc<View>)>;

/// A boxed flow, so the single-flight wrapper is compiled once for every kind of refresh.
type Boxed<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T>>>;

/// A refresh's error, for every caller that waited on it (a JS promise cannot carry it).
type Outcome = Rc<RefCell<Option<Error>>>;

/// Called after each refresh request: `Ok(expires_at)` or the error. Never given a token.
pub type RefreshHook = Rc<dyn Fn(Result<Option<u64>, &Error>)>;

struct Inner {
    config: Config,
    provider: RefCell<Option<Rc<Provider>>>,
    jwks: RefCell<Option<Rc<JwkSet>>>,
    session: RefCell<Option<Rc<StoredSession>>>,
    /// Replaced, never mutated: an `Rc` identifies one state (the facade's snapshot cache).
    view: RefCell<Rc<View>>,
    listeners: RefCell<Vec<(u32, Subscriber)>>,
    next_listener: Cell<u32>,
    /// The refresh under way in this tab: its lock request, and where its error will be.
    refresh: RefCell<Option<(crate::browser::builtins::Promise, Outcome)>>,
    /// Open while tokens live in localStorage, which every tab shares.
    channel: RefCell<Option<Channel>>,
    /// The proactive renewal timer.
    renewal: RefCell<Option<Guard>>,
    /// `focus`, `online`, `visibilitychange`: the clock is re-read when the page wakes up.
    wake: RefCell<Option<Guard>>,
    last_attempt: Cell<Option<u64>>,
    failures: Cell<u32>,
    on_refresh: RefCell<Option<RefreshHook>>,
    /// Server mode: when the last `/refresh` of any tab succeeded (ms since the epoch).
    server_refreshed_at: Cell<f64>,
}

/// A browser session for one provider and client.
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

/// Keeps a listener registered; dropping it unsubscribes.
#[must_use = "dropping the subscription unsubscribes at once"]
pub struct Subscription {
    inner: Weak<Inner>,
    id: u32,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            let mut listeners = inner.listeners.borrow_mut();
            if let Some(i) = listeners.iter().position(|(id, _)| *id == self.id) {
                // Ids are unique: one entry to remove.
                drop(listeners.remove(i));
            }
        }
    }
}

impl Client {
    /// Validates the configuration for this page's origin. Nothing is fetched or read yet.
    pub fn new(input: ConfigInput) -> Result<Self, Error> {
        let config = Config::new(input, &nav::origin()?)?;
        Ok(Self {
            inner: Rc::new(Inner {
                config,
                provider: RefCell::default(),
                jwks: RefCell::default(),
                session: RefCell::default(),
                view: RefCell::new(Rc::new(View {
                    status: Status::Loading,
                    user: None,
                    error: None,
                })),
                listeners: RefCell::default(),
                next_listener: Cell::new(0),
                refresh: RefCell::default(),
                channel: RefCell::default(),
                renewal: RefCell::default(),
                wake: RefCell::default(),
                last_attempt: Cell::new(None),
                failures: Cell::new(0),
                on_refresh: RefCell::default(),
                server_refreshed_at: Cell::new(0.0),
            }),
        })
    }

    fn server(&self) -> Option<&ServerConfig> {
        self.inner.config.server.as_ref()
    }

    /// Sets the hook called after every refresh request (for logging or metrics). Set it before
    /// the session starts: the hook is called in place, so a call from inside the hook itself
    /// cannot replace it and is ignored.
    pub fn on_refresh(&self, hook: RefreshHook) {
        if let Ok(mut slot) = self.inner.on_refresh.try_borrow_mut() {
            *slot = Some(hook);
        }
    }

    /// Tells the refresh hook, if any, how a refresh request ended. Called in place (no clone):
    /// `on_refresh` does not replace it during the call.
    fn refreshed(&self, outcome: Result<Option<u64>, &Error>) {
        if let Some(h) = &*self.inner.on_refresh.borrow() {
            h(outcome);
        }
    }

    fn margin(&self) -> u64 {
        self.inner.config.refresh_margin
    }

    /// (Re)arms the renewal timer from the session, the last attempt and the failure count.
    fn schedule_renewal(&self) {
        self.inner.renewal.borrow_mut().take();
        if !self.inner.config.auto_refresh {
            return;
        }
        let (expires_at, issued_at) = match &*self.inner.session.borrow() {
            Some(s) if s.refresh_token.is_some() || self.inner.config.silent_sso => {
                (s.expires_at, s.issued_at)
            }
            _ => return,
        };
        let jitter = random_bytes::<1>()
            .map(|b| f64::from(b[0]) / 256.0)
            .unwrap_or(0.5);
        let next = next_renewal(&ScheduleInput {
            expires_at,
            issued_at,
            margin: self.margin(),
            now: now(),
            last_attempt: self.inner.last_attempt.get(),
            failures: self.inner.failures.get(),
            jitter,
        });
        let secs = match next {
            Next::Idle => return,
            Next::RenewIn(d) | Next::RecheckIn(d) => d,
        };
        let weak = Rc::downgrade(&self.inner);
        let timer = timeout(u32::try_from(secs * 1000).unwrap_or(u32::MAX), move || {
            renew_soon(&weak)
        });
        *self.inner.renewal.borrow_mut() = Some(timer);
    }

    /// Reads the wall clock and renews when due (timers alone are not trusted: they stop while
    /// the machine sleeps), then re-arms the timer.
    async fn renew_if_due(self) {
        if self.inner.session.borrow().is_some() {
            let _ = self.access_token().await;
        }
        self.schedule_renewal();
    }

    fn watch_wake_ups(&self) {
        if !self.inner.config.auto_refresh || self.inner.wake.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        *self.inner.wake.borrow_mut() = Some(on_wake_up(move || renew_soon(&weak)));
    }

    /// Listens to the other tabs (shared localStorage only): a `session` message means the stored
    /// session changed (a refresh or a sign-in elsewhere), `signedOut` that it ended.
    fn open_channel(&self) {
        let shared = self.token_area() == Some(Area::Local) || self.server().is_some();
        if !shared || self.inner.channel.borrow().is_some() {
            return;
        }
        let weak = Rc::downgrade(&self.inner);
        let channel = Channel::open(&self.key("events"), move |msg| {
            let Some(inner) = weak.upgrade() else { return };
            let me = Client { inner };
            match msg.as_str() {
                MSG_SESSION => crate::browser::spawn(async move {
                    if let Some(s) = me.read_shared().await {
                        let newer = me
                            .inner
                            .session
                            .borrow()
                            .as_ref()
                            .is_none_or(|c| s.issued_at >= c.issued_at);
                        if newer {
                            me.adopt(s);
                        }
                    }
                }),
                MSG_SIGNED_OUT => {
                    me.inner.session.borrow_mut().take();
                    me.inner.renewal.borrow_mut().take();
                    me.set_view(Status::SignedOut, None, None);
                }
                m => {
                    if let Some(at) = m.strip_prefix(MSG_REFRESHED).and_then(parse_uint) {
                        let at = at as f64;
                        if at > me.inner.server_refreshed_at.get() {
                            me.inner.server_refreshed_at.set(at);
                        }
                    }
                }
            }
        });
        *self.inner.channel.borrow_mut() = channel;
    }

    fn broadcast(&self, msg: &str) {
        if let Some(c) = &*self.inner.channel.borrow() {
            c.post(msg);
        }
    }

    /// The stored session, if the configured area holds a readable one.
    fn read_stored(&self) -> Option<StoredSession> {
        let area = self.token_area()?;
        area.get(&self.key("session"))
            .and_then(|t| from_json(&t, "stored session").ok())
    }

    /// The session as every tab sees it: for localStorage sessions, the IndexedDB copy, which is
    /// consistent across tabs the moment another tab's write committed (localStorage is not);
    /// otherwise (or if IndexedDB is unavailable) the storage area.
    async fn read_shared(&self) -> Option<StoredSession> {
        if self.token_area() == Some(Area::Local) {
            if let Ok(v) = idb::get(&self.key("session")).await {
                return v.and_then(|t| from_json(&t, "stored session").ok());
            }
        }
        self.read_stored()
    }

    /// Commits the shared copy (before the lock is released and before other tabs are told).
    async fn write_shared(&self, s: Option<&StoredSession>) {
        if self.token_area() == Some(Area::Local) {
            let json = s.map(StoredSession::to_json);
            let _ = idb::set(&self.key("session"), json.as_deref()).await;
        }
    }

    /// Takes `s` (written by this or another tab) as the session, without writing it back.
    fn adopt(&self, s: StoredSession) {
        let user = user_of(&s);
        *self.inner.session.borrow_mut() = Some(Rc::new(s));
        if let Some(u) = user {
            self.set_view(Status::SignedIn, Some(u), None);
        }
        self.schedule_renewal();
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The current view (the same `Rc` until the view changes).
    pub fn view(&self) -> Rc<View> {
        self.inner.view.borrow().clone()
    }

    /// Calls `f` on every change of the view until the returned guard is dropped.
    pub fn subscribe(&self, f: impl Fn(&Rc<View>) + 'static) -> Subscription {
        let id = self.inner.next_listener.get();
        self.inner.next_listener.set(id.wrapping_add(1));
        self.inner.listeners.borrow_mut().push((id, Rc::new(f)));
        Subscription {
            inner: Rc::downgrade(&self.inner),
            id,
        }
    }

    fn set_view(&self, status: Status, user: Option<User>, error: Option<Error>) {
        let next = View {
            status,
            user,
            error,
        };
        {
            // A failure is always news (two errors are not compared).
            let current = self.inner.view.borrow();
            if next.error.is_none()
                && current.error.is_none()
                && current.status == next.status
                && current.user == next.user
            {
                return;
            }
        }
        let next = Rc::new(next);
        *self.inner.view.borrow_mut() = next.clone();
        // A copy: a listener may subscribe or unsubscribe while being called.
        let mut listeners: Vec<Subscriber> = Vec::new();
        for (_, l) in self.inner.listeners.borrow().iter() {
            listeners.push(l.clone());
        }
        for l in &listeners {
            l(&next);
        }
    }

    fn key(&self, what: &str) -> String {
        let mut k = self.inner.config.key_prefix();
        k.push(':');
        k.push_str(what);
        k
    }

    fn token_area(&self) -> Option<Area> {
        Area::for_tokens(self.inner.config.storage)
    }

    // ---- provider metadata and keys -------------------------------------------------------

    /// The provider's checked metadata: from memory, from the session cache, or fetched.
    pub async fn provider(&self) -> Result<Rc<Provider>, Error> {
        if let Some(p) = self.inner.provider.borrow().clone() {
            return Ok(p);
        }
        let key = self.key("discovery");
        let cached = Area::Session.get(&key).and_then(|c| {
            let (at, json) = split_once(&c, b'\n')?;
            let at = parse_uint(at)?;
            (now().saturating_sub(at) < DISCOVERY_TTL).then(|| json.to_owned())
        });
        let provider = match cached.and_then(|json| self.check_metadata(&json).ok()) {
            Some(p) => p,
            None => {
                let reply = get_json(&discovery_url(&self.inner.config.issuer), None).await?;
                if reply.status != 200 {
                    return Err(ErrorKind::HttpError {
                        status: reply.status,
                    }
                    .into());
                }
                let p = self.check_metadata(&reply.body)?;
                let _ = Area::Session.set(&key, &cat(&[&uint(now()), "\n", &reply.body]));
                p
            }
        };
        let p = Rc::new(provider);
        *self.inner.provider.borrow_mut() = Some(p.clone());
        Ok(p)
    }

    fn check_metadata(&self, json: &str) -> Result<Provider, Error> {
        let m: ProviderMetadata = from_json(json, "discovery document")?;
        validate_metadata(m, &self.inner.config)
    }

    // ---- bootstrap ------------------------------------------------------------------------

    /// Finishes a pending callback when this page is one, otherwise restores the stored session.
    /// Never fails: the outcome is the returned (and observable) view.
    pub async fn bootstrap(&self) -> Rc<View> {
        self.open_channel();
        if let Some(server) = self.server() {
            // One read-only request, `GET {me}`; only when the backend says `TOKEN_EXPIRED`, one
            // refresh and a second read. Nothing is written to storage, no timer is armed.
            self.set_view(Status::Loading, None, None);
            let started = date_now();
            let mut refreshed = false;
            let result = loop {
                let me = backend("GET", &server.me_url, server)
                    .await
                    .and_then(|r| me_result(r.status, r.content_type.as_deref(), &r.body));
                if refreshed || !matches!(me, Ok(Me::Expired)) {
                    break me;
                }
                refreshed = true;
                match self.server_refresh(started).await {
                    Ok(()) => {}
                    Err(e) if classify(&e) == Verdict::Transient => break Err(e),
                    Err(_) => break Ok(Me::SignedOut),
                }
            };
            match result {
                Ok(Me::User(u)) => {
                    let user = User {
                        sub: u.sub,
                        claims_json: u.claims_json,
                        userinfo_json: Some(u.user_json),
                    };
                    self.set_view(Status::SignedIn, Some(user), None);
                }
                Ok(Me::SignedOut | Me::Expired) => self.set_view(Status::SignedOut, None, None),
                Err(e) => self.set_view(Status::Failed, None, Some(e)),
            }

            return self.view();
        }
        self.watch_wake_ups();
        let href = match nav::href() {
            Ok(h) => h,
            Err(e) => {
                self.set_view(Status::Failed, None, Some(e));
                return self.view();
            }
        };
        let clean = self.callback_clean_path();
        match classify_location(&href, &self.inner.config.redirect_uri) {
            Err(e) => {
                nav::replace_url(&clean);
                self.restore();
                self.fail_callback(e);
            }
            Ok(Landing::Callback(response)) => {
                self.restore();
                match self.finish_callback(response).await {
                    Ok(return_to) => nav::replace_url(return_to.as_deref().unwrap_or(&clean)),
                    Err(e) => {
                        nav::replace_url(&clean);
                        self.fail_callback(e);
                    }
                }
            }
            Ok(Landing::Normal) => {
                let signed_out_here = self.finish_sign_out_return(&href);
                self.restore();
                if self.inner.config.silent_sso
                    && self.inner.session.borrow().is_none()
                    && !signed_out_here
                {
                    self.set_view(Status::Loading, None, None);
                    if let Err(e) = self.silent_sign_in(None).await {
                        if is_quiet(&e) {
                            self.set_view(Status::SignedOut, None, None);
                        } else {
                            self.set_view(Status::Failed, None, Some(e));
                        }
                    }
                }
            }
        }
        self.view()
    }

    fn fail_callback(&self, e: Error) {
        let has_session = self.inner.session.borrow().is_some();
        match status_after_callback_error(&e, has_session) {
            Status::SignedIn => {}
            status => self.set_view(status, None, Some(e)),
        }
    }

    /// The redirect URI's path and query: where the URL goes after a callback is handled.
    fn callback_clean_path(&self) -> String {
        HttpUrl::parse(&self.inner.config.redirect_uri)
            .map(|u| before(&u.rest, b'#').to_owned())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into())
    }

    /// Loads the stored session into memory and the view. Unusable entries are dropped.
    fn restore(&self) {
        if self.inner.session.borrow().is_none() {
            if let Some(area) = self.token_area() {
                let key = self.key("session");
                match area
                    .get(&key)
                    .map(|t| from_json::<StoredSession>(&t, "stored session"))
                {
                    Some(Ok(s)) if s.access_token_fresh(now(), 0) || s.refresh_token.is_some() => {
                        *self.inner.session.borrow_mut() = Some(Rc::new(s));
                    }
                    Some(_) => area.remove(&key),
                    None => {}
                }
            }
        }
        let user = self.inner.session.borrow().as_deref().and_then(user_of);
        match user {
            Some(u) => self.set_view(Status::SignedIn, Some(u), None),
            None => self.set_view(Status::SignedOut, None, None),
        }
        self.schedule_renewal();
    }

    async fn finish_callback(
        &self,
        response: AuthorizationResponse,
    ) -> Result<Option<String>, Error> {
        let provider = self.provider().await?;
        let state = response.state.clone().ok_or(ErrorKind::StateMismatch)?;
        let key = self.key(&cat(&["pending:", &state]));
        let pending: PendingSignIn = Area::Session
            .get(&key)
            .and_then(|t| from_json(&t, "pending sign-in").ok())
            .ok_or(ErrorKind::StateMismatch)?;
        let code = check_response(response, &pending, &provider, now())?;
        // Consumed exactly once, before anything is awaited: a second run finds nothing.
        Area::Session.remove(&key);
        let body = self.code_body(&code, &pending);
        self.redeem(&provider, body, Some(&pending), None, None)
            .await?;
        Ok(pending.return_to)
    }

    /// Verifies an ID token issued together with `access_token`: the signature (key chosen by
    /// `kid`; the JWKS is fetched once more when no key matches: the provider may have rotated
    /// its keys), the claims and `at_hash`. Returns the claims and the payload JSON.
    async fn verify_issued_with(
        &self,
        provider: &Provider,
        id_token: &IdToken,
        access_token: &AccessToken,
        nonce: Option<&str>,
        max_age: Option<u64>,
        previous_sub: Option<&str>,
    ) -> Result<(IdTokenClaims, String), Error> {
        let digest = sha256(access_token.secret().as_bytes()).await?;
        let malformed = |_| Error::token(TokenProblem::Malformed);
        let jws = split(id_token.secret())?;
        let header: JoseHeader =
            from_json(&utf8(&jws.header)?, "ID token header").map_err(malformed)?;
        let alg = check_header(&header, &provider.allowed_algs)?;
        let kid = header.kid.as_deref();
        let mut cached = self.inner.jwks.borrow().clone();
        let mut refetched = false;
        let jwks = loop {
            let set = match cached.take() {
                Some(set) => set,
                None => {
                    let reply = get_json(provider.jwks_uri(), None).await?;
                    if reply.status != 200 {
                        return Err(ErrorKind::HttpError {
                            status: reply.status,
                        }
                        .into());
                    }
                    let set = Rc::new(from_json::<JwkSet>(&reply.body, "JWKS")?);
                    *self.inner.jwks.borrow_mut() = Some(set.clone());
                    set
                }
            };
            match select_key(&set, kid, alg) {
                Err(e)
                    if !refetched
                        && matches!(
                            e.kind(),
                            ErrorKind::TokenInvalid(TokenProblem::UnknownKey)
                        ) =>
                {
                    refetched = true
                }
                _ => break set,
            }
        };
        let key = select_key(&jwks, kid, alg)?;
        check_signature_shape(&jws.signature, alg, key)?;
        if !verify(alg, key, jws.signing_input.as_bytes(), &jws.signature).await? {
            return Err(Error::token(TokenProblem::BadSignature));
        }
        let payload = utf8(&jws.payload)?;
        let claims: IdTokenClaims = from_json(&payload, "ID token claims").map_err(malformed)?;
        let want = Expectations {
            nonce,
            max_age,
            access_token_sha256: Some(&digest),
            previous_sub,
            now: now(),
        };
        validate_claims(&claims, &self.inner.config, &want)?;
        Ok((claims, payload))
    }

    /// Redeems a grant at the token endpoint: an authorization code (`pending` is its sign-in),
    /// or the refresh token of `current`, the session being renewed. Verifies the ID token that
    /// came back (the same subject as `previous_sub` when renewing), reads UserInfo for a new
    /// sign-in whose ID token lacks the profile, and stores the session.
    async fn redeem(
        &self,
        provider: &Provider,
        body: String,
        pending: Option<&PendingSignIn>,
        current: Option<&StoredSession>,
        previous_sub: Option<&str>,
    ) -> Result<(), Error> {
        let reply = post_form(provider.token_endpoint(), body).await?;
        let parsed = from_json::<TokenResponse>(&reply.body, "token response")?;
        let tokens = token_result(reply.status, parsed, now())?;
        let (id_token, sub, userinfo) = match (tokens.id_token, current) {
            (Some(t), _) => {
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
                // A renewal keeps the stored UserInfo; only a new sign-in may read it.
                let userinfo = match current {
                    Some(c) => c.userinfo.clone(),
                    None => {
                        match self.userinfo_request(provider, &tokens.access_token, &payload)? {
                            Some(call) => userinfo_result(call.await, &sub)?,
                            None => None,
                        }
                    }
                };
                (t, sub, userinfo)
            }
            // A refresh response need not carry an ID token (Core 12.2).
            (None, Some(c)) => (c.id_token.clone(), c.sub.clone(), c.userinfo.clone()),
            (None, None) => {
                return Err(ErrorKind::InvalidResponse {
                    what: "token response",
                    reason: "no id_token".into(),
                }
                .into())
            }
        };
        let expires_at = tokens.expires_at;
        let session = StoredSession {
            access_token: tokens.access_token,
            refresh_token: tokens
                .refresh_token
                .or_else(|| current.and_then(|c| c.refresh_token.clone())),
            id_token,
            expires_at,
            issued_at: Some(now()),
            scope: tokens
                .scope
                .or_else(|| current.and_then(|c| c.scope.clone())),
            userinfo,
            sub,
        };
        self.write_shared(Some(&session)).await;
        self.save_session(session)?;
        if previous_sub.is_some() {
            self.refreshed(Ok(expires_at));
        }
        Ok(())
    }

    /// A `prompt=none` sign-in in a hidden iframe: resumes the provider's session without a form.
    async fn silent_sign_in(&self, previous_sub: Option<&str>) -> Result<(), Error> {
        let provider = self.provider().await?;
        let entropy = draw_entropy().await?;
        let (url, pending) = silent_request(&self.inner.config, &provider, &entropy, now())?;
        let origin = &self.inner.config.app_origin;
        let timeout_ms = u32::try_from(self.inner.config.silent_timeout * 1000).unwrap_or(u32::MAX);
        let href = crate::browser::silent::run(&url, origin, &pending.state, timeout_ms).await?;
        let response = parse_response(query_of(&href))?.ok_or(ErrorKind::StateMismatch)?;
        let code = check_response(response, &pending, &provider, now())?;
        let body = self.code_body(&code, &pending);
        self.redeem(&provider, body, Some(&pending), None, previous_sub)
            .await
    }

    /// The token request body that redeems `code` (with the sign-in's PKCE verifier).
    fn code_body(&self, code: &AuthorizationCode, pending: &PendingSignIn) -> String {
        code_exchange_body(
            code,
            &pending.verifier,
            &pending.redirect_uri,
            &self.inner.config.client_id,
        )
    }

    /// The UserInfo request, when the ID token lacks profile claims the app asked for.
    fn userinfo_request(
        &self,
        provider: &Provider,
        token: &AccessToken,
        payload: &str,
    ) -> Result<Option<Call<JsonReply>>, Error> {
        let Some(endpoint) = provider.metadata.userinfo_endpoint.as_deref() else {
            return Ok(None);
        };
        let hints: ProfileHints = from_json(payload, "ID token claims")?;
        let wants_profile = self
            .inner
            .config
            .scopes
            .iter()
            .any(|s| s == "profile" || s == "email");
        if hints.email.is_some() || hints.name.is_some() || !wants_profile {
            return Ok(None);
        }
        Ok(Some(get_json(endpoint, Some(token.secret()))))
    }

    fn save_session(&self, session: StoredSession) -> Result<(), Error> {
        if let Some(area) = self.token_area() {
            area.set(&self.key("session"), &session.to_json())?;
        }
        let user = user_of(&session);
        *self.inner.session.borrow_mut() = Some(Rc::new(session));
        self.set_view(Status::SignedIn, user, None);
        self.broadcast(MSG_SESSION);
        self.schedule_renewal();
        Ok(())
    }

    fn drop_session(&self) {
        self.inner.session.borrow_mut().take();
        if let Some(area) = self.token_area() {
            area.remove(&self.key("session"));
        }
        self.set_view(Status::SignedOut, None, None);
        self.broadcast(MSG_SIGNED_OUT);
        self.inner.renewal.borrow_mut().take();
    }

    // ---- commands -------------------------------------------------------------------------

    // ---- server mode ------------------------------------------------------------------------

    /// Server mode: `fetch(input, init)` (`input` a URL or `Request`, `init` a `RequestInit` or
    /// `undefined`) with the CSRF header (and cookies) when it goes to the backend; on 401 from
    /// the backend, one `POST {refresh}` shared by every caller and tab, then the request once
    /// more. Resolves with the `Response`.
    pub async fn server_fetch(&self, input: &JsValue, init: &JsValue) -> Result<JsValue, Error> {
        let Some(server) = self.server() else {
            return Err(ErrorKind::Unsupported {
                what: "fetch() is for server mode; use getAccessToken() in browser mode",
            }
            .into());
        };
        let r = AppRequest::new(input, init, &server.origin, server.csrf())?;
        let started = date_now();
        let (first, status) = send(&r.request).await?;
        if status != 401 || !r.to_backend {
            return Ok(first);
        }
        let retry = r.copy.ok_or(ErrorKind::Unsupported {
            what: "the request body cannot be replayed",
        })?;
        self.server_refresh(started).await?;
        Ok(send(&retry).await?.0)
    }

    /// `POST {refresh}` once for every caller and tab whose request started before the last
    /// successful refresh; terminal failures sign every tab out.
    async fn server_refresh(&self, request_started: f64) -> Result<(), Error> {
        self.single_flight(Box::pin(
            self.clone().server_refresh_locked(request_started),
        ))
        .await
    }

    /// Runs `work` under the cross-tab lock `refresh`, unless a refresh is already under way in
    /// this tab: then `work` is dropped unstarted (futures do nothing until polled) and this
    /// waits for that one. Every caller gets the same outcome. The promise every caller waits on
    /// is the lock request itself.
    async fn single_flight(&self, work: Boxed<Result<(), Error>>) -> Result<(), Error> {
        let shared = self.inner.refresh.borrow().clone();
        let (promise, outcome) = match shared {
            Some(flight) => flight,
            None => {
                let outcome = Outcome::default();
                let (me, slot) = (self.clone(), outcome.clone());
                let task = crate::browser::task::starter(async move {
                    let r = work.await;
                    me.inner.refresh.borrow_mut().take();
                    r.map(|()| JsValue::UNDEFINED).map_err(|e| {
                        *slot.borrow_mut() = Some(e);
                        JsValue::NULL
                    })
                });
                let p = request_lock(&self.key("refresh"), &task);
                *self.inner.refresh.borrow_mut() = Some((p.clone(), outcome.clone()));
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
        // No error recorded: the lock was refused and `work` never ran, so nothing cleared this
        // flight.
        let mut flight = self.inner.refresh.borrow_mut();
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

    async fn server_refresh_locked(self, request_started: f64) -> Result<(), Error> {
        if self.inner.server_refreshed_at.get() > request_started {
            // Another caller or tab refreshed after this request went out: just retry it.
            return Ok(());
        }
        // The other tab's BroadcastChannel message may still be in flight when its lock is
        // released: the IndexedDB copy, committed before that release, is authoritative.
        if let Ok(Some(t)) = idb::get(&self.key("refreshed")).await {
            if let Some(at) = parse_uint(&t).map(|v| v as f64) {
                if at > self.inner.server_refreshed_at.get() {
                    self.inner.server_refreshed_at.set(at);
                }
                if at > request_started {
                    return Ok(());
                }
            }
        }
        let Some(server) = self.server() else {
            return Err(ErrorKind::NotSignedIn.into());
        };
        let result = match backend("POST", &server.refresh_url, server).await {
            Ok(r) => refresh_result(r.status, r.content_type.as_deref(), &r.body),
            Err(e) => Err(e),
        };
        match &result {
            Ok(()) => {
                let at = date_now();
                self.inner.server_refreshed_at.set(at);
                let _ = idb::set(&self.key("refreshed"), Some(&uint(at as u64))).await;
                self.broadcast(&cat(&[MSG_REFRESHED, &uint(at as u64)]));
            }
            // 401 from refresh: the backend has no session to refresh.
            Err(e)
                if classify(e) != Verdict::Transient
                    || matches!(e.kind(), ErrorKind::HttpError { status: 401 }) =>
            {
                self.set_view(Status::SignedOut, None, None);
                self.broadcast(MSG_SIGNED_OUT);
            }
            Err(_) => {}
        }
        self.refreshed(result.as_ref().map(|_| None));
        result
    }

    /// Stores a pending sign-in and navigates to the provider.
    pub async fn sign_in(&self, options: SignInOptions) -> Result<(), Error> {
        if let Some(server) = self.server() {
            let url = login_url(
                server,
                options.return_to.as_deref(),
                &self.inner.config.app_origin,
            )?;
            return nav::assign(&url);
        }
        // Refuse a hostile returnTo before any request.
        if let Some(r) = &options.return_to {
            sanitize_return_to(r, &self.inner.config.app_origin)?;
        }
        let provider = self.provider().await?;
        let entropy = draw_entropy().await?;
        let t = now();
        let (url, pending) =
            authorization_request(&self.inner.config, &provider, &options, &entropy, t)?;
        self.prune_pending(t);
        Area::Session.set(
            &self.key(&cat(&["pending:", &pending.state])),
            &pending.to_json(),
        )?;
        nav::assign(&url)
    }

    /// Drops pending sign-ins that can no longer finish, so abandoned attempts do not pile up.
    fn prune_pending(&self, t: u64) {
        for k in Area::Session.keys_with_prefix(&self.key("pending:")) {
            let stale = Area::Session
                .get(&k)
                .and_then(|v| from_json::<PendingSignIn>(&v, "pending sign-in").ok());
            if stale.is_none_or(|p| p.is_expired(t)) {
                Area::Session.remove(&k);
            }
        }
    }

    /// A valid access token: the stored one while fresh, else a refresh (one request per tab,
    /// however many callers wait).
    pub async fn access_token(&self) -> Result<String, Error> {
        if self.server().is_some() {
            return Err(ErrorKind::Unsupported {
                what: "in server mode the backend holds the tokens and the browser never sees one; call fetch() instead",
            }
            .into());
        }
        {
            let s = self.inner.session.borrow();
            let s = s.as_ref().ok_or(ErrorKind::NotSignedIn)?;
            if !needs_refresh(s.expires_at, s.issued_at, now(), self.margin()) {
                return Ok(s.access_token.secret().to_owned());
            }
            if s.refresh_token.is_none() && !self.inner.config.silent_sso {
                return Err(ErrorKind::TokenExpired.into());
            }
        }
        self.single_flight(Box::pin(self.clone().refresh_now()))
            .await?;
        self.inner
            .session
            .borrow()
            .as_ref()
            .map(|s| s.access_token.secret().to_owned())
            .ok_or_else(|| ErrorKind::NotSignedIn.into())
    }

    /// One refresh for every tab, run under the cross-tab lock by `single_flight`: re-read
    /// storage first (another tab may have refreshed while we waited), and treat
    /// `invalid_grant` as a possible race.
    async fn refresh_now(self) -> Result<(), Error> {
        self.inner.last_attempt.set(Some(now()));
        let result = 'refresh: {
            // Another tab may have refreshed while this one waited for the lock.
            let mut shared = self.read_shared().await;
            let fresh =
                shared.take_if(|s| !needs_refresh(s.expires_at, s.issued_at, now(), self.margin()));
            if let Some(stored) = fresh {
                self.adopt(stored);
                break 'refresh Ok(());
            }
            let mine = self.inner.session.borrow().clone();
            let Some(mut current) = shared.map(Rc::new).or(mine) else {
                break 'refresh Err(ErrorKind::NotSignedIn.into());
            };
            let mut rechecked = false;
            let result = loop {
                let r = match &current.refresh_token {
                    // No refresh token was issued: renew through the provider session, if allowed.
                    None if self.inner.config.silent_sso => {
                        self.silent_sign_in(Some(&current.sub)).await
                    }
                    None => Err(ErrorKind::TokenExpired.into()),
                    Some(rt) => match self.provider().await {
                        Ok(provider) => {
                            let body = refresh_body(rt, &self.inner.config.client_id);
                            self.redeem(&provider, body, None, Some(&current), Some(&current.sub))
                                .await
                        }
                        Err(e) => Err(e),
                    },
                };
                match &r {
                    Err(e) if !rechecked && classify(e) == Verdict::RecheckStorage => {}
                    _ => break r,
                }
                // A possible race (BCP 212): if storage holds another refresh token, try that
                // one. It is not adopted on trust: a provider with reuse detection may have
                // revoked the whole grant, and only a successful refresh proves the session alive.
                rechecked = true;
                match self.read_shared().await {
                    Some(s)
                        if s.refresh_token.as_ref().map(|t| t.secret())
                            != current.refresh_token.as_ref().map(|t| t.secret()) =>
                    {
                        current = Rc::new(s);
                    }
                    _ => break r,
                }
            };
            if let Err(e) = &result {
                // After the re-check an `invalid_grant` is final.
                if classify(e) != Verdict::Transient {
                    self.write_shared(None).await;
                    self.drop_session();
                }
            }
            result
        };
        match &result {
            Ok(()) => self.inner.failures.set(0),
            Err(e) => {
                self.inner
                    .failures
                    .set(self.inner.failures.get().saturating_add(1));
                self.refreshed(Err(e));
                self.schedule_renewal();
            }
        }
        result
    }

    /// Revokes the refresh token, clears the session, and (unless `local_only`) ends the
    /// provider's session through RP-Initiated Logout.
    pub async fn sign_out(&self, options: SignOutOptions) -> Result<(), Error> {
        let origin = &self.inner.config.app_origin;
        let return_to = options
            .return_to
            .as_deref()
            .map(|r| sanitize_return_to(r, origin))
            .transpose()?;
        // Where the page goes next: the end-session URL (unless `local_only`), else `returnTo`.
        let end = if let Some(server) = self.server() {
            let reply = backend("POST", &server.sign_out_url, server).await?;
            let end = sign_out_result(reply.status, &reply.body)?;
            self.set_view(Status::SignedOut, None, None);
            self.broadcast(MSG_SIGNED_OUT);
            end.filter(|_| !options.local_only)
        } else {
            let session = self.inner.session.borrow().clone();
            let provider = self.provider().await.ok();
            if let (Some(s), Some(p)) = (&session, &provider) {
                if let (Some(rt), Some(ep)) = (&s.refresh_token, &p.metadata.revocation_endpoint) {
                    // RFC 7009 answers 200 even for unknown tokens; a failure must not keep the
                    // user signed in.
                    let body = revocation_body(rt, &self.inner.config.client_id);
                    let _ = post_form_no_content(ep, body).await;
                }
            }
            self.write_shared(None).await;
            self.drop_session();
            match (&provider, options.local_only) {
                (Some(p), false) => {
                    let state = b64url(&random_bytes::<16>()?);
                    let url = end_session_url(
                        p,
                        &self.inner.config.client_id,
                        session.as_ref().map(|s| &s.id_token),
                        self.inner.config.post_logout_redirect_uri.as_deref(),
                        &state,
                    );
                    if url.is_some() {
                        let pending = PendingSignOut {
                            state,
                            return_to: return_to.clone(),
                        };
                        Area::Session.set(&self.key("signout"), &pending.to_json())?;
                    }
                    url
                }
                _ => None,
            }
        };
        match end {
            Some(url) => nav::assign(&url),
            None => {
                if let Some(r) = return_to {
                    nav::replace_url(&r);
                }
                Ok(())
            }
        }
    }

    /// On the return from the provider's logout, checks its `state` and restores `returnTo`.
    /// Returns true when this page is the return from our own sign-out (then no silent sign-in).
    fn finish_sign_out_return(&self, href: &str) -> bool {
        let key = self.key("signout");
        let Some(pending) = Area::Session
            .get(&key)
            .and_then(|t| from_json::<PendingSignOut>(&t, "sign-out").ok())
        else {
            return false;
        };
        let mut state_matches = false;
        for (k, v) in &parse_query(query_of(href)) {
            if k == "state" {
                state_matches = *v == pending.state;
                break;
            }
        }
        if state_matches {
            Area::Session.remove(&key);
            let clean = self
                .inner
                .config
                .post_logout_redirect_uri
                .as_deref()
                .and_then(HttpUrl::parse)
                .map(|u| u.path().to_owned());
            if let Some(to) = pending.return_to.or(clean) {
                nav::replace_url(&to);
            }
            return true;
        }
        false
    }
}

/// Starts `renew_if_due` from a timer or an event, unless the client is gone.
fn renew_soon(weak: &Weak<Inner>) {
    if let Some(inner) = weak.upgrade() {
        crate::browser::spawn(Client { inner }.renew_if_due());
    }
}

/// The random values of one sign-in, with the verifier hashed by WebCrypto.
async fn draw_entropy() -> Result<Entropy, Error> {
    let drawn = Entropy::from_bytes(random_bytes::<96>()?);
    let digest = sha256(drawn.verifier().secret().as_bytes()).await?;
    Ok(drawn.hashed(digest))
}

/// Silent SSO outcomes that mean "no provider session": end quietly in `signedOut`.
fn is_quiet(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Provider { error, .. }
        if matches!(error.as_str(), "login_required" | "consent_required" | "interaction_required" | "account_selection_required"))
}

fn utf8(b: &[u8]) -> Result<String, Error> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::token(TokenProblem::Malformed))
}

/// The user of a stored session: the ID token's payload (verified before it was stored).
fn user_of(s: &StoredSession) -> Option<User> {
    let jws = split(s.id_token.secret()).ok()?;
    Some(User {
        sub: s.sub.clone(),
        claims_json: utf8(&jws.payload).ok()?,
        userinfo_json: s.userinfo.clone(),
    })
}

/// The UserInfo response as stored. A `sub` mismatch is fatal (Core 5.3.2); an unreachable
/// endpoint is not (the ID token already identifies the user).
fn userinfo_result(reply: Result<JsonReply, Error>, sub: &str) -> Result<Option<String>, Error> {
    let Ok(reply) = reply else {
        return Ok(None);
    };
    if reply.status != 200 {
        return Ok(None);
    }
    let info: ProfileHints = from_json(&reply.body, "UserInfo response")?;
    check_userinfo_sub(sub, info.sub.as_deref())?;
    Ok(Some(reply.body))
}
