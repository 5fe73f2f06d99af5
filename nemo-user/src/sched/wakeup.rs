//! The wakeup path of a worker: how a timer tick becomes a preemption, and how the worker's
//! quantum is applied. (Idle workers are woken by the shared queue's event: see `queue.rs`.)
//!
//! Invariants:
//! - The handler (ticks and kicks alike) only stores `preempt_requested = true`. It runs on the worker's thread as
//!   a user interrupt — inside a signal handler on `signal`, inside `crate::poll()` on `poll` —
//!   where neither a stack switch nor a lock is sound; the running task honours the request at
//!   its next `sched::safepoint()` (see `task.rs`).
//! - The worker clears `preempt_requested` before resuming a task, so a tick that landed while
//!   the scheduler ran does not cut the next task's slice short at its first safepoint.
//! - The quantum is per worker; whoever changes it applies it to the worker's timer at once,
//!   under the timer's mutex (the same mutex the worker takes when it goes idle or busy). The
//!   timer runs only while the worker is busy and the quantum is not zero.
//! - Ticks are periodic per worker: a task resumed mid-period gets the rest of that period.
//! - With lazy ticks (`Builder::lazy_ticks`) the timer posts each tick without a notification
//!   and the running task's next safepoint takes it (`crate::poll`); only a tick that finds the
//!   previous one untaken notifies the worker (`TimerCore::arm_lazy`). A tick left pending while
//!   the worker idles is taken at the first safepoint of the next task it runs, as on `poll`.
//! - The kick sender is installed once, by the worker thread before it runs a task, and stays
//!   until the state is dropped; unparkers read it without a lock. Where the backend notifies
//!   nobody (`poll`) a kick only posts, without the doorbell's send bracket
//!   (`Sender::post_held`): the bracket keeps a signalled thread alive, which a post does not
//!   need, and orders sends before the receiver's final drain, which a kick does not need — a
//!   kick is wanted only while its task sits in the worker's inbox, and the worker runs every
//!   task its inbox names before it leaves its loop and drops its receiver (it leaves only with
//!   an empty parked set, see `worker.rs`). A late kick lands in a UPID that nobody drains any
//!   more, kept allocated by the sender. Notifying backends (`signal`, `uintr`) send inside the
//!   bracket, which fails once the receiver is gone.
//! - What unparkers touch here (the kick sender) lies on a cache line apart from the counters
//!   and the preemption request that the worker writes on every switch; the worker's inbox is
//!   beside this state, on a line of its own (see `worker.rs`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use crate::error::Result;
use crossbeam_utils::CachePadded;

use crate::interrupt::{Endpoint, Sender, Vector};
use crate::timer::{Arm, Timer, TimerThread};

/// The vector of a worker's receiver that its quantum ticks arrive on.
pub(crate) const TICK: u64 = 1;
/// The vector a latency-critical task's unparker kicks its worker on (above [`TICK`], so a
/// kick is delivered first when both are pending).
pub(crate) const KICK: u64 = 2;

/// What other threads may read or set about one worker.
#[derive(Debug)]
pub(crate) struct WorkerState {
    /// Set by the tick handler, taken by the running task's next safepoint.
    pub(crate) preempt_requested: AtomicBool,
    /// The quantum in nanoseconds; 0 disables preemption.
    quantum_ns: AtomicU64,
    pub(crate) started: AtomicU64,
    pub(crate) completed: AtomicU64,
    pub(crate) yields: AtomicU64,
    pub(crate) preemptions: AtomicU64,
    pub(crate) ticks: AtomicU64,
    pub(crate) kicks: AtomicU64,
    /// Reaches the worker's receiver on [`KICK`]; set once the worker has registered it.
    /// Read by unparkers on every kick, so on a line no counter shares.
    kick_sender: CachePadded<OnceLock<Sender>>,
    /// Set once the worker has registered its receiver; `None` before and after.
    timer: Mutex<Option<QuantumTimer>>,
}

impl WorkerState {
    pub(crate) fn new(quantum: Duration) -> WorkerState {
        WorkerState {
            preempt_requested: AtomicBool::new(false),
            quantum_ns: AtomicU64::new(duration_ns(quantum)),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            yields: AtomicU64::new(0),
            preemptions: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            kicks: AtomicU64::new(0),
            kick_sender: CachePadded::new(OnceLock::new()),
            timer: Mutex::new(None),
        }
    }

    pub(crate) fn quantum(&self) -> Duration {
        Duration::from_nanos(self.quantum_ns.load(Relaxed))
    }

    /// Stores the quantum and applies it to the running timer at once.
    pub(crate) fn set_quantum(&self, quantum: Duration) -> Result<()> {
        self.quantum_ns.store(duration_ns(quantum), Relaxed);
        match &mut *self.lock_timer() {
            Some(t) => t.apply(quantum),
            None => Ok(()),
        }
    }

    /// Installs (`Some`) or removes (`None`) the worker's timer; called by the worker thread.
    pub(crate) fn set_timer(&self, timer: Option<QuantumTimer>) {
        *self.lock_timer() = timer;
    }

    /// Starts the ticks when the worker gets work, stops them when it goes idle. Called by the
    /// worker on each change only, so a busy worker takes no lock per switch.
    pub(crate) fn set_busy(&self, busy: bool) -> Result<()> {
        match &mut *self.lock_timer() {
            Some(t) => {
                t.busy = busy;
                t.apply(self.quantum())
            }
            None => Ok(()),
        }
    }

    /// Installs the sender that kicks this worker; called once, by the worker thread, before
    /// it runs a task. It stays until the state is dropped (see the module's invariants).
    pub(crate) fn install_kick_sender(&self, sender: Sender) {
        let _ = self.kick_sender.set(sender);
    }

    /// Interrupts the worker so its running task switches at its next safepoint. Lock-free; on
    /// `poll` a post without the doorbell's bracket (see the module's invariants). A kick that
    /// finds the worker gone is dropped: its tasks have all finished.
    #[inline]
    pub(crate) fn kick(&self) {
        if let Some(sender) = self.kick_sender.get() {
            let _ = sender.post_held();
        }
    }

    fn lock_timer(&self) -> MutexGuard<'_, Option<QuantumTimer>> {
        // Nothing panics while holding this lock.
        self.timer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The worker receiver's handler: a tick or a kick requests preemption, and nothing else
/// happens here.
pub(crate) fn tick_handler(state: Arc<WorkerState>) -> impl FnMut(Vector) + 'static {
    move |v| {
        let counter = match v.get() as u64 {
            TICK => &state.ticks,
            KICK => &state.kicks,
            _ => return,
        };
        counter.fetch_add(1, Relaxed);
        state.preempt_requested.store(true, Relaxed);
    }
}

/// A worker's quantum timer: ticking at the worker's quantum while the worker is busy, stopped
/// while it is idle or the quantum is zero.
#[derive(Debug)]
pub(crate) struct QuantumTimer {
    timer: Timer<'static>,
    busy: bool,
    running: Option<Duration>,
}

impl QuantumTimer {
    /// A stopped timer posting [`TICK`] to `endpoint`; `lazy`: interrupting the worker only
    /// when its task did not take the previous tick at a safepoint (`TimerCore::arm_lazy`).
    pub(crate) fn new(
        timers: &TimerThread,
        endpoint: &Endpoint,
        lazy: bool,
    ) -> Result<QuantumTimer> {
        let idle = Arm::OneShot(Duration::from_secs(3600));
        let timer = if lazy {
            timers.arm_lazy(endpoint, TICK, idle)?
        } else {
            timers.arm(endpoint, TICK, idle)?
        };
        timer.cancel();
        Ok(QuantumTimer {
            timer,
            busy: false,
            running: None,
        })
    }

    fn apply(&mut self, quantum: Duration) -> Result<()> {
        let want = (self.busy && !quantum.is_zero()).then_some(quantum);
        if want == self.running {
            return Ok(());
        }
        match want {
            Some(q) => self.timer.rearm(Arm::Periodic(q))?,
            None => self.timer.cancel(),
        }
        self.running = want;
        Ok(())
    }
}
