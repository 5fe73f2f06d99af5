//! How a task waits on nemo's [`Condvar`](crate::condvar::Condvar) and
//! [`Event`](crate::event::Event): by suspending itself, not its worker thread.
//!
//! The seam is the registry of interrupt-parked waiters (`crate::wake`): every notify of a
//! condvar or event already claims and wakes the registered waiters of the group it signals,
//! whatever the condvar's park. A wait that finds itself inside a task (and outside a
//! [`Guard`](crate::interrupt::Guard), on a condvar that is not process-shared) skips the
//! spinning rungs and registers the task's handle there (through the task seam, `crate::wake::task`) instead of parking the thread;
//! the notifier's wake sets the task's wait word and unparks the task ([`super::Unparker`]),
//! which kicks its worker when the task is latency-critical. The condvar protocol alone decides
//! which waiter returns, so `notify_one` stays exact for tasks and threads mixed.
//!
//! Invariants:
//! - `wait_word` is `WOKEN` only between a notifier's wake and the task's next `arm`;
//!   the task suspends only while it reads `ARMED`. The notifier stores `WOKEN` *before* it
//!   unparks, so either the task's re-check sees the store or the unpark finds it suspended (or
//!   leaves a token its next park consumes): no lost wakeup (the task side of `kick.rs`).
//! - A wake may arrive after the task left the wait (the registry's claims race its withdraw):
//!   it only leaves a token, so a later [`park`](super::park) of the task may return early, as
//!   [`park`](super::park) documents.
//! - A timed wait cannot park (nothing would unpark it at the deadline): it yields the worker
//!   until woken or the deadline passes, so on a worker with nothing else to run it spins.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::kick::TaskToken;
use crate::park::ParkResult;
use crate::wait::Deadline;
use crate::wake::task::{TaskHandle, TaskParking};

const ARMED: u32 = 0;
const WOKEN: u32 = 1;

/// The calling task's handle for the waiter registry (registered with `crate::wake::task` when a
/// runtime is built), or `None` where a wait must block the thread instead: outside a task, or
/// inside a [`Guard`](crate::interrupt::Guard).
pub(crate) fn current() -> Option<TaskHandle> {
    super::task::current_token().map(|t| t as TaskHandle)
}

/// A task's side of a wait in the registry (see the module docs).
impl TaskParking for TaskToken {
    /// Notifier side: marks the task woken, then makes it runnable (kicking its worker if it is
    /// latency-critical). A task outlives its waits, so the wake always reaches it.
    fn wake(&self) -> bool {
        self.wait_word.store(WOKEN, Release);
        self.unpark();
        true
    }

    /// Before registering: the next [`block`](TaskParking::block) suspends until a wake.
    fn arm(&self) {
        self.wait_word.store(ARMED, Relaxed);
    }

    /// Suspends the task until a wake, or until `deadline` (yielding the worker meanwhile).
    fn block(&self, deadline: Option<&Deadline>) -> ParkResult {
        loop {
            if self.wait_word.load(Acquire) != ARMED {
                return ParkResult::Woken;
            }
            match deadline {
                None => super::park(),
                Some(d) if d.has_passed() => return ParkResult::TimedOut,
                Some(_) => {
                    super::yield_now();
                }
            }
        }
    }
}
