//! The `uintr` backend: Intel user interrupts, through `uintr-sys`.
//!
//! The receiver registers a handler entry (the `uintr-sys` trampoline, saving extended state
//! with `xsave`) and creates one vector fd per enabled vector; a sender
//! registers the fd in the process's target table and executes `SENDUIPI` on the index. The CPU
//! posts to the receiver's UPID, coalesces, and enters the handler for the highest pending
//! vector while UIF is set; guards are `clui` / `stui`.
//!
//! The hardware gives no access to its pending vectors, so two things differ from the software
//! backends, and only at the edges: vectors still in flight when a receiver is dropped are
//! discarded by the kernel, and [`Receiver::pending`](crate::interrupt::Receiver::pending) shows
//! only vectors deferred in software.
//!
//! # What the kernel and the CPU leave to us (UINTR-ABI.md §4b)
//!
//! * **Target-table indices** come from [`uintr_sys::target_table::SharedIndex`]: one per
//!   (receiver, vector) in the process, reference-counted, allocated under a process-wide lock
//!   (the kernel's allocation is unlocked and the table has 256 entries).
//! * **Self-sends**: to its own thread the CPU enters the handler a few instructions after
//!   `SENDUIPI`. A send to the calling thread's receiver issues it after the send bracket
//!   (`Route::send` returns `Sent::NotifySelf`, and `Route::notify_self` sends), so a handler that drops the receiver does not
//!   wait for the send it interrupted.
//! * **Re-registration** reuses the thread's UPID: what was pending for an earlier receiver of
//!   the thread is let in and dropped before the new one is reachable. Senders of the earlier
//!   receiver that are still connected can post later; the handler sees those as spurious.
//! * **`WAITING_RECEIVER`** is set only on request
//!   (`ReceiverBuilder::uintr_waiting`, which the interrupt rung sets): with
//!   it every interruptible system call of the receiver's thread fails with `EINTR` when an
//!   interrupt arrives. `uintr_wait` (the interrupt rung of [`crate::wake`]) needs it and is
//!   refused without it.
//!
//! # Emulated
//!
//! [`ReceiverBuilder::uintr_emulated`](crate::interrupt::ReceiverBuilder::uintr_emulated) runs
//! this backend's very calls — register the handler, vector fds, shared indices, `SENDUIPI`,
//! `clui`/`stui` — on [`uintr_sys::emulation::kernel`], which behaves as unkindly as the kernel
//! and the CPU: self-sends enter at once, the table is 256 unlocked slots, UPIDs are reused,
//! `WAITING_RECEIVER` gives `EINTR`, and the CPU's notification processing (highest vector
//! first) happens on arrival, before the trampoline. It exists to test this backend's path
//! where there is no hardware; it costs two signals per interrupt, so never take its timings
//! for UINTR's.

use crate::error::Repr;
use core::sync::atomic::Ordering::Relaxed;
use std::os::fd::{AsFd, OwnedFd};

use uintr_sys::emulation;
use uintr_sys::syscalls::{self, HandlerFlags};
use uintr_sys::target_table::{SharedIndex, VectorFdRef};
use uintr_sys::trampoline::Frame;
use uintr_sys::{Support, Vector};

use crate::error::{Error, Result};
use crate::interrupt::delivery::deliver_one;
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::flag::{set_uif, uif};
use crate::interrupt::kind::BackendKind;
use crate::interrupt::process::current_pid;
use crate::interrupt::resume;
use crate::interrupt::seam::{Backend, Route, Sent};
use crate::interrupt::thread;

/// Registration options of a `uintr` receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Options {
    pub waiting: bool,
    pub emulated: bool,
}

/// The handler entry saves the x87/SSE/AVX state: the dispatch code and the handlers are Rust,
/// which may use SSE registers for any copy.
mod entry {
    use super::on_uintr;
    uintr_sys::uintr_entry!(pub NEMO_UINTR_ENTRY_XSAVE => on_uintr, xsave);
}

/// What the trampoline calls for each interrupt.
extern "C" fn on_uintr(frame: &mut Frame, vector: u64) {
    thread::with(|ts| match ts.uif.load(Relaxed) {
        uif::CPU | uif::EMULATED => {
            if let Ok(vector) = Vector::new(vector) {
                // SAFETY: the CPU (or the emulation) entered the trampoline on the receiver's
                // thread.
                unsafe { deliver_one(ts, vector) };
            }
        }
        // No `uintr` receiver any more: a notification taken after it went away.
        _ => {}
    });
    // A task runtime may have the thread resume elsewhere (a sched task in a preemptible
    // region: the preemption stub): `uiret` (the CPU's, or the emulation's) pops this frame's
    // RIP.
    if let Some(to) = resume::redirect(frame.rip) {
        frame.rip = to;
    }
}

fn support() -> Result<Support> {
    let d = uintr_sys::detect();
    d.support().ok_or_else(|| {
        Error::from(Repr::BackendUnavailable {
            kind: BackendKind::Uintr,
            reason: d.reason().to_string(),
        })
    })
}

/// Whether the `uintr` backend can run with these options.
pub(crate) fn availability(opts: &Options) -> Result<()> {
    if opts.emulated {
        emulation::install().map_err(|e| {
            Repr::BackendUnavailable {
                kind: BackendKind::Uintr,
                reason: format!("the UINTR emulation cannot run here: {e}"),
            }
            .into()
        })
    } else {
        support().map(drop)
    }
}

/// How senders reach a `uintr` receiver.
pub(crate) enum Registration {
    /// The kernel's UINTR: the receiver's vector fds, indexed by vector.
    Kernel { fds: Vec<Option<OwnedFd>> },
    /// The emulation's kernel: the receiver's emulated vector fds, indexed by vector.
    Emulated {
        fds: Vec<Option<emulation::kernel::VectorFd>>,
    },
}

/// Registers the calling thread (with the kernel, or the emulation) and, on hardware, creates a
/// fd for every vector in `vectors`. Leaves delivery disabled; [`Backend::activate`] enables it
/// once the receiver is reachable.
pub(crate) fn register(opts: &Options, vectors: u64) -> Result<Registration> {
    let entry: emulation::Entry = entry::NEMO_UINTR_ENTRY_XSAVE;
    let flags = if opts.waiting {
        HandlerFlags::WAITING_RECEIVER
    } else {
        HandlerFlags::NONE
    };
    if opts.emulated {
        availability(opts)?;
        // SAFETY: `entry` is a user-interrupt entry point built by uintr-sys's trampoline.
        unsafe { emulation::kernel::register_handler(entry, flags) }.map_err(|e| match e {
            uintr_sys::Error::AlreadyRegistered => Repr::AlreadyRegistered,
            e => Repr::Uintr(e),
        })?;
        emulation::clui();
        discard_stale_interrupts(|on| {
            if on {
                emulation::stui()
            } else {
                emulation::clui()
            }
        });
        let mut fds = Vec::with_capacity(64);
        for v in 0..64u64 {
            fds.push(match Vector::new(v) {
                Ok(vector) if vectors & vector.bit() != 0 => {
                    match emulation::kernel::vector_fd(vector) {
                        Ok(fd) => Some(fd),
                        Err(e) => {
                            let _ = emulation::kernel::unregister_handler();
                            return Err(Repr::Uintr(e).into());
                        }
                    }
                }
                _ => None,
            });
        }
        return Ok(Registration::Emulated { fds });
    }
    let support = support()?;
    // SAFETY: `entry` is a user-interrupt entry point built by uintr-sys's trampoline.
    unsafe { syscalls::register_handler(support, entry, flags) }.map_err(|e| match e {
        uintr_sys::Error::AlreadyRegistered => Repr::AlreadyRegistered,
        e => Repr::Uintr(e),
    })?;
    // SAFETY: UINTR is enabled (a support token exists).
    unsafe { uintr_sys::instructions::clui() };
    discard_stale_interrupts(|on| {
        // SAFETY: UINTR is enabled; the handler registered above takes what arrives.
        unsafe {
            if on {
                uintr_sys::instructions::stui();
            } else {
                uintr_sys::instructions::clui();
            }
        }
    });
    let mut fds = Vec::with_capacity(64);
    for v in 0..64u64 {
        let fd = match Vector::new(v) {
            Ok(vector) if vectors & vector.bit() != 0 => {
                match syscalls::vector_fd(support, vector) {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        let _ = syscalls::unregister_handler(support);
                        return Err(Repr::Uintr(e).into());
                    }
                }
            }
            _ => None,
        };
        fds.push(fd);
    }
    Ok(Registration::Kernel { fds })
}

/// A thread that registers again gets its old UPID back (UINTR-ABI.md §4b): vectors posted to an
/// earlier receiver of this thread are still pending. Right after `register_handler`, before any
/// vector fd of the new receiver exists and before the thread's receiver is published, nothing
/// that is pending can be meant for it: let it arrive now, where the handler finds no receiver
/// and drops it. (Senders of the earlier receiver that are still connected can post later; the
/// handler sees those as spurious interrupts.)
fn discard_stale_interrupts(set_uif: impl Fn(bool)) {
    set_uif(true);
    // Pending interrupts are taken at the instruction boundary after `stui`.
    core::hint::spin_loop();
    set_uif(false);
}

impl Backend for Registration {
    fn connect(&self, doorbell: &Doorbell, vector: Vector) -> Result<Box<dyn Route>> {
        Ok(Box::new(UintrRoute::connect(self, doorbell, vector)?))
    }

    /// Makes guards on this thread drive this registration's flag, and enables delivery unless
    /// a guard is held.
    fn activate(&self) {
        let mode = match self {
            Registration::Kernel { .. } => uif::CPU,
            Registration::Emulated { .. } => uif::EMULATED,
        };
        thread::with(|ts| {
            ts.uif.store(mode, Relaxed);
            set_uif(ts, ts.depth.load(Relaxed) == 0);
        });
    }

    /// Disables delivery and unregisters the calling thread (after which its guards touch no
    /// flag).
    fn deactivate(&self) {
        thread::with(|ts| {
            set_uif(ts, false);
            // Nothing useful to do if the kernel refuses: the thread is no receiver either way.
            match ts.uif.swap(uif::NONE, Relaxed) {
                uif::CPU => {
                    if let Some(support) = uintr_sys::detect().support() {
                        let _ = syscalls::unregister_handler(support);
                    }
                }
                uif::EMULATED => {
                    let _ = emulation::kernel::unregister_handler();
                }
                _ => {}
            }
        });
    }
}

/// A sender's way to the receiver: an index in the process's target table (the kernel's or the
/// emulation's), shared by every sender of this process to the same (receiver, vector).
struct UintrRoute(SharedIndex);

impl UintrRoute {
    fn connect(
        registration: &Registration,
        doorbell: &Doorbell,
        vector: Vector,
    ) -> Result<UintrRoute> {
        // The receiver's name in the table: its doorbell outlives every sender connected to it.
        let receiver = doorbell as *const Doorbell as usize;
        let fd = match registration {
            Registration::Kernel { fds } => {
                let fd = fds
                    .get(vector.get() as usize)
                    .and_then(Option::as_ref)
                    .ok_or(Repr::VectorNotEnabled(vector))?;
                VectorFdRef::Kernel(support()?, fd.as_fd())
            }
            Registration::Emulated { fds } => {
                if doorbell.pid != current_pid() {
                    // The emulation delivers within one process only.
                    return Err(Repr::ForeignProcess.into());
                }
                let fd = fds
                    .get(vector.get() as usize)
                    .and_then(Option::as_ref)
                    .ok_or(Repr::VectorNotEnabled(vector))?;
                VectorFdRef::Emulated(fd)
            }
        };
        SharedIndex::connect(receiver, vector, fd)
            .map(UintrRoute)
            .map_err(|e| match e {
                uintr_sys::Error::ReceiverGone => Repr::ReceiverGone.into(),
                e => e.into(),
            })
    }
}

impl Route for UintrRoute {
    #[inline]
    fn send(&self, doorbell: &Doorbell, _: Vector) -> Result<Sent> {
        // To its own thread the CPU enters the handler a few instructions after `senduipi`,
        // inside the send bracket: a handler that drops the receiver would wait in
        // `Doorbell::kill` for the very send it interrupted. So that `senduipi` waits for
        // `leave`.
        if doorbell.pid == current_pid() && doorbell.tid == thread::with(|t| t.tid()) {
            return Ok(Sent::NotifySelf);
        }
        self.0.send().map_err(Repr::Uintr)?;
        Ok(Sent::Done)
    }

    fn notify_self(&self, _: Vector) {
        let _ = self.0.send();
    }

    /// The CPU keeps the pending vectors; the doorbell holds only those a guard deferred.
    fn sees_pending(&self) -> bool {
        false
    }
}
