//! `nemo_event`: the project's mutex-free [`Event`] with the default wait policy. The predicate
//! is an atomic count; a waiter announces itself, re-checks the count, and only then commits to
//! the wait — the eventcount pattern that closes the lost-wakeup race without a mutex.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;
use nemo_user::event::Event;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// `nemo_user::event::Event::new()`.
pub struct NemoEvent;

impl Driver for NemoEvent {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(EventCount::default())))
    }
}

/// The count on its own line, so the notifier's increment does not disturb the line the
/// event's waiters spin on (the event is cache-line aligned by itself).
#[derive(Default)]
pub(super) struct EventCount {
    count: CachePadded<AtomicU64>,
    event: Event,
}

impl EventCount {
    /// Around an event built elsewhere (its own policy, its own park rung).
    pub(super) fn from_event(event: Event) -> EventCount {
        EventCount {
            count: CachePadded::new(AtomicU64::new(0)),
            event,
        }
    }

    fn load(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

impl BlockingEvent for EventCount {
    fn wait(&self, seen: u64) -> u64 {
        loop {
            let now = self.load();
            if now != seen {
                return now;
            }
            let key = self.event.prepare_wait();
            // A notify after the announcement wakes this waiter; one before it published its
            // count first, which this re-check sees.
            let now = self.load();
            if now != seen {
                key.cancel();
                return now;
            }
            key.wait();
        }
    }

    fn notify_one(&self) {
        // Publish, then notify: the notify's fence orders this store before its check for
        // announced waiters.
        self.count.fetch_add(1, Ordering::Release);
        self.event.notify_one();
    }

    fn notify_all(&self) {
        self.count.fetch_add(1, Ordering::Release);
        self.event.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn unicast_events_are_each_seen_once() {
        handshake_exact(&EventCount::default(), 1, 2000);
    }

    #[test]
    fn broadcast_events_reach_every_waiter() {
        handshake_exact(&EventCount::default(), 3, 300);
    }
}
