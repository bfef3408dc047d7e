//! The hidden iframe of silent SSO. Its answer is the silent page's URL, posted by that page to
//! its parent; it is accepted only from our own origin, from that very iframe, and only when it
//! carries the pending `state`. The iframe, the listener and the timer are guards: every path out
//! of [`run`] (answer, timeout, error) removes all three.

use crate::browser::timer::{Listener, Timeout};
use crate::core::error::Error;
use crate::core::url::{parse_query, query_of};
use js_sys::{Function, Object, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{HtmlIFrameElement, MessageEvent};

struct Frame(HtmlIFrameElement);

impl Drop for Frame {
    fn drop(&mut self) {
        self.0.remove();
    }
}

fn unsupported(_: JsValue) -> Error {
    Error::Unsupported {
        what: "cannot create the silent sign-in iframe",
    }
}

/// Loads `url` in a hidden iframe and waits for the silent page's URL carrying `state`.
pub async fn run(url: &str, origin: &str, state: &str, timeout_ms: u32) -> Result<String, Error> {
    let window = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
    let doc = window.document().ok_or(Error::Unsupported {
        what: "no document",
    })?;
    let body = doc.body().ok_or(Error::Unsupported {
        what: "no document body",
    })?;
    let iframe: HtmlIFrameElement = doc
        .create_element("iframe")
        .map_err(unsupported)?
        .unchecked_into();
    let _ = iframe.set_attribute(
        "style",
        "position:absolute;width:0;height:0;border:0;visibility:hidden",
    );
    let _ = iframe.set_attribute("aria-hidden", "true");
    let _ = iframe.set_attribute("tabindex", "-1");

    let settle: Rc<RefCell<Option<(Function, Function)>>> = Rc::default();
    let slot = settle.clone();
    let answer = Promise::new(&mut |resolve, reject| *slot.borrow_mut() = Some((resolve, reject)));

    let frame_window = Rc::new(RefCell::new(None::<JsValue>));
    let (origin, state) = (origin.to_owned(), state.to_owned());
    let on_message = {
        let (settle, frame_window) = (settle.clone(), frame_window.clone());
        move |e: &web_sys::Event| {
            let Some(e) = e.dyn_ref::<MessageEvent>() else {
                return;
            };
            let from_frame = match (&*frame_window.borrow(), e.source()) {
                (Some(w), Some(src)) => Object::is(w, &src),
                _ => false,
            };
            let Some(href) = e.data().as_string() else {
                return;
            };
            let ours = parse_query(query_of(&href))
                .iter()
                .any(|(k, v)| k == "state" && *v == state);
            if e.origin() == origin && from_frame && ours {
                if let Some((resolve, _)) = settle.borrow_mut().take() {
                    let _ = resolve.call1(&JsValue::NULL, &JsValue::from_str(&href));
                }
            }
        }
    };
    let _listener = Listener::new(window.as_ref(), "message", on_message);
    let _timer = {
        let settle = settle.clone();
        Timeout::new(timeout_ms, move || {
            if let Some((_, reject)) = settle.borrow_mut().take() {
                let _ = reject.call0(&JsValue::NULL);
            }
        })
    };
    iframe.set_src(url);
    body.append_child(&iframe).map_err(unsupported)?;
    let _frame = Frame(iframe.clone());
    *frame_window.borrow_mut() = iframe.content_window().map(JsValue::from);

    let result = JsFuture::from(answer).await;
    // _frame, _timer and _listener drop here, on every path.
    result
        .map(|v| v.as_string().unwrap_or_default())
        .map_err(|_| Error::Timeout {
            what: "silent sign-in",
        })
}

/// For the silent redirect page: hands this page's URL (with `code`/`error` and `state`) to the
/// parent window, on this origin only.
pub fn notify_parent() -> Result<(), Error> {
    let window = web_sys::window().ok_or(Error::Unsupported { what: "no window" })?;
    let parent = window.parent().ok().flatten().ok_or(Error::Unsupported {
        what: "not in an iframe",
    })?;
    if Object::is(&parent, &window) {
        return Err(Error::Unsupported {
            what: "not in an iframe",
        });
    }
    let loc = window.location();
    let (href, origin) = (
        loc.href().unwrap_or_default(),
        loc.origin().unwrap_or_default(),
    );
    parent
        .post_message(&JsValue::from_str(&href), &origin)
        .map_err(|_| Error::Unsupported {
            what: "postMessage failed",
        })
}
