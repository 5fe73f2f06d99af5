//! `nemo_condvar_park`: the `nemo_condvar` row with spinning disabled
//! ([`WaitPolicy::park_only`]), so every wait parks on a futex at once. What it measures is the
//! condvar's tax over the kernel floor (the `futex` row) on the parked path.

use nemo_user::wait::WaitPolicy;

use super::nemo_condvar::CondvarEvent;
use super::{Driver, Instance, Setup, Skipped};

/// `nemo_user::condvar::Condvar::new().with_policy(WaitPolicy::park_only())`.
pub struct NemoCondvarPark;

impl Driver for NemoCondvarPark {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(CondvarEvent::new(Some(
            WaitPolicy::park_only(),
        )))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    fn event() -> CondvarEvent {
        CondvarEvent::new(Some(WaitPolicy::park_only()))
    }

    #[test]
    fn never_spins() {
        assert_eq!(event().policy().spin(), Some(std::time::Duration::ZERO));
        assert!(event().policy().parks());
    }

    #[test]
    fn unicast_events_are_each_seen_once() {
        handshake_exact(&event(), 1, 2000);
    }

    #[test]
    fn broadcast_events_reach_every_waiter() {
        handshake_exact(&event(), 3, 300);
    }
}
