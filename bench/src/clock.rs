//! The one timestamp source every measurement in a run uses.
//!
//! Sender and receiver stamp on different cores, so the source must be one both can read and that
//! means the same instant on both: the TSC where it is invariant (`CPUID.80000007H:EDX[8]`: it
//! ticks at a constant rate, in every P- and C-state, synchronised across cores), calibrated
//! against `CLOCK_MONOTONIC`; otherwise `clock_gettime(CLOCK_MONOTONIC)` itself. The simulation
//! profile uses the raw TSC and reports cycles, as the papers do for gem5 and the cycle counter.
//!
//! [`Clock::now`] is async-signal-safe (an instruction or a vDSO read), so signal and
//! user-interrupt handlers stamp arrival times with it.

use std::time::Duration;

/// Which counter a [`Clock`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Invariant TSC, converted to nanoseconds with a calibrated rate.
    Tsc,
    /// `clock_gettime(CLOCK_MONOTONIC)`, already nanoseconds.
    Monotonic,
    /// Raw TSC reported as cycles (the simulation profile).
    Cycles,
}

/// The unit samples are reported in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Nanoseconds.
    Ns,
    /// TSC cycles.
    Cycles,
}

impl Unit {
    /// The unit's name as it appears in JSON and CSV headers.
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ns => "ns",
            Unit::Cycles => "cycles",
        }
    }
}

/// A calibrated timestamp source. Copy it into every thread (and handler) of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    source: Source,
    /// TSC ticks per nanosecond (the TSC frequency in GHz); 1.0 for [`Source::Monotonic`].
    ticks_per_ns: f64,
    /// Whether `ticks_per_ns` was measured (false: assumed because calibration was impossible).
    calibrated: bool,
}

/// The frequency assumed for cycle timestamps when `CLOCK_MONOTONIC` cannot calibrate the TSC
/// (the Sapphire Rapids configuration both papers' simulations use runs at 2 GHz).
const ASSUMED_SIM_GHZ: f64 = 2.0;

impl Clock {
    /// The best source for native runs: the invariant TSC when the CPU has one, else
    /// `CLOCK_MONOTONIC`. Calibration spins for `calibration` on the calling thread.
    pub fn native(calibration: Duration) -> Clock {
        if tsc_is_invariant()
            && let Some(ghz) = calibrate_tsc(calibration)
        {
            return Clock {
                source: Source::Tsc,
                ticks_per_ns: ghz,
                calibrated: true,
            };
        }
        Clock::monotonic()
    }

    /// `clock_gettime(CLOCK_MONOTONIC)` nanoseconds.
    pub fn monotonic() -> Clock {
        Clock {
            source: Source::Monotonic,
            ticks_per_ns: 1.0,
            calibrated: true,
        }
    }

    /// Raw TSC cycles for simulation: the rate is measured if `CLOCK_MONOTONIC` works (gem5's
    /// syscall emulation implements it) and assumed to be 2 GHz otherwise; it is used only to turn
    /// the `--gap-us` gaps into cycles.
    pub fn cycles(calibration: Duration) -> Clock {
        match calibrate_tsc(calibration) {
            Some(ghz) => Clock {
                source: Source::Cycles,
                ticks_per_ns: ghz,
                calibrated: true,
            },
            None => Clock {
                source: Source::Cycles,
                ticks_per_ns: ASSUMED_SIM_GHZ,
                calibrated: false,
            },
        }
    }

    /// Which counter this clock reads.
    pub fn source(&self) -> Source {
        self.source
    }

    /// The unit samples converted by [`Clock::to_unit`] are in.
    pub fn unit(&self) -> Unit {
        match self.source {
            Source::Cycles => Unit::Cycles,
            Source::Tsc | Source::Monotonic => Unit::Ns,
        }
    }

    /// The TSC frequency in GHz, for TSC-based sources.
    pub fn tsc_ghz(&self) -> Option<f64> {
        match self.source {
            Source::Tsc | Source::Cycles => Some(self.ticks_per_ns),
            Source::Monotonic => None,
        }
    }

    /// Whether the rate was measured rather than assumed.
    pub fn is_calibrated(&self) -> bool {
        self.calibrated
    }

    /// A human description, e.g. `TSC (invariant) at 2.450 GHz`.
    pub fn describe(&self) -> String {
        match self.source {
            Source::Tsc => format!("invariant TSC at {:.3} GHz", self.ticks_per_ns),
            Source::Monotonic => "clock_gettime(CLOCK_MONOTONIC) (no invariant TSC)".to_string(),
            Source::Cycles if self.calibrated => {
                format!("raw TSC cycles ({:.3} GHz)", self.ticks_per_ns)
            }
            Source::Cycles => format!("raw TSC cycles ({ASSUMED_SIM_GHZ} GHz assumed)"),
        }
    }

    /// The current timestamp in ticks. Ordered: it is not taken before earlier instructions
    /// complete nor after later ones start, so "right before notify" and "right after wake" mean
    /// what they say.
    #[inline(always)]
    pub fn now(&self) -> u64 {
        match self.source {
            Source::Tsc | Source::Cycles => rdtsc_ordered(),
            Source::Monotonic => monotonic_ns(),
        }
    }

    /// Ticks to the report unit (nanoseconds or cycles), rounded.
    pub fn to_unit(&self, ticks: u64) -> u64 {
        match self.source {
            Source::Tsc => (ticks as f64 / self.ticks_per_ns).round() as u64,
            Source::Monotonic | Source::Cycles => ticks,
        }
    }

    /// A duration in ticks (how long to spin for a gap).
    pub fn ticks(&self, d: Duration) -> u64 {
        (d.as_nanos() as f64 * self.ticks_per_ns).round() as u64
    }
}

/// `CPUID.80000007H:EDX[8]`: the TSC is invariant.
pub fn tsc_is_invariant() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__cpuid;
        let max_ext = __cpuid(0x8000_0000).eax;
        max_ext >= 0x8000_0007 && __cpuid(0x8000_0007).edx & (1 << 8) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `LFENCE; RDTSC; LFENCE`: the first fence keeps the read from passing earlier instructions, the
/// second keeps later ones from starting before it.
#[inline(always)]
fn rdtsc_ordered() -> u64 {
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

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds (0 if the call fails, which it cannot for
/// this clock on Linux).
#[inline(always)]
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC).unwrap_or(0)
}

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) in nanoseconds, if the kernel (or
/// simulator) provides it.
pub fn thread_cpu_ns() -> Option<u64> {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

fn clock_ns(clock: libc::clockid_t) -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Measures the TSC rate against `CLOCK_MONOTONIC` over about `span`: each end reads the TSC
/// between two clock reads and keeps the tightest of a few tries, so the error is the width of
/// one clock read over `span`. `None` if the clock does not advance or the result is absurd.
fn calibrate_tsc(span: Duration) -> Option<f64> {
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
    // Bounded: a clock that never advances (a simulator without time) must not hang us.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_is_nanoseconds_and_advances() {
        let c = Clock::monotonic();
        assert_eq!(c.unit(), Unit::Ns);
        let a = c.now();
        std::thread::sleep(Duration::from_millis(2));
        let b = c.now();
        assert!(b > a);
        assert_eq!(c.to_unit(1234), 1234);
        assert_eq!(c.ticks(Duration::from_micros(3)), 3000);
    }

    #[test]
    fn native_clock_converts_ticks_with_its_rate() {
        let c = Clock::native(Duration::from_millis(5));
        match c.source() {
            Source::Tsc => {
                let ghz = c.tsc_ghz().expect("a TSC clock has a rate");
                assert!(ghz > 0.05);
                // A microsecond's worth of ticks converts back to a microsecond.
                let ticks = c.ticks(Duration::from_micros(1));
                assert!((c.to_unit(ticks) as i64 - 1000).abs() <= 1);
            }
            Source::Monotonic => assert_eq!(c.tsc_ghz(), None),
            Source::Cycles => panic!("native never reports cycles"),
        }
    }

    #[test]
    fn cycles_clock_reports_raw_ticks() {
        let c = Clock::cycles(Duration::from_millis(1));
        assert_eq!(c.unit(), Unit::Cycles);
        assert_eq!(c.to_unit(777), 777);
        assert!(c.tsc_ghz().is_some());
    }

    #[test]
    fn thread_cpu_time_is_available_and_monotone() {
        let a = thread_cpu_ns().expect("Linux has CLOCK_THREAD_CPUTIME_ID");
        let mut x = 0u64;
        for i in 0..100_000u64 {
            x = std::hint::black_box(x.wrapping_add(i));
        }
        let b = thread_cpu_ns().expect("Linux has CLOCK_THREAD_CPUTIME_ID");
        assert!(b >= a);
    }
}
