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
//! - The worker exits only when its local queue and parked set are empty and the shared queue
//!   is drained (see `queue.rs`), so no started task is dropped half-run.
//! - Before each pick the worker moves the tasks named in its inbox from its parked set to its
//!   round robin, latency-critical ones first (see `kick.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;

use corosensei::CoroutineResult;

use crate::backend::BackendKind;
use crate::error::Result;
use crate::interrupt::Receiver;
use crate::timer::TimerThread;

use super::kick::{IdleWorkers, TaskToken};
use super::queue::{LocalQueue, Runnable, SharedQueue};
use super::region::outside_regions;
use super::switch::{Started, Switch};
use super::task::clear_current;
use super::wakeup::{KICK, QuantumTimer, TICK, WorkerState, tick_handler};

/// What a worker thread is given.
pub(crate) struct WorkerSetup {
    pub(crate) state: Arc<WorkerState>,
    pub(crate) queue: Arc<SharedQueue>,
    pub(crate) timers: Arc<TimerThread>,
    pub(crate) backend: Option<BackendKind>,
    pub(crate) uintr_emulated: bool,
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
        uintr_emulated,
        stack_size,
    } = setup;
    let mut builder = Receiver::builder().vectors(1 << TICK | 1 << KICK);
    if let Some(kind) = backend {
        builder = builder.backend(kind);
    }
    if uintr_emulated {
        builder = builder.uintr_emulated(true);
    }
    let receiver = match builder.register(tick_handler(Arc::clone(&state))) {
        Ok(r) => r,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let endpoint = receiver.endpoint();
    let setup = QuantumTimer::new(&timers, &endpoint).and_then(|timer| {
        state.set_timer(Some(timer));
        state.install_kick_sender(endpoint.connect(KICK)?);
        Ok(endpoint.backend())
    });
    let failed = setup.is_err();
    if ready.send(setup).is_ok() && !failed {
        run_tasks(&state, &queue, stack_size);
    }
    // The kick sender stays: a kick after this point finds the receiver gone (see `wakeup.rs`).
    state.set_timer(None);
    drop(receiver);
}

/// The loop proper.
fn run_tasks(state: &Arc<WorkerState>, queue: &Arc<SharedQueue>, stack_size: usize) {
    let mut local = LocalQueue::new();
    let mut parked: HashMap<u64, (Arc<TaskToken>, Started)> = HashMap::new();
    let mut next_id = 0u64;
    let mut busy = false;
    loop {
        while let Some(id) = state.inbox.pop() {
            let (token, task) = parked
                .remove(&id)
                .expect("an id in the inbox names a parked task (kick.rs)");
            local.unparked(task, token.is_latency_critical());
        }
        let Some(next) = local.next(queue) else {
            if queue.is_drained() && parked.is_empty() {
                break;
            }
            // A timer error leaves the worker without ticks: its tasks still run, switched only
            // where they yield.
            let _ = state.set_busy(false);
            busy = false;
            queue.wait_for_work(|| !state.inbox.is_empty());
            continue;
        };
        let task = match next {
            Runnable::Started(task) => task,
            Runnable::Unstarted(spawned) => {
                next_id += 1;
                let token = TaskToken::new(
                    next_id,
                    Arc::clone(state),
                    Arc::clone(queue) as Arc<dyn IdleWorkers>,
                );
                match spawned.start(Arc::new(token), stack_size) {
                    Some(task) => {
                        state.started.fetch_add(1, Relaxed);
                        task
                    }
                    None => continue,
                }
            }
        };
        if !busy {
            let _ = state.set_busy(true);
            busy = true;
        }
        match resume(state, task) {
            Some((task, Switch::Parked(token))) => {
                if token.try_park() {
                    parked.insert(token.id, (token, task));
                } else {
                    local.requeue(task, queue); // unparked before it was parked
                }
            }
            Some((task, Switch::Yielded | Switch::Preempted)) => local.requeue(task, queue),
            None => {}
        }
    }
    debug_assert!(local.is_empty() && parked.is_empty());
}

/// Runs `task` until it suspends (returned, with why) or finishes (`None`).
fn resume(state: &WorkerState, mut task: Started) -> Option<(Started, Switch)> {
    state.preempt_requested.store(false, Relaxed);
    let result = task.resume(());
    clear_current();
    debug_assert!(outside_regions(), "a task left its worker inside a region");
    match result {
        CoroutineResult::Yield(why) => Some((task, why)),
        CoroutineResult::Return(()) => {
            state.completed.fetch_add(1, Relaxed);
            None
        }
    }
}
