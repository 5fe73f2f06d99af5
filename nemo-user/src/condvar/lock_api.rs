//! [`LockApiCondvar`]: the condition variable for any [`lock_api`] mutex — parking_lot's, a spin
//! lock, any `lock_api::Mutex<R, T>` — without `unsafe` at the call site.
//!
//! Invariants:
//! - A wait joins the condvar ([`RawCondvar::begin_wait`]) while the caller's guard still holds
//!   the lock, and only then releases it (`lock_api::MutexGuard::unlocked`): a notification sent
//!   by a thread that changed the state under the lock after the waiter checked it is counted
//!   for the waiter, never lost between the check and the wait.
//! - Every ticket ends in exactly one [`RawCondvar::finish_wait`], also when the wait unwinds
//!   (`TicketGuard`); the lock is re-acquired before `wait*` returns or unwinds (`unlocked`'s
//!   contract), so the guard the caller holds is valid again either way.
//! - Nothing here touches the mutex except through its guard: the type needs no `unsafe`.

use ::lock_api::{MutexGuard, RawMutex};

use super::raw::SplitWait;
use super::{RawCondvar, WaitTicket};
use crate::park::FutexPark;
use crate::wait::{Deadline, WaitOutcome, WaitPolicy};

/// A condition variable for any [`lock_api`] mutex, shaped like `parking_lot::Condvar`: the waits
/// take `&mut MutexGuard` and give it back locked. Available with the `lock_api` feature (on by
/// default).
///
/// It behaves like [`Condvar`](super::Condvar) (the [module docs](super) list the semantics and
/// how they differ from `pthread_cond` and `std::sync::Condvar`): no spurious wakeups,
/// `notify_one` wakes exactly one waiter, waiters spin on the condvar's cache line before they
/// park. Unlike `parking_lot::Condvar`, one condvar may be used with several mutexes over its
/// life; each wait is correct for the guard it was given.
///
/// ```
/// use nemo_user::condvar::LockApiCondvar;
/// use parking_lot::Mutex;
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// let shared = Arc::new((Mutex::new(Vec::new()), LockApiCondvar::new()));
/// let producer = {
///     let shared = Arc::clone(&shared);
///     std::thread::spawn(move || {
///         let (queue, cv) = &*shared;
///         for job in 1..=3 {
///             queue.lock().push(job);
///             cv.notify_one();
///         }
///     })
/// };
/// let (queue, cv) = &*shared;
/// let mut jobs = queue.lock();
/// let mut done = 0;
/// while done < 3 {
///     cv.wait_while(&mut jobs, |q| q.is_empty());
///     done += jobs.drain(..).count();
/// }
/// // Nothing is left and nobody notifies: a timed wait times out.
/// assert!(cv.wait_until(&mut jobs, Duration::from_millis(1)).timed_out());
/// drop(jobs);
/// producer.join().unwrap();
/// ```
#[derive(Debug, Default)]
pub struct LockApiCondvar {
    raw: RawCondvar,
    policy: Option<WaitPolicy>,
}

/// Finishes the ticket if the wait unwinds before it is finished normally.
struct TicketGuard<'a> {
    cv: &'a RawCondvar,
    ticket: Option<WaitTicket>,
}

impl Drop for TicketGuard<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            // Abandons the wait first if its outcome is not known yet.
            self.cv.finish_wait(t);
        }
    }
}

impl LockApiCondvar {
    super::tuned_condvar!("condvar", notify_one, notify_all);

    /// Releases `guard`'s lock, waits for a notification, and re-locks it.
    pub fn wait<R: RawMutex, T: ?Sized>(&self, guard: &mut MutexGuard<'_, R, T>) {
        self.wait_inner(guard, None);
    }

    /// Waits while `condition` returns `true`; returns with the lock held and the condition
    /// `false`.
    pub fn wait_while<R, T, F>(&self, guard: &mut MutexGuard<'_, R, T>, mut condition: F)
    where
        R: RawMutex,
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut **guard) {
            self.wait(guard);
        }
    }

    /// Waits for a notification or until `deadline`: a [`Deadline`] (absolute, on its clock),
    /// or a [`Duration`](std::time::Duration) from now on `CLOCK_MONOTONIC`. Never reports a
    /// timeout before the deadline, as measured on its clock.
    pub fn wait_until<R: RawMutex, T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, R, T>,
        deadline: impl Into<Deadline>,
    ) -> WaitOutcome {
        self.wait_inner(guard, Some(&deadline.into()))
    }

    /// Waits while `condition` returns `true`, at most until `deadline` (as in
    /// [`wait_until`](Self::wait_until)). The outcome is `TimedOut` if the deadline passed with
    /// the condition still `true`.
    pub fn wait_while_until<R, T, F>(
        &self,
        guard: &mut MutexGuard<'_, R, T>,
        mut condition: F,
        deadline: impl Into<Deadline>,
    ) -> WaitOutcome
    where
        R: RawMutex,
        T: ?Sized,
        F: FnMut(&mut T) -> bool,
    {
        let deadline = deadline.into();
        while condition(&mut **guard) {
            if self.wait_until(guard, deadline).timed_out() && condition(&mut **guard) {
                return WaitOutcome::TimedOut;
            }
        }
        WaitOutcome::Woken
    }

    fn wait_inner<R: RawMutex, T: ?Sized>(
        &self,
        guard: &mut MutexGuard<'_, R, T>,
        deadline: Option<&Deadline>,
    ) -> WaitOutcome {
        let policy = self.policy();
        // Joined under the lock: see the invariants at the top of the file.
        let mut wait = TicketGuard {
            cv: &self.raw,
            ticket: Some(self.raw.begin_wait()),
        };
        // The waiter leaves the condvar before it relocks, as `RawCondvar::wait_raw` does.
        MutexGuard::unlocked(guard, || {
            let outcome = match wait.ticket.as_mut() {
                Some(t) => self.raw.wait_ticket(t, &policy, &FutexPark, deadline),
                None => WaitOutcome::Woken,
            };
            if let Some(t) = wait.ticket.take() {
                self.raw.finish_wait(t);
            }
            outcome
        })
    }
}
