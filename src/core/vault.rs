//! The token vault's protocol: the messages between a page and the service worker that holds
//! the tokens. Flat JSON texts with a version; the worker answers its own origin only, and
//! nothing it sends to a page carries a refresh token.
//!
//! A page sends a [`Request`]: what it wants ([`Op`]) and the configuration the worker needs to
//! act for it (issuer, client, redirect URI, scopes, validation settings). The worker checks that
//! configuration as the page did (`Config::new`), so a request names a vault entry (per issuer
//! and client id) but cannot point a refresh token anywhere but the issuer's discovered token
//! endpoint. It answers with a [`Reply`].

use crate::core::authorize::PendingSignIn;
use crate::core::config::{BrowserConfig, ConfigInput, StorageKind};
use crate::core::error::{Error, ErrorKind};
use crate::core::json::{decode, Field, Fields, FromJson, Writer};
use crate::core::secret::AuthorizationCode;
use crate::core::session::StoredSession;

/// The protocol version. A page and a worker of different versions refuse each other's
/// messages with `vault_unavailable` (the page then re-registers the worker), never guess.
pub const VERSION: u64 = 1;

/// What a page asks the vault.
#[derive(Debug)]
pub enum Op {
    /// The stored session (without its refresh token), or signed out.
    Session,
    /// A fresh access token: the stored one, or one refresh for every tab.
    Token,
    /// Redeem a sign-in's authorization code (the page checked `state` and `iss`).
    Redeem {
        /// The authorization code.
        code: AuthorizationCode,
        /// The sign-in it answers (PKCE verifier, nonce, redirect URI, `max_age`).
        pending: PendingSignIn,
        /// A silent re-sign-in of this subject must return the same one.
        previous_sub: Option<String>,
    },
    /// Revoke the refresh token and forget the session (every tab).
    SignOut,
}

/// A page's message to the vault.
#[derive(Debug)]
pub struct Request {
    /// What it asks.
    pub op: Op,
    /// The client configuration, to be checked again by the worker.
    pub config: ConfigInput,
}

/// The worker's answer.
#[derive(Debug)]
pub enum Reply {
    /// Signed in: the session without its refresh token.
    Session(StoredSession),
    /// No session.
    SignedOut,
    /// The request failed; `ended` when the session is gone because of it.
    Failed {
        /// The error's stable code.
        code: String,
        /// Its message (never a secret: the crate's messages carry none).
        message: String,
        /// The vault no longer holds a session.
        ended: bool,
    },
}

/// True when a message from `sender_origin` may be answered by a worker of `own_origin`:
/// exactly the same origin (an opaque `null` origin never matches).
pub fn sender_allowed(sender_origin: &str, own_origin: &str) -> bool {
    !own_origin.is_empty() && own_origin != "null" && sender_origin == own_origin
}

fn op_name(op: &Op) -> &'static str {
    match op {
        Op::Session => "session",
        Op::Token => "token",
        Op::Redeem { .. } => "redeem",
        Op::SignOut => "signOut",
    }
}

/// The message a page sends for `op` under `config`.
pub fn request_text(op: &Op, config: &BrowserConfig) -> String {
    let mut w = Writer::default()
        .opt_uint("v", Some(VERSION))
        .str("op", op_name(op))
        .str("issuer", &config.issuer)
        .str("client_id", &config.client_id)
        .str("redirect_uri", &config.redirect_uri)
        .strs("scopes", &config.scopes)
        .opt_uint("clock_skew", Some(config.clock_skew))
        .strs("trusted_audiences", &config.trusted_audiences)
        .opt_uint("refresh_margin", Some(config.refresh_margin));
    if let Op::Redeem {
        code,
        pending,
        previous_sub,
    } = op
    {
        w = w
            .str("code", code.secret())
            .str("pending", &pending.to_json())
            .opt_str("previous_sub", previous_sub.as_deref());
    }
    w.finish()
}

/// Just the version, read before anything else so that a newer page's message is refused as
/// such and not as a malformed one.
struct Versioned(Option<u64>);

impl FromJson for Versioned {
    fn read(f: &Fields<'_>) -> Field<Self> {
        f.done(Self(f.uint("v")))
    }
}

fn version_mismatch() -> Error {
    ErrorKind::VaultUnavailable {
        reason: "the page and the service worker speak different protocol versions",
    }
    .into()
}

impl FromJson for Request {
    fn read(f: &Fields<'_>) -> Field<Self> {
        let op = match f.req_str("op").as_str() {
            "session" => Op::Session,
            "token" => Op::Token,
            "signOut" => Op::SignOut,
            "redeem" => {
                let pending = match decode::<PendingSignIn>(&f.req_str("pending"), "pending") {
                    Ok(p) => p,
                    Err(_) => return Err("pending"),
                };
                Op::Redeem {
                    code: AuthorizationCode::new(f.req_str("code")),
                    pending,
                    previous_sub: f.str("previous_sub"),
                }
            }
            _ => return Err("op"),
        };
        let config = ConfigInput {
            issuer: f.req_str("issuer"),
            client_id: f.req_str("client_id"),
            redirect_uri: f.req_str("redirect_uri"),
            scopes: Some(f.strs("scopes", false).unwrap_or_else(|| f.fail("scopes"))),
            // The worker keeps nothing in Web Storage (it has none): the vault is its store.
            storage: Some(StorageKind::Memory),
            clock_skew_seconds: f
                .uint("clock_skew")
                .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
            trusted_audiences: f.strs("trusted_audiences", false),
            // The worker renews on request only: pages run the timers (a worker's own timers
            // die with it when the browser stops it).
            auto_refresh: Some(false),
            refresh_margin_seconds: f.uint("refresh_margin"),
            // No iframe in a worker: a silent sign-in is the page's.
            silent_sso: Some(false),
            ..ConfigInput::default()
        };
        f.done(Self { op, config })
    }
}

/// Reads a page's message. Refused: another protocol version, malformed text, an unknown
/// operation.
pub fn parse_request(text: &str) -> Result<Request, Error> {
    let v = decode::<Versioned>(text, "vault request")?;
    if v.0 != Some(VERSION) {
        return Err(version_mismatch());
    }
    decode(text, "vault request")
}

/// The worker's answer as text. A session goes out without its refresh token, whatever the
/// caller passed.
pub fn reply_text(reply: &Reply) -> String {
    let w = Writer::default().opt_uint("v", Some(VERSION));
    match reply {
        Reply::Session(s) => {
            let for_page = StoredSession {
                refresh_token: None,
                ..s.clone()
            };
            w.str("session", &for_page.to_json()).finish()
        }
        Reply::SignedOut => w.str("signed_out", "1").finish(),
        Reply::Failed {
            code,
            message,
            ended,
        } => w
            .str("error", code)
            .str("message", message)
            .opt_str("ended", ended.then_some("1"))
            .finish(),
    }
}

impl FromJson for Reply {
    fn read(f: &Fields<'_>) -> Field<Self> {
        if let Some(code) = f.str("error") {
            let reply = Reply::Failed {
                code,
                message: f.str("message").unwrap_or_default(),
                ended: f.str("ended").is_some(),
            };
            return f.done(reply);
        }
        if let Some(s) = f.str("session") {
            return match decode::<StoredSession>(&s, "vault session") {
                // A page never holds a refresh token, even if a worker sent one.
                Ok(s) => f.done(Reply::Session(StoredSession {
                    refresh_token: None,
                    ..s
                })),
                Err(_) => Err("session"),
            };
        }
        match f.str("signed_out") {
            Some(_) => f.done(Reply::SignedOut),
            None => Err("signed_out"),
        }
    }
}

/// Reads the worker's answer. Refused: another protocol version, malformed text.
pub fn parse_reply(text: &str) -> Result<Reply, Error> {
    let v = decode::<Versioned>(text, "vault reply")?;
    if v.0 != Some(VERSION) {
        return Err(version_mismatch());
    }
    decode(text, "vault reply")
}

/// The page's error for a failed vault reply: the worker's code and message, unchanged.
pub fn relayed(code: String, message: String) -> Error {
    ErrorKind::Vault { code, message }.into()
}

/// Whether the worker may redeem a code for `pending`: only a sign-in of this configuration,
/// whose redirect URI is the configured one or the silent one, and that has not expired. A
/// script elsewhere on the origin could otherwise hand the worker a code and PKCE pair of its
/// own account, and plant that session for every tab.
pub fn redeem_allowed(
    pending: &PendingSignIn,
    config: &BrowserConfig,
    now: u64,
) -> Result<(), Error> {
    let ours = pending.redirect_uri == config.redirect_uri
        || (config.silent_sso && pending.redirect_uri == config.silent_redirect_uri);
    if !ours {
        return Err(ErrorKind::VaultUnavailable {
            reason: "the sign-in to redeem is not one of this configuration's redirect URIs",
        }
        .into());
    }
    if pending.is_expired(now) {
        return Err(ErrorKind::SignInExpired.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::Config;
    use crate::core::secret::{AccessToken, IdToken, PkceVerifier, RefreshToken};

    const APP: &str = "http://127.0.0.1:8080";

    fn config() -> BrowserConfig {
        let input = ConfigInput {
            issuer: "https://op.example".into(),
            client_id: "app".into(),
            redirect_uri: "http://127.0.0.1:8080/cb".into(),
            scopes: Some(vec!["offline_access".into(), "api".into()]),
            trusted_audiences: Some(vec!["https://api.example".into()]),
            clock_skew_seconds: Some(30),
            refresh_margin_seconds: Some(10),
            storage: Some(StorageKind::Local),
            silent_sso: Some(true),
            ..Default::default()
        };
        match Config::new(input, APP) {
            Ok(Config::Browser(c)) => c,
            other => panic!("{other:?}"),
        }
    }

    fn session() -> StoredSession {
        StoredSession {
            access_token: AccessToken::new("at-123".into()),
            refresh_token: Some(RefreshToken::new("rt-SECRET-456".into())),
            id_token: IdToken::new("h.p.s".into()),
            expires_at: Some(1_700_000_100),
            issued_at: Some(1_700_000_000),
            scope: Some("openid api".into()),
            userinfo: None,
            sub: "alice".into(),
        }
    }

    #[test]
    fn only_the_own_origin_is_answered() {
        assert!(sender_allowed(APP, APP));
        assert!(!sender_allowed("http://127.0.0.1:8081", APP));
        assert!(!sender_allowed("http://localhost:8080", APP));
        assert!(!sender_allowed("", APP));
        assert!(!sender_allowed("null", "null"));
        assert!(!sender_allowed("", ""));
    }

    #[test]
    fn a_request_carries_the_config_the_worker_checks_again() {
        let text = request_text(&Op::Token, &config());
        let r = parse_request(&text).unwrap();
        assert!(matches!(r.op, Op::Token));
        let c = match Config::new(r.config, APP) {
            Ok(Config::Browser(c)) => c,
            other => panic!("{other:?}"),
        };
        let page = config();
        assert_eq!(c.issuer, page.issuer);
        assert_eq!(c.client_id, page.client_id);
        assert_eq!(c.redirect_uri, page.redirect_uri);
        assert_eq!(c.scopes, page.scopes);
        assert_eq!(c.trusted_audiences, page.trusted_audiences);
        assert_eq!(c.clock_skew, 30);
        assert_eq!(c.refresh_margin, 10);
        // What only a page can do or keep is off in the worker.
        assert_eq!(c.storage, StorageKind::Memory);
        assert!(!c.silent_sso);
        assert!(!c.auto_refresh);
        assert!(c.token_vault.is_none());
    }

    #[test]
    fn a_redeem_request_round_trips_code_and_pending_sign_in() {
        let pending = PendingSignIn {
            state: "st".into(),
            nonce: "no".into(),
            verifier: PkceVerifier::parse(&"v".repeat(43)).unwrap(),
            redirect_uri: "http://127.0.0.1:8080/cb".into(),
            return_to: Some("/x".into()),
            max_age: Some(60),
            created_at: 1_700_000_000,
        };
        let op = Op::Redeem {
            code: AuthorizationCode::new("the-code".into()),
            pending,
            previous_sub: Some("alice".into()),
        };
        let r = parse_request(&request_text(&op, &config())).unwrap();
        match r.op {
            Op::Redeem {
                code,
                pending,
                previous_sub,
            } => {
                assert_eq!(code.secret(), "the-code");
                assert_eq!(pending.nonce, "no");
                assert_eq!(pending.verifier.secret(), "v".repeat(43));
                assert_eq!(pending.max_age, Some(60));
                assert_eq!(previous_sub.as_deref(), Some("alice"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn other_versions_and_malformed_requests_are_refused() {
        let text = request_text(&Op::Session, &config());
        let v2 = text.replacen("\"v\":1", "\"v\":2", 1);
        assert_eq!(parse_request(&v2).unwrap_err().code(), "vault_unavailable");
        let unversioned = text.replacen("\"v\":1,", "", 1);
        assert_eq!(
            parse_request(&unversioned).unwrap_err().code(),
            "vault_unavailable"
        );
        let unknown = text.replacen("\"session\"", "\"export\"", 1);
        assert_eq!(
            parse_request(&unknown).unwrap_err().code(),
            "invalid_response"
        );
        // Duplicate members are refused by the strict reader: no smuggled second `op`.
        let twice = text.replacen(
            "\"op\":\"session\"",
            "\"op\":\"session\",\"op\":\"token\"",
            1,
        );
        assert!(parse_request(&twice).is_err());
        assert!(parse_request("<html>").is_err());
        assert!(parse_request("[1]").is_err());
        let bad_pending = text.replacen("\"session\"", "\"redeem\"", 1).replacen(
            "}",
            ",\"code\":\"c\",\"pending\":\"{}\"}",
            1,
        );
        assert!(parse_request(&bad_pending).is_err());
    }

    #[test]
    fn no_refresh_token_ever_reaches_a_page() {
        let text = reply_text(&Reply::Session(session()));
        assert!(!text.contains("rt-SECRET-456"), "{text}");
        match parse_reply(&text).unwrap() {
            Reply::Session(s) => {
                assert!(s.refresh_token.is_none());
                assert_eq!(s.access_token.secret(), "at-123");
                assert_eq!(s.sub, "alice");
                assert_eq!(s.expires_at, Some(1_700_000_100));
            }
            other => panic!("{other:?}"),
        }
        // A reply that carries one anyway (a foreign worker) is read without it.
        let smuggled = Writer::default()
            .opt_uint("v", Some(VERSION))
            .str("session", &session().to_json())
            .finish();
        match parse_reply(&smuggled).unwrap() {
            Reply::Session(s) => assert!(s.refresh_token.is_none()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn replies_round_trip() {
        assert!(matches!(
            parse_reply(&reply_text(&Reply::SignedOut)).unwrap(),
            Reply::SignedOut
        ));
        let failed = Reply::Failed {
            code: "invalid_grant".into(),
            message: "the grant was revoked".into(),
            ended: true,
        };
        match parse_reply(&reply_text(&failed)).unwrap() {
            Reply::Failed {
                code,
                message,
                ended,
            } => {
                assert_eq!(code, "invalid_grant");
                assert_eq!(message, "the grant was revoked");
                assert!(ended);
            }
            other => panic!("{other:?}"),
        }
        let e = relayed("network".into(), "offline".into());
        assert_eq!(e.code(), "network");
        assert_eq!(
            parse_reply("{\"v\":9}").unwrap_err().code(),
            "vault_unavailable"
        );
        assert!(parse_reply("{\"v\":1}").is_err());
    }

    #[test]
    fn the_worker_redeems_only_this_configurations_sign_ins() {
        let c = config();
        let pending = |redirect_uri: &str, created_at: u64| PendingSignIn {
            state: "s".into(),
            nonce: "n".into(),
            verifier: crate::core::secret::PkceVerifier::parse(&"v".repeat(43)).unwrap(),
            redirect_uri: redirect_uri.into(),
            return_to: None,
            max_age: None,
            created_at,
        };
        let now = 1_700_000_000;
        assert!(redeem_allowed(&pending(&c.redirect_uri, now), &c, now).is_ok());
        assert!(redeem_allowed(&pending(&c.silent_redirect_uri, now), &c, now).is_ok());
        for other in [
            "http://127.0.0.1:8080/other/cb",
            "http://127.0.0.1:8080/cb?x",
            "https://evil.example/cb",
        ] {
            assert_eq!(
                redeem_allowed(&pending(other, now), &c, now)
                    .unwrap_err()
                    .code(),
                "vault_unavailable",
                "{other}"
            );
        }
        assert_eq!(
            redeem_allowed(&pending(&c.redirect_uri, now - 86_400), &c, now)
                .unwrap_err()
                .code(),
            "sign_in_expired"
        );
    }
}
