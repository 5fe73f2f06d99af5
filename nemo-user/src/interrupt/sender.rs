//! [`Sender`]: the right to post one vector to one receiver.

use std::sync::Arc;

use crate::backend::{self, BackendKind};
use crate::error::{Error, Result};

use super::Vector;
use super::endpoint::Endpoint;
use super::shared::Shared;
use super::thread::{self, current_pid};

/// Posts one vector to one receiver. `Send + Sync`: any thread may call [`Sender::send`],
/// including from inside an interrupt handler (sending is async-signal-safe).
///
/// ```
/// use nemo_user::backend::BackendKind;
/// use nemo_user::interrupt::{Receiver, Sender};
///
/// let rx = Receiver::builder().backend(BackendKind::Poll).register(|_| {})?;
/// assert!(matches!(Sender::connect(&rx.endpoint(), 64), Err(nemo_user::Error::VectorOutOfRange(64))));
/// let tx = rx.endpoint().connect(63)?;
/// tx.send()?;
/// tx.send()?; // coalesces with the first
/// assert_eq!(rx.pending(), 1 << 63);
/// # Ok::<(), nemo_user::Error>(())
/// ```
pub struct Sender {
    shared: Arc<Shared>,
    vector: Vector,
    uintr: Option<backend::uintr::Target>,
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
    /// Connects to `vector` of the receiver behind `endpoint`.
    ///
    /// Errors: [`Error::VectorOutOfRange`] (≥ 64), [`Error::VectorNotEnabled`],
    /// [`Error::ReceiverGone`], [`Error::ForeignProcess`]; on `uintr`, the kernel's errors
    /// (e.g. a full target table).
    pub fn connect(endpoint: &Endpoint, vector: u64) -> Result<Sender> {
        thread::init_process();
        let vector = Vector::new(vector).map_err(|_| Error::VectorOutOfRange(vector))?;
        let shared = endpoint.shared().clone();
        let core = shared.core();
        if !core.enabled(vector) {
            return Err(Error::VectorNotEnabled(vector));
        }
        core.enter()?;
        core.leave();
        let uintr = match core.kind() {
            BackendKind::Uintr => Some(backend::uintr::Target::connect(&shared, vector)?),
            BackendKind::Signal | BackendKind::Poll => None,
        };
        Ok(Sender {
            shared,
            vector,
            uintr,
        })
    }

    /// Posts the vector; the receiver's handler runs once for it, however many sends coalesce
    /// before it is delivered.
    ///
    /// Errors: [`Error::ReceiverGone`] once the receiver is dropped or its thread has exited;
    /// [`Error::ForeignProcess`] from a fork child when the receiver is not process-shared.
    #[inline]
    pub fn send(&self) -> Result<()> {
        let core = self.shared.core();
        core.enter()?;
        let mut to_self = false;
        let mut uintr_to_self = None;
        let result = match core.kind() {
            BackendKind::Poll => {
                core.upid.post(self.vector);
                Ok(())
            }
            BackendKind::Signal => {
                if core.upid.post(self.vector) == uintr_sys::PostOutcome::Notify {
                    if core.pid == current_pid() && core.tid == thread::with(|t| t.tid()) {
                        to_self = true;
                        Ok(())
                    } else {
                        backend::signal::notify(core)
                    }
                } else {
                    Ok(())
                }
            }
            BackendKind::Uintr => match &self.uintr {
                Some(t) => t.send(core).map(|me| {
                    if me {
                        uintr_to_self = Some(t);
                    }
                }),
                None => Err(Error::ReceiverGone),
            },
        };
        core.leave();
        // After `leave`: a handler that drops this very receiver must not wait for us.
        if to_self {
            backend::signal::notify_self();
        }
        if let Some(t) = uintr_to_self {
            t.notify_self();
        }
        result
    }

    /// The vector this sender posts.
    pub fn vector(&self) -> Vector {
        self.vector
    }

    /// The endpoint this sender is connected to.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.shared.clone())
    }

    /// Whether the receiver is still registered.
    pub fn is_alive(&self) -> bool {
        self.shared.core().is_alive()
    }
}
