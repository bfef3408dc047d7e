//! Cross-tab mutual exclusion: Web Locks (`navigator.locks`, bound by hand because web-sys only
//! has it behind `web_sys_unstable_apis`), or, where that is missing, a lease in localStorage
//! that expires, so a lock left by a closed tab stalls nobody longer than [`LEASE_MS`].

use crate::browser::crypto::random_bytes;
use crate::browser::storage::Area;
use crate::core::error::Error;
use crate::core::text::{cat, uint};
use js_sys::{Promise, Reflect};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// How long a storage lease is valid, and so the longest a vanished holder can block others.
pub const LEASE_MS: u64 = 10_000;

#[wasm_bindgen]
extern "C" {
    type LockManager;
    #[wasm_bindgen(method, js_name = request)]
    fn request(this: &LockManager, name: &str, callback: &JsValue) -> Promise;
}

fn lock_manager() -> Option<LockManager> {
    let nav = web_sys::window()?.navigator();
    let locks = Reflect::get(&nav, &JsValue::from_str("locks")).ok()?;
    (locks.is_object()).then(|| locks.unchecked_into())
}

/// Runs `task` while this tab holds the lock `name`; other tabs asking for it wait.
pub async fn with_lock<F>(name: &str, task: F) -> Result<(), Error>
where
    F: Future<Output = Result<(), Error>> + 'static,
{
    // One compiled copy of the locking for every caller: the task is boxed here.
    locked(name, Box::pin(task)).await
}

async fn locked(
    name: &str,
    task: std::pin::Pin<Box<dyn Future<Output = Result<(), Error>>>>,
) -> Result<(), Error> {
    let Some(locks) = lock_manager() else {
        let lease = Lease::acquire(name).await;
        let r = task.await;
        drop(lease);
        return r;
    };
    let result: Rc<RefCell<Option<Result<(), Error>>>> = Rc::default();
    let slot = result.clone();
    let callback = Closure::once_into_js(move |_lock: JsValue| -> Promise {
        crate::browser::promise(async move {
            let r = task.await;
            *slot.borrow_mut() = Some(r);
            Ok(JsValue::UNDEFINED)
        })
    });
    JsFuture::from(locks.request(name, &callback))
        .await
        .map_err(|_| Error::Unsupported {
            what: "navigator.locks refused the request",
        })?;
    let r = result.borrow_mut().take();
    r.unwrap_or(Err(Error::Unsupported {
        what: "the lock was released before the task ran",
    }))
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let p = Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(p).await;
}

fn now_ms() -> u64 {
    js_sys::Date::now() as u64
}

/// A lease in localStorage (`"{owner} {until_ms}"`), released on `Drop`.
#[must_use = "the lease is released when dropped"]
pub struct Lease {
    key: String,
    owner: String,
}

impl Lease {
    /// Waits for the lease `name`; takes it over when the holder's lease expired.
    pub async fn acquire(name: &str) -> Self {
        let key = cat(&[name, ":lease"]);
        let owner = crate::core::pkce::b64url(&random_bytes::<9>().unwrap_or_default());
        loop {
            let now = now_ms();
            let held_by_other = Area::Local.get(&key).is_some_and(|v| {
                let (who, until) = v.split_once(' ').unwrap_or_default();
                who != owner && until.parse::<u64>().is_ok_and(|u| u > now)
            });
            if !held_by_other {
                let _ = Area::Local.set(&key, &cat(&[&owner, " ", &uint(now + LEASE_MS)]));
                // Two tabs may have written at once: the last write wins; both re-read.
                sleep(25).await;
                if Area::Local
                    .get(&key)
                    .is_some_and(|v| v.split(' ').next() == Some(owner.as_str()))
                {
                    return Self { key, owner };
                }
            }
            sleep(50).await;
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if Area::Local
            .get(&self.key)
            .is_some_and(|v| v.split(' ').next() == Some(self.owner.as_str()))
        {
            Area::Local.remove(&self.key);
        }
    }
}
