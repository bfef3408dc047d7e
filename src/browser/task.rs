//! The executor: runs the crate's futures on the page's one thread. A task is polled when the
//! JS promise it waits on settles (its waker is called from that promise's reaction), so no run
//! queue is needed; the first poll waits for a microtask, never running inside the caller.
//!
//! wasm-bindgen-futures' executor (a microtask queue, task cells, a second waker flavour for
//! JSPI) cost ~3 KB in the bundle for the same job; this one is a reference-counted cell and a
//! four-function waker.

use super::builtins::{Array, Function, Promise};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, RawWaker, RawWakerVTable, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

type Job = Pin<Box<dyn Future<Output = ()>>>;
/// A job whose outcome settles a JS promise.
type Settling = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

struct Task {
    job: RefCell<Option<Job>>,
    /// Set when the task is woken while it is being polled: it is then polled once more.
    woken: Cell<bool>,
}

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    fn deferred() -> Array;
}

/// Runs `job` to completion, starting in a microtask.
pub fn spawn(job: impl Future<Output = ()> + 'static) {
    start(Box::pin(job));
}

/// A promise that settles as `job` does (`Ok` resolves, `Err` rejects).
pub fn promise(job: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> Promise {
    settle(Box::pin(job))
}

/// One compiled copy of the promise plumbing for every caller: the job is boxed.
fn settle(job: Settling) -> Promise {
    let d = deferred();
    settle_into(job, &d);
    d.get(0).unchecked_into()
}

/// Runs `job`, then calls `d[1]` with its value or `d[2]` with its error.
fn settle_into(job: Settling, d: &Array) {
    let (resolve, reject): (Function, Function) =
        (d.get(1).unchecked_into(), d.get(2).unchecked_into());
    start(Box::pin(async move {
        let (f, v) = match job.await {
            Ok(v) => (resolve, v),
            Err(e) => (reject, e),
        };
        let _ = f.call1(&JsValue::UNDEFINED, &v);
    }));
}

/// `job` as a JS function for `platform.js` to call once with `[_, resolve, reject]` (the
/// shape `deferred()` returns): the job starts then, and settles them.
pub fn starter(job: impl Future<Output = Result<JsValue, JsValue>> + 'static) -> JsValue {
    let mut job: Option<Settling> = Some(Box::pin(job));
    Closure::<dyn FnMut(JsValue)>::new(move |d: JsValue| {
        if let Some(job) = job.take() {
            settle_into(job, d.unchecked_ref());
        }
    })
    .into_js_value()
}

fn start(job: Job) {
    // The first poll waits for a microtask: the caller (a facade method holding `&self`, a
    // listener being notified) finishes first, so a job never re-enters it.
    // `undefined` settles in the next microtask (`onSettle` resolves what it is given).
    let tick = super::settled(JsValue::UNDEFINED.unchecked_ref());
    let task = Rc::new(Task {
        job: RefCell::new(Some(Box::pin(async move {
            let _ = tick.await;
            job.await;
        }))),
        woken: Cell::new(false),
    });
    run(&task);
}

fn run(task: &Rc<Task>) {
    let Ok(mut slot) = task.job.try_borrow_mut() else {
        // Woken from inside its own poll: that poll loops once more.
        task.woken.set(true);
        return;
    };
    let waker = ManuallyDrop::new(waker(task));
    let mut cx = Context::from_waker(&waker);
    loop {
        task.woken.set(false);
        let Some(job) = slot.as_mut() else { return };
        if job.as_mut().poll(&mut cx).is_ready() {
            *slot = None;
            return;
        }
        if !task.woken.get() {
            return;
        }
    }
}

/// A waker that borrows `task`'s count (`ManuallyDrop` by the caller); clones own one.
fn waker(task: &Rc<Task>) -> Waker {
    let raw = RawWaker::new(Rc::as_ptr(task).cast(), &VTABLE);
    // SAFETY: the vtable's functions treat the pointer as an `Rc<Task>` and keep its strong
    // count balanced; the bundle is single-threaded (no `atomics`), so the waker never crosses
    // a thread although `Waker` would allow it.
    unsafe { Waker::from_raw(raw) }
}

const VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

unsafe fn clone(p: *const ()) -> RawWaker {
    // SAFETY: `p` came from `Rc::as_ptr`/`Rc::into_raw` of a live `Rc<Task>`.
    unsafe { Rc::increment_strong_count(p.cast::<Task>()) };
    RawWaker::new(p, &VTABLE)
}

unsafe fn wake(p: *const ()) {
    // SAFETY: an owned waker (a clone) holds one strong count, released here.
    let task = unsafe { Rc::from_raw(p.cast::<Task>()) };
    run(&task);
}

unsafe fn wake_by_ref(p: *const ()) {
    // SAFETY: borrowed: the count is not released.
    let task = ManuallyDrop::new(unsafe { Rc::from_raw(p.cast::<Task>()) });
    run(&task);
}

unsafe fn drop_waker(p: *const ()) {
    // SAFETY: an owned waker holds one strong count, released here.
    drop(unsafe { Rc::from_raw(p.cast::<Task>()) });
}
