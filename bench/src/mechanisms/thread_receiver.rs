//! The receiving thread's side of the `nemo-user` mechanisms (`uintr`, `am_*`): the registration
//! that must live on that thread (a `Receiver` or an active-message `Target`, neither of which is
//! `Send`) and the arrivals its handler stamps.
//!
//! [`InterruptLink::register`](super::InterruptLink::register) runs on the receiver thread but
//! cannot hand anything back to it, so the registration is parked in a thread-local until
//! [`InterruptLink::unregister`](super::InterruptLink::unregister), on the same thread, takes it
//! out. The handler finds its [`Arrivals`] through a second, const-initialised thread-local
//! without a destructor: reading it is a plain TLS load, safe in a signal or user-interrupt
//! handler.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

use crate::arrival::Arrivals;

thread_local! {
    /// The arrivals the handler stamps on this thread (null: no registered receiver).
    static ARRIVALS: Cell<*const Arrivals> = const { Cell::new(std::ptr::null()) };
    /// What keeps the registration (and the arrivals it stamps) alive on this thread.
    static KEPT: RefCell<Option<Kept>> = const { RefCell::new(None) };
}

struct Kept {
    /// Dropping it may run the handler a last time (a final drain): declared first, it drops
    /// before the arrivals.
    registration: Box<dyn Any>,
    arrivals: Arc<Arrivals>,
}

/// Stamps an arrival on this thread's arrivals, if it has a receiver. Async-signal-safe: a TLS
/// load, a clock read and two atomic stores.
#[inline(always)]
pub fn stamp() {
    let arrivals = ARRIVALS.with(Cell::get);
    if !arrivals.is_null() {
        // SAFETY: `register` stores a pointer into an `Arc` kept in `KEPT` on this thread, and
        // `unregister` clears the pointer (after dropping the registration, so after the last
        // handler call) before it releases that `Arc`. A handler runs on this thread only.
        unsafe { (*arrivals).stamp() };
    }
}

/// Registers the calling thread with `make` (which may deliver at once, so the arrivals are
/// reachable before it runs) and keeps the registration here until [`unregister`]. Errors if the
/// thread already holds one, or with `make`'s reason.
pub fn register<R: Any>(
    arrivals: Arc<Arrivals>,
    make: impl FnOnce() -> Result<R, String>,
) -> Result<(), String> {
    if KEPT.with(|k| k.borrow().is_some()) {
        return Err("this thread already has a registered receiver".to_string());
    }
    ARRIVALS.with(|a| a.set(Arc::as_ptr(&arrivals)));
    match make() {
        Ok(registration) => {
            KEPT.with(|k| {
                *k.borrow_mut() = Some(Kept {
                    registration: Box::new(registration),
                    arrivals,
                })
            });
            Ok(())
        }
        Err(why) => {
            ARRIVALS.with(|a| a.set(std::ptr::null()));
            Err(why)
        }
    }
}

/// Drops the calling thread's registration (its final drain still stamps), then forgets the
/// arrivals. Nothing if the thread has none.
pub fn unregister() {
    let kept = KEPT.with(|k| k.borrow_mut().take());
    if let Some(Kept {
        registration,
        arrivals,
    }) = kept
    {
        drop(registration);
        ARRIVALS.with(|a| a.set(std::ptr::null()));
        drop(arrivals);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    struct StampsOnDrop;

    impl Drop for StampsOnDrop {
        fn drop(&mut self) {
            stamp();
        }
    }

    #[test]
    fn stamps_only_while_registered_and_through_the_final_drop() {
        let arrivals = Arc::new(Arrivals::new(Clock::monotonic(), 4));
        stamp();
        assert_eq!(arrivals.count(), 0, "no receiver: nothing stamped");
        register(arrivals.clone(), || Ok(StampsOnDrop)).expect("first registration");
        assert!(
            register(arrivals.clone(), || Ok(())).is_err(),
            "one per thread"
        );
        stamp();
        assert_eq!(arrivals.count(), 1);
        unregister();
        assert_eq!(arrivals.count(), 2, "the registration's drop still stamps");
        stamp();
        assert_eq!(arrivals.count(), 2, "unregistered: nothing stamped");
        unregister();
    }

    #[test]
    fn a_failed_registration_leaves_nothing_behind() {
        let arrivals = Arc::new(Arrivals::new(Clock::monotonic(), 1));
        let e = register(arrivals.clone(), || Err::<(), _>("refused".to_string()));
        assert_eq!(e, Err("refused".to_string()));
        stamp();
        assert_eq!(arrivals.count(), 0);
        register(arrivals.clone(), || Ok(())).expect("the thread is free again");
        unregister();
        assert_eq!(
            Arc::strong_count(&arrivals),
            1,
            "the arrivals were released"
        );
    }
}
