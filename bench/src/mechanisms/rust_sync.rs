//! `std_condvar` and `parking_lot_condvar`: the condition variables Rust code reaches for first,
//! used exactly as the `pthread_cond` and `nemo_condvar` rows are — a mutex, a predicate (an
//! event count), a wait in a loop, notify with the mutex held — so the rows differ only in the
//! condition variable (and its mutex, which each library pairs with its own).
//!
//! On Linux `std::sync::Condvar` is a futex word of its own (no spinning); `parking_lot`'s
//! parks waiters in its global hash table of queues and requeues them onto the mutex on notify.

use std::sync::PoisonError;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// Which library's condvar.
pub struct RustCondvar {
    parking_lot: bool,
}

/// `std::sync::Condvar` with `std::sync::Mutex`.
pub static STD_CONDVAR: RustCondvar = RustCondvar { parking_lot: false };
/// `parking_lot::Condvar` with `parking_lot::Mutex`.
pub static PARKING_LOT_CONDVAR: RustCondvar = RustCondvar { parking_lot: true };

impl Driver for RustCondvar {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(if self.parking_lot {
            Box::new(ParkingLotEvent::default())
        } else {
            Box::new(StdEvent::default())
        }))
    }
}

/// The count under a `std::sync::Mutex`, and the condvar waiters block on.
#[derive(Default)]
struct StdEvent {
    count: std::sync::Mutex<u64>,
    cv: std::sync::Condvar,
}

impl StdEvent {
    /// The count is a plain integer every critical section leaves consistent, so poisoning
    /// (a panic elsewhere with the lock held) does not make it wrong.
    fn lock(&self) -> std::sync::MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlockingEvent for StdEvent {
    fn wait(&self, seen: u64) -> u64 {
        let count = self.lock();
        let count = self
            .cv
            .wait_while(count, |c| *c == seen)
            .unwrap_or_else(PoisonError::into_inner);
        *count
    }

    fn notify_one(&self) {
        let mut count = self.lock();
        *count += 1;
        self.cv.notify_one();
    }

    fn notify_all(&self) {
        let mut count = self.lock();
        *count += 1;
        self.cv.notify_all();
    }
}

/// The count under a `parking_lot::Mutex`, and the condvar waiters block on.
#[derive(Default)]
struct ParkingLotEvent {
    count: parking_lot::Mutex<u64>,
    cv: parking_lot::Condvar,
}

impl BlockingEvent for ParkingLotEvent {
    fn wait(&self, seen: u64) -> u64 {
        let mut count = self.count.lock();
        self.cv.wait_while(&mut count, |c| *c == seen);
        *count
    }

    fn notify_one(&self) {
        let mut count = self.count.lock();
        *count += 1;
        self.cv.notify_one();
    }

    fn notify_all(&self) {
        let mut count = self.count.lock();
        *count += 1;
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn std_events_are_each_seen_once() {
        handshake_exact(&StdEvent::default(), 1, 2000);
        handshake_exact(&StdEvent::default(), 3, 300);
    }

    #[test]
    fn parking_lot_events_are_each_seen_once() {
        handshake_exact(&ParkingLotEvent::default(), 1, 2000);
        handshake_exact(&ParkingLotEvent::default(), 3, 300);
    }
}
