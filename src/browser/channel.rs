//! A BroadcastChannel to the other tabs of this origin, closed on `Drop`.

use super::builtins::{Array, Function};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = channel)]
    fn js_channel(name: &str, f: &JsValue) -> Option<Array>;
}

/// An open channel with its message listener.
pub struct Channel {
    post: Function,
    close: Function,
    _listener: Closure<dyn FnMut(JsValue)>,
}

impl Channel {
    /// Opens `name`; `on_message` receives string messages from other tabs (never from this one).
    /// `None` where the browser has no BroadcastChannel.
    pub fn open(name: &str, mut on_message: impl FnMut(String) + 'static) -> Option<Self> {
        // `FnMut(JsValue)`, the signature of every callback handed to JS (see `timer`).
        let listener = Closure::<dyn FnMut(JsValue)>::wrap(Box::new(move |m: JsValue| {
            if let Some(m) = m.as_string() {
                on_message(m);
            }
        }));
        let fns = js_channel(name, listener.as_ref())?;
        Some(Self {
            post: fns.get(0).unchecked_into(),
            close: fns.get(1).unchecked_into(),
            _listener: listener,
        })
    }

    /// Sends `msg` to the other tabs.
    pub fn post(&self, msg: &str) {
        let _ = self.post.call1(&JsValue::NULL, &JsValue::from_str(msg));
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        let _ = self.close.call1(&JsValue::NULL, &JsValue::UNDEFINED);
    }
}
