//! The engine of one mode, over a platform (in the browser, `crate::browser::Browser`; in the
//! simulation, its in-memory origin). Each method dispatches to the mode's flows.

#[cfg(feature = "browser-mode")]
use super::browser_mode::{BrowserClient, Place};
use super::platform::Platform;
use super::server_mode::ServerClient;
use super::view::Observers;
use super::{RefreshHook, SignOutOptions, SignOutOutcome, VaultStatus, View};
use crate::core::authorize::SignInOptions;
use crate::core::config::{Config, ConfigInput, Mode};
use crate::core::error::{Error, ErrorKind};
use crate::core::secret::AccessToken;
use std::future::Future;
use std::rc::Rc;

pub(crate) enum Engine<P: Platform> {
    #[cfg(feature = "browser-mode")]
    Browser(BrowserClient<P>),
    Server(ServerClient<P>),
}

impl<P: Platform> Clone for Engine<P> {
    fn clone(&self) -> Self {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => Engine::Browser(b.clone()),
            Engine::Server(s) => Engine::Server(s.clone()),
        }
    }
}

impl<P: Platform> Engine<P> {
    pub(crate) fn new(platform: P, input: ConfigInput) -> Result<Self, Error> {
        Ok(match Config::new(input, &platform.origin()?)? {
            #[cfg(feature = "browser-mode")]
            Config::Browser(c) => Engine::Browser(BrowserClient::new(platform, c, Place::Page)),
            // A build without browser mode (the npm package's server-mode entry) refuses it.
            #[cfg(not(feature = "browser-mode"))]
            Config::Browser(_) => {
                return Err(ErrorKind::Unsupported {
                    what: "browser mode is not in this build, which has server mode only (the `browser-mode` feature is off)",
                }
                .into())
            }
            Config::Server(c) => Engine::Server(ServerClient::new(platform, c)),
        })
    }

    pub(crate) fn mode(&self) -> Mode {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(_) => Mode::Browser,
            Engine::Server(_) => Mode::Server,
        }
    }

    pub(crate) fn vault_status(&self) -> VaultStatus {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.inner.vault_status.get(),
            Engine::Server(_) => VaultStatus::Off,
        }
    }

    fn shared(&self) -> &super::shared::Shared<P> {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.shared(),
            Engine::Server(s) => s.shared(),
        }
    }

    pub(crate) fn observers(&self) -> &Rc<Observers> {
        &self.shared().observers
    }

    pub(crate) fn on_refresh(&self, hook: RefreshHook) {
        self.shared().set_hook(hook);
    }

    /// Runs the bootstrap once (see `Client::bootstrap`) and answers the view as it stands
    /// when the bootstrap has ended.
    pub(crate) async fn bootstrap(&self) -> Rc<View> {
        let me = self.clone();
        let run: super::shared::Boxed<Result<(), Error>> = match me {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => Box::pin(async move { b.run_bootstrap().await }),
            Engine::Server(s) => Box::pin(async move { s.run_bootstrap().await }),
        };
        let shared = self.shared();
        let _ = shared.boot.run(&shared.platform, true, run).await;
        self.observers().view()
    }

    pub(crate) async fn retry(&self) -> Rc<View> {
        self.shared().boot.reset();
        self.bootstrap().await
    }

    pub(crate) async fn sign_in(&self, options: SignInOptions) -> Result<(), Error> {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.sign_in(options).await,
            Engine::Server(s) => s.sign_in(options),
        }
    }

    pub(crate) async fn sign_in_silently(&self) -> Result<(), Error> {
        self.bootstrap().await;
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.sign_in_silently().await,
            Engine::Server(_) => Err(ErrorKind::Unsupported {
                what: "silent sign-in is for browser mode; in server mode the backend holds the session",
            }
            .into()),
        }
    }

    pub(crate) async fn access_token(&self) -> Result<AccessToken, Error> {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.access_token().await,
            Engine::Server(_) => Err(ErrorKind::Unsupported {
                what: "in server mode the backend holds the tokens and the browser never sees one",
            }
            .into()),
        }
    }

    pub(crate) async fn sign_out(&self, options: SignOutOptions) -> Result<SignOutOutcome, Error> {
        let result = match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(b) => b.sign_out(options).await,
            Engine::Server(s) => s.sign_out(options).await,
        };
        // A sign-out that failed reaches the view like every other failure (a button that
        // started it need not report it itself); the session, and the status, stand.
        if let Err(e) = &result {
            let v = self.observers().view();
            self.observers()
                .set(v.status, v.user.clone(), Some(e.clone()));
        }
        result
    }

    pub(crate) async fn fetch_with<R, F, Fut>(&self, to_backend: bool, send: F) -> Result<R, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(R, u16), Error>>,
    {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(_) => Err(ErrorKind::Unsupported {
                what: "fetching through the backend is for server mode; in browser mode send the access token",
            }
            .into()),
            Engine::Server(s) => s.fetch_with(to_backend, send).await,
        }
    }

    pub(crate) fn csrf_header(&self) -> Option<(&str, &str, &str)> {
        match self {
            #[cfg(feature = "browser-mode")]
            Engine::Browser(_) => None,
            Engine::Server(s) => {
                let c = s.config();
                Some((&c.csrf_name, &c.csrf_value, &c.origin))
            }
        }
    }
}
