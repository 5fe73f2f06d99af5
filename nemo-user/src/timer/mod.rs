//! Per-thread timer ticks, delivered as user interrupts: preemption quanta, periodic polling,
//! timeouts.
//!
//! A timer posts a vector of a [`Receiver`](crate::interrupt::Receiver) at each expiration —
//! periodically or once — so a tick is an ordinary user interrupt: it runs the receiver's
//! handler on the receiver's thread, coalesces with a tick still pending, waits out a
//! [`Guard`](crate::interrupt::Guard), and on the `poll` backend arrives at the next safepoint.
//! This emulates the xUI paper's kernel-bypass timer (a per-thread timer that interrupts its own
//! thread) with what Linux offers, two ways:
//!
//! | source | what sends the tick | costs | backends |
//! |---|---|---|---|
//! | [`TimerThread`] / [`TimerCore`] | a timer thread serving many timers — the runtimes' "timer core" — waiting by [`Idle::Spin`] (TSC deadlines, precise, burns its core), [`Idle::Pause`] (`umwait`, where WAITPKG exists) or [`Idle::Sleep`] (kernel sleep, frees the core) | a send per tick (a signal on `signal`, a store on `poll`) | all |
//! | [`Timer::posix`] | the kernel: a per-thread POSIX timer (`timer_create` with `SIGEV_THREAD_ID`) that sends the `signal` backend's signal to the receiver's thread | no timer thread; a kernel timer interrupt and a signal per tick | `signal` |
//!
//! # Lazy ticks
//!
//! [`TimerCore::arm_lazy`] posts each tick without a notification: the receiver takes it at its
//! next [`crate::poll`] (a runtime's safepoint), and only a tick that finds the previous one
//! still pending interrupts it. On `signal`, a receiver that polls at least once a period so
//! pays what `poll` pays, and one that does not is still interrupted, a period late; an
//! interruption there costs microseconds. On `poll` it is [`TimerCore::arm`]; on `uintr`, whose
//! pending interrupts software cannot see, every tick interrupts.
//!
//! # Counting ticks
//!
//! Every [`Timer`] counts its expirations ([`TickStats`]): `delivered` ones posted a vector that
//! was not pending, so each ran the handler once; `coalesced` ones did not — the vector was still
//! pending (the receiver was in a guard, a long handler, or between safepoints), the source was
//! late and skipped periods, or the receiver had gone. A runtime reads them to see how much
//! precision it lost. Coalescing is observed in the software UPID, so it is exact on the `signal`
//! and `poll` backends when the timer is its vector's only sender; on `uintr` the pending state
//! lives in the CPU and every send counts as delivered.
//!
//! # Cancelling
//!
//! After [`Timer::cancel`] returns, the timer posts nothing more. A tick posted just before may
//! still be pending — a vector is pending at most once — so at most one tick of a cancelled
//! timer is delivered after `cancel` returns (none if it was cancelled on the receiver's thread
//! outside a guard on the `signal` backend, where a posted tick is delivered at once). Dropping
//! a timer cancels it.
//!
//! # Example
//!
//! A runtime's preemption tick on the `poll` backend: the tick sets a flag the running task
//! checks at its safepoints (see `examples/preempt.rs` for a scheduler built on it).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::time::Duration;
//! use nemo_user::BackendKind;
//! use nemo_user::interrupt::Receiver;
//! use nemo_user::timer::{Arm, Idle, TimerCore};
//!
//! const TICK: u64 = 1;
//! let preempt = Arc::new(AtomicBool::new(false));
//! let p = preempt.clone();
//! let rx = Receiver::builder()
//!     .backend(BackendKind::Poll)
//!     .register(move |_| p.store(true, Ordering::Relaxed))?;
//! let timers = TimerCore::builder().wait(Idle::Sleep).spawn()?;
//! let quantum = timers.core().arm(&rx.endpoint(), TICK, Arm::Periodic(Duration::from_micros(500)))?;
//! let mut slices = 0;
//! while slices < 3 {
//!     // ... run a task ...
//!     nemo_user::poll(); // safepoint
//!     if preempt.swap(false, Ordering::Relaxed) {
//!         slices += 1; // switch tasks here
//!     }
//! }
//! quantum.cancel();
//! assert!(quantum.stats().delivered >= 3);
//! # Ok::<(), nemo_user::Error>(())
//! ```

mod clock;
mod destination;
mod posix;
mod thread;
mod timer_core;

use std::time::Duration;

use crate::error::Result;
use crate::interrupt::Endpoint;

pub use self::thread::TimerThread;
pub use self::timer_core::{Idle, TimerCore, TimerCoreBuilder};

/// When a timer expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arm {
    /// Every period, the first one period from now. The period must not be zero.
    Periodic(Duration),
    /// Once, this long from now (zero: at once).
    OneShot(Duration),
}

/// What a timer function learns about its expiration ([`TimerCore::arm_fn`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// Periods that passed without an expiration of their own because the timer core was late
    /// (they are counted as coalesced).
    pub missed: u64,
    /// How long after its deadline this expiration is served.
    pub late: Duration,
}

/// A timer's counts since it was created (re-arming does not reset them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TickStats {
    /// Expirations that posted their vector (or called their function): each ran the
    /// receiver's handler once.
    pub delivered: u64,
    /// Expirations that did not: the vector was still pending, the source skipped periods it
    /// was late for, or the receiver had gone.
    pub coalesced: u64,
}

/// A timer: periodic or one-shot ticks on a receiver's vector. Dropping it cancels it.
///
/// Made by [`TimerCore::arm`] (on a core of its own or a [`TimerThread`]'s: a timer thread
/// sends the ticks, any backend), [`TimerCore::arm_fn`] (a function called on the timer thread), or
/// [`Timer::posix`] (a per-thread kernel timer, `signal` backend). `'a` is the lifetime of what
/// a [`TimerCore`]'s functions borrow (`'static` for the others).
#[must_use = "dropping a timer cancels it: keep it for as long as it should tick"]
pub struct Timer<'a> {
    source: Source<'a>,
}

enum Source<'a> {
    Core(self::timer_core::CoreTimer<'a>),
    Posix(self::posix::PosixTimer),
}

impl core::fmt::Debug for Timer<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let source = match self.source {
            Source::Core(_) => "timer core",
            Source::Posix(_) => "POSIX timer",
        };
        f.debug_struct("Timer")
            .field("source", &source)
            .field("armed", &self.is_armed())
            .field("stats", &self.stats())
            .finish()
    }
}

impl Timer<'static> {
    /// A per-thread POSIX timer that posts `vector` to the receiver behind `endpoint`, sent by
    /// the kernel to the receiver's thread: no timer thread. The receiver must run on the
    /// `signal` backend, in this process.
    ///
    /// Errors: [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) on another backend,
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (bad period), the errors of
    /// [`Endpoint::connect`](crate::interrupt::Endpoint::connect), [`ErrorKind::Os`](crate::ErrorKind::Os)
    /// if the kernel refuses (or 256 POSIX timers exist in the process).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use nemo_user::BackendKind;
    /// use nemo_user::interrupt::Receiver;
    /// use nemo_user::timer::{Arm, Timer};
    ///
    /// let ticks = Arc::new(AtomicU64::new(0));
    /// let t = ticks.clone();
    /// let rx = Receiver::builder()
    ///     .backend(BackendKind::Signal)
    ///     .register(move |_| { t.fetch_add(1, Ordering::Relaxed); })?;
    /// let once = Timer::posix(&rx.endpoint(), 3, Arm::OneShot(Duration::from_millis(1)))?;
    /// while ticks.load(Ordering::Relaxed) == 0 {
    ///     std::hint::spin_loop();
    /// }
    /// assert_eq!(once.stats().delivered, 1);
    /// assert!(!once.is_armed()); // a one-shot timer disarms itself
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn posix(endpoint: &Endpoint, vector: u64, arm: Arm) -> Result<Timer<'static>> {
        Ok(Timer {
            source: Source::Posix(posix::PosixTimer::create(endpoint, vector, arm)?),
        })
    }
}

impl<'a> Timer<'a> {
    pub(crate) fn on_core(t: self::timer_core::CoreTimer<'a>) -> Timer<'a> {
        Timer {
            source: Source::Core(t),
        }
    }

    /// Stops the ticks: nothing is posted after this returns (see the module docs for the one
    /// tick that may still be pending). Idempotent; the timer may be re-armed.
    pub fn cancel(&self) {
        match &self.source {
            Source::Core(t) => t.cancel(),
            Source::Posix(t) => t.cancel(),
        }
    }

    /// Re-arms the timer from now, cancelled or not, replacing its schedule.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (bad period),
    /// [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone),
    /// [`ErrorKind::TimerStopped`](crate::ErrorKind::TimerStopped) (its timer core has stopped),
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (from a function of its own
    /// timer core).
    pub fn rearm(&self, arm: Arm) -> Result<()> {
        match &self.source {
            Source::Core(t) => t.rearm(arm),
            Source::Posix(t) => t.rearm(arm),
        }
    }

    /// Makes the timer periodic with this period, keeping its phase: the next expiration comes
    /// one new period after the last one (or after it was armed), or at once if that has
    /// passed. A timer that is not armed is armed, one period from now. Errors: as
    /// [`Timer::rearm`].
    pub fn set_period(&self, period: Duration) -> Result<()> {
        match &self.source {
            Source::Core(t) => t.set_period(period),
            Source::Posix(t) => t.set_period(period),
        }
    }

    /// Whether expirations are scheduled: armed, not cancelled, not a one-shot that fired, and
    /// the receiver still there.
    pub fn is_armed(&self) -> bool {
        match &self.source {
            Source::Core(t) => t.is_armed(),
            Source::Posix(t) => t.is_armed(),
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> TickStats {
        match &self.source {
            Source::Core(t) => t.stats(),
            Source::Posix(t) => t.stats(),
        }
    }
}
