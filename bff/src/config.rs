//! Configuration, read from the environment (see the README for the table).

use crate::store::LoginLimits;
use std::path::PathBuf;
use std::time::Duration;

/// The development secret of client `bff` in `op/server.mjs`. Only accepted for a loopback issuer.
pub const DEV_CLIENT_SECRET: &str = "oidc-session-bff-dev-secret-do-not-use-in-production";

/// Every setting. `Debug` redacts the client secret and the store URL's password.
#[derive(Clone)]
pub struct Config {
    /// Port on 127.0.0.1 (`BFF_PORT`, default 8090).
    pub port: u16,
    /// Address to bind (`BFF_BIND`, default 127.0.0.1).
    pub bind: String,
    /// The provider's issuer (`BFF_ISSUER`, default http://127.0.0.1:9090).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the API lives (`BFF_BASE_PATH`, default `/api/auth`): `{base}/login`, `{base}/me`, …
    pub base_path: String,
    /// The origin the browser sees (`BFF_PUBLIC_ORIGIN`, default http://127.0.0.1:8090). The
    /// redirect URI is `{public_origin}{base_path}/callback`; https here turns on `Secure` cookies.
    pub public_origin: String,
    /// Where the provider sends the browser after RP-initiated logout (default `{public_origin}/`).
    pub post_logout_redirect_uri: String,
    /// Space-separated scopes (`BFF_SCOPES`, default `openid profile email offline_access`).
    pub scopes: Vec<String>,
    /// The anti-CSRF header (`BFF_CSRF_HEADER` / `BFF_CSRF_VALUE`, default
    /// `X-Requested-With: oidc-session`), required on every state-changing request.
    pub csrf_header: String,
    pub csrf_value: String,
    /// Also require it on `GET {base}/me` (`BFF_CSRF_ON_ME`, default 1).
    pub csrf_on_me: bool,
    /// What `GET {base}/me` does when the access token has expired (`BFF_ME_EXPIRED`):
    /// `401` (default: 401 `TOKEN_EXPIRED`, the client refreshes and asks again) or `refresh`
    /// (refresh here, under the same single flight, and answer 200).
    pub me_refreshes: bool,
    /// Other origins whose pages may call the API with credentials (`BFF_CORS_ORIGINS`,
    /// comma-separated, default none). Each gets CORS answers and passes the `Origin` check; the
    /// CSRF header stays required. Cookies are `SameSite=Lax`, so such an origin must be
    /// same-site (e.g. `app.example.com` calling `api.example.com`).
    pub cors_origins: Vec<String>,
    /// Absolute session lifetime (`BFF_SESSION_TTL` seconds, default 86400).
    pub session_ttl: Duration,
    /// The tenant reported when the claims carry none (`BFF_DEFAULT_TENANT`, default `default`).
    pub default_tenant: String,
    /// Serve this directory at `/` (`BFF_STATIC_DIR`): the demo page, same-origin with the API.
    pub static_dir: Option<PathBuf>,
    /// Serve this directory at `/pkg/` (`BFF_PKG_DIR`): the wasm package.
    pub pkg_dir: Option<PathBuf>,
    /// `{base}/__test/*` hooks (`BFF_TEST_ENDPOINTS=1`). Never in production.
    pub test_endpoints: bool,
    /// A refresh is not repeated upstream when the session was refreshed this recently and its
    /// access token is still valid (`BFF_REFRESH_COALESCE_MS`, default 5000).
    pub refresh_coalesce: Duration,
    /// Timeout of every request to the provider (`BFF_UPSTREAM_TIMEOUT_MS`, default 10000).
    pub upstream_timeout: Duration,
    /// Pending logins (started, not yet redeemed) one client address may have
    /// (`BFF_LOGIN_LIMIT_PER_CLIENT`, default 20) and all clients together
    /// (`BFF_LOGIN_LIMIT_TOTAL`, default 10000). Past either, `GET {base}/login` answers 429
    /// `TOO_MANY_LOGINS` with `Retry-After`.
    pub login_limits: LoginLimits,
    /// The request header that carries the client address set by the reverse proxy in front
    /// (`BFF_CLIENT_IP_HEADER`, e.g. `x-forwarded-for`: its last entry, the one the proxy added).
    /// Unset: the TCP peer address.
    pub client_ip_header: Option<String>,
    /// Where sessions live (`BFF_STORE`): `memory` (default, one instance) or
    /// `redis://host:port/db` (several instances).
    pub store: String,
    /// Prefix of every Redis key (`BFF_STORE_PREFIX`, default `bff:`).
    pub store_prefix: String,
    /// The refresh lock's lease in a shared store (`BFF_REFRESH_LEASE_MS`, default 10000),
    /// renewed every third of it while the provider call runs.
    pub refresh_lease: Duration,
    /// Timeout of every request to the store (`BFF_STORE_TIMEOUT_MS`, default 2000); past it
    /// the request answers 503 `STORE_UNAVAILABLE`.
    pub store_timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("base_path", &self.base_path)
            .field("public_origin", &self.public_origin)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("scopes", &self.scopes)
            .field("csrf_header", &self.csrf_header)
            .field("csrf_value", &self.csrf_value)
            .field("csrf_on_me", &self.csrf_on_me)
            .field("me_refreshes", &self.me_refreshes)
            .field("cors_origins", &self.cors_origins)
            .field("session_ttl", &self.session_ttl)
            .field("default_tenant", &self.default_tenant)
            .field("static_dir", &self.static_dir)
            .field("pkg_dir", &self.pkg_dir)
            .field("test_endpoints", &self.test_endpoints)
            .field("refresh_coalesce", &self.refresh_coalesce)
            .field("upstream_timeout", &self.upstream_timeout)
            .field("login_limits", &self.login_limits)
            .field("client_ip_header", &self.client_ip_header)
            .field("store", &redact_url_password(&self.store))
            .field("store_prefix", &self.store_prefix)
            .field("refresh_lease", &self.refresh_lease)
            .field("store_timeout", &self.store_timeout)
            .finish()
    }
}

/// `redis://user:secret@host/0` → `redis://user:[redacted]@host/0`.
pub fn redact_url_password(url: &str) -> String {
    match openidconnect::url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("[redacted]"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 8090,
            bind: "127.0.0.1".into(),
            issuer: "http://127.0.0.1:9090".into(),
            client_id: "bff".into(),
            client_secret: DEV_CLIENT_SECRET.into(),
            base_path: "/api/auth".into(),
            public_origin: "http://127.0.0.1:8090".into(),
            post_logout_redirect_uri: "http://127.0.0.1:8090/".into(),
            scopes: ["openid", "profile", "email", "offline_access"]
                .map(String::from)
                .to_vec(),
            csrf_header: "x-requested-with".into(),
            csrf_value: "oidc-session".into(),
            csrf_on_me: true,
            me_refreshes: false,
            cors_origins: Vec::new(),
            session_ttl: Duration::from_secs(24 * 60 * 60),
            default_tenant: "default".into(),
            static_dir: None,
            pkg_dir: None,
            test_endpoints: false,
            refresh_coalesce: Duration::from_millis(5000),
            upstream_timeout: Duration::from_millis(10_000),
            login_limits: LoginLimits {
                per_client: 20,
                total: 10_000,
            },
            client_ip_header: None,
            store: "memory".into(),
            store_prefix: "bff:".into(),
            refresh_lease: Duration::from_millis(10_000),
            store_timeout: Duration::from_millis(2_000),
        }
    }
}

impl Config {
    /// Reads `BFF_*` variables over the defaults, then [`Config::normalize`]s.
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`Config::from_env`] over any lookup function (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let mut c = Config::default();
        let number = |name: &str| -> Result<Option<u64>, String> {
            get(name)
                .map(|v| {
                    v.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{name} must be a non-negative integer, got `{v}`"))
                })
                .transpose()
        };
        let flag = |name: &str, default: bool| -> Result<bool, String> {
            match get(name).as_deref().map(str::trim) {
                None => Ok(default),
                Some("1" | "true" | "yes" | "on") => Ok(true),
                Some("0" | "false" | "no" | "off") => Ok(false),
                Some(v) => Err(format!("{name} must be 1 or 0, got `{v}`")),
            }
        };
        if let Some(port) = number("BFF_PORT")? {
            c.port = u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| format!("BFF_PORT must be a port number, got {port}"))?;
            c.public_origin = format!("http://127.0.0.1:{}", c.port);
        }
        if let Some(v) = get("BFF_BIND") {
            c.bind = v;
        }
        if let Some(v) = get("BFF_ISSUER") {
            c.issuer = v;
        }
        if let Some(v) = get("BFF_CLIENT_ID") {
            c.client_id = v;
        }
        let secret = get("BFF_CLIENT_SECRET");
        if let Some(v) = get("BFF_BASE_PATH") {
            c.base_path = v;
        }
        if let Some(v) = get("BFF_PUBLIC_ORIGIN") {
            c.public_origin = v;
        }
        c.post_logout_redirect_uri = get("BFF_POST_LOGOUT_REDIRECT_URI").unwrap_or_default();
        if let Some(v) = get("BFF_SCOPES") {
            c.scopes = v.split_whitespace().map(String::from).collect();
        }
        if let Some(v) = get("BFF_CSRF_HEADER") {
            c.csrf_header = v;
        }
        if let Some(v) = get("BFF_CSRF_VALUE") {
            c.csrf_value = v;
        }
        c.csrf_on_me = flag("BFF_CSRF_ON_ME", true)?;
        if let Some(v) = get("BFF_CORS_ORIGINS") {
            c.cors_origins = v
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect();
        }
        c.me_refreshes = match get("BFF_ME_EXPIRED").as_deref().map(str::trim) {
            None | Some("401") => false,
            Some("refresh") => true,
            Some(v) => return Err(format!("BFF_ME_EXPIRED must be 401 or refresh, got `{v}`")),
        };
        if let Some(s) = number("BFF_SESSION_TTL")? {
            c.session_ttl = Duration::from_secs(s);
        }
        if let Some(v) = get("BFF_DEFAULT_TENANT") {
            c.default_tenant = v;
        }
        c.static_dir = get("BFF_STATIC_DIR").map(PathBuf::from);
        c.pkg_dir = get("BFF_PKG_DIR").map(PathBuf::from);
        c.test_endpoints = flag("BFF_TEST_ENDPOINTS", false)?;
        if let Some(ms) = number("BFF_REFRESH_COALESCE_MS")? {
            c.refresh_coalesce = Duration::from_millis(ms);
        }
        if let Some(ms) = number("BFF_UPSTREAM_TIMEOUT_MS")? {
            c.upstream_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(n) = number("BFF_LOGIN_LIMIT_PER_CLIENT")? {
            c.login_limits.per_client = n as usize;
        }
        if let Some(n) = number("BFF_LOGIN_LIMIT_TOTAL")? {
            c.login_limits.total = n as usize;
        }
        c.client_ip_header = get("BFF_CLIENT_IP_HEADER").map(|h| h.trim().to_ascii_lowercase());
        if let Some(v) = get("BFF_STORE") {
            c.store = v.trim().to_owned();
        }
        if let Some(v) = get("BFF_STORE_PREFIX") {
            c.store_prefix = v;
        }
        if let Some(ms) = number("BFF_REFRESH_LEASE_MS")? {
            c.refresh_lease = Duration::from_millis(ms);
        }
        if let Some(ms) = number("BFF_STORE_TIMEOUT_MS")? {
            c.store_timeout = Duration::from_millis(ms.max(1));
        }
        c.client_secret = secret.unwrap_or_default();
        c.normalize()?;
        Ok(c)
    }

    /// Trims trailing slashes, fills derived defaults and refuses inconsistent settings.
    pub fn normalize(&mut self) -> Result<(), String> {
        self.issuer = self.issuer.trim_end_matches('/').to_owned();
        self.public_origin = self.public_origin.trim_end_matches('/').to_owned();
        let base = self.base_path.trim().trim_end_matches('/');
        if !base.starts_with('/') || base.contains("//") || base.contains(['?', '#', '\\']) {
            return Err(format!(
                "BFF_BASE_PATH must be an absolute path like /api/auth, got `{}`",
                self.base_path
            ));
        }
        self.base_path = base.to_owned();
        let origin = parse_origin(&self.public_origin).ok_or_else(|| {
            format!(
                "BFF_PUBLIC_ORIGIN must be an origin like http://127.0.0.1:8090, got `{}`",
                self.public_origin
            )
        })?;
        self.public_origin = origin;
        for o in &mut self.cors_origins {
            *o = parse_origin(o.trim_end_matches('/'))
                .ok_or_else(|| format!("BFF_CORS_ORIGINS must list origins, got `{o}`"))?;
        }
        if self.post_logout_redirect_uri.is_empty() {
            self.post_logout_redirect_uri = format!("{}/", self.public_origin);
        }
        if !self.scopes.iter().any(|s| s == "openid") {
            self.scopes.insert(0, "openid".into());
        }
        self.csrf_header = self.csrf_header.trim().to_ascii_lowercase();
        if self.csrf_header.is_empty() || self.csrf_value.is_empty() {
            return Err("BFF_CSRF_HEADER and BFF_CSRF_VALUE must not be empty".into());
        }
        if self.client_secret.is_empty() {
            if is_loopback_http(&self.issuer) {
                self.client_secret = DEV_CLIENT_SECRET.into();
            } else {
                return Err("BFF_CLIENT_SECRET is required (the development default is only used with a loopback issuer)".into());
            }
        }
        if self.login_limits.per_client == 0 || self.login_limits.total == 0 {
            return Err(
                "BFF_LOGIN_LIMIT_PER_CLIENT and BFF_LOGIN_LIMIT_TOTAL must be positive".into(),
            );
        }
        if self.store != "memory"
            && !self.store.starts_with("redis://")
            && !self.store.starts_with("rediss://")
        {
            return Err(format!(
                "BFF_STORE must be `memory` or a redis:// URL, got `{}`",
                redact_url_password(&self.store)
            ));
        }
        if self.refresh_lease < Duration::from_millis(300) {
            return Err("BFF_REFRESH_LEASE_MS must be at least 300".into());
        }
        if self.session_ttl.is_zero() {
            return Err("BFF_SESSION_TTL must be positive".into());
        }
        Ok(())
    }

    /// `Secure` cookies (and the `__Host-` name prefix) when the public origin is https.
    pub fn secure_cookies(&self) -> bool {
        self.public_origin.starts_with("https://")
    }

    pub fn redirect_uri(&self) -> String {
        format!("{}{}/callback", self.public_origin, self.base_path)
    }

    /// The session cookie's name: `__Host-` prefixed when Secure (no Domain, Path=/ is then enforced
    /// by the browser, so a sibling subdomain cannot plant it).
    pub fn session_cookie(&self) -> &'static str {
        if self.secure_cookies() {
            "__Host-oidc_session"
        } else {
            "oidc_session"
        }
    }

    /// The login-binding cookie's name (see [`crate::store::PendingLogin::binding`]).
    pub fn login_cookie(&self) -> &'static str {
        if self.secure_cookies() {
            "__Host-oidc_login"
        } else {
            "oidc_login"
        }
    }
}

/// `scheme://host[:port]` of an absolute http(s) URL without path, query or fragment; `None` otherwise.
fn parse_origin(s: &str) -> Option<String> {
    let url = openidconnect::url::Url::parse(s).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

fn is_loopback_http(issuer: &str) -> bool {
    openidconnect::url::Url::parse(issuer).is_ok_and(|u| crate::provider::is_loopback(&u))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = from(&[]).unwrap();
        assert_eq!(c.port, 8090);
        assert_eq!(c.base_path, "/api/auth");
        assert_eq!(c.redirect_uri(), "http://127.0.0.1:8090/api/auth/callback");
        assert_eq!(c.post_logout_redirect_uri, "http://127.0.0.1:8090/");
        assert_eq!(c.client_secret, DEV_CLIENT_SECRET);
        assert!(!c.secure_cookies());
        assert_eq!(c.session_cookie(), "oidc_session");
        assert!(!c.test_endpoints);
        assert!(c.cors_origins.is_empty());
        let c = from(&[(
            "BFF_CORS_ORIGINS",
            "http://127.0.0.1:8180/, https://app.example.com",
        )])
        .unwrap();
        assert_eq!(
            c.cors_origins,
            ["http://127.0.0.1:8180", "https://app.example.com"]
        );
    }

    #[test]
    fn port_moves_the_default_origin_and_paths_are_normalized() {
        let c = from(&[("BFF_PORT", "8123"), ("BFF_BASE_PATH", "/api/iqauth/")]).unwrap();
        assert_eq!(c.public_origin, "http://127.0.0.1:8123");
        assert_eq!(c.base_path, "/api/iqauth");
        assert_eq!(
            c.redirect_uri(),
            "http://127.0.0.1:8123/api/iqauth/callback"
        );
    }

    #[test]
    fn https_origin_means_secure_host_cookies() {
        let c = from(&[
            ("BFF_PUBLIC_ORIGIN", "https://app.example.com/"),
            ("BFF_ISSUER", "https://id.example.com"),
            ("BFF_CLIENT_SECRET", "s"),
        ])
        .unwrap();
        assert!(c.secure_cookies());
        assert_eq!(c.session_cookie(), "__Host-oidc_session");
        assert_eq!(c.public_origin, "https://app.example.com");
    }

    #[test]
    fn debug_redacts_the_secrets() {
        let c = from(&[
            ("BFF_CLIENT_SECRET", "very-secret-value"),
            ("BFF_STORE", "redis://app:store-password@127.0.0.1:6379/0"),
        ])
        .unwrap();
        let text = format!("{c:?}");
        assert!(!text.contains("very-secret-value"), "{text}");
        assert!(!text.contains("store-password"), "{text}");
        assert!(text.contains("127.0.0.1:6379"), "{text}");
        assert!(!format!("{:?}", Config::default()).contains(DEV_CLIENT_SECRET));
    }

    #[test]
    fn store_and_limits() {
        let c = from(&[]).unwrap();
        assert_eq!(c.store, "memory");
        assert_eq!(
            c.login_limits,
            LoginLimits {
                per_client: 20,
                total: 10_000
            }
        );
        let c = from(&[
            ("BFF_STORE", "redis://127.0.0.1:6379/0"),
            ("BFF_LOGIN_LIMIT_PER_CLIENT", "5"),
            ("BFF_CLIENT_IP_HEADER", "X-Forwarded-For"),
        ])
        .unwrap();
        assert_eq!(c.login_limits.per_client, 5);
        assert_eq!(c.client_ip_header.as_deref(), Some("x-forwarded-for"));
        assert!(from(&[("BFF_STORE", "postgres://x")]).is_err());
        assert!(from(&[("BFF_LOGIN_LIMIT_TOTAL", "0")]).is_err());
    }

    #[test]
    fn refuses_bad_settings() {
        assert!(
            from(&[("BFF_ISSUER", "https://id.example.com")]).is_err(),
            "secret required"
        );
        assert!(from(&[("BFF_BASE_PATH", "api")]).is_err());
        assert!(from(&[("BFF_PUBLIC_ORIGIN", "http://x.test/app")]).is_err());
        assert!(from(&[("BFF_PORT", "70000")]).is_err());
        assert!(from(&[("BFF_TEST_ENDPOINTS", "maybe")]).is_err());
        assert!(from(&[("BFF_CORS_ORIGINS", "http://a.test/path")]).is_err());
        assert!(from(&[("BFF_ME_EXPIRED", "sometimes")]).is_err());
    }
}
