//! Tasks: a spawned closure, the coroutine it becomes on its worker, and the three ways a running
//! task gives its worker back ([`yield_now`], [`safepoint`] and [`park`]).
//!
//! Invariants:
//! - `CURRENT` is `Some` exactly while a task's coroutine runs on this thread: the coroutine sets
//!   it when it starts and again after every suspension returns, and the worker clears it after
//!   every `resume` returns. Its pointers are valid while it is `Some`: the yielder is the
//!   running coroutine's own (alive for as long as the coroutine body runs), and the task's
//!   token and its worker's state are kept alive by the `Arc` the coroutine holds.
//! - A task suspends only from its own code, through [`yield_now`], [`safepoint`] or [`park`], or
//!   from the preemption stub a handler redirected it to inside a preemptible region (after the
//!   handler returned: see `preemptible.rs`), never from an interrupt handler: the handler runs
//!   with the thread's delivery depth raised (on `signal`, inside a signal frame too), and
//!   suspending there would leave every other task of the worker running with interrupts
//!   deferred.
//! - Every suspension leaves the task's preemptible region for the switch and re-enters it
//!   after `CURRENT` is restored, so a handler never finds a region while the scheduler runs.
//! - A task never suspends while a [`Guard`] is held: the guard's deferral belongs to the thread,
//!   so a switch would extend it over whatever task runs next.
//! - A task's panic is caught inside its coroutine, so `resume` always returns.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use corosensei::{Coroutine, Yielder};

use crate::interrupt::Guard;

use super::join::{JoinError, Slot};
use super::kick::{TaskToken, Unparker};
use super::region;
use super::stack::TaskStack;
use super::switch::{Spawned, Started, Switch};
use super::wakeup::WorkerState;
use crate::error::Repr;

#[derive(Clone, Copy)]
struct Current {
    yielder: *const Yielder<(), Switch>,
    worker: *const WorkerState,
    token: *const TaskToken,
}

thread_local! {
    static CURRENT: Cell<Option<Current>> = const { Cell::new(None) };
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
    fn start(self: Box<Self>, token: Arc<TaskToken>, stack_size: usize) -> Option<Started> {
        let Body { f, slot } = *self;
        let stack = match TaskStack::new(stack_size) {
            Ok(stack) => stack,
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EINVAL);
                slot.complete(Err(JoinError::not_started(Repr::Stack(errno).into())));
                return None;
            }
        };
        Some(Coroutine::with_stack(
            stack,
            move |yielder: &Yielder<(), Switch>, ()| {
                CURRENT.set(Some(Current {
                    yielder,
                    worker: Arc::as_ptr(token.worker()),
                    token: Arc::as_ptr(&token),
                }));
                let outcome = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panicked);
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

/// Suspends the running task with `why`, and restores `CURRENT` (then its preemptible region,
/// if it was in one) when it is resumed.
fn suspend(current: Current, why: Switch) {
    // SAFETY: `CURRENT` is `Some` only while the coroutine that owns this yielder runs (module
    // invariants), and we are on that coroutine's stack now.
    let yielder = unsafe { &*current.yielder };
    // No handler may redirect the switch or the scheduler's loop.
    let region = region::leave_region();
    yielder.suspend(why);
    // Resumed, on the same worker thread (tasks never migrate).
    CURRENT.set(Some(current));
    region::resume_region(region);
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
    preempt(current, worker);
    true
}

/// The switch of a requested preemption, at a safepoint or at any instruction.
fn preempt(current: Current, worker: &WorkerState) {
    worker.preempt_requested.store(false, Relaxed);
    worker.preemptions.fetch_add(1, Relaxed);
    suspend(current, Switch::Preempted);
}

/// Preempts the running task where a handler redirected it inside a preemptible region (see
/// `preemptible.rs`); returns its worker's state once the task runs again.
///
/// # Panics
/// Outside a task, which the redirect rules out (it is called from an `extern "C"` function,
/// so that would abort).
pub(super) fn preempt_current() -> *const WorkerState {
    let current = CURRENT
        .get()
        .expect("a preemptible region is entered only inside a task");
    // SAFETY: valid while `CURRENT` is `Some` (module invariants).
    preempt(current, unsafe { &*current.worker });
    current.worker
}

/// The running task's worker state, or `None` outside a task (what a region records).
pub(super) fn current_worker_state() -> Option<*const WorkerState> {
    CURRENT.get().map(|c| c.worker)
}

/// Parks the calling task until an [`Unparker`] of it unparks it — or returns at once if one
/// already did since the last `park` (one token, as with [`std::thread::park`]). The worker
/// runs its other tasks meanwhile.
///
/// Like `std::thread::park`, callers loop on their own condition: `park` returns without
/// switching outside a task (it does not block the thread) and inside a [`Guard`] (a switch
/// would extend the guard over other tasks).
pub fn park() {
    let Some(current) = CURRENT.get() else {
        return;
    };
    if Guard::is_held() {
        return;
    }
    // SAFETY: valid while `CURRENT` is `Some` (module invariants).
    let token = unsafe { &*current.token };
    if token.take_token() {
        return;
    }
    // SAFETY: as above; the `Arc` the coroutine holds keeps the token alive, so it can be
    // cloned from the pointer `Arc::as_ptr` gave.
    let owned = unsafe {
        Arc::increment_strong_count(current.token);
        Arc::from_raw(current.token)
    };
    suspend(current, Switch::Parked(owned));
    // Unparked: the token that woke us is ours.
    token.take_token();
}

/// The calling task's token, if a task runs here and may suspend (no [`Guard`] is held): what a
/// condvar or event wait of the task registers (see `waiter.rs`).
pub(crate) fn current_token() -> Option<Arc<TaskToken>> {
    let current = CURRENT.get()?;
    if Guard::is_held() {
        return None;
    }
    // SAFETY: valid while `CURRENT` is `Some`; the coroutine's `Arc` keeps it alive (see `park`).
    Some(unsafe {
        Arc::increment_strong_count(current.token);
        Arc::from_raw(current.token)
    })
}

/// An [`Unparker`] of the calling task, or `None` outside a task.
pub fn current_unparker() -> Option<Unparker> {
    let current = CURRENT.get()?;
    // SAFETY: valid while `CURRENT` is `Some`; the coroutine's `Arc` keeps it alive (see `park`).
    let token = unsafe {
        Arc::increment_strong_count(current.token);
        Arc::from_raw(current.token)
    };
    Some(Unparker { token })
}

/// Marks the calling task latency-critical (or not): its unparkers then kick its worker, which
/// switches to it at the running task's next safepoint and runs it before its other tasks.
/// Does nothing outside a task.
pub fn set_latency_critical(critical: bool) {
    if let Some(current) = CURRENT.get() {
        // SAFETY: valid while `CURRENT` is `Some` (module invariants).
        unsafe { &*current.token }.set_latency_critical(critical);
    }
}
