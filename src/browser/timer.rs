//! `setTimeout` and `addEventListener` as guards: dropping one cancels the timer or removes the
//! listener, so nothing outlives the flow that made it.

use wasm_bindgen::prelude::*;
use web_sys::{Event, EventTarget};

/// A pending `setTimeout`, cleared on `Drop`.
#[must_use = "the timer is cancelled when dropped"]
pub struct Timeout {
    id: i32,
    _closure: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `f` once after `ms` milliseconds. `f` should defer real work (`spawn_local`): the
    /// timer's owner may replace, and so drop, this guard from that work.
    pub fn new(ms: u32, f: impl FnOnce() + 'static) -> Option<Self> {
        Self::boxed(ms, Box::new(f))
    }

    // One compiled copy for every caller.
    fn boxed(ms: u32, f: Box<dyn FnOnce()>) -> Option<Self> {
        let mut f = Some(f);
        let closure = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let ms = i32::try_from(ms).unwrap_or(i32::MAX);
        let id = web_sys::window()?
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                closure.as_ref().unchecked_ref(),
                ms,
            )
            .ok()?;
        Some(Self {
            id,
            _closure: closure,
        })
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let Some(w) = web_sys::window() {
            w.clear_timeout_with_handle(self.id);
        }
    }
}

/// An event listener, removed on `Drop`.
#[must_use = "the listener is removed when dropped"]
pub struct Listener {
    target: EventTarget,
    kind: &'static str,
    closure: Closure<dyn FnMut(Event)>,
}

impl Listener {
    /// Calls `f` with every `kind` event of `target`.
    pub fn new(
        target: &EventTarget,
        kind: &'static str,
        f: impl FnMut(&Event) + 'static,
    ) -> Option<Self> {
        Self::boxed(target, kind, Box::new(f))
    }

    // One compiled copy for every caller.
    fn boxed(
        target: &EventTarget,
        kind: &'static str,
        mut f: Box<dyn FnMut(&Event)>,
    ) -> Option<Self> {
        let closure = Closure::<dyn FnMut(Event)>::new(move |e: Event| f(&e));
        target
            .add_event_listener_with_callback(kind, closure.as_ref().unchecked_ref())
            .ok()?;
        Some(Self {
            target: target.clone(),
            kind,
            closure,
        })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self
            .target
            .remove_event_listener_with_callback(self.kind, self.closure.as_ref().unchecked_ref());
    }
}
