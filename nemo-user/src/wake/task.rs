//! The seam through which a task runtime ([`crate::sched`]) puts its tasks into the waiter
//! registry, so that the condvar and the registry never name the runtime (the runtime sits above
//! them and waits on them).
//!
//! Invariants:
//! - The runtime registers [`current`]'s source once, before any of its tasks runs
//!   ([`register_current`]); until then, and outside a task, every wait blocks its thread.
//! - A [`TaskHandle`] outlives the waits it is registered for (the runtime keeps each task's
//!   parking state alive while the task exists), so a notifier's wake always reaches it.
//! - Two handles name the same task exactly when they point at the same object.

use std::sync::{Arc, OnceLock};

use crate::park::ParkResult;
use crate::wait::Deadline;

/// A task's parking state, as the registry and the condvar see it.
pub(crate) trait TaskParking: Send + Sync {
    /// Notifier side: marks the task woken, then makes it runnable. Returns whether a wake
    /// was delivered (always, for a live task).
    fn wake(&self) -> bool;
    /// Before registering: the next [`block`](Self::block) suspends until a wake.
    fn arm(&self);
    /// Suspends the task until a wake, or until `deadline`.
    fn block(&self, deadline: Option<&Deadline>) -> ParkResult;
}

/// A task's handle in the waiter registry.
pub(crate) type TaskHandle = Arc<dyn TaskParking>;

/// Whether two handles name the same task.
#[inline]
pub(crate) fn same(a: &TaskHandle, b: &TaskHandle) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

static CURRENT: OnceLock<fn() -> Option<TaskHandle>> = OnceLock::new();

/// Installs the runtime's "which task is running here" (idempotent: the first one stays).
pub(crate) fn register_current(source: fn() -> Option<TaskHandle>) {
    let _ = CURRENT.set(source);
}

/// The calling task's handle, or `None` where a wait must block the thread instead: no runtime
/// registered, outside a task, or wherever the runtime says so.
#[inline]
pub(crate) fn current() -> Option<TaskHandle> {
    CURRENT.get().and_then(|source| source())
}
