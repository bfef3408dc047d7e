//! The JS facade (`js` feature): `SessionManager`, the npm package's one export besides `init`.
//!
//! Each async method clones the `Rc`-based client and returns `browser::promise(async move …)`,
//! so concurrent JS calls never hit wasm-bindgen's "recursive use of an object" borrow error.
//! Errors cross the boundary as `Error` objects with a stable `code` and a `message`.

use crate::browser::builtins::{Function, Promise};
use crate::client::{Client, SignOutOptions, Subscription, View};
use crate::core::authorize::SignInOptions;
use crate::core::config::ConfigInput;
use crate::core::error::{Error, ErrorKind};
use crate::core::json::Writer;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

/// The npm bundle's allocator: a free list of ~1 KB instead of dlmalloc's ~5 KB (3.4 KB gzip
/// less in the bundle, measured). Rust users of the crate keep their own allocator: this is
/// set only by the `js` feature, which exists for the npm bundle.
// SAFETY: the bundle is single-threaded (no `atomics` target feature, no shared memory), so
// allocation never runs on two threads at once.
#[global_allocator]
static ALLOCATOR: lol_alloc::AssumeSingleThreaded<lol_alloc::FreeListAllocator> =
    unsafe { lol_alloc::AssumeSingleThreaded::new(lol_alloc::FreeListAllocator::new()) };

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/** Stable error codes. Provider OAuth error codes (`access_denied`, `login_required`, `invalid_grant`, …) pass through as they are. */
export type ErrorCode =
  | "config_invalid" | "network" | "html_response" | "http_error" | "rate_limited" | "invalid_response"
  | "discovery_invalid" | "state_mismatch" | "sign_in_expired" | "iss_mismatch" | "iss_missing"
  | "nonce_mismatch" | "token_invalid" | "token_expired" | "return_to_invalid" | "not_signed_in"
  | "unsupported" | "storage" | "crypto" | "timeout" | "provider_error"
  | "access_denied" | "login_required" | "consent_required" | "interaction_required"
  | "account_selection_required" | "invalid_grant" | "invalid_request" | "server_error"
  | (string & {});

/**
 * How `new SessionManager(config)` is configured: `BrowserSessionConfig` (the browser runs OpenID Connect)
 * or `ServerSessionConfig` (your backend holds the session in HttpOnly cookies).
 */
export type SessionConfig = BrowserSessionConfig | ServerSessionConfig;

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

/** A frozen snapshot; the same object is returned until the state changes. */
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
    #[wasm_bindgen(typescript_type = "(state: SessionState) => void")]
    pub type JsListener;
    #[wasm_bindgen(typescript_type = "() => void")]
    pub type JsUnsubscribe;
}

/// The last state object handed out, and the view it shows.
type Snapshot = RefCell<Option<(Rc<View>, JsValue)>>;

/// Manages one sign-in session in the browser.
#[wasm_bindgen]
pub struct SessionManager {
    client: Client,
    snapshot: Rc<Snapshot>,
    bootstrap: RefCell<Option<Promise>>,
}

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    /// `{ expiresAt }` (ms since the epoch), or `{}` when the expiry is unknown.
    #[wasm_bindgen(js_name = refreshInfo)]
    fn refresh_info(expires_at: Option<f64>) -> JsValue;
    /// A JS options object as JSON text: `""` for `undefined` (and for what JSON cannot
    /// represent) and `"null"` for `null`, which the options readers take as defaults and the
    /// configuration reader refuses as not an object.
    #[wasm_bindgen(js_name = jsonText)]
    fn json_text(v: &JsValue) -> String;
    /// `config[name]` when it is a function.
    fn hook(config: &JsValue, name: &str) -> Option<Function>;
    #[wasm_bindgen(js_name = sessionError)]
    fn session_error(thrown: bool, code: &str, message: &str, extra: &str) -> JsValue;
    #[wasm_bindgen(js_name = sessionState)]
    fn session_state(
        status: &str,
        sub: Option<&str>,
        claims: Option<&str>,
        userinfo: Option<&str>,
        error: JsValue,
    ) -> JsValue;
}

/// `e` as a JS value: `{ code, message, status?, snippet?, retryAfter?, description? }`, or with
/// `thrown`, an `Error` with `name = "OidcSessionError"` and the same members. Never a secret.
fn error_value(e: &Error, thrown: bool) -> JsValue {
    let w = Writer::default();
    let extra = match e.kind() {
        ErrorKind::HtmlResponse { status, snippet } => w
            .opt_uint("status", Some(u64::from(*status)))
            .str("snippet", snippet),
        ErrorKind::HttpError { status } => w.opt_uint("status", Some(u64::from(*status))),
        ErrorKind::RateLimited { retry_after } => w.opt_uint("retryAfter", *retry_after),
        ErrorKind::Provider { description, .. } => w.opt_str("description", description.as_deref()),
        _ => w,
    };
    session_error(thrown, e.code(), &e.message(), &extra.finish())
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
    let u = v.user.as_ref();
    session_state(
        v.status.as_str(),
        u.map(|u| u.sub.as_str()),
        u.map(|u| u.claims_json.as_str()),
        u.and_then(|u| u.userinfo_json.as_deref()),
        v.error.as_ref().map_or(JsValue::UNDEFINED, error_object),
    )
}

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

/// Call this on the silent redirect page (`silentRedirectUri`): it hands the page's URL to the
/// parent window on this origin only. Equivalent to `parent.postMessage(location.href, location.origin)`.
#[wasm_bindgen(js_name = handleSilentCallback)]
pub fn handle_silent_callback() -> Result<(), JsValue> {
    crate::browser::silent::notify_parent().map_err(|e| js_error(&e))
}

#[wasm_bindgen]
impl SessionManager {
    /// Validates the configuration. Throws `{ code: "config_invalid" }` naming the field to fix.
    #[wasm_bindgen(constructor)]
    pub fn new(config: JsSessionConfig) -> Result<SessionManager, JsValue> {
        let config: JsValue = config.into();
        let input = ConfigInput::from_json(&json_text(&config)).map_err(|e| js_error(&e))?;
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
            bootstrap: RefCell::default(),
        })
    }

    /// Finishes a pending callback when this page is the redirect URI with `code`/`error`,
    /// otherwise restores the stored session. Idempotent: later calls return the same promise.
    pub fn bootstrap(&self) -> PromiseSessionState {
        if let Some(p) = &*self.bootstrap.borrow() {
            return p.clone().unchecked_into();
        }
        let client = self.client.clone();
        let cache = self.snapshot.clone();
        let p = crate::browser::promise(async move {
            let view = client.bootstrap().await;
            Ok(snapshot_of(&cache, &view))
        });
        *self.bootstrap.borrow_mut() = Some(p.clone());
        p.unchecked_into()
    }

    /// The current state (a frozen object, identical until the state changes).
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> JsSessionState {
        snapshot_of(&self.snapshot, &self.client.view()).unchecked_into()
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
        let options = json_text(&options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED));
        crate::browser::promise(async move {
            let opts = SignInOptions::from_json(&options).map_err(|e| js_error(&e))?;
            client.sign_in(opts).await.map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
        .unchecked_into()
    }

    /// A valid access token; refreshes when it is about to expire.
    #[wasm_bindgen(js_name = getAccessToken)]
    pub fn get_access_token(&self) -> PromiseString {
        let client = self.client.clone();
        crate::browser::promise(async move {
            client
                .access_token()
                .await
                .map(JsValue::from)
                .map_err(|e| js_error(&e))
        })
        .unchecked_into()
    }

    /// Runs `bootstrap()` again (after a `failed` state, e.g. the backend was down).
    pub fn retry(&self) -> PromiseSessionState {
        self.bootstrap.borrow_mut().take();
        self.bootstrap()
    }

    /// Server mode: `fetch` with the backend's cookies and CSRF header. On a 401 from the backend,
    /// one `/refresh` (shared by every caller and tab), then the request once more.
    pub fn fetch(&self, input: JsRequestInfo, init: Option<JsRequestInit>) -> PromiseResponse {
        let client = self.client.clone();
        let input: JsValue = input.into();
        let init: JsValue = init.map_or(JsValue::UNDEFINED, JsValue::from);
        crate::browser::promise(async move {
            client
                .server_fetch(&input, &init)
                .await
                .map_err(|e| js_error(&e))
        })
        .unchecked_into()
    }

    /// Revokes the refresh token, clears the session and ends the provider session (unless `localOnly`).
    #[wasm_bindgen(js_name = signOut)]
    pub fn sign_out(&self, options: Option<JsSignOutOptions>) -> PromiseVoid {
        let client = self.client.clone();
        let options = json_text(&options.map(JsValue::from).unwrap_or(JsValue::UNDEFINED));
        crate::browser::promise(async move {
            let opts = SignOutOptions::from_json(&options).map_err(|e| js_error(&e))?;
            client.sign_out(opts).await.map_err(|e| js_error(&e))?;
            Ok(JsValue::UNDEFINED)
        })
        .unchecked_into()
    }
}
