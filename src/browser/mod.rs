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

use crate::client::platform::{Area, Job, JsonReply, Reply};
use crate::core::error::Error;
use crate::core::jwt::{Alg, Jwk};
use crate::core::pkce::Sha256;
use crate::core::server::ServerConfig;
use std::future::Future;
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
/// already runs, so an app has one executor, not two. Boxed by the caller: the executor's
/// task is then compiled once, not once per spawned future type.
pub(crate) fn spawn(job: Job<()>) {
    wasm_bindgen_futures::spawn_local(job);
}

/// The browser as the session's platform (`client::platform::Platform`): each method is the
/// adapter of the same name. Zero-sized: the clients' one production instantiation.
#[derive(Clone, Copy, Default)]
pub(crate) struct Browser;

impl crate::client::platform::Platform for Browser {
    type Channel = channel::Channel;
    type Timer = timer::Guard;
    type Vault = vault::Registration;

    fn now_ms(&self) -> u64 {
        now_ms()
    }
    fn now(&self) -> u64 {
        now()
    }
    fn random<const N: usize>(&self) -> Result<[u8; N], Error> {
        crypto::random_bytes()
    }
    fn sha256(&self, data: &[u8]) -> impl Future<Output = Result<Sha256, Error>> {
        crypto::sha256(data)
    }
    fn verify(
        &self,
        alg: Alg,
        key: &Jwk,
        input: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, Error>> {
        crypto::verify(alg, key, input, signature)
    }
    fn get_json(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> impl Future<Output = Result<JsonReply, Error>> {
        http::get_json(url, bearer)
    }
    fn post_form(&self, url: &str, body: String) -> impl Future<Output = Result<JsonReply, Error>> {
        http::post_form(url, body)
    }
    fn post_form_no_content(
        &self,
        url: &str,
        body: String,
    ) -> impl Future<Output = Result<u16, Error>> {
        http::post_form_no_content(url, body)
    }
    fn backend(
        &self,
        method: &str,
        url: &str,
        server: &ServerConfig,
    ) -> impl Future<Output = Result<Reply, Error>> {
        http::backend(method, url, server)
    }
    fn get(&self, area: Area, key: &str) -> Option<String> {
        area.get(key)
    }
    fn set(&self, area: Area, key: &str, value: &str) -> Result<(), Error> {
        area.set(key, value)
    }
    fn remove(&self, area: Area, key: &str) {
        area.remove(key)
    }
    fn keys_with_prefix(&self, area: Area, prefix: &str) -> Vec<String> {
        area.keys_with_prefix(prefix)
    }
    fn idb_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>> {
        idb::get(key)
    }
    fn idb_set(&self, key: &str, value: Option<&str>) -> impl Future<Output = Result<(), Error>> {
        idb::set(key, value)
    }
    fn sealed_get(&self, key: &str) -> impl Future<Output = Result<Option<String>, Error>> {
        vault::get(key)
    }
    fn sealed_set(
        &self,
        key: &str,
        value: Option<&str>,
    ) -> impl Future<Output = Result<(), Error>> {
        vault::set(key, value)
    }
    fn locked(&self, name: String, job: Job<Result<(), Error>>) -> Job<Result<(), Error>> {
        Box::pin(lock::request(name, crate::core::lease::LOCK_WAIT_MS, job))
    }
    fn open_channel(
        &self,
        name: &str,
        on_message: impl FnMut(String) + 'static,
    ) -> Option<channel::Channel> {
        channel::Channel::open(name, on_message)
    }
    fn post(&self, channel: &channel::Channel, msg: &str) {
        channel.post(msg)
    }
    fn spawn(&self, job: Job<()>) {
        spawn(job)
    }
    fn timeout(&self, ms: u32, f: impl FnMut() + 'static) -> timer::Guard {
        timer::timeout(ms, f)
    }
    fn on_wake_up(&self, f: impl FnMut() + 'static) -> timer::Guard {
        timer::on_wake_up(f)
    }
    fn href(&self) -> Result<String, Error> {
        nav::href()
    }
    fn origin(&self) -> Result<String, Error> {
        nav::origin()
    }
    fn replace_url(&self, url: &str) {
        nav::replace_url(url)
    }
    fn leave(&self, url: &str, replace: bool) -> Result<(), Error> {
        nav::leave(url, replace)
    }
    fn silent(
        &self,
        url: &str,
        origin: &str,
        state: &str,
        timeout_ms: u32,
    ) -> impl Future<Output = Result<String, Error>> {
        silent::run(url, origin, state, timeout_ms)
    }
    fn vault_register(
        &self,
        url: &str,
    ) -> impl Future<Output = Result<Option<vault::Registration>, Error>> {
        vault::register(url)
    }
    fn vault_ask(
        &self,
        vault: &vault::Registration,
        text: &str,
        ms: u32,
    ) -> impl Future<Output = Result<String, Error>> {
        vault::ask(vault, text, ms)
    }
}
