//! Statistics over kept samples: percentiles from an HDR histogram (3 significant digits: exact
//! below 2048, within 0.1 % above), exact min, max, mean and standard deviation, and Nemo's
//! per-broadcast first/last/σ (Fig. 5/6: "for one broadcast wakeup we have as many measurements
//! as there are cores, and we can compute the standard deviation among them").
//!
//! Standard deviations are population ones (divide by n): σ of a broadcast is a property of the
//! waiters measured, not an estimate for a larger population.

use hdrhistogram::Histogram;

/// The summary of one distribution, in the samples' unit.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Smallest sample.
    pub min: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest sample.
    pub max: u64,
    /// Arithmetic mean.
    pub mean: f64,
    /// Population standard deviation.
    pub stddev: f64,
}

impl Summary {
    /// Summarises `values`; `None` when there are none.
    pub fn of(values: &[u64]) -> Option<Summary> {
        let (&first, _) = values.split_first()?;
        // Auto-resizing, so no sample is ever rejected as too large.
        let mut h = Histogram::<u64>::new(3).ok()?;
        let (mut min, mut max) = (first, first);
        for &v in values {
            h.record(v).ok()?;
            min = min.min(v);
            max = max.max(v);
        }
        let (mean, stddev) = mean_stddev(values.iter().map(|&v| v as f64));
        Some(Summary {
            n: values.len(),
            min,
            // The histogram's bucket edges can exceed the true extremes; clamp to them.
            p50: h.value_at_quantile(0.50).clamp(min, max),
            p90: h.value_at_quantile(0.90).clamp(min, max),
            p99: h.value_at_quantile(0.99).clamp(min, max),
            max,
            mean,
            stddev,
        })
    }
}

/// Mean and population standard deviation (Welford's update: stable for large, close values
/// such as TSC-derived nanoseconds).
pub fn mean_stddev(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    let (mut n, mut mean, mut m2) = (0u64, 0.0f64, 0.0f64);
    for x in values {
        n += 1;
        let d = x - mean;
        mean += d / n as f64;
        m2 += d * (x - mean);
    }
    if n == 0 {
        (0.0, 0.0)
    } else {
        (mean, (m2 / n as f64).sqrt())
    }
}

/// For each broadcast: the first waiter's latency, the last waiter's, and σ of all waiters'
/// wake times (σ of the latencies: they share the broadcast's send time).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PerBroadcast {
    /// Latency to the first waiter awake, per broadcast.
    pub first: Vec<u64>,
    /// Latency to the last waiter awake, per broadcast.
    pub last: Vec<u64>,
    /// σ of the waiters' wake times, per broadcast, rounded to the unit.
    pub sigma: Vec<u64>,
}

/// Per-broadcast statistics from `latencies[waiter][broadcast]`. Broadcasts are counted up to
/// the shortest waiter's record.
pub fn per_broadcast(latencies: &[Vec<u64>]) -> PerBroadcast {
    let broadcasts = latencies.iter().map(Vec::len).min().unwrap_or(0);
    let mut out = PerBroadcast {
        first: Vec::with_capacity(broadcasts),
        last: Vec::with_capacity(broadcasts),
        sigma: Vec::with_capacity(broadcasts),
    };
    for b in 0..broadcasts {
        let wake = latencies.iter().map(|w| w[b]);
        let first = wake.clone().min().unwrap_or(0);
        let last = wake.clone().max().unwrap_or(0);
        let (_, sigma) = mean_stddev(wake.map(|v| v as f64));
        out.first.push(first);
        out.last.push(last);
        out.sigma.push(sigma.round() as u64);
    }
    out
}

/// Summaries of a broadcast case.
#[derive(Debug, Clone, PartialEq)]
pub struct BroadcastSummary {
    /// Waiters per broadcast.
    pub waiters: usize,
    /// First waiter's latency.
    pub first: Summary,
    /// Last waiter's latency.
    pub last: Summary,
    /// σ of the wake times.
    pub sigma: Summary,
}

impl BroadcastSummary {
    /// Summarises `latencies[waiter][broadcast]`.
    pub fn of(latencies: &[Vec<u64>]) -> Option<BroadcastSummary> {
        let per = per_broadcast(latencies);
        Some(BroadcastSummary {
            waiters: latencies.len(),
            first: Summary::of(&per.first)?,
            last: Summary::of(&per.last)?,
            sigma: Summary::of(&per.sigma)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_hundred() {
        let v: Vec<u64> = (1..=100).rev().collect();
        let s = Summary::of(&v).expect("non-empty");
        assert_eq!((s.n, s.min, s.max), (100, 1, 100));
        assert_eq!((s.p50, s.p90, s.p99), (50, 90, 99));
        assert!((s.mean - 50.5).abs() < 1e-12);
        // Population σ of 1..=n is sqrt((n²-1)/12).
        assert!((s.stddev - ((100.0f64 * 100.0 - 1.0) / 12.0).sqrt()).abs() < 1e-9);
    }

    #[test]
    fn large_values_are_within_a_thousandth() {
        // 1 ms .. 2 ms in 1 µs steps: p50 is 1.5 ms, p99 1.99 ms.
        let v: Vec<u64> = (0..1000).map(|i| 1_000_000 + i * 1000).collect();
        let s = Summary::of(&v).expect("non-empty");
        let close = |got: u64, want: u64| (got as f64 - want as f64).abs() <= want as f64 * 1e-3;
        assert!(close(s.p50, 1_499_000), "p50 {}", s.p50);
        assert!(close(s.p90, 1_899_000), "p90 {}", s.p90);
        assert!(close(s.p99, 1_989_000), "p99 {}", s.p99);
        assert_eq!((s.min, s.max), (1_000_000, 1_999_000));
    }

    #[test]
    fn percentiles_never_leave_the_sample_range() {
        let s = Summary::of(&[123_456_789]).expect("one sample");
        assert_eq!(
            (s.min, s.p50, s.p99, s.max),
            (123_456_789, 123_456_789, 123_456_789, 123_456_789)
        );
        assert_eq!(s.stddev, 0.0);
    }

    #[test]
    fn empty_has_no_summary() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(mean_stddev(std::iter::empty()), (0.0, 0.0));
    }

    #[test]
    fn skewed_distribution_tail() {
        // 990 fast events and 10 slow ones: p99 is still fast, max is slow.
        let mut v = vec![100u64; 990];
        v.extend([50_000u64; 10]);
        let s = Summary::of(&v).expect("non-empty");
        assert_eq!(s.p50, 100);
        assert_eq!(s.p99, 100);
        assert_eq!(s.max, 50_000);
        assert!((s.mean - (990.0 * 100.0 + 10.0 * 50_000.0) / 1000.0).abs() < 1e-9);
    }

    #[test]
    fn first_last_sigma_per_broadcast() {
        // Three waiters, two broadcasts.
        let lat = vec![vec![10, 100], vec![20, 100], vec![30, 100]];
        let per = per_broadcast(&lat);
        assert_eq!(per.first, [10, 100]);
        assert_eq!(per.last, [30, 100]);
        // σ of {10, 20, 30} = sqrt(200/3) ≈ 8.165 → 8; all equal → 0.
        assert_eq!(per.sigma, [8, 0]);
    }

    #[test]
    fn ragged_waiters_count_common_broadcasts() {
        let lat = vec![vec![5, 6, 7], vec![9]];
        let per = per_broadcast(&lat);
        assert_eq!(per.first, [5]);
        assert_eq!(per.last, [9]);
        assert_eq!(per.sigma, [2]);
        let b = BroadcastSummary::of(&lat).expect("one broadcast");
        assert_eq!(b.waiters, 2);
        assert_eq!(b.last.p50, 9);
    }
}
