//! Typed errors of the crate: condvars, the interrupt core, the backends, active messages and
//! timers share this one type.
//!
//! Every failure a caller can provoke (a vector out of range, a receiver that has gone, a full
//! mailbox, a backend that this machine cannot run) is an [`Error`], never a panic. Like
//! `std::io::Error`, it is opaque: [`Error::kind`] says what went wrong in a form to branch on
//! ([`ErrorKind`]), its `Display` says it in full (with the values involved), [`Error::errno`]
//! gives the value a C caller sees for it, and the two errors that hand data back to the caller
//! have an accessor for it ([`Error::returned_payload`], [`Error::notified`]).
//!
//! Inside the crate the cases are the variants of [`Repr`]; an `Err(Repr::X)` becomes an
//! [`Error`] through `?` or `.into()`.

use uintr_sys::Vector;

use crate::am::ids::{ActionId, TargetId};
use crate::interrupt::kind::BackendKind;

/// Result alias for this crate's API.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// The cases of an [`Error`], with the values its message names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Repr {
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
    /// A `timespec` deadline whose nanoseconds are outside `0..1e9`.
    #[error("invalid timespec: tv_nsec = {nsec} is outside 0..1_000_000_000")]
    InvalidTimespec {
        /// The offending `tv_nsec`.
        nsec: i64,
    },
    /// A `clockid_t` that is neither `CLOCK_REALTIME` nor `CLOCK_MONOTONIC`.
    #[error("unsupported clock id {0} (valid: CLOCK_REALTIME, CLOCK_MONOTONIC)")]
    InvalidClock(libc::clockid_t),
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
    /// A runtime was asked for with no workers (`sched::Builder::workers(0)`).
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    #[error("a runtime needs at least one worker")]
    NoWorkers,
    /// A worker index past the last worker of a runtime.
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    #[error("no worker {index}: the runtime has {workers}")]
    NoSuchWorker {
        /// The index asked for.
        index: usize,
        /// How many workers there are.
        workers: usize,
    },
    /// A thread could not be spawned (the errno of `clone`, or `EIO` if it died starting).
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    #[error("spawning a thread: {}", std::io::Error::from_raw_os_error(*.0))]
    Spawn(i32),
    /// A task's stack could not be mapped, so the task never ran.
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    #[error("the task's stack could not be allocated: {}", std::io::Error::from_raw_os_error(*.0))]
    Stack(i32),
    /// A user-interrupt system call failed.
    #[error("user-interrupt call failed: {0}")]
    Uintr(#[from] uintr_sys::Error),
    /// An operating-system call failed with this errno.
    #[error("system call failed: {}", std::io::Error::from_raw_os_error(*.0))]
    Os(i32),
}

/// What went wrong, as a caller branches on it: the kind of an [`Error`] ([`Error::kind`]).
///
/// New kinds may be added; the error's message says more than its kind (the values involved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument the call cannot use: a vector out of `0..64` or not enabled on the
    /// receiver, an action id the domain does not have, a zero timer period or one that does
    /// not fit the timer's clock, a `timespec` whose `tv_nsec` is outside `0..1e9`, a clock id
    /// other than `CLOCK_REALTIME` and `CLOCK_MONOTONIC`, a runtime of zero workers or a worker
    /// index it does not have. `EINVAL`.
    InvalidArgument,
    /// `NEMO_BACKEND` or `NEMO_SIGNAL` (or a string parsed as a backend) has a value that names
    /// no backend or no usable real-time signal. `EINVAL`.
    InvalidConfig,
    /// The calling thread already has a receiver: one receiver per thread. `EBUSY`.
    AlreadyRegistered,
    /// The receiver was dropped, or its thread exited. `ESHUTDOWN`.
    ReceiverGone,
    /// The endpoint belongs to a receiver in another process (a fork parent) and was not
    /// created process-shared, so nothing sent from here could reach it. `EXDEV`.
    ForeignProcess,
    /// This machine, kernel or timer cannot do it: a backend that cannot run here, a timer
    /// operation its source does not support (the message says why). `ENOTSUP`.
    Unsupported,
    /// A fixed-size table is full: a domain's actions (`ENOSPC`) or targets (`ENOSPC`), or the
    /// real-time signals the `signal` backend may use (`EBUSY`; set `NEMO_SIGNAL`).
    ResourceExhausted,
    /// The target id names no registered target (never registered, or unregistered since).
    /// `EINVAL`.
    UnknownTarget,
    /// The target's mailbox is full: the message was not queued and comes back to the sender
    /// ([`Error::returned_payload`]). `EAGAIN`.
    MailboxFull,
    /// A broadcast reached some targets but not all (their mailboxes were full or they went
    /// away); [`Error::notified`] says how many it reached. `EAGAIN`.
    BroadcastIncomplete,
    /// The timer core serving the timer has stopped. `ESHUTDOWN`.
    TimerStopped,
    /// A condvar or event is being destroyed while some waiters have not been notified.
    /// `EBUSY`.
    Busy,
    /// A system call (a user-interrupt one included) failed, for example while spawning a
    /// runtime's thread or mapping a task's stack; [`Error::errno`] is its errno.
    Os,
}

/// What went wrong: an [`ErrorKind`] to branch on, a message with the details, an errno.
///
/// ```
/// use nemo_user::{ErrorKind, interrupt::Receiver};
///
/// let rx = Receiver::builder().register(|_| {})?;
/// let e = rx.endpoint().connect(64).unwrap_err();
/// assert_eq!(e.kind(), ErrorKind::InvalidArgument);
/// assert_eq!(e.errno(), libc::EINVAL);
/// assert_eq!(e.to_string(), "user-interrupt vector 64 is out of range (valid: 0..64)");
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error(Repr);

impl Error {
    /// What went wrong, to branch on.
    pub fn kind(&self) -> ErrorKind {
        match &self.0 {
            Repr::VectorOutOfRange(_)
            | Repr::VectorNotEnabled(_)
            | Repr::UnknownAction(_)
            | Repr::InvalidTimespec { .. }
            | Repr::InvalidClock(_)
            | Repr::InvalidPeriod(_)
            | Repr::NoWorkers
            | Repr::NoSuchWorker { .. } => ErrorKind::InvalidArgument,
            Repr::InvalidBackend { .. } | Repr::InvalidSignal { .. } => ErrorKind::InvalidConfig,
            Repr::AlreadyRegistered => ErrorKind::AlreadyRegistered,
            Repr::ReceiverGone => ErrorKind::ReceiverGone,
            Repr::ForeignProcess => ErrorKind::ForeignProcess,
            Repr::BackendUnavailable { .. } | Repr::TimerUnsupported(_) => ErrorKind::Unsupported,
            Repr::NoFreeSignal | Repr::ActionTableFull(_) | Repr::TargetTableFull(_) => {
                ErrorKind::ResourceExhausted
            }
            Repr::UnknownTarget(_) => ErrorKind::UnknownTarget,
            Repr::MailboxFull { .. } => ErrorKind::MailboxFull,
            Repr::BroadcastIncomplete { .. } => ErrorKind::BroadcastIncomplete,
            Repr::TimerStopped => ErrorKind::TimerStopped,
            Repr::Busy { .. } => ErrorKind::Busy,
            Repr::Uintr(_) | Repr::Os(_) | Repr::Spawn(_) | Repr::Stack(_) => ErrorKind::Os,
        }
    }

    /// The errno value a C caller would see for this error.
    ///
    /// ```
    /// use nemo_user::interrupt::Receiver;
    ///
    /// let rx = Receiver::builder().register(|_| {})?;
    /// let ep = rx.endpoint();
    /// assert_eq!(ep.connect(64).unwrap_err().errno(), libc::EINVAL);
    /// drop(rx);
    /// assert_eq!(ep.connect(1).unwrap_err().errno(), libc::ESHUTDOWN);
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn errno(&self) -> i32 {
        match &self.0 {
            Repr::VectorOutOfRange(_)
            | Repr::VectorNotEnabled(_)
            | Repr::InvalidBackend { .. }
            | Repr::InvalidSignal { .. }
            | Repr::UnknownAction(_)
            | Repr::UnknownTarget(_)
            | Repr::InvalidTimespec { .. }
            | Repr::InvalidClock(_)
            | Repr::InvalidPeriod(_)
            | Repr::NoWorkers
            | Repr::NoSuchWorker { .. } => libc::EINVAL,
            Repr::TimerUnsupported(_) => libc::ENOTSUP,
            Repr::TimerStopped => libc::ESHUTDOWN,
            Repr::AlreadyRegistered => libc::EBUSY,
            Repr::ReceiverGone => libc::ESHUTDOWN,
            Repr::ForeignProcess => libc::EXDEV,
            Repr::BackendUnavailable { .. } => libc::ENOTSUP,
            Repr::NoFreeSignal | Repr::Busy { .. } => libc::EBUSY,
            Repr::MailboxFull { .. } | Repr::BroadcastIncomplete { .. } => libc::EAGAIN,
            Repr::ActionTableFull(_) | Repr::TargetTableFull(_) => libc::ENOSPC,
            Repr::Uintr(e) => e.errno(),
            Repr::Os(e) | Repr::Spawn(e) | Repr::Stack(e) => *e,
        }
    }

    /// The payload of the message a full mailbox refused ([`ErrorKind::MailboxFull`]): it was
    /// not queued, and comes back to the sender. `None` for every other error.
    pub fn returned_payload(&self) -> Option<u64> {
        match self.0 {
            Repr::MailboxFull { payload, .. } => Some(payload),
            _ => None,
        }
    }

    /// How many targets an incomplete broadcast reached ([`ErrorKind::BroadcastIncomplete`]).
    /// `None` for every other error.
    pub fn notified(&self) -> Option<usize> {
        match self.0 {
            Repr::BroadcastIncomplete { notified, .. } => Some(notified),
            _ => None,
        }
    }

    /// The case, for code inside the crate that tells cases apart more finely than
    /// [`ErrorKind`].
    pub(crate) fn repr(&self) -> &Repr {
        &self.0
    }

    pub(crate) fn last_os_error() -> Error {
        Repr::Os(
            std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EIO),
        )
        .into()
    }
}

impl From<Repr> for Error {
    #[inline]
    fn from(repr: Repr) -> Error {
        Error(repr)
    }
}

impl From<uintr_sys::Error> for Error {
    fn from(e: uintr_sys::Error) -> Error {
        Error(Repr::Uintr(e))
    }
}

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_errnos_and_messages() {
        let t = TargetId::from(7u32);
        let a = ActionId::from(3u32);
        let cases: [(Repr, ErrorKind, i32); 8] = [
            (
                Repr::VectorOutOfRange(64),
                ErrorKind::InvalidArgument,
                libc::EINVAL,
            ),
            (
                Repr::UnknownTarget(t),
                ErrorKind::UnknownTarget,
                libc::EINVAL,
            ),
            (
                Repr::ActionTableFull(2),
                ErrorKind::ResourceExhausted,
                libc::ENOSPC,
            ),
            (
                Repr::NoFreeSignal,
                ErrorKind::ResourceExhausted,
                libc::EBUSY,
            ),
            (Repr::Busy { waiters: 2 }, ErrorKind::Busy, libc::EBUSY),
            (Repr::Os(libc::ENOBUFS), ErrorKind::Os, libc::ENOBUFS),
            (
                Repr::MailboxFull {
                    target: t,
                    action: a,
                    payload: 0x2a,
                },
                ErrorKind::MailboxFull,
                libc::EAGAIN,
            ),
            (
                Repr::BroadcastIncomplete {
                    notified: 3,
                    failed: 1,
                },
                ErrorKind::BroadcastIncomplete,
                libc::EAGAIN,
            ),
        ];
        for (repr, kind, errno) in cases {
            let message = repr.to_string();
            let e = Error::from(repr);
            assert_eq!((e.kind(), e.errno()), (kind, errno), "{e:?}");
            assert_eq!(e.to_string(), message);
        }
        let full = Error::from(Repr::MailboxFull {
            target: t,
            action: a,
            payload: 0x2a,
        });
        assert_eq!(full.returned_payload(), Some(0x2a));
        assert_eq!(full.notified(), None);
        assert!(full.to_string().contains("payload 0x2a returned"));
        let partial = Error::from(Repr::BroadcastIncomplete {
            notified: 3,
            failed: 1,
        });
        assert_eq!(partial.notified(), Some(3));
        assert_eq!(partial.returned_payload(), None);
    }
}
