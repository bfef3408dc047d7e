//! Leaving for the provider (`RedirectToSignIn`) and coming back from it (`AuthCallback`).

use super::context::{expect_auth, use_auth};
use super::messages::describe_error;
use crate::{Error, SignInOptions, Status};
use leptos::prelude::*;

/// This page's path, query and fragment: where a sign-in started here returns to.
fn here() -> Option<String> {
    let l = web_sys::window()?.location();
    Some(format!(
        "{}{}{}",
        l.pathname().ok()?,
        l.search().ok()?,
        l.hash().ok()?
    ))
}

/// Tells a router (`leptos_router` listens to `popstate`) that the URL changed under it.
fn announce_url_change() {
    if let Some(w) = web_sys::window() {
        if let Ok(e) = web_sys::PopStateEvent::new("popstate") {
            let _ = w.dispatch_event(&e);
        }
    }
}

/// The one line of the error, its code, and the way out.
fn error_panel(error: Error, retry: impl Fn() + Clone + Send + Sync + 'static) -> AnyView {
    let code = error.code().to_owned();
    view! {
        <p class="oidc-session-message">{describe_error(&error)}</p>
        <p class="oidc-session-code">"Error code: " <code>{code}</code></p>
        <button type="button" class="oidc-session-button oidc-session-primary"
            on:click=move |_| retry()>"Try again"</button>
    }
    .into_any()
}

/// Starts a sign-in as soon as the session is known to be signed out, replacing the current
/// history entry (Back from the provider does not return here to redirect again), and comes
/// back to this page (`return_to` is the current path unless `options` set one). Renders
/// nothing while it works, and the error with a retry if the sign-in cannot start. A sign-out
/// started on this page through [`use_auth`] or [`UserButton`](super::UserButton) is left to
/// finish: while it runs, and while the page leaves for the provider's logout page
/// ([`SignOutOutcome::LeavingPage`](crate::SignOutOutcome::LeavingPage)), it does not redirect
/// to a new sign-in; after a sign-out that stays on the page (a local one), it does.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{RedirectToSignIn, SignedIn, SignedOut};
///
/// #[component]
/// fn Protected() -> impl IntoView {
///     view! {
///         <SignedIn><p>"Private"</p></SignedIn>
///         <SignedOut><RedirectToSignIn/></SignedOut>
///     }
/// }
/// ```
#[component]
pub fn RedirectToSignIn(
    /// The sign-in's options (`prompt`, `login_hint`, …); `replace` is always set.
    #[prop(optional)]
    options: Option<SignInOptions>,
) -> impl IntoView {
    let auth = use_auth();
    let failure = RwSignal::new(None::<Error>);
    let started = StoredValue::new(false);
    let options = StoredValue::new(options.unwrap_or_default());
    let go = move || {
        started.set_value(true);
        failure.set(None);
        let mut o = options.get_value();
        o.replace = true;
        if o.return_to.is_none() {
            o.return_to = here();
        }
        let run = auth.sign_in(o);
        leptos::task::spawn_local(async move {
            if let Err(e) = run.await {
                let _ = failure.try_set(Some(e));
            }
        });
    };
    let leaving = expect_auth("<RedirectToSignIn>").leaving;
    Effect::new(move |_| {
        // A sign-out from this page publishes `SignedOut` on its way to the provider's logout
        // page: that is not a visitor to send to sign-in. Tracked: a sign-out that stays on
        // this page (a local one) leaves a signed-out visitor here, who is sent to sign in.
        if auth.status.get() == Status::SignedOut && !started.get_value() && !leaving.get() {
            go();
        }
    });
    move || {
        failure.get().map(|e| {
            view! {
                <section class="oidc-session oidc-session-card oidc-session-redirect" role="alert">
                    {error_panel(e, go)}
                </section>
            }
        })
    }
}

/// The page at the redirect URI: shows progress while [`AuthProvider`](super::AuthProvider)
/// finishes the callback, then goes on to the sign-in's `return_to` (or `return_to` here when
/// the sign-in named none); on a refused callback, says why and offers to sign in again.
///
/// The client has already put the `return_to` URL in place of the callback's (without the
/// code) when the session is signed in; this component then dispatches `popstate`, which
/// `leptos_router` follows like a Back or Forward. Without a router nothing else is needed.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::AuthCallback;
///
/// // With leptos_router: <Route path=path!("/callback") view=|| view! { <AuthCallback/> }/>
/// #[component]
/// fn Callback() -> impl IntoView {
///     view! { <AuthCallback return_to="/home"/> }
/// }
/// ```
#[component]
pub fn AuthCallback(
    /// Where to go when the sign-in named no `return_to`. Default `/`.
    #[prop(optional, into)]
    return_to: Option<String>,
) -> impl IntoView {
    let auth = use_auth();
    let ctx = expect_auth("<AuthCallback>");
    let title_id = ctx.next_id("callback");
    let fallback = return_to.unwrap_or_else(|| "/".into());
    let home = fallback.clone();
    let done = StoredValue::new(false);
    Effect::new(move |_| {
        if auth.status.get() != Status::SignedIn || done.get_value() {
            return;
        }
        done.set_value(true);
        // Still on the redirect path: the sign-in named no return_to.
        let on_callback = web_sys::window()
            .and_then(|w| w.location().pathname().ok())
            .is_some_and(|p| p == ctx.redirect_path.get_value());
        if on_callback {
            if let Some(h) = web_sys::window().and_then(|w| w.history().ok()) {
                let _ = h.replace_state_with_url(
                    &leptos::wasm_bindgen::JsValue::NULL,
                    "",
                    Some(&fallback),
                );
            }
        }
        announce_url_change();
    });
    let again = move || {
        let run = auth.sign_in(SignInOptions {
            replace: true,
            ..SignInOptions::default()
        });
        leptos::task::spawn_local(async move {
            let _ = run.await;
        });
    };
    move || {
        let (status, error) = (auth.status.get(), auth.error.get());
        let body = match (status, error) {
            (Status::Loading, _) => view! {
                <p class="oidc-session-progress" role="status">
                    <span class="oidc-session-spinner" aria-hidden="true"></span>
                    "Signing you in…"
                </p>
            }
            .into_any(),
            (Status::SignedIn, _) => {
                view! { <p class="oidc-session-progress" role="status">"Signed in. Continuing…"</p> }
                    .into_any()
            }
            (Status::Failed, Some(e)) => error_panel(e, again),
            (_, _) => view! {
                <p class="oidc-session-message">"You are not signed in."</p>
                <button type="button" class="oidc-session-button oidc-session-primary"
                    on:click=move |_| again()>"Sign in"</button>
            }
            .into_any(),
        };
        view! {
            <section class="oidc-session oidc-session-card oidc-session-callback"
                aria-labelledby=title_id.clone()>
                <h2 class="oidc-session-title" id=title_id.clone()>"Sign-in"</h2>
                {body}
                <a class="oidc-session-link" href=home.clone()>"Back to the home page"</a>
            </section>
        }
    }
}
