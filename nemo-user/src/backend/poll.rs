//! The `poll` backend: a software UPID that the receiver drains at explicit safepoints.
//!
//! Senders post to the receiver's UPID ([`uintr_sys::Upid::post`]) and notify nobody; the
//! receiving thread calls [`poll()`] where it is safe to run handlers (a scheduler loop, between
//! tasks); the drop of the outermost [`Guard`](crate::interrupt::Guard) is a safepoint too. No
//! signal, no syscall on either side: the cheapest backend, and handlers may do
//! anything, at the price of latency bounded by the polling interval and of a receiver that is
//! never reached while it blocks.

use core::sync::atomic::Ordering::Relaxed;

use uintr_sys::Vector;

use crate::error::Result;
use crate::interrupt::delivery::drain;
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::seam::{Backend, Route, Sent};
use crate::interrupt::thread;

/// The receiver-side half: nothing beyond the doorbell.
pub(crate) struct Polled;

impl Backend for Polled {
    fn connect(&self, _: &Doorbell, _: Vector) -> Result<Box<dyn Route>> {
        Ok(Box::new(Post))
    }
}

/// A sender's half: post, notify nobody.
struct Post;

impl Route for Post {
    #[inline]
    fn send(&self, doorbell: &Doorbell, vector: Vector) -> Result<Sent> {
        doorbell.post_without_notifying(vector);
        Ok(Sent::Done)
    }

    fn notify_self(&self, _: Vector) {}

    fn notifies(&self) -> bool {
        false
    }
}

/// A safepoint: runs the handler of this thread's receiver for every pending vector, highest
/// first, and returns how many handler calls ran.
///
/// Works with every backend (on `signal` it delivers early what a signal would; on `uintr` it
/// delivers only vectors deferred by a guard). Inside a [`Guard`](crate::interrupt::Guard) or a
/// handler it delivers nothing and leaves the work to the guard's drop. Without a receiver it
/// returns 0. Costs one load when nothing is pending.
///
/// ```
/// use nemo_user::BackendKind;
/// use nemo_user::interrupt::Receiver;
///
/// let rx = Receiver::builder().backend(BackendKind::Poll).register(|v| println!("vector {}", v.get()))?;
/// let (a, b) = (rx.endpoint().connect(2)?, rx.endpoint().connect(40)?);
/// a.send()?;
/// b.send()?;
/// assert_eq!(nemo_user::poll(), 2); // prints 40, then 2
/// assert_eq!(nemo_user::poll(), 0);
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[inline]
pub fn poll() -> usize {
    thread::with(|ts| {
        let local = ts.receiver.load(Relaxed);
        if local.is_null() {
            return 0;
        }
        // SAFETY: the thread's registered receiver is live while the pointer is set.
        if unsafe { &*local }.shared.doorbell().pending() == 0 {
            return 0;
        }
        if ts.depth.load(Relaxed) != 0 {
            ts.deferred.store(true, Relaxed);
            return 0;
        }
        // SAFETY: live and ours.
        unsafe { drain(ts, local, true) }
    })
}
