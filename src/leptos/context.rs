//! [`AuthProvider`] and the hooks that read what it provides.

use crate::{
    AccessToken, Client, ConfigInput, Error, ErrorKind, Mode, SignInOptions, SignOutOptions,
    SignOutOutcome, Status, User, View,
};
use leptos::prelude::*;
use std::future::Future;

/// What [`AuthProvider`] provides: the view as a signal and the client (in the browser).
///
/// The client is `Rc`-based and lives in a local arena slot (`StoredValue` with
/// `LocalStorage`), which makes the context `Send + Sync` as Leptos requires without making the
/// client thread-safe. Off `wasm32` there is no client at all.
#[derive(Clone, Copy)]
pub(crate) struct AuthContext {
    pub(crate) view: RwSignal<View>,
    pub(crate) mode: Mode,
    /// The path of `redirect_uri` (browser mode), for [`AuthCallback`](super::AuthCallback).
    pub(crate) redirect_path: StoredValue<String>,
    /// A sign-out started here is under way: its `SignedOut` is not a reason to sign in
    /// (see `RedirectToSignIn`).
    pub(crate) leaving: RwSignal<bool>,
    /// Element ids handed out so far, per provider: the server render and the first client
    /// frame number the same elements alike.
    ids: StoredValue<u32>,
    #[cfg(target_arch = "wasm32")]
    client: StoredValue<Result<Client, Error>, LocalStorage>,
}

pub(crate) fn loading_view() -> View {
    View {
        status: Status::Loading,
        user: None,
        error: None,
    }
}

fn path_of(uri: &str) -> String {
    let rest = uri.split_once("://").map_or(uri, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split(['?', '#']).next().unwrap_or("/").to_owned()
}

impl AuthContext {
    /// Builds the client for `config` and starts its bootstrap in an effect, i.e. after the
    /// first frame (hydration). Off `wasm32`, the view stays `Loading`.
    fn start(config: ConfigInput) -> Self {
        let view = RwSignal::new(loading_view());
        let mode = config.mode;
        let redirect_path = StoredValue::new(path_of(&config.redirect_uri));
        #[cfg(target_arch = "wasm32")]
        let client = {
            let client = Client::new(config);
            if let Ok(c) = &client {
                // The guard lives in this owner's arena and is dropped with it.
                let _ = StoredValue::new_local(c.subscribe(move |v: &std::rc::Rc<View>| {
                    let _ = view.try_set(View::clone(v));
                }));
            }
            let client = StoredValue::new_local(client);
            Effect::new(move |_| match client.try_get_value() {
                Some(Ok(c)) => {
                    view.set(View::clone(&c.view()));
                    leptos::task::spawn_local(async move {
                        c.bootstrap().await;
                    });
                }
                Some(Err(e)) => view.set(View {
                    status: Status::Failed,
                    user: None,
                    error: Some(e),
                }),
                None => {}
            });
            client
        };
        #[cfg(not(target_arch = "wasm32"))]
        drop(config);
        Self {
            view,
            mode,
            redirect_path,
            leaving: RwSignal::new(false),
            ids: StoredValue::new(0),
            #[cfg(target_arch = "wasm32")]
            client,
        }
    }

    /// A context whose view the tests set themselves.
    #[cfg(all(test, target_arch = "wasm32"))]
    pub(crate) fn fixed(view: RwSignal<View>, mode: Mode) -> Self {
        Self {
            view,
            mode,
            redirect_path: StoredValue::new("/callback".into()),
            leaving: RwSignal::new(false),
            ids: StoredValue::new(0),
            client: StoredValue::new_local(Err(ErrorKind::NotSignedIn.into())),
        }
    }

    /// The client, or why there is none (a configuration error; a server render).
    pub(crate) fn client(&self) -> Result<Client, Error> {
        #[cfg(target_arch = "wasm32")]
        return self.client.try_get_value().unwrap_or_else(|| {
            Err(ErrorKind::Unsupported {
                what: "the AuthProvider of this component is gone",
            }
            .into())
        });
        #[cfg(not(target_arch = "wasm32"))]
        Err(ErrorKind::Unsupported {
            what: "sessions run in the browser; this is the server render",
        }
        .into())
    }

    /// A fresh element id: `oidc-session-{what}-{n}`.
    pub(crate) fn next_id(&self, what: &str) -> String {
        let n = self.ids.get_value() + 1;
        self.ids.set_value(n);
        format!("oidc-session-{what}-{n}")
    }

    pub(crate) fn status(&self) -> Memo<Status> {
        let view = self.view;
        Memo::new(move |_| view.with(|v| v.status))
    }
}

/// The provider of every component and hook: one session for the tree below it.
///
/// It takes the same configuration as the JS API ([`ConfigInput`]; `mode` chooses browser or
/// server mode), builds one [`Client`], and after the first frame bootstraps it once: on the
/// redirect URI it finishes the pending sign-in, elsewhere it restores the session (server
/// mode: one `GET {me}`). A configuration error shows as [`Status::Failed`] (see
/// [`AuthFailed`](super::AuthFailed)).
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{AuthProvider, SignedIn};
/// use oidc_session::{ConfigInput, Mode};
///
/// #[component]
/// fn App() -> impl IntoView {
///     // Server mode: the backend at /api/auth holds the session in HttpOnly cookies.
///     let config = ConfigInput { mode: Mode::Server, ..Default::default() };
///     view! { <AuthProvider config><SignedIn>"Signed in"</SignedIn></AuthProvider> }
/// }
/// ```
///
/// ## Server-Side Rendering
///
/// Off `wasm32` no client is built: the view stays [`Status::Loading`] and nothing from the
/// browser is touched.
#[component]
pub fn AuthProvider(
    /// The session's configuration, as for [`Client::new`].
    config: ConfigInput,
    /// The app, or the part of it that uses the session.
    children: Children,
) -> impl IntoView {
    provide_context(AuthContext::start(config));
    children()
}

/// The context, or a panic that names the missing provider.
#[track_caller]
pub(crate) fn expect_auth(by: &str) -> AuthContext {
    use_context::<AuthContext>().unwrap_or_else(|| {
        panic!("{by} was used outside an <AuthProvider>: wrap the app (or this part of it) in <AuthProvider config=…>")
    })
}

/// Options of [`use_auth_with_options`].
#[derive(Debug, Clone, Default)]
pub struct UseAuthOptions {
    /// Browser mode: origins besides this page's whose requests [`UseAuthReturn::fetch`] gives
    /// the access token to (`https://api.example.com`). Requests to any other origin are sent
    /// without it.
    pub bearer_origins: Vec<String>,
}

/// The session and its actions, from [`use_auth`].
///
/// The fields are signals; the actions return `'static` futures (spawn them with
/// `leptos::task::spawn_local`). On the server every action fails with `unsupported`.
#[derive(Clone, Copy)]
pub struct UseAuthReturn {
    /// Loading, signed in, signed out or failed.
    pub status: Signal<Status>,
    /// The signed-in user.
    pub user: Signal<Option<User>>,
    /// Why the session failed, or why a callback was refused while a session was kept.
    pub error: Signal<Option<Error>>,
    /// `status` is [`Status::Loading`].
    pub is_loading: Signal<bool>,
    /// `status` is [`Status::SignedIn`].
    pub is_signed_in: Signal<bool>,
    ctx: AuthContext,
    bearer_origins: StoredValue<Vec<String>>,
}

impl std::fmt::Debug for UseAuthReturn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UseAuthReturn")
            .field("status", &self.status.get_untracked())
            .finish_non_exhaustive()
    }
}

impl UseAuthReturn {
    /// Browser or server mode.
    pub fn mode(&self) -> Mode {
        self.ctx.mode
    }

    /// The client itself, in the browser; `None` on the server or after a configuration
    /// error.
    pub fn client(&self) -> Option<Client> {
        self.ctx.client().ok()
    }

    /// [`Client::sign_in`]: stores a pending sign-in and leaves for the provider.
    pub fn sign_in(
        &self,
        options: SignInOptions,
    ) -> impl Future<Output = Result<(), Error>> + 'static {
        let client = self.ctx.client();
        async move { client?.sign_in(options).await }
    }

    /// [`Client::sign_out`]: revokes, clears every tab, and ends the provider's session.
    ///
    /// While it runs, and after it when the page is on its way to the provider's logout page
    /// ([`SignOutOutcome::LeavingPage`]), the `SignedOut` it publishes does not make a
    /// [`RedirectToSignIn`](super::RedirectToSignIn) on this page start a sign-in that would
    /// race that navigation.
    pub fn sign_out(
        &self,
        options: SignOutOptions,
    ) -> impl Future<Output = Result<SignOutOutcome, Error>> + 'static {
        let client = self.ctx.client();
        let leaving = self.ctx.leaving;
        leaving.set(true);
        async move {
            let outcome = match client {
                Ok(c) => c.sign_out(options).await,
                Err(e) => Err(e),
            };
            // The document unloads on its own time after `location.assign`: until then this
            // page is leaving. Anything else (a failure, a local sign-out) stays here.
            if !matches!(outcome, Ok(SignOutOutcome::LeavingPage)) {
                let _ = leaving.try_set(false);
            }
            outcome
        }
    }

    /// [`Client::access_token`]: a valid access token (browser mode).
    pub fn access_token(&self) -> impl Future<Output = Result<AccessToken, Error>> + 'static {
        let client = self.ctx.client();
        async move { client?.access_token().await }
    }

    /// [`Client::retry`]: runs the bootstrap again after a failure.
    pub fn retry(&self) -> impl Future<Output = ()> + 'static {
        let client = self.ctx.client();
        async move {
            if let Ok(c) = client {
                c.retry().await;
            }
        }
    }

    /// Sends `request` with the session.
    ///
    /// Server mode: with the backend's CSRF header; on a 401 from the backend, one refresh
    /// (shared by every caller and tab) and the request once more
    /// ([`Client::fetch_with`]). Browser mode: with `Authorization: Bearer` when the request
    /// goes to this page's origin or one of [`UseAuthOptions::bearer_origins`], else as it
    /// is. An HTTP error status is a response, not an error.
    pub fn fetch(
        &self,
        request: web_sys::Request,
    ) -> impl Future<Output = Result<web_sys::Response, Error>> + 'static {
        let client = self.ctx.client();
        let bearer = self.bearer_origins.get_value();
        async move {
            let client = client?;
            #[cfg(target_arch = "wasm32")]
            return fetch::send_with_session(&client, request, &bearer).await;
            #[cfg(not(target_arch = "wasm32"))]
            {
                let _ = (client, request, bearer);
                unreachable!("off wasm32 there is no client")
            }
        }
    }
}

#[cfg(target_arch = "wasm32")]
mod fetch {
    use crate::{Client, Error, ErrorKind};
    use leptos::wasm_bindgen::{JsCast, JsValue};
    use web_sys::{Request, Response};

    fn network(e: &JsValue) -> Error {
        ErrorKind::Network {
            detail: e
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| "the request failed".into()),
        }
        .into()
    }

    fn origin_of(url: &str) -> Option<String> {
        web_sys::Url::new(url).ok().map(|u| u.origin())
    }

    async fn send(r: &Request) -> Result<Response, Error> {
        let window = web_sys::window().ok_or(ErrorKind::Unsupported {
            what: "fetch needs a window",
        })?;
        let answer = wasm_bindgen_futures::JsFuture::from(window.fetch_with_request(r))
            .await
            .map_err(|e| network(&e))?;
        Ok(answer.unchecked_into())
    }

    pub(super) async fn send_with_session(
        client: &Client,
        request: Request,
        bearer_origins: &[String],
    ) -> Result<Response, Error> {
        let origin = origin_of(&request.url());
        let set = |r: &Request, name: &str, value: &str| {
            r.headers().set(name, value).map_err(|e| network(&e))
        };
        match client.csrf_header() {
            Some((name, value, backend)) => {
                let to_backend = origin.as_deref() == Some(backend);
                if to_backend {
                    set(&request, name, value)?;
                }
                // Sent in this order: the request, then (after a 401) its copy.
                let copy = if to_backend {
                    request.clone().ok()
                } else {
                    None
                };
                let mut requests = vec![copy, Some(request)];
                client
                    .fetch_with(to_backend, move || {
                        let next = requests.pop().flatten();
                        async move {
                            let r = next.ok_or(ErrorKind::Unsupported {
                                what: "the request's body cannot be sent twice",
                            })?;
                            let response = send(&r).await?;
                            let status = response.status();
                            Ok((response, status))
                        }
                    })
                    .await
            }
            None => {
                let page = web_sys::window().and_then(|w| w.location().origin().ok());
                let trusted = origin.as_ref().is_some_and(|o| {
                    page.as_ref() == Some(o) || bearer_origins.iter().any(|b| b == o)
                });
                if trusted {
                    let token = client.access_token().await?;
                    set(
                        &request,
                        "Authorization",
                        &format!("Bearer {}", token.secret()),
                    )?;
                }
                send(&request).await
            }
        }
    }
}

/// The session and its actions: [`use_auth_with_options`] with the default options.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::use_auth;
/// use oidc_session::SignInOptions;
///
/// #[component]
/// fn Greeting() -> impl IntoView {
///     let auth = use_auth();
///     let name = move || auth.user.get().map(|u| u.display_name()).unwrap_or_default();
///     let sign_in = move |_| {
///         leptos::task::spawn_local(async move {
///             let _ = auth.sign_in(SignInOptions::default()).await;
///         })
///     };
///     view! {
///         <Show when=move || auth.is_signed_in.get() fallback=move || view! {
///             <button on:click=sign_in>"Sign in"</button>
///         }>
///             <p>"Hello, " {name}</p>
///         </Show>
///     }
/// }
/// ```
///
/// # Panics
///
/// Outside an [`AuthProvider`].
///
/// ## Server-Side Rendering
///
/// The signals read [`Status::Loading`] and every action fails with `unsupported`.
#[track_caller]
pub fn use_auth() -> UseAuthReturn {
    use_auth_with_options(UseAuthOptions::default())
}

/// The session and its actions, with options (see [`UseAuthOptions`]).
///
/// # Panics
///
/// Outside an [`AuthProvider`].
#[track_caller]
pub fn use_auth_with_options(options: UseAuthOptions) -> UseAuthReturn {
    let ctx = expect_auth("use_auth()");
    let view = ctx.view;
    let status = ctx.status();
    UseAuthReturn {
        status: status.into(),
        user: Memo::new(move |_| view.with(|v| v.user.clone())).into(),
        error: Memo::new(move |_| view.with(|v| v.error.clone())).into(),
        is_loading: Signal::derive(move || status.get() == Status::Loading),
        is_signed_in: Signal::derive(move || status.get() == Status::SignedIn),
        ctx,
        bearer_origins: StoredValue::new(options.bearer_origins),
    }
}

/// The signed-in user (`None` while loading, signed out or failed).
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::use_user;
///
/// #[component]
/// fn Email() -> impl IntoView {
///     let user = use_user();
///     move || user.get().and_then(|u| u.email)
/// }
/// ```
///
/// # Panics
///
/// Outside an [`AuthProvider`].
#[track_caller]
pub fn use_user() -> Signal<Option<User>> {
    let view = expect_auth("use_user()").view;
    Memo::new(move |_| view.with(|v| v.user.clone())).into()
}

/// The whole [`View`] (status, user, error) as one signal, to match on.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::use_session;
/// use oidc_session::Status;
///
/// #[component]
/// fn Badge() -> impl IntoView {
///     let session = use_session();
///     move || match session.get().status {
///         Status::Loading => "…",
///         Status::SignedIn => "signed in",
///         Status::SignedOut => "signed out",
///         Status::Failed => "unavailable",
///     }
/// }
/// ```
///
/// # Panics
///
/// Outside an [`AuthProvider`].
#[track_caller]
pub fn use_session() -> Signal<View> {
    expect_auth("use_session()").view.into()
}
