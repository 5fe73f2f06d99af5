//! The `uintr` backend: Intel user interrupts, through `uintr-sys`.
//!
//! The receiver registers a handler entry (the `uintr-sys` trampoline, saving extended state
//! with `xsave` unless told otherwise) and creates one vector fd per enabled vector; a sender
//! registers the fd in the process's target table and executes `SENDUIPI` on the index. The CPU
//! posts to the receiver's UPID, coalesces, and enters the handler for the highest pending
//! vector while UIF is set; guards are `clui` / `stui`.
//!
//! The hardware gives no access to its pending vectors, so two things differ from the software
//! backends, and only at the edges: vectors still in flight when a receiver is dropped are
//! discarded by the kernel, and [`Receiver::pending`](crate::interrupt::Receiver::pending) shows
//! only vectors deferred in software.
//!
//! # Emulated
//!
//! [`ReceiverBuilder::uintr_emulated`](crate::interrupt::ReceiverBuilder::uintr_emulated) runs
//! the same entries, dispatch and guards on a machine without user interrupts, through
//! [`uintr_sys::emulation`]: the sender does `SENDUIPI`'s half in software (post to the
//! receiver's UPID, notify only on [`PostOutcome::Notify`]), the emulation enters the trampoline
//! on the receiver's thread as the CPU would and emulates `uiret`, and the handler does the CPU's
//! notification processing (take the UPID, deliver the highest vector, keep the rest pending for
//! the next entry). `clui`/`stui` are the emulation's. It exists to test this backend's path
//! where there is no hardware; it costs two signals per interrupt, so never take its timings
//! for UINTR's.

use core::any::Any;
use core::sync::atomic::Ordering::Relaxed;
use std::os::fd::{AsFd, OwnedFd};

use uintr_sys::emulation::{self, Tid};
use uintr_sys::syscalls::{self, HandlerFlags};
use uintr_sys::trampoline::Frame;
use uintr_sys::{PostOutcome, Support, UittIndex, Vector};

use crate::error::{Error, Result};
use crate::interrupt::delivery::deliver_one;
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::flag::{set_uif, uif};
use crate::interrupt::kind::BackendKind;
use crate::interrupt::process::current_pid;
use crate::interrupt::seam::{Backend, Route, Sent};
use crate::interrupt::thread::{self, ThreadState};

/// Registration options of a `uintr` receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    pub xsave: bool,
    pub waiting: bool,
    pub emulated: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            xsave: true,
            waiting: false,
            emulated: false,
        }
    }
}

mod entry {
    use super::on_uintr;
    uintr_sys::uintr_entry!(pub NEMO_UINTR_ENTRY_XSAVE => on_uintr, xsave);
    uintr_sys::uintr_entry!(pub NEMO_UINTR_ENTRY => on_uintr);
}

/// What the trampoline calls for each interrupt.
extern "C" fn on_uintr(_frame: &mut Frame, vector: u64) {
    thread::with(|ts| match ts.uif.load(Relaxed) {
        uif::CPU => {
            if let Ok(vector) = Vector::new(vector) {
                // SAFETY: the CPU entered the trampoline on the receiver's thread.
                unsafe { deliver_one(ts, vector) };
            }
        }
        uif::EMULATED => notification_processing(ts),
        // No `uintr` receiver any more: an emulated delivery queued before it went away.
        _ => {}
    });
}

/// The CPU's part of an emulated delivery: move the posted vectors out of the UPID, deliver the
/// highest, and keep the others pending (re-posted, with a fresh entry queued behind this one,
/// which the blocked delivery signal holds until `uiret`), so every entry re-evaluates priority
/// as the CPU's UIRR does.
fn notification_processing(ts: &ThreadState) {
    let local = ts.receiver.load(Relaxed);
    if local.is_null() {
        return;
    }
    // SAFETY: the thread's registered receiver is live while the pointer is set.
    let shared = &unsafe { &*local }.shared;
    let doorbell = shared.doorbell();
    let pending = doorbell.upid.take();
    let Some(v) = Vector::highest(pending) else {
        return;
    };
    let rest = pending & !v.bit();
    if let Some(next) = Vector::highest(rest) {
        let mut notify = false;
        let mut bits = rest;
        while let Some(r) = Vector::highest(bits) {
            bits &= !r.bit();
            notify |= doorbell.upid.post(r) == PostOutcome::Notify;
        }
        if notify
            && let Some(Registration::Emulated { entry }) =
                shared.backend().as_any().downcast_ref::<Registration>()
        {
            // SAFETY: the receiver's own entry, delivered to its own thread.
            let _ = unsafe { emulation::deliver(*entry, next) };
        }
    }
    // SAFETY: on the receiver's thread, inside its user-interrupt handler.
    unsafe { deliver_one(ts, v) };
}

fn support() -> Result<Support> {
    let d = uintr_sys::detect();
    d.support().ok_or_else(|| Error::BackendUnavailable {
        kind: BackendKind::Uintr,
        reason: d.reason().to_string(),
    })
}

/// Whether the `uintr` backend can run with these options.
pub(crate) fn availability(opts: &Options) -> Result<()> {
    if opts.emulated {
        emulation::install().map_err(|e| Error::BackendUnavailable {
            kind: BackendKind::Uintr,
            reason: format!("the UINTR emulation cannot run here: {e}"),
        })
    } else {
        support().map(drop)
    }
}

/// How senders reach a `uintr` receiver.
pub(crate) enum Registration {
    /// The kernel's UINTR: the receiver's vector fds, indexed by vector.
    Kernel { fds: Vec<Option<OwnedFd>> },
    /// The emulation: senders post to the software UPID and deliver through this entry.
    Emulated { entry: emulation::Entry },
}

/// Registers the calling thread (with the kernel, or the emulation) and, on hardware, creates a
/// fd for every vector in `vectors`. Leaves delivery disabled; [`activate`] enables it once the
/// receiver is reachable.
pub(crate) fn register(opts: &Options, vectors: u64) -> Result<Registration> {
    let entry: emulation::Entry = if opts.xsave {
        entry::NEMO_UINTR_ENTRY_XSAVE
    } else {
        entry::NEMO_UINTR_ENTRY
    };
    if opts.emulated {
        availability(opts)?;
        emulation::clui();
        return Ok(Registration::Emulated { entry });
    }
    let support = support()?;
    let flags = if opts.waiting {
        HandlerFlags::WAITING_RECEIVER
    } else {
        HandlerFlags::NONE
    };
    // SAFETY: `entry` is a user-interrupt entry point built by uintr-sys's trampoline.
    unsafe { syscalls::register_handler(support, entry, flags) }.map_err(|e| match e {
        uintr_sys::Error::AlreadyRegistered => Error::AlreadyRegistered,
        e => Error::Uintr(e),
    })?;
    // SAFETY: UINTR is enabled (a support token exists).
    unsafe { uintr_sys::instructions::clui() };
    let mut fds = Vec::with_capacity(64);
    for v in 0..64u64 {
        let fd = match Vector::new(v) {
            Ok(vector) if vectors & vector.bit() != 0 => {
                match syscalls::vector_fd(support, vector) {
                    Ok(fd) => Some(fd),
                    Err(e) => {
                        let _ = syscalls::unregister_handler(support);
                        return Err(Error::Uintr(e));
                    }
                }
            }
            _ => None,
        };
        fds.push(fd);
    }
    Ok(Registration::Kernel { fds })
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
            if ts.uif.swap(uif::NONE, Relaxed) == uif::CPU
                && let Some(support) = uintr_sys::detect().support()
            {
                // Nothing useful to do if the kernel refuses: the thread is no receiver either
                // way.
                let _ = syscalls::unregister_handler(support);
            }
        });
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A sender's way to the receiver: an entry in the process's target table, or the emulation.
enum UintrRoute {
    Kernel {
        support: Support,
        index: UittIndex,
        /// The process that registered the entry: a fork child shares the table but must not
        /// free the parent's entry.
        pid: libc::pid_t,
    },
    Emulated {
        entry: emulation::Entry,
        vector: Vector,
    },
}

impl UintrRoute {
    fn connect(
        registration: &Registration,
        doorbell: &Doorbell,
        vector: Vector,
    ) -> Result<UintrRoute> {
        match registration {
            Registration::Kernel { fds } => {
                let support = support()?;
                let fd = fds
                    .get(vector.get() as usize)
                    .and_then(Option::as_ref)
                    .ok_or(Error::VectorNotEnabled(vector))?;
                let index =
                    syscalls::register_sender(support, fd.as_fd()).map_err(|e| match e {
                        uintr_sys::Error::ReceiverGone => Error::ReceiverGone,
                        e => Error::Uintr(e),
                    })?;
                Ok(UintrRoute::Kernel {
                    support,
                    index,
                    pid: current_pid(),
                })
            }
            Registration::Emulated { entry } => {
                if doorbell.pid != current_pid() {
                    // The emulation delivers within one process only.
                    return Err(Error::ForeignProcess);
                }
                Ok(UintrRoute::Emulated {
                    entry: *entry,
                    vector,
                })
            }
        }
    }
}

impl Route for UintrRoute {
    #[inline]
    fn send(&self, doorbell: &Doorbell, _: Vector) -> Result<Sent> {
        match self {
            UintrRoute::Kernel { index, .. } => {
                // SAFETY: `index` was returned by register_sender in this process (so the
                // target table exists and the entry is valid) and stays registered until this
                // route is dropped.
                unsafe { uintr_sys::instructions::senduipi(*index) };
                Ok(Sent::Done)
            }
            UintrRoute::Emulated { entry, vector } => {
                if doorbell.upid.post(*vector) != PostOutcome::Notify {
                    return Ok(Sent::Done);
                }
                if doorbell.tid == thread::with(|t| t.tid()) {
                    return Ok(Sent::NotifySelf);
                }
                loop {
                    // SAFETY: the receiver's entry, to its thread, which cannot have exited
                    // (the send bracket holds it).
                    match unsafe {
                        emulation::deliver_to(Tid::from_raw(doorbell.tid), *entry, *vector)
                    } {
                        Ok(()) => return Ok(Sent::Done),
                        Err(uintr_sys::Error::SignalQueueFull) => std::thread::yield_now(),
                        Err(uintr_sys::Error::NoSuchThread) => return Err(Error::ReceiverGone),
                        Err(e) => return Err(Error::Uintr(e)),
                    }
                }
            }
        }
    }

    fn notify_self(&self, _: Vector) {
        if let UintrRoute::Emulated { entry, vector } = self {
            // SAFETY: the receiver's entry, to its own thread.
            let _ = unsafe { emulation::deliver(*entry, *vector) };
        }
    }

    /// The CPU keeps the pending vectors; the doorbell holds only those a guard deferred.
    fn sees_pending(&self) -> bool {
        false
    }
}

impl Drop for UintrRoute {
    fn drop(&mut self) {
        if let UintrRoute::Kernel {
            support,
            index,
            pid,
        } = self
            && *pid == current_pid()
        {
            let _ = syscalls::unregister_sender(*support, *index);
        }
    }
}
