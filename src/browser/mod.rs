//! Browser adapters: thin wrappers over fetch, Web Storage, WebCrypto and navigation. Each turns
//! platform failures into [`crate::Error`] and holds no protocol logic: decisions live in the core.
// Without `browser-mode` (server mode only) the adapters of browser mode's flows have no caller.
#![cfg_attr(not(feature = "browser-mode"), allow(dead_code))]

pub(crate) mod builtins;
pub(crate) mod channel;
pub(crate) mod crypto;
pub(crate) mod http;
pub(crate) mod idb;
pub(crate) mod lock;
pub(crate) mod nav;
pub(crate) mod oneshot;
pub(crate) mod silent;
pub(crate) mod storage;
pub(crate) mod timer;
pub(crate) mod vault;

#[cfg(test)]
mod tests;

use wasm_bindgen::JsValue;

/// Seconds since the epoch, from the browser clock. With `now_ms`, the crate's only clock read.
/// Not inlined: the float division and conversion would be compiled into each of ~16 callers.
#[inline(never)]
pub fn now() -> u64 {
    (builtins::date_now() / 1000.0) as u64
}

/// Milliseconds since the epoch, from the browser clock.
pub fn now_ms() -> u64 {
    builtins::date_now() as u64
}

use wasm_bindgen::JsCast;

/// A platform promise and the function that reads its outcome. Every adapter returns this one
/// future type instead of being an `async fn`: an adapter then compiles to no state machine or
/// drop glue of its own, and each caller's `.await` is the same small poll.
#[must_use = "futures do nothing unless awaited"]
pub struct Call<T> {
    promise: Settled,
    read: fn(Result<JsValue, JsValue>) -> Result<T, crate::core::error::Error>,
}

impl<T> Call<T> {
    /// `read` receives the promise's value (`Ok`) or its rejection (`Err`).
    pub fn new(
        promise: builtins::Promise,
        read: fn(Result<JsValue, JsValue>) -> Result<T, crate::core::error::Error>,
    ) -> Self {
        Self {
            promise: settled(&promise),
            read,
        }
    }
}

impl<T> std::future::Future for Call<T> {
    type Output = Result<T, crate::core::error::Error>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = self.get_mut();
        std::pin::Pin::new(&mut this.promise)
            .poll(cx)
            .map(this.read)
    }
}

/// A promise as a future of its value (`Ok`) or rejection (`Err`): wasm-bindgen-futures'
/// `JsFuture`, which the npm facade and every wasm-bindgen app link anyway (the crate's own
/// stand-in for it was a second copy of the same job in the bundle).
pub struct Settled(wasm_bindgen_futures::JsFuture);

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    /// A short description of a thrown JS value, without echoing request bodies.
    pub(crate) fn describe(v: &JsValue) -> String;
}

/// `promise`'s outcome as a future.
pub fn settled(promise: &builtins::Promise) -> Settled {
    Settled(wasm_bindgen_futures::JsFuture::from(
        promise.clone().unchecked_into::<js_sys::Promise>(),
    ))
}

impl std::future::Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.get_mut().0).poll(cx)
    }
}

/// Runs `job` to completion on the page's thread, starting in a microtask (never inside the
/// caller). wasm-bindgen-futures' executor: the one every wasm-bindgen app, Leptos included,
/// already runs, so an app has one executor, not two.
pub(crate) fn spawn(job: impl std::future::Future<Output = ()> + 'static) {
    wasm_bindgen_futures::spawn_local(job);
}
