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
//! `cargo run --release -p nemo-user --example wait_calibrate` measures, with two threads pinned to
//! different cores, what each rung costs on the machine it runs on. On the development machine
//! (2-core AMD EPYC VM, Linux 6.18, no WAITPKG, shared with other work) it printed:
//!
//! | quantity | p50 | p90 | p99 |
//! |---|---|---|---|
//! | `clock_gettime(CLOCK_MONOTONIC)` | 20 ns | 30 ns | 31 ns |
//! | store → spinning waiter sees it | 250 ns | 330 ns | 400 ns |
//! | `FUTEX_WAKE` → parked waiter runs | 15.3 µs | 20.8 µs | 41.6 µs |
//! | notifier's `FUTEX_WAKE`, one sleeper | 7.7 µs | 8.7 µs | 10.8 µs |
//! | notifier's `FUTEX_WAKE`, no sleeper | 190 ns | 191 ns | 191 ns |
//!
//! Parking instead of spinning costs the waiter ≈ 15 µs of latency and the notifier ≈ 7.7 µs of
//! system call. Spinning for about as long as parking costs is 2-competitive (never worse than
//! twice the better choice in hindsight), so [`WaitPolicy::BUILTIN_SPIN`] is 20 µs; the `umwait`
//! rung ([`WaitPolicy::BUILTIN_UMWAIT`]) could not be measured here. On bare metal a futex wake is
//! usually several times cheaper than in this VM; rerun the example and set a policy
//! ([`set_default_policy`]) to match.
//!
//! Spinning pays when the waiter has a core to itself. With more runnable threads than cores,
//! a spinner takes CPU time from the very thread that would notify it (the stress tests of this
//! crate, with seven threads on two cores, run several times faster with
//! [`WaitPolicy::park_only`]); give such workloads a short spin or none.
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
