//! The Action Descriptor Table: action id → handler + context.
//!
//! Append-only and fixed-capacity, so the handler path looks an action up with one load and no
//! lock: an action, once registered, lives as long as the domain.

use core::ffi::c_void;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use super::ids::ActionId;
use crate::error::{Error, Result};

/// A C action handler: called with the context given at registration and the message payload.
pub type CActionFn = unsafe extern "C" fn(ctx: *mut c_void, payload: u64);

enum Action {
    Rust(Box<dyn Fn(u64) + Send + Sync>),
    C { f: CActionFn, ctx: *mut c_void },
}

// SAFETY: the C variant's context is declared thread-safe by whoever registered it (see
// `ActionTable::register_c`); the Rust variant is `Send + Sync` by its bound.
unsafe impl Send for Action {}
// SAFETY: as above.
unsafe impl Sync for Action {}

pub(crate) struct ActionTable {
    slots: Box<[OnceLock<Action>]>,
    next: AtomicUsize,
}

impl ActionTable {
    pub fn new(capacity: usize) -> ActionTable {
        ActionTable {
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
            next: AtomicUsize::new(0),
        }
    }

    fn add(&self, action: Action) -> Result<ActionId> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slots.get(i) else {
            self.next.fetch_sub(1, Ordering::Relaxed);
            return Err(Error::ActionTableFull(self.slots.len()));
        };
        // Each index is handed out once, so the slot is empty.
        let _ = slot.set(action);
        Ok(ActionId::from_u32(i as u32))
    }

    pub fn register_rust(&self, f: Box<dyn Fn(u64) + Send + Sync>) -> Result<ActionId> {
        self.add(Action::Rust(f))
    }

    /// # Safety
    /// `f` must be safe to call with `ctx` and any payload, from any receiver thread of the
    /// domain, concurrently, inside interrupt handlers, for as long as the domain lives.
    pub unsafe fn register_c(&self, f: CActionFn, ctx: *mut c_void) -> Result<ActionId> {
        self.add(Action::C { f, ctx })
    }

    pub fn contains(&self, id: ActionId) -> bool {
        self.slots
            .get(id.as_u32() as usize)
            .is_some_and(|s| s.get().is_some())
    }

    /// Runs action `id` with `payload`; an unknown id (it was checked when the message was
    /// queued, so this does not happen) runs nothing.
    #[inline]
    pub fn run(&self, id: ActionId, payload: u64) {
        match self.slots.get(id.as_u32() as usize).and_then(OnceLock::get) {
            Some(Action::Rust(f)) => f(payload),
            // SAFETY: the registration contract of `register_c`.
            Some(Action::C { f, ctx }) => unsafe { f(*ctx, payload) },
            None => {}
        }
    }
}
