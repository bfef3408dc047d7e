//! The few JS built-ins the adapters touch, declared here instead of through js-sys.
//!
//! Linking js-sys puts ~50 closure shims of its typed-array callbacks and its JSPI task waker
//! into the bundle's function table whether or not they are used (the table keeps them alive):
//! declaring the handful of calls below ourselves removed them (figures in ARCHITECTURE.md).
//! The tests still use js-sys (a dev-dependency).

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A JS `Promise`.
    #[derive(Clone)]
    pub type Promise;

    /// A JS array, read by index.
    #[derive(Clone)]
    pub type Array;
    /// `a.length`.
    #[wasm_bindgen(method, getter, structural)]
    pub fn length(this: &Array) -> u32;
    /// `a[index]`.
    #[wasm_bindgen(method, structural, indexing_getter)]
    pub fn get(this: &Array, index: u32) -> JsValue;

    /// A JS function.
    #[derive(Clone)]
    pub type Function;
    /// `f.call(context, arg)`.
    #[wasm_bindgen(method, catch, js_name = call)]
    pub fn call1(this: &Function, context: &JsValue, arg: &JsValue) -> Result<JsValue, JsValue>;

    /// `Date.now()`: milliseconds since the epoch.
    #[wasm_bindgen(js_namespace = Date, js_name = now)]
    pub fn date_now() -> f64;
}
