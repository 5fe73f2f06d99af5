//! The kernel's half of user interrupts, emulated as unkindly as Intel's UINTR kernel and the
//! CPU behave (UINTR-ABI.md §2 and §4b), so that a library driving [`crate::syscalls`] can run
//! the very same sequence of calls here and meet the same hazards on a machine without UINTR.
//!
//! # Invariants
//!
//! * A receiver thread's state (`Receiver` below) is created at its first
//!   [`register_handler`] and never freed (one small leak per thread that ever registers), so a
//!   target-table entry may point at it for ever, as the kernel's entries point at a UPID it
//!   reference-counts. `state` says whether the thread is registered, unregistered or gone.
//! * The target table is one process-wide array of [`UITT_ENTRIES`] slots whose words are
//!   atomics: [`senduipi`] reads a slot without a lock and is async-signal-safe.
//! * Everything the CPU owns — the UPID's PIR and ON bit, the thread's UIRR — is only changed by
//!   [`senduipi`] (post) and by notification processing on the receiving thread.
//!
//! # What is as unkind as the hardware
//!
//! * **Self-sends are immediate.** [`senduipi`] to the calling thread with UIF set runs the
//!   handler before it returns, inside whatever the sender is doing (a real-time signal to the
//!   own thread is delivered before the queuing system call returns).
//! * **Slot allocation is unlocked and unshared.** The raw calls below pick the first free slot
//!   and claim it in two steps with nothing between them, as `do_uintr_register_sender` and
//!   `uintr_init_sender` do (the kernel's own TODO says a lock is needed); a yield between the
//!   steps widens the window so that concurrent, unserialised registrations collide as they can
//!   on the real kernel. There is no duplicate check (the kernel's is `#if 0`): every
//!   registration takes a new slot of the 256, and the 257th fails with [`Error::TableFull`].
//!   The library's serialised, shared path is [`crate::target_table`]; the public wrappers here
//!   take its lock, as [`crate::syscalls`]'s do.
//! * **`WAITING_RECEIVER` interrupts system calls.** Notifications to a receiver registered with
//!   [`HandlerFlags::WAITING_RECEIVER`] travel on
//!   [`interrupting_delivery_signal()`](super::interrupting_delivery_signal), whose handler has no
//!   `SA_RESTART`: any interruptible system call of that thread fails with `EINTR`, not only
//!   [`wait`]. Without the flag, [`wait`] is not woken early.
//! * **`unregister_handler` keeps the UPID.** Senders may still register with the receiver's
//!   vector fds (only thread exit gives [`Error::ReceiverGone`]), their sends still post, and a
//!   thread that registers again gets its old UPID back: vectors posted in between arrive at the
//!   new handler.
//! * **Notification processing is the CPU's.** On arrival the thread's posted vectors move to
//!   its UIRR and the highest one enters the handler; each further pending vector enters once
//!   more after `uiret`.
//!
//! [`senduipi`] to a slot that is not valid returns [`Error::InvalidArgument`] where the CPU
//! raises #GP (SIGSEGV).

use core::cell::Cell;
use core::ffi::c_int;
use core::sync::atomic::Ordering::SeqCst;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use super::{Entry, delivery, delivery_signal, gettid, install, interrupting_delivery_signal};
use crate::error::{Error, Result};
use crate::structures::{PostOutcome, UITT_ENTRIES, UittIndex, Upid, Vector};
use crate::syscalls::{HandlerFlags, WaitOutcome, check_wait_timeout};

const UNREGISTERED: u8 = 0;
const REGISTERED: u8 = 1;
const EXITED: u8 = 2;

/// The kernel's and the CPU's state of one receiver thread.
struct Receiver {
    tid: AtomicI32,
    entry: AtomicU64,
    flags: AtomicU32,
    state: AtomicU8,
    upid: Upid,
    /// The CPU's user-interrupt request register: vectors taken from the UPID, not yet entered.
    uirr: AtomicU64,
}

impl Receiver {
    fn signal(&self) -> c_int {
        if self.flags.load(SeqCst) & HandlerFlags::WAITING_RECEIVER.0 != 0 {
            interrupting_delivery_signal()
        } else {
            delivery_signal()
        }
    }

    /// Queues one notification (async-signal-safe). A thread that is gone needs none.
    fn notify(&self) -> Result<()> {
        loop {
            match delivery::queue_notification(
                self.tid.load(SeqCst),
                self.signal(),
                self.entry.load(SeqCst),
            ) {
                Err(Error::SignalQueueFull) => {
                    // SAFETY: sched_yield is async-signal-safe and has no preconditions.
                    unsafe { libc::sched_yield() };
                }
                Err(Error::NoSuchThread) => return Ok(()),
                other => return other,
            }
        }
    }
}

thread_local! {
    /// The calling thread's receiver state, once it has registered. `const`-initialised and
    /// without a destructor, so the delivery signal's handler may read it.
    static CURRENT: Cell<*const Receiver> = const { Cell::new(core::ptr::null()) };
    /// Marks the thread's receiver gone when the thread exits.
    static EXIT_MARK: ExitMark = const { ExitMark };
}

struct ExitMark;

impl Drop for ExitMark {
    fn drop(&mut self) {
        if let Some(r) = current() {
            r.state.store(EXITED, SeqCst);
        }
    }
}

fn current() -> Option<&'static Receiver> {
    let p = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: receivers are leaked at creation, never freed.
    (!p.is_null()).then(|| unsafe { &*p })
}

fn current_registered() -> Result<&'static Receiver> {
    current()
        .filter(|r| r.state.load(SeqCst) == REGISTERED)
        .ok_or(Error::NotRegistered)
}

/// Emulated `uintr_register_handler`: makes the calling thread a receiver whose notifications
/// enter `entry` (while its emulated UIF, [`super::clui`]/[`super::stui`], is set).
///
/// Errors: [`Error::InvalidArgument`] (unknown flags), [`Error::AlreadyRegistered`], and those
/// of [`super::install`].
///
/// # Safety
/// As [`crate::syscalls::register_handler`]: `entry` is a user-interrupt entry (such as one of
/// [`uintr_entry!`](crate::uintr_entry)), and its handler may run at any instruction of this
/// thread while its UIF is set.
pub unsafe fn register_handler(entry: Entry, flags: HandlerFlags) -> Result<()> {
    install()?;
    if flags.0 & !HandlerFlags::WAITING_ANY.0 != 0 {
        return Err(Error::InvalidArgument);
    }
    let r = match current() {
        Some(r) => r,
        None => {
            let r: &'static Receiver = Box::leak(Box::new(Receiver {
                tid: AtomicI32::new(gettid()),
                entry: AtomicU64::new(0),
                flags: AtomicU32::new(0),
                state: AtomicU8::new(UNREGISTERED),
                upid: Upid::new(),
                uirr: AtomicU64::new(0),
            }));
            CURRENT.with(|c| c.set(r));
            EXIT_MARK.with(|_| {});
            r
        }
    };
    if r.state.load(SeqCst) == REGISTERED {
        return Err(Error::AlreadyRegistered);
    }
    r.entry.store(entry as *const () as u64, SeqCst);
    r.flags.store(flags.0, SeqCst);
    r.state.store(REGISTERED, SeqCst);
    // The UPID is the one of any earlier registration: what was posted meanwhile arrives now.
    if r.upid.pir() != 0 || r.uirr.load(SeqCst) != 0 {
        r.upid.set_outstanding();
        r.notify()?;
    }
    Ok(())
}

/// Emulated `uintr_unregister_handler`. As the kernel's: no notification enters the handler
/// any more, but vector fds stay usable by senders and posts still land in the UPID, which a
/// later [`register_handler`] on this thread reuses.
pub fn unregister_handler() -> Result<()> {
    current_registered()?.state.store(UNREGISTERED, SeqCst);
    Ok(())
}

/// An emulated user-interrupt vector fd: what senders register to reach one vector of one
/// receiver.
pub struct VectorFd {
    receiver: &'static Receiver,
    vector: Vector,
}

impl core::fmt::Debug for VectorFd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VectorFd")
            .field("tid", &self.receiver.tid.load(SeqCst))
            .field("vector", &self.vector.get())
            .finish()
    }
}

impl VectorFd {
    /// The vector this fd targets.
    pub fn vector(&self) -> Vector {
        self.vector
    }
}

/// Emulated `uintr_vector_fd`. Errors: [`Error::NotRegistered`].
pub fn vector_fd(vector: Vector) -> Result<VectorFd> {
    Ok(VectorFd {
        receiver: current_registered()?,
        vector,
    })
}

#[repr(align(16))]
struct Slot {
    valid: AtomicBool,
    vector: AtomicU8,
    receiver: AtomicPtr<Receiver>,
}

static UITT: [Slot; UITT_ENTRIES] = [const {
    Slot {
        valid: AtomicBool::new(false),
        vector: AtomicU8::new(0),
        receiver: AtomicPtr::new(core::ptr::null_mut()),
    }
}; UITT_ENTRIES];

/// The kernel's slot allocation: find a free slot, then claim it, with no lock in between.
fn alloc_slot(receiver: &'static Receiver, vector: Vector) -> Result<UittIndex> {
    let i = UITT
        .iter()
        .position(|s| !s.valid.load(SeqCst))
        .ok_or(Error::TableFull)?;
    // Widens the window the kernel leaves open between finding and claiming the slot.
    std::thread::yield_now();
    let slot = &UITT[i];
    slot.receiver
        .store(receiver as *const Receiver as *mut Receiver, SeqCst);
    slot.vector.store(vector.get(), SeqCst);
    slot.valid.store(true, SeqCst);
    UittIndex::new(i as u64)
}

/// Emulated `uintr_register_sender`, unserialised as the kernel's.
pub(crate) fn raw_register_sender(fd: &VectorFd) -> Result<UittIndex> {
    if fd.receiver.state.load(SeqCst) == EXITED {
        return Err(Error::ReceiverGone);
    }
    alloc_slot(fd.receiver, fd.vector)
}

/// Emulated `uintr_register_self`, unserialised as the kernel's.
pub(crate) fn raw_register_self(vector: Vector) -> Result<UittIndex> {
    alloc_slot(current_registered()?, vector)
}

/// Emulated `uintr_unregister_sender`, unserialised as the kernel's.
pub(crate) fn raw_unregister_sender(index: UittIndex) -> Result<()> {
    if UITT[index.get() as usize].valid.swap(false, SeqCst) {
        Ok(())
    } else {
        Err(Error::InvalidArgument)
    }
}

/// Emulated `SENDUIPI index`: posts the slot's vector to its receiver's UPID and, if that asks
/// for a notification and the receiver is registered, notifies it — to the calling thread with
/// UIF set, the handler has run when this returns. Async-signal-safe.
///
/// Errors: [`Error::InvalidArgument`] where the CPU raises #GP (the slot is not valid).
pub fn senduipi(index: UittIndex) -> Result<()> {
    let slot = &UITT[index.get() as usize];
    if !slot.valid.load(SeqCst) {
        return Err(Error::InvalidArgument);
    }
    let receiver = slot.receiver.load(SeqCst);
    let vector = Vector::new(u64::from(slot.vector.load(SeqCst)))?;
    // SAFETY: a valid slot points at a leaked, never-freed receiver.
    let r = unsafe { &*receiver };
    if r.upid.post(vector) == PostOutcome::Notify && r.state.load(SeqCst) == REGISTERED {
        r.notify()?;
    }
    Ok(())
}

/// Emulated `uintr_wait`: blocks the calling receiver until a notification interrupts it or
/// `usec` elapse. The kernel does not wake a receiver registered without
/// [`HandlerFlags::WAITING_RECEIVER`] early, so, as [`crate::syscalls::wait`], this refuses such
/// a thread instead of sleeping through its interrupts.
///
/// Errors: [`Error::TimeoutOutOfRange`], [`Error::NotRegistered`],
/// [`Error::NotWaitingReceiver`].
pub fn wait(usec: u64) -> Result<WaitOutcome> {
    let usec = check_wait_timeout(usec)?;
    let r = current_registered()?;
    crate::syscalls::check_waiting_receiver(HandlerFlags(r.flags.load(SeqCst)))?;
    let deadline = Instant::now() + Duration::from_micros(usec);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(WaitOutcome::TimedOut);
        }
        let ts = libc::timespec {
            tv_sec: left.as_secs() as libc::time_t,
            tv_nsec: left.subsec_nanos() as libc::c_long,
        };
        // SAFETY: a valid timespec; a null remainder is allowed.
        if unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) } == 0 {
            return Ok(WaitOutcome::TimedOut);
        }
        if r.flags.load(SeqCst) & HandlerFlags::WAITING_RECEIVER.0 != 0 {
            return Ok(WaitOutcome::Interrupted);
        }
    }
}

/// The CPU's notification processing on the receiving thread, run when a notification signal
/// arrives: moves the posted vectors to UIRR and returns the highest, to enter the handler with;
/// queues one more notification if others remain (taken after `uiret`). Async-signal-safe.
pub(super) fn notification_processing() -> Option<Vector> {
    let r = current()?;
    if r.state.load(SeqCst) != REGISTERED {
        return None;
    }
    let pir = r.upid.take();
    let uirr = r.uirr.fetch_or(pir, SeqCst) | pir;
    let v = Vector::highest(uirr)?;
    let rest = r.uirr.fetch_and(!v.bit(), SeqCst) & !v.bit();
    if rest != 0 {
        let _ = r.notify();
    }
    Some(v)
}

/// Emulated `uintr_register_sender`: a target-table index that sends `fd`'s vector to its
/// receiver. Errors: [`Error::ReceiverGone`] (the receiver thread exited), [`Error::TableFull`].
/// Every call takes a new slot; [`crate::target_table::SharedIndex`] shares them.
pub fn register_sender(fd: &VectorFd) -> Result<UittIndex> {
    let _serialised = crate::target_table::lock();
    raw_register_sender(fd)
}

/// Emulated `uintr_register_self`: a target-table index that sends `vector` to the calling
/// thread. Errors: [`Error::NotRegistered`], [`Error::TableFull`].
pub fn register_self(vector: Vector) -> Result<UittIndex> {
    let _serialised = crate::target_table::lock();
    raw_register_self(vector)
}

/// Emulated `uintr_unregister_sender`. Errors: [`Error::InvalidArgument`] (not a valid slot).
pub fn unregister_sender(index: UittIndex) -> Result<()> {
    let _serialised = crate::target_table::lock();
    raw_unregister_sender(index)
}
