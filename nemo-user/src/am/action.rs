//! The Action Descriptor Table: action id → handler + context.
//!
//! Append-only and fixed-capacity, so the handler path looks an action up with one load and no
//! lock: an action, once registered, lives as long as the domain.
//!
//! # Invariants
//!
//! - An [`ActionId`] is `domain tag (16) | index (16)`. Each table gets the next tag of a
//!   process-wide counter, so an id is refused by every other domain unless 65 536 domains were
//!   created between the two (the tag wraps); it never reaches another domain's slot unchecked.
//! - A slot is written once (`OnceLock`) and never cleared while the table lives.
//! - A Rust action that panics is caught where the handler runs at a safepoint (`poll`) and
//!   recorded in the table; inside a signal or user-interrupt handler the process aborts with a
//!   message that names the action (unwinding out of such a handler is not possible, and
//!   catching there would allocate).

use crate::error::Repr;
use core::fmt;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Mutex, OnceLock};

use super::ids::ActionId;
use crate::error::Result;

/// An action that panicked while the `poll` backend ran it: taken from the domain with
/// [`Domain::take_action_panic`](super::Domain::take_action_panic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionPanic {
    /// The action.
    pub action: ActionId,
    /// The payload of the message it was handling.
    pub payload: u64,
    /// The panic message, if it was a string.
    pub message: Option<String>,
}

impl fmt::Display for ActionPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "action {} panicked (payload {})",
            self.action, self.payload
        )?;
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        Ok(())
    }
}

/// Where a handler runs, which decides what a panicking Rust action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HandlerContext {
    /// At a safepoint of the target's own code: the panic is caught and recorded.
    Safepoint,
    /// Inside a signal or user-interrupt handler: the process aborts, naming the action.
    Interrupt,
}

/// An action's handler (a C library registers a closure around its function and context).
type Action = Box<dyn Fn(u64) + Send + Sync>;

/// Panics kept until the domain takes them; later ones are dropped (the record must not grow
/// without bound when nobody looks).
pub(crate) const MAX_RECORDED_PANICS: usize = 64;

/// The tag of the next table: a process-wide counter, so live domains' tags differ until it
/// wraps.
static NEXT_TAG: AtomicU32 = AtomicU32::new(1);

pub(crate) struct ActionTable {
    tag: u16,
    slots: Box<[OnceLock<Action>]>,
    next: AtomicUsize,
    /// Panics of actions run at safepoints, oldest first, until the domain takes them.
    panics: Mutex<Vec<ActionPanic>>,
}

/// Aborts the process, naming the action, if dropped while a panic unwinds: an action that
/// panics inside an interrupt handler.
struct AbortNaming(ActionId);

impl Drop for AbortNaming {
    fn drop(&mut self) {
        if std::thread::panicking() {
            abort_naming(self.0);
        }
    }
}

#[cold]
fn abort_naming(id: ActionId) -> ! {
    use std::io::Write;
    let mut msg = [0u8; 128];
    let mut w = &mut msg[..];
    let _ = writeln!(
        w,
        "nemo: active-message action {id} panicked inside an interrupt handler; aborting"
    );
    let len = 128 - w.len();
    // SAFETY: writes `len` initialised bytes of `msg` to stderr; write(2) is async-signal-safe.
    unsafe { libc::write(2, msg.as_ptr().cast(), len) };
    std::process::abort();
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> Option<String> {
    p.downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
}

impl ActionTable {
    pub fn new(capacity: usize) -> ActionTable {
        ActionTable {
            tag: NEXT_TAG.fetch_add(1, Ordering::Relaxed) as u16,
            slots: (0..capacity.min(ActionId::MAX_ACTIONS))
                .map(|_| OnceLock::new())
                .collect(),
            next: AtomicUsize::new(0),
            panics: Mutex::new(Vec::new()),
        }
    }

    /// The oldest recorded panic, removed from the record.
    pub fn take_panic(&self) -> Option<ActionPanic> {
        let mut p = self.panics.lock().unwrap_or_else(|e| e.into_inner());
        (!p.is_empty()).then(|| p.remove(0))
    }

    fn add(&self, action: Action) -> Result<ActionId> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        let Some(slot) = self.slots.get(i) else {
            self.next.fetch_sub(1, Ordering::Relaxed);
            return Err(Repr::ActionTableFull(self.slots.len()).into());
        };
        // Each index is handed out once, so the slot is empty.
        let _ = slot.set(action);
        Ok(ActionId::new(self.tag, i))
    }

    pub fn register(&self, f: Action) -> Result<ActionId> {
        self.add(f)
    }

    /// Whether `id` names a registered action of this table (its tag, and a filled slot).
    pub fn contains(&self, id: ActionId) -> bool {
        id.tag() == self.tag
            && self
                .slots
                .get(id.index())
                .is_some_and(|s| s.get().is_some())
    }

    /// Runs action `id` with `payload`; an unknown id (it was checked when the message was
    /// queued, so this does not happen) runs nothing. A panicking action is recorded
    /// (`Safepoint`) or aborts the process with a message that names it (`Interrupt`).
    #[inline]
    pub fn run(&self, id: ActionId, payload: u64, context: HandlerContext) {
        if id.tag() != self.tag {
            return;
        }
        let Some(f) = self.slots.get(id.index()).and_then(OnceLock::get) else {
            return;
        };
        match context {
            HandlerContext::Interrupt => {
                let guard = AbortNaming(id);
                f(payload);
                core::mem::forget(guard);
            }
            HandlerContext::Safepoint => {
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| f(payload))) {
                    let record = ActionPanic {
                        action: id,
                        payload,
                        message: panic_message(p.as_ref()),
                    };
                    let mut panics = self.panics.lock().unwrap_or_else(|e| e.into_inner());
                    if panics.len() < MAX_RECORDED_PANICS {
                        panics.push(record);
                    }
                }
            }
        }
    }
}
