//! The app: a header with the account button, three routes, and the session's loading and
//! failed states above them.

use leptos::prelude::*;
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::hooks::use_location;
use leptos_router::path;
use oidc_session::leptos::*;
use oidc_session::{ConfigInput, Mode, StorageKind};
use wasm_bindgen::JsValue;

/// The client id `op/server.mjs` registers for this app (redirect URI `{origin}/callback`).
const CLIENT_ID: &str = "leptos-demo";
/// Where `?op=down` points the provider (browser mode) or the backend (server mode): a loopback
/// port nothing listens on (and which the page's Content-Security-Policy does not allow
/// either), so every request there fails as a network error.
const UNREACHABLE: &str = "http://127.0.0.1:9";

/// The page's `window.OIDC_DEMO` (from `/config.js`), as text fields.
struct PageConfig(JsValue);

impl PageConfig {
    fn read() -> Self {
        let value = web_sys::window()
            .and_then(|w| js_sys::Reflect::get(&w, &JsValue::from_str("OIDC_DEMO")).ok())
            .unwrap_or(JsValue::UNDEFINED);
        Self(value)
    }

    fn text(&self, key: &str) -> Option<String> {
        if !self.0.is_object() {
            return None;
        }
        js_sys::Reflect::get(&self.0, &JsValue::from_str(key))
            .ok()?
            .as_string()
            .filter(|s| !s.is_empty())
    }
}

fn origin() -> String {
    web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default()
}

fn query(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// The session's configuration: server mode when `/config.js` says so (bff/ writes
/// it), else browser mode against the issuer it names.
fn session_config(page: &PageConfig) -> ConfigInput {
    let down = query("op").as_deref() == Some("down");
    if page.text("mode").as_deref() == Some("server") {
        return ConfigInput {
            mode: Mode::Server,
            server_origin: down.then(|| UNREACHABLE.to_owned()),
            server_base_path: page.text("serverBasePath"),
            csrf_header_name: page.text("csrfHeader"),
            csrf_header_value: page.text("csrfValue"),
            ..ConfigInput::default()
        };
    }
    let issuer = if down {
        UNREACHABLE.to_owned()
    } else {
        page.text("issuer")
            .unwrap_or_else(|| "http://127.0.0.1:9090".into())
    };
    let origin = origin();
    ConfigInput {
        issuer,
        client_id: CLIENT_ID.into(),
        redirect_uri: format!("{origin}/callback"),
        post_logout_redirect_uri: Some(format!("{origin}/")),
        scopes: Some(
            ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
        ),
        // Survives reloads in this tab.
        storage: Some(StorageKind::Session),
        ..ConfigInput::default()
    }
}

#[component]
pub fn App() -> impl IntoView {
    let page = PageConfig::read();
    let config = session_config(&page);
    let server = config.mode == Mode::Server;
    // The provider has no account page; a real app links its provider's (Keycloak:
    // `{issuer}/account`).
    let issuer = page.text("issuer").unwrap_or_else(|| config.issuer.clone());
    let manage_account_url = format!("{}/account", issuer.trim_end_matches('/'));
    let mode = if server {
        "server mode"
    } else {
        "browser mode"
    };
    view! {
        <AuthStyles/>
        <Router>
            <AuthProvider config>
                <header class="app-header">
                    <A href="/" attr:class="app-brand">
                        <img src="/logo.svg" alt="" width="28" height="28"/>
                        <span>"Leptos demo"</span>
                    </A>
                    <nav class="app-nav" aria-label="Main">
                        <A href="/">"Home"</A>
                        <A href="/protected">"Protected"</A>
                    </nav>
                    <span class="app-mode" id="mode" data-mode=if server { "server" } else { "browser" }>
                        {mode}
                    </span>
                    <div class="app-account">
                        <UserButton show_name=true manage_account_url
                            items=vec![MenuItem::link("Protected page", "/protected")]/>
                    </div>
                </header>
                <main class="app-main">
                    <SessionStates/>
                    <Routes fallback=|| view! { <h1>"Not found"</h1> }>
                        <Route path=path!("/") view=Home/>
                        <Route path=path!("/protected") view=Protected/>
                        <Route path=path!("/callback") view=|| view! { <AuthCallback return_to="/"/> }/>
                    </Routes>
                </main>
            </AuthProvider>
        </Router>
    }
}

/// The session's loading and failed states, above every page but the callback's: there
/// `AuthCallback` shows its own progress and error (with "Sign in again"), and both at once
/// would say the same thing twice.
#[component]
fn SessionStates() -> impl IntoView {
    let pathname = use_location().pathname;
    view! {
        <Show when=move || pathname.with(|p| p != "/callback")>
            <AuthLoading>
                <p class="app-loading" role="status">"Checking your session…"</p>
            </AuthLoading>
            <AuthFailed/>
        </Show>
    }
}

/// The public page: the sign-in card when signed out, a greeting when signed in.
#[component]
fn Home() -> impl IntoView {
    let user = use_user();
    let name = move || user.get().map(|u| u.display_name()).unwrap_or_default();
    view! {
        <SignedOut>
            <SignIn app_name="Leptos demo" logo="/logo.svg"
                providers=vec![IdentityProvider::keycloak("Example Corp", "example-corp")]/>
        </SignedOut>
        <SignedIn>
            <section class="app-panel" id="home-signed-in">
                <h1>"Welcome, " {name}</h1>
                <p>"You are signed in. The " <A href="/protected">"protected page"</A> " needs a session."</p>
            </section>
        </SignedIn>
    }
}

/// Behind `SignedIn`: signed-out visitors go to the provider and come back here.
#[component]
fn Protected() -> impl IntoView {
    let user = use_user();
    let email = move || user.get().and_then(|u| u.email).unwrap_or_default();
    view! {
        <SignedIn fallback=|| view! { <RedirectToSignIn/> }>
            <section class="app-panel" id="protected">
                <h1>"Protected page"</h1>
                <p>"Only signed-in users see this. Signed in as " <strong id="protected-email">{email}</strong> "."</p>
                <Protect when=Condition::role("admin")
                    fallback=|| view! { <p class="app-note" id="not-admin">"The admin panel is for the admin role."</p> }>
                    <div class="app-admin" id="admin-panel" role="region" aria-label="Admin panel">
                        <h2>"Admin panel"</h2>
                        <p>"Shown to users with the admin role."</p>
                    </div>
                </Protect>
            </section>
        </SignedIn>
    }
}
