//! A BroadcastChannel to the other tabs of this origin, closed on `Drop`.

use wasm_bindgen::prelude::*;
use web_sys::{BroadcastChannel, MessageEvent};

/// An open channel with its message listener.
pub struct Channel {
    channel: BroadcastChannel,
    _listener: Closure<dyn FnMut(MessageEvent)>,
}

impl Channel {
    /// Opens `name`; `on_message` receives string messages from other tabs (never from this one).
    pub fn open(name: &str, mut on_message: impl FnMut(&str) + 'static) -> Option<Self> {
        let channel = BroadcastChannel::new(name).ok()?;
        let listener = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
            if let Some(s) = e.data().as_string() {
                on_message(&s);
            }
        });
        channel.set_onmessage(Some(listener.as_ref().unchecked_ref()));
        Some(Self {
            channel,
            _listener: listener,
        })
    }

    /// Sends `msg` to the other tabs.
    pub fn post(&self, msg: &str) {
        let _ = self.channel.post_message(&JsValue::from_str(msg));
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.channel.set_onmessage(None);
        self.channel.close();
    }
}
