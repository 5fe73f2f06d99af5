//! Adaptive spinning: how long a thread spins before it parks, learned from its own recent
//! waits.
//!
//! Spinning pays when the notification comes while the waiter still spins (then it arrives at
//! cache-coherence speed instead of through the scheduler) and costs when it does not: the
//! spinner burns its core — which, on a machine with more runnable threads than cores, is the
//! core the notifier or a just-woken thread needed — and the CPU time it burns makes the
//! scheduler slower to run it when it is finally woken. An unmodified program cannot say which
//! case it is in, so the shim learns it per thread:
//!
//! - a wait that ends while spinning restores the full spin bound (spinning pays here);
//! - a wait that has to park halves the thread's budget (down to no spin at all);
//! - every `PROBE_EVERY`-th (16th) wait spins for the full bound anyway, so a thread whose waits
//!   became short again finds out.
//!
//! Per thread rather than per condvar because the 48 bytes of a `pthread_cond_t` have no room
//! left, and a thread's waits tend to look alike (a worker waiting for jobs, a consumer waiting
//! for a producer). Policies that never park, or never spin, are used as they are.

use std::cell::Cell;
use std::time::Duration;

use nemo_user::wait::{WaitOutcome, WaitPolicy};

/// One wait in this many spins for the full bound, whatever the budget.
pub(crate) const PROBE_EVERY: u32 = 16;

/// A budget of `FULL` means the policy's own bounds.
const FULL: u32 = u32::MAX;

thread_local! {
    /// This thread's spin budget in nanoseconds.
    static BUDGET: Cell<u32> = const { Cell::new(FULL) };
    /// Waits started by this thread (wrapping), for the probes.
    static WAITS: Cell<u32> = const { Cell::new(0) };
}

/// Whether `p` is a policy this module adapts: a finite, non-zero spin bound, then park.
fn adapts(p: &WaitPolicy) -> Option<Duration> {
    p.spin().filter(|b| !b.is_zero() && p.parks())
}

/// The policy for the wait this thread is starting: `base` with its spinning (and `umwait`)
/// cut to the thread's budget.
pub(crate) fn policy_for_this_wait(base: &WaitPolicy) -> WaitPolicy {
    if adapts(base).is_none() {
        return *base;
    }
    let n = WAITS.with(|w| {
        let n = w.get().wrapping_add(1);
        w.set(n);
        n
    });
    let budget = BUDGET.with(Cell::get);
    if budget == FULL || n.is_multiple_of(PROBE_EVERY) {
        return *base;
    }
    let cut = Duration::from_nanos(u64::from(budget));
    let mut p = base.with_spin(base.spin().map_or(cut, |s| s.min(cut)));
    if let Some(u) = base.umwait() {
        p = p.with_umwait(u.min(cut));
    }
    p
}

/// Learns from how the spinning phase of a wait ended: `Some(Woken)` — woken while spinning;
/// `None` — it had to park; `Some(TimedOut)` — its deadline passed first (says nothing about
/// notifications).
pub(crate) fn record(base: &WaitPolicy, spun: Option<WaitOutcome>) {
    let Some(bound) = adapts(base) else {
        return;
    };
    match spun {
        Some(WaitOutcome::Woken) => BUDGET.with(|b| b.set(FULL)),
        Some(WaitOutcome::TimedOut) => {}
        None => BUDGET.with(|b| {
            let now = match b.get() {
                FULL => u32::try_from(bound.as_nanos()).unwrap_or(FULL - 1),
                x => x,
            };
            b.set(now / 2);
        }),
    }
}

/// A short description for the verbose line.
pub(crate) fn describe(base: &WaitPolicy) -> &'static str {
    if adapts(base).is_some() {
        "adaptive per thread"
    } else {
        "fixed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: Duration = Duration::from_micros(20);

    fn base() -> WaitPolicy {
        WaitPolicy::spin_then_park(BOUND)
    }

    /// Each test runs on its own thread, so it starts from a fresh budget.
    fn spin_of_next_wait() -> Duration {
        policy_for_this_wait(&base()).spin().expect("bounded")
    }

    #[test]
    fn parking_halves_the_budget_down_to_nothing_and_a_spin_win_restores_it() {
        assert_eq!(spin_of_next_wait(), BOUND);
        record(&base(), None);
        assert_eq!(spin_of_next_wait(), BOUND / 2);
        record(&base(), None);
        assert_eq!(spin_of_next_wait(), BOUND / 4);
        for _ in 0..40 {
            record(&base(), None);
        }
        // Not a probe (the 4th wait so far), and the budget is spent.
        assert_eq!(spin_of_next_wait(), Duration::ZERO);
        record(&base(), Some(WaitOutcome::TimedOut));
        assert_eq!(
            spin_of_next_wait(),
            Duration::ZERO,
            "a timeout teaches nothing"
        );
        record(&base(), Some(WaitOutcome::Woken));
        assert_eq!(spin_of_next_wait(), BOUND);
    }

    #[test]
    fn every_sixteenth_wait_probes_with_the_full_bound() {
        for _ in 0..40 {
            record(&base(), None);
        }
        let spins: Vec<Duration> = (0..2 * PROBE_EVERY).map(|_| spin_of_next_wait()).collect();
        let full = spins.iter().filter(|s| **s == BOUND).count();
        assert_eq!(full, 2, "{spins:?}");
        assert!(spins.iter().all(|s| *s == BOUND || s.is_zero()));
    }

    #[test]
    fn fixed_policies_are_left_alone() {
        for p in [WaitPolicy::park_only(), WaitPolicy::spin_only()] {
            for _ in 0..5 {
                record(&p, None);
                assert_eq!(policy_for_this_wait(&p), p);
            }
            assert_eq!(describe(&p), "fixed");
        }
        assert_eq!(describe(&base()), "adaptive per thread");
    }
}
