//! A tiny key-value store in IndexedDB. Used where cross-tab consistency matters: a write whose
//! transaction completed is visible to any transaction another tab starts afterwards, which
//! localStorage does not guarantee (in Chromium a tab that takes a Web Lock right after another
//! tab wrote localStorage and released it can still read the old value).
//!
//! The IndexedDB calls live in `platform.js`: its request/event protocol is glue, which costs far
//! less as JS than as Rust closures (measured in ARCHITECTURE.md "Size").

use crate::browser::describe;
use crate::core::error::Error;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = idbGet)]
    fn idb_get(key: &str) -> Promise;
    #[wasm_bindgen(js_name = idbSet)]
    fn idb_set(key: &str, value: Option<&str>) -> Promise;
}

fn storage_err(e: JsValue) -> Error {
    Error::Storage {
        detail: describe(&e),
    }
}

/// Reads `key` (a string value).
pub async fn get(key: &str) -> Result<Option<String>, Error> {
    let v = JsFuture::from(idb_get(key)).await.map_err(storage_err)?;
    Ok(v.as_string())
}

/// Writes `key` (or deletes it for `None`) and waits until the transaction committed, so every
/// tab that looks afterwards sees it.
pub async fn set(key: &str, value: Option<&str>) -> Result<(), Error> {
    JsFuture::from(idb_set(key, value))
        .await
        .map_err(storage_err)
        .map(drop)
}
