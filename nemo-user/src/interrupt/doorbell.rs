//! The receiver's doorbell — the state it shares with everyone who can reach it — and its
//! lifecycle.
//!
//! # Lifecycle and thread-id reuse
//!
//! A sender that notifies by `tgkill(pid, tid, sig)` must never signal a thread that has exited:
//! its tid may already belong to someone else. So a send is bracketed by [`Doorbell::enter`] /
//! [`Doorbell::leave`], which count in-flight sends in `life`; [`Doorbell::kill`] sets the `DEAD` bit and
//! then waits until the count drains. `kill` runs on the receiver's thread before it can exit
//! (when the receiver is dropped, or from a thread-exit hook if it was leaked), so every `tgkill`
//! that passed `enter` completes while the tid is still the receiver's, and every later `enter`
//! fails with [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone). The same bracket orders posts before the receiver's final
//! drain: each send that returned `Ok` posted before `kill` returned.
//!
//! A send to a receiver on the sender's own thread notifies after `leave` (without a syscall, or
//! with its `SENDUIPI`, which the CPU answers at once), so a handler that drops its receiver
//! never waits for its own send.
//!
//! # Process-shared endpoints
//!
//! By default the [`Doorbell`] lives on the heap: a fork child that inherits an endpoint sees a copy,
//! which no longer reaches the receiver, and sends fail with [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess). A
//! process-shared receiver puts its [`Doorbell`] in a `MAP_SHARED` anonymous mapping instead, so fork
//! children post into the very UPID the receiver drains and notify it across the process
//! boundary.
//!
//! A sender in another process may be stopped or killed inside its bracket, so a process-shared
//! receiver waits for such senders [`CROSS_PROCESS_DRAIN`] at most when it goes away. That must
//! not let a late sender signal a recycled thread id, so senders of other processes do not name
//! the receiver by its id: a process-shared receiver opens a pidfd of its own thread
//! (`pidfd_open(tid, PIDFD_THREAD)`, Linux 6.9) when it registers, fork children inherit that
//! descriptor, and they signal through it (`pidfd_send_signal`). A pidfd names one thread for
//! as long as it is open, so once that thread has exited the send fails with `ESRCH`
//! ([`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone)), whatever thread got its id since. Where the kernel has no thread
//! pidfds, cross-process senders fall back to `tgkill`, and the bound is the drain: a sender
//! that stalls inside its bracket for more than [`CROSS_PROCESS_DRAIN`], in a window of a few
//! instructions, and then finds the id reused by the time it signals, signals the wrong thread.

use crate::error::Repr;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};

use uintr_sys::{Upid, Vector};

use crate::error::Result;

use super::kind::BackendKind;
use super::process::current_pid;

const DEAD: u64 = 1 << 63;

/// How long a process-shared receiver waits for senders of other processes when it goes away.
pub(crate) const CROSS_PROCESS_DRAIN: std::time::Duration = std::time::Duration::from_millis(100);

/// The receiver's software UPID and identity. `repr(C)` with only atomics and integers written
/// before it is shared, so it may live in memory mapped into several processes.
#[repr(C, align(64))]
pub(crate) struct Doorbell {
    /// The posted vectors. On the software backends it is *the* UPID; on `uintr` it holds the
    /// vectors that arrived while a guard was held (the CPU's own UPID is the kernel's).
    pub upid: Upid,
    /// `DEAD` bit | number of sends in flight.
    life: AtomicU64,
    pub pid: libc::pid_t,
    pub tid: libc::pid_t,
    pub signo: libc::c_int,
    kind: u8,
    pub process_shared: bool,
    /// Vectors that senders may connect to.
    pub vectors: u64,
    /// A pidfd of the receiving thread (inherited by fork children, who signal through it), or
    /// -1: process-shared receivers only, where the kernel has thread pidfds.
    pub thread_pidfd: libc::c_int,
}

/// `PIDFD_THREAD` (`O_EXCL`): a pidfd of one thread rather than of a thread group.
const PIDFD_THREAD: libc::c_uint = libc::O_EXCL as libc::c_uint;

/// A pidfd of thread `tid` of this process, or -1 if the kernel cannot make one.
fn open_thread_pidfd(tid: libc::pid_t) -> libc::c_int {
    // SAFETY: pidfd_open takes an id and flags; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    if fd < 0 { -1 } else { fd as libc::c_int }
}

impl Doorbell {
    pub fn new(
        kind: BackendKind,
        pid: libc::pid_t,
        tid: libc::pid_t,
        signo: libc::c_int,
        vectors: u64,
        process_shared: bool,
    ) -> Doorbell {
        Doorbell {
            upid: Upid::new(),
            life: AtomicU64::new(0),
            pid,
            tid,
            signo,
            kind: kind.to_u8(),
            process_shared,
            vectors,
            thread_pidfd: if process_shared {
                // Called on the receiving thread (`tid` is the caller's).
                open_thread_pidfd(tid)
            } else {
                -1
            },
        }
    }

    pub fn kind(&self) -> BackendKind {
        BackendKind::from_u8(self.kind)
    }

    /// Starts a send: fails if the receiver is gone, or cannot be reached from this process.
    #[inline]
    pub fn enter(&self) -> Result<()> {
        if !self.process_shared && self.pid != current_pid() {
            return Err(Repr::ForeignProcess.into());
        }
        let prev = self.life.fetch_add(1, SeqCst);
        if prev & DEAD != 0 {
            self.leave();
            return Err(Repr::ReceiverGone.into());
        }
        Ok(())
    }

    /// Ends a send started by a successful [`Doorbell::enter`].
    #[inline]
    pub fn leave(&self) {
        self.life.fetch_sub(1, SeqCst);
    }

    pub fn is_alive(&self) -> bool {
        self.life.load(SeqCst) & DEAD == 0
    }

    /// Marks the receiver dead and waits for sends in flight. Idempotent. Does nothing outside
    /// the receiver's process (a fork child's copy of a receiver is not the receiver, and its copy
    /// of the counter may hold sends of parent threads that will never leave).
    pub fn kill(&self) {
        if self.pid != current_pid() {
            // A fork child's copy of the receiver: the receiver itself lives on in the parent
            // (and, if process-shared, in this very memory).
            return;
        }
        self.life.fetch_or(DEAD, SeqCst);
        let backoff = crossbeam_utils::Backoff::new();
        let start = std::time::Instant::now();
        while self.life.load(SeqCst) & !DEAD != 0 {
            // Senders of this process always finish their bracket. A sender in another process
            // may have been killed inside it, so a process-shared receiver waits a bounded time.
            if self.process_shared && start.elapsed() > CROSS_PROCESS_DRAIN {
                break;
            }
            backoff.snooze();
        }
    }

    /// Whether `vector` may be connected to.
    pub fn enabled(&self, vector: Vector) -> bool {
        self.vectors & vector.bit() != 0
    }

    /// Sets the UPID's suppress-notification bit for good: for a backend that never notifies,
    /// so that a post is one RMW (PIR) and a load, and the receiver never has ON to clear.
    /// Before any sender connects.
    pub fn suppress_notifications(&self) {
        self.upid.set_suppress(true);
    }

    /// Vectors posted to the software UPID and not yet delivered.
    #[inline]
    pub fn pending(&self) -> u64 {
        self.upid.pir()
    }

    /// Posts `vector` and notifies nobody: for a post made on the receiver's own thread by code
    /// that delivers right after (a timer tick inside the `signal` backend's handler), or by a
    /// route that never notifies.
    #[inline]
    pub fn post_without_notifying(&self, vector: Vector) {
        self.upid.post(vector);
    }

    /// Posts `vector` for the receiver's next poll, leaving ON clear, so that the next send of
    /// any vector still notifies (`Sender::post_quietly`).
    #[inline]
    pub fn post_for_poll(&self, vector: Vector) {
        self.upid.post_quietly(vector);
    }
}
