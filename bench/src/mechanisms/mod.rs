//! The mechanisms compared: the rows of every table.
//!
//! A mechanism is a [`Mechanism`] (what it is, which scenarios it applies to, whether it can run
//! here) that hands the measurement loops an [`Instance`] of one of two kinds:
//!
//! - [`BlockingEvent`]: waiters call [`wait`](BlockingEvent::wait) and are released by
//!   [`notify_one`](BlockingEvent::notify_one) / [`notify_all`](BlockingEvent::notify_all), with a
//!   predicate (an event count) so no wakeup is lost. `pthread_cond`, `futex`, `spin`, and later
//!   the project's condvar and event.
//! - [`InterruptLink`]: the receiver thread is *running*; a handler on it stamps the arrival time.
//!   `signal`, `uintr`, and active messages (`am_signal`, `am_poll`, `am_uintr`).
//!
//! Adding one is one file here and one line in [`MECHANISMS`]: see `README.md` in this folder.

use std::sync::Arc;
use std::time::Duration;

use crate::arrival::Arrivals;

mod am;
mod futex;
mod nemo_condvar;
mod nemo_condvar_park;
mod nemo_event;
mod nemo_interrupt;
pub(crate) mod preload_cond;
mod pthread_cond;
mod signal;
mod spin;
#[cfg(test)]
mod tests_support;
mod thread_receiver;
mod uintr;

/// Every mechanism, in table order. The first rows are the baselines.
pub static MECHANISMS: &[&dyn Mechanism] = &[
    &pthread_cond::PthreadCond,
    &futex::Futex,
    &spin::Spin,
    &nemo_condvar::NemoCondvar,
    &nemo_condvar_park::NemoCondvarPark,
    &nemo_event::NemoEvent,
    &preload_cond::PreloadCond,
    &signal::Signal,
    &uintr::Uintr,
    &am::AM_SIGNAL,
    &am::AM_POLL,
    &am::AM_UINTR,
    &nemo_interrupt::NEMO_SIGNAL,
    &nemo_interrupt::NEMO_POSIX,
    &nemo_interrupt::NEMO_POLL,
    &nemo_interrupt::NEMO_UINTR,
];

/// Looks a mechanism up by id.
pub fn find(id: &str) -> Option<&'static dyn Mechanism> {
    MECHANISMS.iter().copied().find(|m| m.id() == id)
}

/// The ids of all mechanisms, for error messages and `--list`.
pub fn ids() -> Vec<&'static str> {
    MECHANISMS.iter().map(|m| m.id()).collect()
}

/// How a mechanism's receivers wait, which decides the scenarios it fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Waiters block (sleep in the kernel, or whatever the mechanism's wait policy does).
    Blocking,
    /// Waiters spin on memory: the [`BlockingEvent`] interface, but a core is burnt per waiter.
    Polling,
    /// The receiver runs its own work and a handler interrupts it: [`InterruptLink`].
    Interrupt,
}

impl Kind {
    /// Whether receivers of this kind occupy their core all the time (then more receivers than
    /// free cores would measure the scheduler, not the mechanism).
    pub fn burns_core(self) -> bool {
        matches!(self, Kind::Polling | Kind::Interrupt)
    }

    /// A short name for tables and `--list`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Blocking => "blocking",
            Kind::Polling => "polling",
            Kind::Interrupt => "interrupt",
        }
    }
}

/// Why a mechanism cannot run in some setup ("no UINTR on this CPU", "signals are not delivered
/// under gem5 syscall emulation"). It becomes a row with `"skipped": reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped(pub String);

impl Skipped {
    /// A skip with the given reason.
    pub fn new(reason: impl Into<String>) -> Skipped {
        Skipped(reason.into())
    }
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a mechanism is asked to run under: enough to decide whether it can.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    /// Scenario id (`unicast`, `broadcast`, ...).
    pub scenario: &'a str,
    /// Regime name (`short-gap`, `long-gap`, `ping-pong`, ...).
    pub regime: &'a str,
    /// How many receiver threads the case uses.
    pub receivers: usize,
    /// Usable cores.
    pub cores: usize,
    /// More threads than cores.
    pub oversubscribed: bool,
    /// The `--sim` profile (gem5 syscall emulation: no signals, maybe no affinity).
    pub sim: bool,
    /// The binary is statically linked (no `dlopen` of shared objects).
    pub static_binary: bool,
    /// User interrupts are usable here ([`uintr_sys::detect()`]).
    pub uintr: bool,
}

/// One comparable notification mechanism.
///
/// Implementations are unit structs placed in [`MECHANISMS`]; all per-run state lives in the
/// [`Instance`] that [`instantiate`](Mechanism::instantiate) returns.
pub trait Mechanism: Sync {
    /// The id used on the command line and in JSON (`pthread_cond`, `nemo_condvar`, ...).
    fn id(&self) -> &'static str;

    /// One line for `--list`: what it is.
    fn about(&self) -> &'static str;

    /// How its receivers wait.
    fn kind(&self) -> Kind;

    /// Whether the mechanism applies to a scenario and regime at all, by design (a scenario
    /// already filters by [`Kind`]; override to opt out further). Cases where it does not apply
    /// are not rows; cases where it applies but cannot run here are [`Skipped`] rows.
    fn supports(&self, scenario: &str, regime: &str) -> bool {
        let _ = (scenario, regime);
        true
    }

    /// Whether it can run in `setup` on this machine; the reason if not.
    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        let _ = setup;
        Ok(())
    }

    /// Fresh state for one measurement (one scenario case).
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped>;
}

/// The state one measurement drives.
pub enum Instance {
    /// A waiter/notifier pair ([`Kind::Blocking`] and [`Kind::Polling`]).
    Blocking(Box<dyn BlockingEvent>),
    /// An interrupt path to running receivers ([`Kind::Interrupt`]).
    Interrupt(Box<dyn InterruptLink>),
}

/// An event that waiters block on, with its predicate: a count of events published so far.
///
/// The contract that makes wakeups impossible to lose: `notify_*` publishes the next count and
/// then wakes; `wait(seen)` returns as soon as the count differs from `seen` (at once if it
/// already does), so a notify that races ahead of a waiter is seen by it.
pub trait BlockingEvent: Send + Sync {
    /// Blocks until the event count differs from `seen`; returns the count observed.
    fn wait(&self, seen: u64) -> u64;

    /// Publishes one more event and wakes one waiter.
    fn notify_one(&self);

    /// Publishes one more event and wakes every waiter.
    fn notify_all(&self);
}

/// A way to interrupt running receiver threads.
///
/// Receivers are numbered `0..receivers` (the `receivers` of the [`Setup`] it was made for).
/// Each registers on its own thread, then runs a busy loop calling [`poll`](InterruptLink::poll)
/// until the run ends; every delivery must call [`Arrivals::stamp`] on that receiver's arrivals,
/// on the receiver thread, exactly once per event sent.
pub trait InterruptLink: Send + Sync {
    /// On receiver `index`'s thread, before any event: arrange delivery to this thread.
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped>;

    /// On the sender's thread: interrupt receiver `index` once.
    fn send(&self, index: usize);

    /// On the sender's thread: interrupt every receiver (a loop of [`send`](InterruptLink::send)
    /// unless the mechanism has a real broadcast).
    fn send_all(&self, receivers: usize) {
        for i in 0..receivers {
            self.send(i);
        }
    }

    /// On receiver `index`'s thread, in its busy loop: a safepoint for mechanisms that deliver
    /// by polling. Nothing by default.
    fn poll(&self, index: usize) {
        let _ = index;
    }

    /// Whether deliveries happen only at [`poll`](InterruptLink::poll) safepoints, so that a
    /// receiver that never polls never receives (the `poll` backends). No by default.
    fn delivers_at_safepoints(&self) -> bool {
        false
    }

    /// On receiver `index`'s thread, after `register`: a tick source of the mechanism's own (a
    /// per-thread kernel timer, a per-core hardware timer), not yet started, that interrupts
    /// this receiver every `period` from [`OwnTicks::start`] until it is stopped or dropped,
    /// replacing `send`s from a timer thread. `None` (the default): the mechanism has none.
    fn own_ticks(
        &self,
        index: usize,
        period: Duration,
    ) -> Option<Result<Box<dyn OwnTicks>, Skipped>> {
        let _ = (index, period);
        None
    }

    /// On receiver `index`'s thread, after the run: stop delivering to it.
    fn unregister(&self, index: usize);

    /// Whether each send is handled as its own delivery even when sends outrun the receiver —
    /// a message queue (active messages), not a notification that coalesces with a pending one
    /// (a user interrupt, a signal's pending bit). Only such links are streamed for throughput
    /// (the `am` scenario's `msgs_per_s`). No by default.
    fn queues_messages(&self) -> bool {
        false
    }
}

/// A tick source of a mechanism's own ([`InterruptLink::own_ticks`]); dropping it stops the
/// ticks. Another thread may stop it: ticks that come faster than the receiver can take them
/// leave it no time to do anything else, not even to stop them itself.
pub trait OwnTicks: Send + Sync {
    /// Starts the ticks (on the receiver's thread).
    fn start(&self) -> Result<(), Skipped>;

    /// Expirations so far, and how many of them became deliveries (the rest coalesced).
    fn counts(&self) -> (u64, u64);

    /// Stops the ticks early, from any thread (a receiver that cannot keep up with them).
    fn stop(&self);
}

/// Whether this binary is statically linked (`-C target-feature=+crt-static`); a mechanism that
/// loads a shared object must skip itself then.
pub const fn static_binary() -> bool {
    cfg!(target_feature = "crt-static")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_found() {
        let ids = ids();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[..i].contains(id), "duplicate mechanism id {id}");
            assert_eq!(find(id).map(|m| m.id()), Some(*id));
        }
        assert!(find("no_such_mechanism").is_none());
    }

    #[test]
    fn baselines_are_registered() {
        for id in ["pthread_cond", "futex", "spin", "signal"] {
            assert!(find(id).is_some(), "{id} missing");
        }
    }
}
