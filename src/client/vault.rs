//! The service-worker token vault, both sides.
//!
//! Page side (methods of a page's `BrowserClient` whose config has a `token_vault`): register
//! the worker, ask it for the session at bootstrap, hand it each sign-in's code, ask it for an
//! access token when the one in memory is due, and ask it to sign out. The page holds the access
//! token in memory and never a refresh token.
//!
//! Worker side (`VaultServer`): one `BrowserClient` per configuration, placed in the worker, whose
//! session lives in the vault's sealed IndexedDB store. It runs the same flows as a page would
//! (`redeem`, `refresh_now` under the cross-tab lock, revocation), so every tab's refresh is this
//! worker's one request, and the result is committed before anyone is answered: a page that
//! reloads in the middle gets it at its next question.

use super::browser_mode::{BrowserClient, Place};
use super::platform::{Area, Platform};
use super::{SignOutOptions, VaultStatus};
use crate::core::authorize::PendingSignIn;
use crate::core::config::{Config, VaultFallback};
use crate::core::error::{Error, ErrorKind};
use crate::core::secret::AuthorizationCode;
use crate::core::session::StoredSession;
use crate::core::vault::{
    parse_reply, parse_request, redeem_allowed, relayed, reply_text, request_text, sender_allowed,
    Op, Reply,
};
use std::cell::RefCell;
use std::rc::Rc;

/// How long a page waits for the vault's answer about the session (the worker may have to
/// start and load its wasm first), and for one that may include token requests, in ms.
const SESSION_MS: u32 = 10_000;
const REFRESH_MS: u32 = 30_000;

fn unexpected() -> Error {
    ErrorKind::InvalidResponse {
        what: "vault reply",
        reason: "an answer that does not fit the question".into(),
    }
    .into()
}

impl<P: Platform> BrowserClient<P> {
    /// At bootstrap: registers the vault's worker and loads the session it holds. Where the
    /// vault cannot run, falls back to the configured storage or refuses, as configured.
    pub(super) async fn connect_vault(&self) -> Result<(), Error> {
        if !self.may_connect_vault() {
            return Ok(());
        }
        let Some(config) = self.config().token_vault.clone() else {
            return Ok(());
        };
        let connected = match self.p().vault_register(&config.service_worker).await {
            // The first question proves the worker answers and speaks our version; only then
            // are the tokens the vault's.
            Ok(Some(registration)) => match self.ask(&registration, Op::Session).await {
                Ok(Reply::Session(s)) => {
                    *self.inner.session.borrow_mut() = Some(Rc::new(s));
                    Ok(registration)
                }
                Ok(Reply::SignedOut) => Ok(registration),
                Ok(Reply::Failed { code, message, .. }) => Err(relayed(code, message)),
                Err(e) => Err(e),
            },
            Ok(None) => Err(ErrorKind::VaultUnavailable {
                reason: "this browser has no service workers",
            }
            .into()),
            Err(e) => Err(e),
        };
        match connected {
            Ok(registration) => {
                self.use_vault(registration);
                self.inner.vault_status.set(VaultStatus::Active);
                // A session this page kept before the vault was turned on must not linger
                // where page script can read it.
                let key = self.key("session");
                self.p().remove(Area::Local, &key);
                self.p().remove(Area::Session, &key);
                let _ = self.p().idb_set(&key, None).await;
                Ok(())
            }
            // The page keeps the tokens as `BrowserConfig::page_storage` says without a vault.
            Err(e) => {
                self.inner.vault_status.set(VaultStatus::Unavailable);
                match config.when_unavailable {
                    VaultFallback::Refuse => Err(e),
                    _ => Ok(()),
                }
            }
        }
    }

    /// One question to the vault this page's tokens are with, and its checked answer.
    async fn vault_ask(&self, op: Op) -> Result<Reply, Error> {
        let registration = self.vault_link().ok_or(ErrorKind::VaultUnavailable {
            reason: "the service worker is not connected",
        })?;
        self.ask(&registration, op).await
    }

    /// One question to the vault of `registration`, and its checked answer.
    async fn ask(&self, registration: &P::Vault, op: Op) -> Result<Reply, Error> {
        // A question that may refresh waits as long as a token request may take; the others
        // are answered from the vault's store, once the worker has started.
        let ms = match op {
            Op::Session => SESSION_MS,
            _ => REFRESH_MS,
        };
        let text = self
            .p()
            .vault_ask(registration, &request_text(&op, self.config()), ms)
            .await?;
        parse_reply(&text)
    }

    /// The session the vault holds (another tab changed it), if it could be read.
    pub(super) async fn vault_session(&self) -> Option<StoredSession> {
        match self.vault_ask(Op::Session).await {
            Ok(Reply::Session(s)) => Some(s),
            _ => None,
        }
    }

    /// Hands a sign-in's code to the vault, which redeems and verifies it and keeps the tokens.
    pub(super) async fn vault_redeem(
        &self,
        code: AuthorizationCode,
        pending: &PendingSignIn,
        previous_sub: Option<&str>,
    ) -> Result<(), Error> {
        let op = Op::Redeem {
            code,
            pending: pending.clone(),
            previous_sub: previous_sub.map(str::to_owned),
        };
        match self.vault_ask(op).await? {
            Reply::Session(s) => {
                let expires_at = s.expires_at;
                self.save_session(s)?;
                if previous_sub.is_some() {
                    self.shared().refreshed(Ok(expires_at));
                }
                Ok(())
            }
            Reply::Failed { code, message, .. } => Err(relayed(code, message)),
            Reply::SignedOut => Err(unexpected()),
        }
    }

    /// Asks the vault for a fresh access token (it refreshes if due, once for every tab).
    pub(super) async fn vault_token(self) -> Result<(), Error> {
        self.inner.renewal.attempt_started(self.p().now());
        let before = self
            .inner
            .session
            .borrow()
            .as_ref()
            .and_then(|s| s.issued_at);
        let result = match self.vault_ask(Op::Token).await {
            Ok(Reply::Session(s)) => {
                let renewed = s.issued_at != before;
                let expires_at = s.expires_at;
                self.adopt(s);
                if renewed {
                    self.shared().refreshed(Ok(expires_at));
                }
                Ok(())
            }
            Ok(Reply::SignedOut) => {
                self.drop_session();
                Err(ErrorKind::NotSignedIn.into())
            }
            Ok(Reply::Failed {
                code,
                message,
                ended,
            }) => {
                if ended {
                    self.drop_session();
                }
                Err(relayed(code, message))
            }
            Err(e) => Err(e),
        };
        self.count_attempt(&result);
        result
    }

    /// Asks the vault to revoke the refresh token and forget the session for every tab.
    pub(super) async fn vault_sign_out(&self) -> Result<(), Error> {
        match self.vault_ask(Op::SignOut).await? {
            Reply::SignedOut => Ok(()),
            Reply::Failed { code, message, .. } => Err(relayed(code, message)),
            Reply::Session(_) => Err(unexpected()),
        }
    }

    /// What a vault answers about this (worker-side) client's session.
    fn vault_reply(&self) -> Reply {
        match self.inner.session.borrow().as_deref() {
            Some(s) => Reply::Session(s.clone()),
            None => Reply::SignedOut,
        }
    }
}

fn failed(e: &Error, ended: bool) -> Reply {
    Reply::Failed {
        code: e.code().to_owned(),
        message: e.message(),
        ended,
    }
}

/// The worker side: answers its origin's pages, one client per configuration.
pub(crate) struct VaultServer<P: Platform> {
    /// The worker's platform.
    platform: P,
    /// Keyed by the configuration's request text: pages with different settings for one
    /// issuer and client get their own checks, and share the session (keys and lock are per
    /// issuer and client).
    clients: RefCell<Vec<(String, BrowserClient<P>)>>,
}

impl<P: Platform + Default> Default for VaultServer<P> {
    fn default() -> Self {
        Self::new(P::default())
    }
}

impl<P: Platform> VaultServer<P> {
    /// A vault with no clients yet, on `platform` (a service worker's).
    pub(crate) fn new(platform: P) -> Self {
        Self {
            platform,
            clients: RefCell::default(),
        }
    }

    /// Answers one message from a page of `sender_origin`, as reply text.
    pub(crate) async fn handle(&self, text: &str, sender_origin: &str) -> String {
        let reply = match self.answer(text, sender_origin).await {
            Ok(r) => r,
            Err(e) => failed(&e, false),
        };
        reply_text(&reply)
    }

    async fn answer(&self, text: &str, sender_origin: &str) -> Result<Reply, Error> {
        let own = self.platform.origin()?;
        if !sender_allowed(sender_origin, &own) {
            return Err(ErrorKind::VaultUnavailable {
                reason: "the message is not from this origin",
            }
            .into());
        }
        let request = parse_request(text)?;
        let client = match Config::new(request.config, &own)? {
            Config::Browser(c) => self.client_for(c),
            Config::Server(_) => {
                return Err(ErrorKind::Unsupported {
                    what: "the token vault is for browser mode",
                }
                .into())
            }
        };
        // The sealed store, not memory, is the truth: this worker may have been stopped and
        // restarted, or another version of it may have written since.
        let stored = client.read_shared().await;
        *client.inner.session.borrow_mut() = stored.map(Rc::new);
        Ok(match request.op {
            Op::Session => client.vault_reply(),
            Op::Token => match client.access_token().await {
                Ok(_) => client.vault_reply(),
                Err(e) => failed(&e, client.inner.session.borrow().is_none()),
            },
            Op::Redeem {
                code,
                pending,
                previous_sub,
            } => {
                redeem_allowed(&pending, client.config(), self.platform.now())?;
                let provider = client.provider().await?;
                let body = client.code_body(&code, &pending);
                client
                    .redeem(
                        &provider,
                        body,
                        Some(&pending),
                        None,
                        previous_sub.as_deref(),
                    )
                    .await?;
                client.vault_reply()
            }
            Op::SignOut => {
                let local = SignOutOptions {
                    local_only: true,
                    return_to: None,
                };
                client.sign_out(local).await?;
                Reply::SignedOut
            }
        })
    }

    fn client_for(&self, config: crate::core::config::BrowserConfig) -> BrowserClient<P> {
        let key = request_text(&Op::Session, &config);
        if let Some((_, c)) = self.clients.borrow().iter().find(|(k, _)| *k == key) {
            return c.clone();
        }
        let client = BrowserClient::new(self.platform.clone(), config, Place::VaultWorker);
        client.open_channel();
        self.clients.borrow_mut().push((key, client.clone()));
        client
    }
}
