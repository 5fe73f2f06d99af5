//! Arrival stamps written by interrupt handlers.
//!
//! An interrupt-kind mechanism (a signal, an active message, a user interrupt) delivers to a
//! *running* receiver; its handler calls [`Arrivals::stamp`], which reads the run's clock and
//! records the arrival. The measurement loop on the sending side watches [`Arrivals::count`] to
//! know the event arrived before it sends the next one.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::clock::Clock;

/// Preallocated arrival timestamps of one receiver.
///
/// Only the receiver thread writes (its handler runs on it, one delivery at a time); any thread
/// reads. Nothing here allocates or locks, so [`stamp`](Arrivals::stamp) is async-signal-safe.
#[derive(Debug)]
pub struct Arrivals {
    clock: Clock,
    stamps: Box<[AtomicU64]>,
    count: CachePadded<AtomicUsize>,
}

impl Arrivals {
    /// Room for `capacity` arrivals, stamped with `clock`.
    pub fn new(clock: Clock, capacity: usize) -> Arrivals {
        Arrivals {
            clock,
            stamps: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            count: CachePadded::new(AtomicUsize::new(0)),
        }
    }

    /// Records one arrival now. Call it first thing in the handler.
    ///
    /// Arrivals past the capacity are counted but not stamped, so a spurious delivery shows up as
    /// a count that runs ahead of the events sent.
    #[inline(always)]
    pub fn stamp(&self) {
        let t = self.clock.now();
        let i = self.count.load(Ordering::Relaxed);
        if let Some(slot) = self.stamps.get(i) {
            slot.store(t, Ordering::Relaxed);
        }
        // Release: whoever sees the new count sees the stamp.
        self.count.store(i + 1, Ordering::Release);
    }

    /// How many arrivals were recorded.
    #[inline(always)]
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// The timestamp of arrival `i` (0 if not yet stamped).
    pub fn get(&self, i: usize) -> u64 {
        self.stamps.get(i).map_or(0, |s| s.load(Ordering::Acquire))
    }

    /// How many arrivals fit.
    pub fn capacity(&self) -> usize {
        self.stamps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_in_order_and_counts_overflow() {
        let a = Arrivals::new(Clock::monotonic(), 2);
        assert_eq!(a.count(), 0);
        a.stamp();
        a.stamp();
        assert_eq!(a.count(), 2);
        assert!(a.get(0) > 0 && a.get(1) >= a.get(0));
        a.stamp();
        assert_eq!(a.count(), 3, "a spurious arrival is still counted");
        assert_eq!(a.get(2), 0);
        assert_eq!(a.capacity(), 2);
    }
}
