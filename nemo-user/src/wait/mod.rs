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
//! different cores, what each rung costs on the machine it runs on: a clock read, the handoff to
//! a spinning waiter, the wakeup of a parked one and the notifier's `FUTEX_WAKE`. The spin bound
//! is set to about what parking costs the waiter and the notifier together: spinning that long
//! and then parking is never worse than twice the better choice in hindsight (the ski-rental
//! rule), so the spin bound of [`WaitPolicy::BUILTIN`] is 20 µs, the cost measured in a virtual machine. On
//! bare metal a futex wake is usually several times cheaper; rerun the example and set a policy
//! ([`set_default_policy`]) to match. The `umwait` rung (100 µs in `BUILTIN`) needs
//! WAITPKG to be measured at all. The numbers measured on the development machine are in
//! `bench/README.md`.
//!
//! ## The adaptive default
//!
//! A spin pays only when it catches its wakeup, and only when the spinner's CPU was not needed by
//! anybody else — least of all by the thread that would notify it. A fixed window fails three
//! ways: waits that outlast it pay for it every time; a spinner without a CPU of its own delays
//! the threads it waits for; and a spinner on a busy machine takes a CPU that other processes'
//! threads are queued for. So the built-in policy is *adaptive*
//! ([`WaitPolicy::is_adaptive`]); its bounds become the longest windows it may use:
//!
//! - Each condvar keeps a one-byte **spin hint** inside its 48 bytes. Only a spin is evidence:
//!   each spin that catches its wakeup doubles the window (up to the bound), each spin that
//!   misses halves it, and a window halved four times is skipped; a skipped condvar probes
//!   with the full window on a random 1 in 16 waits, and each missed probe halves that rate,
//!   down to 1 in 2048. So the window stays open only where about half its spins or more
//!   catch — where the parks they save pay for the spins they waste — and a condvar whose
//!   spins never catch costs at most 1/16 of a window per wait, falling to 1/2048 (rules and
//!   reasoning in `wait/adaptive.rs`).
//! - On a busy machine — more runnable threads than CPUs, all processes counted, read from
//!   `/proc/loadavg` by one waiter every 10 ms — a spinner may hold the CPU its notifier is
//!   queued for, so only condvars whose last spin caught its wakeup spin, for at most a
//!   quarter of the window, and the others only probe.
//! - A waiter spins only if the process can spare a CPU for it: one spinner per CPU; at most
//!   one fewer spinners than the CPUs the process may use; and no spinning on a CPU where a
//!   parked waiter of the same condvar will need to run when woken (rules in `wait/admission.rs`;
//!   [`spin_census`](crate::embed::spin_census) shows the bookkeeping,
//!   [`refresh_spin_capacity`](crate::embed::refresh_spin_capacity) re-reads the CPU count
//!   after the process's affinity narrows). Waiters refused a CPU park, after a 1 µs grace when
//!   only the count refused them.
//! - [`spin_stats`] (and `spin_stats` on each condvar and event) counts, per condvar, the
//!   waits, the spins, the spins that caught their wakeup and the time spun in vain, so a user
//!   can see whether spinning pays in their program; the `LD_PRELOAD` shim prints them at exit
//!   with `NEMO_PRELOAD_VERBOSE=2`.
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
//! let deadline = Deadline::from(Duration::from_millis(10));
//! assert!(!deadline.has_passed());
//! ```

pub(crate) mod adaptive;
pub(crate) mod admission;
mod deadline;
pub(crate) mod ladder;
pub(crate) mod load;
mod policy;
pub(crate) mod stats;

pub use deadline::{Clock, Deadline};

pub use policy::{PolicyClass, WaitPolicy, set_default_policy};
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
