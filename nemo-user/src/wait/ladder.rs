//! The wait ladder: the rungs a waiter climbs before it parks.
//!
//! Each rung is a small function with one job and one bound:
//!
//! 1. [`spin`]: poll the cache line the notifier will write, with `pause` between polls. A
//!    notification reaches a spinning waiter at cache-coherence speed.
//! 2. [`monitor`]: `umonitor` the line and `umwait` in C0.1 until it is written (CPUs with
//!    WAITPKG, detected at run time); almost as fast to wake, far cheaper to sit in.
//! 3. park: the caller's business (futex, or whatever [`Park`](crate::embed::Park) it uses), after
//!    [`climb`] returns [`Climb::Park`].
//!
//! A policy whose last rung is not the kernel (`parks() == false`) keeps spinning instead.

use std::time::Instant;

use super::{Deadline, WaitPolicy};

/// Polls between two clock reads while spinning. Reading the clock costs about as much as a few
/// dozen polls, so the bound is honoured to within a few hundred nanoseconds.
const POLLS_PER_CLOCK_READ: u32 = 32;

/// Where [`climb`] stopped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Climb<T> {
    /// `poll` produced a result.
    Done(T),
    /// The deadline passed while spinning or monitor-waiting.
    Expired,
    /// The bounded rungs are exhausted and the policy parks: go to the kernel.
    Park,
}

/// Climbs the unparked rungs of `policy`: polls with `poll` until it returns `Some`, the deadline
/// passes, or the policy says to park. `line` is the address the notifier writes (for `umwait`).
/// `gate` is asked between polls whether spinning may go on; when it says no, the bounded rungs
/// end there (adaptive policies stop spinning when a parked peer shares their CPU).
#[inline]
pub(crate) fn climb<T>(
    policy: &WaitPolicy,
    deadline: Option<&Deadline>,
    line: *const u8,
    mut gate: impl FnMut() -> bool,
    mut poll: impl FnMut() -> Option<T>,
) -> Climb<T> {
    if let Some(x) = poll() {
        return Climb::Done(x);
    }
    let umwait = policy.umwait_ns() > 0 && waitpkg();
    if policy.spin_ns() > 0 {
        let bound = (!policy.spin_unbounded()).then_some(policy.spin_ns());
        match spin(bound, deadline, &mut gate, &mut poll) {
            Climb::Park => {}
            other => return other,
        }
    }
    if umwait {
        let bound = (!policy.umwait_unbounded()).then_some(policy.umwait_ns());
        match monitor(bound, deadline, line, &mut gate, &mut poll) {
            Climb::Park => {}
            other => return other,
        }
    }
    if policy.parks() {
        return Climb::Park;
    }
    // A policy that never parks repeats its last unparked rung until woken or expired.
    if umwait {
        monitor(None, deadline, line, &mut || true, &mut poll)
    } else {
        spin(None, deadline, &mut || true, &mut poll)
    }
}

/// Rung 1: spins for at most `bound_ns` (forever if `None`), or until `gate` says no.
#[inline]
pub(crate) fn spin<T>(
    bound_ns: Option<u32>,
    deadline: Option<&Deadline>,
    gate: &mut impl FnMut() -> bool,
    poll: &mut impl FnMut() -> Option<T>,
) -> Climb<T> {
    let start = Instant::now();
    loop {
        for _ in 0..POLLS_PER_CLOCK_READ {
            core::hint::spin_loop();
            if let Some(x) = poll() {
                return Climb::Done(x);
            }
        }
        if deadline.is_some_and(Deadline::has_passed) {
            return Climb::Expired;
        }
        if bound_ns.is_some_and(|b| start.elapsed().as_nanos() >= u128::from(b)) || !gate() {
            return Climb::Park;
        }
    }
}

/// Rung 2: `umonitor`/`umwait` on `line` for at most `bound_ns`. Only called where [`waitpkg`]
/// said yes.
#[cfg(target_arch = "x86_64")]
fn monitor<T>(
    bound_ns: Option<u32>,
    deadline: Option<&Deadline>,
    line: *const u8,
    gate: &mut impl FnMut() -> bool,
    poll: &mut impl FnMut() -> Option<T>,
) -> Climb<T> {
    use uintr_sys::instructions::{rdtsc, umonitor, umwait};
    /// One `umwait` lasts at most this many TSC ticks before the bounds are checked again (the
    /// OS also caps it, through `IA32_UMWAIT_CONTROL`, at 100 000 ticks by default).
    const SLICE_TICKS: u64 = 20_000;
    let start = Instant::now();
    loop {
        // SAFETY: `waitpkg()` confirmed WAITPKG (CPUID.(7,0):ECX[5]) before this rung was chosen;
        // UMONITOR only arms address monitoring of `line`, which is readable (it is the word the
        // waiter polls).
        unsafe { umonitor(line) };
        // Poll after arming: a store between the poll and UMONITOR would otherwise go unseen.
        if let Some(x) = poll() {
            return Climb::Done(x);
        }
        // SAFETY: as above; UMWAIT only waits.
        unsafe { umwait(false, rdtsc().wrapping_add(SLICE_TICKS)) };
        if let Some(x) = poll() {
            return Climb::Done(x);
        }
        if deadline.is_some_and(Deadline::has_passed) {
            return Climb::Expired;
        }
        if bound_ns.is_some_and(|b| start.elapsed().as_nanos() >= u128::from(b)) || !gate() {
            return Climb::Park;
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn monitor<T>(
    _: Option<u32>,
    _: Option<&Deadline>,
    _: *const u8,
    _: &mut impl FnMut() -> bool,
    _: &mut impl FnMut() -> Option<T>,
) -> Climb<T> {
    Climb::Park
}

/// Whether the CPU has WAITPKG (`umonitor`/`umwait`), from CPUID, cached after the first call.
#[inline]
pub(crate) fn waitpkg() -> bool {
    use std::sync::atomic::{AtomicU8, Ordering};
    static CACHE: AtomicU8 = AtomicU8::new(0);
    match CACHE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = uintr_sys::detect::cpu_has_waitpkg();
            CACHE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn done_at_first_poll_skips_every_rung() {
        let r = climb(
            &WaitPolicy::spin_only(),
            None,
            std::ptr::null(),
            || true,
            || Some(7),
        );
        assert_eq!(r, Climb::Done(7));
    }

    #[test]
    fn park_only_goes_straight_to_park() {
        let mut polls = 0;
        let r: Climb<()> = climb(
            &WaitPolicy::park_only(),
            None,
            std::ptr::null(),
            || true,
            || {
                polls += 1;
                None
            },
        );
        assert_eq!(r, Climb::Park);
        assert_eq!(polls, 1);
    }

    #[test]
    fn bounded_spin_ends_in_park_after_polling() {
        let policy = WaitPolicy::spin_then_park(Duration::from_micros(200));
        let mut polls = 0u32;
        let r: Climb<()> = climb(
            &policy,
            None,
            std::ptr::null(),
            || true,
            || {
                polls += 1;
                None
            },
        );
        assert_eq!(r, Climb::Park);
        assert!(polls > POLLS_PER_CLOCK_READ, "{polls}");
    }

    #[test]
    fn spin_finds_a_later_result() {
        let mut n = 0;
        let r = climb(
            &WaitPolicy::spin_only(),
            None,
            std::ptr::null(),
            || true,
            || {
                n += 1;
                (n == 1000).then_some(n)
            },
        );
        assert_eq!(r, Climb::Done(1000));
    }

    #[test]
    fn a_policy_that_never_parks_keeps_polling_after_its_bounds() {
        let policy = WaitPolicy::spin_only().with_spin(Duration::from_micros(1));
        let mut n = 0u32;
        let r = climb(
            &policy,
            None,
            std::ptr::null(),
            || true,
            || {
                n += 1;
                (n == 200_000).then_some(n)
            },
        );
        assert_eq!(r, Climb::Done(200_000));
    }

    #[test]
    fn spin_only_honours_the_deadline() {
        let d = Deadline::after(Duration::from_millis(2));
        let r: Climb<()> = climb(
            &WaitPolicy::spin_only(),
            Some(&d),
            std::ptr::null(),
            || true,
            || None,
        );
        assert_eq!(r, Climb::Expired);
        assert!(d.has_passed());
    }
}
