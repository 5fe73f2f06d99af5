//! Delivery: taking posted vectors and running the handler, highest vector first, exactly once.
//!
//! The one loop here serves every backend: the `signal` backend's signal handler, the `poll`
//! backend's safepoints, a guard's drop, a receiver's final drain, and (for vectors the CPU
//! delivered while a guard was held) the `uintr` backend.
//!
//! Exactly once: vectors leave the UPID only through [`Upid::take`] or [`Upid::take_lazily`],
//! whose only write to PIR is an atomic swap, so two activations (say a guard's drop and a signal
//! landing in it) can never both see a vector; and [`Upid::post`] and the takes are lossless, so
//! a vector posted after the last take either finds `ON` clear and notifies again, or finds a
//! notification outstanding whose delivery takes it.
//!
//! No re-entrancy: a handler runs with the thread's `depth` raised, so a notification that lands
//! inside it is deferred, and a handler never runs inside itself (hence `FnMut`).
//!
//! A handler may drop its own receiver (it might own it through a thread-local): the drop then
//! only marks the receiver orphaned, and the activation that called the handler frees it after
//! the handler has returned.

use core::sync::atomic::Ordering::Relaxed;

use uintr_sys::Vector;

use super::local::Local;
use super::process::current_pid;
use super::thread::{ThreadState, signal_fence};

/// Calls the handler. `extern "C"`, so a panicking handler aborts the process instead of
/// unwinding through a signal frame or the user-interrupt trampoline.
extern "C" fn invoke(local: *mut Local, vector: u8) {
    // SAFETY: `local` is live (callers hold it through the thread's receiver pointer or own it),
    // this runs on the owning thread, and delivery is never re-entrant (see the module docs), so
    // this is the only reference to the handler.
    let handler = unsafe { &mut *(*local).handler.get() };
    if let Ok(v) = Vector::new(vector as u64) {
        handler(v);
    }
}

/// What became of a receiver after one handler call.
enum After {
    Continue,
    /// Dropped by its handler: stop delivering (and it has been freed if this was the last
    /// activation).
    Gone,
}

/// Runs the handler for one vector, with the activation count that makes a drop from inside it
/// safe.
///
/// # Safety
/// `local` is live and belongs to the calling thread, and the thread's `depth` is raised.
unsafe fn call(local: *mut Local, vector: Vector) -> After {
    // SAFETY: live per the caller.
    let l = unsafe { &*local };
    signal_fence();
    l.active.store(l.active.load(Relaxed) + 1, Relaxed);
    signal_fence();
    invoke(local, vector.get());
    signal_fence();
    let left = l.active.load(Relaxed) - 1;
    l.active.store(left, Relaxed);
    signal_fence();
    if l.orphaned.load(Relaxed) {
        if left == 0 {
            // SAFETY: the receiver was dropped (it gave up ownership by setting `orphaned`) and
            // no other activation refers to `local`; it came from `Box::into_raw`.
            drop(unsafe { Box::from_raw(local) });
        }
        return After::Gone;
    }
    After::Continue
}

/// Delivers everything pending on `local`'s UPID, highest vector first, re-reading the UPID
/// after every handler call so a higher vector posted meanwhile overtakes lower pending ones.
/// With `follow_deferred`, also picks up notifications that were deferred while it ran (the
/// caller is bringing `depth` back to zero). Returns the number of handler calls.
///
/// # Safety
/// `local` is live and belongs to the calling thread.
pub(crate) unsafe fn drain(ts: &ThreadState, local: *mut Local, follow_deferred: bool) -> usize {
    let pid = current_pid();
    let mut calls = 0;
    loop {
        ts.deferred.store(false, Relaxed);
        ts.enter();
        // SAFETY: live per the caller until `call` reports it gone.
        let upid = &unsafe { &*local }.shared.doorbell().upid;
        let mut pending = 0u64;
        let mut gone = false;
        loop {
            // Lazily: after each handler this usually finds nothing, and a polled UPID never
            // has ON set; loads instead of locked RMWs on the line senders are writing.
            pending |= upid.take_lazily();
            let Some(v) = Vector::highest(pending) else {
                break;
            };
            pending &= !v.bit();
            calls += 1;
            // SAFETY: live and ours per the caller; `depth` is raised.
            if let After::Gone = unsafe { call(local, v) } {
                gone = true;
                break;
            }
            if current_pid() != pid {
                // The handler forked and this is the child: what is pending is the parent's.
                gone = true;
                break;
            }
        }
        ts.leave();
        if gone
            || !follow_deferred
            || !ts.deferred.load(Relaxed)
            || ts.receiver.load(Relaxed) != local
        {
            return calls;
        }
    }
}

/// Delivers one vector that the CPU handed over (the `uintr` backend), or defers it into the
/// receiver's software UPID if a guard is held.
///
/// # Safety
/// Runs on the receiver's thread, in its user-interrupt handler.
pub(crate) unsafe fn deliver_one(ts: &ThreadState, vector: Vector) {
    let local = ts.receiver.load(Relaxed);
    if local.is_null() {
        return;
    }
    // SAFETY: the thread's registered receiver is live while the pointer is set.
    let core = unsafe { &*local }.shared.doorbell();
    if ts.depth.load(Relaxed) != 0 {
        core.upid.post(vector);
        ts.deferred.store(true, Relaxed);
        return;
    }
    ts.enter();
    // SAFETY: live and ours; `depth` is raised.
    let after = unsafe { call(local, vector) };
    ts.leave();
    if let After::Continue = after
        && ts.deferred.load(Relaxed)
    {
        // SAFETY: still registered (not gone), on its own thread.
        unsafe { drain(ts, local, true) };
    }
}
