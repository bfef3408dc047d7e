//! The components in headless Chromium: mounted with `mount_to`, driven through every status
//! (a context whose view the test sets, or a real provider), asserted on the DOM.

use super::context::AuthContext;
use super::*;
use crate::core::error::ErrorKind;
use crate::{ConfigInput, Mode, Status, User, View};
use leptos::mount::mount_to;
use leptos::prelude::*;
use leptos::task::tick;
use leptos::wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

fn host() -> web_sys::HtmlElement {
    let el = document().create_element("section").unwrap();
    document().body().unwrap().append_child(&el).unwrap();
    el.unchecked_into()
}

fn text(el: &web_sys::HtmlElement) -> String {
    el.text_content().unwrap_or_default()
}

fn alice(extra: &str) -> User {
    User::from_id_token(
        &format!(r#"{{"sub":"alice","name":"Alice Liddell","email":"alice@example.com","tenant":"Wonderland"{extra}}}"#),
        None,
    )
    .unwrap()
}

fn view_of(status: Status, user: Option<User>, error: Option<crate::Error>) -> View {
    View {
        status,
        user,
        error,
    }
}

/// Mounts `app` under a context whose view the returned signal sets.
fn mount_fixed<V: IntoView + 'static>(
    app: impl FnOnce() -> V + 'static,
) -> (web_sys::HtmlElement, RwSignal<View>, Box<dyn std::any::Any>) {
    let el = host();
    let view = RwSignal::new(view_of(Status::Loading, None, None));
    let handle = mount_to(el.clone(), move || {
        provide_context(AuthContext::fixed(view, Mode::Browser));
        app()
    });
    (el, view, Box::new(handle))
}

#[wasm_bindgen_test]
async fn gates_follow_every_status() {
    let (el, view, _h) = mount_fixed(|| {
        view! {
            <AuthLoading>"[loading]"</AuthLoading>
            <AuthLoaded>"[loaded]"</AuthLoaded>
            <AuthFailed>"[failed]"</AuthFailed>
            <SignedIn fallback=|| "[in-fallback]">"[in]"</SignedIn>
            <SignedOut fallback=|| "[out-fallback]">"[out]"</SignedOut>
            <Protect when=Condition::role("admin") fallback=|| "[no-admin]">"[admin]"</Protect>
            <Protect when=Condition::permission("orders:read")>"[orders]"</Protect>
            <Protect when=Condition::SignedOut>"[p-out]"</Protect>
        }
    });
    tick().await;
    assert_eq!(text(&el), "[loading]", "nothing decided while loading");

    view.set(view_of(Status::SignedIn, Some(alice("")), None));
    tick().await;
    assert_eq!(text(&el), "[loaded][in][out-fallback][no-admin]");

    view.set(view_of(
        Status::SignedIn,
        Some(alice(r#","roles":["admin"],"permissions":"orders:read""#)),
        None,
    ));
    tick().await;
    assert_eq!(text(&el), "[loaded][in][out-fallback][admin][orders]");

    view.set(view_of(Status::SignedOut, None, None));
    tick().await;
    assert_eq!(text(&el), "[loaded][in-fallback][out][no-admin][p-out]");

    view.set(view_of(
        Status::Failed,
        None,
        Some(ErrorKind::Network { detail: "x".into() }.into()),
    ));
    tick().await;
    assert_eq!(text(&el), "[failed][in-fallback][no-admin]", "fails closed");
}

#[wasm_bindgen_test]
async fn auth_failed_says_what_failed_and_offers_a_retry() {
    let (el, view, _h) = mount_fixed(|| view! { <AuthFailed/> });
    tick().await;
    assert_eq!(text(&el), "");
    view.set(view_of(
        Status::Failed,
        None,
        Some(
            ErrorKind::Network {
                detail: "offline".into(),
            }
            .into(),
        ),
    ));
    tick().await;
    let panel = el
        .query_selector("[role=alert]")
        .unwrap()
        .expect("an alert");
    let t = panel.text_content().unwrap();
    assert!(t.contains("We could not reach the sign-in service"), "{t}");
    assert!(t.contains("network"), "the code is shown: {t}");
    assert!(
        !t.contains("offline"),
        "the platform detail is for developers: {t}"
    );
    let button = el
        .query_selector("button")
        .unwrap()
        .expect("a retry button");
    assert_eq!(button.text_content().unwrap(), "Try again");
    view.set(view_of(Status::SignedOut, None, None));
    tick().await;
    assert_eq!(text(&el), "");
}

#[wasm_bindgen_test]
async fn the_sign_in_card_through_every_status() {
    let (el, view, _h) = mount_fixed(|| {
        view! {
            <SignIn app_name="Acme" logo="/logo.svg"
                providers=vec![IdentityProvider::keycloak("GitHub", "github")]/>
        }
    });
    tick().await;
    assert!(text(&el).contains("Sign in to Acme"));
    assert!(text(&el).contains("Checking your session"), "{}", text(&el));
    assert!(
        el.query_selector("button").unwrap().is_none(),
        "no button while loading"
    );

    view.set(view_of(Status::SignedOut, None, None));
    tick().await;
    let buttons = el.query_selector_all("button").unwrap();
    assert_eq!(buttons.length(), 2);
    assert_eq!(buttons.item(0).unwrap().text_content().unwrap(), "Continue");
    assert_eq!(
        buttons.item(1).unwrap().text_content().unwrap(),
        "Continue with GitHub"
    );
    assert!(el.query_selector("[role=alert]").unwrap().is_none());
    let section = el.query_selector("section").unwrap().unwrap();
    let title = el.query_selector("h2").unwrap().unwrap();
    assert_eq!(section.get_attribute("aria-labelledby"), Some(title.id()));

    let denied = ErrorKind::Provider {
        error: "access_denied".into(),
        description: Some("User cancelled".into()),
    };
    view.set(view_of(Status::Failed, None, Some(denied.into())));
    tick().await;
    let alert = el
        .query_selector("[role=alert]")
        .unwrap()
        .expect("the callback's error");
    let t = alert.text_content().unwrap();
    assert!(
        t.contains("Sign-in was cancelled, or access was denied"),
        "{t}"
    );
    assert!(t.contains("access_denied"), "{t}");
    assert_eq!(
        el.query_selector_all("button").unwrap().length(),
        2,
        "retry by continuing"
    );

    view.set(view_of(Status::SignedIn, Some(alice("")), None));
    tick().await;
    assert!(
        text(&el).contains("Signed in as Alice Liddell."),
        "{}",
        text(&el)
    );
}

fn key(target: &web_sys::Element, key: &str) {
    let init = web_sys::KeyboardEventInit::new();
    init.set_key(key);
    init.set_bubbles(true);
    init.set_cancelable(true);
    let e = web_sys::KeyboardEvent::new_with_keyboard_event_init_dict("keydown", &init).unwrap();
    target.dispatch_event(&e).unwrap();
}

fn active() -> Option<web_sys::Element> {
    document().active_element()
}

async fn settle() {
    // The menu focuses an item after its own tick.
    tick().await;
    tick().await;
}

#[wasm_bindgen_test]
async fn the_user_button_is_a_menu_button() {
    let (el, view, _h) = mount_fixed(|| {
        view! {
            <UserButton show_name=true manage_account_url="https://op.example/account"
                items=vec![MenuItem::link("Settings", "/settings")]/>
        }
    });
    tick().await;
    assert_eq!(text(&el), "", "nothing unless signed in");
    view.set(view_of(Status::SignedIn, Some(alice("")), None));
    tick().await;

    let button: web_sys::HtmlElement = el
        .query_selector("button[aria-haspopup=menu]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    let popup = el.query_selector(".oidc-session-popup").unwrap().unwrap();
    let menu = el.query_selector("[role=menu]").unwrap().unwrap();
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(button.get_attribute("aria-controls"), Some(menu.id()));
    assert!(popup.has_attribute("hidden"));
    // The name shown is the accessible name (label in name); the initials are decoration.
    assert_eq!(button.get_attribute("aria-label"), None);
    assert_eq!(text(&button), "Alice Liddell");
    assert!(
        button
            .query_selector("[aria-hidden=true] [data-initials=AL]")
            .unwrap()
            .is_some(),
        "initials without a picture"
    );
    let labelled = menu.get_attribute("aria-labelledby").unwrap();
    let identity = document()
        .get_element_by_id(&labelled)
        .unwrap()
        .text_content()
        .unwrap();
    assert!(
        identity.contains("alice@example.com") && identity.contains("Wonderland"),
        "{identity}"
    );

    let items = menu.query_selector_all("[role=menuitem]").unwrap();
    let item = |i: u32| items.item(i).unwrap().unchecked_into::<web_sys::Element>();
    assert_eq!(items.length(), 3);
    assert_eq!(item(0).text_content().unwrap(), "Manage account");
    assert_eq!(item(1).text_content().unwrap(), "Settings");
    assert_eq!(item(2).text_content().unwrap(), "Sign out");
    for i in 0..3 {
        assert_eq!(item(i).get_attribute("tabindex").as_deref(), Some("-1"));
    }

    button.focus().unwrap();
    key(&button, "ArrowDown");
    settle().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert!(!popup.has_attribute("hidden"));
    assert_eq!(active(), Some(item(0)), "Down opens on the first item");
    key(&item(0), "ArrowDown");
    assert_eq!(active(), Some(item(1)));
    key(&item(1), "ArrowDown");
    key(&item(2), "ArrowDown");
    assert_eq!(active(), Some(item(0)), "Down wraps");
    key(&item(0), "ArrowUp");
    assert_eq!(active(), Some(item(2)), "Up wraps");
    key(&item(2), "Home");
    assert_eq!(active(), Some(item(0)));
    key(&item(0), "End");
    assert_eq!(active(), Some(item(2)));
    key(&item(2), "Escape");
    tick().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert!(popup.has_attribute("hidden"));
    assert_eq!(
        active(),
        Some(button.clone().unchecked_into()),
        "Escape returns focus"
    );

    key(&button, "ArrowUp");
    settle().await;
    assert_eq!(active(), Some(item(2)), "Up opens on the last item");
    // Focus leaving for nowhere (a click on the page's background) closes and comes back.
    item(2)
        .unchecked_into::<web_sys::HtmlElement>()
        .blur()
        .unwrap();
    tick().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(active(), Some(button.clone().unchecked_into()));

    button.click();
    settle().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("true")
    );
    assert_eq!(active(), Some(item(0)), "a click opens on the first item");
    // Focus moving to another control outside closes the menu and stays there.
    let outside: web_sys::HtmlElement = document()
        .create_element("button")
        .unwrap()
        .unchecked_into();
    document().body().unwrap().append_child(&outside).unwrap();
    outside.focus().unwrap();
    tick().await;
    assert_eq!(
        button.get_attribute("aria-expanded").as_deref(),
        Some("false")
    );
    assert_eq!(active(), Some(outside.clone().unchecked_into()));
    outside.remove();
}

#[wasm_bindgen_test]
async fn the_avatar_falls_back_to_initials_when_the_picture_fails() {
    let (el, view, _h) = mount_fixed(|| view! { <UserButton/> });
    view.set(view_of(
        Status::SignedIn,
        Some(alice(r#","picture":"/no-such-picture.png""#)),
        None,
    ));
    tick().await;
    assert!(el
        .query_selector(".oidc-session-avatar-button img")
        .unwrap()
        .is_some());
    // The image 404s on the test server.
    for _ in 0..50 {
        if el
            .query_selector(".oidc-session-avatar-button img")
            .unwrap()
            .is_none()
        {
            break;
        }
        crate::browser::timer::sleep(20).await;
        tick().await;
    }
    assert!(el
        .query_selector(".oidc-session-avatar-button img")
        .unwrap()
        .is_none());
    assert!(el
        .query_selector(".oidc-session-avatar-button [data-initials=AL]")
        .unwrap()
        .is_some());
    // Without the name beside the avatar, a label names the user and the menu.
    let button = el.query_selector("button").unwrap().unwrap();
    assert_eq!(
        button.get_attribute("aria-label").as_deref(),
        Some("Account menu for Alice Liddell")
    );
}

#[wasm_bindgen_test]
fn initials_and_colours_come_from_the_user() {
    let u = |claims: &str| User::from_id_token(claims, None).unwrap();
    assert_eq!(
        user_button::initials(&u(r#"{"sub":"1","name":"ada lovelace"}"#)),
        "AL"
    );
    assert_eq!(
        user_button::initials(&u(r#"{"sub":"1","name":"Plato"}"#)),
        "P"
    );
    assert_eq!(
        user_button::initials(&u(r#"{"sub":"1","email":"grace.hopper@navy.mil"}"#)),
        "G"
    );
    let a = user_button::hue(&u(r#"{"sub":"alice"}"#));
    assert_eq!(
        a,
        user_button::hue(&u(r#"{"sub":"alice","name":"other"}"#)),
        "by subject"
    );
    assert_ne!(a, user_button::hue(&u(r#"{"sub":"bob"}"#)));
    assert!(a < 360);
}

fn page_url() -> (String, String) {
    let l = web_sys::window().unwrap().location();
    (l.origin().unwrap(), l.pathname().unwrap())
}

fn set_url(url: &str) {
    let h = web_sys::window().unwrap().history().unwrap();
    h.replace_state_with_url(&leptos::wasm_bindgen::JsValue::NULL, "", Some(url))
        .unwrap();
}

/// A real provider on a page that is the redirect URI of a callback whose `state` this
/// browser never issued: the outcome is `Failed`, and `SignedOut` content never renders.
#[wasm_bindgen_test]
async fn on_a_callback_page_signed_out_content_never_renders() {
    let (origin, path) = page_url();
    set_url(&format!("{path}?code=c0de&state=never-issued"));
    let el = host();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let config = ConfigInput {
        issuer: "http://127.0.0.1:9".into(),
        client_id: "app".into(),
        redirect_uri: format!("{origin}{path}"),
        ..Default::default()
    };
    let handle = mount_to(el.clone(), move || {
        view! {
            <AuthProvider config>
                {
                    let session = use_session();
                    Effect::new(move |_| record.lock().unwrap().push(session.get().status));
                }
                <SignedOut>"[out]"</SignedOut>
                <AuthFailed/>
            </AuthProvider>
        }
    });
    for _ in 0..100 {
        assert!(
            !text(&el).contains("[out]"),
            "SignedOut rendered on a callback page"
        );
        if seen.lock().unwrap().last() == Some(&Status::Failed) {
            break;
        }
        crate::browser::timer::sleep(20).await;
    }
    tick().await;
    assert!(
        !seen.lock().unwrap().contains(&Status::SignedOut),
        "{:?}",
        seen.lock().unwrap()
    );
    assert_eq!(
        seen.lock().unwrap().last(),
        Some(&Status::Failed),
        "{:?}",
        seen.lock().unwrap()
    );
    assert!(
        text(&el).contains("This sign-in was not started in this browser"),
        "{}",
        text(&el)
    );
    drop(handle);
    set_url(&path);
}

/// A real provider on a plain page with nothing stored: `SignedOut`, and its content renders.
#[wasm_bindgen_test]
async fn a_real_provider_bootstraps_once_after_the_first_frame() {
    let (origin, path) = page_url();
    let el = host();
    let config = ConfigInput {
        issuer: "http://127.0.0.1:9".into(),
        client_id: "leptos-test-fresh".into(),
        redirect_uri: format!("{origin}/callback"),
        ..Default::default()
    };
    let _h = mount_to(el.clone(), move || {
        view! {
            <AuthProvider config>
                <AuthLoading>"[loading]"</AuthLoading>
                <SignedOut>"[out]"</SignedOut>
            </AuthProvider>
        }
    });
    assert_eq!(
        text(&el),
        "[loading]",
        "the first frame is the loading state"
    );
    for _ in 0..100 {
        if text(&el) == "[out]" {
            break;
        }
        crate::browser::timer::sleep(20).await;
    }
    assert_eq!(text(&el), "[out]");
    let _ = path;
}

#[wasm_bindgen_test]
async fn a_configuration_error_is_a_failed_state_after_the_first_frame() {
    let el = host();
    let _h = mount_to(el.clone(), || {
        view! {
            <AuthProvider config=ConfigInput::default()>
                <AuthLoading>"[loading]"</AuthLoading>
                <AuthFailed/>
            </AuthProvider>
        }
    });
    assert_eq!(text(&el), "[loading]");
    tick().await;
    assert!(
        text(&el).contains("Sign-in is not set up correctly"),
        "{}",
        text(&el)
    );
    assert!(text(&el).contains("config_invalid"), "{}", text(&el));
}

#[wasm_bindgen_test]
async fn redirect_to_sign_in_waits_for_signed_out_and_reports_a_failed_start() {
    let (el, view, _h) = mount_fixed(|| view! { <RedirectToSignIn/> });
    tick().await;
    assert_eq!(
        text(&el),
        "",
        "nothing while loading, and no sign-in started"
    );
    // The fixed context has no client: the sign-in cannot start, and says so.
    view.set(view_of(Status::SignedOut, None, None));
    tick().await;
    tick().await;
    let alert = el
        .query_selector("[role=alert]")
        .unwrap()
        .expect("the failure");
    assert!(alert.text_content().unwrap().contains("not_signed_in"));
    assert!(el.query_selector("button").unwrap().is_some(), "a retry");
}

#[wasm_bindgen_test]
async fn auth_callback_shows_progress_then_moves_on_and_tells_the_router() {
    let (_, path) = page_url();
    set_url("/callback?code=x&state=y");
    let pops = std::rc::Rc::new(std::cell::Cell::new(0));
    let count = pops.clone();
    let listener =
        leptos::wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || count.set(count.get() + 1));
    let w = web_sys::window().unwrap();
    w.add_event_listener_with_callback("popstate", listener.as_ref().unchecked_ref())
        .unwrap();

    let (el, view, _h) = mount_fixed(|| view! { <AuthCallback return_to="/home"/> });
    tick().await;
    assert!(text(&el).contains("Signing you in"), "{}", text(&el));

    let denied = ErrorKind::Provider {
        error: "access_denied".into(),
        description: None,
    };
    view.set(view_of(Status::Failed, None, Some(denied.into())));
    tick().await;
    assert!(text(&el).contains("Sign-in was cancelled"), "{}", text(&el));
    assert!(text(&el).contains("Try again"));
    assert_eq!(pops.get(), 0);

    // The client replaced the callback URL with the path only (no return_to in the sign-in).
    set_url("/callback");
    view.set(view_of(Status::SignedIn, Some(alice("")), None));
    tick().await;
    assert!(text(&el).contains("Signed in. Continuing"), "{}", text(&el));
    assert_eq!(
        w.location().pathname().unwrap(),
        "/home",
        "the component's return_to"
    );
    assert_eq!(pops.get(), 1, "popstate tells a router");

    w.remove_event_listener_with_callback("popstate", listener.as_ref().unchecked_ref())
        .unwrap();
    set_url(&path);
}

/// `use_auth().fetch` in server mode against a fake backend: the CSRF header, and after a 401
/// one refresh and the request once more.
#[wasm_bindgen_test]
async fn use_auth_fetch_sends_the_csrf_header_and_refreshes_once_on_a_401() {
    use js_sys::Reflect;
    use leptos::wasm_bindgen::JsValue;
    let original = Reflect::get(&js_sys::global(), &"fetch".into()).unwrap();
    js_sys::Function::new_no_args(
        r#"
        window.__bff = { me: 0, refresh: 0, data: 0, csrf: 0, refreshed: false };
        window.fetch = async (req) => {
          const b = window.__bff, path = new URL(req.url).pathname;
          if (req.headers.get('X-Requested-With') === 'oidc-session') b.csrf += 1;
          const json = (status, body) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
          if (path === '/api/auth/me') { b.me += 1; return json(200, { success: true, data: { user: { sub: 'u1', name: 'Una' } } }); }
          if (path === '/api/auth/refresh') { b.refresh += 1; b.refreshed = true; return new Response(null, { status: 204 }); }
          if (path === '/api/data') { b.data += 1; return b.refreshed ? json(200, { ok: true }) : json(401, { success: false }); }
          return new Response('not found', { status: 404 });
        };
        "#,
    )
    .call0(&JsValue::NULL)
    .unwrap();
    let bff = |k: &str| {
        let b = Reflect::get(&js_sys::global(), &"__bff".into()).unwrap();
        Reflect::get(&b, &k.into()).unwrap().as_f64().unwrap()
    };

    let el = host();
    let auth = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = auth.clone();
    let config = ConfigInput {
        mode: Mode::Server,
        ..Default::default()
    };
    let _h = mount_to(el.clone(), move || {
        view! {
            <AuthProvider config>
                {
                    *keep.lock().unwrap() = Some(use_auth());
                }
                <SignedIn>"[in]"</SignedIn>
            </AuthProvider>
        }
    });
    for _ in 0..100 {
        if text(&el) == "[in]" {
            break;
        }
        crate::browser::timer::sleep(10).await;
    }
    assert_eq!(text(&el), "[in]");
    let auth = auth.lock().unwrap().expect("the hook ran");
    assert_eq!(
        auth.user.get_untracked().unwrap().name.as_deref(),
        Some("Una")
    );
    assert_eq!(auth.mode(), Mode::Server);

    let response = auth
        .fetch(web_sys::Request::new_with_str("/api/data").unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        (bff("me"), bff("refresh"), bff("data")),
        (1.0, 1.0, 2.0),
        "one refresh, sent twice"
    );
    assert_eq!(
        bff("csrf"),
        4.0,
        "every backend request carries the CSRF header"
    );
    let e = auth.access_token().await.unwrap_err();
    assert_eq!(
        e.code(),
        "unsupported",
        "server mode has no token in the browser"
    );
    Reflect::set(&js_sys::global(), &"fetch".into(), &original).unwrap();
}

#[wasm_bindgen_test]
async fn a_sign_out_on_the_page_does_not_start_a_sign_in() {
    let auth = std::sync::Arc::new(std::sync::Mutex::new(None));
    let keep = auth.clone();
    let (el, view, _h) = mount_fixed(move || {
        *keep.lock().unwrap() = Some(use_auth());
        view! { <SignedIn fallback=|| view! { <RedirectToSignIn/> }>"[in]"</SignedIn> }
    });
    let auth = auth.lock().unwrap().expect("the hook ran");
    view.set(view_of(Status::SignedIn, Some(alice("")), None));
    tick().await;
    assert_eq!(text(&el), "[in]");
    // The client publishes SignedOut while its sign-out runs, before it leaves the page.
    let out = auth.sign_out(crate::SignOutOptions::default());
    view.set(view_of(Status::SignedOut, None, None));
    tick().await;
    tick().await;
    assert_eq!(
        text(&el),
        "",
        "no sign-in was started (it would report its failure here)"
    );
    // This context has no client, so the sign-out fails and the page stays, signed out: a
    // visitor on a protected page, whom RedirectToSignIn now sends to sign in (with no client
    // here, that start fails and says so). A sign-out that leaves for the provider's logout
    // page (`SignOutOutcome::LeavingPage`) keeps it quiet: tests/e2e/leptos-app.spec.mjs.
    assert!(out.await.is_err());
    tick().await;
    tick().await;
    let alert = el
        .query_selector("[role=alert]")
        .unwrap()
        .expect("the sign-in started once the page was known to stay");
    assert!(alert.text_content().unwrap().contains("not_signed_in"));
}
