//! The npm package's facade: `SessionManager` and `handleSilentCallback`, the JS API over the
//! `oidc-session` crate. Only the npm bundle is built from this crate; Rust apps depend on
//! `oidc-session` itself and get none of what is here: the `#[wasm_bindgen]` exports, the
//! bundle's allocator, the exact wasm-bindgen pin, and the JS shapes (camelCase option objects,
//! the state and error objects, `fetch(input, init)` with `Request`s and `Response`s).
//!
//! Each async method clones the `Rc`-based client and returns a promise of
//! `future_to_promise(async move …)`, so concurrent JS calls never hit wasm-bindgen's
//! "recursive use of an object" borrow error.
#![cfg(target_arch = "wasm32")]
// The worker's bundle (`vault-worker` without `page`) exports `serveVault` only: the page's
// helpers are then unused, and left out by the linker.
#![cfg_attr(not(feature = "page"), allow(dead_code, unused_imports))]

mod options;

use js_sys::{Function, Promise};
use oidc_session::{Client, Error, ErrorKind, Status, Subscription, VaultStatus, View};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::future_to_promise;

/// The npm bundle's allocator: a free list of ~1 KB instead of dlmalloc's ~5 KB (3.4 KB gzip
/// less, measured in docs/size.md). Set here, in the bundle's own crate: a Rust app that
/// depends on `oidc-session` keeps its allocator.
// SAFETY: the bundle is single-threaded (no `atomics` target feature, no shared memory), so
// allocation never runs on two threads at once.
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[cfg(target_feature = "atomics")]
compile_error!("lol_alloc::AssumeSingleThreaded is sound only without shared-memory threads");

// What `new SessionManager(config)` takes: both modes in the full bundle, server mode only in
// `oidc-session/server` (built without `browser-mode`), so TypeScript refuses there what the
// bundle would refuse at run time.
#[cfg(feature = "browser-mode")]
#[wasm_bindgen(typescript_custom_section)]
const TS_CONFIG: &'static str = r#"
/**
 * How `new SessionManager(config)` is configured: `BrowserSessionConfig` (the browser runs OpenID Connect)
 * or `ServerSessionConfig` (your backend holds the session in HttpOnly cookies).
 */
export type SessionConfig = (BrowserSessionConfig & NoServerOptions) | ServerSessionConfig;

/**
 * A configuration without `mode: "server"` is browser mode, and the server-mode options would be ignored there:
 * TypeScript refuses them instead (`{ issuer, clientId, redirectUri, serverBasePath }` does not compile).
 */
export type NoServerOptions = { [K in Exclude<keyof ServerSessionConfig, keyof BrowserSessionConfig>]?: never };
"#;

#[cfg(not(feature = "browser-mode"))]
#[wasm_bindgen(typescript_custom_section)]
const TS_CONFIG: &'static str = r#"
/**
 * How `new SessionManager(config)` is configured. This is `oidc-session/server`, the server-mode-only
 * bundle: your backend holds the session in HttpOnly cookies. For browser mode import `oidc-session`.
 */
export type SessionConfig = ServerSessionConfig;
"#;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Stable error codes. Provider OAuth error codes (`access_denied`, `login_required`, `invalid_grant`, …) pass through as they are. */
export type ErrorCode =
  | "config_invalid" | "network" | "html_response" | "http_error" | "rate_limited" | "invalid_response"
  | "discovery_invalid" | "state_mismatch" | "sign_in_expired" | "iss_mismatch" | "iss_missing"
  | "nonce_mismatch" | "token_invalid" | "token_expired" | "return_to_invalid" | "not_signed_in"
  | "unsupported" | "storage" | "crypto" | "timeout" | "provider_error" | "vault_unavailable"
  | "not_revoked" | "userinfo_unavailable"
  | "access_denied" | "login_required" | "consent_required" | "interaction_required"
  | "account_selection_required" | "invalid_grant" | "invalid_request" | "server_error"
  | (string & {});

/** Server-managed mode: the browser only calls the backend's `me`, `refresh`, `signout` and `login` endpoints. */
export interface ServerSessionConfig {
  mode: "server";
  /** The backend's auth routes. Default `/api/auth`. */
  serverBasePath?: string;
  /** The backend's origin when it is not this page's (cookies are then sent cross-origin). */
  serverOrigin?: string;
  /** Default `{serverBasePath}/me`. */
  mePath?: string;
  /** Default `{serverBasePath}/refresh`. */
  refreshPath?: string;
  /** Default `{serverBasePath}/signout`. */
  signOutPath?: string;
  /** Default `{serverBasePath}/login`. */
  loginPath?: string;
  /** The CSRF header sent on every request to the backend. Default `X-Requested-With: oidc-session`. */
  csrfHeaderName?: string;
  csrfHeaderValue?: string;
  /**
   * When `GET {me}` answers 401 at bootstrap, send one `POST {refresh}` and ask again. Default false:
   * bootstrap is exactly one read-only request and the backend refreshes on its side.
   */
  refreshOnBootstrap?: boolean;
  /** Called after each `/refresh` (success: `{}`; failure: the error). */
  onRefresh?: (info: { expiresAt?: number }) => void;
  onRefreshError?: (error: SessionError) => void;
}

/** Browser mode: authorization code + PKCE from the page. */
export interface BrowserSessionConfig {
  mode?: "browser";
  /** The provider's issuer URL, exactly as its discovery document spells it. https, or http on loopback. */
  issuer: string;
  /** The public client id registered at the provider. */
  clientId: string;
  /** The registered redirect URI; must be of this page's origin. */
  redirectUri: string;
  /** The registered post-logout redirect URI (same origin). Without it, the provider decides where sign-out ends. */
  postLogoutRedirectUri?: string;
  /** Scopes to request; `openid` is always included. Default `["openid", "profile", "email"]`. */
  scopes?: string[];
  /** Where tokens live between page loads. Default `"memory"` (a reload signs out). */
  storage?: "memory" | "session" | "local";
  /**
   * Keep the tokens in a service worker instead (opt-in): the refresh token never reaches page script or Web
   * Storage, every tab's refresh is the worker's one request, and a refresh cut off by a reload is not lost.
   * Where the vault cannot run, the session stays in the tab's memory unless `whenUnavailable: "storage"`.
   */
  tokenVault?: TokenVaultConfig;
  /** Allowed clock difference with the provider, in seconds. Default 60, at most 300. */
  clockSkewSeconds?: number;
  /** Audiences besides `clientId` that an ID token may list. Default none. */
  trustedAudiences?: string[];
  /** Renew the access token in the background shortly before it expires (one tab renews for all). Default true. */
  autoRefresh?: boolean;
  /** Seconds before expiry to renew; capped at a quarter of the token's lifetime. Default 30. */
  refreshMarginSeconds?: number;
  /** Called after each refresh request that succeeded, with the new expiry (ms since the epoch). Never given a token. */
  onRefresh?: (info: { expiresAt?: number }) => void;
  /** Called after each refresh that failed; the session is kept unless the error ended it. */
  onRefreshError?: (error: SessionError) => void;
  /**
   * Resume an existing provider session without a form: when `bootstrap()` finds no stored session, try
   * `prompt=none` in a hidden iframe. `login_required` and the like end quietly in `signedOut`. Also renews
   * sessions that have no refresh token. Default false.
   */
  silentSso?: boolean;
  /** The page the silent iframe lands on; it must call `handleSilentCallback()`. Same origin. Default `/silent.html`. */
  silentRedirectUri?: string;
  /** Seconds the silent attempt may take before it fails with `timeout`. Default 10. */
  silentTimeoutSeconds?: number;
}

/** The service-worker token vault. */
export interface TokenVaultConfig {
  /**
   * The URL of the package's `oidc-session-sw.js`, served from this origin with the package's `worker/` folder
   * beside it (a path such as `/assets/oidc-session/oidc-session-sw.js`). Registered as a module
   * service worker; its scope is its directory, and it intercepts no request.
   */
  serviceWorker: string;
  /**
   * Where service workers cannot run (no support, disabled, registration failed, another version mid-deploy),
   * `tokenVault` reads `"unavailable"` and: `"memory"` (default) keeps the session in this tab's memory only, so the
   * refresh token never reaches Web Storage (a reload starts signed out, or signs in silently with `silentSso`);
   * `"storage"` keeps it in `storage`, refresh token included (opt in by name); `"refuse"` makes `bootstrap()` end
   * `failed` with `vault_unavailable`.
   */
  whenUnavailable?: "memory" | "storage" | "refuse";
}

/** Where the session's tokens are: `"off"` (no vault configured), `"starting"` (before `bootstrap()`), `"active"` (in the service worker), `"unavailable"` (configured, but it cannot run here: see `whenUnavailable`). */
export type TokenVaultStatus = "off" | "starting" | "active" | "unavailable";

/** Options of `signIn`. */
export interface SignInOptions {
  /** A path or URL of this origin to restore after the callback. Other origins are refused (`return_to_invalid`). */
  returnTo?: string;
  prompt?: "none" | "login" | "consent" | "select_account" | (string & {});
  loginHint?: string;
  /** Maximum authentication age in seconds; `auth_time` is then checked. */
  maxAge?: number;
  uiLocales?: string;
  /** Scopes for this sign-in instead of the configured ones. */
  scopes?: string[];
  /** Extra authorization parameters, e.g. `{ kc_idp_hint: "github" }`. Protocol parameters cannot be overridden. */
  extraParams?: Record<string, string>;
  /** Leave with `location.replace`, so Back from the provider does not return to a page that redirects again. */
  replace?: boolean;
}

/** Options of `signOut`. */
export interface SignOutOptions {
  /** A path or URL of this origin to show after sign-out. */
  returnTo?: string;
  /** Clear the local session only; keep the provider's session. */
  localOnly?: boolean;
}

/** The signed-in user: ID-token claims merged with UserInfo; protocol claims stay in `claims`. */
export interface User {
  sub: string;
  email?: string;
  name?: string;
  picture?: string;
  [claim: string]: unknown;
  /** Every claim of the ID token. */
  claims: Record<string, unknown>;
}

/** An error as it appears in `state.error`; rejections are `Error` objects with the same members. */
export interface SessionError {
  code: ErrorCode;
  message: string;
  /** HTTP status, for `html_response` and `http_error`. */
  status?: number;
  /** The start of the HTML page, for `html_response`. */
  snippet?: string;
  /** Seconds, for `rate_limited` when the server said. */
  retryAfter?: number;
  /** The provider's `error_description`. */
  description?: string;
}

export type SessionStatus = "loading" | "signedIn" | "signedOut" | "failed";

/**
 * A frozen snapshot; the same object is returned until the state changes. `error` is set with
 * `status: "failed"`, and also next to `signedIn` when a callback was refused while the session was
 * kept (a forged `state`: `state_mismatch`).
 */
export interface SessionState {
  readonly status: SessionStatus;
  readonly user?: User;
  readonly error?: SessionError;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "SessionConfig")]
    pub type JsSessionConfig;
    #[wasm_bindgen(typescript_type = "SignInOptions")]
    pub type JsSignInOptions;
    #[wasm_bindgen(typescript_type = "SignOutOptions")]
    pub type JsSignOutOptions;
    #[wasm_bindgen(typescript_type = "SessionState")]
    pub type JsSessionState;
    #[wasm_bindgen(typescript_type = "Promise<SessionState>")]
    pub type PromiseSessionState;
    #[wasm_bindgen(typescript_type = "Promise<string>")]
    pub type PromiseString;
    #[wasm_bindgen(typescript_type = "Promise<void>")]
    pub type PromiseVoid;
    #[wasm_bindgen(typescript_type = "Promise<Response>")]
    pub type PromiseResponse;
    #[wasm_bindgen(typescript_type = "RequestInfo | URL")]
    pub type JsRequestInfo;
    #[wasm_bindgen(typescript_type = "RequestInit")]
    pub type JsRequestInit;
    #[wasm_bindgen(typescript_type = "TokenVaultStatus")]
    pub type JsTokenVaultStatus;
    #[wasm_bindgen(typescript_type = "(state: SessionState) => void")]
    pub type JsListener;
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type JsUnsubscribe;
}

#[wasm_bindgen(module = "/src/facade.js")]
extern "C" {
    /// `{ expiresAt }` (ms since the epoch), or `{}` when the expiry is unknown.
    #[wasm_bindgen(js_name = refreshInfo)]
    fn refresh_info(expires_at: Option<f64>) -> JsValue;
    /// `config[name]` when it is a function.
    fn hook(config: &JsValue, name: &str) -> Option<Function>;
    /// `{ code, message }`, or with `thrown` an `Error` named `OidcSessionError` with them.
    #[wasm_bindgen(js_name = sessionError)]
    fn session_error(thrown: bool, code: &str, message: &str) -> JsValue;
    /// Sets the numeric member `name` of an error object.
    #[wasm_bindgen(js_name = withNumber)]
    fn with_number(error: &JsValue, name: &str, value: f64);
    /// Sets the string member `name` of an error object.
    #[wasm_bindgen(js_name = withString)]
    fn with_string(error: &JsValue, name: &str, value: &str);
    /// The frozen `SessionState`: `user` parsed from the user's JSON (`User::to_json`).
    #[wasm_bindgen(js_name = sessionState)]
    fn session_state(status: &str, user: Option<String>, error: JsValue) -> JsValue;
    /// `new Request(input, init)` with the CSRF header when it goes to `backend` (an origin):
    /// `[request, toBackend, copy?]`; throws when `input`/`init` make no request.
    #[wasm_bindgen(catch, js_name = appRequest)]
    fn app_request(
        input: &JsValue,
        init: &JsValue,
        backend: &str,
        csrf_name: &str,
        csrf_value: &str,
    ) -> Result<js_sys::Array, JsValue>;
    /// Sends a `Request` as it is: `[response, status]`.
    fn send(request: &JsValue) -> Promise;
    /// A thrown value's message.
    #[wasm_bindgen(js_name = thrownText)]
    fn describe(e: &JsValue) -> String;
}

/// The JS name of a status.
fn status_name(s: Status) -> &'static str {
    match s {
        Status::Loading => "loading",
        Status::SignedIn => "signedIn",
        Status::SignedOut => "signedOut",
        Status::Failed => "failed",
    }
}

/// `e` as a JS value: `{ code, message, status?, snippet?, retryAfter?, description? }`, or with
/// `thrown`, an `Error` with `name = "OidcSessionError"` and the same members. Never a secret.
fn error_value(e: &Error, thrown: bool) -> JsValue {
    let message = match e.kind() {
        // The crate names `ConfigInput` fields; JS apps wrote the camelCase members.
        ErrorKind::ConfigInvalid { field, reason } => {
            let mut m = String::from("invalid configuration: `");
            m.push_str(&camel_case(field));
            m.push_str("` ");
            m.push_str(reason);
            m
        }
        _ => e.message(),
    };
    let v = session_error(thrown, e.code(), &message);
    match e.kind() {
        ErrorKind::HtmlResponse { status, snippet } => {
            with_number(&v, "status", f64::from(*status));
            with_string(&v, "snippet", snippet);
        }
        ErrorKind::HttpError { status } => with_number(&v, "status", f64::from(*status)),
        ErrorKind::RateLimited {
            retry_after: Some(s),
        } => with_number(&v, "retryAfter", *s as f64),
        ErrorKind::Provider {
            description: Some(d),
            ..
        } => with_string(&v, "description", d),
        _ => {}
    }
    v
}

/// `client_id` -> `clientId`: a `ConfigInput` field as the JS configuration spells it.
fn camel_case(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A plain `{ code, message, … }` object (`SessionError`), for `state.error` and hooks.
fn error_object(e: &Error) -> JsValue {
    error_value(e, false)
}

/// An `Error` with `name = "OidcSessionError"`, a stable `code` and a message without secrets.
fn js_error(e: &Error) -> JsValue {
    error_value(e, true)
}

fn state_object(v: &View) -> JsValue {
    session_state(
        status_name(v.status),
        v.user.as_ref().map(|u| u.to_json()),
        v.error.as_ref().map_or(JsValue::UNDEFINED, error_object),
    )
}

/// The last state object handed out, and the view it shows.
type Snapshot = RefCell<Option<(Rc<View>, JsValue)>>;

/// The state object for `view`, reusing the last one while the view is unchanged.
fn snapshot_of(cache: &Snapshot, view: &Rc<View>) -> JsValue {
    if let Some((v, js)) = &*cache.borrow() {
        if Rc::ptr_eq(v, view) {
            return js.clone();
        }
    }
    let js = state_object(view);
    *cache.borrow_mut() = Some((view.clone(), js.clone()));
    js
}

/// A method's future as a JS promise. Boxed, so that `future_to_promise` is compiled once for
/// every method instead of once per method (each copy is its own state machine and shims).
fn promise(job: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    let job: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
        Box::pin(job);
    future_to_promise(job)
}

/// Call this on the silent redirect page (`silentRedirectUri`): it hands the page's URL to the
/// parent window on this origin only. Equivalent to `parent.postMessage(location.href, location.origin)`.
#[cfg(feature = "page")]
#[wasm_bindgen(js_name = handleSilentCallback)]
pub fn handle_silent_callback() -> Result<(), JsValue> {
    oidc_session::handle_silent_callback().map_err(|e| js_error(&e))
}

/// The token vault's service worker (`oidc-session-sw.js`) hands each `message` event here:
/// `text` is the page's message, `origin` the event's origin. Resolves with the reply text.
/// Not for pages: only in the worker's bundle (`pkg/worker/`), which exports nothing else.
#[cfg(feature = "vault-worker")]
#[wasm_bindgen(js_name = serveVault)]
pub fn serve_vault(text: String, origin: String) -> PromiseString {
    thread_local! {
        // The worker's one vault (a worker is one thread, and this bundle's only user of it).
        static VAULT: Rc<oidc_session::VaultWorker> = Rc::default();
    }
    let vault = VAULT.with(Rc::clone);
    promise(async move { Ok(JsValue::from(vault.handle(&text, &origin).await)) }).unchecked_into()
}

/// Manages one sign-in session in the browser.
#[cfg(feature = "page")]
#[wasm_bindgen]
pub struct SessionManager {
    client: Client,
    snapshot: Rc<Snapshot>,
}

#[cfg(feature = "page")]
#[wasm_bindgen]
impl SessionManager {
    /// Validates the configuration. Throws `{ code: "config_invalid" }` naming the field to fix.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsSessionConfig) -> Result<SessionManager, JsValue> {
        let config: JsValue = config.into();
        let input = options::config(&config).map_err(|e| js_error(&e))?;
        let client = Client::new(input).map_err(|e| js_error(&e))?;
        let (on_ok, on_err) = (hook(&config, "onRefresh"), hook(&config, "onRefreshError"));
        if on_ok.is_some() || on_err.is_some() {
            client.on_refresh(Rc::new(move |r| {
                // A throwing hook must not break the refresh.
                let _ = match (r, &on_ok, &on_err) {
                    (Ok(exp), Some(f), _) => {
                        let at = exp.map(|s| s.saturating_mul(1000) as f64);
                        f.call1(&JsValue::NULL, &refresh_info(at))
                    }
                    (Err(e), _, Some(f)) => f.call1(&JsValue::NULL, &error_object(e)),
                    _ => Ok(JsValue::UNDEFINED),
                };
            }));
        }
        Ok(Self {
            client,
            snapshot: Rc::default(),
        })
    }

    /// Finishes a pending callback when this page is the redirect URI with `code`/`error`,
    /// otherwise restores the stored session. Idempotent: later calls resolve with the same state.
    pub fn bootstrap(&self) -> PromiseSessionState {
        let client = self.client.clone();
        let cache = self.snapshot.clone();
        promise(async move {
            let view = client.bootstrap().await;
            Ok(snapshot_of(&cache, &view))
        })
        .unchecked_into()
    }

    /// The current state (a frozen object, identical until the state changes).
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> JsSessionState {
        snapshot_of(&self.snapshot, &self.client.view()).unchecked_into()
    }

    /// Where the session's tokens are: `"active"` when the service-worker vault holds them.
    #[wasm_bindgen(getter, js_name = tokenVault)]
    pub fn token_vault(&self) -> JsTokenVaultStatus {
        let s = match self.client.vault_status() {
            VaultStatus::Starting => "starting",
            VaultStatus::Active => "active",
            VaultStatus::Unavailable => "unavailable",
            _ => "off",
        };
        JsValue::from_str(s).unchecked_into()
    }

    /// Calls `listener` with the new state on every change. Returns the function that unsubscribes.
    pub fn subscribe(&self, listener: JsListener) -> JsUnsubscribe {
        let f: Function = listener.unchecked_into();
        let cache = self.snapshot.clone();
        let sub = self.client.subscribe(move |view| {
            // A throwing listener must not stop the others.
            let _ = f.call1(&JsValue::NULL, &snapshot_of(&cache, view));
        });
        let slot: RefCell<Option<Subscription>> = RefCell::new(Some(sub));
        let off = Closure::<dyn FnMut(JsValue)>::new(move |_| drop(slot.borrow_mut().take()));
        off.into_js_value().unchecked_into()
    }

    /// Navigates to the provider's sign-in. Rejects (without navigating) on a bad `returnTo`.
    #[wasm_bindgen(js_name = signIn)]
    pub fn sign_in(&self, options: Option<JsSignInOptions>) -> PromiseVoid {
        let client = self.client.clone();
        let options = options::sign_in(&options.map_or(JsValue::UNDEFINED, JsValue::from));
        promise(async move {
            let opts = options.map_err(|e| js_error(&e))?;
            client.sign_in(opts).await.map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
        .unchecked_into()
    }

    /// A valid access token; refreshes when it is about to expire.
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self) -> PromiseString {
        let client = self.client.clone();
        promise(async move {
            client
                .access_token()
                .await
                .map(|t| JsValue::from(t.secret()))
                .map_err(|e| js_error(&e))
        })
        .unchecked_into()
    }

    /// Runs `bootstrap()` again (after a `failed` state, e.g. the backend was down).
    pub fn retry(&self) -> PromiseSessionState {
        let client = self.client.clone();
        let cache = self.snapshot.clone();
        promise(async move {
            let view = client.retry().await;
            Ok(snapshot_of(&cache, &view))
        })
        .unchecked_into()
    }

    /// Server mode: `fetch` with the backend's cookies and CSRF header. On a 401 from the backend,
    /// one `/refresh` (shared by every caller and tab), then the request once more.
    pub fn fetch(&self, input: JsRequestInfo, init: Option<JsRequestInit>) -> PromiseResponse {
        let client = self.client.clone();
        let input: JsValue = input.into();
        let init: JsValue = init.map_or(JsValue::UNDEFINED, JsValue::from);
        promise(async move {
            server_fetch(&client, &input, &init)
                .await
                .map_err(|e| js_error(&e))
        })
        .unchecked_into()
    }

    /// Revokes the refresh token, clears the session and ends the provider session (unless `localOnly`).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self, options: Option<JsSignOutOptions>) -> PromiseVoid {
        let client = self.client.clone();
        let options = options::sign_out(&options.map_or(JsValue::UNDEFINED, JsValue::from));
        promise(async move {
            let opts = options.map_err(|e| js_error(&e))?;
            // Where the page went is the browser's to show; the promise says only that it ended.
            client.sign_out(opts).await.map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
        .unchecked_into()
    }
}

fn network(e: &JsValue) -> Error {
    ErrorKind::Network {
        detail: describe(e),
    }
    .into()
}

/// `fetch(input, init)` in server mode: the app's request, with the CSRF header towards the
/// backend, through `Client::fetch_with` (which decides on the refresh and the one retry).
async fn server_fetch(client: &Client, input: &JsValue, init: &JsValue) -> Result<JsValue, Error> {
    let Some((name, value, backend)) = client.csrf_header() else {
        return Err(ErrorKind::Unsupported {
            what: "fetch() is for server mode; use getAccessToken() in browser mode",
        }
        .into());
    };
    let a = app_request(input, init, backend, name, value).map_err(|e| network(&e))?;
    let to_backend = a.get(1).as_f64() == Some(1.0);
    // Sent in this order: the request, then (after a 401) its copy.
    let mut requests = vec![(a.length() > 2).then(|| a.get(2)), Some(a.get(0))];
    client
        .fetch_with(to_backend, move || {
            let next = requests.pop().flatten();
            async move {
                let Some(r) = next else {
                    return Err(ErrorKind::Unsupported {
                        what: "the request body cannot be replayed",
                    }
                    .into());
                };
                let answer = wasm_bindgen_futures::JsFuture::from(send(&r))
                    .await
                    .map_err(|e| network(&e))?;
                let a: js_sys::Array = answer.unchecked_into();
                Ok((a.get(0), a.get(1).as_f64().map_or(0, |s| s as u16)))
            }
        })
        .await
}
