//! `thread_park`: `std::thread::park` / `Thread::unpark` on an atomic event count — the
//! hand-rolled wakeup many Rust runtimes and channels build on (a worker parks; whoever gives it
//! work unparks its `Thread`).
//!
//! Invariants:
//! - A waiter registers its `Thread` in a slot of the event once (on its first wait), then
//!   re-checks the count before every park; a notifier increments the count, then unparks every
//!   registered thread. Both sides order their write before their read with a `SeqCst` fence,
//!   so either the notifier sees the registration or the waiter sees the new count.
//! - An `unpark` that comes before the `park` leaves a token that makes the `park` return at
//!   once, so a notify between the waiter's re-check and its park is not lost.
//! - There is no wait queue, so `notify_one` cannot choose a waiter: it unparks every
//!   registered thread. With the one waiter of every unicast case that is the same thing.

use std::cell::RefCell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering, fence};
use std::thread::Thread;

use crossbeam_utils::CachePadded;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// `std::thread::park` / `unpark`.
pub struct ThreadPark;

impl Driver for ThreadPark {
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        // The receivers, and the sender where a scenario has it wait on the same event (the
        // `pool` ping-pong's client).
        Ok(Instance::Blocking(Box::new(ParkEvent::new(
            setup.receivers + 1,
        ))))
    }
}

/// Distinguishes events in the threads' registration lists (an address could be reused).
static NEXT_EVENT: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The events this thread has registered with.
    static REGISTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// An event count and the threads that wait on it.
struct ParkEvent {
    id: u64,
    count: CachePadded<AtomicU64>,
    /// Claimed in order; a claimed slot is set right after its claim.
    slots: Box<[OnceLock<Thread>]>,
    claimed: AtomicUsize,
}

impl ParkEvent {
    fn new(waiters: usize) -> ParkEvent {
        ParkEvent {
            id: NEXT_EVENT.fetch_add(1, Ordering::Relaxed),
            count: CachePadded::new(AtomicU64::new(0)),
            slots: (0..waiters.max(1)).map(|_| OnceLock::new()).collect(),
            claimed: AtomicUsize::new(0),
        }
    }

    /// Registers the calling thread on its first wait.
    fn register(&self) {
        let first = REGISTERED.with_borrow_mut(|ids| {
            let first = !ids.contains(&self.id);
            if first {
                ids.push(self.id);
            }
            first
        });
        if first {
            let slot = self.claimed.fetch_add(1, Ordering::SeqCst);
            let Some(place) = self.slots.get(slot) else {
                panic!(
                    "thread_park: more waiting threads than the {} the event was made for",
                    self.slots.len()
                );
            };
            // Claimed by this thread alone, so the set cannot find it taken.
            let _ = place.set(std::thread::current());
            fence(Ordering::SeqCst);
        }
    }

    fn wake(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        let claimed = self.claimed.load(Ordering::SeqCst).min(self.slots.len());
        for t in self.slots[..claimed].iter().filter_map(OnceLock::get) {
            t.unpark();
        }
    }
}

impl BlockingEvent for ParkEvent {
    fn wait(&self, seen: u64) -> u64 {
        loop {
            let now = self.count.load(Ordering::Acquire);
            if now != seen {
                return now;
            }
            self.register();
            let now = self.count.load(Ordering::SeqCst);
            if now != seen {
                return now;
            }
            std::thread::park();
        }
    }

    fn notify_one(&self) {
        self.wake();
    }

    fn notify_all(&self) {
        self.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn unicast_events_are_each_seen_once() {
        handshake_exact(&ParkEvent::new(1), 1, 2000);
    }

    #[test]
    fn broadcast_events_reach_every_waiter() {
        handshake_exact(&ParkEvent::new(3), 3, 300);
    }

    #[test]
    fn one_more_waiter_than_slots_is_refused_loudly() {
        let ev = ParkEvent::new(1);
        ev.register();
        let other = std::thread::scope(|s| s.spawn(|| ev.register()).join());
        assert!(
            other.is_err(),
            "a second thread took a slot that does not exist"
        );
    }
}
