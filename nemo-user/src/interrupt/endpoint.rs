//! [`Endpoint`]: what senders connect to (the analogue of UINTR's vector file descriptor).

use std::sync::Arc;

use super::kind::BackendKind;
use crate::error::Result;

use super::Sender;
use super::shared::Shared;

/// A handle on a [`Receiver`](super::Receiver) that other threads connect [`Sender`]s to.
///
/// Cheap to clone, `Send + Sync`, and it never keeps the receiver alive: once the receiver is
/// dropped (or its thread exits), connecting and sending fail with
/// [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone). An endpoint inherited by a fork child
/// reaches the parent's receiver only if that receiver was registered
/// [`process_shared`](super::ReceiverBuilder::process_shared).
#[derive(Clone)]
pub struct Endpoint {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let c = self.shared.doorbell();
        f.debug_struct("Endpoint")
            .field("backend", &c.kind())
            .field("pid", &c.pid)
            .field("tid", &c.tid)
            .field("alive", &c.is_alive())
            .field("process_shared", &c.process_shared)
            .finish()
    }
}

impl Endpoint {
    pub(crate) fn new(shared: Arc<Shared>) -> Endpoint {
        Endpoint { shared }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Connects a sender of `vector` to the receiver behind this endpoint.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (vector out of range) (≥ 64),
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (vector not enabled),
    /// [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone),
    /// [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess); on `uintr`, the kernel's errors
    /// (e.g. a full target table).
    pub fn connect(&self, vector: u64) -> Result<Sender> {
        Sender::connect(self, vector)
    }

    /// The receiver's backend.
    pub fn backend(&self) -> BackendKind {
        self.shared.doorbell().kind()
    }

    /// Whether the receiver is still registered. (It may go away right after this returns; a
    /// send then fails cleanly.)
    pub fn is_alive(&self) -> bool {
        self.shared.doorbell().is_alive()
    }

    /// The receiver's process id.
    pub(crate) fn pid(&self) -> libc::pid_t {
        self.shared.doorbell().pid
    }
}

/// Two endpoints are equal when they lead to the same receiver.
impl PartialEq for Endpoint {
    fn eq(&self, other: &Endpoint) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Eq for Endpoint {}
