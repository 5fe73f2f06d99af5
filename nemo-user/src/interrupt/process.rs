//! The calling process's id, cached so that a send can compare it in a few cycles (and from a
//! signal handler).
//!
//! A sender compares the receiver's pid with its own to refuse a fork child that reached a
//! receiver it cannot signal. The cache is refreshed in a fork child by the fork handler that
//! [`init_process`](super::thread::init_process) registers.

use core::sync::atomic::{AtomicI32, Ordering::Relaxed};

static PID: AtomicI32 = AtomicI32::new(0);

/// The calling process's id, cached (and refreshed in fork children). Async-signal-safe once
/// [`init_process`](super::thread::init_process) has run.
#[inline]
pub(crate) fn current_pid() -> libc::pid_t {
    let p = PID.load(Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: getpid has no preconditions and cannot fail.
    let p = unsafe { libc::getpid() };
    PID.store(p, Relaxed);
    p
}

/// Re-reads the pid: in a fork child, from the fork handler. Async-signal-safe.
pub(crate) fn refresh_pid() {
    // SAFETY: getpid has no preconditions.
    PID.store(unsafe { libc::getpid() }, Relaxed);
}
