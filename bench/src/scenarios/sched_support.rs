//! What the `nemo_user::sched` scenarios (`kick`, `hol`, `preempt`) share: the backend a row
//! stands for, work that cannot be optimised away, and latency percentiles.
//!
//! Their rows are the `nemo_<backend>` interrupt mechanisms; the scenario builds a `sched`
//! runtime on the row's backend (`InterruptLink::nemo_backend`) instead of driving the link.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use nemo_user::BackendKind;

use crate::harness::Failure;
use crate::mechanisms::{Instance, Setup, Skipped};

/// Under gem5, a sched scenario's threads each need a simulated core: `main` (sending or
/// joining), the worker, and the runtime's timer thread, which spins there.
pub(super) fn three_sim_cores(setup: &Setup<'_>) -> Result<(), Skipped> {
    if setup.sim && setup.cores < 3 {
        return Err(Skipped::new(format!(
            "the main thread, the worker and the spinning timer thread need 3 cores, and gem5 \
             syscall emulation runs one thread per core: simulate 3 cores \
             (run_nemo_bench.py --cores 3), not {}",
            setup.cores
        )));
    }
    Ok(())
}

/// The backend of a `nemo_<backend>` row.
pub(super) fn backend_of(instance: &Instance) -> Result<BackendKind, Failure> {
    match instance {
        Instance::Interrupt(link) => link.nemo_backend().ok_or_else(|| {
            Failure::Unsupported("a sched scenario needs a nemo_<backend> row".into())
        }),
        Instance::Blocking(_) => Err(Failure::Unsupported(
            "a sched scenario needs a nemo_<backend> row".into(),
        )),
    }
}

/// Whether the row's runtime ticks lazily (`nemo_signal_lazy`).
pub(super) fn lazy_ticks_of(instance: &Instance) -> bool {
    match instance {
        Instance::Interrupt(link) => link.nemo_lazy_ticks(),
        Instance::Blocking(_) => false,
    }
}

/// `n` rounds of a dependent integer chain (about a nanosecond each).
#[inline]
pub(super) fn spin(n: u32) -> u64 {
    let mut x = 1u64;
    for _ in 0..n {
        x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
    }
    x
}

/// Rounds of [`spin`] per microsecond on this thread, measured over a few milliseconds.
pub(super) fn spins_per_us() -> f64 {
    const CHUNK: u32 = 10_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..20 {
            spin(CHUNK);
        }
        let us = t.elapsed().as_secs_f64() * 1e6;
        best = best.min(us);
    }
    f64::from(CHUNK) * 20.0 / best
}

/// Latencies in nanoseconds, for percentiles.
pub(super) struct Latencies(Histogram<u64>);

impl Latencies {
    pub(super) fn new() -> Latencies {
        // 1 ns to an hour, 3 significant digits.
        Latencies(Histogram::new_with_bounds(1, 3_600_000_000_000, 3).expect("valid bounds"))
    }

    pub(super) fn record(&mut self, d: Duration) {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.0.saturating_record(ns);
    }

    pub(super) fn len(&self) -> u64 {
        self.0.len()
    }

    /// The `q`-quantile (0..=1) in ns; 0 with no samples.
    pub(super) fn quantile_ns(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            0.0
        } else {
            self.0.value_at_quantile(q) as f64
        }
    }
}
