//! The page's location and history. The calls live in `platform.js`.

use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = href)]
    fn js_href() -> Result<String, JsValue>;
    #[wasm_bindgen(catch, js_name = origin)]
    fn js_origin() -> Result<String, JsValue>;
    #[wasm_bindgen(catch, js_name = assign)]
    fn js_assign(url: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = replace)]
    fn js_replace(url: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = replaceUrl)]
    fn js_replace_url(url: &str) -> Result<(), JsValue>;
}

/// `location.href`.
pub fn href() -> Result<String, Error> {
    js_href().map_err(|_| {
        ErrorKind::Unsupported {
            what: "location is unavailable",
        }
        .into()
    })
}

/// `location.origin`.
pub fn origin() -> Result<String, Error> {
    js_origin().map_err(|_| {
        ErrorKind::Unsupported {
            what: "location.origin is unavailable",
        }
        .into()
    })
}

/// Replaces the current history entry's URL (same-origin path) without navigating; the entry's
/// state (a router's) is kept.
pub fn replace_url(url: &str) {
    let _ = js_replace_url(url);
}

/// Navigates the page to `url`, in place of the current history entry when `replace`.
pub fn leave(url: &str, replace: bool) -> Result<(), Error> {
    let done = if replace {
        js_replace(url)
    } else {
        js_assign(url)
    };
    done.map_err(|_| {
        ErrorKind::Unsupported {
            what: "navigation was refused",
        }
        .into()
    })
}
