//! The page's location and history.

use crate::core::error::Error;

fn window() -> Result<web_sys::Window, Error> {
    web_sys::window().ok_or(Error::Unsupported { what: "no window" })
}

/// `location.href`.
pub fn href() -> Result<String, Error> {
    window()?.location().href().map_err(|_| Error::Unsupported {
        what: "location is unavailable",
    })
}

/// `location.origin`.
pub fn origin() -> Result<String, Error> {
    window()?
        .location()
        .origin()
        .map_err(|_| Error::Unsupported {
            what: "location.origin is unavailable",
        })
}

/// Replaces the current history entry's URL (same-origin path) without navigating.
pub fn replace_url(url: &str) {
    if let Ok(w) = window() {
        if let Ok(h) = w.history() {
            let _ = h.replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(url));
        }
    }
}

/// Navigates the page to `url` (the provider's authorization or end-session endpoint).
pub fn assign(url: &str) -> Result<(), Error> {
    window()?
        .location()
        .assign(url)
        .map_err(|_| Error::Unsupported {
            what: "navigation was refused",
        })
}
