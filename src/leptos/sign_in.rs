//! The sign-in card for hosted-login providers.

use super::context::{expect_auth, use_auth};
use super::messages::describe_error;
use crate::core::authorize::silent_failure_is_quiet;
use crate::{Error, SignInOptions, Status};
use leptos::prelude::*;

/// A button of [`SignIn`] that goes straight to one identity provider behind the OpenID
/// Provider (Keycloak's `kc_idp_hint`, Auth0's `connection`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// The button's label after "Continue with" (`GitHub`).
    pub label: String,
    /// The authorization parameter (`kc_idp_hint`).
    pub param: String,
    /// Its value (`github`).
    pub value: String,
    /// An icon's URL, shown before the label (decorative).
    pub icon: Option<String>,
}

impl IdentityProvider {
    /// A Keycloak identity provider: `kc_idp_hint={alias}`.
    pub fn keycloak(label: impl Into<String>, alias: impl Into<String>) -> Self {
        Self::new(label, "kc_idp_hint", alias)
    }

    /// Any provider hint: `{param}={value}`.
    pub fn new(
        label: impl Into<String>,
        param: impl Into<String>,
        value: impl Into<String>,
    ) -> Self {
        Self {
            label: label.into(),
            param: param.into(),
            value: value.into(),
            icon: None,
        }
    }

    /// With an icon.
    pub fn with_icon(mut self, url: impl Into<String>) -> Self {
        self.icon = Some(url.into());
        self
    }
}

/// A sign-in card for hosted-login providers: the app's name and logo, a primary "Continue"
/// button, optional buttons for identity providers, and a message in words (with a retry)
/// when the last sign-in came back with an error (`access_denied`, a network failure, …).
///
/// With `silent_sso`, a signed-out visitor is first signed in silently (`prompt=none`, no
/// form) and the card shows only if that fails. The card fills its container up to a readable
/// width (a modal, a sidebar) and grows on wide screens.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{IdentityProvider, SignIn, SignedOut};
///
/// #[component]
/// fn Login() -> impl IntoView {
///     view! {
///         <SignedOut>
///             <SignIn app_name="Acme" logo="/logo.svg"
///                 providers=vec![IdentityProvider::keycloak("GitHub", "github")]
///                 return_to="/dashboard"/>
///         </SignedOut>
///     }
/// }
/// ```
#[component]
pub fn SignIn(
    /// The app's name, in the title ("Sign in to {app_name}").
    #[prop(optional, into)]
    app_name: Option<String>,
    /// The URL of the app's logo.
    #[prop(optional, into)]
    logo: Option<String>,
    /// Buttons for identity providers, below the primary button.
    #[prop(optional)]
    providers: Vec<IdentityProvider>,
    /// `login_hint`: the account to sign in with.
    #[prop(optional, into)]
    login_hint: Option<String>,
    /// `prompt` (`login`, `select_account`, `consent`).
    #[prop(optional, into)]
    prompt: Option<String>,
    /// Where to come back to (same origin); by default the current page.
    #[prop(optional, into)]
    return_to: Option<String>,
    /// Try a silent sign-in first, and show the card only if it fails.
    #[prop(optional)]
    silent_sso: bool,
) -> impl IntoView {
    let auth = use_auth();
    let ctx = expect_auth("<SignIn>");
    let title_id = ctx.next_id("sign-in");
    let busy = RwSignal::new(None::<usize>);
    let own_error = RwSignal::new(None::<Error>);
    // The silent attempt: `true` while under way.
    let checking = RwSignal::new(false);
    let tried_silent = StoredValue::new(false);
    let base = StoredValue::new(SignInOptions {
        return_to,
        prompt,
        login_hint,
        ..SignInOptions::default()
    });
    let providers = StoredValue::new(providers);

    if silent_sso {
        Effect::new(move |_| {
            if auth.status.get() != Status::SignedOut || tried_silent.get_value() {
                return;
            }
            tried_silent.set_value(true);
            let Some(client) = auth.client() else { return };
            checking.set(true);
            leptos::task::spawn_local(async move {
                let outcome = client.sign_in_silently().await;
                if let Err(e) = outcome {
                    if !silent_failure_is_quiet(&e) {
                        let _ = own_error.try_set(Some(e));
                    }
                }
                let _ = checking.try_set(false);
            });
        });
    }

    // `which`: 0 for "Continue", i + 1 for provider i.
    let start = move |which: usize| {
        busy.set(Some(which));
        own_error.set(None);
        let mut o = base.get_value();
        if o.return_to.is_none() {
            o.return_to = web_sys::window().and_then(|w| {
                let l = w.location();
                Some(format!("{}{}", l.pathname().ok()?, l.search().ok()?))
            });
        }
        if let Some(p) = which
            .checked_sub(1)
            .and_then(|i| providers.with_value(|p| p.get(i).cloned()))
        {
            o.extra_params = Some(vec![(p.param, p.value)]);
        }
        let run = auth.sign_in(o);
        leptos::task::spawn_local(async move {
            // On success the page is leaving; only a failure comes back here.
            if let Err(e) = run.await {
                let _ = own_error.try_set(Some(e));
                let _ = busy.try_set(None);
            }
        });
    };

    let title = match &app_name {
        Some(name) => format!("Sign in to {name}"),
        None => "Sign in".to_owned(),
    };
    let header = view! {
        <header class="oidc-session-card-header">
            {logo.map(|src| view! { <img class="oidc-session-logo" src=src alt="" width="48" height="48"/> })}
            <h2 class="oidc-session-title" id=title_id.clone()>{title}</h2>
        </header>
    };

    let body = move || {
        let status = auth.status.get();
        if status == Status::Loading || checking.get() {
            return view! {
                <p class="oidc-session-progress" role="status">
                    <span class="oidc-session-spinner" aria-hidden="true"></span>
                    "Checking your session…"
                </p>
            }
            .into_any();
        }
        if status == Status::SignedIn {
            let name = auth
                .user
                .get()
                .map(|u| u.display_name())
                .unwrap_or_default();
            return view! { <p class="oidc-session-message" role="status">"Signed in as " {name} "."</p> }
                .into_any();
        }
        // The card's own failure first, else the failed callback's or bootstrap's.
        let error = own_error.get().or_else(|| {
            (status == Status::Failed)
                .then(|| auth.error.get())
                .flatten()
        });
        let alert = error.map(|e| {
            let code = e.code().to_owned();
            view! {
                <div class="oidc-session-alert" role="alert">
                    <p class="oidc-session-message">{describe_error(&e)}</p>
                    <p class="oidc-session-code">"Error code: " <code>{code}</code></p>
                </div>
            }
        });
        let label = move |which: usize, text: &'static str| {
            move || {
                if busy.get() == Some(which) {
                    "Redirecting…"
                } else {
                    text
                }
            }
        };
        let provider_buttons = providers.get_value().into_iter().enumerate().map(|(i, p)| {
            let which = i + 1;
            view! {
                <button type="button" class="oidc-session-button oidc-session-provider"
                    disabled=move || busy.get().is_some()
                    aria-busy=move || (busy.get() == Some(which)).then_some("true")
                    on:click=move |_| start(which)>
                    {p.icon.map(|src| view! { <img class="oidc-session-provider-icon" src=src alt="" width="20" height="20"/> })}
                    <span>{move || if busy.get() == Some(which) { "Redirecting…".to_owned() } else { format!("Continue with {}", p.label) }}</span>
                </button>
            }
        }).collect_view();
        let has_providers = providers.with_value(|p| !p.is_empty());
        view! {
            {alert}
            <button type="button" class="oidc-session-button oidc-session-primary"
                disabled=move || busy.get().is_some()
                aria-busy=move || (busy.get() == Some(0)).then_some("true")
                on:click=move |_| start(0)>
                {label(0, "Continue")}
            </button>
            {has_providers.then(|| view! {
                <p class="oidc-session-divider"><span>"or"</span></p>
                <div class="oidc-session-providers">{provider_buttons}</div>
            })}
        }
        .into_any()
    };

    view! {
        <section class="oidc-session oidc-session-card oidc-session-sign-in" aria-labelledby=title_id.clone()>
            {header}
            <div class="oidc-session-card-body">{body}</div>
        </section>
    }
}
