//! Web Storage by key, as strings. `Memory` keeps nothing: the caller holds the value. The
//! calls live in `platform.js`.

use crate::browser::describe;
use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = storeGet)]
    fn store_get(local: bool, key: &str) -> Option<String>;
    #[wasm_bindgen(catch, js_name = storeSet)]
    fn store_set(local: bool, key: &str, value: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = storeRemove)]
    fn store_remove(local: bool, key: &str);
    #[wasm_bindgen(js_name = storeKeys)]
    fn store_keys(local: bool, prefix: &str) -> crate::browser::builtins::Array;
}

pub(crate) use crate::client::platform::Area;

impl Area {
    fn local(self) -> bool {
        self == Self::Local
    }

    /// Reads a key. A storage that cannot be opened reads as empty.
    pub fn get(self, key: &str) -> Option<String> {
        store_get(self.local(), key)
    }

    /// Writes a key.
    pub fn set(self, key: &str, value: &str) -> Result<(), Error> {
        store_set(self.local(), key, value).map_err(|e| {
            ErrorKind::Storage {
                detail: describe(&e),
            }
            .into()
        })
    }

    /// Removes a key (absent keys are fine).
    pub fn remove(self, key: &str) {
        store_remove(self.local(), key);
    }

    /// All keys that start with `prefix`.
    pub fn keys_with_prefix(self, prefix: &str) -> Vec<String> {
        let keys = store_keys(self.local(), prefix);
        let mut out = Vec::new();
        for i in 0..keys.length() {
            if let Some(k) = keys.get(i).as_string() {
                out.push(k);
            }
        }
        out
    }
}
