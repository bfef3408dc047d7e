//! The account button: an avatar that opens a menu of account actions.
//!
//! It follows the WAI-ARIA APG *menu button* pattern rather than the dialog pattern: the popup
//! holds actions only (manage account, the app's items, sign out). Who is signed in (name,
//! email, organisation) is shown above them as the menu's accessible name, not as content to
//! navigate, so the menu keeps the keyboard model users know from menus: arrows move and wrap,
//! Home and End jump, Escape closes and returns focus, Tab leaves and closes.

use super::context::{expect_auth, use_auth};
use crate::{SignOutOptions, User};
use leptos::ev::{FocusEvent, KeyboardEvent};
use leptos::html;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;

/// An app-supplied entry of [`UserButton`]'s menu.
#[derive(Clone)]
pub struct MenuItem {
    label: String,
    action: ItemAction,
}

#[derive(Clone)]
enum ItemAction {
    Link(String),
    Run(Callback<()>),
}

impl MenuItem {
    /// A link (`href`) in the menu.
    pub fn link(label: impl Into<String>, href: impl Into<String>) -> Self {
        Self {
            label: label.into(),
            action: ItemAction::Link(href.into()),
        }
    }

    /// An action; the menu closes and `run` is called.
    pub fn action(label: impl Into<String>, run: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            label: label.into(),
            action: ItemAction::Run(Callback::new(move |()| run())),
        }
    }
}

impl std::fmt::Debug for MenuItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MenuItem")
            .field("label", &self.label)
            .finish_non_exhaustive()
    }
}

/// Up to two initials of the user's name (or email, or subject).
pub(crate) fn initials(user: &User) -> String {
    let name = user.display_name();
    let mut words = name
        .split(|c: char| c.is_whitespace() || c == '@' || c == '.')
        .filter(|w| !w.is_empty());
    let first = words.next().and_then(|w| w.chars().next());
    let second = if user.name.is_some() || user.given_name.is_some() {
        words.next_back().and_then(|w| w.chars().next())
    } else {
        None
    };
    let s: String = first
        .into_iter()
        .chain(second)
        .flat_map(char::to_uppercase)
        .collect();
    if s.is_empty() {
        "?".into()
    } else {
        s
    }
}

/// A hue (0..360) derived from the subject: the same user has the same colour everywhere.
pub(crate) fn hue(user: &User) -> u32 {
    // FNV-1a: stable across builds and targets.
    let h = user.sub.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    h % 360
}

#[component]
fn Avatar(user: User, #[prop(optional)] large: bool) -> impl IntoView {
    let failed = RwSignal::new(false);
    let picture = user.picture.clone();
    let letters = initials(&user);
    let style = format!("--oidc-session-avatar-hue: {}", hue(&user));
    let class = if large {
        "oidc-session-avatar oidc-session-avatar-large"
    } else {
        "oidc-session-avatar"
    };
    view! {
        <span class=class style=style aria-hidden="true">
            {move || match (&picture, failed.get()) {
                (Some(src), false) => view! {
                    <img src=src.clone() alt="" referrerpolicy="no-referrer"
                        on:error=move |_| failed.set(true)/>
                }
                .into_any(),
                // Drawn by CSS from the attribute: decoration, not text, so the button's
                // accessible name (its label, or the name beside it) is all a reader hears.
                _ => view! { <span class="oidc-session-initials" data-initials=letters.clone()></span> }.into_any(),
            }}
        </span>
    }
}

fn items_of(menu: &web_sys::HtmlElement) -> Vec<web_sys::HtmlElement> {
    let Ok(list) = menu.query_selector_all("[role=menuitem]") else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.item(i))
        .filter_map(|n| n.dyn_into::<web_sys::HtmlElement>().ok())
        .collect()
}

/// The signed-in user's avatar (the picture, or initials on a colour derived from the user),
/// opening a menu with the user's name, email and organisation, an optional "Manage account"
/// link, the app's `items`, and "Sign out". Renders nothing unless signed in.
///
/// Keyboard and screen reader: a `button` with `aria-haspopup="menu"` and `aria-expanded`;
/// Enter, Space or Down opens the menu on its first item, Up on its last; in the menu, Up and
/// Down move (and wrap), Home and End jump, Escape closes and returns focus to the button, Tab
/// closes and moves on, and a click outside closes it.
///
/// Why the menu-button pattern and not a dialog: everything in the popup that can take focus is
/// an action (links and buttons), and the identity block (avatar, name, email, organisation) is
/// static text that labels the menu (`aria-labelledby`), so a screen reader announces the menu as
/// "Alice Example, alice@example.com" and then its items. A dialog is the right pattern once a
/// popup holds more than actions (Clerk's holds account switching and forms, which is why it
/// moved to one); this one never does, and `items` only takes links and actions.
///
/// ```
/// use leptos::prelude::*;
/// use oidc_session::leptos::{MenuItem, UserButton};
///
/// #[component]
/// fn Header() -> impl IntoView {
///     view! {
///         <UserButton show_name=true
///             manage_account_url="https://login.example.com/account"
///             items=vec![MenuItem::link("Settings", "/settings")]/>
///     }
/// }
/// ```
#[component]
pub fn UserButton(
    /// Show the name beside the avatar.
    #[prop(optional)]
    show_name: bool,
    /// The provider's account page ("Manage account").
    #[prop(optional, into)]
    manage_account_url: Option<String>,
    /// The app's entries, between "Manage account" and "Sign out".
    #[prop(optional)]
    items: Vec<MenuItem>,
    /// Where to go after signing out (same origin); the provider's logout page comes first
    /// when it has one.
    #[prop(optional, into)]
    after_sign_out_url: Option<String>,
) -> impl IntoView {
    let auth = use_auth();
    let ctx = expect_auth("<UserButton>");
    let button_id = ctx.next_id("user-button");
    let menu_id = ctx.next_id("user-menu");
    let identity_id = ctx.next_id("user-identity");
    let open = RwSignal::new(false);
    let button_ref = NodeRef::<html::Button>::new();
    let menu_ref = NodeRef::<html::Ul>::new();
    let root_ref = NodeRef::<html::Div>::new();
    let items = StoredValue::new(items);
    let manage = StoredValue::new(manage_account_url);
    let after = StoredValue::new(after_sign_out_url);

    let focus_item = move |index: Option<isize>| {
        let Some(menu) = menu_ref.get_untracked() else {
            return;
        };
        let list = items_of(&menu);
        if list.is_empty() {
            return;
        }
        let n = list.len() as isize;
        let at = index.map_or(n - 1, |i| i.rem_euclid(n)) as usize;
        let _ = list[at].focus();
    };
    // Opens the menu and focuses its first item (`first`) or its last.
    let open_menu = move |first: bool| {
        open.set(true);
        // The items exist once the popup is shown: after this turn of the event loop.
        leptos::task::spawn_local(async move {
            leptos::task::tick().await;
            focus_item(if first { Some(0) } else { None });
        });
    };
    let close = move |return_focus: bool| {
        open.set(false);
        if return_focus {
            if let Some(b) = button_ref.get_untracked() {
                let _ = b.focus();
            }
        }
    };

    let on_button_key = move |ev: KeyboardEvent| match ev.key().as_str() {
        "ArrowDown" | "Enter" | " " => {
            ev.prevent_default();
            open_menu(true);
        }
        "ArrowUp" => {
            ev.prevent_default();
            open_menu(false);
        }
        _ => {}
    };
    let on_menu_key = move |ev: KeyboardEvent| {
        let Some(menu) = menu_ref.get_untracked() else {
            return;
        };
        let list = items_of(&menu);
        let active = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.active_element());
        let current = list
            .iter()
            .position(|i| {
                active
                    .as_ref()
                    .is_some_and(|a| a == i.unchecked_ref::<web_sys::Element>())
            })
            .map_or(-1, |p| p as isize);
        match ev.key().as_str() {
            "ArrowDown" => {
                ev.prevent_default();
                focus_item(Some(current + 1));
            }
            "ArrowUp" => {
                ev.prevent_default();
                focus_item(Some(if current < 0 { -1 } else { current - 1 }));
            }
            "Home" => {
                ev.prevent_default();
                focus_item(Some(0));
            }
            "End" => {
                ev.prevent_default();
                focus_item(None);
            }
            "Escape" => {
                ev.prevent_default();
                close(true);
            }
            "Tab" => close(false),
            _ => {}
        }
    };
    // Focus leaving the button and the popup (a click outside, Tab) closes the menu; when it
    // lands nowhere (a click on the page's background), it comes back to the button.
    let on_focus_out = move |ev: FocusEvent| {
        if !open.get_untracked() {
            return;
        }
        let next = ev
            .related_target()
            .and_then(|t| t.dyn_into::<web_sys::Node>().ok());
        let inside = match (&next, root_ref.get_untracked()) {
            (Some(n), Some(root)) => root.contains(Some(n)),
            _ => false,
        };
        if !inside {
            close(next.is_none());
        }
    };
    let sign_out = move || {
        open.set(false);
        let run = auth.sign_out(SignOutOptions {
            return_to: after.get_value(),
            local_only: false,
        });
        leptos::task::spawn_local(async move {
            let _ = run.await;
        });
    };

    move || {
        let user = auth.user.get()?;
        let name = user.display_name();
        let email = user.email.clone().filter(|e| *e != name);
        let tenant = user.tenant.clone();
        // With the name shown, the name is the button's accessible name (WCAG 2.5.3, label in
        // name) and `aria-haspopup` says it opens a menu; without it, a label says both.
        let label = (!show_name).then(|| format!("Account menu for {name}"));
        let shown_name =
            show_name.then(|| view! { <span class="oidc-session-user-name">{name.clone()}</span> });
        let app_items = items.get_value().into_iter().map(|item| match item.action {
            ItemAction::Link(href) => view! {
                <li role="none"><a role="menuitem" tabindex="-1" class="oidc-session-menu-item"
                    href=href on:click=move |_| open.set(false)>{item.label}</a></li>
            }
            .into_any(),
            ItemAction::Run(run) => view! {
                <li role="none"><button type="button" role="menuitem" tabindex="-1" class="oidc-session-menu-item"
                    on:click=move |_| { close(true); run.run(()); }>{item.label}</button></li>
            }
            .into_any(),
        }).collect_view();
        let manage_item = manage.get_value().map(|href| {
            view! {
                <li role="none"><a role="menuitem" tabindex="-1" class="oidc-session-menu-item"
                    href=href target="_blank" rel="noopener noreferrer"
                    on:click=move |_| open.set(false)>"Manage account"</a></li>
            }
        });
        Some(view! {
            <div class="oidc-session oidc-session-user-button" node_ref=root_ref on:focusout=on_focus_out>
                <button type="button" class="oidc-session-avatar-button" node_ref=button_ref
                    id=button_id.clone() aria-haspopup="menu" aria-controls=menu_id.clone()
                    aria-expanded=move || if open.get() { "true" } else { "false" }
                    aria-label=label
                    on:click=move |_| if open.get_untracked() { close(false) } else { open_menu(true) }
                    on:keydown=on_button_key>
                    <Avatar user=user.clone()/>
                    {shown_name}
                </button>
                <div class="oidc-session-popup" tabindex="-1" hidden=move || !open.get()>
                    <div class="oidc-session-identity" id=identity_id.clone()>
                        <Avatar user=user.clone() large=true/>
                        <div class="oidc-session-identity-text">
                            <p class="oidc-session-identity-name">{name.clone()}</p>
                            {email.map(|e| view! { <p class="oidc-session-identity-email">{e}</p> })}
                            {tenant.map(|t| view! { <p class="oidc-session-identity-tenant">{t}</p> })}
                        </div>
                    </div>
                    <ul class="oidc-session-menu" role="menu" id=menu_id.clone() node_ref=menu_ref
                        aria-labelledby=identity_id.clone() on:keydown=on_menu_key>
                        {manage_item}
                        {app_items}
                        <li role="separator" class="oidc-session-separator"></li>
                        <li role="none"><button type="button" role="menuitem" tabindex="-1"
                            class="oidc-session-menu-item oidc-session-sign-out"
                            on:click=move |_| sign_out()>"Sign out"</button></li>
                    </ul>
                </div>
            </div>
        })
    }
}
