//! A tiny key-value store in IndexedDB. Used where cross-tab consistency matters: a write whose
//! transaction completed is visible to any transaction another tab starts afterwards, which
//! localStorage does not guarantee (in Chromium a tab that takes a Web Lock right after another
//! tab wrote localStorage and released it can still read the old value).
//!
//! The IndexedDB calls live in `platform.js`: its request/event protocol is glue, which costs far
//! less as JS than as Rust closures (measured in ARCHITECTURE.md "Size").

use crate::browser::builtins::Promise;
use crate::browser::{describe, Call};
use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbGet)]
    fn idb_get(key: &str) -> Promise;
    #[wasm_bindgen(js_name = idbSet)]
    fn idb_set(key: &str, value: Option<&str>) -> Promise;
}

fn storage_err(e: JsValue) -> Error {
    ErrorKind::Storage {
        detail: describe(&e),
    }
    .into()
}

/// Reads `key` (a string value).
pub fn get(key: &str) -> Call<Option<String>> {
    Call::new(idb_get(key), |r| Ok(r.map_err(storage_err)?.as_string()))
}

/// Writes `key` (or deletes it for `None`) and waits until the transaction committed, so every
/// tab that looks afterwards sees it.
pub fn set(key: &str, value: Option<&str>) -> Call<()> {
    Call::new(idb_set(key, value), |r| r.map(drop).map_err(storage_err))
}
