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

impl Measurement {
    /// The repetitions of one row as one measurement: samples concatenated (per waiter for
    /// broadcasts), receiver CPU averaged, clamps added, each scenario-specific number the
    /// median of its repetitions' values. `None` for no repetitions.
    pub fn pool(reps: &[Measurement]) -> Option<Measurement> {
        let (first, rest) = reps.split_first()?;
        let mut out = first.clone();
        for r in rest {
            match (&mut out.samples, &r.samples) {
                (Samples::Latency(a), Samples::Latency(b)) => a.extend_from_slice(b),
                (Samples::Broadcast(a), Samples::Broadcast(b)) if a.len() == b.len() => {
                    // Broadcasts are counted up to the shortest waiter's record: pad none.
                    let n = a.iter().map(Vec::len).min().unwrap_or(0);
                    for w in a.iter_mut() {
                        w.truncate(n);
                    }
                    let m = b.iter().map(Vec::len).min().unwrap_or(0);
                    for (wa, wb) in a.iter_mut().zip(b) {
                        wa.extend_from_slice(&wb[..m]);
                    }
                }
                (a, b) => *a = Samples::Latency(a.all().into_iter().chain(b.all()).collect()),
            }
            out.pinned &= r.pinned;
            out.clamped += r.clamped;
        }
        let cpu: Option<Vec<f64>> = reps.iter().map(|r| r.waiter_cpu_ns_per_event).collect();
        out.waiter_cpu_ns_per_event = cpu.map(|c| c.iter().sum::<f64>() / c.len() as f64);
        for (key, value) in out.extra.iter_mut() {
            let values: Vec<f64> = reps
                .iter()
                .filter_map(|r| r.extra.iter().find(|(k, _)| k == key).map(|(_, v)| *v))
                .collect();
            if let Some(m) = crate::interval::median(&values) {
                *value = m;
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(samples: Samples, cpu: Option<f64>, extra: f64) -> Measurement {
        Measurement {
            unit: Unit::Ns,
            samples,
            waiter_cpu_ns_per_event: cpu,
            pinned: true,
            clamped: 1,
            extra: vec![("msgs_per_s", extra)],
        }
    }

    #[test]
    fn pooling_concatenates_samples_and_takes_medians_of_extras() {
        let reps = [
            m(Samples::Latency(vec![1, 2]), Some(10.0), 5.0),
            m(Samples::Latency(vec![3]), Some(20.0), 1.0),
            m(Samples::Latency(vec![4]), Some(30.0), 3.0),
        ];
        let p = Measurement::pool(&reps).expect("pooled");
        assert_eq!(p.samples, Samples::Latency(vec![1, 2, 3, 4]));
        assert_eq!(p.waiter_cpu_ns_per_event, Some(20.0));
        assert_eq!(p.clamped, 3);
        assert_eq!(p.extra, vec![("msgs_per_s", 3.0)]);
        assert!(Measurement::pool(&[]).is_none());
    }

    #[test]
    fn pooling_broadcasts_keeps_waiters_apart() {
        let reps = [
            m(Samples::Broadcast(vec![vec![1, 2], vec![3]]), None, 0.0),
            m(Samples::Broadcast(vec![vec![5], vec![6]]), Some(1.0), 0.0),
        ];
        let p = Measurement::pool(&reps).expect("pooled");
        assert_eq!(p.samples, Samples::Broadcast(vec![vec![1, 5], vec![3, 6]]));
        // A repetition without CPU time makes the pooled row have none.
        assert_eq!(p.waiter_cpu_ns_per_event, None);
    }
}
