//! Off `wasm32`: the stand-in engine. Its view stays `Loading`, it reads and writes nothing,
//! and every action fails with `unsupported`, so that component code shared with the server
//! half of an SSR app compiles and renders the loading state there.

use super::view::Observers;
use super::{RefreshHook, SignOutOptions, SignOutOutcome, VaultStatus, View};
use crate::core::authorize::SignInOptions;
use crate::core::config::{ConfigInput, Mode};
use crate::core::error::{Error, ErrorKind};
use crate::core::secret::AccessToken;
use std::future::Future;
use std::rc::Rc;

#[derive(Clone)]
pub(super) struct Engine {
    observers: Rc<Observers>,
    mode: Mode,
}

fn unsupported() -> Error {
    ErrorKind::Unsupported {
        what: "sessions run in the browser (wasm32); this build is the stand-in",
    }
    .into()
}

impl Engine {
    pub(super) fn new(input: ConfigInput) -> Result<Self, Error> {
        Ok(Self {
            observers: Observers::new(),
            mode: input.mode,
        })
    }

    pub(super) fn mode(&self) -> Mode {
        self.mode
    }

    pub(super) fn vault_status(&self) -> VaultStatus {
        VaultStatus::Off
    }

    pub(super) fn observers(&self) -> &Rc<Observers> {
        &self.observers
    }

    pub(super) fn on_refresh(&self, _hook: RefreshHook) {}

    pub(super) async fn bootstrap(&self) -> Rc<View> {
        self.observers.view()
    }

    pub(super) async fn retry(&self) -> Rc<View> {
        self.observers.view()
    }

    pub(super) async fn sign_in(&self, _options: SignInOptions) -> Result<(), Error> {
        Err(unsupported())
    }

    pub(super) async fn sign_in_silently(&self) -> Result<(), Error> {
        Err(unsupported())
    }

    pub(super) async fn access_token(&self) -> Result<AccessToken, Error> {
        Err(unsupported())
    }

    pub(super) async fn sign_out(&self, _options: SignOutOptions) -> Result<SignOutOutcome, Error> {
        Err(unsupported())
    }

    pub(super) async fn fetch_with<R, F, Fut>(
        &self,
        _to_backend: bool,
        _send: F,
    ) -> Result<R, Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(R, u16), Error>>,
    {
        Err(unsupported())
    }

    pub(super) fn csrf_header(&self) -> Option<(&str, &str, &str)> {
        None
    }
}
