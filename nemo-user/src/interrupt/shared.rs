//! The state a receiver shares with everyone who can reach it, and its lifecycle.
//!
//! # Lifecycle and thread-id reuse
//!
//! A sender that notifies by `tgkill(pid, tid, sig)` must never signal a thread that has exited:
//! its tid may already belong to someone else. So a send is bracketed by [`Core::enter`] /
//! [`Core::leave`], which count in-flight sends in `life`; [`Core::kill`] sets the `DEAD` bit and
//! then waits until the count drains. `kill` runs on the receiver's thread before it can exit
//! (when the receiver is dropped, or from a thread-exit hook if it was leaked), so every `tgkill`
//! that passed `enter` completes while the tid is still the receiver's, and every later `enter`
//! fails with [`Error::ReceiverGone`]. The same bracket orders posts before the receiver's final
//! drain: each send that returned `Ok` posted before `kill` returned.
//!
//! A send to a receiver on the sender's own thread notifies after `leave` (without a syscall, or
//! with its `SENDUIPI`, which the CPU answers at once), so a handler that drops its receiver
//! never waits for its own send.
//!
//! # Process-shared endpoints
//!
//! By default the [`Core`] lives on the heap: a fork child that inherits an endpoint sees a copy,
//! which no longer reaches the receiver, and sends fail with [`Error::ForeignProcess`]. A
//! process-shared receiver puts its [`Core`] in a `MAP_SHARED` anonymous mapping instead, so fork
//! children post into the very UPID the receiver drains and notify it across the process
//! boundary.
//!
//! A sender in another process may be stopped or killed inside its bracket, so a process-shared
//! receiver waits for such senders [`CROSS_PROCESS_DRAIN`] at most when it goes away. That must
//! not let a late sender signal a recycled thread id, so on the `signal` backend senders of other
//! processes do not name the receiver by its id: the receiver opens a pidfd of its own thread
//! (`pidfd_open(tid, PIDFD_THREAD)`, Linux 6.9) when it registers, fork children inherit that
//! descriptor, and they signal through it (`pidfd_send_signal`). A pidfd names one thread for
//! as long as it is open, so once that thread has exited the send fails with `ESRCH`
//! ([`Error::ReceiverGone`]), whatever thread got its id since. Where the kernel has no thread
//! pidfds, cross-process senders fall back to `tgkill`, and the bound is the drain: a sender
//! that stalls inside its bracket for more than [`CROSS_PROCESS_DRAIN`], in a window of a few
//! instructions, and then finds the id reused by the time it signals, signals the wrong thread.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering::SeqCst};

use uintr_sys::{Upid, Vector};

use crate::backend::BackendKind;
use crate::error::{Error, Result};

use super::thread::current_pid;

const DEAD: u64 = 1 << 63;

/// How long a process-shared receiver waits for senders of other processes when it goes away.
pub(crate) const CROSS_PROCESS_DRAIN: std::time::Duration = std::time::Duration::from_millis(100);

/// The receiver's software UPID and identity. `repr(C)` with only atomics and integers written
/// before it is shared, so it may live in memory mapped into several processes.
#[repr(C, align(64))]
pub(crate) struct Core {
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
    /// -1: process-shared `signal` receivers only, where the kernel has thread pidfds.
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

impl Core {
    pub fn new(
        kind: BackendKind,
        pid: libc::pid_t,
        tid: libc::pid_t,
        signo: libc::c_int,
        vectors: u64,
        process_shared: bool,
    ) -> Core {
        let upid = Upid::new();
        if kind == BackendKind::Poll {
            // Nobody is ever notified: with SN set, a post is one RMW (PIR) and a load, and
            // the receiver never has ON to clear.
            upid.set_suppress(true);
        }
        Core {
            upid,
            life: AtomicU64::new(0),
            pid,
            tid,
            signo,
            kind: kind.to_u8(),
            process_shared,
            vectors,
            thread_pidfd: if process_shared && kind == BackendKind::Signal {
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
            return Err(Error::ForeignProcess);
        }
        let prev = self.life.fetch_add(1, SeqCst);
        if prev & DEAD != 0 {
            self.leave();
            return Err(Error::ReceiverGone);
        }
        Ok(())
    }

    /// Ends a send started by a successful [`Core::enter`].
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
}

/// Owner of a [`Core`], heap-allocated or in a shared mapping.
pub(crate) struct Shared {
    core: NonNull<Core>,
    mapped: bool,
    /// How senders reach a receiver on the `uintr` backend.
    pub uintr: Option<crate::backend::uintr::Registration>,
}

// SAFETY: `Core` holds atomics and integers that are immutable after construction; the pointer
// is owned (freed once, in `Drop`).
unsafe impl Send for Shared {}
// SAFETY: as above; all shared mutation goes through atomics.
unsafe impl Sync for Shared {}

impl Shared {
    pub fn new(core: Core, process_shared: bool) -> Result<Shared> {
        let (ptr, mapped) = if process_shared {
            // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    core::mem::size_of::<Core>(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(Error::last_os_error());
            }
            let p = p.cast::<Core>();
            // SAFETY: `p` is a fresh, page-aligned (so 64-byte aligned), writable mapping of at
            // least `size_of::<Core>()` bytes.
            unsafe { p.write(core) };
            (p, true)
        } else {
            (Box::into_raw(Box::new(core)), false)
        };
        Ok(Shared {
            // SAFETY: both branches produced a non-null pointer.
            core: unsafe { NonNull::new_unchecked(ptr) },
            mapped,
            uintr: None,
        })
    }

    #[inline(always)]
    pub fn core(&self) -> &Core {
        // SAFETY: valid and initialised from `new` until `drop`.
        unsafe { self.core.as_ref() }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let pidfd = self.core().thread_pidfd;
        if pidfd >= 0 {
            // SAFETY: opened in `Core::new` (this process's descriptor, or a fork child's
            // inherited copy of it), closed once, here.
            unsafe { libc::close(pidfd) };
        }
        if self.mapped {
            // SAFETY: the mapping was made in `new` with this size, and `Core` needs no drop.
            unsafe {
                libc::munmap(self.core.as_ptr().cast(), core::mem::size_of::<Core>());
            }
        } else {
            // SAFETY: made by `Box::into_raw` in `new`, freed only here.
            drop(unsafe { Box::from_raw(self.core.as_ptr()) });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The window the pidfd closes: a sender of another process that reaches the receiver
    /// after its thread has exited (the drain stopped waiting for it). Through the thread's
    /// pidfd the send fails with `ReceiverGone`, whatever thread now has that id; a `tgkill`
    /// would have signalled it.
    #[test]
    fn a_fork_child_sending_after_the_receiving_thread_exited_gets_receiver_gone() {
        // The fork handler that refreshes the cached pid in the child.
        super::super::thread::init_process();
        let signo = crate::backend::signal::signal_number().unwrap();
        let shared = std::thread::spawn(move || {
            let tid = super::super::thread::with(|t| t.tid());
            let core = Core::new(BackendKind::Signal, current_pid(), tid, signo, !0, true);
            Shared::new(core, true).unwrap()
        })
        .join()
        .unwrap();
        let core = shared.core();
        assert!(core.thread_pidfd >= 0, "Linux 6.9+ makes thread pidfds");
        // SAFETY: the child only calls async-signal-safe code (the send, a raw syscall) and
        // `_exit`.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            // Another process: the send goes through the pidfd, not `tgkill`.
            let ok = core.pid != current_pid()
                && crate::backend::signal::notify(core) == Err(Error::ReceiverGone);
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status:#x}"
        );
    }
}
