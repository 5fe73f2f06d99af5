//! [`Guard`]: a critical section that user interrupts do not enter.

use core::marker::PhantomData;
use core::sync::atomic::Ordering::Relaxed;

use super::delivery::drain;
use super::flag::set_uif;
use super::thread;

/// While a guard lives, no handler runs on this thread; what arrives meanwhile is delivered when
/// the outermost guard is dropped (nothing is lost, nothing is delivered twice).
///
/// Guards nest and are cheap: on `uintr` the outermost one executes `clui` / `stui` (2 and ~32
/// cycles); elsewhere they bump a per-thread counter, and a notification that lands inside
/// sets a per-thread flag that the drop checks. The drop of the outermost guard delivers
/// everything that became pending under it, on every backend (on `poll` it is a safepoint). A guard works whether or not the thread has a
/// receiver (one registered inside the guard is deferred too). Not `Send`: it belongs to the
/// thread that made it.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use nemo_user::BackendKind;
/// use nemo_user::interrupt::{Guard, Receiver};
///
/// let hits = Rc::new(Cell::new(0));
/// let h = hits.clone();
/// let rx = Receiver::builder().backend(BackendKind::Poll).register(move |_| h.set(h.get() + 1))?;
/// let tx = rx.endpoint().connect(1)?;
/// {
///     let _g = Guard::new();
///     tx.send()?;
///     assert_eq!(nemo_user::poll(), 0); // deferred
///     assert_eq!(hits.get(), 0);
/// } // delivered here
/// assert_eq!(hits.get(), 1);
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[must_use = "a guard defers interrupts only while it is alive"]
#[derive(Debug)]
pub struct Guard {
    _owned_by_thread: PhantomData<*const ()>,
}

impl Guard {
    /// Defers user-interrupt delivery on this thread until the guard is dropped.
    #[inline]
    pub fn new() -> Guard {
        thread::with(|ts| {
            // `clui` first: an interrupt between it and the counter update must not find the
            // counter raised while UIF is still set.
            if ts.depth.load(Relaxed) == 0 {
                set_uif(ts, false);
            }
            ts.enter();
        });
        Guard {
            _owned_by_thread: PhantomData,
        }
    }

    /// Whether delivery is currently deferred on this thread (a guard is held or a handler runs).
    pub fn is_held() -> bool {
        thread::with(|ts| ts.depth.load(Relaxed) != 0)
    }
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new()
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        thread::with(|ts| {
            if ts.leave() != 0 {
                return;
            }
            // A notification landing from here on finds depth 0 and delivers by itself; one that
            // landed before set `deferred`, and on `poll` a posted vector is enough. Whoever gets
            // there first, `take` hands each vector out once.
            let local = ts.receiver.load(Relaxed);
            if local.is_null() {
                ts.deferred.store(false, Relaxed);
            } else if ts.deferred.load(Relaxed)
                // SAFETY: the thread's registered receiver is live while the pointer is set.
                || unsafe { &*local }.shared.doorbell().upid.pir() != 0
            {
                // SAFETY: the thread's registered receiver, on its own thread.
                unsafe { drain(ts, local, true) };
            }
            set_uif(ts, true);
        });
    }
}
