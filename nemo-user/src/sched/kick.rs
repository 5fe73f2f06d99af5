//! Parking a task and waking it from any thread, with a *kick* for latency-critical tasks
//! (Nemo §4.1 at user level): the waker makes the task runnable on its worker and sends the
//! worker a user interrupt, so the worker switches to it at the running task's next safepoint
//! instead of at the end of the quantum.
//!
//! Invariants (the handshake between a parking task, its worker and an unparker):
//! - A task's `state` is `EMPTY` (running or runnable, no token), `NOTIFIED` (a token waits to
//!   be consumed) or `PARKED` (its coroutine is in its worker's parked set). Only the worker
//!   moves it to `PARKED`, by a CAS from `EMPTY` after the task has suspended — so an unparker
//!   never hands a task to the worker's inbox while it still runs; only the task consumes a
//!   token (`NOTIFIED` → `EMPTY`).
//! - An unparker swaps in `NOTIFIED`; exactly the one that finds `PARKED` pushes the task's
//!   token to its worker's inbox (`inbox.rs`). So a parked task is made runnable once per park, never twice, and a
//!   notify that finds the task running or runnable leaves a token its next `park` consumes
//!   (tokens coalesce, as with `std::thread::park`): no wakeup is lost.
//! - The worker inserts a task into its parked set before it reads its inbox again (same
//!   thread, after the CAS), so a token in the inbox always names a parked task; the worker holds
//!   that token (in hand, then in the parked set) until it has taken it from the inbox, which is
//!   what the inbox requires of its nodes.
//! - Idle workers wait on the shared event with their inbox in the condition, and an unparker
//!   notifies the event after the push, so a parked task of an idle worker is not left waiting.
//! - The handshake is lock-free and allocates nothing: the state word ([`ParkState`]), the
//!   inbox (an intrusive stack whose link is in the token, `inbox.rs`) and the kick, a post to
//!   the worker's receiver through a sender installed once (see `wakeup.rs`). What an unparker
//!   writes of the token (state, wait word, link) lies on one cache line. A kick never decides whether a task is runnable: one that is lost (the
//!   worker already gone) or late (the task already resumed) costs at most a preemption.
//!   `loom_models.rs` runs [`ParkState`]'s code, the inbox's code and the wait word of
//!   `waiter.rs` under loom.

use std::sync::Arc;
use std::sync::atomic::{
    AtomicBool, AtomicPtr, AtomicU8, AtomicU32, Ordering::AcqRel, Ordering::Relaxed,
};

use super::inbox::{Inbox, Linked};
use super::wakeup::WorkerState;
use crate::atom::Atom8;

const EMPTY: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// A task's state word (`EMPTY`, `NOTIFIED`, `PARKED`) and its three transitions.
#[derive(Debug)]
pub(crate) struct ParkState<A>(pub(crate) A);

impl<A: Atom8> ParkState<A> {
    /// The task's side, before it suspends to park: consumes a token if there is one.
    #[inline]
    pub(crate) fn take_token(&self) -> bool {
        self.0.swap(EMPTY, AcqRel) == NOTIFIED
    }

    /// The worker's side, after the task suspended to park: whether it is now parked (`false`:
    /// a token came in between, and the task stays runnable).
    #[inline]
    pub(crate) fn try_park(&self) -> bool {
        self.0
            .compare_exchange(EMPTY, PARKED, AcqRel, Relaxed)
            .is_ok()
    }

    /// An unparker's side: leaves a token, and returns whether the task was parked — then the
    /// caller, and no one else, must make it runnable.
    #[inline]
    pub(crate) fn notify(&self) -> bool {
        self.0.swap(NOTIFIED, AcqRel) == PARKED
    }
}

/// What an unpark needs of the runtime's shared queue: to wake an idle worker so that it looks
/// at its inbox. A trait, so that this file does not import the queue (which holds tasks and
/// their tokens).
pub(crate) trait IdleWorkers: Send + Sync + core::fmt::Debug {
    fn wake_idle_workers(&self);
}

/// A worker's inbox of unparked tasks.
pub(crate) type TaskInbox = Inbox<TaskToken>;

/// What unparkers and the worker share about one task. Aligned to a cache line, so that what an
/// unparker writes (state, wait word, link) is one line, apart from the `Arc`'s counts.
#[derive(Debug)]
#[repr(align(64))]
pub(crate) struct TaskToken {
    pub(crate) id: u64,
    state: ParkState<AtomicU8>,
    latency_critical: AtomicBool,
    /// The word a condvar or event wait of the task sleeps on (see `waiter.rs`).
    pub(crate) wait_word: AtomicU32,
    /// The token's link in its worker's inbox.
    link: AtomicPtr<TaskToken>,
    inbox: Arc<TaskInbox>,
    worker: Arc<WorkerState>,
    queue: Arc<dyn IdleWorkers>,
}

impl Linked<AtomicPtr<TaskToken>> for TaskToken {
    #[inline]
    fn link(&self) -> &AtomicPtr<TaskToken> {
        &self.link
    }
}

impl TaskToken {
    pub(crate) fn new(
        id: u64,
        worker: Arc<WorkerState>,
        inbox: Arc<TaskInbox>,
        queue: Arc<dyn IdleWorkers>,
    ) -> TaskToken {
        TaskToken {
            id,
            state: ParkState(AtomicU8::new(EMPTY)),
            latency_critical: AtomicBool::new(false),
            wait_word: AtomicU32::new(0),
            link: AtomicPtr::new(std::ptr::null_mut()),
            inbox,
            worker,
            queue,
        }
    }

    /// The task's side, before it suspends to park: consumes a token if there is one.
    pub(crate) fn take_token(&self) -> bool {
        self.state.take_token()
    }

    /// The worker's side, after the task suspended to park: whether it is now parked.
    pub(crate) fn try_park(&self) -> bool {
        self.state.try_park()
    }

    pub(crate) fn worker(&self) -> &Arc<WorkerState> {
        &self.worker
    }

    pub(crate) fn is_latency_critical(&self) -> bool {
        self.latency_critical.load(Relaxed)
    }

    pub(crate) fn set_latency_critical(&self, critical: bool) {
        self.latency_critical.store(critical, Relaxed);
    }

    pub(crate) fn unpark(&self) {
        if !self.state.notify() {
            return;
        }
        // SAFETY: only this unparker found the task `PARKED`, so the token is in no inbox, and
        // the worker holds it until it has taken it (the module's invariants).
        unsafe { self.inbox.push(self) };
        if self.is_latency_critical() {
            self.worker.kick();
        }
        self.queue.wake_idle_workers();
    }
}

/// Wakes one task parked by [`park`](super::park): cheap to clone, usable from any thread,
/// inside or outside the runtime.
#[derive(Debug, Clone)]
pub struct Unparker {
    pub(crate) token: Arc<TaskToken>,
}

impl Unparker {
    /// Makes the task runnable if it is parked, or lets its next [`park`](super::park) return
    /// at once if it is not. If the task is latency-critical
    /// ([`set_latency_critical`](super::set_latency_critical)), also kicks its worker: a user
    /// interrupt that makes the worker's running task switch at its next safepoint, to this
    /// task first.
    pub fn unpark(&self) {
        self.token.unpark();
    }
}
