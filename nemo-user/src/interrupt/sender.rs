//! [`Sender`]: the right to post one vector to one receiver.

use crate::error::Repr;
use std::sync::Arc;

use crate::error::Result;

use super::Vector;
use super::doorbell::Doorbell;
use super::endpoint::Endpoint;
use super::seam::{Route, Sent};
use super::shared::Shared;
use super::thread;

/// Posts one vector to one receiver. `Send + Sync`: any thread may call [`Sender::send`],
/// including from inside an interrupt handler (sending is async-signal-safe).
///
/// ```
/// use nemo_user::BackendKind;
/// use nemo_user::interrupt::Receiver;
///
/// let rx = Receiver::builder().backend(BackendKind::Poll).register(|_| {})?;
/// let e = rx.endpoint().connect(64).unwrap_err();
/// assert_eq!(e.kind(), nemo_user::ErrorKind::InvalidArgument);
/// assert_eq!(e.to_string(), "user-interrupt vector 64 is out of range (valid: 0..64)");
/// let tx = rx.endpoint().connect(63)?;
/// tx.send()?;
/// tx.send()?; // coalesces with the first
/// assert_eq!(rx.pending(), 1 << 63);
/// # Ok::<(), nemo_user::Error>(())
/// ```
pub struct Sender {
    shared: Arc<Shared>,
    vector: Vector,
    /// The backend's way to the receiver.
    route: Box<dyn Route>,
}

impl core::fmt::Debug for Sender {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sender")
            .field("vector", &self.vector.get())
            .field("endpoint", &Endpoint::new(self.shared.clone()))
            .finish()
    }
}

impl Sender {
    /// Connects to `vector` of the receiver behind `endpoint` ([`Endpoint::connect`]).
    pub(crate) fn connect(endpoint: &Endpoint, vector: u64) -> Result<Sender> {
        thread::init_process();
        let vector = Vector::new(vector).map_err(|_| Repr::VectorOutOfRange(vector))?;
        let shared = endpoint.shared().clone();
        let doorbell = shared.doorbell();
        if !doorbell.enabled(vector) {
            return Err(Repr::VectorNotEnabled(vector).into());
        }
        doorbell.enter()?;
        doorbell.leave();
        let route = shared.backend().connect(doorbell, vector)?;
        Ok(Sender {
            shared,
            vector,
            route,
        })
    }

    /// Posts the vector; the receiver's handler runs once for it, however many sends coalesce
    /// before it is delivered.
    ///
    /// Errors: [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone) once the receiver is dropped or its thread has exited;
    /// [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess) from a fork child when the receiver is not process-shared.
    #[inline]
    pub fn send(&self) -> Result<()> {
        let doorbell = self.shared.doorbell();
        doorbell.enter()?;
        let sent = self.route.send(doorbell, self.vector);
        doorbell.leave();
        // After `leave`: a handler that drops this very receiver must not wait for us.
        if sent? == Sent::NotifySelf {
            self.route.notify_self(self.vector);
        }
        Ok(())
    }

    /// Posts the vector for a caller that itself keeps the receiver from its final drain (the
    /// active-message target slot, whose drop waits for notifiers in flight before the receiver
    /// drains for the last time): where the backend notifies nobody (`poll`), posting is all a
    /// send does, and the doorbell's bracket (there to keep a signalled thread alive and to order
    /// sends before the final drain) is the caller's job; elsewhere this is [`Sender::send`].
    /// Also for a caller whose post may land after the final drain harmlessly (a scheduler's
    /// kick, wanted only while the worker still runs): the UPID it posts to stays allocated for
    /// as long as this sender lives, and nobody drains it any more.
    #[inline]
    pub(crate) fn post_held(&self) -> Result<()> {
        if self.route.notifies() {
            return self.send();
        }
        self.shared.doorbell().post_without_notifying(self.vector);
        Ok(())
    }

    /// Posts the vector without notifying the receiver and without marking a notification
    /// outstanding, inside the doorbell's bracket (so it fails once the receiver is gone, as
    /// [`Sender::send`] does): the receiver takes it at its next [`crate::poll`], or with the
    /// next notification, which the next send makes. For a timer that interrupts only
    /// receivers that do not poll (`timer/destination.rs`).
    #[inline]
    pub(crate) fn post_quietly(&self) -> Result<()> {
        let doorbell = self.shared.doorbell();
        doorbell.enter()?;
        doorbell.post_for_poll(self.vector);
        doorbell.leave();
        Ok(())
    }

    /// Whether a send notifies the receiver (`signal`, `uintr`), rather than only posting to a
    /// word it polls (`poll`).
    #[inline]
    pub(crate) fn notifies(&self) -> bool {
        self.route.notifies()
    }

    /// Whether this sender's vector is still pending at the receiver; `None` where the backend
    /// does not show pending vectors (`uintr`: the CPU keeps them).
    #[inline]
    pub(crate) fn is_pending(&self) -> Option<bool> {
        self.route
            .sees_pending()
            .then(|| self.shared.doorbell().pending() & self.vector.bit() != 0)
    }

    /// The receiver's doorbell (its identity, and its UPID's software words, for data that
    /// travels next to it).
    #[inline(always)]
    pub(crate) fn doorbell(&self) -> &Doorbell {
        self.shared.doorbell()
    }

    /// The endpoint this sender is connected to.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.shared.clone())
    }
}
