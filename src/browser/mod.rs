//! Browser adapters: thin wrappers over fetch, Web Storage, WebCrypto and navigation. Each turns
//! platform failures into [`crate::Error`] and holds no protocol logic: decisions live in the core.

pub mod crypto;
pub mod http;
pub mod nav;
pub mod storage;

use crate::core::error::Error;
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

/// Parses JSON text with the browser's parser and decodes it into `T`.
pub fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &'static str) -> Result<T, Error> {
    let value = js_sys::JSON::parse(text)
        .map_err(|_| Error::InvalidResponse { what, reason: "the body is not valid JSON".into() })?;
    serde_wasm_bindgen::from_value(value).map_err(|e| Error::InvalidResponse { what, reason: e.to_string() })
}

/// Encodes `value` as JSON text with the browser's serialiser.
pub fn to_json<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    let v = serde_wasm_bindgen::to_value(value).map_err(|e| Error::Storage { detail: e.to_string() })?;
    js_sys::JSON::stringify(&v)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or(Error::Storage { detail: "value cannot be serialised".into() })
}
