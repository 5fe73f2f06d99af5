//! Tasks: a spawned closure, the coroutine it becomes on its worker, and the two ways a running
//! task gives its worker back ([`yield_now`] and [`safepoint`]).
//!
//! Invariants:
//! - `CURRENT` is `Some` exactly while a task's coroutine runs on this thread: the coroutine sets
//!   it when it starts and again after every suspension returns, and the worker clears it after
//!   every `resume` returns. Its pointers are valid while it is `Some`: the yielder is the
//!   running coroutine's own (alive for as long as the coroutine body runs), and the worker
//!   state is kept alive by the `Arc` the coroutine holds.
//! - A task suspends only from its own code, through [`yield_now`] or [`safepoint`], never from
//!   an interrupt handler: the handler runs with the thread's delivery depth raised (on
//!   `signal`, inside a signal frame too), and suspending there would leave every other task of
//!   the worker running with interrupts deferred.
//! - A task never suspends while a [`Guard`] is held: the guard's deferral belongs to the thread,
//!   so a switch would extend it over whatever task runs next.
//! - A task's panic is caught inside its coroutine, so `resume` always returns.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, Yielder};

use crate::interrupt::Guard;

use super::join::{JoinError, Slot};
use super::queue::Started;
use super::wakeup::WorkerState;

/// Why a task suspended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// It called [`yield_now`].
    Yielded,
    /// A tick asked for preemption and the task reached a [`safepoint`].
    Preempted,
}

#[derive(Clone, Copy)]
struct Current {
    yielder: *const Yielder<(), Switch>,
    worker: *const WorkerState,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
}

/// A spawned task that has not started: the worker that pops it turns it into a coroutine.
pub(crate) trait Spawned: Send {
    /// Makes the task's coroutine on the calling worker, or reports to its joiner why it cannot
    /// (returning `None`).
    fn start(self: Box<Self>, worker: &Arc<WorkerState>, stack_size: usize) -> Option<Started>;
}

/// A closure and the slot its result goes to.
pub(crate) struct Body<F, T> {
    pub(crate) f: F,
    pub(crate) slot: Arc<Slot<T>>,
}

impl<F, T> Spawned for Body<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn start(self: Box<Self>, worker: &Arc<WorkerState>, stack_size: usize) -> Option<Started> {
        let Body { f, slot } = *self;
        let stack = match DefaultStack::new(stack_size) {
            Ok(stack) => stack,
            Err(e) => {
                slot.complete(Err(JoinError::Stack(e)));
                return None;
            }
        };
        let worker = Arc::clone(worker);
        Some(Coroutine::with_stack(
            stack,
            move |yielder: &Yielder<(), Switch>, ()| {
                CURRENT.set(Some(Current {
                    yielder,
                    worker: Arc::as_ptr(&worker),
                }));
                let outcome = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::Panicked);
                CURRENT.set(None);
                slot.complete(outcome);
            },
        ))
    }
}

/// Called by the worker after each `resume` returns.
pub(crate) fn clear_current() {
    CURRENT.set(None);
}

/// Suspends the running task with `why`, and restores `CURRENT` when it is resumed.
fn suspend(current: Current, why: Switch) {
    // SAFETY: `CURRENT` is `Some` only while the coroutine that owns this yielder runs (module
    // invariants), and we are on that coroutine's stack now.
    let yielder = unsafe { &*current.yielder };
    yielder.suspend(why);
    // Resumed, on the same worker thread (tasks never migrate).
    CURRENT.set(Some(current));
}

/// Gives the worker to its next task; the caller goes to the back of the worker's round robin.
///
/// Outside a task it yields the OS thread ([`std::thread::yield_now`]). Inside a [`Guard`] it
/// returns without switching: the guard defers interrupts for the whole worker thread, and a
/// switch would extend that deferral over other tasks.
pub fn yield_now() {
    let Some(current) = CURRENT.get() else {
        std::thread::yield_now();
        return;
    };
    if Guard::is_held() {
        return;
    }
    // SAFETY: valid while `CURRENT` is `Some` (module invariants).
    let worker = unsafe { &*current.worker };
    worker.preempt_requested.store(false, Relaxed);
    worker.yields.fetch_add(1, Relaxed);
    suspend(current, Switch::Yielded);
}

/// A preemption point: delivers pending user interrupts (the `poll` backend's safepoint,
/// [`crate::poll`]), then switches to the worker's next task if a tick has asked for it since
/// this task was resumed. Returns whether it switched.
///
/// Long computations call it where a compiler would put a preemption check (a loop's back-edge).
/// It costs a thread-local read and, on `poll`, a load of the receiver's pending word when
/// nothing is pending. It never switches inside a [`Guard`]: the request stays, and the first
/// safepoint after the guard's drop honours it. Outside a task it only delivers interrupts.
pub fn safepoint() -> bool {
    crate::poll();
    let Some(current) = CURRENT.get() else {
        return false;
    };
    // SAFETY: valid while `CURRENT` is `Some` (module invariants).
    let worker = unsafe { &*current.worker };
    if !worker.preempt_requested.load(Relaxed) || Guard::is_held() {
        return false;
    }
    worker.preempt_requested.store(false, Relaxed);
    worker.preemptions.fetch_add(1, Relaxed);
    suspend(current, Switch::Preempted);
    true
}

/// The index of the worker running the calling task, or `None` outside a task.
pub fn current_worker() -> Option<usize> {
    let current = CURRENT.get()?;
    // SAFETY: valid while `CURRENT` is `Some` (module invariants).
    Some(unsafe { &*current.worker }.index)
}
