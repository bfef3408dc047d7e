//! The token vault's platform calls. Page side: register the worker script and ask it (a
//! MessageChannel per request). Worker side: the sealed key-value store in the vault's own
//! IndexedDB database. The calls live in `platform.js`; what is asked, stored and answered is
//! decided in `core::vault` and `client::vault`.

use crate::browser::builtins::Promise;
use crate::browser::{describe, Call};
use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = vaultRegister)]
    fn vault_register(url: &str) -> Promise;
    #[wasm_bindgen(js_name = vaultAsk)]
    fn vault_ask(registration: &JsValue, text: &str, ms: u32) -> Promise;
    #[wasm_bindgen(js_name = sealedGet)]
    fn sealed_get(key: &str) -> Promise;
    #[wasm_bindgen(js_name = sealedSet)]
    fn sealed_set(key: &str, value: Option<&str>) -> Promise;
}

/// A service-worker registration of the vault's script.
#[derive(Clone)]
pub struct Registration(JsValue);

/// Registers the worker script at `url`. `Ok(None)`: this browser has no service workers.
pub fn register(url: &str) -> Call<Option<Registration>> {
    Call::new(vault_register(url), |r| match r {
        Ok(v) if v.is_undefined() || v.is_null() => Ok(None),
        Ok(v) => Ok(Some(Registration(v))),
        Err(_) => Err(ErrorKind::VaultUnavailable {
            reason: "the service worker could not be registered",
        }
        .into()),
    })
}

/// Sends `text` to the vault's worker and waits up to `ms` for its reply text.
pub fn ask(registration: &Registration, text: &str, ms: u32) -> Call<String> {
    Call::new(vault_ask(&registration.0, text, ms), |r| {
        r.ok().and_then(|v| v.as_string()).ok_or_else(|| {
            ErrorKind::VaultUnavailable {
                reason: "the service worker did not answer",
            }
            .into()
        })
    })
}

fn storage_err(e: JsValue) -> Error {
    ErrorKind::Storage {
        detail: describe(&e),
    }
    .into()
}

/// Worker side: the value sealed under `key`, if any.
pub fn get(key: &str) -> Call<Option<String>> {
    Call::new(sealed_get(key), |r| Ok(r.map_err(storage_err)?.as_string()))
}

/// Worker side: seals `value` under `key` (deletes it for `None`) and waits for the commit.
pub fn set(key: &str, value: Option<&str>) -> Call<()> {
    Call::new(sealed_set(key, value), |r| r.map(drop).map_err(storage_err))
}
