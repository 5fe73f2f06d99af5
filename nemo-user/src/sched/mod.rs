//! A small M:N scheduler of stackful tasks, preempted by timer ticks — a runtime built on nemo,
//! written to be read and copied (feature `sched`).
//!
//! One worker thread per core (or as many as asked), each a [`Receiver`](crate::interrupt::Receiver)
//! with a quantum [`Timer`](crate::timer::Timer) on one shared [`TimerThread`]; tasks are
//! [`corosensei`] coroutines, each on its own guard-paged stack.
//!
//! | file | what it holds |
//! |---|---|
//! | `worker.rs` | the worker loop: pick, resume, requeue |
//! | `queue.rs` | the shared queue of unstarted tasks, each worker's round robin, idle waits |
//! | `wakeup.rs` | the tick and kick handler, the preemption request, the per-worker quantum |
//! | `kick.rs` | [`park`] / [`Unparker`]: the parking handshake and the kick |
//! | `inbox.rs` | a worker's inbox of unparked tasks: an intrusive lock-free stack of their tokens |
//! | `waiter.rs` | how a task waits on nemo's [`Condvar`](crate::condvar::Condvar) and [`Event`](crate::event::Event) |
//! | `task.rs` | coroutines, [`yield_now`], [`safepoint`], [`park`] |
//! | `preemptible.rs` | [`preemptible`] regions, the handler's redirect, the preemption stub |
//! | `region.rs` | the preemptible-region word the switch and the handler share |
//! | `switch.rs` | a task's coroutine as the queue, the switch and the worker name it |
//! | `stack.rs` | a task's stack (a guarded mapping; why not corosensei's `DefaultStack`) |
//! | `join.rs` | [`JoinHandle`]: results and panics |
//!
//! What a runtime needs from nemo, and how to plug in a scheduler of your own instead of this
//! one, is in `RUNTIMES.md` beside the crate's `Cargo.toml` (with `examples/sched_own.rs`, a
//! whole scheduler on nemo's receivers, timer and kicks in one file).
//!
//! # Preemption
//!
//! Each worker's timer ticks every quantum while it has tasks. The tick is a user interrupt on
//! the worker's thread, and its handler sets the worker's *preemption request*. Where the running
//! task honours it depends on where the task is:
//!
//! - **At safepoints**, everywhere: [`safepoint()`] — where a compiler would put a preemption
//!   check — switches to the worker's next task when a request is pending; [`yield_now`]
//!   switches at once. A switch there is an ordinary function call on the task's side, so the
//!   task keeps its registers by the calling convention.
//! - **At any instruction**, inside a [`preemptible`] region on the `signal` and `uintr`
//!   backends: the handler rewrites the context it returns to (the signal's `ucontext_t`; the
//!   `Frame` that `uiret` pops) so that the task, once the handler has returned, "calls" a
//!   preemption stub. The stub saves every general register, RFLAGS and the FP/SSE/AVX state
//!   (`xsave`, or `fxsave` where the OS reports no XSAVE area), switches as a safepoint does,
//!   and returns to the interrupted instruction with everything restored. On `poll` the tick is
//!   delivered at [`crate::poll`] (which [`safepoint()`] calls first), in ordinary code, so a
//!   region changes nothing there: `poll` preempts at safepoints only.
//!
//! Rules (the invariants of `task.rs` and `preemptible.rs`):
//!
//! - The switch never happens inside the handler, on any backend: the handler runs with the
//!   thread's delivery deferred (and on `signal`, inside a signal frame), so a task suspended
//!   there would leave the worker's other tasks running with interrupts deferred, and a stack
//!   switch out of a signal handler is not sound in Rust. The stub runs after `rt_sigreturn` /
//!   `uiret`, in ordinary context.
//! - Nothing is preempted inside the scheduler (its loop calls no safepoint and is never in a
//!   region: every switch leaves the region and re-enters it when the task runs again) or while
//!   a [`Guard`](crate::interrupt::Guard) is held: [`safepoint()`] and [`yield_now`] do not
//!   switch inside a guard, and the handler does not redirect inside one; the first safepoint,
//!   or in a region the first tick, after the guard's drop honours the request.
//! - Outside a region a task is never switched at an arbitrary instruction: a task that never
//!   reaches a safepoint (or yield) there keeps its worker.
//! - Inside a region the code promises to take no lock and not to allocate (see
//!   [`preemptible`]): a task suspended holding a lock would block the next task of its worker
//!   that takes it. As a second guard the handler never redirects while the interrupted
//!   instruction is in the C library, the dynamic loader or `libgcc_s` (their executable
//!   ranges are found with `dl_iterate_phdr` when a runtime is built), nor while the thread is
//!   panicking; the request then waits for the next tick.
//! - The stub returns with `ret`, to an address it was not called from: with user-space shadow
//!   stacks (CET) enabled it would fault; Rust binaries do not enable them.
//!
//! The quantum is per worker and may be changed at run time ([`Runtime::set_quantum`]).
//!
//! # Parking and kicks
//!
//! A task waits with [`park`] and is woken by an [`Unparker`] ([`current_unparker`]) from any
//! thread: the unpark puts the task back in its worker's round robin (a task never changes
//! worker). If the task is latency-critical ([`set_latency_critical`]), the unpark also *kicks*
//! the worker — Nemo's kick at user level: a user interrupt on the worker's receiver whose
//! handler sets the same preemption request as a tick, so the running task switches at its next
//! safepoint and the worker runs the woken task first, without waiting for the quantum. Tokens
//! work like [`std::thread::park`]'s: an unpark before the park makes the park return at once,
//! and several unparks before one park wake it once; no unpark is lost, and no task is queued
//! twice.
//!
//! # Waiting on nemo's condvars and events
//!
//! A task that waits on a [`Condvar`](crate::condvar::Condvar),
//! [`LockApiCondvar`](crate::condvar::LockApiCondvar) or [`Event`](crate::event::Event) suspends
//! itself, not its worker: the wait skips the spinning rungs and parks the task, and the notify
//! (from a task or a plain thread) unparks it as an [`Unparker`] would — with a kick when the
//! task is latency-critical. `notify_one` stays exact, for task and thread waiters mixed on one
//! condvar. Two cases still block the worker thread: a wait inside a
//! [`Guard`](crate::interrupt::Guard) and a wait on a process-shared condvar. A timed wait
//! does not block but yields its worker until woken or the deadline, so on a worker with nothing
//! else to run it spins. The mutex of a condvar wait is an OS mutex: a task must not reach a
//! safepoint (or yield, or park) while it holds one, or a task of the same worker that then asks
//! for it blocks the worker for good.
//!
//! # What a task may do
//!
//! - Block in the OS (a `read`, a mutex, [`JoinHandle::join`]): allowed, but it holds its worker
//!   and every task queued on it until it returns.
//! - Panic: the panic is caught on the task's stack and returned by [`JoinHandle::join`]; the
//!   worker goes on.
//! - Recurse deeply: a task has [`Builder::stack_size`] bytes of stack (256 KiB by default)
//!   above a guard page; overflowing it kills the process with `SIGSEGV`, as on a thread.
//! - Use thread-locals: a task stays on the worker that started it, so they are the worker's,
//!   shared with the worker's other tasks.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use nemo_user::BackendKind;
//! use nemo_user::sched::{self, Runtime};
//!
//! let rt = Runtime::builder()
//!     .workers(2)
//!     .backend(BackendKind::Poll)
//!     .quantum(Duration::from_micros(200))
//!     .build()?;
//! let tasks: Vec<_> = (0..8u64)
//!     .map(|i| {
//!         rt.spawn(move || {
//!             let mut sum = 0;
//!             for k in 0..10_000 {
//!                 sum += i * k;
//!                 sched::safepoint(); // may switch to another task of this worker
//!             }
//!             sum
//!         })
//!     })
//!     .collect();
//! let total: u64 = tasks.into_iter().map(|t| t.join().unwrap()).sum();
//! assert_eq!(total, (0..8).sum::<u64>() * (0..10_000).sum::<u64>());
//! rt.shutdown();
//! # Ok::<(), nemo_user::Error>(())
//! ```

mod inbox;
mod join;
mod kick;
#[cfg(test)]
mod loom_models;
mod preemptible;
#[cfg(test)]
mod preemptible_tests;
mod queue;
mod region;
mod stack;
mod switch;
mod task;
mod waiter;
mod wakeup;
mod worker;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::backend::BackendKind;
use crate::error::{Repr, Result};
use crate::timer::{Idle, TimerCore, TimerThread};

pub use self::join::{JoinError, JoinHandle};
pub use self::kick::Unparker;
pub use self::preemptible::preemptible;
pub use self::task::{current_unparker, park, safepoint, set_latency_critical, yield_now};

/// The vector of a worker's receiver that quantum ticks arrive on. A runtime that brings a tick
/// source of its own — a per-core hardware timer such as xUI's KB timer, armed by a task on its
/// worker's thread — posts this vector to the worker: the worker's handler counts it as a tick
/// and requests preemption, exactly as for a tick of the runtime's timer thread.
pub const TICK_VECTOR: u8 = wakeup::TICK as u8;

use self::join::Slot;
use self::queue::SharedQueue;
use self::task::Body;
use self::wakeup::WorkerState;
use self::worker::WorkerSetup;

/// How a [`Runtime`] is set up.
#[derive(Debug, Clone)]
pub struct Builder {
    workers: usize,
    backend: Option<BackendKind>,
    quantum: Duration,
    stack_size: usize,
    timer_idle: Idle,
    lazy_ticks: bool,
    /// `uintr` receivers on `uintr_sys::emulation` (for this crate's tests of the `uintr` path
    /// where there is no hardware).
    uintr_emulated: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: thread::available_parallelism().map_or(1, |n| n.get()),
            backend: None,
            quantum: Duration::from_millis(1),
            stack_size: 256 * 1024,
            timer_idle: Idle::Sleep,
            lazy_ticks: false,
            uintr_emulated: false,
        }
    }
}

impl Builder {
    /// The number of worker threads (default: one per available core).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n;
        self
    }

    /// The backend of the workers' receivers (default: the process's, [`crate::backend_info`]).
    pub fn backend(mut self, kind: BackendKind) -> Self {
        self.backend = Some(kind);
        self
    }

    /// Every worker's initial quantum (default 1 ms); zero disables preemption.
    pub fn quantum(mut self, quantum: Duration) -> Self {
        self.quantum = quantum;
        self
    }

    /// Each task's stack size in bytes (default 256 KiB, plus a guard page).
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = bytes;
        self
    }

    /// How the timer thread waits between ticks (default [`Idle::Sleep`], which frees its core
    /// but is late by the kernel's timer slack; [`Idle::Spin`] is precise and burns a core).
    pub fn timer_idle(mut self, idle: Idle) -> Self {
        self.timer_idle = idle;
        self
    }

    /// Whether a quantum tick interrupts a worker only when its running task reached no
    /// safepoint since the previous tick (default `false`: every tick interrupts).
    ///
    /// Lazy ticks are posted without a notification and taken at the running task's next
    /// [`safepoint()`], as on `poll`; a tick that finds the previous one untaken interrupts the
    /// worker as usual (on `signal`, a signal, which also preempts a task inside a
    /// [`preemptible`] region at any instruction). Tasks that reach safepoints so pay a load
    /// per safepoint instead of a signal per quantum — a signal costs microseconds, tens of
    /// them in a virtual machine — and a task that reaches none is still preempted, a quantum
    /// late (every other tick). On `poll` it changes nothing; on `uintr` (whose pending
    /// interrupts software cannot see, and whose interrupts are cheap) every tick still
    /// interrupts. See [`TimerCore::arm_lazy`](crate::timer::TimerCore::arm_lazy).
    pub fn lazy_ticks(mut self, lazy: bool) -> Self {
        self.lazy_ticks = lazy;
        self
    }

    /// Workers on the `uintr` backend's emulated path.
    #[cfg(test)]
    pub(crate) fn uintr_emulated(mut self) -> Self {
        self.backend = Some(BackendKind::Uintr);
        self.uintr_emulated = true;
        self
    }

    /// Starts the timer thread and the workers, and waits until every worker has registered its
    /// receiver and armed its timer.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for
    /// `workers(0)`; [`ErrorKind::Os`](crate::ErrorKind::Os) if a thread could not be spawned;
    /// the receiver's and the timer's registration errors (a backend that cannot run here, say).
    pub fn build(self) -> Result<Runtime> {
        if self.workers == 0 {
            return Err(Repr::NoWorkers.into());
        }
        // Before any task runs: condvar and event waits inside tasks suspend the task.
        crate::wake::task::register_current(waiter::current);
        crate::interrupt::resume::register(preemptible::redirect);
        // Before any tick: the stub's save area and the code it never interrupts.
        preemptible::prepare();
        let timers = Arc::new(TimerCore::builder().wait(self.timer_idle).spawn()?);
        let queue = Arc::new(SharedQueue::new());
        let mut rt = Runtime {
            queue,
            states: Vec::with_capacity(self.workers),
            threads: Vec::with_capacity(self.workers),
            timers: Some(timers),
        };
        let (ready_tx, ready_rx) = mpsc::channel();
        for index in 0..self.workers {
            let state = Arc::new(WorkerState::new(self.quantum));
            let setup = WorkerSetup {
                state: Arc::clone(&state),
                queue: Arc::clone(&rt.queue),
                timers: Arc::clone(rt.timers.as_ref().expect("set above")),
                backend: self.backend,
                uintr_emulated: self.uintr_emulated,
                lazy_ticks: self.lazy_ticks,
                stack_size: self.stack_size,
            };
            let ready = ready_tx.clone();
            // On error `rt`'s drop closes the queue and joins the workers started so far.
            let handle = thread::Builder::new()
                .name(format!("nemo-sched-{index}"))
                .spawn(move || worker::run(setup, ready))
                .map_err(|e| Repr::Spawn(e.raw_os_error().unwrap_or(libc::EAGAIN)))?;
            rt.states.push(state);
            rt.threads.push(handle);
        }
        drop(ready_tx);
        for _ in 0..self.workers {
            match ready_rx.recv() {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                // A worker only dies before reporting on a bug of this module.
                Err(_) => return Err(Repr::Spawn(libc::EIO).into()),
            }
        }
        Ok(rt)
    }
}

/// What one worker has done so far ([`Runtime::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WorkerStats {
    /// Tasks it started.
    pub started: u64,
    /// Tasks that finished on it (returned or panicked).
    pub completed: u64,
    /// Switches by [`yield_now`].
    pub yields: u64,
    /// Switches after a tick or a kick: at a [`safepoint()`], or at any instruction inside a
    /// [`preemptible`] region.
    pub preemptions: u64,
    /// Quantum ticks its handler saw.
    pub ticks: u64,
    /// Kicks its handler saw (unparks of its latency-critical tasks).
    pub kicks: u64,
}

/// A running scheduler: worker threads, their timers, and the queue of spawned tasks.
///
/// Dropping it (or [`Runtime::shutdown`]) lets every spawned task run to completion, then joins
/// the workers; a task that never returns (or stays parked with no one to unpark it) keeps it
/// from returning.
#[derive(Debug)]
pub struct Runtime {
    queue: Arc<SharedQueue>,
    states: Vec<Arc<WorkerState>>,
    threads: Vec<thread::JoinHandle<()>>,
    /// Dropped after the workers are joined (their timers must go first).
    timers: Option<Arc<TimerThread>>,
}

impl core::fmt::Debug for SharedQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedQueue").finish_non_exhaustive()
    }
}

impl Runtime {
    /// A builder with the defaults.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// Queues `f` as a task; the first worker free to start it does. Its result, or its panic,
    /// comes back through the handle.
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Slot::new();
        self.queue.push(Box::new(Body {
            f,
            slot: Arc::clone(&slot),
        }));
        JoinHandle::new(slot)
    }

    /// Changes worker `index`'s quantum (zero: no preemption), from any thread, with effect at
    /// once: a busy worker's timer is re-armed to tick one new quantum from now.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for an
    /// `index` past the last worker; the timer's errors when it is re-armed.
    pub fn set_quantum(&self, index: usize, quantum: Duration) -> Result<()> {
        self.state(index)?.set_quantum(quantum)
    }

    /// Each worker's counts so far.
    pub fn stats(&self) -> Vec<WorkerStats> {
        self.states
            .iter()
            .map(|s| WorkerStats {
                started: s.started.load(Relaxed),
                completed: s.completed.load(Relaxed),
                yields: s.yields.load(Relaxed),
                preemptions: s.preemptions.load(Relaxed),
                ticks: s.ticks.load(Relaxed),
                kicks: s.kicks.load(Relaxed),
            })
            .collect()
    }

    /// Runs every spawned task to completion, then stops the workers and the timer thread.
    pub fn shutdown(self) {
        drop(self);
    }

    fn state(&self, index: usize) -> Result<&WorkerState> {
        self.states.get(index).map(|s| &**s).ok_or_else(|| {
            Repr::NoSuchWorker {
                index,
                workers: self.states.len(),
            }
            .into()
        })
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.queue.close();
        for t in self.threads.drain(..) {
            // A worker thread only panics on a bug in this module: tasks' panics are caught.
            let _ = t.join();
        }
        drop(self.timers.take());
    }
}
