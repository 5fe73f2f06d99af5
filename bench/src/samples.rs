//! What one measurement keeps: the raw samples (for CSV and CDF plots) and the per-event
//! receiver CPU cost. Statistics are computed from these later ([`crate::stats`]).

use crate::clock::Unit;

/// The raw samples of one case, in the run's unit.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    /// One latency per event (unicast, coherence).
    Latency(Vec<u64>),
    /// One latency per waiter per broadcast: `[waiter][broadcast]`.
    Broadcast(Vec<Vec<u64>>),
}

impl Samples {
    /// Every latency, flattened (for broadcast: every waiter's wake of every broadcast).
    pub fn all(&self) -> Vec<u64> {
        match self {
            Samples::Latency(v) => v.clone(),
            Samples::Broadcast(w) => w.iter().flatten().copied().collect(),
        }
    }
}

/// The result of measuring one mechanism in one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// The unit of every sample.
    pub unit: Unit,
    /// The samples, warm-up excluded.
    pub samples: Samples,
    /// CPU time (`CLOCK_THREAD_CPUTIME_ID`) the receiver threads used per event, averaged over
    /// receivers; `None` where the clock is unavailable.
    pub waiter_cpu_ns_per_event: Option<f64>,
    /// Every thread of the case was pinned to its core.
    pub pinned: bool,
    /// Samples where the receiver's stamp preceded the sender's (cross-core TSC skew), counted
    /// as 0.
    pub clamped: usize,
    /// Scenario-specific numbers for JSON and the table (`msgs_per_s`, `slowdown_pct`, ...).
    pub extra: Vec<(&'static str, f64)>,
}
