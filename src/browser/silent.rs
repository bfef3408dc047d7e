//! The hidden iframe of silent SSO. Its answer is the silent page's URL, posted by that page to
//! its parent; `platform.js` accepts it only from our own origin, from that very iframe, and
//! only when it carries the pending `state`, and removes the iframe, the listener and the timer
//! on every way out (answer, timeout, error). The core then checks the response in full.

use crate::browser::builtins::Promise;
use crate::browser::Call;
use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = silentFrame)]
    fn silent_frame(url: &str, origin: &str, state: &str, ms: u32) -> Promise;
    #[wasm_bindgen(catch, js_name = notifyParent)]
    fn js_notify_parent() -> Result<(), JsValue>;
}

/// Loads `url` in a hidden iframe and waits for the silent page's URL carrying `state`.
pub fn run(url: &str, origin: &str, state: &str, timeout_ms: u32) -> Call<String> {
    Call::new(silent_frame(url, origin, state, timeout_ms), |r| {
        let answer = r.map_err(|_| ErrorKind::Unsupported {
            what: "cannot create the silent sign-in iframe",
        })?;
        // No answer in time: undefined.
        answer.as_string().ok_or_else(|| {
            ErrorKind::Timeout {
                what: "silent sign-in",
            }
            .into()
        })
    })
}

/// For the silent redirect page: hands this page's URL (with `code`/`error` and `state`) to the
/// parent window, on this origin only.
pub fn notify_parent() -> Result<(), Error> {
    js_notify_parent().map_err(|_| {
        ErrorKind::Unsupported {
            what: "not in an iframe",
        }
        .into()
    })
}
