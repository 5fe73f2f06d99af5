//! The worker loop: one OS thread, one receiver, one quantum timer, many tasks.
//!
//! ```text
//!            ┌──────────── shared queue (unstarted closures) ◄── Runtime::spawn
//!            ▼
//!   worker: pick ─► resume task ─► task returns ─► completed
//!            ▲           │
//!            │           └─► task suspends (yield_now / safepoint after a tick)
//!            └─── local queue (started coroutines, round robin) ◄──┘
//! ```
//!
//! Invariants:
//! - The worker thread registers its receiver before it runs anything, and drops its timer,
//!   then its receiver, after the last task finished; every task therefore runs with the
//!   worker's receiver registered on its thread.
//! - Scheduler code (this loop) is never preempted: a task gives the worker back only from its
//!   own code (see `task.rs`), and the loop never calls a safepoint.
//! - The worker exits only when its local queue is empty and the shared queue is drained (see
//!   `queue.rs`), so no started task is dropped half-run.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;

use corosensei::CoroutineResult;

use crate::backend::BackendKind;
use crate::error::Result;
use crate::interrupt::Receiver;
use crate::timer::TimerThread;

use super::queue::{LocalQueue, Runnable, SharedQueue, Started};
use super::task::clear_current;
use super::wakeup::{QuantumTimer, TICK, WorkerState, tick_handler};

/// What a worker thread is given.
pub(crate) struct WorkerSetup {
    pub(crate) state: Arc<WorkerState>,
    pub(crate) queue: Arc<SharedQueue>,
    pub(crate) timers: Arc<TimerThread>,
    pub(crate) backend: Option<BackendKind>,
    pub(crate) stack_size: usize,
}

/// The body of a worker thread. Reports on `ready` whether its receiver and timer could be set
/// up, then runs tasks until the runtime closes and every task has finished.
pub(crate) fn run(setup: WorkerSetup, ready: mpsc::Sender<Result<BackendKind>>) {
    let WorkerSetup {
        state,
        queue,
        timers,
        backend,
        stack_size,
    } = setup;
    let mut builder = Receiver::builder().vectors(1 << TICK);
    if let Some(kind) = backend {
        builder = builder.backend(kind);
    }
    let receiver = match builder.register(tick_handler(Arc::clone(&state))) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let endpoint = receiver.endpoint();
    match QuantumTimer::new(&timers, &endpoint) {
        Ok(t) => state.set_timer(Some(t)),
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    }
    if ready.send(Ok(endpoint.backend())).is_ok() {
        run_tasks(&state, &queue, stack_size);
    }
    state.set_timer(None);
    drop(receiver);
}

/// The loop proper.
fn run_tasks(state: &Arc<WorkerState>, queue: &SharedQueue, stack_size: usize) {
    let mut local = LocalQueue::new();
    let mut busy = false;
    loop {
        let Some(next) = local.next(queue) else {
            if queue.is_drained() {
                break;
            }
            // A timer error leaves the worker without ticks: its tasks still run, switched only
            // where they yield.
            let _ = state.set_busy(false);
            busy = false;
            queue.wait_for_work();
            continue;
        };
        let task = match next {
            Runnable::Started(task) => task,
            Runnable::Unstarted(spawned) => match spawned.start(state, stack_size) {
                Some(task) => {
                    state.started.fetch_add(1, Relaxed);
                    task
                }
                None => continue,
            },
        };
        if !busy {
            let _ = state.set_busy(true);
            busy = true;
        }
        if let Some(task) = resume(state, task) {
            local.requeue(task, queue);
        }
    }
    debug_assert!(local.is_empty());
}

/// Runs `task` until it suspends (returned) or finishes (`None`).
fn resume(state: &WorkerState, mut task: Started) -> Option<Started> {
    state.preempt_requested.store(false, Relaxed);
    let result = task.resume(());
    clear_current();
    match result {
        CoroutineResult::Yield(_) => Some(task),
        CoroutineResult::Return(()) => {
            state.completed.fetch_add(1, Relaxed);
            None
        }
    }
}
