//! The UINTR syscalls of Intel's kernel (UINTR-ABI.md §2), newest ABI (471–479).
//!
//! Every wrapper takes a [`Support`] token, which only [`crate::detect()`] hands out after CPUID
//! **and** `/proc/cpuinfo` agree that the kernel is a UINTR kernel: on mainline kernels these numbers
//! belong to other syscalls. Arguments are checked before the call (a vector ≥ 64 or an index ≥ 256
//! cannot even be represented; a timeout over the kernel's limit is refused), and each errno is
//! mapped to the [`Error`] variant that the call's man page gives it.
//!
//! The numbers of an ABI live in one [`Abi`] table; supporting another numbering is one more
//! table, not more code.
//!
//! # The gate, checked by the compiler
//!
//! Each wrapper takes a [`Support`] token first; with one, all of them compile (this example is
//! only compiled, never run):
//!
//! ```no_run
//! use std::os::fd::BorrowedFd;
//! use uintr_sys::syscalls::*;
//! use uintr_sys::{Result, Support, UittIndex, Vector};
//!
//! unsafe fn all(s: Support, e: unsafe extern "C" fn(), v: Vector, i: UittIndex, fd: BorrowedFd<'_>) -> Result<()> {
//!     unsafe { register_handler(s, e, HandlerFlags::NONE)? };
//!     unregister_handler(s)?;
//!     vector_fd(s, v)?;
//!     register_sender(s, fd)?;
//!     unregister_sender(s, i)?;
//!     wait(s, 100)?;
//!     register_self(s, v)?;
//!     unsafe { alt_stack(s, None)? };
//!     ipi_fd(s)?;
//!     Ok(())
//! }
//! ```
//!
//! Without one, none does: each of these fails with exactly one error, E0061 ("this function
//! takes N arguments but N − 1 were supplied"), the missing token:
//!
//! ```compile_fail
//! unsafe fn f(e: unsafe extern "C" fn()) -> uintr_sys::Result<()> {
//!     unsafe { uintr_sys::syscalls::register_handler(e, uintr_sys::syscalls::HandlerFlags::NONE) }
//! }
//! ```
//! ```compile_fail
//! fn f() -> uintr_sys::Result<()> { uintr_sys::syscalls::unregister_handler() }
//! ```
//! ```compile_fail
//! fn f(v: uintr_sys::Vector) -> uintr_sys::Result<std::os::fd::OwnedFd> {
//!     uintr_sys::syscalls::vector_fd(v)
//! }
//! ```
//! ```compile_fail
//! fn f(fd: std::os::fd::BorrowedFd<'_>) -> uintr_sys::Result<uintr_sys::UittIndex> {
//!     uintr_sys::syscalls::register_sender(fd)
//! }
//! ```
//! ```compile_fail
//! fn f(i: uintr_sys::UittIndex) -> uintr_sys::Result<()> { uintr_sys::syscalls::unregister_sender(i) }
//! ```
//! ```compile_fail
//! fn f() -> uintr_sys::Result<uintr_sys::syscalls::WaitOutcome> { uintr_sys::syscalls::wait(100) }
//! ```
//! ```compile_fail
//! fn f(v: uintr_sys::Vector) -> uintr_sys::Result<uintr_sys::UittIndex> {
//!     uintr_sys::syscalls::register_self(v)
//! }
//! ```
//! ```compile_fail
//! unsafe fn f() -> uintr_sys::Result<()> { unsafe { uintr_sys::syscalls::alt_stack(None) } }
//! ```
//! ```compile_fail
//! fn f() -> uintr_sys::Result<std::os::fd::OwnedFd> { uintr_sys::syscalls::ipi_fd() }
//! ```
//!
//! Bad input never reaches the kernel: a vector ≥ 64 or an index ≥ 256 cannot be built
//! ([`Vector::new`], [`UittIndex::new`]) and a timeout is checked by [`check_wait_timeout`]
//! before `uintr_wait` is issued.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use crate::detect::Support;
use crate::error::{Error, Result};
use crate::structures::{UittIndex, Vector};

/// The syscall numbers of one UINTR ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Abi {
    /// Name of the ABI.
    pub name: &'static str,
    /// `uintr_register_handler(u64 handler, u32 flags)`
    pub register_handler: i64,
    /// `uintr_unregister_handler(u32 flags)`
    pub unregister_handler: i64,
    /// `uintr_vector_fd(u64 vector, u32 flags)`
    pub vector_fd: i64,
    /// `uintr_register_sender(i32 uvec_fd, u32 flags)`
    pub register_sender: i64,
    /// `uintr_unregister_sender(i32 index, u32 flags)`
    pub unregister_sender: i64,
    /// `uintr_wait(u64 usec, u32 flags)`
    pub wait: i64,
    /// `uintr_register_self(u64 vector, u32 flags)`
    pub register_self: i64,
    /// `uintr_alt_stack(void *sp, size_t size, u32 flags)`
    pub alt_stack: i64,
    /// `uintr_ipi_fd(u32 flags)`
    pub ipi_fd: i64,
}

/// Intel's newest UINTR ABI (`intel/uintr-linux-kernel`, syscall_64.tbl): 471–479.
pub const ABI_INTEL_471: Abi = Abi {
    name: "intel-uintr-471",
    register_handler: 471,
    unregister_handler: 472,
    vector_fd: 473,
    register_sender: 474,
    unregister_sender: 475,
    wait: 476,
    register_self: 477,
    alt_stack: 478,
    ipi_fd: 479,
};

/// The ABI the wrappers use.
pub const ABI: Abi = ABI_INTEL_471;

/// `uintr_wait` refuses timeouts above this many microseconds.
pub const MAX_WAIT_USEC: u64 = 1_000_000_000;

/// The check [`wait`] makes before its syscall: `usec` ≤ [`MAX_WAIT_USEC`], else
/// [`Error::TimeoutOutOfRange`] (the kernel would answer `EINVAL`).
///
/// ```
/// use uintr_sys::{Error, syscalls::check_wait_timeout};
/// assert_eq!(check_wait_timeout(1_000_000_000), Ok(1_000_000_000));
/// assert_eq!(check_wait_timeout(1_000_000_001), Err(Error::TimeoutOutOfRange(1_000_000_001)));
/// ```
pub const fn check_wait_timeout(usec: u64) -> Result<u64> {
    if usec > MAX_WAIT_USEC {
        Err(Error::TimeoutOutOfRange(usec))
    } else {
        Ok(usec)
    }
}

/// Flags of [`register_handler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HandlerFlags(pub u32);

impl HandlerFlags {
    /// No flags: a receiver blocked in the kernel is not woken by a user interrupt.
    pub const NONE: HandlerFlags = HandlerFlags(0);
    /// `UINTR_HANDLER_FLAG_WAITING_RECEIVER`: a receiver blocked in *any* interruptible syscall
    /// (not only [`wait`]) is woken with `EINTR` (needs `CONFIG_X86_UINTR_BLOCKING`); see
    /// [`register_handler`].
    pub const WAITING_RECEIVER: HandlerFlags = HandlerFlags(0x1000);
    /// `UINTR_HANDLER_FLAG_WAITING_SENDER`.
    pub const WAITING_SENDER: HandlerFlags = HandlerFlags(0x2000);
    /// `UINTR_HANDLER_FLAG_WAITING_ANY`.
    pub const WAITING_ANY: HandlerFlags = HandlerFlags(0x3000);
}

/// What [`wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// A user interrupt arrived (the kernel returned `EINTR`; the handler has run).
    Interrupted,
    /// The timeout elapsed.
    TimedOut,
}

/// The process-wide registration lock ([`crate::target_table`]), where that module exists.
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn serialised() -> impl Sized {
    crate::target_table::lock()
}

/// Nothing to serialise where UINTR cannot exist.
#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn serialised() -> impl Sized {}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Issues syscall `nr`. Private: reachable only through the gated wrappers below.
///
/// # Safety
/// The caller holds a [`Support`] token (the kernel is a UINTR kernel, so `nr` is the UINTR call
/// it names) and the arguments are valid for that call.
unsafe fn raw(nr: i64, a: u64, b: u64, c: u64) -> core::result::Result<i64, i32> {
    // SAFETY: forwarded to the caller; the kernel validates pointers it is given.
    let r = unsafe { libc::syscall(nr as libc::c_long, a, b, c) };
    if r < 0 { Err(errno()) } else { Ok(r) }
}

fn map_common(e: i32) -> Error {
    match e {
        libc::EINVAL => Error::InvalidArgument,
        libc::EBADF => Error::BadFd,
        libc::ENOSYS => Error::NotImplemented,
        libc::EINTR => Error::Interrupted,
        other => Error::Os(other),
    }
}

std::thread_local! {
    /// The flags of the calling thread's registered handler, as this library registered it
    /// (`None`: not registered through [`register_handler`]).
    static HANDLER_FLAGS: core::cell::Cell<Option<HandlerFlags>> =
        const { core::cell::Cell::new(None) };
}

/// The check [`wait`] makes before its syscall: only a thread registered with
/// [`HandlerFlags::WAITING_RECEIVER`] is woken from `uintr_wait` by an interrupt; for any
/// other, the call would sleep the whole timeout however many interrupts arrive.
pub fn check_waiting_receiver(flags: HandlerFlags) -> Result<()> {
    if flags.0 & HandlerFlags::WAITING_RECEIVER.0 != 0 {
        Ok(())
    } else {
        Err(Error::NotWaitingReceiver)
    }
}

/// `uintr_register_handler`: makes the calling thread a receiver whose interrupts enter `handler`.
///
/// # `WAITING_RECEIVER` and `EINTR`
///
/// With [`HandlerFlags::WAITING_RECEIVER`] the kernel interrupts *every* interruptible system
/// call of this thread when a user interrupt arrives (`switch_uintr_prepare` checks
/// `task_is_interruptible`): `read`, `futex`, `nanosleep`, `epoll_wait`, … return `EINTR` (after
/// the handler has run), with no `SA_RESTART`-style restart. Only [`wait`] needs the flag; code
/// that runs on a thread registered with it must retry on `EINTR`. Without it, a thread blocked
/// in the kernel is not interrupted, and [`wait`] is refused ([`Error::NotWaitingReceiver`]).
///
/// Errors: [`Error::AlreadyRegistered`] (`EBUSY`), [`Error::InvalidArgument`] (bad flags, or a
/// `WAITING_*` flag without blocking support), [`Error::NotImplemented`].
///
/// # Safety
/// `handler` must be a user-interrupt entry point: code that expects the frame the CPU pushes
/// (UINTR-ABI.md §4), preserves all interrupted state, and returns with `add rsp, 8; uiret` — such
/// as [`crate::trampoline`]'s entries. Any other function corrupts the thread when an interrupt
/// arrives.
#[inline]
pub unsafe fn register_handler(
    _: Support,
    handler: unsafe extern "C" fn(),
    flags: HandlerFlags,
) -> Result<()> {
    // SAFETY: token held; `handler` is a valid entry per this function's contract.
    unsafe {
        raw(
            ABI.register_handler,
            handler as usize as u64,
            flags.0 as u64,
            0,
        )
    }
    .map(|_| HANDLER_FLAGS.with(|f| f.set(Some(flags))))
    .map_err(|e| match e {
        libc::EBUSY => Error::AlreadyRegistered,
        libc::EFAULT => Error::InvalidArgument,
        e => map_common(e),
    })
}

/// `uintr_unregister_handler`: the calling thread stops taking user interrupts.
///
/// What it does *not* do, in Intel's kernel (UINTR-ABI.md §4b): it does not make later
/// [`register_sender`] calls on the thread's vector fds fail (that check is commented out; only
/// the thread's exit gives [`Error::ReceiverGone`]), and it does not free the thread's UPID.
/// Senders still registered keep posting into it, and if the thread registers a handler again
/// it gets the same UPID back: vectors posted in between (and vectors that were pending at the
/// unregistration) arrive at the new handler as spurious interrupts. A library that
/// re-registers should let them arrive while it is not yet reachable and discard them (as
/// `nemo-user` does), and handlers should tolerate an interrupt nobody meant for them.
#[inline]
pub fn unregister_handler(_: Support) -> Result<()> {
    // SAFETY: token held; no pointer arguments.
    unsafe { raw(ABI.unregister_handler, 0, 0, 0) }
        .map(|_| HANDLER_FLAGS.with(|f| f.set(None)))
        .map_err(|e| match e {
            libc::EINVAL => Error::NotRegistered,
            e => map_common(e),
        })
}

/// `uintr_vector_fd`: a file descriptor (close-on-exec) that other threads or processes pass to
/// [`register_sender`] to target `vector` of the calling receiver.
///
/// Errors: [`Error::NotRegistered`] if the thread has no handler.
#[inline]
pub fn vector_fd(_: Support, vector: Vector) -> Result<OwnedFd> {
    // SAFETY: token held; no pointer arguments.
    let fd = unsafe { raw(ABI.vector_fd, vector.get() as u64, 0, 0) }.map_err(|e| match e {
        libc::EINVAL => Error::NotRegistered,
        libc::ENOSPC => Error::VectorOutOfRange(vector.get() as u64),
        e => map_common(e),
    })?;
    // SAFETY: the kernel returned a fresh descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `uintr_register_sender`: adds the receiver behind `uvec_fd` to the process's target table and
/// returns the index to give `SENDUIPI`.
///
/// Made under the process-wide registration lock ([`crate::target_table`]): the kernel
/// allocates indices without one. Every call takes a new index of the process's 256 (the kernel
/// has no duplicate check): senders that may be many should share one through
/// [`SharedIndex`](crate::target_table::SharedIndex).
///
/// Errors: [`Error::BadFd`], [`Error::NotVectorFd`], [`Error::ReceiverGone`], [`Error::TableFull`].
#[inline]
pub fn register_sender(
    support: Support,
    uvec_fd: std::os::fd::BorrowedFd<'_>,
) -> Result<UittIndex> {
    let _serialised = serialised();
    raw_register_sender(support, uvec_fd)
}

/// [`register_sender`] without the lock: the caller holds it.
pub(crate) fn raw_register_sender(
    _: Support,
    uvec_fd: std::os::fd::BorrowedFd<'_>,
) -> Result<UittIndex> {
    use std::os::fd::AsRawFd;
    // SAFETY: token held; the fd is borrowed, so it is open for the duration of the call.
    let idx = unsafe { raw(ABI.register_sender, uvec_fd.as_raw_fd() as u64, 0, 0) }.map_err(
        |e| match e {
            libc::EOPNOTSUPP => Error::NotVectorFd,
            libc::ESHUTDOWN => Error::ReceiverGone,
            libc::ENOSPC => Error::TableFull,
            e => map_common(e),
        },
    )?;
    UittIndex::new(idx as u64)
}

/// `uintr_unregister_sender`: frees a target-table entry, under the process-wide registration
/// lock.
#[inline]
pub fn unregister_sender(support: Support, index: UittIndex) -> Result<()> {
    let _serialised = serialised();
    raw_unregister_sender(support, index)
}

/// [`unregister_sender`] without the lock: the caller holds it.
pub(crate) fn raw_unregister_sender(_: Support, index: UittIndex) -> Result<()> {
    // SAFETY: token held; no pointer arguments.
    unsafe { raw(ABI.unregister_sender, index.get(), 0, 0) }
        .map(drop)
        .map_err(map_common)
}

/// `uintr_wait`: blocks the calling receiver until a user interrupt arrives or `usec` elapse.
/// Experimental in the kernel; only a handler registered with
/// [`HandlerFlags::WAITING_RECEIVER`] is woken by an interrupt, so a thread registered
/// otherwise is refused before the call ([`check_waiting_receiver`]).
///
/// Errors: [`Error::TimeoutOutOfRange`] (checked before the call), [`Error::NotRegistered`]
/// (no handler registered through [`register_handler`], or the kernel's `EOPNOTSUPP`),
/// [`Error::NotWaitingReceiver`], [`Error::NotImplemented`] (no blocking support).
#[inline]
pub fn wait(_: Support, usec: u64) -> Result<WaitOutcome> {
    let usec = check_wait_timeout(usec)?;
    let flags = HANDLER_FLAGS
        .with(core::cell::Cell::get)
        .ok_or(Error::NotRegistered)?;
    check_waiting_receiver(flags)?;
    // SAFETY: token held; no pointer arguments.
    match unsafe { raw(ABI.wait, usec, 0, 0) } {
        Ok(_) => Ok(WaitOutcome::TimedOut),
        Err(libc::EINTR) => Ok(WaitOutcome::Interrupted),
        Err(libc::EOPNOTSUPP) => Err(Error::NotRegistered),
        Err(e) => Err(map_common(e)),
    }
}

/// `uintr_register_self`: a target-table index that sends `vector` to the calling thread itself
/// (no fd involved). Made under the process-wide registration lock, as [`register_sender`].
#[inline]
pub fn register_self(_: Support, vector: Vector) -> Result<UittIndex> {
    let _serialised = serialised();
    // SAFETY: token held; no pointer arguments.
    let idx =
        unsafe { raw(ABI.register_self, vector.get() as u64, 0, 0) }.map_err(|e| match e {
            libc::EINVAL => Error::NotRegistered,
            libc::ENOSPC => Error::TableFull,
            e => map_common(e),
        })?;
    UittIndex::new(idx as u64)
}

/// `uintr_alt_stack`: handlers of the calling receiver run on the stack whose *top* is `top`
/// (`STACKADJUST = top | 1`); `None` restores the default (skip the 128-byte red zone).
///
/// # Safety
/// With `Some((top, size))`, `top - size .. top` must be writable memory that stays valid, and is
/// used by nothing else, for as long as the handler stays registered.
#[inline]
pub unsafe fn alt_stack(_: Support, stack: Option<(*mut u8, usize)>) -> Result<()> {
    let (sp, size) = stack.map_or((0, 0), |(p, s)| (p as u64, s as u64));
    // SAFETY: token held; the stack's validity is the caller's contract.
    unsafe { raw(ABI.alt_stack, sp, size, 0) }
        .map(drop)
        .map_err(map_common)
}

/// `uintr_ipi_fd`: a file descriptor for sharing the process's target table. Made under the
/// process-wide registration lock: it may create the table (`uintr_init_sender`, unlocked in the
/// kernel).
#[inline]
pub fn ipi_fd(_: Support) -> Result<OwnedFd> {
    let _serialised = serialised();
    // SAFETY: token held; no pointer arguments.
    let fd = unsafe { raw(ABI.ipi_fd, 0, 0, 0) }.map_err(map_common)?;
    // SAFETY: a fresh descriptor from the kernel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_one_contiguous_table() {
        let n = [
            ABI.register_handler,
            ABI.unregister_handler,
            ABI.vector_fd,
            ABI.register_sender,
            ABI.unregister_sender,
            ABI.wait,
            ABI.register_self,
            ABI.alt_stack,
            ABI.ipi_fd,
        ];
        assert_eq!(n, [471, 472, 473, 474, 475, 476, 477, 478, 479]);
    }

    #[test]
    fn bad_input_is_a_typed_error_before_any_syscall() {
        // The values a wrapper would pass to the kernel cannot be built out of range…
        assert_eq!(Vector::new(64), Err(Error::VectorOutOfRange(64)));
        assert_eq!(
            Vector::new(u64::MAX),
            Err(Error::VectorOutOfRange(u64::MAX))
        );
        assert_eq!(UittIndex::new(256), Err(Error::IndexOutOfRange(256)));
        // …and `wait` refuses a timeout with the same check it runs before its syscall.
        assert_eq!(check_wait_timeout(0), Ok(0));
        assert_eq!(check_wait_timeout(MAX_WAIT_USEC), Ok(MAX_WAIT_USEC));
        assert_eq!(
            check_wait_timeout(MAX_WAIT_USEC + 1),
            Err(Error::TimeoutOutOfRange(MAX_WAIT_USEC + 1))
        );
        assert_eq!(Error::TimeoutOutOfRange(0).errno(), libc::EINVAL);
    }

    #[test]
    fn errno_mapping_round_trips() {
        assert_eq!(Error::ReceiverGone.errno(), libc::ESHUTDOWN);
        assert_eq!(Error::TableFull.errno(), libc::ENOSPC);
        assert_eq!(Error::VectorOutOfRange(64).errno(), libc::EINVAL);
    }
}
