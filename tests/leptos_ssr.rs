//! The components rendered on the server (Leptos `ssr`): the loading state, nothing that needs
//! the session, and no browser API touched (a web-sys call off wasm32 panics, failing the test).
#![cfg(all(feature = "leptos", not(target_arch = "wasm32")))]

use leptos::prelude::*;
use oidc_session::leptos::*;
use oidc_session::{ConfigInput, Mode};

fn browser_config() -> ConfigInput {
    ConfigInput {
        issuer: "https://login.example.com".into(),
        client_id: "app".into(),
        redirect_uri: "https://app.example.com/callback".into(),
        ..Default::default()
    }
}

fn render(config: ConfigInput) -> String {
    let owner = Owner::new();
    owner.set();
    let html = view! {
        <AuthProvider config>
            <AuthLoading><p id="loading">"Checking your session"</p></AuthLoading>
            <AuthLoaded><p>"LOADED"</p></AuthLoaded>
            <AuthFailed/>
            <SignedIn fallback=|| "SIGNED-IN-FALLBACK"><p>"SECRET"</p></SignedIn>
            <SignedOut fallback=|| "SIGNED-OUT-FALLBACK"><p>"SIGNED-OUT"</p></SignedOut>
            <Protect when=Condition::role("admin") fallback=|| "PROTECT-FALLBACK"><p>"ADMIN"</p></Protect>
            <RedirectToSignIn/>
            <UserButton show_name=true/>
            <SignIn app_name="Example" logo="/logo.svg"
                providers=vec![IdentityProvider::keycloak("GitHub", "github")]/>
            <AuthCallback/>
        </AuthProvider>
    }
    .to_html();
    drop(owner);
    html
}

fn assert_loading_only(html: &str) {
    assert!(html.contains("Checking your session"), "{html}");
    for absent in [
        "LOADED",
        "SECRET",
        "SIGNED-IN-FALLBACK",
        "SIGNED-OUT",
        "SIGNED-OUT-FALLBACK",
        "ADMIN",
        "PROTECT-FALLBACK",
        "We could not check your sign-in",
        "oidc-session-user-button",
        "Continue",
    ] {
        assert!(
            !html.contains(absent),
            "{absent:?} rendered on the server: {html}"
        );
    }
    // The sign-in card and the callback page show their progress state.
    assert!(html.contains("Sign in to Example"), "{html}");
    assert!(html.contains("Signing you in"), "{html}");
}

#[test]
fn browser_mode_renders_the_loading_state() {
    assert_loading_only(&render(browser_config()));
}

#[test]
fn server_mode_renders_the_loading_state() {
    assert_loading_only(&render(ConfigInput {
        mode: Mode::Server,
        ..Default::default()
    }));
}

#[test]
fn an_invalid_configuration_is_not_reported_on_the_server() {
    // The server cannot know the page's origin: checking waits for the browser, where the
    // first frame is this same loading state.
    assert_loading_only(&render(ConfigInput::default()));
}

#[test]
fn the_same_tree_renders_the_same_html_twice() {
    // Element ids are numbered per provider: a second render (the client's first frame, or
    // the next request) gives the same markup.
    assert_eq!(render(browser_config()), render(browser_config()));
}

#[test]
#[should_panic(expected = "outside an <AuthProvider>")]
fn hooks_outside_the_provider_name_it() {
    let owner = Owner::new();
    owner.set();
    let _ = use_auth();
}

#[test]
fn the_stylesheet_defines_the_documented_properties() {
    for p in ["primary", "bg", "surface", "text", "radius", "font"] {
        assert!(
            STYLESHEET.contains(&format!("var(--oidc-session-{p}")),
            "--oidc-session-{p} is not read"
        );
    }
    assert!(STYLESHEET.contains("prefers-color-scheme: dark"));
}
