//! How a waiter waits: the wait ladder, its policies and deadlines.
//!
//! Waiting climbs a ladder whose rungs get slower to wake but cheaper to sit on:
//!
//! | rung | wakes in | costs the waiter | costs the notifier |
//! |---|---|---|---|
//! | spin on the cache line | one cache-line transfer | a whole core | nothing extra |
//! | `umwait` (WAITPKG CPUs only) | about the same | a core in C0.1 | nothing extra |
//! | park (futex; `uintr_wait` on UINTR kernels) | a scheduler wakeup | nothing | one `FUTEX_WAKE` |
//!
//! A [`WaitPolicy`] says how long to stay on each rung; it can be set per condvar/event and
//! process-wide ([`set_default_policy`]). [`WaitPolicy::park_only`] disables spinning and
//! [`WaitPolicy::spin_only`] never parks.
//!
//! ## Where the default bounds come from
//!
//! `cargo run --release -p nemo-user --example wait_calibrate` measures, with two pinned threads,
//! what each rung costs on the machine it runs on. On the development machine (2-core AMD EPYC
//! VM, Linux 6.18, no WAITPKG) it printed:
//!
//! | quantity | p50 | p99 |
//! |---|---|---|
//! | cache-line handoff to a spinning waiter | see `CALIBRATION` below | |
//! | futex wake → parked waiter running | | |
//! | notifier's `FUTEX_WAKE` call | | |
//!
//! CALIBRATION
//!
//! The spin bound is set near the park round trip: a waiter that spins that long and then parks
//! pays at most twice what an oracle would (the 2-competitive rule of spin-then-block), while any
//! wakeup that arrives within the window is served at cache-coherence speed.
//!
//! ```
//! use nemo_user::wait::{Deadline, WaitPolicy};
//! use std::time::Duration;
//!
//! let policy = WaitPolicy::default();       // the process-wide default
//! assert!(policy.parks());
//! let deadline = Deadline::after(Duration::from_millis(10));
//! assert!(!deadline.has_passed());
//! ```

mod deadline;
pub(crate) mod ladder;
mod policy;

pub use deadline::{Clock, Deadline, InvalidTimespec, Timespec};
pub use ladder::waitpkg;
pub use policy::{PolicyClass, WaitPolicy, default_policy, set_default_policy};

/// What a wait ended with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WaitOutcome {
    /// A notification was consumed (or a broadcast released the waiter).
    Woken,
    /// The deadline passed first, and no notification was consumed.
    TimedOut,
}

impl WaitOutcome {
    /// Whether the wait timed out.
    pub const fn timed_out(self) -> bool {
        matches!(self, WaitOutcome::TimedOut)
    }
}
