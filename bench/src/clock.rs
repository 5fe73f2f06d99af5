//! The one timestamp source every measurement in a run uses.
//!
//! Sender and receiver stamp on different cores, so the source must be one both can read and that
//! means the same instant on both: the TSC where it is invariant (`CPUID.80000007H:EDX[8]`: it
//! ticks at a constant rate, in every P- and C-state, synchronised across cores), calibrated
//! against `CLOCK_MONOTONIC`; otherwise `clock_gettime(CLOCK_MONOTONIC)` itself. The simulation
//! profile uses the raw TSC and reports cycles, as the papers do for gem5 and the cycle counter.
//!
//! [`Clock::now`] is async-signal-safe (an instruction or a vDSO read), so signal and
//! user-interrupt handlers stamp arrival times with it. The counters themselves (the TSC, its
//! invariance and calibration, `CLOCK_MONOTONIC`) are `uintr_sys::clock`'s, the same the
//! timer core reads.

use std::time::Duration;

pub use uintr_sys::clock::monotonic_ns;
use uintr_sys::clock::{calibrate_tsc, clock_ns, rdtsc_ordered, tsc_is_invariant};

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

/// Why `--sim` reports no waiter CPU time.
pub const SIM_NO_THREAD_CPU: &str = "gem5's syscall emulation answers every clock, \
    CLOCK_THREAD_CPUTIME_ID included, with simulated wall time: there is no per-thread CPU time";

/// The calling thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`) in nanoseconds, if the kernel
/// provides it. Under gem5's syscall emulation the answer is simulated wall time, not CPU time
/// ([`SIM_NO_THREAD_CPU`]), so `--sim` runs never call it.
pub fn thread_cpu_ns() -> Option<u64> {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
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
