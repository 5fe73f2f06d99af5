//! Typed errors of the crate: condvars, the interrupt core, the backends, active messages and
//! timers share this one type.
//!
//! Every failure a caller can provoke (a vector out of range, a receiver that has gone, a full
//! mailbox, a backend that this machine cannot run) is a variant here, never a panic; and
//! [`Error::errno`] gives the value a C caller sees for it.

use thiserror::Error;
use uintr_sys::Vector;

use crate::am::ids::{ActionId, TargetId};
use crate::interrupt::kind::BackendKind;

/// Result alias for this crate's API.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A user-interrupt vector must be in `0..64`.
    #[error("user-interrupt vector {0} is out of range (valid: 0..64)")]
    VectorOutOfRange(u64),
    /// The receiver was registered without this vector (see `ReceiverBuilder::vectors`).
    #[error("vector {} is not enabled on this receiver", .0.get())]
    VectorNotEnabled(Vector),
    /// The calling thread already has a receiver: one receiver per thread.
    #[error("this thread already has a user-interrupt receiver (one per thread)")]
    AlreadyRegistered,
    /// The receiver was dropped, or its thread exited.
    #[error("the receiver has been dropped or its thread has exited")]
    ReceiverGone,
    /// The endpoint belongs to a receiver in another process (a fork parent), and was not created
    /// process-shared, so nothing sent from here could reach it.
    #[error(
        "the receiver lives in another process and its endpoint is not process-shared \
         (see ReceiverBuilder::process_shared)"
    )]
    ForeignProcess,
    /// The requested backend cannot run on this machine or kernel.
    #[error("the {kind} backend is not available: {reason}")]
    BackendUnavailable {
        /// The backend that was asked for.
        kind: BackendKind,
        /// Why it cannot run here.
        reason: String,
    },
    /// `NEMO_BACKEND` (or a string parsed as a backend) names no backend.
    #[error(
        "invalid backend {value:?}: valid values are \"uintr\", \"signal\", \"poll\" (or \"auto\")"
    )]
    InvalidBackend {
        /// The value that was given.
        value: String,
    },
    /// `NEMO_SIGNAL` names no usable real-time signal.
    #[error("invalid signal {value:?} for the signal backend: {reason}")]
    InvalidSignal {
        /// The value that was given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No real-time signal is free for the signal backend.
    #[error("no free real-time signal for the signal backend; set NEMO_SIGNAL")]
    NoFreeSignal,
    /// The action id names no registered action.
    #[error("unknown action {0}")]
    UnknownAction(ActionId),
    /// The target id names no registered target (never registered, or unregistered since).
    #[error("unknown target {0}")]
    UnknownTarget(TargetId),
    /// The target's mailbox is full; the message was not queued and comes back to the sender.
    #[error(
        "the mailbox of target {target} is full (action {action}, payload {payload:#x} returned)"
    )]
    MailboxFull {
        /// The target whose mailbox is full.
        target: TargetId,
        /// The action of the message that was not queued.
        action: ActionId,
        /// The payload of the message that was not queued.
        payload: u64,
    },
    /// The action table of the domain is full.
    #[error("the action descriptor table is full ({0} actions)")]
    ActionTableFull(usize),
    /// The target table of the domain is full.
    #[error("the target table is full ({0} targets)")]
    TargetTableFull(usize),
    /// A broadcast reached some targets but not all (their mailboxes were full or they went away).
    #[error("broadcast incomplete: {notified} targets notified, {failed} failed")]
    BroadcastIncomplete {
        /// Targets that got the message.
        notified: usize,
        /// Targets that did not.
        failed: usize,
    },
    /// A timer period is zero, or a period or delay does not fit the timer's clock.
    #[error("invalid timer period or delay {0:?} (a period must be non-zero)")]
    InvalidPeriod(std::time::Duration),
    /// The timer's source cannot do what was asked (the reason says why).
    #[error("unsupported timer operation: {0}")]
    TimerUnsupported(String),
    /// The timer core serving the timer has stopped.
    #[error("the timer core serving this timer has stopped")]
    TimerStopped,
    /// A condvar or event is being destroyed while some waiters have not been notified.
    #[error("condvar is busy: {waiters} waiter(s) have not been notified")]
    Busy {
        /// How many waiters had not been notified.
        waiters: u32,
    },
    /// A user-interrupt system call failed.
    #[error("user-interrupt call failed: {0}")]
    Uintr(#[from] uintr_sys::Error),
    /// An operating-system call failed with this errno.
    #[error("system call failed: {}", std::io::Error::from_raw_os_error(*.0))]
    Os(i32),
}

impl Error {
    /// The errno value a C caller would see for this error.
    ///
    /// ```
    /// use nemo_user::Error;
    /// assert_eq!(Error::ReceiverGone.errno(), libc::ESHUTDOWN);
    /// assert_eq!(Error::VectorOutOfRange(64).errno(), libc::EINVAL);
    /// ```
    pub fn errno(&self) -> i32 {
        match self {
            Error::VectorOutOfRange(_)
            | Error::VectorNotEnabled(_)
            | Error::InvalidBackend { .. }
            | Error::InvalidSignal { .. }
            | Error::UnknownAction(_)
            | Error::UnknownTarget(_)
            | Error::InvalidPeriod(_) => libc::EINVAL,
            Error::TimerUnsupported(_) => libc::ENOTSUP,
            Error::TimerStopped => libc::ESHUTDOWN,
            Error::AlreadyRegistered => libc::EBUSY,
            Error::ReceiverGone => libc::ESHUTDOWN,
            Error::ForeignProcess => libc::EXDEV,
            Error::BackendUnavailable { .. } => libc::ENOTSUP,
            Error::NoFreeSignal | Error::Busy { .. } => libc::EBUSY,
            Error::MailboxFull { .. } | Error::BroadcastIncomplete { .. } => libc::EAGAIN,
            Error::ActionTableFull(_) | Error::TargetTableFull(_) => libc::ENOSPC,
            Error::Uintr(e) => e.errno(),
            Error::Os(e) => *e,
        }
    }

    pub(crate) fn last_os_error() -> Error {
        Error::Os(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
    }
}
