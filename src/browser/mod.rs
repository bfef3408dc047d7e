//! Browser adapters: thin wrappers over fetch, Web Storage, WebCrypto and navigation. Each turns
//! platform failures into [`crate::Error`] and holds no protocol logic: decisions live in the core.

pub mod channel;
pub mod crypto;
pub mod http;
pub mod idb;
pub mod lock;
pub mod nav;
pub mod silent;
pub mod storage;
pub mod timer;

use wasm_bindgen::JsValue;

/// Seconds since the epoch, from the browser clock. The only clock read in the crate.
pub fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// A short description of a thrown JS value, without echoing request bodies.
pub(crate) fn describe(v: &JsValue) -> String {
    if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        return String::from(e.message());
    }
    v.as_string().unwrap_or_else(|| "unknown error".into())
}

use wasm_bindgen::JsCast;

/// JSON text of a JS value (`JSON.stringify`); `None` for values JSON cannot represent.
pub fn stringify(v: &JsValue) -> Option<String> {
    js_sys::JSON::stringify(v).ok().and_then(|s| s.as_string())
}

/// `future_to_promise` through one boxed future type, so its plumbing is compiled once for the
/// whole bundle instead of once per caller (1 KB gzip less, measured).
pub fn promise(
    f: impl std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
) -> js_sys::Promise {
    let boxed: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
        Box::pin(f);
    wasm_bindgen_futures::future_to_promise(boxed)
}
