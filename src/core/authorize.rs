//! The authorization request (OIDC Core 3.1.2.1 with PKCE) and the pending sign-in it leaves behind.

use crate::core::config::{sanitize_return_to, BrowserConfig};
use crate::core::discovery::Provider;
use crate::core::error::{Error, ErrorKind};
use crate::core::json::{Field, Fields, FromJson, Writer};
use crate::core::pkce::{b64url, Entropy};
use crate::core::secret::PkceVerifier;
use crate::core::text::uint;
use crate::core::url::{form_encode, with_query};

/// How long a pending sign-in stays usable, in seconds.
pub const PENDING_LIFETIME: u64 = 3600;

/// Parameters the library owns; `extraParams` may not set them.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "login_hint",
    "max_age",
    "ui_locales",
    "request",
    "request_uri",
    "response_mode",
];

/// Options of one sign-in (the JS `signIn(options)` object).
#[derive(Debug, Clone, Default)]
pub struct SignInOptions {
    /// Same-origin location to restore after the callback.
    pub return_to: Option<String>,
    /// `prompt` (`login`, `consent`, `select_account`, `none`).
    pub prompt: Option<String>,
    /// `login_hint`.
    pub login_hint: Option<String>,
    /// `max_age` in seconds; then `auth_time` is checked.
    pub max_age: Option<u64>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// Scopes for this sign-in instead of the configured ones (`openid` is kept).
    pub scopes: Option<Vec<String>>,
    /// Further parameters, e.g. `kc_idp_hint`.
    pub extra_params: Option<Vec<(String, String)>>,
    /// Leave with `location.replace`: the page that sent the user to sign in leaves the
    /// history, so Back from the provider does not land on it and redirect again.
    pub replace: bool,
}

/// What the callback needs to finish a sign-in. Kept in session storage under its `state`.
#[derive(Debug, Clone)]
pub struct PendingSignIn {
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: PkceVerifier,
    /// The redirect URI sent (sent again in the token request).
    pub redirect_uri: String,
    /// Same-origin path to restore.
    pub return_to: Option<String>,
    /// `max_age` sent, if any.
    pub max_age: Option<u64>,
    /// When the sign-in began (seconds since the epoch).
    pub created_at: u64,
}

impl FromJson for PendingSignIn {
    fn read(f: &Fields<'_>) -> Field<Self> {
        let Some(verifier) = PkceVerifier::parse(&f.req_str("verifier")) else {
            return Err("verifier");
        };
        f.done(Self {
            state: f.req_str("state"),
            nonce: f.req_str("nonce"),
            verifier,
            redirect_uri: f.req_str("redirect_uri"),
            return_to: f.str("return_to"),
            max_age: f.uint("max_age"),
            created_at: f.uint("created_at").unwrap_or_else(|| f.fail("created_at")),
        })
    }
}

impl PendingSignIn {
    /// JSON text for session storage.
    pub fn to_json(&self) -> String {
        Writer::default()
            .str("state", &self.state)
            .str("nonce", &self.nonce)
            .str("verifier", self.verifier.secret())
            .str("redirect_uri", &self.redirect_uri)
            .opt_str("return_to", self.return_to.as_deref())
            .opt_uint("max_age", self.max_age)
            .opt_uint("created_at", Some(self.created_at))
            .finish()
    }

    /// True when the pending sign-in is too old to finish.
    // One body for its callers in the flows: the bundle's MIR inlining copied it into each.
    #[inline(never)]
    pub fn is_expired(&self, now: u64) -> bool {
        is_stale(self.created_at, now)
    }
}

/// True when something recorded at `at` (a pending sign-in, a completed callback) is older
/// than [`PENDING_LIFETIME`], or implausibly far in the future (a clock that jumped back).
pub fn is_stale(at: u64, now: u64) -> bool {
    now.saturating_sub(at) > PENDING_LIFETIME || at > now + PENDING_LIFETIME
}

/// Builds the authorization URL and the pending sign-in to store before navigating.
pub fn authorization_request(
    config: &BrowserConfig,
    provider: &Provider,
    options: &SignInOptions,
    entropy: &Entropy,
    now: u64,
) -> Result<(String, PendingSignIn), Error> {
    build(
        config,
        provider,
        options,
        &config.redirect_uri,
        entropy,
        now,
    )
}

/// The silent (`prompt=none`) request for the hidden iframe, to the silent redirect URI.
pub fn silent_request(
    config: &BrowserConfig,
    provider: &Provider,
    entropy: &Entropy,
    now: u64,
) -> Result<(String, PendingSignIn), Error> {
    let options = SignInOptions {
        prompt: Some("none".into()),
        ..SignInOptions::default()
    };
    build(
        config,
        provider,
        &options,
        &config.silent_redirect_uri,
        entropy,
        now,
    )
}

fn build(
    config: &BrowserConfig,
    provider: &Provider,
    options: &SignInOptions,
    redirect_uri: &str,
    entropy: &Entropy,
    now: u64,
) -> Result<(String, PendingSignIn), Error> {
    let return_to = options
        .return_to
        .as_deref()
        .map(|r| sanitize_return_to(r, &config.app_origin))
        .transpose()?;
    let verifier = entropy.verifier();
    let state = b64url(&entropy.state);
    let nonce = b64url(&entropy.nonce);
    let challenge = PkceVerifier::challenge(&entropy.verifier_sha256);

    // `openid` first: the configured scopes start with it; per-sign-in scopes get it added.
    let mut scope = String::from("openid");
    for s in options.scopes.as_ref().unwrap_or(&config.scopes) {
        if s != "openid" {
            scope.push(' ');
            scope.push_str(s);
        }
    }
    let max_age = options.max_age.map(uint);

    let mut pairs: Vec<(&str, &str)> = vec![
        ("response_type", "code"),
        ("client_id", &config.client_id),
        ("redirect_uri", redirect_uri),
        ("scope", &scope),
        ("state", &state),
        ("nonce", &nonce),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
    ];
    let optional = [
        ("prompt", options.prompt.as_deref()),
        ("login_hint", options.login_hint.as_deref()),
        ("max_age", max_age.as_deref()),
        ("ui_locales", options.ui_locales.as_deref()),
    ];
    for &(k, v) in &optional {
        if let Some(v) = v {
            pairs.push((k, v));
        }
    }
    let no_extra = Vec::new();
    for (k, v) in options.extra_params.as_ref().unwrap_or(&no_extra) {
        if k.is_empty() || RESERVED.contains(&k.as_str()) {
            return Err(ErrorKind::ConfigInvalid {
                field: "extraParams",
                reason: "may not set a protocol parameter",
            }
            .into());
        }
        pairs.push((k, v));
    }
    let url = with_query(provider.authorization_endpoint(), &form_encode(&pairs));
    let pending = PendingSignIn {
        state,
        nonce,
        verifier,
        redirect_uri: redirect_uri.to_owned(),
        return_to,
        max_age: options.max_age,
        created_at: now,
    };
    Ok((url, pending))
}

/// Whether a failed silent sign-in (`prompt=none`) only means "no provider session the user can
/// resume without a form": the bootstrap then ends `SignedOut` and a sign-in card shows its form,
/// both without an error. The one definition every caller uses.
///
/// Everything else is reported, a timeout above all: the iframe never came back, which is
/// what an unregistered silent redirect URI or a provider error page looks like.
pub fn silent_failure_is_quiet(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Provider { error, .. } if matches!(
        error.as_str(),
        "login_required" | "consent_required" | "interaction_required" | "account_selection_required"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::discovery::tests::{config, provider};
    use crate::core::url::parse_query;

    fn entropy() -> Entropy {
        let mut b = [0u8; 96];
        b.iter_mut().enumerate().for_each(|(i, x)| *x = i as u8);
        let drawn = Entropy::from_bytes(b);
        let digest = sha256(drawn.verifier().secret());
        drawn.hashed(digest)
    }

    fn sha256(text: &str) -> crate::core::pkce::Sha256 {
        use sha2::Digest;
        sha2::Sha256::digest(text.as_bytes()).into()
    }

    fn query_of(url: &str) -> Vec<(String, String)> {
        parse_query(url.split_once('?').unwrap().1)
    }

    fn get<'a>(q: &'a [(String, String)], k: &str) -> Option<&'a str> {
        q.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }

    #[test]
    fn builds_a_code_pkce_request() {
        let opts = SignInOptions {
            return_to: Some("/orders?id=7".into()),
            prompt: Some("login".into()),
            login_hint: Some("a@b.example".into()),
            max_age: Some(600),
            ui_locales: Some("fr de".into()),
            scopes: Some(vec!["email".into(), "offline_access".into()]),
            extra_params: Some(vec![("kc_idp_hint".into(), "github".into())]),
            replace: true,
        };
        let (url, pending) =
            authorization_request(&config(), &provider(), &opts, &entropy(), 1000).unwrap();
        assert!(url.starts_with("https://op.example/auth?"));
        let q = query_of(&url);
        assert_eq!(
            get(&q, "replace"),
            None,
            "a navigation option, not a parameter"
        );
        assert_eq!(get(&q, "response_type"), Some("code"));
        assert_eq!(get(&q, "client_id"), Some("app"));
        assert_eq!(get(&q, "redirect_uri"), Some("https://app.example/"));
        assert_eq!(get(&q, "scope"), Some("openid email offline_access"));
        assert_eq!(get(&q, "code_challenge_method"), Some("S256"));
        assert_eq!(
            get(&q, "code_challenge"),
            Some(b64url(&sha256(pending.verifier.secret())).as_str())
        );
        assert_eq!(get(&q, "state"), Some(pending.state.as_str()));
        assert_eq!(get(&q, "nonce"), Some(pending.nonce.as_str()));
        assert_eq!(get(&q, "prompt"), Some("login"));
        assert_eq!(get(&q, "login_hint"), Some("a@b.example"));
        assert_eq!(get(&q, "max_age"), Some("600"));
        assert_eq!(get(&q, "ui_locales"), Some("fr de"));
        assert_eq!(get(&q, "kc_idp_hint"), Some("github"));
        assert!(
            !url.contains(pending.verifier.secret()),
            "the verifier never leaves the browser"
        );
        assert_eq!(pending.verifier.secret().len(), 43);
        assert_ne!(pending.state, pending.nonce);
        assert_eq!(pending.return_to.as_deref(), Some("/orders?id=7"));
        assert_eq!(pending.max_age, Some(600));
    }

    #[test]
    fn default_scopes_and_no_optional_parameters() {
        let (url, _) = authorization_request(
            &config(),
            &provider(),
            &SignInOptions::default(),
            &entropy(),
            0,
        )
        .unwrap();
        let q = query_of(&url);
        assert_eq!(get(&q, "scope"), Some("openid profile email"));
        for k in ["prompt", "login_hint", "max_age", "ui_locales"] {
            assert_eq!(get(&q, k), None, "{k}");
        }
    }

    #[test]
    fn extra_params_cannot_override_protocol_parameters() {
        for k in [
            "state",
            "nonce",
            "code_challenge",
            "redirect_uri",
            "response_type",
            "client_id",
            "scope",
            "",
        ] {
            let opts = SignInOptions {
                extra_params: Some(vec![(k.into(), "x".into())]),
                ..Default::default()
            };
            let r = authorization_request(&config(), &provider(), &opts, &entropy(), 0);
            assert!(
                matches!(
                    r.as_ref().map_err(|e| e.kind()),
                    Err(ErrorKind::ConfigInvalid {
                        field: "extraParams",
                        ..
                    })
                ),
                "{k}"
            );
        }
    }

    #[test]
    fn hostile_return_to_is_refused_before_anything_is_built() {
        let opts = SignInOptions {
            return_to: Some("//evil.example".into()),
            ..Default::default()
        };
        let r = authorization_request(&config(), &provider(), &opts, &entropy(), 0);
        assert!(matches!(
            r.as_ref().map_err(|e| e.kind()),
            Err(ErrorKind::ReturnToInvalid)
        ));
    }

    #[test]
    fn authorization_endpoint_with_a_query_keeps_it() {
        let mut p = provider();
        p.metadata.authorization_endpoint = Some("https://op.example/auth?tenant=x".into());
        let (url, _) =
            authorization_request(&config(), &p, &SignInOptions::default(), &entropy(), 0).unwrap();
        assert!(url.starts_with("https://op.example/auth?tenant=x&response_type=code&"));
    }

    #[test]
    fn pending_sign_ins_round_trip_and_refuse_a_weak_verifier() {
        let (_, p) = authorization_request(
            &config(),
            &provider(),
            &SignInOptions::default(),
            &entropy(),
            7,
        )
        .unwrap();
        let back: PendingSignIn = crate::core::json::decode(&p.to_json(), "pending").unwrap();
        assert_eq!(
            (back.state, back.nonce, back.created_at),
            (p.state, p.nonce, 7)
        );
        assert_eq!(back.verifier.secret(), p.verifier.secret());
        let weak =
            r#"{"state":"s","nonce":"n","verifier":"short","redirect_uri":"r","created_at":1}"#;
        assert!(crate::core::json::decode::<PendingSignIn>(weak, "pending").is_err());
    }

    #[test]
    fn silent_requests_use_prompt_none_and_the_silent_redirect_uri() {
        let mut c = config();
        c.silent_redirect_uri = "https://app.example/silent.html".into();
        let (url, p) = silent_request(&c, &provider(), &entropy(), 5).unwrap();
        let q = query_of(&url);
        assert_eq!(get(&q, "prompt"), Some("none"));
        assert_eq!(
            get(&q, "redirect_uri"),
            Some("https://app.example/silent.html")
        );
        assert_eq!(
            p.redirect_uri, "https://app.example/silent.html",
            "the token request repeats it"
        );
    }

    #[test]
    fn pending_sign_ins_expire() {
        let (_, p) = authorization_request(
            &config(),
            &provider(),
            &SignInOptions::default(),
            &entropy(),
            1000,
        )
        .unwrap();
        assert!(!p.is_expired(1000 + PENDING_LIFETIME));
        assert!(p.is_expired(1001 + PENDING_LIFETIME));
    }

    #[test]
    fn quiet_silent_answers_are_the_four_prompt_none_codes() {
        let provider = |c: &str| -> Error {
            ErrorKind::Provider {
                error: c.into(),
                description: Some("x".into()),
            }
            .into()
        };
        for quiet in [
            "login_required",
            "consent_required",
            "interaction_required",
            "account_selection_required",
        ] {
            assert!(silent_failure_is_quiet(&provider(quiet)), "{quiet}");
        }
        for loud in [
            provider("access_denied"),
            provider("invalid_request"),
            provider("server_error"),
            ErrorKind::Timeout {
                what: "silent sign-in",
            }
            .into(),
            ErrorKind::StateMismatch.into(),
            ErrorKind::Network { detail: "x".into() }.into(),
        ] {
            assert!(!silent_failure_is_quiet(&loud), "{loud:?}");
        }
    }
}
