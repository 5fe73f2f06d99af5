//! The mechanisms compared: the rows of every table.
//!
//! A mechanism is a [`Mechanism`]: data (what it is, which scenarios it applies to, what it needs
//! to run here) and a [`Driver`] that hands the measurement loops an [`Instance`] of one of two
//! kinds:
//!
//! - [`BlockingEvent`]: waiters call [`wait`](BlockingEvent::wait) and are released by
//!   [`notify_one`](BlockingEvent::notify_one) / [`notify_all`](BlockingEvent::notify_all), with a
//!   predicate (an event count) so no wakeup is lost. `pthread_cond`, `futex`, `spin`, and later
//!   the project's condvar and event.
//! - [`InterruptLink`]: the receiver thread is *running*; a handler on it stamps the arrival time.
//!   `signal`, `uintr`, and active messages (`am_signal`, `am_poll`, `am_uintr`).
//!
//! Adding one is one file here (its [`Driver`]) and one entry in [`MECHANISMS`]: see `README.md`
//! in this folder.

use std::sync::Arc;
use std::time::Duration;

use crate::arrival::Arrivals;

mod am;
mod futex;
mod nemo_condvar;
mod nemo_condvar_irq;
mod nemo_condvar_park;
mod nemo_event;
mod nemo_interrupt;
pub(crate) mod preload_cond;
mod pthread_cond;
mod rust_sync;
mod signal;
mod spin;
#[cfg(test)]
mod tests_support;
mod thread_park;
mod thread_receiver;
mod uintr;

/// Every mechanism, in table order: what each is, as data. The first rows are the baselines.
pub static MECHANISMS: &[Mechanism] = &[
    Mechanism {
        id: "pthread_cond",
        about: "glibc pthread_cond_signal/_broadcast + pthread_cond_wait, with a mutex and a \
                predicate",
        ..Mechanism::blocking(&pthread_cond::PthreadCond)
    },
    Mechanism {
        id: "futex",
        about: "raw FUTEX_WAKE / FUTEX_WAIT on a private word (the kernel floor for a parked \
                waiter)",
        ..Mechanism::blocking(&futex::Futex)
    },
    Mechanism {
        id: "spin",
        about: "waiter spins on a cache line (the coherence limit; burns the waiter's core)",
        kind: Kind::Polling,
        ..Mechanism::blocking(&spin::Spin)
    },
    Mechanism {
        id: "std_condvar",
        about: "std::sync::Condvar + std::sync::Mutex and a predicate (what Rust code uses by \
                default)",
        ..Mechanism::blocking(&rust_sync::STD_CONDVAR)
    },
    Mechanism {
        id: "parking_lot_condvar",
        about: "parking_lot::Condvar + parking_lot::Mutex and a predicate",
        ..Mechanism::blocking(&rust_sync::PARKING_LOT_CONDVAR)
    },
    Mechanism {
        id: "thread_park",
        about: "std::thread::park / Thread::unpark on an atomic count (waiters register their \
                Thread once)",
        ..Mechanism::blocking(&thread_park::ThreadPark)
    },
    Mechanism {
        id: "nemo_condvar",
        about: "nemo Condvar (default wait policy: spin, then park), with a mutex and a predicate",
        // The spin is bounded: a waiter nobody notifies parks and gives its core back.
        ..Mechanism::blocking(&nemo_condvar::NemoCondvar)
    },
    Mechanism {
        id: "nemo_condvar_park",
        about: "nemo Condvar with spinning disabled (parks at once), with a mutex and a predicate",
        ..Mechanism::blocking(&nemo_condvar_park::NemoCondvarPark)
    },
    Mechanism {
        id: "nemo_event",
        about: "nemo Event (mutex-free eventcount, default wait policy: spin, then park)",
        ..Mechanism::blocking(&nemo_event::NemoEvent)
    },
    Mechanism {
        id: "nemo_condvar_irq",
        about: "nemo Condvar, parked waiters woken by the notifier's user interrupt (signal \
                backend: a real-time signal ends the waiter's futex sleep), mutex and predicate",
        needs: &[Need::Signals],
        only_in: nemo_condvar_irq::IRQ_SCENARIOS,
        ..Mechanism::blocking(&nemo_condvar_irq::NEMO_CONDVAR_IRQ)
    },
    Mechanism {
        id: "nemo_event_irq",
        about: "nemo Event, parked waiters woken by the notifier's user interrupt (signal backend)",
        needs: &[Need::Signals],
        only_in: nemo_condvar_irq::IRQ_SCENARIOS,
        ..Mechanism::blocking(&nemo_condvar_irq::NEMO_EVENT_IRQ)
    },
    Mechanism {
        id: "nemo_condvar_irq_uintr",
        about: "nemo Condvar, parked waiters in uintr_wait woken by senduipi (needs UINTR \
                hardware)",
        needs: &[Need::Uintr],
        only_in: nemo_condvar_irq::IRQ_SCENARIOS,
        ..Mechanism::blocking(&nemo_condvar_irq::NEMO_CONDVAR_IRQ_UINTR)
    },
    Mechanism {
        id: "nemo_event_irq_uintr",
        about: "nemo Event, parked waiters in uintr_wait woken by senduipi (needs UINTR hardware)",
        needs: &[Need::Uintr],
        only_in: nemo_condvar_irq::IRQ_SCENARIOS,
        ..Mechanism::blocking(&nemo_condvar_irq::NEMO_EVENT_IRQ_UINTR)
    },
    Mechanism {
        id: "preload_cond",
        about: "the pthread_cond benchmark with pthread_cond_* from libnemo_preload.so (the \
                LD_PRELOAD shim, built with nemo-bench)",
        needs: &[Need::SharedObjects],
        ..Mechanism::blocking(&preload_cond::PreloadCond)
    },
    Mechanism {
        id: "signal",
        about: "raw tgkill + SA_SIGINFO handler on a running thread (the xUI paper's baseline)",
        needs: &[Need::Signals],
        ..Mechanism::interrupt(&signal::Signal)
    },
    Mechanism {
        id: "uintr",
        about: "raw senduipi → user-interrupt handler on a running thread (nemo-user's uintr \
                backend, no active messages)",
        needs: &[Need::Uintr],
        ..Mechanism::interrupt(&uintr::Uintr)
    },
    Mechanism {
        id: "am_signal",
        about: "nemo active message on the signal backend: mailbox + tgkill, action stamps",
        needs: &[Need::Signals],
        ..Mechanism::interrupt(&am::AM_SIGNAL)
    },
    Mechanism {
        id: "am_poll",
        about: "nemo active message on the poll backend: mailbox, action runs at the receiver's \
                nemo_user::poll() safepoint",
        ..Mechanism::interrupt(&am::AM_POLL)
    },
    Mechanism {
        id: "am_uintr",
        about: "nemo active message on the uintr backend: mailbox + senduipi, action stamps",
        needs: &[Need::Uintr],
        ..Mechanism::interrupt(&am::AM_UINTR)
    },
    Mechanism {
        id: "nemo_signal",
        about: "nemo user interrupt, signal backend (software UPID + tgkill of a real-time signal)",
        needs: &[Need::Signals],
        only_in: nemo_interrupt::TICK_SCENARIOS,
        ..Mechanism::interrupt(&nemo_interrupt::NEMO_SIGNAL)
    },
    Mechanism {
        id: "nemo_signal_lazy",
        about: "nemo_signal with a sched runtime's lazy ticks: a tick is taken at the running \
                task's next safepoint, and signals only a task that reached none for a quantum",
        needs: &[Need::Signals],
        only_in: nemo_interrupt::SCHED_SCENARIOS,
        ..Mechanism::interrupt(&nemo_interrupt::NEMO_SIGNAL_LAZY)
    },
    Mechanism {
        id: "nemo_posix",
        about: "nemo timer ticks from a per-thread POSIX timer (kernel timer → signal backend), \
                no timer thread",
        needs: &[Need::Signals],
        // A per-thread timer has no timer thread whose cost `timer` could measure.
        only_in: &["overhead"],
        ..Mechanism::interrupt(&nemo_interrupt::NEMO_POSIX)
    },
    Mechanism {
        id: "nemo_poll",
        about: "nemo user interrupt, poll backend (software UPID checked at safepoints)",
        only_in: nemo_interrupt::TICK_SCENARIOS,
        ..Mechanism::interrupt(&nemo_interrupt::NEMO_POLL)
    },
    Mechanism {
        id: "nemo_uintr",
        about: "nemo user interrupt, uintr backend (SENDUIPI → handler)",
        needs: &[Need::Uintr],
        only_in: nemo_interrupt::TICK_SCENARIOS,
        ..Mechanism::interrupt(&nemo_interrupt::NEMO_UINTR)
    },
];

/// Looks a mechanism up by id.
pub fn find(id: &str) -> Option<&'static Mechanism> {
    MECHANISMS.iter().find(|m| m.id == id)
}

/// The ids of all mechanisms, for error messages and `--list`.
pub fn ids() -> Vec<&'static str> {
    MECHANISMS.iter().map(|m| m.id).collect()
}

/// One comparable notification mechanism: a row of the tables. What it is, where it applies and
/// what it needs are data; only making an [`Instance`] is code (its [`Driver`]).
pub struct Mechanism {
    /// The id used on the command line and in JSON (`pthread_cond`, `nemo_condvar`, ...).
    pub id: &'static str,
    /// One line for `--list`: what it is.
    pub about: &'static str,
    /// How its receivers wait.
    pub kind: Kind,
    /// What the machine must offer; a row is skipped with the reason otherwise.
    pub needs: &'static [Need],
    /// The scenarios it takes part in by design (empty: every scenario that accepts its
    /// [`Kind`]). Elsewhere it is not a row at all.
    pub only_in: &'static [&'static str],
    /// Makes its per-measurement state.
    pub driver: &'static dyn Driver,
}

impl Mechanism {
    /// A blocking mechanism that needs nothing and applies everywhere (fill the rest in with
    /// `..Mechanism::blocking(driver)`).
    pub const fn blocking(driver: &'static dyn Driver) -> Mechanism {
        Mechanism {
            id: "",
            about: "",
            kind: Kind::Blocking,
            needs: &[],
            only_in: &[],
            driver,
        }
    }

    /// An interrupt mechanism that needs nothing and applies everywhere.
    pub const fn interrupt(driver: &'static dyn Driver) -> Mechanism {
        Mechanism {
            kind: Kind::Interrupt,
            ..Mechanism::blocking(driver)
        }
    }

    /// The id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// What it is.
    pub fn about(&self) -> &'static str {
        self.about
    }

    /// How its receivers wait.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Whether the mechanism applies to a scenario at all, by design (a scenario already
    /// filters by [`Kind`]). Cases where it does not apply are not rows; cases where it applies
    /// but cannot run here are [`Skipped`] rows.
    pub fn supports(&self, scenario: &str) -> bool {
        self.only_in.is_empty() || self.only_in.contains(&scenario)
    }

    /// Whether it can run in `setup` on this machine; the reason if not.
    pub fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        for need in self.needs {
            need.check(setup)?;
        }
        self.driver.check(setup)
    }

    /// What exactly its measured rows ran, beyond [`about`](Mechanism::about).
    pub fn note(&self) -> Option<String> {
        self.driver.note()
    }

    /// Fresh state for one measurement (one scenario case), or why it cannot run here.
    pub fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        self.check(setup)?;
        self.driver.instantiate(setup)
    }
}

/// The code half of a [`Mechanism`]: all per-run state lives in the [`Instance`] it returns.
pub trait Driver: Sync {
    /// Whether it can run in `setup`, beyond the mechanism's [`Need`]s.
    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        let _ = setup;
        Ok(())
    }

    /// Fresh state for one measurement; called only after [`check`](Driver::check) passed.
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped>;

    /// What exactly a measured row of it ran, where that is more than its `about` says (the
    /// shared object `preload_cond` loaded); printed under its table and in the JSON.
    fn note(&self) -> Option<String> {
        None
    }
}

/// Something a mechanism needs from the machine or the binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Signal delivery (absent under gem5 syscall emulation).
    Signals,
    /// User interrupts (UINTR) on this CPU and kernel.
    Uintr,
    /// Loading shared objects with `dlopen` (absent in a statically linked binary).
    SharedObjects,
}

impl Need {
    /// Whether `setup` offers it; the reason a reader understands if not.
    pub fn check(self, setup: &Setup<'_>) -> Result<(), Skipped> {
        match self {
            Need::Signals if setup.sim => Err(Skipped::new(
                "gem5 syscall-emulation mode does not deliver signals",
            )),
            Need::Uintr if !setup.uintr => Err(Skipped::new(format!(
                "no user interrupts here: {}",
                uintr_sys::detect().reason()
            ))),
            Need::SharedObjects if setup.static_binary => Err(Skipped::new(
                "a statically linked binary cannot load shared objects (dlopen)",
            )),
            _ => Ok(()),
        }
    }
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

    /// The `nemo_user` backend the link's receivers run, for scenarios that build their own
    /// receivers on it (a `nemo_user::sched` runtime). `None` (the default): not a nemo link.
    fn nemo_backend(&self) -> Option<nemo_user::BackendKind> {
        None
    }

    /// Whether a sched runtime on this link's backend ticks lazily
    /// (`nemo_user::sched::Builder::lazy_ticks`).
    fn nemo_lazy_ticks(&self) -> bool {
        false
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
        for id in [
            "pthread_cond",
            "futex",
            "spin",
            "signal",
            "std_condvar",
            "parking_lot_condvar",
            "thread_park",
        ] {
            assert!(find(id).is_some(), "{id} missing");
        }
    }
}
