//! The clock a timer core keeps its deadlines in, and the kernel sleep it waits with.
//!
//! Deadlines are TSC values where the TSC is invariant (`CPUID.80000007H:EDX[8]`: constant rate,
//! synchronised across cores), so checking one is a single `rdtsc`; the rate is calibrated once
//! per process against `CLOCK_MONOTONIC`, or given by the caller (a simulator, or a program that
//! already knows it). Elsewhere deadlines are `CLOCK_MONOTONIC` nanoseconds.

use core::sync::atomic::AtomicU32;
use std::time::Duration;

use crate::clock::{monotonic_ns, timespec_of_ns, tsc_ghz};
use crate::futex;

/// Ticks of a [`DeadlineClock`].
pub(crate) type Ticks = u64;

/// Deadlines are kept below this many ticks past "now" (about 73 years of TSC at 2 GHz), so
/// `now + period` never overflows.
const MAX_SPAN: u64 = 1 << 62;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DeadlineClock {
    /// Invariant TSC at this many ticks per nanosecond.
    Tsc { per_ns: f64 },
    /// `CLOCK_MONOTONIC` nanoseconds.
    Monotonic,
}

impl DeadlineClock {
    /// The TSC at `ghz` (or the calibrated rate) if the TSC is invariant, else `CLOCK_MONOTONIC`.
    pub fn best(ghz: Option<f64>) -> DeadlineClock {
        match ghz.filter(|g| g.is_finite() && *g > 0.0).or_else(tsc_ghz) {
            Some(per_ns) if cfg!(target_arch = "x86_64") => DeadlineClock::Tsc { per_ns },
            _ => DeadlineClock::Monotonic,
        }
    }

    pub fn is_tsc(&self) -> bool {
        matches!(self, DeadlineClock::Tsc { .. })
    }

    #[inline(always)]
    pub fn now(&self) -> Ticks {
        match self {
            DeadlineClock::Tsc { .. } => crate::clock::timestamp(),
            DeadlineClock::Monotonic => monotonic_ns(),
        }
    }

    /// `d` in ticks; `None` if it does not fit the clock's range.
    pub fn ticks(&self, d: Duration) -> Option<Ticks> {
        let ns = d.as_nanos();
        let t = match self {
            DeadlineClock::Tsc { per_ns } => (ns as f64 * per_ns).round(),
            DeadlineClock::Monotonic => ns as f64,
        };
        (t < MAX_SPAN as f64).then_some(t as u64)
    }

    pub fn duration(&self, ticks: Ticks) -> Duration {
        match self {
            DeadlineClock::Tsc { per_ns } => Duration::from_nanos((ticks as f64 / per_ns) as u64),
            DeadlineClock::Monotonic => Duration::from_nanos(ticks),
        }
    }
}

/// Sleeps while `word` holds `expected`, until woken or until `CLOCK_MONOTONIC` reaches
/// `deadline_ns` (`None`: no deadline). The kernel's hrtimer sleep, as `clock_nanosleep` with
/// `TIMER_ABSTIME` does, but another thread can end it early with [`futex_wake`] after changing
/// the word; checking the word and going to sleep are one step, so no wake is lost. Returns
/// whether the deadline passed (it may also return early: woken, a signal, or spuriously).
pub(crate) fn futex_wait(word: &AtomicU32, expected: u32, deadline_ns: Option<u64>) -> bool {
    let at = deadline_ns.map(timespec_of_ns);
    // SAFETY: `word` is a valid, aligned u32 that outlives the call.
    let r = unsafe {
        futex::wait_with_op(
            word.as_ptr(),
            futex::wait_op(false, libc::CLOCK_MONOTONIC),
            expected,
            at.as_ref(),
            futex::MATCH_ANY,
        )
    };
    r == Err(libc::ETIMEDOUT)
}

/// Wakes a thread sleeping in [`futex_wait`] on `word`.
pub(crate) fn futex_wake(word: &AtomicU32) {
    futex::wake(word, 1, futex::MATCH_ANY, false);
}

/// Sets the calling thread's timer slack to 1 ns until dropped. Linux rounds the sleeps of
/// ordinary threads up by their slack (50 µs by default) to batch wakeups, which would make a
/// microsecond deadline a 50 µs one.
pub(crate) struct MinimalSlack {
    previous: libc::c_ulong,
}

impl MinimalSlack {
    pub fn set() -> MinimalSlack {
        // SAFETY: PR_GET_TIMERSLACK takes no pointer and returns the slack of the calling thread.
        let previous = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
        // SAFETY: PR_SET_TIMERSLACK takes a value; it only affects the calling thread.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
        MinimalSlack {
            previous: previous.max(0) as libc::c_ulong,
        }
    }
}

impl Drop for MinimalSlack {
    fn drop(&mut self) {
        // SAFETY: as in `set`; 0 would mean "the default", which is what a failed query leaves.
        unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, self.previous, 0, 0, 0) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_round_trip_and_reject_overflow() {
        for clock in [DeadlineClock::Monotonic, DeadlineClock::Tsc { per_ns: 2.5 }] {
            let t = clock.ticks(Duration::from_micros(40)).unwrap();
            assert_eq!(clock.duration(t), Duration::from_micros(40));
            assert_eq!(clock.ticks(Duration::MAX), None);
        }
        assert_eq!(
            DeadlineClock::Tsc { per_ns: 2.5 }.ticks(Duration::from_micros(4)),
            Some(10_000)
        );
    }

    #[test]
    fn the_best_clock_advances() {
        let c = DeadlineClock::best(None);
        let a = c.now();
        std::thread::sleep(Duration::from_millis(1));
        assert!(c.now() > a);
        if let Some(g) = tsc_ghz() {
            assert!(c.is_tsc() && g > 0.05);
        }
        assert_eq!(
            DeadlineClock::best(Some(3.0)).is_tsc(),
            cfg!(target_arch = "x86_64")
        );
    }

    #[test]
    fn futex_wait_returns_at_its_deadline_or_on_a_changed_word() {
        let w = AtomicU32::new(7);
        // A word that no longer holds the expected value: no sleep at all.
        assert!(!futex_wait(&w, 8, None));
        let deadline = monotonic_ns() + 1_000_000;
        // Early returns (a signal, a spurious wake) are allowed; a timeout must come.
        let timed_out = (0..1000).any(|_| futex_wait(&w, 7, Some(deadline)));
        assert!(timed_out);
        assert!(monotonic_ns() >= deadline);
    }
}
