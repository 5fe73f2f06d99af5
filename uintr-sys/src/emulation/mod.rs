//! Software stand-in for the CPU's user-interrupt delivery and for `uiret`, so that the real
//! handler entries ([`crate::trampoline`]) run, unchanged, on machines without user interrupts:
//! in tests, in simulation, and as the delivery path of an "emulated UINTR" backend.
//!
//! # What is emulated, and how
//!
//! * **Delivery** ([`deliver`], [`deliver_to`]) queues a real-time signal,
//!   [`delivery_signal()`], to the target thread with `rt_tgsigqueueinfo`; the entry and the
//!   vector travel in the signal's value. The signal handler does to the interrupted context what
//!   the CPU does (UINTR-ABI.md §4): `tmp = RSP; RSP -= 128` (the red zone, the kernel's default
//!   `STACKADJUST`); `RSP &= !0xF`; push `tmp`, RFLAGS, RIP and the vector; clear TF and RF;
//!   `RIP = entry`; clear UIF. When the signal handler returns, the thread takes the interrupt
//!   wherever it was — at an arbitrary instruction, as with the hardware.
//! * **UIF** is the delivery signals' bits in the thread's signal mask: delivery blocks them (the
//!   CPU clears UIF), `uiret` unblocks them, and [`clui`], [`stui`], [`testui`] are the emulated
//!   instructions. Deliveries sent while it is blocked stay pending and are taken right after
//!   the `uiret`/`stui` that unblocks it, as the hardware does.
//! * **`uiret`** raises #UD (SIGILL) on a CPU whose kernel has not enabled user interrupts. The
//!   emulation's SIGILL handler checks that the faulting bytes are `F3 0F 01 EC`, pops RIP,
//!   RFLAGS and RSP from the stack into the context (only the flags user code may change take
//!   effect, as with the real `uiret`) and unblocks delivery. Any other SIGILL goes to the
//!   handler that was installed before (or, with none, kills the process as it would have).
//!
//! * **The kernel's calls and `SENDUIPI`** ([`kernel`]): handler registration, vector fds, the
//!   256-slot target table, `uintr_wait` and `SENDUIPI`, as unkind as Intel's kernel and the CPU
//!   (self-sends enter at once, unlocked slot allocation, UPIDs reused on re-registration,
//!   `EINTR` for `WAITING_RECEIVER` threads); the CPU's notification processing picks the vector
//!   on arrival. A library runs its hardware path on it unchanged.
//!
//! Direct deliveries are *not* coalesced: every successful `deliver*` enters the handler once (real-time
//! signals queue). A backend that wants the CPU's coalescing posts into a
//! [`Upid`](crate::Upid) and delivers only when [`Upid::post`](crate::Upid::post) returns
//! [`PostOutcome::Notify`](crate::PostOutcome::Notify); its handler then
//! [`take`](crate::Upid::take)s every pending vector.
//!
//! # Signals used
//!
//! * [`delivery_signal()`]: `SIGRTMAX() -` [`DELIVERY_SIGNAL_BELOW_RTMAX`] (62 with glibc), and
//!   [`interrupting_delivery_signal()`]: `SIGRTMAX() -` [`INTERRUPTING_SIGNAL_BELOW_RTMAX`] (61),
//!   both in [`delivery_signals()`]. A signal-based backend elsewhere in the library should count
//!   up from `SIGRTMIN()` instead; [`install`] refuses to take a signal that already has a
//!   handler.
//! * [`UIRET_SIGNAL`] = `SIGILL`, chained as described above.
//!
//! # Differences from the hardware
//!
//! * It costs two signals per interrupt (microseconds, not hundreds of cycles); measure it, don't
//!   mistake it for UINTR.
//! * A thread blocked in a system call is interrupted: the call is restarted when possible
//!   (`SA_RESTART`), otherwise it fails with `EINTR` (the hardware leaves a blocked receiver
//!   alone unless it registered with a `WAITING_*` flag). Receivers of [`kernel`] registered with
//!   `WAITING_RECEIVER` get [`interrupting_delivery_signal()`], without `SA_RESTART`: their
//!   interruptible calls fail with `EINTR`, as with the kernel.
//! * `uintr_alt_stack` is not emulated: the frame always goes below the red zone of the
//!   interrupted stack.
//! * On a machine whose kernel *has* enabled user interrupts `uiret` does not trap, so the
//!   emulation cannot work; [`install`] detects this and returns
//!   [`Error::EmulationUnavailable`]. Use the hardware there.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use uintr_sys::{emulation, trampoline::Frame, Vector};
//!
//! static PENDING: AtomicU64 = AtomicU64::new(0);
//! extern "C" fn on_interrupt(_: &mut Frame, vector: u64) {
//!     PENDING.fetch_or(1 << vector, Ordering::Relaxed);
//! }
//! uintr_sys::uintr_entry!(ENTRY => on_interrupt);
//!
//! # fn main() -> uintr_sys::Result<()> {
//! match emulation::install() {
//!     Ok(()) => {
//!         // SAFETY: ENTRY is a user-interrupt entry; its handler only touches an atomic.
//!         unsafe { emulation::deliver(ENTRY, Vector::new(9)?)? };
//!         // Delivery to the calling thread happens before `deliver` returns.
//!         assert_eq!(PENDING.load(Ordering::Relaxed), 1 << 9);
//!     }
//!     Err(uintr_sys::Error::EmulationUnavailable) => { /* real user interrupts: use them */ }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```

mod delivery;
pub mod kernel;
mod uiret;

use core::ffi::c_void;
use core::mem::MaybeUninit;
use core::sync::atomic::Ordering;
use std::sync::OnceLock;

use libc::c_int;

use crate::error::{Error, Result};
use crate::structures::Vector;

/// A user-interrupt entry, as made by [`uintr_entry!`](crate::uintr_entry).
pub type Entry = unsafe extern "C" fn();

/// The delivery signal is `SIGRTMAX() - DELIVERY_SIGNAL_BELOW_RTMAX`.
pub const DELIVERY_SIGNAL_BELOW_RTMAX: c_int = 2;

/// The real-time signal that carries emulated deliveries (chosen at run time, because
/// `SIGRTMIN`/`SIGRTMAX` depend on the C library).
pub fn delivery_signal() -> c_int {
    libc::SIGRTMAX() - DELIVERY_SIGNAL_BELOW_RTMAX
}

/// The interrupting delivery signal is `SIGRTMAX() - INTERRUPTING_SIGNAL_BELOW_RTMAX`.
pub const INTERRUPTING_SIGNAL_BELOW_RTMAX: c_int = 3;

/// The real-time signal that carries emulated deliveries to a receiver registered with
/// [`HandlerFlags::WAITING_RECEIVER`](crate::syscalls::HandlerFlags::WAITING_RECEIVER) through
/// [`kernel`]. Its handler is installed without `SA_RESTART`, so an interruptible system call
/// of that thread fails with `EINTR`, as the kernel makes it (UINTR-ABI.md §4b).
pub fn interrupting_delivery_signal() -> c_int {
    libc::SIGRTMAX() - INTERRUPTING_SIGNAL_BELOW_RTMAX
}

/// Both delivery signals: a signal-based mechanism elsewhere must take neither.
pub fn delivery_signals() -> [c_int; 2] {
    [delivery_signal(), interrupting_delivery_signal()]
}

/// The signal through which `uiret` is emulated (#UD).
pub const UIRET_SIGNAL: c_int = libc::SIGILL;

/// Bytes skipped below the interrupted RSP before the frame (the kernel's default
/// `STACKADJUST`: the SysV red zone).
pub const STACK_ADJUST: u64 = 128;

/// The encoding of `uiret` (UINTR-ABI.md §3).
pub const UIRET_BYTES: [u8; 4] = [0xF3, 0x0F, 0x01, 0xEC];

/// A Linux thread id (`gettid()`) of a thread of this process: where [`deliver_to`] delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tid(libc::pid_t);

impl Tid {
    /// The calling thread.
    pub fn current() -> Tid {
        Tid(gettid())
    }

    /// A thread id obtained elsewhere (e.g. `gettid()` in C).
    pub const fn from_raw(tid: libc::pid_t) -> Tid {
        Tid(tid)
    }

    /// The raw thread id.
    pub const fn as_raw(self) -> libc::pid_t {
        self.0
    }
}

/// Installs the two signal handlers, once per process (later calls return the first result).
/// Thread-safe. [`deliver`] and [`deliver_to`] call it themselves.
///
/// It also checks, by executing one `uiret` on a frame it builds, that `uiret` traps here.
///
/// Errors: [`Error::SignalInUse`] if [`delivery_signal()`] already has another handler,
/// [`Error::EmulationUnavailable`] if `uiret` runs natively, [`Error::Os`] if `sigaction` fails.
pub fn install() -> Result<()> {
    static INSTALLED: OnceLock<Result<()>> = OnceLock::new();
    *INSTALLED.get_or_init(install_once)
}

/// Delivers a user interrupt with `vector` to the calling thread, entering `entry`. Unless the
/// thread has blocked delivery ([`clui`], or it is inside a handler), the handler has run when
/// this returns.
///
/// # Safety
///
/// As [`deliver_to`].
pub unsafe fn deliver(entry: Entry, vector: Vector) -> Result<()> {
    // SAFETY: forwarded to the caller.
    unsafe { deliver_to(Tid::current(), entry, vector) }
}

/// Delivers a user interrupt with `vector` to thread `tid` of this process, entering `entry`
/// there at whatever instruction it is executing (or, if it has blocked delivery, once it
/// unblocks). Each call enters the handler once: deliveries queue, they do not coalesce.
///
/// Errors: [`Error::NoSuchThread`] (no such thread in this process), [`Error::SignalQueueFull`]
/// (too many deliveries pending: retry later), and those of [`install`].
///
/// # Safety
///
/// `entry` must be a user-interrupt entry made with [`uintr_entry!`](crate::uintr_entry) (or
/// code that likewise expects the CPU's frame, preserves the interrupted state and ends with
/// `add rsp, 8; uiret`), and its handler must be sound to run on thread `tid` at an arbitrary
/// point, as for the hardware's `uintr_register_handler`.
pub unsafe fn deliver_to(tid: Tid, entry: Entry, vector: Vector) -> Result<()> {
    install()?;
    delivery::queue(tid.0, entry as *const () as u64, vector)
}

/// Emulated `clui`: blocks delivery to the calling thread (UIF = 0); deliveries stay pending.
pub fn clui() {
    set_delivery_mask(libc::SIG_BLOCK);
}

/// Emulated `stui`: unblocks delivery to the calling thread (UIF = 1); pending deliveries are
/// taken before this returns.
pub fn stui() {
    set_delivery_mask(libc::SIG_UNBLOCK);
}

/// Emulated `testui`: whether delivery to the calling thread is enabled (UIF).
pub fn testui() -> bool {
    let mut cur = MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: a null new set only queries; `cur` is a valid sigset_t to write.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, core::ptr::null(), cur.as_mut_ptr());
        libc::sigismember(cur.as_ptr(), delivery_signal()) != 1
    }
}

/// Number of emulated deliveries that reached an entry, in this process so far.
pub fn delivery_count() -> u64 {
    delivery::DELIVERIES.load(Ordering::Relaxed)
}

/// Number of `uiret`s emulated in this process so far.
pub fn uiret_count() -> u64 {
    uiret::UIRETS.load(Ordering::Relaxed)
}

/// `gettid` as a raw syscall (async-signal-safe; the libc wrapper needs glibc 2.30).
fn gettid() -> libc::pid_t {
    // SAFETY: gettid has no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as libc::pid_t }
}

fn set_delivery_mask(how: c_int) {
    // SAFETY: `set` is initialised by sigemptyset before use; a null old set is allowed.
    unsafe {
        let mut set = MaybeUninit::<libc::sigset_t>::zeroed();
        libc::sigemptyset(set.as_mut_ptr());
        for sig in delivery_signals() {
            libc::sigaddset(set.as_mut_ptr(), sig);
        }
        // Cannot fail: `how` is valid and the set is readable.
        libc::pthread_sigmask(how, set.as_ptr(), core::ptr::null_mut());
    }
}

fn query(sig: c_int) -> Result<libc::sigaction> {
    let mut old = MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a null new action only queries; `old` is writable.
    if unsafe { libc::sigaction(sig, core::ptr::null(), old.as_mut_ptr()) } != 0 {
        return Err(Error::Os(last_errno()));
    }
    // SAFETY: sigaction filled it in.
    Ok(unsafe { old.assume_init() })
}

fn set_handler(
    sig: c_int,
    handler: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void),
    flags: c_int,
) -> Result<()> {
    // SAFETY: a zeroed sigaction is valid; the mask is emptied explicitly; the handler has the
    // SA_SIGINFO signature.
    unsafe {
        let mut act: libc::sigaction = core::mem::zeroed();
        act.sa_sigaction = handler as usize;
        act.sa_flags = flags | libc::SA_SIGINFO;
        libc::sigemptyset(&mut act.sa_mask);
        if libc::sigaction(sig, &act, core::ptr::null_mut()) != 0 {
            return Err(Error::Os(last_errno()));
        }
    }
    Ok(())
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn install_once() -> Result<()> {
    for sig in delivery_signals() {
        let current = query(sig)?;
        if current.sa_sigaction != libc::SIG_DFL
            && current.sa_sigaction != delivery::on_delivery as *const () as usize
        {
            return Err(Error::SignalInUse(sig));
        }
    }
    let previous = query(UIRET_SIGNAL)?;
    if previous.sa_sigaction != uiret::on_sigill as *const () as usize {
        // Set before our handler can run, so the handler always sees it.
        let _ = uiret::PREVIOUS_SIGILL.set(previous);
    }
    set_handler(UIRET_SIGNAL, uiret::on_sigill, 0)?;
    set_handler(delivery_signal(), delivery::on_delivery, libc::SA_RESTART)?;
    set_handler(interrupting_delivery_signal(), delivery::on_delivery, 0)?;
    // Spare the first xsave entry its CPUID.
    crate::trampoline::xsave_area_size();

    // The probe's uiret sets UIF (unblocks delivery); keep the caller's mask as it was.
    let mut mask = MaybeUninit::<libc::sigset_t>::zeroed();
    let before = uiret::UIRETS.load(Ordering::Relaxed);
    // SAFETY: querying and restoring this thread's mask; the probe builds its own frame and
    // returns normally whether uiret traps (our handler is installed) or not.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, core::ptr::null(), mask.as_mut_ptr());
        uiret::probe();
        libc::pthread_sigmask(libc::SIG_SETMASK, mask.as_ptr(), core::ptr::null_mut());
    }
    if uiret::UIRETS.load(Ordering::Relaxed) == before {
        return Err(Error::EmulationUnavailable);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivery_signal_is_a_realtime_signal_away_from_sigrtmin() {
        let s = delivery_signal();
        assert!(s > libc::SIGRTMIN() + 8 && s <= libc::SIGRTMAX(), "{s}");
        assert_ne!(s, UIRET_SIGNAL);
    }

    #[test]
    fn install_is_idempotent_and_thread_safe() {
        let results: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(install))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let first = install();
        assert!(results.iter().all(|r| *r == first), "{results:?}");
        if first.is_ok() {
            // Installed: the probe's uiret was emulated, and delivery is enabled again.
            assert!(uiret_count() >= 1);
            assert!(testui());
        }
    }

    #[test]
    fn clui_stui_testui_toggle_the_emulated_uif() {
        std::thread::spawn(|| {
            assert!(testui());
            clui();
            assert!(!testui());
            clui();
            assert!(!testui());
            stui();
            assert!(testui());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn delivery_to_a_missing_thread_is_a_typed_error() {
        extern "C" fn h(_: &mut crate::trampoline::Frame, _: u64) {}
        crate::uintr_entry!(E => h);
        if install().is_err() {
            return;
        }
        // Thread ids are below pid_max (at most 2^22).
        let gone = Tid::from_raw(i32::MAX);
        // SAFETY: E is an entry; the target does not exist, so nothing runs.
        let r = unsafe { deliver_to(gone, E, Vector::new(1).unwrap()) };
        assert_eq!(r, Err(Error::NoSuchThread));
    }
}
