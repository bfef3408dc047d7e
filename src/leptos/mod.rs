//! Leptos 0.8 components and hooks (the `leptos` feature).
//!
//! [`AuthProvider`] runs one [`Client`](crate::Client) for the tree below it; the hooks read the
//! session as signals, and the components gate content on it and offer the two pieces of UI
//! every app needs: a sign-in card ([`SignIn`]) and an account button ([`UserButton`]).
//!
//! | status | [`AuthLoading`] | [`AuthLoaded`] | [`AuthFailed`] | [`SignedIn`] | [`SignedOut`] | [`Protect`] |
//! |---|---|---|---|---|---|---|
//! | loading | children | – | – | – | – | – |
//! | signed in | – | children | – | children | fallback | children if `when` holds, else fallback |
//! | signed out | – | children | – | fallback | children | fallback (children for `Condition::SignedOut`) |
//! | failed | – | – | the error and a retry | fallback | – | fallback |
//!
//! Nothing that depends on the session renders while it is loading: content behind
//! [`SignedIn`] or [`Protect`] fails closed, and a callback page never shows [`SignedOut`]
//! content (the client publishes no `SignedOut` before a callback's outcome).
//!
//! ```
//! use leptos::prelude::*;
//! use oidc_session::leptos::*;
//! use oidc_session::ConfigInput;
//!
//! #[component]
//! fn App() -> impl IntoView {
//!     let config = ConfigInput {
//!         issuer: "https://login.example.com".into(),
//!         client_id: "my-app".into(),
//!         redirect_uri: "https://app.example.com/callback".into(),
//!         ..Default::default()
//!     };
//!     view! {
//!         <AuthStyles/>
//!         <AuthProvider config>
//!             <header><UserButton/></header>
//!             <AuthLoading>"Checking your session…"</AuthLoading>
//!             <AuthFailed/>
//!             <SignedOut><SignIn app_name="Example"/></SignedOut>
//!             <SignedIn>"Welcome back."</SignedIn>
//!         </AuthProvider>
//!     }
//! }
//! ```
//!
//! ## Server-side rendering
//!
//! Off `wasm32` (the server half of an SSR app) the provider holds no client: every component
//! renders the loading state and touches no browser API. In the browser the first frame is the
//! same loading state, so hydration matches; the bootstrap starts in an effect after it.
//!
//! ## Styling
//!
//! Components carry stable class names (`oidc-session-*`) and read the custom properties
//! `--oidc-session-primary`, `-bg`, `-surface`, `-text`, `-radius` and `-font`; the default
//! stylesheet ([`STYLESHEET`], or [`AuthStyles`] to inline it) follows
//! `prefers-color-scheme`.

mod context;
mod gates;
mod messages;
mod navigation;
mod sign_in;
mod user_button;

#[cfg(all(test, target_arch = "wasm32"))]
mod tests;

pub use context::{
    use_auth, use_auth_with_options, use_session, use_user, AuthProvider, UseAuthOptions,
    UseAuthReturn,
};
pub use gates::{AuthFailed, AuthLoaded, AuthLoading, Condition, Protect, SignedIn, SignedOut};
pub use messages::describe_error;
pub use navigation::{AuthCallback, RedirectToSignIn};
pub use sign_in::{IdentityProvider, SignIn};
pub use user_button::{MenuItem, UserButton};

use leptos::prelude::*;

/// The default stylesheet of the components: serve it, or inline it with [`AuthStyles`].
pub const STYLESHEET: &str = include_str!("style.css");

/// Inlines [`STYLESHEET`] in a `<style>` element. Under a Content-Security-Policy without
/// `style-src 'unsafe-inline'`, serve the stylesheet as a file instead.
#[component]
pub fn AuthStyles() -> impl IntoView {
    view! { <style>{STYLESHEET}</style> }
}
