//! [`Event`]: a mutex-free "there is work" signal for idle workers (an *eventcount*).
//!
//! Legion's idle logical processors, a thread pool's parked workers: a worker that finds no work
//! waits on the event; a producer that publishes work wakes one worker (`notify_one`) or all of
//! them (`notify_all`). No mutex protects the work queue check, so the classic lost-wakeup race
//! ("checked the queue, found it empty, producer pushes and notifies, *then* the worker sleeps")
//! is closed the eventcount way: the worker first announces itself ([`Event::prepare_wait`]),
//! then re-checks its condition, then either cancels or commits to the wait. A notification that
//! happens after the announcement is never lost; one that happened before is visible to the
//! re-check.
//!
//! It is the same protocol as [`RawCondvar`] (exact `notify_one`, no
//! spurious wakeups, the wait ladder, fan-out broadcast), without the mutex.
//!
//! ```
//! use crossbeam_queue::SegQueue;
//! use nemo_user::event::Event;
//! use std::sync::Arc;
//! use std::thread;
//!
//! let queue = Arc::new(SegQueue::new());
//! let work_ready = Arc::new(Event::new());
//! let worker = {
//!     let (queue, work_ready) = (Arc::clone(&queue), Arc::clone(&work_ready));
//!     thread::spawn(move || {
//!         let mut sum = 0;
//!         loop {
//!             work_ready.wait_while(|| queue.is_empty());
//!             match queue.pop() {
//!                 Some(0) => return sum,
//!                 Some(x) => sum += x,
//!                 None => {}
//!             }
//!         }
//!     })
//! };
//! for x in [1, 2, 3, 0] {
//!     queue.push(x);
//!     work_ready.notify_one();
//! }
//! assert_eq!(worker.join().unwrap(), 6);
//! ```

use crate::condvar::raw::SplitWait;
use crate::condvar::{RawCondvar, WaitTicket};
use crate::park::FutexPark;
use crate::wait::{Deadline, WaitOutcome, WaitPolicy};
use crate::wake::InterruptPark;

/// A mutex-free event that workers wait on and producers notify. See the [module docs](self).
///
/// Cache-line aligned so that waiters spinning on it never share a line with unrelated data.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Event {
    raw: RawCondvar,
    policy: Option<WaitPolicy>,
    interrupt: Option<InterruptPark>,
}

/// A worker's announced intent to wait ([`Event::prepare_wait`]). Commit with
/// [`wait`](Self::wait) / [`wait_until`](Self::wait_until), or withdraw with
/// [`cancel`](Self::cancel); dropping it cancels.
#[must_use = "an announced wait must be committed (wait) or cancelled"]
#[derive(Debug)]
pub struct EventKey<'a> {
    event: &'a Event,
    ticket: Option<WaitTicket>,
}

impl Event {
    crate::condvar::tuned_condvar!(
        "event", notify_one_fenced, notify_all_fenced, interrupt;
        "Call after publishing the work: a `SeqCst` fence orders the publication before the \
         check for announced waiters."
    );

    /// Announces that the caller is about to wait. Re-check the condition after this, then
    /// commit or cancel the returned key.
    #[inline]
    pub fn prepare_wait(&self) -> EventKey<'_> {
        let ticket = self.raw.begin_wait();
        // Pairs with the fence at the start of notify: either the producer's notify sees this
        // waiter, or this waiter's re-check sees the producer's work.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        EventKey {
            event: self,
            ticket: Some(ticket),
        }
    }

    /// Blocks while `condition()` is `true` (re-checked after every wakeup).
    pub fn wait_while(&self, mut condition: impl FnMut() -> bool) {
        while condition() {
            let key = self.prepare_wait();
            if !condition() {
                key.cancel();
                return;
            }
            key.wait();
        }
    }

    /// Blocks while `condition()` is `true`, at most until `deadline`. Returns `TimedOut` if the
    /// deadline passed with the condition still `true`.
    pub fn wait_while_until(
        &self,
        mut condition: impl FnMut() -> bool,
        deadline: &Deadline,
    ) -> WaitOutcome {
        while condition() {
            let key = self.prepare_wait();
            if !condition() {
                key.cancel();
                return WaitOutcome::Woken;
            }
            if key.wait_until(deadline).timed_out() {
                return if condition() {
                    WaitOutcome::TimedOut
                } else {
                    WaitOutcome::Woken
                };
            }
        }
        WaitOutcome::Woken
    }
}

impl EventKey<'_> {
    /// Waits for a notification sent after [`Event::prepare_wait`].
    pub fn wait(self) {
        self.run(None);
    }

    /// Waits for a notification or until `deadline`.
    pub fn wait_until(self, deadline: &Deadline) -> WaitOutcome {
        self.run(Some(deadline))
    }

    /// Withdraws the announcement. Returns `true` if a notification had already been directed at
    /// this waiter — it is consumed, which is right when the caller cancels because it found the
    /// work that notification announced.
    pub fn cancel(mut self) -> bool {
        match self.ticket.take() {
            Some(mut t) => {
                let woken = self.event.raw.abandon(&mut t) == WaitOutcome::Woken;
                self.event.raw.finish_wait(t);
                woken
            }
            None => false,
        }
    }

    fn run(mut self, deadline: Option<&Deadline>) -> WaitOutcome {
        let event = self.event;
        let policy = event.policy();
        // The ticket stays in `self` while waiting, so `Drop` finishes it if the wait unwinds.
        let outcome = match self.ticket.as_mut() {
            Some(t) => match &event.interrupt {
                Some(rung) => event.raw.wait_ticket(t, &policy, rung, deadline),
                None => event.raw.wait_ticket(t, &policy, &FutexPark, deadline),
            },
            None => return WaitOutcome::Woken,
        };
        if let Some(t) = self.ticket.take() {
            event.raw.finish_wait(t);
        }
        outcome
    }
}

impl Drop for EventKey<'_> {
    fn drop(&mut self) {
        if let Some(mut t) = self.ticket.take() {
            self.event.raw.abandon(&mut t);
            self.event.raw.finish_wait(t);
        }
    }
}
