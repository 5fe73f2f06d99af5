//! `spin`: the waiter spins on a cache line — the coherence limit (Nemo Fig. 20) and the latency
//! floor any asynchronous mechanism is measured against, at the price of a burnt core.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// Busy-waiting on a shared line.
pub struct Spin;

impl Driver for Spin {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(SpinEvent::default())))
    }
}

/// The event count alone on its line, so the only coherence traffic is the event itself.
#[derive(Default)]
struct SpinEvent {
    count: CachePadded<AtomicU64>,
}

impl BlockingEvent for SpinEvent {
    fn wait(&self, seen: u64) -> u64 {
        loop {
            let now = self.count.load(Ordering::Acquire);
            if now != seen {
                return now;
            }
            std::hint::spin_loop();
        }
    }

    fn notify_one(&self) {
        self.count.fetch_add(1, Ordering::Release);
    }

    fn notify_all(&self) {
        self.count.fetch_add(1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn every_store_is_seen() {
        // One waiter: spinning waiters need their own core, and the test machine may have two.
        handshake_exact(&SpinEvent::default(), 1, 500);
    }
}
