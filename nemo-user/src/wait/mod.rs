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
//! ## The adaptive default
//!
//! A fixed spin window has two failure modes, both measured with `nemo-bench unicast broadcast`
//! on the development machine before the default became adaptive:
//!
//! - **Waits that outlast the window** pay for it every time: with events 1 ms apart the waiter
//!   burnt ≈ 50 µs of CPU per event against ≈ 34 µs for a raw futex waiter.
//! - **Spinning without a CPU of its own** delays the threads the spinner waits for: with a
//!   signaller and two waiters on two CPUs, the last waiter of a broadcast woke 1.3–1.5 × later
//!   than with `pthread_cond` and the wake times were 5–9 × more spread out.
//!
//! So the built-in policy is *adaptive* ([`WaitPolicy::is_adaptive`]); its bounds become the
//! longest windows it may use:
//!
//! - Each condvar keeps a one-byte **spin hint** inside its 48 bytes: waits that end inside the
//!   window keep it full; each wait that spins its whole window and still parks halves it, and
//!   after four such misses it is skipped, except for one full-window probe every 16 waits; a
//!   wait that ends within the full window — spinning or not — restores it. The rules and
//!   their numbers are in `wait/adaptive.rs`. Long gaps then cost the probe's 20 µs / 16 ≈
//!   1.25 µs per event on top of parking, while short gaps never leave the full window.
//! - A waiter spins only if the process can spare a CPU for it: one spinner per CPU, at most
//!   one fewer spinners than the CPUs the process may use, and no spinning on a CPU where a
//!   parked waiter of the same condvar will need to run when woken (rules and measurements in
//!   `wait/admission.rs`; [`spin_census`] shows the bookkeeping, [`refresh_spin_capacity`]
//!   re-reads the CPU count after an affinity change). Waiters refused a CPU park at once.
//!
//! Fixed policies ([`WaitPolicy::spin_then_park`], [`WaitPolicy::spin_only`],
//! [`WaitPolicy::park_only`]) do exactly what they say.
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

pub(crate) mod adaptive;
pub(crate) mod admission;
mod deadline;
pub(crate) mod ladder;
mod load;
mod policy;
pub(crate) mod stats;

pub use admission::{ParkedHere, SpinCensus, refresh_spin_capacity, spin_census};
pub use deadline::{Clock, Deadline, InvalidTimespec, Timespec};
pub use ladder::waitpkg;
pub use policy::{PolicyClass, WaitPolicy, default_policy, set_default_policy};
pub use stats::{CondvarSpinStats, SpinStats, spin_stats};

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
