//! [`JoinHandle`]: how a task's result (or its panic) gets back to whoever spawned it.
//!
//! Invariants:
//! - A slot is written exactly once, by the worker that ran the task (its result, its panic, or
//!   the error that kept it from starting, boxed as a panic payload is), and read at most once,
//!   by [`JoinHandle::join`].
//! - The write happens under the slot's mutex and is followed by a `notify_all`, so a joiner that
//!   checked the slot under the same mutex and found it empty is woken (no lost wakeup).
//! - A task's panic is caught on the task's own stack (`catch_unwind` inside the coroutine), so
//!   it never unwinds through the coroutine boundary or the worker loop.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::condvar::Condvar;

/// Where a task's outcome waits for its joiner.
pub(crate) struct Slot<T> {
    outcome: Mutex<Option<std::thread::Result<T>>>,
    done: Condvar,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            outcome: Mutex::new(None),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<std::thread::Result<T>>> {
        // Nothing panics while holding this lock (the task's code runs outside it).
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the task's outcome and wakes the joiner.
    pub(crate) fn complete(&self, outcome: std::thread::Result<T>) {
        let mut slot = self.lock();
        debug_assert!(slot.is_none(), "a task completed twice");
        *slot = Some(outcome);
        drop(slot);
        self.done.notify_all();
    }
}

/// An owned permission to wait for a spawned task and take its result.
///
/// Dropping it detaches the task: it still runs to completion, and its result is dropped.
#[must_use = "dropping a JoinHandle detaches the task; join it to see its result or its panic"]
pub struct JoinHandle<T> {
    slot: Arc<Slot<T>>,
}

impl<T> core::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

impl<T> JoinHandle<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>) -> JoinHandle<T> {
        JoinHandle { slot }
    }

    /// Whether the task has finished (returned, panicked, or failed to start).
    pub fn is_finished(&self) -> bool {
        self.slot.lock().is_some()
    }

    /// Blocks the calling OS thread until the task has finished, and returns its result, as
    /// [`std::thread::JoinHandle::join`] does: `Err(payload)` if the task panicked, with what it
    /// panicked with. A task that never ran, because its worker could not map its stack, is
    /// `Err` too, with a [`crate::Error`] as the payload
    /// ([`ErrorKind::Os`](crate::ErrorKind::Os), the `mmap` errno).
    ///
    /// Called from inside a task, it suspends that task (the wait is one on nemo's condvar, which
    /// parks tasks rather than their worker), so a task may join one that has not started yet,
    /// even on a runtime with one worker.
    ///
    /// ```
    /// use nemo_user::{BackendKind, Error, ErrorKind, sched::Runtime};
    ///
    /// let rt = Runtime::builder().workers(1).backend(BackendKind::Poll).build()?;
    /// assert_eq!(rt.spawn(|| 6 * 7).join().ok(), Some(42));
    /// let panicked = rt.spawn(|| panic!("on purpose")).join().unwrap_err();
    /// assert_eq!(panicked.downcast_ref::<&str>(), Some(&"on purpose"));
    ///
    /// let rt = Runtime::builder().workers(1).stack_size(1 << 60).backend(BackendKind::Poll).build()?;
    /// let never_ran = rt.spawn(|| ()).join().unwrap_err();
    /// assert_eq!(never_ran.downcast_ref::<Error>().map(Error::kind), Some(ErrorKind::Os));
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn join(self) -> std::thread::Result<T> {
        let slot = self.slot.lock();
        let mut slot = self
            .slot
            .done
            .wait_while(slot, &self.slot.outcome, |o| o.is_none())
            .unwrap_or_else(PoisonError::into_inner);
        slot.take()
            .expect("the wait ends only once the outcome is stored")
    }
}
