//! The preemptible-region word: which worker's task, if any, runs inside
//! [`preemptible`](fn@super::preemptible) on this thread. A leaf, so that the task switch (`task.rs`)
//! and the handler's redirect (`preemptible.rs`) both use it without importing each other.
//!
//! Invariant: non-null exactly while a task runs inside a region on this thread and has not
//! been switched out (the switch leaves the region and the task re-enters it when it runs
//! again); see `preemptible.rs` for what the handler may do with it.

use core::sync::atomic::{AtomicPtr, Ordering::Relaxed, compiler_fence};

use super::wakeup::WorkerState;

thread_local! {
    /// The running task's worker while the task is inside a preemptible region; null otherwise.
    static REGION: AtomicPtr<WorkerState> = const { AtomicPtr::new(core::ptr::null_mut()) };
}

/// Enters a region of `worker`'s task; returns the region it was in (to [`store`] back).
#[inline]
pub(super) fn swap(worker: *mut WorkerState) -> *mut WorkerState {
    REGION.with(|r| r.swap(worker, Relaxed))
}

/// Sets the region word (restoring what [`swap`] returned, or clearing it).
#[inline]
pub(super) fn store(region: *mut WorkerState) {
    REGION.with(|r| r.store(region, Relaxed));
}

/// The region word: the worker of the task in a region on this thread, or null.
#[inline]
pub(super) fn load() -> *mut WorkerState {
    REGION.with(|r| r.load(Relaxed))
}

/// Leaves the region (if any) for a switch; returns what [`resume_region`] must restore.
#[inline]
pub(super) fn leave_region() -> *mut WorkerState {
    let region = swap(core::ptr::null_mut());
    compiler_fence(core::sync::atomic::Ordering::SeqCst);
    region
}

/// Re-enters the region [`leave_region`] left, once the task runs again.
#[inline]
pub(super) fn resume_region(region: *mut WorkerState) {
    compiler_fence(core::sync::atomic::Ordering::SeqCst);
    store(region);
}

/// Whether no task is in a region on this thread (the scheduler's loop checks it).
pub(super) fn outside_regions() -> bool {
    load().is_null()
}
