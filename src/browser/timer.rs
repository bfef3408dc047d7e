//! Timers and wake-up events as guards: dropping one cancels the timer or removes the
//! listeners, so nothing outlives the flow that made it. The calls live in `platform.js`.

use super::builtins::Function;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/browser/platform.js")]
extern "C" {
    fn later(f: &JsValue, ms: u32) -> Function;
    #[wasm_bindgen(js_name = onWake)]
    fn on_wake(f: &JsValue) -> Function;
}

/// A registration with the function that undoes it, called on `Drop`.
#[must_use = "dropping it cancels at once"]
pub struct Guard {
    undo: Function,
    _closure: Closure<dyn FnMut(JsValue)>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.undo.call1(&JsValue::NULL, &JsValue::UNDEFINED);
    }
}

/// Every callback handed to JS has the one signature `FnMut(JsValue)` (arguments unused here):
/// each closure signature costs wasm-bindgen a shim in the wasm and a wrapper in the glue.
fn guard(f: Box<dyn FnMut(JsValue)>, register: impl FnOnce(&JsValue) -> Function) -> Guard {
    let closure = Closure::wrap(f);
    Guard {
        undo: register(closure.as_ref()),
        _closure: closure,
    }
}

/// Calls `f` once after `ms` milliseconds. `f` should defer real work (`browser::spawn`): the
/// timer's owner may replace, and so drop, this guard from that work.
pub fn timeout(ms: u32, mut f: impl FnMut() + 'static) -> Guard {
    guard(Box::new(move |_| f()), |c| later(c, ms))
}

/// Completes after `ms` milliseconds (the timer is cancelled if the future is dropped first).
pub async fn sleep(ms: u32) {
    let (tick, ticked) = super::oneshot::channel();
    let _timer = timeout(ms, move || tick.send(()));
    ticked.await;
}

/// Calls `f` whenever the page may have slept or gone offline (`focus`, `online`,
/// `visibilitychange`): timers stop while a machine sleeps, so the clock is re-read then.
pub fn on_wake_up(mut f: impl FnMut() + 'static) -> Guard {
    guard(Box::new(move |_| f()), on_wake)
}
