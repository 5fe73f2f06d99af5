//! The seam through which a task runtime ([`crate::sched`]) may change where a thread resumes
//! after a user interrupt, so that the backends never name the runtime (the runtime sits above
//! them: it waits on condvars and takes ticks through receivers).
//!
//! Invariants:
//! - The runtime registers its redirect once, before any of its workers takes an interrupt
//!   ([`register`]); until then every interrupted thread resumes where it was.
//! - The redirect runs inside a handler (a signal handler on `signal`, a user-interrupt handler
//!   on `uintr`): it may only read atomics and thread-locals, and it decides alone whether the
//!   thread resumes elsewhere.
//!
//! Tested through `sched`'s preemptible cases (`tests/sched_preemptible.rs` and the emulated
//! `uintr` ones inside the crate), which fail when the redirect does not reach the backends.

use std::sync::OnceLock;

/// Given the interrupted instruction's address, where the thread is to resume instead, if
/// anywhere.
pub(crate) type Redirect = fn(u64) -> Option<u64>;

static REDIRECT: OnceLock<Redirect> = OnceLock::new();

/// Installs the runtime's redirect (idempotent: the first one stays).
#[cfg_attr(not(feature = "sched"), allow(dead_code))]
pub(crate) fn register(redirect: Redirect) {
    let _ = REDIRECT.set(redirect);
}

/// Where a thread interrupted at `interrupted_rip` resumes instead, if a runtime says so.
/// Async-signal-safe: a load of the registered function and whatever it does (see the module
/// invariants).
#[inline]
pub(crate) fn redirect(interrupted_rip: u64) -> Option<u64> {
    REDIRECT.get().and_then(|f| f(interrupted_rip))
}
