//! Condition variables that beat `pthread_cond` (Nemo §4.1, at user level).
//!
//! - [`Condvar`]: for `std::sync::Mutex`, shaped like `std::sync::Condvar`.
//! - [`LockApiCondvar`] (feature `lock_api`, on by default): for any [`lock_api`](::lock_api)
//!   mutex — parking_lot's, spin locks — shaped like `parking_lot::Condvar`.
//! - [`RawCondvar`]: the 48-byte, pointer-free state, usable with any mutex through
//!   [`RawCondvar::wait_raw`] — what a `pthread_cond_*` replacement keeps inside the caller's
//!   `pthread_cond_t` and drives with the caller's glibc mutex.
//!
//! Waiting climbs the wait ladder of [`crate::wait`] (spin on the cache line, `umwait` where the
//! CPU has WAITPKG, then park on a futex); each condvar can have its own [`WaitPolicy`] and the
//! process has a default one. A condvar built with [`Condvar::with_interrupt_park`] parks its
//! waiters as user-interrupt receivers instead, woken by their notifier's interrupt
//! ([`crate::wake`]).
//!
//! ```
//! use nemo_user::condvar::Condvar;
//! use std::sync::{Arc, Mutex};
//! use std::thread;
//!
//! let pair = Arc::new((Mutex::new(false), Condvar::new()));
//! let pair2 = Arc::clone(&pair);
//! let t = thread::spawn(move || {
//!     let (lock, cv) = &*pair2;
//!     *lock.lock().unwrap() = true;
//!     cv.notify_one();
//! });
//! let (lock, cv) = &*pair;
//! let mut ready = lock.lock().unwrap();
//! while !*ready {
//!     ready = cv.wait(ready, lock).unwrap();
//! }
//! t.join().unwrap();
//! ```
//!
//! # Semantics
//!
//! - `notify_one` wakes exactly one waiter among those that were waiting when it was called and
//!   had not been signalled yet (FIFO by group, not by thread); it never wakes a waiter that
//!   started waiting after the call. `notify_all` wakes every waiter present at the call.
//! - Notifying with nobody waiting costs one load (no fence, no lock, no system call: the
//!   waiters' mutex orders it, see [`RawCondvar::notify_one`]); a notify makes a system call
//!   only if the waiter it wakes is parked.
//! - Timed waits take an absolute [`Deadline`] on a clock (realtime or
//!   monotonic) and never return `TimedOut` before it, as measured on that clock. A waiter whose
//!   deadline races a notification either consumes it (returns woken) or withdraws without it
//!   (returns timed out) — a notification is never lost to a timed-out waiter.
//! - No wait or notify allocates.
//!
//! # Differences from `pthread_cond` / `std::sync::Condvar`
//!
//! - **No spurious wakeups.** A wait returns woken only if a `notify_one` was counted for it or a
//!   `notify_all` covered it; POSIX and std both allow spurious wakeups, so code written for them
//!   works unchanged. The one documented exception: when [`RawCondvar::wait_raw`]'s `unlock`
//!   fails and the waiter had already been signalled, the signal is passed on with a fresh
//!   `notify_one`, which may reach a waiter that arrived later.
//! - **`notify_one` is exact.** glibc's `pthread_cond_signal` may wake more than one waiter
//!   (POSIX allows it); here one call wakes one waiter, which tests can count.
//! - **Waiters may spin before they park.** That is where the latency comes from (see
//!   [`crate::wait`]). The default policy adapts: it stops spinning on a condvar whose waits
//!   outlast the spin window, and never spins on a CPU the process cannot spare.
//!   [`WaitPolicy::park_only`] turns spinning off, per condvar or process-wide.
//! - **Notifications return information**: `notify_one` says whether a waiter was signalled and
//!   `notify_all` how many; std returns `()`.
//! - **`Condvar::wait` takes the mutex as well as the guard** (`cv.wait(guard, &mutex)`): std's
//!   `MutexGuard` does not expose its mutex outside the standard library. Passing a guard of a
//!   different mutex panics.
//! - **One condvar may be used with several mutexes over its life** (std's Linux implementation
//!   also allows this; POSIX calls concurrent use with two mutexes undefined). Each wait is
//!   correct for the mutex it was given.
//! - **Destruction** ([`RawCondvar::destroy`]): returns [`ErrorKind::Busy`](crate::ErrorKind::Busy) if a waiter has not been
//!   notified (POSIX: undefined behaviour; glibc blocks), and otherwise waits until notified
//!   waiters have stopped touching the memory, so "broadcast, then destroy" is safe like in glibc.
//!   A Rust [`Condvar`] cannot be dropped while a wait borrows it.
//! - **Cancellation**: the Rust API has no thread cancellation. A C shim makes its waits
//!   cancellation points with the split-phase API ([`SplitWait::begin_wait`](crate::embed::SplitWait::begin_wait) and friends), see
//!   [`crate::embed`].
//! - **Limits**: at most 2^24 − 1 threads inside waits on one condvar at a time (more than Linux's
//!   thread limit); generation numbers wrap after 2^32 notifications, harmlessly unless one waiter
//!   sleeps through 2^31 of its own group's generations between two checks.

mod interrupt_park;
#[cfg(feature = "lock_api")]
mod lock_api;
mod lockword;
pub(crate) mod platform;
mod protocol;
pub(crate) mod raw;
mod waiting;

#[cfg(test)]
mod loom_models;

use std::sync::{LockResult, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

#[cfg(feature = "lock_api")]
pub use self::lock_api::LockApiCondvar;
pub use raw::{RawCondvar, WaitTicket};

use crate::park::FutexPark;
use crate::wait::{Deadline, WaitOutcome, WaitPolicy};
use crate::wake::InterruptPark;

/// The constructors, policy accessors and notifies that [`Condvar`], `LockApiCondvar` and
/// [`Event`](crate::event::Event) share: each is a [`RawCondvar`] (`raw`) with an optional
/// policy of its own (`policy`) and, where an `interrupt` field is named, an optional interrupt
/// rung; `notify_one`/`notify_all` call the raw condvar's `$one`/`$all` (documented with
/// `notify_note`, if given).
macro_rules! tuned_condvar {
    ($noun:literal, $one:ident, $all:ident $(, $interrupt:ident)? $(; $notify_note:literal)?) => {
        #[doc = concat!("A ", $noun, " that uses the process-wide default wait policy.")]
        pub const fn new() -> Self {
            Self {
                raw: RawCondvar::new(),
                policy: None,
                $($interrupt: None,)?
            }
        }

        #[doc = concat!("This ", $noun, " with its own wait policy (instead of the process-wide")]
        /// default).
        pub const fn with_policy(mut self, policy: WaitPolicy) -> Self {
            self.policy = Some(policy);
            self
        }

        $(
            #[doc = concat!("This ", $noun, " with its parked waiters sleeping as user-interrupt")]
            /// receivers, woken by their notifier's user interrupt ([`crate::wake`]); the policy
            /// decides when they park.
            pub const fn with_interrupt_park(mut self, rung: InterruptPark) -> Self {
                self.$interrupt = Some(rung);
                self
            }
        )?

        /// The policy its waits use now: its own, or the process-wide default.
        pub(crate) fn policy(&self) -> WaitPolicy {
            self.policy.unwrap_or_default()
        }

        #[doc = concat!("What the adaptive waits on this ", $noun, " did with their spin windows")]
        /// ([`RawCondvar::spin_stats`]).
        pub fn spin_stats(&self) -> crate::wait::SpinStats {
            self.raw.spin_stats()
        }

        /// Wakes one waiter; returns whether there was one to wake.
        $(#[doc = ""] #[doc = $notify_note])?
        #[inline]
        pub fn notify_one(&self) -> bool {
            self.raw.$one()
        }

        /// Wakes every waiter; returns how many had not been signalled yet.
        $(#[doc = ""] #[doc = $notify_note])?
        #[inline]
        pub fn notify_all(&self) -> usize {
            self.raw.$all()
        }
    };
}
pub(crate) use tuned_condvar;

/// A timeout is a deadline that far from now on `CLOCK_MONOTONIC`, so every wait that takes a
/// deadline (`impl Into<Deadline>`) also takes a [`Duration`].
impl From<Duration> for Deadline {
    fn from(timeout: Duration) -> Deadline {
        Deadline::after(timeout)
    }
}

/// A condition variable for `std::sync::Mutex`, like `std::sync::Condvar` but faster to wake
/// (see the [module docs](self) for the differences).
///
/// Cache-line aligned so that waiters spinning on it never share a line with unrelated data.
#[repr(align(64))]
#[derive(Debug, Default)]
pub struct Condvar {
    raw: RawCondvar,
    policy: Option<WaitPolicy>,
    interrupt: Option<InterruptPark>,
}

impl Condvar {
    tuned_condvar!("condvar", notify_one, notify_all, interrupt);

    /// The underlying raw condvar.
    pub fn raw(&self) -> &RawCondvar {
        &self.raw
    }

    /// Releases `guard`'s lock, waits for a notification, and re-locks `mutex`.
    ///
    /// # Panics
    /// If `guard` does not belong to `mutex`.
    pub fn wait<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        mutex: &'a Mutex<T>,
    ) -> LockResult<MutexGuard<'a, T>> {
        self.wait_inner(guard, mutex, None).0
    }

    /// Waits while `condition` returns `true`.
    ///
    /// # Panics
    /// If `guard` does not belong to `mutex`.
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mutex: &'a Mutex<T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard, mutex)?;
        }
        Ok(guard)
    }

    /// Waits for a notification or until `deadline`: a [`Deadline`] (absolute, on its clock),
    /// or a [`Duration`] from now on `CLOCK_MONOTONIC` as with `std::sync::Condvar`. Never
    /// reports a timeout before the deadline, as measured on its clock.
    ///
    /// ```
    /// use nemo_user::condvar::Condvar;
    /// use nemo_user::wait::{Clock, Deadline};
    /// use std::sync::Mutex;
    /// use std::time::Duration;
    ///
    /// let (m, cv) = (Mutex::new(()), Condvar::new());
    /// let (g, r) = cv.wait_timeout(m.lock().unwrap(), &m, Duration::from_millis(1)).unwrap();
    /// assert!(r.timed_out());
    /// let deadline = Deadline::after_on(Clock::Realtime, Duration::from_millis(2));
    /// let (_g, r) = cv.wait_timeout(g, &m, deadline).unwrap();
    /// assert!(r.timed_out());
    /// assert!(deadline.has_passed());
    /// ```
    ///
    /// # Panics
    /// If `guard` does not belong to `mutex`.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        mutex: &'a Mutex<T>,
        deadline: impl Into<Deadline>,
    ) -> LockResult<(MutexGuard<'a, T>, WaitOutcome)> {
        let (relocked, outcome) = self.wait_inner(guard, mutex, Some(&deadline.into()));
        match relocked {
            Ok(g) => Ok((g, outcome)),
            Err(p) => Err(PoisonError::new((p.into_inner(), outcome))),
        }
    }

    /// Waits while `condition` returns `true`, at most until `deadline` (as in
    /// [`wait_timeout`](Self::wait_timeout)). The outcome is `TimedOut` if the deadline passed
    /// with the condition still `true`.
    ///
    /// # Panics
    /// If `guard` does not belong to `mutex`.
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mutex: &'a Mutex<T>,
        deadline: impl Into<Deadline>,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitOutcome)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = deadline.into();
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitOutcome::Woken));
            }
            let (g, r) = self.wait_timeout(guard, mutex, deadline)?;
            guard = g;
            if r.timed_out() {
                let outcome = if condition(&mut *guard) {
                    WaitOutcome::TimedOut
                } else {
                    WaitOutcome::Woken
                };
                return Ok((guard, outcome));
            }
        }
    }

    fn wait_inner<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        mutex: &'a Mutex<T>,
        deadline: Option<&Deadline>,
    ) -> (LockResult<MutexGuard<'a, T>>, WaitOutcome) {
        assert_guard_of(&guard, mutex);
        let policy = self.policy();
        let unlock = || {
            drop(guard);
            Ok(())
        };
        let r: Result<_, std::convert::Infallible> = match &self.interrupt {
            Some(rung) => self
                .raw
                .wait_raw_with(&policy, rung, unlock, || mutex.lock(), deadline),
            None => self
                .raw
                .wait_raw_with(&policy, &FutexPark, unlock, || mutex.lock(), deadline),
        };
        match r {
            Ok((outcome, relocked)) => (relocked, outcome),
            Err(never) => match never {},
        }
    }
}

/// The data a `MutexGuard` derefs to lives inside its `Mutex`, and two live mutexes of the same
/// type cannot overlap, so an address-range check identifies the guard's mutex.
fn assert_guard_of<T>(guard: &MutexGuard<'_, T>, mutex: &Mutex<T>) {
    let data = &**guard as *const T as usize;
    let start = mutex as *const Mutex<T> as usize;
    let end = start + std::mem::size_of::<Mutex<T>>();
    assert!(
        (start..=end).contains(&data),
        "Condvar::wait: the guard does not belong to the given mutex"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_fits_a_pthread_cond_t() {
        assert!(std::mem::size_of::<RawCondvar>() <= 48);
        assert!(std::mem::align_of::<RawCondvar>() <= 8);
        assert!(std::mem::size_of::<RawCondvar>() <= std::mem::size_of::<libc::pthread_cond_t>());
        assert!(std::mem::align_of::<RawCondvar>() <= std::mem::align_of::<libc::pthread_cond_t>());
        assert_eq!(std::mem::size_of::<Condvar>(), 64);
    }

    #[test]
    fn attributes_round_trip_and_default_to_zero() {
        use crate::wait::{Clock, PolicyClass};
        let cv = RawCondvar::new();
        assert_eq!(cv.clock(), Clock::Realtime);
        assert!(!cv.is_process_shared());
        assert_eq!(cv.policy_class(), PolicyClass::Default);
        for clock in [Clock::Realtime, Clock::Monotonic] {
            for shared in [false, true] {
                for class in [
                    PolicyClass::Default,
                    PolicyClass::ParkOnly,
                    PolicyClass::SpinOnly,
                ] {
                    let cv = RawCondvar::with_attributes(clock, shared, class);
                    assert_eq!(
                        (cv.clock(), cv.is_process_shared(), cv.policy_class()),
                        (clock, shared, class)
                    );
                }
            }
        }
        // The default attributes are the all-zero bytes.
        let cv = RawCondvar::with_attributes(Clock::Realtime, false, PolicyClass::Default);
        // SAFETY: RawCondvar is 48 bytes of plain atomics, valid to view as bytes.
        let bytes: [u8; 48] = unsafe { std::mem::transmute(cv) };
        assert_eq!(bytes, [0u8; 48]);
    }

    #[test]
    #[should_panic(expected = "does not belong")]
    fn guard_of_another_mutex_is_rejected() {
        let (a, b) = (Mutex::new(1u64), Mutex::new(2u64));
        let cv = Condvar::new();
        let g = a.lock().unwrap();
        let _ = cv.wait_timeout(g, &b, Duration::from_millis(1));
    }

    #[test]
    fn errors_map_to_errno() {
        use crate::error::{Error, ErrorKind, Repr};
        let busy = Error::from(Repr::Busy { waiters: 2 });
        assert_eq!((busy.kind(), busy.errno()), (ErrorKind::Busy, libc::EBUSY));
        assert!(busy.to_string().contains('2'));
    }
}
