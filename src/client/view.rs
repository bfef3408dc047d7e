//! What an application observes: the [`View`], and the listeners that see every change of it.

use crate::core::error::Error;
use crate::core::session::Status;
use crate::core::user::User;
use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

/// The session as an application observes it.
///
/// `status` says where the session stands; `user` is present when signed in; `error` says why
/// when `status` is [`Status::Failed`], and is also set next to [`Status::SignedIn`] when a
/// callback was refused while an existing session was kept (a forged `state`).
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// Loading, signed in, signed out or failed.
    pub status: Status,
    /// The signed-in user.
    pub user: Option<User>,
    /// What went wrong, when something did.
    pub error: Option<Error>,
}

type Listener = Rc<dyn Fn(&Rc<View>)>;

/// The current view and its listeners. The view is replaced, never mutated: one `Rc` is one
/// state, so observers can compare pointers.
pub(crate) struct Observers {
    view: RefCell<Rc<View>>,
    listeners: RefCell<Vec<(u32, Listener)>>,
    next_id: Cell<u32>,
}

impl Observers {
    /// Starts in [`Status::Loading`].
    pub(crate) fn new() -> Rc<Self> {
        Rc::new(Self {
            view: RefCell::new(Rc::new(View {
                status: Status::Loading,
                user: None,
                error: None,
            })),
            listeners: RefCell::default(),
            next_id: Cell::new(0),
        })
    }

    pub(crate) fn view(&self) -> Rc<View> {
        self.view.borrow().clone()
    }

    pub(crate) fn subscribe(self: &Rc<Self>, f: impl Fn(&Rc<View>) + 'static) -> Subscription {
        let id = self.next_id.get();
        self.next_id.set(id.wrapping_add(1));
        self.listeners.borrow_mut().push((id, Rc::new(f)));
        Subscription {
            observers: Rc::downgrade(self),
            id,
        }
    }

    /// Publishes a new view unless it equals the current one. A view with an error is always
    /// news (errors are not compared).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn set(&self, status: Status, user: Option<User>, error: Option<Error>) {
        {
            let current = self.view.borrow();
            if error.is_none()
                && current.error.is_none()
                && current.status == status
                && current.user == user
            {
                return;
            }
        }
        let next = Rc::new(View {
            status,
            user,
            error,
        });
        *self.view.borrow_mut() = next.clone();
        // A copy: a listener may subscribe or unsubscribe while being called.
        let listeners: Vec<Listener> = self
            .listeners
            .borrow()
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for l in &listeners {
            l(&next);
        }
    }
}

/// Keeps a listener registered; dropping it unsubscribes.
#[must_use = "dropping the subscription unsubscribes at once"]
pub struct Subscription {
    observers: Weak<Observers>,
    id: u32,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(o) = self.observers.upgrade() {
            let mut listeners = o.listeners.borrow_mut();
            if let Some(i) = listeners.iter().position(|(id, _)| *id == self.id) {
                // Ids are unique: one entry to remove. Dropped after the borrow ends.
                let removed = listeners.remove(i);
                drop(listeners);
                drop(removed);
            }
        }
    }
}
