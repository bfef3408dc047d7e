//! A tiny key-value store in IndexedDB. Used where cross-tab consistency matters: a write whose
//! transaction completed is visible to any transaction another tab starts afterwards, which
//! localStorage does not guarantee (in Chromium a tab that takes a Web Lock right after another
//! tab wrote localStorage and released it can still read the old value).

use crate::browser::describe;
use crate::core::error::Error;
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

const DB: &str = "oidc-session";
const STORE: &str = "kv";

fn storage_err(e: JsValue) -> Error {
    Error::Storage {
        detail: describe(&e),
    }
}

/// Resolves when `target` fires `ok_event` (with the target's `result` for requests), rejects
/// on `error`/`abort`.
async fn settle(target: &web_sys::EventTarget, ok_event: &str) -> Result<JsValue, Error> {
    let slots: Rc<RefCell<Option<(Function, Function)>>> = Rc::default();
    let s = slots.clone();
    let p = Promise::new(&mut |res, rej| *s.borrow_mut() = Some((res, rej)));
    let t = target.clone();
    let (s1, s2) = (slots.clone(), slots.clone());
    let ok = Closure::once(move || {
        if let Some((res, _)) = s1.borrow_mut().take() {
            let result = js_sys::Reflect::get(&t, &"result".into()).unwrap_or(JsValue::UNDEFINED);
            let _ = res.call1(&JsValue::NULL, &result);
        }
    });
    let fail = Closure::once(move || {
        if let Some((_, rej)) = s2.borrow_mut().take() {
            let _ = rej.call0(&JsValue::NULL);
        }
    });
    let _ = target.add_event_listener_with_callback(ok_event, ok.as_ref().unchecked_ref());
    let _ = target.add_event_listener_with_callback("error", fail.as_ref().unchecked_ref());
    let _ = target.add_event_listener_with_callback("abort", fail.as_ref().unchecked_ref());
    let r = JsFuture::from(p).await.map_err(|_| Error::Storage {
        detail: "IndexedDB request failed".into(),
    });
    let _ = target.remove_event_listener_with_callback(ok_event, ok.as_ref().unchecked_ref());
    let _ = target.remove_event_listener_with_callback("error", fail.as_ref().unchecked_ref());
    let _ = target.remove_event_listener_with_callback("abort", fail.as_ref().unchecked_ref());
    r
}

async fn open() -> Result<IdbDatabase, Error> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or(Error::Unsupported {
            what: "IndexedDB is unavailable",
        })?;
    let req = factory.open_with_u32(DB, 1).map_err(storage_err)?;
    let upgrade = Closure::<dyn FnMut(web_sys::Event)>::new(move |e: web_sys::Event| {
        let db = e
            .target()
            .and_then(|t| js_sys::Reflect::get(&t, &"result".into()).ok());
        if let Some(db) = db.and_then(|d| d.dyn_into::<IdbDatabase>().ok()) {
            if !db.object_store_names().contains(STORE) {
                let _ = db.create_object_store(STORE);
            }
        }
    });
    req.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db = settle(&req, "success").await;
    req.set_onupgradeneeded(None);
    db?.dyn_into::<IdbDatabase>().map_err(|_| Error::Storage {
        detail: "IndexedDB did not open".into(),
    })
}

fn tx(
    db: &IdbDatabase,
    mode: IdbTransactionMode,
) -> Result<(IdbTransaction, web_sys::IdbObjectStore), Error> {
    let tx = db
        .transaction_with_str_and_mode(STORE, mode)
        .map_err(storage_err)?;
    let store = tx.object_store(STORE).map_err(storage_err)?;
    Ok((tx, store))
}

/// Reads `key` (a string value).
pub async fn get(key: &str) -> Result<Option<String>, Error> {
    let db = open().await?;
    let (_tx, store) = tx(&db, IdbTransactionMode::Readonly)?;
    let req: IdbRequest = store.get(&JsValue::from_str(key)).map_err(storage_err)?;
    let v = settle(&req, "success").await?;
    db.close();
    Ok(v.as_string())
}

/// Writes `key` (or deletes it for `None`) and waits until the transaction committed, so every
/// tab that looks afterwards sees it.
pub async fn set(key: &str, value: Option<&str>) -> Result<(), Error> {
    let db = open().await?;
    let (tx, store) = tx(&db, IdbTransactionMode::Readwrite)?;
    let k = JsValue::from_str(key);
    match value {
        Some(v) => store.put_with_key(&JsValue::from_str(v), &k).map(drop),
        None => store.delete(&k).map(drop),
    }
    .map_err(storage_err)?;
    let done = settle(&tx, "complete").await;
    db.close();
    done.map(drop)
}
