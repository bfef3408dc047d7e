//! The validated client configuration.

use crate::core::error::{Error, ErrorKind};
use crate::core::server::ServerConfig;
use crate::core::text::{cat, find};
use crate::core::url::HttpUrl;

/// Where tokens are kept between page loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageKind {
    /// In memory only: a reload signs the user out (the safest default).
    #[default]
    Memory,
    /// `sessionStorage`: survives reloads in this tab.
    Session,
    /// `localStorage`: survives restarts and is shared by tabs.
    Local,
}

/// The opt-in service-worker token vault (browser mode): the refresh token (and the access
/// token's renewal) live in a service worker of the app's origin, never in page script or Web
/// Storage, and every refresh of every tab is the worker's one request. The page keeps the
/// access token in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVault {
    /// The worker script's URL, of the app's origin: a path (`/oidc-session-sw.js`) or an
    /// absolute URL. The npm package ships the script (`oidc-session-sw.js`).
    pub service_worker: String,
    /// What to do where no service worker can run (no support, private modes that disable
    /// them, a failed registration). Default: [`VaultFallback::Memory`], the session in the
    /// tab's memory, never in Web Storage.
    pub when_unavailable: VaultFallback,
}

/// What the client does when the [`TokenVault`] cannot run (no module service workers, a failed
/// registration, Trusted Types refusing the script URL, another protocol version mid-deploy).
/// `Client::vault_status` then says `Unavailable`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum VaultFallback {
    /// The default: keep the session in this tab's memory only. The refresh token never
    /// reaches Web Storage, the very thing the vault was turned on to avoid; a reload starts
    /// signed out (or signs in silently, with silent SSO).
    #[default]
    Memory,
    /// Keep the session in the configured [`StorageKind`], refresh token included: opted into
    /// by name, for apps that prefer surviving a reload to keeping the token from page script.
    Storage,
    /// Refuse: the bootstrap fails with `vault_unavailable`.
    Refuse,
}

/// Who runs the OpenID Connect protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The page itself: authorization code + PKCE, tokens in the configured storage.
    #[default]
    Browser,
    /// The app's backend (backend-for-frontend): it keeps the tokens in HttpOnly cookies and
    /// the browser only calls its `me`, `refresh`, `signout` and `login` endpoints.
    Server,
}

/// The configuration as an application writes it. Fields that do not apply to the chosen
/// [`Mode`] are ignored; [`Client::new`](crate::Client::new) checks the ones that do.
#[derive(Debug, Clone, Default)]
pub struct ConfigInput {
    /// The issuer URL, exactly as the provider spells it.
    pub issuer: String,
    /// The public client id.
    pub client_id: String,
    /// The redirect URI registered at the provider; must be of the app's origin.
    pub redirect_uri: String,
    /// Where the provider returns after sign-out; must be registered and of the app's origin.
    pub post_logout_redirect_uri: Option<String>,
    /// Scopes; `openid` is added when missing.
    pub scopes: Option<Vec<String>>,
    /// Token storage.
    pub storage: Option<StorageKind>,
    /// Browser mode: keep the tokens in a service worker instead (opt-in; see [`TokenVault`]).
    pub token_vault: Option<TokenVault>,
    /// Allowed clock difference with the provider, in seconds (default 60, at most 300).
    pub clock_skew_seconds: Option<u32>,
    /// Audiences besides our client id that an ID token may name (default none).
    pub trusted_audiences: Option<Vec<String>>,
    /// Renew the access token in the background before it expires (default true).
    pub auto_refresh: Option<bool>,
    /// How long before expiry to renew, in seconds (default 30; at most a quarter of the lifetime).
    pub refresh_margin_seconds: Option<u64>,
    /// Try a silent (`prompt=none`) sign-in in a hidden iframe when no session is stored.
    pub silent_sso: Option<bool>,
    /// The page the silent iframe lands on (same origin; it calls `handleSilentCallback()`).
    /// Default: `/silent.html` of the app's origin.
    pub silent_redirect_uri: Option<String>,
    /// How long the silent attempt may take, in seconds (default 10).
    pub silent_timeout_seconds: Option<u64>,
    /// Browser (default) or server mode.
    pub mode: Mode,
    /// Server mode: the backend's auth routes (default `/api/auth`).
    pub server_base_path: Option<String>,
    /// Server mode: the backend's origin when it is not the page's (then cookies go cross-origin).
    pub server_origin: Option<String>,
    /// Server mode: path of `me` (default `{base}/me`).
    pub me_path: Option<String>,
    /// Server mode: path of `refresh` (default `{base}/refresh`).
    pub refresh_path: Option<String>,
    /// Server mode: path of `signout` (default `{base}/signout`).
    pub sign_out_path: Option<String>,
    /// Server mode: path of `login` (default `{base}/login`).
    pub login_path: Option<String>,
    /// Server mode: CSRF header name (default `X-Requested-With`).
    pub csrf_header_name: Option<String>,
    /// Server mode: CSRF header value (default `oidc-session`).
    pub csrf_header_value: Option<String>,
    /// Server mode: when `GET {me}` answers 401 at bootstrap, send one `POST {refresh}` and
    /// ask again (default false: bootstrap is exactly one read-only request, and the backend
    /// refreshes on its side). For backends whose `me` does not refresh by itself.
    pub refresh_on_bootstrap: Option<bool>,
}

/// A configuration that has been checked, for one mode: neither carries the other's fields.
#[derive(Debug, Clone)]
pub enum Config {
    /// The page runs OpenID Connect.
    Browser(BrowserConfig),
    /// The backend holds the session.
    Server(ServerConfig),
}

/// A checked browser-mode configuration: every field is usable.
#[derive(Debug, Clone)]
pub struct BrowserConfig {
    /// Exactly as configured; compared byte for byte.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    /// The redirect URI.
    pub redirect_uri: String,
    /// The post-logout redirect URI, if any.
    pub post_logout_redirect_uri: Option<String>,
    /// Scopes, `openid` first.
    pub scopes: Vec<String>,
    /// Token storage (with a vault: where the session goes if the vault cannot run).
    pub storage: StorageKind,
    /// The service-worker vault, its script's URL checked to be of the app's origin.
    pub token_vault: Option<TokenVault>,
    /// Clock skew in seconds.
    pub clock_skew: u64,
    /// Extra trusted audiences.
    pub trusted_audiences: Vec<String>,
    /// Background renewal on or off.
    pub auto_refresh: bool,
    /// Renewal margin in seconds.
    pub refresh_margin: u64,
    /// Silent SSO on or off.
    pub silent_sso: bool,
    /// The silent redirect URI (checked to be of the app's origin).
    pub silent_redirect_uri: String,
    /// Silent attempt timeout in seconds.
    pub silent_timeout: u64,
    /// The app's origin (`location.origin`).
    pub app_origin: String,
}

fn bad(field: &'static str, reason: &'static str) -> Error {
    ErrorKind::ConfigInvalid { field, reason }.into()
}

impl Config {
    /// Checks `input` for an app served from `app_origin`.
    pub fn new(input: ConfigInput, app_origin: &str) -> Result<Self, Error> {
        // Every check reads `input` by reference and nothing is owned until all of them passed:
        // an early return then has nothing to drop (in the bundle, per-return drop code for the
        // ~20 members was most of this function's size).
        match input.mode {
            Mode::Browser => BrowserConfig::check(&input, app_origin).map(Config::Browser),
            Mode::Server => ServerConfig::check(&input, app_origin).map(Config::Server),
        }
    }
}

impl BrowserConfig {
    /// Whether the tabs of the origin share the session (and so listen to each other's
    /// `session` and `signedOut`): when the vault holds it, or it is in `localStorage`. Decided
    /// after the vault connected (or failed to): before, where the tokens live is not known.
    pub fn shared_by_tabs(&self, vault_connected: bool) -> bool {
        vault_connected || self.page_storage(vault_connected) == StorageKind::Local
    }

    fn check(input: &ConfigInput, app_origin: &str) -> Result<Self, Error> {
        let issuer = input.issuer.trim_ascii();
        if issuer.is_empty() {
            return Err(bad("issuer", "is required (the provider's issuer URL)"));
        }
        let iss = HttpUrl::parse(issuer)
            .ok_or_else(|| bad("issuer", "must be an absolute http(s) URL"))?;
        if !iss.is_secure_enough() {
            return Err(bad(
                "issuer",
                "must use https (plain http is allowed only for loopback hosts)",
            ));
        }
        if iss.has_query_or_fragment() {
            return Err(bad("issuer", "must not contain a query or fragment"));
        }
        let client_id = input.client_id.trim_ascii();
        if client_id.is_empty() {
            return Err(bad("client_id", "is required"));
        }
        let redirect_uri = same_origin_uri(&input.redirect_uri, app_origin, "redirect_uri")?;
        let post_logout_redirect_uri = match &input.post_logout_redirect_uri {
            Some(u) => Some(same_origin_uri(u, app_origin, "post_logout_redirect_uri")?),
            None => None,
        };
        let requested = input.scopes.as_deref().unwrap_or_default();
        if requested
            .iter()
            .any(|s| s.is_empty() || s.bytes().any(|b| b <= b' ' || b == b'"' || b == b'\\'))
        {
            return Err(bad(
                "scopes",
                "must be non-empty scope tokens without spaces or quotes",
            ));
        }
        let clock_skew = u64::from(input.clock_skew_seconds.unwrap_or(60));
        if clock_skew > 300 {
            return Err(bad("clock_skew_seconds", "must be at most 300"));
        }
        let silent_redirect_uri = match &input.silent_redirect_uri {
            Some(u) => Some(same_origin_uri(u, app_origin, "silent_redirect_uri")?),
            None => None,
        };
        let token_vault = match &input.token_vault {
            Some(v) => {
                let path = v.service_worker.trim_ascii();
                // A path is of the app's origin; `//host/…` is not a path.
                let absolute = if path.starts_with('/') && !path.starts_with("//") {
                    cat(&[app_origin, path])
                } else {
                    path.to_owned()
                };
                same_origin_uri(&absolute, app_origin, "token_vault")?;
                Some(TokenVault {
                    service_worker: absolute,
                    when_unavailable: v.when_unavailable,
                })
            }
            None => None,
        };
        let silent_timeout = input.silent_timeout_seconds.unwrap_or(10);
        if !(1..=120).contains(&silent_timeout) {
            return Err(bad("silent_timeout_seconds", "must be between 1 and 120"));
        }
        if input.refresh_margin_seconds.is_some_and(|m| m > 3600) {
            return Err(bad("refresh_margin_seconds", "must be at most 3600"));
        }
        let mut scopes = vec!["openid".to_owned()];
        if input.scopes.is_none() {
            scopes.push("profile".to_owned());
            scopes.push("email".to_owned());
        }
        for s in requested {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            post_logout_redirect_uri: post_logout_redirect_uri.map(str::to_owned),
            scopes,
            storage: input.storage.unwrap_or_default(),
            token_vault,
            clock_skew,
            trusted_audiences: input.trusted_audiences.clone().unwrap_or_default(),
            auto_refresh: input.auto_refresh.unwrap_or(true),
            refresh_margin: input.refresh_margin_seconds.unwrap_or(30),
            silent_sso: input.silent_sso.unwrap_or(false),
            silent_redirect_uri: match silent_redirect_uri {
                Some(u) => u.to_owned(),
                None => cat(&[app_origin, "/silent.html"]),
            },
            silent_timeout,
            app_origin: app_origin.to_owned(),
        })
    }
}

impl ServerConfig {
    /// Server mode: only the backend's endpoints and the CSRF header matter.
    fn check(input: &ConfigInput, app_origin: &str) -> Result<Self, Error> {
        let origin = match input.server_origin.as_deref().map(str::trim_ascii) {
            None | Some("") => String::new(),
            Some(o) => {
                let u = HttpUrl::parse(o)
                    .ok_or_else(|| bad("server_origin", "must be an absolute http(s) origin"))?;
                if !u.is_secure_enough() {
                    return Err(bad(
                        "server_origin",
                        "must use https (plain http is allowed only for loopback hosts)",
                    ));
                }
                if !matches!(u.rest.as_str(), "" | "/") {
                    return Err(bad("server_origin", "must be an origin without a path"));
                }
                u.origin()
            }
        };
        let path = |v: &Option<String>, field: &'static str| -> Result<Option<String>, Error> {
            match v.as_deref() {
                None => Ok(None),
                Some(p)
                    if p.starts_with("/")
                        && !p.starts_with("//")
                        && !p.bytes().any(|b| b <= b' ' || b == b'\\') =>
                {
                    // Without trailing slashes: routes are joined as `{base}/me`.
                    let end = p.bytes().rposition(|b| b != b'/').map_or(0, |i| i + 1);
                    Ok(Some(p[..end].to_owned()))
                }
                Some(_) => Err(bad(field, "must be a path starting with a single `/`")),
            }
        };
        let base = path(&input.server_base_path, "server_base_path")?
            .unwrap_or_else(|| "/api/auth".into());
        let url = |p: Option<String>, leaf: &str| {
            cat(&[&origin, &p.unwrap_or_else(|| cat(&[&base, "/", leaf]))])
        };
        let token =
            |v: &Option<String>, default: &str, field: &'static str| -> Result<String, Error> {
                let v = v.clone().unwrap_or_else(|| default.to_owned());
                let ok = !v.is_empty() && v.bytes().all(|b| b.is_ascii_graphic() && b != b':');
                if ok {
                    Ok(v)
                } else {
                    Err(bad(field, "must be a non-empty header token"))
                }
            };
        Ok(ServerConfig {
            me_url: url(path(&input.me_path, "me_path")?, "me"),
            refresh_url: url(path(&input.refresh_path, "refresh_path")?, "refresh"),
            sign_out_url: url(path(&input.sign_out_path, "sign_out_path")?, "signout"),
            login_url: url(path(&input.login_path, "login_path")?, "login"),
            csrf_name: token(
                &input.csrf_header_name,
                "X-Requested-With",
                "csrf_header_name",
            )?,
            csrf_value: token(
                &input.csrf_header_value,
                "oidc-session",
                "csrf_header_value",
            )?,
            cross_origin: !origin.is_empty() && origin != app_origin,
            origin: if origin.is_empty() {
                app_origin.to_owned()
            } else {
                origin
            },
            refresh_on_bootstrap: input.refresh_on_bootstrap.unwrap_or(false),
            app_origin: app_origin.to_owned(),
        })
    }
}

impl BrowserConfig {
    /// Where a page keeps the session's tokens: nowhere but memory while the vault holds them
    /// (`vault_connected`), or when a configured vault could not run and its fallback is not
    /// [`VaultFallback::Storage`]; otherwise the configured [`StorageKind`].
    pub fn page_storage(&self, vault_connected: bool) -> StorageKind {
        match &self.token_vault {
            _ if vault_connected => StorageKind::Memory,
            Some(v) if v.when_unavailable != VaultFallback::Storage => StorageKind::Memory,
            _ => self.storage,
        }
    }
}

fn same_origin_uri<'a>(
    uri: &'a str,
    app_origin: &str,
    field: &'static str,
) -> Result<&'a str, Error> {
    let uri = uri.trim_ascii();
    let u = HttpUrl::parse(uri).ok_or_else(|| bad(field, "must be an absolute http(s) URL"))?;
    if u.origin() != app_origin {
        return Err(bad(field, "must be a URL of this app's origin"));
    }
    if find(&u.rest, b'#').is_some() {
        return Err(bad(field, "must not contain a fragment"));
    }
    Ok(uri)
}

/// Validates a `returnTo` and returns it as a same-origin path (`/path?query#fragment`).
///
/// Accepted: a path that starts with exactly one `/`, or an absolute URL of `app_origin`.
/// Refused: other origins, scheme-relative `//host`, `/\host` (browsers read it as `//host`),
/// `javascript:` and every other scheme, whitespace and control characters.
pub fn sanitize_return_to(return_to: &str, app_origin: &str) -> Result<String, Error> {
    let s = return_to;
    if s.is_empty() || s.bytes().any(|b| b <= b' ' || b == b'\\' || b == 0x7f) {
        return Err(ErrorKind::ReturnToInvalid.into());
    }
    if s.starts_with("/") {
        return if s.starts_with("//") {
            Err(ErrorKind::ReturnToInvalid.into())
        } else {
            Ok(s.to_owned())
        };
    }
    let u = HttpUrl::parse(s).ok_or(ErrorKind::ReturnToInvalid)?;
    if u.origin() != app_origin {
        return Err(ErrorKind::ReturnToInvalid.into());
    }
    // `https://app//evil.example/x` has the path `//evil.example/x`, which a browser reads as
    // another host once it stands alone.
    if u.rest.starts_with("//") {
        return Err(ErrorKind::ReturnToInvalid.into());
    }
    Ok(if u.rest.starts_with("/") {
        u.rest
    } else {
        cat(&["/", &u.rest])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: &str = "http://127.0.0.1:8080";

    fn input() -> ConfigInput {
        ConfigInput {
            issuer: "https://op.example".into(),
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:8080/cb".into(),
            ..Default::default()
        }
    }

    fn browser(r: Result<Config, Error>) -> BrowserConfig {
        match r {
            Ok(Config::Browser(c)) => c,
            other => panic!("expected a browser config, got {other:?}"),
        }
    }

    fn server_of(r: Result<Config, Error>) -> ServerConfig {
        match r {
            Ok(Config::Server(c)) => c,
            other => panic!("expected a server config, got {other:?}"),
        }
    }

    fn field_of(r: Result<Config, Error>) -> &'static str {
        match r.as_ref().map_err(|e| e.kind()) {
            Err(ErrorKind::ConfigInvalid { field, .. }) => field,
            other => panic!("expected config_invalid, got {other:?}"),
        }
    }

    #[test]
    fn accepts_a_good_config_and_adds_openid() {
        let c = browser(Config::new(
            ConfigInput {
                scopes: Some(vec!["email".into()]),
                ..input()
            },
            APP,
        ));
        assert_eq!(c.scopes, ["openid", "email"]);
        assert_eq!(c.storage, StorageKind::Memory);
        assert_eq!(c.clock_skew, 60);
        assert!(c.auto_refresh);
        assert_eq!(c.refresh_margin, 30);
        assert!(!c.silent_sso);
        assert_eq!(c.silent_redirect_uri, "http://127.0.0.1:8080/silent.html");
        assert_eq!(
            field_of(Config::new(
                ConfigInput {
                    silent_redirect_uri: Some("https://evil.example/s".into()),
                    ..input()
                },
                APP
            )),
            "silent_redirect_uri"
        );
    }

    #[test]
    fn refuses_bad_configs_naming_the_field() {
        type Change = fn(&mut ConfigInput);
        let cases: [(Change, &str); 8] = [
            (|i| i.issuer = String::new(), "issuer"),
            (|i| i.issuer = "http://op.example".into(), "issuer"),
            (|i| i.issuer = "https://op.example/?x=1".into(), "issuer"),
            (|i| i.client_id = " ".into(), "client_id"),
            (
                |i| i.redirect_uri = "https://evil.example/cb".into(),
                "redirect_uri",
            ),
            (
                |i| i.post_logout_redirect_uri = Some("http://127.0.0.1:9999/".into()),
                "post_logout_redirect_uri",
            ),
            (|i| i.scopes = Some(vec!["a b".into()]), "scopes"),
            (|i| i.clock_skew_seconds = Some(301), "clock_skew_seconds"),
        ];
        for (change, field) in cases {
            let mut i = input();
            change(&mut i);
            assert_eq!(field_of(Config::new(i, APP)), field);
        }
        assert!(Config::new(
            ConfigInput {
                issuer: "http://127.0.0.1:9090".into(),
                ..input()
            },
            APP
        )
        .is_ok());
    }

    #[test]
    fn server_mode_needs_no_oidc_fields_and_builds_the_endpoints() {
        let base = || ConfigInput {
            mode: Mode::Server,
            ..Default::default()
        };
        let server = |i: ConfigInput| Config::new(i, APP);
        let s = server_of(server(base()));
        assert_eq!(
            (s.me_url.as_str(), s.refresh_url.as_str()),
            ("/api/auth/me", "/api/auth/refresh")
        );
        assert_eq!(
            (s.sign_out_url.as_str(), s.login_url.as_str()),
            ("/api/auth/signout", "/api/auth/login")
        );
        assert_eq!(
            (s.csrf_name.as_str(), s.csrf_value.as_str()),
            ("X-Requested-With", "oidc-session")
        );
        assert!(!s.cross_origin);
        assert_eq!(s.origin, APP);
        assert!(
            !s.refresh_on_bootstrap,
            "bootstrap is one request unless asked"
        );
        let s = server_of(server(ConfigInput {
            refresh_on_bootstrap: Some(true),
            ..base()
        }));
        assert!(s.refresh_on_bootstrap);

        let s = server_of(server(ConfigInput {
            server_base_path: Some("/api/iqauth/".into()),
            me_path: Some("/api/iqauth/me".into()),
            csrf_header_name: Some("X-CSRF".into()),
            csrf_header_value: Some("1".into()),
            server_origin: Some("https://api.example".into()),
            ..base()
        }));
        assert_eq!(s.me_url, "https://api.example/api/iqauth/me");
        assert_eq!(s.refresh_url, "https://api.example/api/iqauth/refresh");
        assert_eq!(s.origin, "https://api.example");
        assert!(s.cross_origin);

        assert_eq!(
            field_of(server(ConfigInput {
                me_path: Some("//evil.example/me".into()),
                ..base()
            })),
            "me_path"
        );
        assert_eq!(
            field_of(server(ConfigInput {
                server_base_path: Some("api".into()),
                ..base()
            })),
            "server_base_path"
        );
        assert_eq!(
            field_of(server(ConfigInput {
                server_origin: Some("http://api.example".into()),
                ..base()
            })),
            "server_origin"
        );
        assert_eq!(
            field_of(server(ConfigInput {
                server_origin: Some("https://api.example/x".into()),
                ..base()
            })),
            "server_origin"
        );
        assert_eq!(
            field_of(server(ConfigInput {
                csrf_header_name: Some("Bad Header".into()),
                ..base()
            })),
            "csrf_header_name"
        );
    }

    #[test]
    fn return_to_accepts_same_origin_only() {
        assert_eq!(sanitize_return_to("/a?b=1#c", APP).unwrap(), "/a?b=1#c");
        assert_eq!(
            sanitize_return_to("http://127.0.0.1:8080/x?y", APP).unwrap(),
            "/x?y"
        );
        assert_eq!(
            sanitize_return_to("http://127.0.0.1:8080", APP).unwrap(),
            "/"
        );
        for hostile in [
            "//evil.example",
            "//evil.example/path",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example/",
            "http://127.0.0.1:8081/",
            "https://127.0.0.1:8080/",
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,hi",
            "http://127.0.0.1:8080@evil.example/",
            "/\t/evil.example",
            " //evil.example",
            "http://127.0.0.1:8080//evil.example/x",
            "HTTP://127.0.0.1:8080//evil.example",
            "",
            "relative/path",
        ] {
            assert_eq!(
                sanitize_return_to(hostile, APP),
                Err(ErrorKind::ReturnToInvalid.into()),
                "{hostile:?}"
            );
        }
    }

    /// Whatever `sanitize_return_to` accepts, the WHATWG URL parser (the `url` crate) resolves
    /// against the app's page to the app's own origin.
    #[cfg(not(target_arch = "wasm32"))]
    mod return_to_against_whatwg {
        use super::*;
        use proptest::prelude::*;

        fn piece() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec![
                "/",
                "//",
                "\\",
                "\\\\",
                ":",
                ".",
                "..",
                "@",
                "?",
                "#",
                "%2f",
                "%5c",
                "%09",
                "evil.example",
                "127.0.0.1",
                ":8080",
                ":80",
                "http:",
                "https:",
                "HTTP:",
                "//",
                "javascript:",
                "x",
                "a/b",
                "\t",
                "\n",
                " ",
                "\u{3000}",
                "%00",
                "./",
                "/.",
            ])
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(20_000))]
            #[test]
            fn accepted_return_to_stays_on_the_app_origin(
                parts in prop::collection::vec(piece(), 1..8),
                absolute in any::<bool>(),
            ) {
                let mut input = String::new();
                if absolute {
                    input.push_str(APP);
                }
                for p in parts {
                    input.push_str(p);
                }
                if let Ok(out) = sanitize_return_to(&input, APP) {
                    let base = url::Url::parse(&format!("{APP}/page")).unwrap();
                    let resolved = base.join(&out).map_err(|e| {
                        TestCaseError::fail(format!("{input:?} -> {out:?} does not parse: {e}"))
                    })?;
                    prop_assert_eq!(
                        resolved.origin().ascii_serialization(),
                        APP,
                        "{:?} was accepted as {:?}",
                        input,
                        out
                    );
                }
            }
        }
    }

    #[test]
    fn a_vault_that_cannot_run_keeps_the_refresh_token_out_of_web_storage_by_default() {
        let with = |when_unavailable: Option<VaultFallback>| {
            let mut c = browser(Config::new(
                ConfigInput {
                    storage: Some(StorageKind::Local),
                    ..input()
                },
                APP,
            ));
            c.token_vault = when_unavailable.map(|w| TokenVault {
                service_worker: format!("{APP}/sw.js"),
                when_unavailable: w,
            });
            c
        };
        assert_eq!(VaultFallback::default(), VaultFallback::Memory);
        assert_eq!(
            with(None).page_storage(false),
            StorageKind::Local,
            "no vault"
        );
        for w in [VaultFallback::Memory, VaultFallback::Refuse] {
            assert_eq!(
                with(Some(w)).page_storage(false),
                StorageKind::Memory,
                "{w:?}"
            );
        }
        assert_eq!(
            with(Some(VaultFallback::Storage)).page_storage(false),
            StorageKind::Local
        );
        for w in [
            VaultFallback::Memory,
            VaultFallback::Storage,
            VaultFallback::Refuse,
        ] {
            assert_eq!(
                with(Some(w)).page_storage(true),
                StorageKind::Memory,
                "connected"
            );
        }
    }
}
