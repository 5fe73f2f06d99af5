//! The clock: `CLOCK_MONOTONIC` nanoseconds, the TSC, and the TSC's rate.
//!
//! One place for every time source of the crates above this one: `nemo-user`'s deadlines,
//! timer core and handler timestamps, the benchmark's sample stamps. It lives here, beside the
//! instructions, because it is one: `rdtsc` and `clock_gettime` wrapped, nothing of nemo's.
//!
//! The TSC is a usable clock only where it is *invariant* (`CPUID.80000007H:EDX[8]`: it ticks at
//! a constant rate in every P- and C-state, synchronised across cores); its rate is then measured
//! against `CLOCK_MONOTONIC` ([`calibrate_tsc`]), because the CPU does not report it. Every
//! function here is async-signal-safe except the calibrations, which spin for their span.

use std::sync::OnceLock;
use std::time::Duration;

/// `clock_gettime(clock)`; `None` if the kernel refuses the clock.
#[inline]
pub fn now(clock: libc::clockid_t) -> Option<libc::timespec> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts)
}

/// `clock_gettime(clock)` in nanoseconds; `None` if the kernel refuses the clock.
#[inline]
pub fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    now(clock).map(|ts| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds (0 if the call fails, which it cannot for
/// this clock on Linux).
#[inline(always)]
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// A `timespec` for `ns` nanoseconds (since the clock's epoch).
#[inline]
pub fn timespec_of_ns(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

/// A cheap timestamp for stamping events in a handler: the TSC (`rdtsc`, a few cycles, no
/// serialisation) on x86_64, `CLOCK_MONOTONIC` nanoseconds elsewhere. Async-signal-safe. Compare
/// stamps taken on the same machine only; convert with a calibrated frequency.
#[inline(always)]
pub fn timestamp() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        crate::instructions::rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        monotonic_ns()
    }
}

/// `LFENCE; RDTSC; LFENCE` on x86_64: the first fence keeps the read from passing earlier
/// instructions, the second keeps later ones from starting before it (so "right before" and
/// "right after" mean what they say). `CLOCK_MONOTONIC` nanoseconds elsewhere.
#[inline(always)]
pub fn rdtsc_ordered() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_lfence, _rdtsc};
        // SAFETY: LFENCE is SSE2, part of the x86_64 baseline; RDTSC is available in user mode
        // on every x86_64 Linux system (the kernel leaves CR4.TSD clear).
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        monotonic_ns()
    }
}

/// `CPUID.80000007H:EDX[8]`: the TSC is invariant.
pub fn tsc_is_invariant() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__cpuid;
        __cpuid(0x8000_0000).eax >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Measures the TSC rate (GHz: ticks per nanosecond) against `CLOCK_MONOTONIC` over about
/// `span`, spinning on the calling thread: each end reads the TSC between two clock reads and
/// keeps the tightest of a few tries, so the error is the width of one clock read over `span`.
/// `None` if the clock does not advance (a simulator without time) or the result is absurd.
pub fn calibrate_tsc(span: Duration) -> Option<f64> {
    fn paired() -> Option<(u64, u64)> {
        let mut best: Option<(u64, u64, u64)> = None; // (window, ns, tsc)
        for _ in 0..5 {
            let a = clock_ns(libc::CLOCK_MONOTONIC)?;
            let t = rdtsc_ordered();
            let b = clock_ns(libc::CLOCK_MONOTONIC)?;
            let window = b.saturating_sub(a);
            if best.is_none_or(|(w, _, _)| window < w) {
                best = Some((window, a + window / 2, t));
            }
        }
        best.map(|(_, ns, tsc)| (ns, tsc))
    }
    let (ns0, tsc0) = paired()?;
    let want = span.as_nanos() as u64;
    // Bounded: a clock that never advances must not hang us.
    let mut spins: u64 = 0;
    let first = clock_ns(libc::CLOCK_MONOTONIC)?;
    loop {
        let now = clock_ns(libc::CLOCK_MONOTONIC)?;
        if now.saturating_sub(ns0) >= want {
            break;
        }
        spins += 1;
        // A clock that does not move at all is no reference; give up early rather than spin.
        if (spins > 100_000 && now == first) || spins > 50_000_000 {
            return None;
        }
        std::hint::spin_loop();
    }
    let (ns1, tsc1) = paired()?;
    let dns = ns1.checked_sub(ns0)?;
    let dtsc = tsc1.checked_sub(tsc0)?;
    if dns == 0 {
        return None;
    }
    let ghz = dtsc as f64 / dns as f64;
    (0.05..100.0).contains(&ghz).then_some(ghz)
}

/// The TSC rate in GHz, measured once per process (2 ms of spinning at the first call); `None`
/// where the TSC is not invariant (or the monotonic clock does not move, as in some
/// simulators).
pub fn tsc_ghz() -> Option<f64> {
    static GHZ: OnceLock<Option<f64>> = OnceLock::new();
    *GHZ.get_or_init(|| {
        tsc_is_invariant()
            .then(|| calibrate_tsc(Duration::from_millis(2)))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_advances_in_nanoseconds() {
        let a = monotonic_ns();
        std::thread::sleep(Duration::from_millis(2));
        let b = monotonic_ns();
        assert!(b - a >= 2_000_000, "{a} then {b}");
        let ts = timespec_of_ns(3_000_000_007);
        assert_eq!((ts.tv_sec, ts.tv_nsec), (3, 7));
        assert_eq!(clock_ns(-1), None);
    }

    #[test]
    fn a_calibrated_tsc_converts_a_sleep_back_to_its_length() {
        let Some(ghz) = tsc_ghz() else {
            assert!(!tsc_is_invariant() || calibrate_tsc(Duration::from_millis(1)).is_none());
            return;
        };
        assert!(tsc_is_invariant() && ghz > 0.05);
        let (t0, n0) = (rdtsc_ordered(), monotonic_ns());
        std::thread::sleep(Duration::from_millis(5));
        let (t1, n1) = (rdtsc_ordered(), monotonic_ns());
        let ns_by_tsc = (t1 - t0) as f64 / ghz;
        let ns = (n1 - n0) as f64;
        assert!((ns_by_tsc / ns - 1.0).abs() < 0.05, "{ns_by_tsc} vs {ns}");
    }
}
