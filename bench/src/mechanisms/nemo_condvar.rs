//! `nemo_condvar`: the project's [`Condvar`] with the process-wide default wait policy, used the
//! way `pthread_cond` is — a mutex, a predicate, a wait in a loop, notify with the mutex held —
//! so the only difference from the baseline row is the condition variable itself.
//!
//! [`CondvarEvent`] is shared with `nemo_condvar_park`, which differs only in its policy.

use std::sync::{Mutex, MutexGuard, PoisonError};

use nemo_user::condvar::Condvar;
use nemo_user::wait::WaitPolicy;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// `nemo_user::condvar::Condvar::new()`: spin, then (`umwait` where available, then) park.
pub struct NemoCondvar;

impl Driver for NemoCondvar {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(CondvarEvent::new(None))))
    }
}

/// The predicate (an event count) under a `std::sync::Mutex`, and the condvar waiters block on.
/// The condvar is cache-line aligned by itself, so the line waiters spin on never holds the
/// mutex or the count.
pub(super) struct CondvarEvent {
    count: Mutex<u64>,
    cv: Condvar,
    /// The policy `new` was given (`None`: the process-wide default, or a condvar built
    /// elsewhere), for the tests that check which one a mechanism runs.
    #[cfg(test)]
    policy: Option<WaitPolicy>,
}

impl CondvarEvent {
    /// With `policy`, or the process-wide default policy for `None`.
    pub(super) fn new(policy: Option<WaitPolicy>) -> CondvarEvent {
        CondvarEvent {
            count: Mutex::new(0),
            cv: match policy {
                Some(p) => Condvar::new().with_policy(p),
                None => Condvar::new(),
            },
            #[cfg(test)]
            policy,
        }
    }

    /// Around a condvar built elsewhere (its own policy, its own park rung).
    pub(super) fn from_condvar(cv: Condvar) -> CondvarEvent {
        CondvarEvent {
            count: Mutex::new(0),
            cv,
            #[cfg(test)]
            policy: None,
        }
    }

    /// The policy the waits use (of a condvar `new` made).
    #[cfg(test)]
    pub(super) fn policy(&self) -> WaitPolicy {
        self.policy.unwrap_or_default()
    }

    /// The count is a plain integer that every critical section leaves consistent, so a panic
    /// elsewhere while the lock was held (poisoning) does not make it wrong.
    fn lock(&self) -> MutexGuard<'_, u64> {
        self.count.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl BlockingEvent for CondvarEvent {
    fn wait(&self, seen: u64) -> u64 {
        let mut count = self.lock();
        while *count == seen {
            count = self
                .cv
                .wait(count, &self.count)
                .unwrap_or_else(PoisonError::into_inner);
        }
        *count
    }

    fn notify_one(&self) {
        let mut count = self.lock();
        *count += 1;
        // With the mutex held, as the `pthread_cond` row does.
        self.cv.notify_one();
    }

    fn notify_all(&self) {
        let mut count = self.lock();
        *count += 1;
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    #[test]
    fn unicast_events_are_each_seen_once() {
        handshake_exact(&CondvarEvent::new(None), 1, 2000);
    }

    #[test]
    fn broadcast_events_reach_every_waiter() {
        handshake_exact(&CondvarEvent::new(None), 3, 300);
    }

    #[test]
    fn uses_the_process_default_policy() {
        assert_eq!(
            CondvarEvent::new(None).policy(),
            nemo_user::wait::WaitPolicy::default()
        );
    }
}
