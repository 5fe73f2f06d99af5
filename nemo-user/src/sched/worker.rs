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
//! - Unparked tasks reach the worker in the order they were unparked: it takes its whole inbox
//!   at once (`inbox.rs`) into `woken`, a queue only it touches, and moves them one at a time
//!   from its parked set. Before each pick it moves all of them to its round robin,
//!   latency-critical ones first (see `kick.rs`).
//! - The kick's switch: right after a preemption (which a kick asks for), the worker takes the
//!   first unparked task; if it is latency-critical, the worker queues the preempted task at the
//!   back of its round robin — admitting no unstarted task this once — and resumes the woken one
//!   at once, without a pick. The rest wait for the next pick. The task moves from the parked
//!   set to running exactly as a pick would move it, so no task is lost or run twice.
//! - Parked tasks are keyed by their id, which this worker gave them (unique, never chosen by a
//!   caller), so the parked set hashes with a fast fixed-seed hasher rather than SipHash.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;

use corosensei::CoroutineResult;
use foldhash::fast::FixedState;

use crate::backend::BackendKind;
use crate::error::Result;
use crate::interrupt::Receiver;
use crate::timer::TimerThread;

use super::kick::{IdleWorkers, TaskInbox, TaskToken};
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
    /// Quantum ticks interrupt only a task that reached no safepoint (`Builder::lazy_ticks`).
    pub(crate) lazy_ticks: bool,
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
        lazy_ticks,
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
    let setup = QuantumTimer::new(&timers, &endpoint, lazy_ticks).and_then(|timer| {
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

/// A worker's parked tasks by id, each with its token.
type ParkedSet = HashMap<u64, (Arc<TaskToken>, Started), FixedState>;

/// The worker's parked tasks, and those its unparkers made runnable.
struct Parked {
    set: ParkedSet,
    inbox: Arc<TaskInbox>,
    /// Taken from the inbox, oldest first, not yet moved out of `set`.
    woken: VecDeque<u64>,
}

impl Parked {
    /// Takes the first unparked task out of the parked set, with whether it is
    /// latency-critical; `None` if no task was unparked.
    #[inline]
    fn take_unparked(&mut self) -> Option<(Started, bool)> {
        if self.woken.is_empty() {
            let woken = &mut self.woken;
            // SAFETY: this worker is the inbox's one taker.
            unsafe { self.inbox.take_all(|token| woken.push_back(token.id)) };
        }
        let id = self.woken.pop_front()?;
        let (token, task) = self
            .set
            .remove(&id)
            .expect("an unparked token names a parked task (kick.rs)");
        Some((task, token.is_latency_critical()))
    }
}

/// The loop proper.
fn run_tasks(state: &Arc<WorkerState>, queue: &Arc<SharedQueue>, stack_size: usize) {
    let mut local = LocalQueue::new();
    let mut parked = Parked {
        set: ParkedSet::default(),
        inbox: Arc::new(TaskInbox::new()),
        woken: VecDeque::new(),
    };
    let mut next_id = 0u64;
    let mut busy = false;
    // The latency-critical task that the kick's switch resumes next, without a pick.
    let mut kicked: Option<Started> = None;
    loop {
        let task = match kicked.take() {
            Some(task) => task,
            None => {
                while let Some((task, critical)) = parked.take_unparked() {
                    local.unparked(task, critical);
                }
                let Some(next) = local.next(queue) else {
                    if queue.is_drained() && parked.set.is_empty() {
                        break;
                    }
                    // A timer error leaves the worker without ticks: its tasks still run,
                    // switched only where they yield.
                    let _ = state.set_busy(false);
                    busy = false;
                    queue.wait_for_work(|| !parked.inbox.is_empty());
                    continue;
                };
                match next {
                    Runnable::Started(task) => task,
                    Runnable::Unstarted(spawned) => {
                        next_id += 1;
                        let token = TaskToken::new(
                            next_id,
                            Arc::clone(state),
                            Arc::clone(&parked.inbox),
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
                    parked.set.insert(token.id, (token, task));
                } else {
                    local.requeue(task, queue); // unparked before it was parked
                }
            }
            Some((task, Switch::Preempted)) => match parked.take_unparked() {
                // The kick's switch (see the module's invariants).
                Some((woken, true)) => {
                    local.requeue_without_admitting(task);
                    kicked = Some(woken);
                }
                Some((woken, false)) => {
                    local.requeue(task, queue);
                    local.unparked(woken, false);
                }
                None => local.requeue(task, queue),
            },
            Some((task, Switch::Yielded)) => local.requeue(task, queue),
            None => {}
        }
    }
    debug_assert!(local.is_empty() && parked.set.is_empty() && kicked.is_none());
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
