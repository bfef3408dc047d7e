//! Cross-tab mutual exclusion: Web Locks (`navigator.locks.request`, bound in `platform.js`),
//! or where the browser lacks them, a lease in localStorage that expires after 10 s, so a lock
//! left by a closed tab stalls nobody longer than that. The lease's rules are the core's
//! (`core::lease`); this module reads and writes the value and sleeps.

use crate::browser::builtins::{Array, Function, Promise};
use crate::browser::crypto::random_bytes;
use crate::browser::storage::Area;
use crate::browser::timer::sleep;
use crate::browser::{now_ms, settled, spawn};
use crate::client::platform::Job;
use crate::core::error::{Error, ErrorKind};
use crate::core::lease::{holder, lease, may_take, renewal, RENEW_MS, RETRY_MS, SETTLE_MS};
use crate::core::pkce::b64url;
use crate::core::text::cat;
use std::cell::Cell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// A job whose outcome settles a JS promise.
type JsJob = std::pin::Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = hasWebLocks)]
    fn has_web_locks() -> bool;
    /// `navigator.locks.request(name, …)`, calling `start([, resolve, reject])` under the lock.
    #[wasm_bindgen(js_name = webLock)]
    fn web_lock(name: &str, ms: u32, start: &JsValue) -> Promise;
}

/// Runs `job` while this tab holds the lock `name`, settling as the job does, or failing with
/// `timeout` when the lock was not granted within `wait_ms`. Other tabs asking for `name` wait.
pub(crate) async fn request(
    name: String,
    wait_ms: u32,
    job: Job<Result<(), Error>>,
) -> Result<(), Error> {
    if has_web_locks() {
        // The job's error cannot cross the JS promise: it waits in `slot`.
        let slot = Rc::new(Cell::new(None));
        let failed = slot.clone();
        let job: JsJob = Box::pin(async move {
            job.await.map(|()| JsValue::UNDEFINED).map_err(|e| {
                failed.set(Some(e));
                JsValue::NULL
            })
        });
        let granted = settled(&web_lock(&name, wait_ms, &starter(job))).await;
        return match (granted, slot.take()) {
            (Ok(_), _) => Ok(()),
            (Err(_), Some(e)) => Err(e),
            // No error recorded: the job never ran. The lock was not granted within `wait_ms`
            // (Web Locks refuse outright only names starting with `-` and opaque origins,
            // neither ours).
            (Err(_), None) => Err(waited()),
        };
    }
    let key = cat(&[&name, ":lease"]);
    let owner = b64url(&random_bytes::<9>().unwrap_or_default());
    if !acquire(&key, &owner, wait_ms).await {
        return Err(waited());
    }
    // Renewed while the job runs (a slow token request outlives one lease), stopped when it
    // ends or the lease was lost.
    let running = Rc::new(Cell::new(true));
    spawn(Box::pin(renew(key.clone(), owner.clone(), running.clone())));
    let r = job.await;
    running.set(false);
    if holder(Area::Local.get(&key).as_deref()) == Some(owner.as_str()) {
        Area::Local.remove(&key);
    }
    r
}

/// `job` as the JS function that Web Locks call once with `[_, resolve, reject]` when the lock
/// is granted: the job is spawned then, and settles them.
fn starter(job: JsJob) -> JsValue {
    let mut job = Some(job);
    Closure::<dyn FnMut(JsValue)>::new(move |d: JsValue| {
        let Some(job) = job.take() else { return };
        let d: Array = d.unchecked_into();
        let (resolve, reject): (Function, Function) =
            (d.get(1).unchecked_into(), d.get(2).unchecked_into());
        spawn(Box::pin(async move {
            let (f, v) = match job.await {
                Ok(v) => (resolve, v),
                Err(e) => (reject, e),
            };
            let _ = f.call1(&JsValue::UNDEFINED, &v);
        }));
    })
    .into_js_value()
}

/// Writes `owner`'s lease again every `RENEW_MS` while `running`, as long as it still holds it.
async fn renew(key: String, owner: String, running: Rc<Cell<bool>>) {
    loop {
        sleep(RENEW_MS).await;
        if !running.get() {
            return;
        }
        match renewal(Area::Local.get(&key).as_deref(), &owner, now_ms()) {
            Some(l) => {
                let _ = Area::Local.set(&key, &l);
            }
            None => return,
        }
    }
}

/// Waits until `owner` holds the lease `key` (true), or `wait_ms` passed (false). Without a
/// writable localStorage there is no other tab to exclude through it, and this returns at once.
async fn acquire(key: &str, owner: &str, wait_ms: u32) -> bool {
    let give_up = now_ms() + u64::from(wait_ms);
    loop {
        if may_take(Area::Local.get(key).as_deref(), owner, now_ms()) {
            if Area::Local.set(key, &lease(owner, now_ms())).is_err() {
                return true;
            }
            // Two tabs may have written at once: the last write wins; both read it back.
            sleep(SETTLE_MS).await;
            if holder(Area::Local.get(key).as_deref()) == Some(owner) {
                return true;
            }
        }
        if now_ms() >= give_up {
            return false;
        }
        sleep(RETRY_MS).await;
    }
}

/// The error of a caller that waited too long for another tab's refresh (the caller's wait is
/// `core::lease::LOCK_WAIT_MS`).
fn waited() -> Error {
    ErrorKind::Timeout {
        what: "waiting for another tab's refresh",
    }
    .into()
}
