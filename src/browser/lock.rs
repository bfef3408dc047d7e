//! Cross-tab mutual exclusion: Web Locks (`navigator.locks`), or, where that is missing, a
//! lease in localStorage that expires after 10 s, so a lock left by a closed tab stalls nobody
//! longer than that. Both live in `platform.js` (`withLock`).

use crate::browser::builtins::Promise;
use crate::core::error::{Error, ErrorKind};
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    #[wasm_bindgen(js_name = withLock)]
    fn js_with_lock(name: &str, task: &JsValue) -> Promise;
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
    let result: Rc<RefCell<Option<Result<(), Error>>>> = Rc::default();
    let slot = result.clone();
    let callback = crate::browser::task::starter(async move {
        let r = task.await;
        *slot.borrow_mut() = Some(r);
        Ok(JsValue::UNDEFINED)
    });
    crate::browser::settled(&request(name, &callback))
        .await
        .map_err(|_| ErrorKind::Unsupported {
            what: "the lock request was refused",
        })?;
    let r = result.borrow_mut().take();
    r.unwrap_or_else(|| {
        Err(ErrorKind::Unsupported {
            what: "the lock was released before the task ran",
        }
        .into())
    })
}

/// Starts `task` (made by `task::starter`) while this tab holds the lock `name`; the returned
/// promise settles as the task does, or rejects when the lock is refused.
pub fn request(name: &str, task: &JsValue) -> Promise {
    js_with_lock(name, task)
}
