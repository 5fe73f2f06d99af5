//! The backend seam: what differs between `uintr`, `signal` and `poll`, behind two traits.
//!
//! Everything else about a receiver — the doorbell and its send bracket ([`Doorbell`]), the
//! per-thread delivery state, the delivery loop, guards — is one code path for every backend.
//! A backend is what implements these traits (in [`crate::backend`]); the interrupt core owns
//! the objects ([`Shared`](super::shared::Shared) owns a receiver's [`Backend`], a
//! [`Sender`](super::Sender) its [`Route`]) and never names a backend. The arrows run one way:
//! backends use the core, the core calls them only through these traits.
//!
//! What each method must guarantee is the part of the interrupt semantics (see
//! [`crate::interrupt`]) that the backend provides: a send posts the vector so that it is
//! delivered exactly once, coalescing with a pending one; a notification never reaches a thread
//! that is not the receiver's (the doorbell's send bracket keeps the receiver's thread alive
//! while [`Route::send`] runs).

use uintr_sys::Vector;

use crate::error::Result;

use super::doorbell::Doorbell;

/// A backend's receiver-side half, made when a receiver registers and owned by its shared state.
pub(crate) trait Backend: Send + Sync + 'static {
    /// A sender's way to `vector` of this receiver; `doorbell` is the receiver's.
    fn connect(&self, doorbell: &Doorbell, vector: Vector) -> Result<Box<dyn Route>>;

    /// On the receiver's thread, right after the receiver became reachable from handlers (the
    /// thread's `receiver` pointer is set): start delivering.
    fn activate(&self) {}

    /// On the receiver's thread when the receiver goes (dropped, or its thread exits): stop
    /// delivering through this backend's own entry. Idempotent.
    fn deactivate(&self) {}
}

/// What a send left to do after the doorbell's send bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Posted, and the receiver notified if it had to be.
    Done,
    /// The receiver is the sending thread: call [`Route::notify_self`] once the bracket is left
    /// (a handler that drops that receiver must not wait for this very send).
    NotifySelf,
}

/// A backend's sender-side half: one per connected [`Sender`](super::Sender).
pub(crate) trait Route: Send + Sync {
    /// Posts `vector` to the receiver behind `doorbell` and notifies it as this backend does.
    /// Called inside the doorbell's send bracket ([`Doorbell::enter`] / [`Doorbell::leave`]).
    fn send(&self, doorbell: &Doorbell, vector: Vector) -> Result<Sent>;

    /// The notification deferred by [`Sent::NotifySelf`], outside the bracket.
    fn notify_self(&self, vector: Vector);

    /// Whether a send notifies anybody. A route that does not (`poll`) only posts, so a caller
    /// that itself keeps the receiver from its final drain may post without the bracket
    /// ([`Sender::post_held`](super::Sender::post_held)).
    fn notifies(&self) -> bool {
        true
    }

    /// Whether the receiver's pending vectors are visible in the doorbell's UPID (on `uintr`
    /// the CPU keeps them; only guard-deferred ones are there).
    fn sees_pending(&self) -> bool {
        true
    }
}
