//! `pthread_cond`: glibc's condition variable with a pthread mutex and a predicate, exactly as a
//! user writes it — the anchor every ratio is taken against.

use std::cell::UnsafeCell;
use std::ffi::c_int;

use libc::{pthread_cond_t, pthread_condattr_t, pthread_mutex_t};

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// glibc `pthread_cond_signal`/`_broadcast` + `pthread_cond_wait`.
pub struct PthreadCond;

impl Driver for PthreadCond {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(CondEvent::new(&GLIBC)?)))
    }
}

type InitFn = unsafe extern "C" fn(*mut pthread_cond_t, *const pthread_condattr_t) -> c_int;
type CondFn = unsafe extern "C" fn(*mut pthread_cond_t) -> c_int;
type WaitFn = unsafe extern "C" fn(*mut pthread_cond_t, *mut pthread_mutex_t) -> c_int;

/// The `pthread_cond_*` functions the benchmark calls: glibc's ([`GLIBC`]), or another
/// implementation of the same API (`preload_cond` loads `libnemo_preload.so`'s).
pub(super) struct CondApi {
    pub init: InitFn,
    pub destroy: CondFn,
    pub signal: CondFn,
    pub broadcast: CondFn,
    pub wait: WaitFn,
}

/// glibc's condition variable.
pub(super) static GLIBC: CondApi = CondApi {
    init: libc::pthread_cond_init,
    destroy: libc::pthread_cond_destroy,
    signal: libc::pthread_cond_signal,
    broadcast: libc::pthread_cond_broadcast,
    wait: libc::pthread_cond_wait,
};

/// The predicate and the pthread objects protecting it, exactly as a user writes it, with the
/// condvar calls taken from `api`. Boxed by the caller and never moved after construction:
/// pthread objects must stay at the address they were initialised at.
pub(super) struct CondEvent {
    api: &'static CondApi,
    mutex: UnsafeCell<pthread_mutex_t>,
    cond: UnsafeCell<pthread_cond_t>,
    /// Guarded by `mutex`.
    count: UnsafeCell<u64>,
}

// SAFETY: the pthread objects are made to be shared between threads, and `count` is only read
// or written with `mutex` held.
unsafe impl Sync for CondEvent {}
// SAFETY: nothing in it is tied to the creating thread (the mutex is never held across a move).
unsafe impl Send for CondEvent {}

impl CondEvent {
    /// A condvar initialised by `api` with default attributes.
    pub(super) fn new(api: &'static CondApi) -> Result<CondEvent, Skipped> {
        let ev = CondEvent {
            api,
            mutex: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
            cond: UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER),
            count: UnsafeCell::new(0),
        };
        // SAFETY: a fresh condvar nobody else sees yet; default attributes.
        let rc = unsafe { (api.init)(ev.cond.get(), std::ptr::null()) };
        if rc != 0 {
            return Err(Skipped::new(format!("pthread_cond_init failed: {rc}")));
        }
        Ok(ev)
    }

    /// Runs `f` on the count with the mutex held.
    fn locked<R>(&self, f: impl FnOnce(&mut u64) -> R) -> R {
        // SAFETY: `mutex` is a statically initialised default mutex that lives as long as
        // `self`; it is unlocked below by the same thread.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
        debug_assert_eq!(rc, 0);
        // SAFETY: the mutex is held, which gives exclusive access to `count`.
        let r = f(unsafe { &mut *self.count.get() });
        // SAFETY: this thread locked it above.
        let rc = unsafe { libc::pthread_mutex_unlock(self.mutex.get()) };
        debug_assert_eq!(rc, 0);
        r
    }
}

impl BlockingEvent for CondEvent {
    fn wait(&self, seen: u64) -> u64 {
        // SAFETY: as in `locked`: a valid default mutex, unlocked below by this thread.
        let rc = unsafe { libc::pthread_mutex_lock(self.mutex.get()) };
        debug_assert_eq!(rc, 0);
        loop {
            // SAFETY: the mutex is held (the wait re-acquires it before returning).
            let now = unsafe { *self.count.get() };
            if now != seen {
                // SAFETY: held by this thread.
                let rc = unsafe { libc::pthread_mutex_unlock(self.mutex.get()) };
                debug_assert_eq!(rc, 0);
                return now;
            }
            // SAFETY: the mutex is held by this thread, as the wait requires, and the condvar
            // was initialised by `api` and is only ever used with this mutex.
            let rc = unsafe { (self.api.wait)(self.cond.get(), self.mutex.get()) };
            debug_assert_eq!(rc, 0);
        }
    }

    fn notify_one(&self) {
        self.locked(|count| {
            *count += 1;
            // SAFETY: a valid, initialised condvar; signalling with the mutex held is allowed.
            let rc = unsafe { (self.api.signal)(self.cond.get()) };
            debug_assert_eq!(rc, 0);
        });
    }

    fn notify_all(&self) {
        self.locked(|count| {
            *count += 1;
            // SAFETY: as in `notify_one`.
            let rc = unsafe { (self.api.broadcast)(self.cond.get()) };
            debug_assert_eq!(rc, 0);
        });
    }
}

impl Drop for CondEvent {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: no thread waits on or holds them any more.
        unsafe {
            (self.api.destroy)(self.cond.get());
            libc::pthread_mutex_destroy(self.mutex.get());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn every_event_wakes_the_waiter_exactly_once() {
        handshake_exact(&CondEvent::new(&GLIBC).expect("init"), 2, 2000);
    }
}
