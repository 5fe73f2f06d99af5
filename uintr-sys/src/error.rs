//! Typed errors for the UINTR layer.
//!
//! Every wrapper maps the raw `errno` of a syscall to the variant that the man page of that call
//! gives it, so callers match on meaning instead of numbers. Bad input (a vector ≥ 64, a table index
//! ≥ 256, a timeout over the kernel's limit) is refused *before* any syscall is made. The same
//! type covers the software emulation of delivery ([`crate::emulation`]).

use thiserror::Error;

/// Result alias for this crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong in a UINTR operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A user vector must be in `0..64`.
    #[error("user-interrupt vector {0} is out of range (valid: 0..64)")]
    VectorOutOfRange(u64),
    /// A target-table index must be in `0..256`.
    #[error("target-table index {0} is out of range (valid: 0..256)")]
    IndexOutOfRange(u64),
    /// `uintr_wait` accepts at most 10^9 µs.
    #[error("wait timeout of {0} µs exceeds the kernel limit of 1_000_000_000 µs")]
    TimeoutOutOfRange(u64),
    /// The calling thread has no registered handler (the kernel answered `EINVAL`/`EOPNOTSUPP`
    /// for a call that needs one).
    #[error("the calling thread is not registered as a user-interrupt receiver")]
    NotRegistered,
    /// A handler is already registered for the calling thread (`EBUSY`).
    #[error("a user-interrupt handler is already registered for this thread")]
    AlreadyRegistered,
    /// The receiver behind a vector fd has gone away (`ESHUTDOWN`).
    #[error("the receiver of this vector has unregistered or exited")]
    ReceiverGone,
    /// The process's target table (256 entries) is full, or the vector is out of the kernel's
    /// range (`ENOSPC`).
    #[error("no space: the user-interrupt target table is full")]
    TableFull,
    /// The file descriptor is not a UINTR vector fd (`EOPNOTSUPP`).
    #[error("the file descriptor is not a user-interrupt vector fd")]
    NotVectorFd,
    /// The file descriptor is not open (`EBADF`).
    #[error("bad file descriptor")]
    BadFd,
    /// Invalid flags or arguments (`EINVAL`).
    #[error("invalid argument or flags")]
    InvalidArgument,
    /// A blocking wait was interrupted, normally by the user interrupt it waited for (`EINTR`).
    #[error("interrupted")]
    Interrupted,
    /// The kernel does not provide this call (`ENOSYS`): blocking support missing, or not a UINTR
    /// kernel after all.
    #[error("the kernel does not implement this user-interrupt call (ENOSYS)")]
    NotImplemented,
    /// `uintr_wait` on a thread whose handler was registered without `WAITING_RECEIVER`: the
    /// kernel would not wake it when an interrupt arrives, only at the timeout.
    #[error(
        "uintr_wait needs a handler registered with WAITING_RECEIVER; without it no interrupt ends the wait"
    )]
    NotWaitingReceiver,
    /// The target thread of an emulated delivery does not exist in this process (`ESRCH`).
    #[error("no such thread in this process")]
    NoSuchThread,
    /// The kernel's queue of pending signals is full (`EAGAIN`): an emulated delivery could not
    /// be queued; retry after the receiver has caught up.
    #[error("the pending-signal queue is full")]
    SignalQueueFull,
    /// The signal the emulation needs already has a handler that is not the emulation's.
    #[error("signal {0} already has a handler; the user-interrupt emulation cannot use it")]
    SignalInUse(i32),
    /// The emulation cannot work here: `uiret` executes natively (the kernel has enabled user
    /// interrupts), so it cannot be trapped; use the hardware instead.
    #[error("uiret does not trap on this machine (user interrupts are enabled): use the hardware")]
    EmulationUnavailable,
    /// Any other errno.
    #[error("user-interrupt syscall failed with errno {0}")]
    Os(i32),
}

impl Error {
    /// The errno value a C caller would see for this error.
    pub fn errno(&self) -> i32 {
        match self {
            Error::VectorOutOfRange(_)
            | Error::IndexOutOfRange(_)
            | Error::TimeoutOutOfRange(_)
            | Error::InvalidArgument => libc::EINVAL,
            Error::NotRegistered => libc::EINVAL,
            Error::NotWaitingReceiver => libc::EOPNOTSUPP,
            Error::AlreadyRegistered => libc::EBUSY,
            Error::ReceiverGone => libc::ESHUTDOWN,
            Error::TableFull => libc::ENOSPC,
            Error::NotVectorFd => libc::EOPNOTSUPP,
            Error::BadFd => libc::EBADF,
            Error::Interrupted => libc::EINTR,
            Error::NoSuchThread => libc::ESRCH,
            Error::SignalQueueFull => libc::EAGAIN,
            Error::SignalInUse(_) => libc::EBUSY,
            Error::EmulationUnavailable => libc::ENOTSUP,
            Error::NotImplemented => libc::ENOSYS,
            Error::Os(e) => *e,
        }
    }
}
