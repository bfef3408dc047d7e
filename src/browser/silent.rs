//! The hidden iframe of silent SSO. `platform.js` only creates the iframe and forwards every
//! message this window receives while it is open; which message is the answer (from our own
//! origin, from that very iframe, carrying the pending `state`) is decided by the core
//! (`callback::silent_answer`). The iframe, the listener and the timer are guards: removed on
//! every way out, including when the flow's future is dropped.

use crate::browser::builtins::{Array, Function};
use crate::browser::oneshot;
use crate::browser::timer::timeout;
use crate::core::callback::silent_answer;
use crate::core::error::{Error, ErrorKind};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = silentFrame)]
    fn silent_frame(url: &str, on_message: &JsValue) -> Result<Function, JsValue>;
    #[wasm_bindgen(catch, js_name = notifyParent)]
    fn js_notify_parent() -> Result<(), JsValue>;
}

/// The iframe and its message listener; dropping it removes both.
struct Frame {
    close: Function,
    _listener: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Frame {
    fn drop(&mut self) {
        let _ = self.close.call1(&JsValue::NULL, &JsValue::UNDEFINED);
    }
}

/// Loads `url` in a hidden iframe and waits, at most `timeout_ms`, for the silent page's URL
/// carrying `state`, posted from that iframe by a page of `origin`.
pub async fn run(url: &str, origin: &str, state: &str, timeout_ms: u32) -> Result<String, Error> {
    // The silent page's URL, or `None` at the timeout.
    let (answer, answered) = oneshot::channel::<Option<String>>();
    let (app_origin, state) = (origin.to_owned(), state.to_owned());
    let on_message = answer.clone();
    // `[data (a string, or undefined), origin, 1 when it came from the iframe]`.
    let listener = Closure::<dyn FnMut(JsValue)>::new(move |m: JsValue| {
        let m: Array = m.unchecked_into();
        let (data, from) = (m.get(0).as_string(), m.get(1).as_string());
        let from_frame = m.get(2).as_f64() == Some(1.0);
        if let Some(url) = silent_answer(data, from.as_deref(), from_frame, &app_origin, &state) {
            on_message.send(Some(url));
        }
    });
    let close = silent_frame(url, listener.as_ref()).map_err(|_| ErrorKind::Unsupported {
        what: "cannot create the silent sign-in iframe",
    })?;
    let _frame = Frame {
        close,
        _listener: listener,
    };
    let _timer = timeout(timeout_ms, move || answer.send(None));
    answered.await.ok_or_else(|| {
        ErrorKind::Timeout {
            what: "silent sign-in",
        }
        .into()
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
