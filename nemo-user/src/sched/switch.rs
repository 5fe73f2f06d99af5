//! What the scheduler's parts say about a task's coroutine: why it suspended ([`Switch`]), what
//! a started one is ([`Started`]), and what an unstarted one can do ([`Spawned`]). A leaf of
//! `sched` below the queue, the task switch and the worker, so none of them imports another
//! for these names.

use std::sync::Arc;

use corosensei::Coroutine;

use super::kick::TaskToken;
use super::stack::TaskStack;

/// Why a task suspended.
pub(crate) enum Switch {
    /// It called [`yield_now`](super::yield_now).
    Yielded,
    /// A tick or a kick asked for preemption and the task reached a [`safepoint`](super::safepoint).
    Preempted,
    /// It called [`park`](super::park) with no token: the worker parks it unless a token came meanwhile.
    Parked(Arc<TaskToken>),
}

/// A started task: a coroutine that yields [`Switch`] each time it gives up the worker.
pub(crate) type Started = Coroutine<(), Switch, (), TaskStack>;

/// A spawned task that has not started: the worker that pops it turns it into a coroutine.
pub(crate) trait Spawned: Send {
    /// Makes the task's coroutine on the calling worker, or reports to its joiner why it cannot
    /// (returning `None`).
    fn start(self: Box<Self>, token: Arc<TaskToken>, stack_size: usize) -> Option<Started>;
}
