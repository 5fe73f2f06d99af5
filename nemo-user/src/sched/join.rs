//! [`JoinHandle`]: how a task's result (or its panic) gets back to whoever spawned it.
//!
//! Invariants:
//! - A slot is written exactly once, by the worker that ran the task (its result, its panic, or
//!   the error that kept it from starting), and read at most once, by [`JoinHandle::join`].
//! - The write happens under the slot's mutex and is followed by a `notify_all`, so a joiner that
//!   checked the slot under the same mutex and found it empty is woken (no lost wakeup).
//! - A task's panic is caught on the task's own stack (`catch_unwind` inside the coroutine), so
//!   it never unwinds through the coroutine boundary or the worker loop.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::condvar::Condvar;
use crate::error::Error;

/// Why [`JoinHandle::join`] has no value for the task: it panicked, or it never ran because its
/// worker could not map its stack. `Display` says which, with the panic's message or the error.
pub struct JoinError(Cause);

enum Cause {
    Panicked(Box<dyn Any + Send + 'static>),
    NotStarted(Error),
}

impl JoinError {
    pub(crate) fn panicked(payload: Box<dyn Any + Send + 'static>) -> JoinError {
        JoinError(Cause::Panicked(payload))
    }

    pub(crate) fn not_started(e: Error) -> JoinError {
        JoinError(Cause::NotStarted(e))
    }

    /// What the task panicked with (for `std::panic::resume_unwind`, or to downcast), or, for a
    /// task that never ran, the error that kept it from starting
    /// ([`ErrorKind::Os`](crate::ErrorKind::Os): the stack could not be mapped).
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, Error> {
        match self.0 {
            Cause::Panicked(payload) => Ok(payload),
            Cause::NotStarted(e) => Err(e),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Cause::Panicked(payload) => {
                let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
                    s
                } else if let Some(s) = payload.downcast_ref::<String>() {
                    s
                } else {
                    "(a non-string payload)"
                };
                write!(f, "the task panicked: {message}")
            }
            Cause::NotStarted(e) => e.fmt(f),
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Cause::Panicked(_) => f
                .debug_tuple("Panicked")
                .field(&format_args!("{self}"))
                .finish(),
            Cause::NotStarted(e) => f.debug_tuple("NotStarted").field(e).finish(),
        }
    }
}

impl std::error::Error for JoinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Cause::Panicked(_) => None,
            Cause::NotStarted(e) => Some(e),
        }
    }
}

/// Where a task's outcome waits for its joiner.
pub(crate) struct Slot<T> {
    outcome: Mutex<Option<Result<T, JoinError>>>,
    done: Condvar,
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Arc<Slot<T>> {
        Arc::new(Slot {
            outcome: Mutex::new(None),
            done: Condvar::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Option<Result<T, JoinError>>> {
        // Nothing panics while holding this lock (the task's code runs outside it).
        self.outcome.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores the task's outcome and wakes the joiner.
    pub(crate) fn complete(&self, outcome: Result<T, JoinError>) {
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

    /// Blocks the calling OS thread until the task has finished, and returns its result, or why
    /// there is none: the task panicked (the payload is [`JoinError::try_into_panic`]'s), or it
    /// never ran because its worker could not map its stack.
    ///
    /// Called from inside a task, it suspends that task (the wait is one on nemo's condvar, which
    /// parks tasks rather than their worker), so a task may join one that has not started yet,
    /// even on a runtime with one worker.
    ///
    /// ```
    /// use nemo_user::{BackendKind, ErrorKind, sched::Runtime};
    ///
    /// let rt = Runtime::builder().workers(1).backend(BackendKind::Poll).build()?;
    /// assert_eq!(rt.spawn(|| 6 * 7).join().ok(), Some(42));
    /// let panicked = rt.spawn(|| panic!("on purpose")).join().unwrap_err();
    /// assert_eq!(panicked.to_string(), "the task panicked: on purpose");
    /// let payload = panicked.try_into_panic().unwrap();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"on purpose"));
    ///
    /// let rt = Runtime::builder().workers(1).stack_size(1 << 60).backend(BackendKind::Poll).build()?;
    /// let never_ran = rt.spawn(|| ()).join().unwrap_err();
    /// assert_eq!(never_ran.try_into_panic().unwrap_err().kind(), ErrorKind::Os);
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn join(self) -> Result<T, JoinError> {
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
