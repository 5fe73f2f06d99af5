//! The process's user-interrupt target table (UITT) as this library manages it.
//!
//! # Why the library, not the kernel, keeps order here
//!
//! Intel's UINTR kernel (the 471–479 tree, UINTR-ABI.md §4b) leaves two things to its callers:
//!
//! * **Slot allocation is unlocked.** `do_uintr_register_sender` (and `uintr_init_sender`, which
//!   creates the table) find a free index and claim it with nothing held in between (their own
//!   TODO says a lock is needed), so two threads registering at once can be handed the same
//!   index: one sender's interrupts then reach the other's receiver, and when one unregisters,
//!   the other's `senduipi` raises #GP (SIGSEGV). Every call that allocates or frees an index —
//!   `uintr_register_sender`, `uintr_register_self`, `uintr_unregister_sender`, `uintr_ipi_fd` —
//!   is therefore made under one process-wide lock (`lock()`), here and in
//!   [`crate::syscalls`] and [`crate::emulation::kernel`]. Fork children share the table
//!   but not the lock: two *processes* registering at once can still collide; only the kernel can
//!   close that.
//! * **There is no duplicate check** (it is under `#if 0`), and the table has 256 entries per
//!   process, shared with fork children: one index per sender object would end in `ENOSPC`
//!   ([`Error::TableFull`](crate::Error::TableFull)) after 256 connections. A [`SharedIndex`]
//!   shares one index per (receiver, vector), reference-counted: the first connection registers
//!   it, the last drop unregisters it.
//!
//! # Invariants
//!
//! * An entry of `SHARED` exists exactly while at least one [`SharedIndex`] of its process
//!   refers to it (`refs` ≥ 1), and its index is registered with the kernel while it exists.
//! * The receiver name of an entry is unique among live receivers: the caller guarantees it
//!   (see [`SharedIndex::connect`]).
//! * Entries are per process (`pid`): a fork child inherits the parent's entries in its copy of
//!   `SHARED` but never uses or frees them.

use std::os::fd::BorrowedFd;
use std::sync::{Mutex, MutexGuard};

use crate::detect::Support;
use crate::emulation::kernel as emulated;
use crate::error::Result;
use crate::structures::{UittIndex, Vector};
use crate::syscalls;

/// The vector fd a sender connects through: the kernel's, or the emulation's.
#[derive(Debug, Clone, Copy)]
pub enum VectorFdRef<'a> {
    /// A vector fd of Intel's UINTR kernel.
    Kernel(Support, BorrowedFd<'a>),
    /// A vector fd of [`crate::emulation::kernel`].
    Emulated(&'a emulated::VectorFd),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Kernel(Support),
    Emulated,
}

pub(crate) struct Entry {
    pid: libc::pid_t,
    receiver: usize,
    vector: Vector,
    route: Route,
    index: UittIndex,
    refs: usize,
}

/// The registered indices of this process, with their reference counts. Its mutex is the
/// process-wide registration lock.
static SHARED: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// The registration lock, held with the calling thread's user interrupts off: a handler that
/// ran on this thread while it holds the lock, and took the lock itself (by dropping a sender,
/// say), would wait for ever. Interrupts that arrive meanwhile are taken when it is released.
pub(crate) struct Serialised {
    // Dropped in this order: unlock, then restore UIF.
    table: MutexGuard<'static, Vec<Entry>>,
    _uif: UifOff,
}

impl core::ops::Deref for Serialised {
    type Target = Vec<Entry>;
    fn deref(&self) -> &Vec<Entry> {
        &self.table
    }
}

impl core::ops::DerefMut for Serialised {
    fn deref_mut(&mut self) -> &mut Vec<Entry> {
        &mut self.table
    }
}

/// Clears the calling thread's UIF (the CPU's, or the emulation's) until dropped, if it was set.
struct UifOff(Option<Uif>);

enum Uif {
    Cpu,
    Emulated,
}

impl UifOff {
    fn new() -> UifOff {
        if crate::detect().support().is_some() {
            // SAFETY: a Support token exists, so the kernel enabled UINTR: TESTUI and CLUI
            // execute (on any thread, receiver or not).
            unsafe {
                if crate::instructions::testui() {
                    crate::instructions::clui();
                    return UifOff(Some(Uif::Cpu));
                }
            }
            return UifOff(None);
        }
        if crate::emulation::testui() {
            crate::emulation::clui();
            return UifOff(Some(Uif::Emulated));
        }
        UifOff(None)
    }
}

impl Drop for UifOff {
    fn drop(&mut self) {
        match self.0 {
            // SAFETY: as in `new`; UIF was set before, so setting it again changes nothing the
            // caller did not have.
            Some(Uif::Cpu) => unsafe { crate::instructions::stui() },
            Some(Uif::Emulated) => crate::emulation::stui(),
            None => {}
        }
    }
}

/// Takes the process-wide registration lock, under which target-table indices are allocated
/// and freed (and the list of shared ones changes). Not reentrant.
pub(crate) fn lock() -> Serialised {
    let uif = UifOff::new();
    // A panic while holding it leaves the list consistent (every change is one push, one
    // counter update or one removal), so a poisoned lock is still good.
    let table = SHARED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Serialised { table, _uif: uif }
}

/// One reference to a registered target-table index; sending through it reaches one vector of
/// one receiver. Every [`SharedIndex`] of this process for the same (receiver, vector) has the
/// same index, registered while any of them lives.
#[derive(Debug)]
pub struct SharedIndex {
    index: UittIndex,
    route: Route,
    pid: libc::pid_t,
    receiver: usize,
    vector: Vector,
}

fn getpid() -> libc::pid_t {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

impl SharedIndex {
    /// A reference to the index for `vector` of the receiver behind `fd`: the one this process
    /// already has for (`receiver`, `vector`), or a new one registered now, under the
    /// process-wide lock.
    ///
    /// `receiver` names the receiver: a value no other live receiver of this process uses for
    /// as long as an index connected with it lives (for instance the address of the receiver's
    /// state, kept alive by whoever holds the `SharedIndex`). Two receivers under one name would
    /// share indices, and the second's senders would reach the first.
    ///
    /// Errors: those of [`syscalls::register_sender`] ([`Error::ReceiverGone`],
    /// [`Error::TableFull`], …).
    ///
    /// [`Error::ReceiverGone`]: crate::Error::ReceiverGone
    /// [`Error::TableFull`]: crate::Error::TableFull
    pub fn connect(receiver: usize, vector: Vector, fd: VectorFdRef<'_>) -> Result<SharedIndex> {
        let pid = getpid();
        let route = match fd {
            VectorFdRef::Kernel(support, _) => Route::Kernel(support),
            VectorFdRef::Emulated(_) => Route::Emulated,
        };
        let mut table = lock();
        let found = table.iter_mut().find(|e| {
            e.pid == pid && e.receiver == receiver && e.vector == vector && e.route == route
        });
        let index = match found {
            Some(e) => {
                e.refs += 1;
                e.index
            }
            None => {
                let index = match fd {
                    // The lock is held, as the raw call requires.
                    VectorFdRef::Kernel(support, fd) => syscalls::raw_register_sender(support, fd)?,
                    VectorFdRef::Emulated(fd) => emulated::raw_register_sender(fd)?,
                };
                table.push(Entry {
                    pid,
                    receiver,
                    vector,
                    route,
                    index,
                    refs: 1,
                });
                index
            }
        };
        Ok(SharedIndex {
            index,
            route,
            pid,
            receiver,
            vector,
        })
    }

    /// The index in the process's target table.
    pub fn index(&self) -> UittIndex {
        self.index
    }

    /// `SENDUIPI` on the index (or the emulation's). Async-signal-safe.
    ///
    /// To the calling thread itself, with UIF set, the handler runs before this returns (on the
    /// CPU "almost at once", a few instructions later): don't call it where that handler could
    /// wait for the caller.
    #[inline]
    pub fn send(&self) -> Result<()> {
        match self.route {
            Route::Kernel(_) => {
                // SAFETY: a Support token exists, so the kernel enabled UINTR; the index was
                // registered in this process's table (which fork children share) and stays
                // registered while `self` lives.
                unsafe { crate::instructions::senduipi(self.index) };
                Ok(())
            }
            Route::Emulated => emulated::senduipi(self.index),
        }
    }
}

impl Drop for SharedIndex {
    fn drop(&mut self) {
        // A fork child shares the table but must not free the parent's entry.
        if self.pid != getpid() {
            return;
        }
        let mut table = lock();
        let Some(at) = table.iter().position(|e| {
            e.pid == self.pid
                && e.receiver == self.receiver
                && e.vector == self.vector
                && e.route == self.route
        }) else {
            return;
        };
        table[at].refs -= 1;
        if table[at].refs > 0 {
            return;
        }
        let entry = table.swap_remove(at);
        // Nothing useful to do if the kernel refuses: the index is gone for us either way.
        let _ = match entry.route {
            Route::Kernel(support) => syscalls::raw_unregister_sender(support, entry.index),
            Route::Emulated => emulated::raw_unregister_sender(entry.index),
        };
    }
}
