//! Content gated on the session: `SignedIn`, `SignedOut`, `Protect`, and the loading states.

use super::context::{expect_auth, use_auth};
use super::messages::describe_error;
use crate::{Status, User};
use leptos::prelude::*;
use std::sync::Arc;

/// Renders `children` when signed in, `fallback` when signed out or failed, and nothing while
/// loading (so nothing flashes before the session is known).
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{RedirectToSignIn, SignedIn};
///
/// #[component]
/// fn Account() -> impl IntoView {
///     view! {
///         <SignedIn fallback=|| view! { <RedirectToSignIn/> }>
///             <p>"Your account"</p>
///         </SignedIn>
///     }
/// }
/// ```
#[component]
pub fn SignedIn(
    /// Shown when signed in.
    children: ChildrenFn,
    /// Shown when signed out or failed. By default nothing.
    #[prop(optional, into)]
    fallback: ViewFn,
) -> impl IntoView {
    let status = expect_auth("<SignedIn>").status();
    move || match status.get() {
        Status::Loading => ().into_any(),
        Status::SignedIn => children().into_any(),
        Status::SignedOut | Status::Failed => fallback.run(),
    }
}

/// Renders `children` when signed out, `fallback` when signed in, and nothing while loading
/// or after a failure ([`AuthFailed`] says what failed). On the redirect URI it stays empty
/// until the callback is finished: a sign-in button inside never starts a second sign-in.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{SignIn, SignedOut};
///
/// #[component]
/// fn Landing() -> impl IntoView {
///     view! { <SignedOut><SignIn app_name="Example"/></SignedOut> }
/// }
/// ```
#[component]
pub fn SignedOut(
    /// Shown when signed out.
    children: ChildrenFn,
    /// Shown when signed in. By default nothing.
    #[prop(optional, into)]
    fallback: ViewFn,
) -> impl IntoView {
    let status = expect_auth("<SignedOut>").status();
    move || match status.get() {
        Status::Loading | Status::Failed => ().into_any(),
        Status::SignedOut => children().into_any(),
        Status::SignedIn => fallback.run(),
    }
}

/// What [`Protect`] requires.
#[derive(Clone)]
#[non_exhaustive]
pub enum Condition {
    /// A session exists.
    SignedIn,
    /// No session exists (and loading did not fail).
    SignedOut,
    /// Signed in with this role ([`User::has_role`]).
    Role(String),
    /// Signed in with this permission ([`User::has_permission`]).
    Permission(String),
    /// Signed in, and the function accepts the user.
    User(Arc<dyn Fn(&User) -> bool + Send + Sync>),
}

impl Condition {
    /// [`Condition::Role`].
    pub fn role(role: impl Into<String>) -> Self {
        Self::Role(role.into())
    }

    /// [`Condition::Permission`].
    pub fn permission(permission: impl Into<String>) -> Self {
        Self::Permission(permission.into())
    }

    /// [`Condition::User`].
    pub fn user(check: impl Fn(&User) -> bool + Send + Sync + 'static) -> Self {
        Self::User(Arc::new(check))
    }

    /// `None` while loading: nothing is decided yet.
    pub(crate) fn holds(&self, status: Status, user: Option<&User>) -> Option<bool> {
        if status == Status::Loading {
            return None;
        }
        let signed_in = status == Status::SignedIn;
        Some(match (self, user) {
            (Self::SignedIn, _) => signed_in,
            (Self::SignedOut, _) => status == Status::SignedOut,
            (Self::Role(r), Some(u)) => signed_in && u.has_role(r),
            (Self::Permission(p), Some(u)) => signed_in && u.has_permission(p),
            (Self::User(check), Some(u)) => signed_in && check(u),
            (_, None) => false,
        })
    }
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SignedIn => f.write_str("SignedIn"),
            Self::SignedOut => f.write_str("SignedOut"),
            Self::Role(r) => f.debug_tuple("Role").field(r).finish(),
            Self::Permission(p) => f.debug_tuple("Permission").field(p).finish(),
            Self::User(_) => f.write_str("User(..)"),
        }
    }
}

/// Renders `children` when `when` holds and `fallback` when it does not; nothing while loading
/// (it fails closed). `Show` for the session, with roles and permissions (Clerk's `Protect`).
///
/// A gate hides content; it is not access control. The backend must check the same role on
/// every request.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{Condition, Protect};
///
/// #[component]
/// fn AdminLink() -> impl IntoView {
///     view! {
///         <Protect when=Condition::role("admin") fallback=|| "Admins only">
///             <a href="/admin">"Administration"</a>
///         </Protect>
///     }
/// }
/// ```
#[component]
pub fn Protect(
    /// The condition: signed in, signed out, a role, a permission or a check of the user.
    when: Condition,
    /// Shown when the condition holds.
    children: ChildrenFn,
    /// Shown when it does not (once the session is known). By default nothing.
    #[prop(optional, into)]
    fallback: ViewFn,
) -> impl IntoView {
    let view = expect_auth("<Protect>").view;
    let decision = Memo::new(move |_| view.with(|v| when.holds(v.status, v.user.as_ref())));
    move || match decision.get() {
        None => ().into_any(),
        Some(true) => children().into_any(),
        Some(false) => fallback.run(),
    }
}

/// Renders `children` while the session is loading (the bootstrap, a callback, a retry).
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::AuthLoading;
///
/// #[component]
/// fn Spinner() -> impl IntoView {
///     view! { <AuthLoading><p role="status">"Checking your session…"</p></AuthLoading> }
/// }
/// ```
#[component]
pub fn AuthLoading(
    /// Shown while loading.
    children: ChildrenFn,
) -> impl IntoView {
    let status = expect_auth("<AuthLoading>").status();
    move || (status.get() == Status::Loading).then(|| children())
}

/// Renders `children` once the session is known: signed in or signed out (a failure is
/// [`AuthFailed`]'s).
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::AuthLoaded;
///
/// #[component]
/// fn Main() -> impl IntoView {
///     view! { <AuthLoaded><main>"…"</main></AuthLoaded> }
/// }
/// ```
#[component]
pub fn AuthLoaded(
    /// Shown when signed in or signed out.
    children: ChildrenFn,
) -> impl IntoView {
    let status = expect_auth("<AuthLoaded>").status();
    move || matches!(status.get(), Status::SignedIn | Status::SignedOut).then(|| children())
}

/// When loading the session failed (the provider or backend unreachable, a refused callback, a
/// configuration error): the error in words and a "Try again" button that runs the bootstrap
/// again, so a failure never leaves a blank page. `children`, when given, replace the default
/// panel.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::AuthFailed;
///
/// #[component]
/// fn Page() -> impl IntoView {
///     view! { <AuthFailed/> }
/// }
/// ```
#[component]
pub fn AuthFailed(
    /// Shown instead of the default panel.
    #[prop(optional)]
    children: Option<ChildrenFn>,
) -> impl IntoView {
    let auth = use_auth();
    let ctx = expect_auth("<AuthFailed>");
    let title_id = ctx.next_id("failed");
    let retrying = RwSignal::new(false);
    let retry = move |_| {
        retrying.set(true);
        let run = auth.retry();
        leptos::task::spawn_local(async move {
            run.await;
            let _ = retrying.try_set(false);
        });
    };
    move || {
        if auth.status.get() != Status::Failed {
            return ().into_any();
        }
        if let Some(children) = &children {
            return children().into_any();
        }
        let error = auth.error.get();
        let text = error
            .as_ref()
            .map_or("Something went wrong.", describe_error);
        let code = error.map(|e| e.code().to_owned());
        view! {
            <section class="oidc-session oidc-session-card oidc-session-failed" role="alert"
                aria-labelledby=title_id.clone()>
                <h2 class="oidc-session-title" id=title_id.clone()>"We could not check your sign-in"</h2>
                <p class="oidc-session-message">{text}</p>
                {code.map(|c| view! { <p class="oidc-session-code">"Error code: " <code>{c}</code></p> })}
                <button type="button" class="oidc-session-button oidc-session-primary"
                    on:click=retry disabled=move || retrying.get()>
                    {move || if retrying.get() { "Trying again…" } else { "Try again" }}
                </button>
            </section>
        }
        .into_any()
    }
}
