//! Confidence intervals for ratios measured over repetitions.
//!
//! A run with `--repeat N` measures each (scenario, regime) N times, the mechanisms interleaved,
//! so repetition k of a mechanism and of its baseline ran side by side. Each pair gives one
//! ratio; the row reports their median and a 95 % **percentile bootstrap** interval for that
//! median: resample the N ratios with replacement [`RESAMPLES`] times, take each resample's
//! median, and report the 2.5th and 97.5th percentiles of those medians. It assumes only that
//! the repetitions are independent draws (no distribution shape), and it is deterministic: the
//! resampling generator has a fixed seed, so the same ratios always give the same interval.
//!
//! With few repetitions the bootstrap of a median is coarse: for N = 5 the interval is the
//! smallest to the largest ratio (whose true coverage of the median is 94 %, not 95 %); the
//! tests below measure its coverage on known distributions.

/// The method, as the JSON output names it.
pub const METHOD: &str = "percentile bootstrap of the median of paired per-repetition ratios, \
                          95 %, 4000 resamples";

/// Resamples drawn per interval.
pub const RESAMPLES: usize = 4000;

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// Fixed seed of the resampling generator (reproducible intervals).
const SEED: u64 = 0x6e65_6d6f_6265_6e63;

/// A median with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The median of the values.
    pub median: f64,
    /// Lower bound of the interval.
    pub low: f64,
    /// Upper bound of the interval.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies inside the interval (bounds included): then the values cannot tell
    /// whether the true median is above or below `x`.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }

    /// The interval's width.
    pub fn width(&self) -> f64 {
        self.high - self.low
    }
}

/// The median of `values` (the mean of the two middle ones for an even count); `None` when
/// empty or when a value is not a number.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    if v.is_empty() || v.iter().any(|x| x.is_nan()) {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of `values` and its 95 % percentile-bootstrap interval; `None` with fewer than
/// two values (one value has no spread to resample) or a value that is not a number.
pub fn median_interval(values: &[f64]) -> Option<Interval> {
    let median = median(values)?;
    if values.len() < 2 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(SEED);
    let mut resample = vec![0.0; values.len()];
    let mut medians: Vec<f64> = (0..RESAMPLES)
        .map(|_| {
            for x in resample.iter_mut() {
                *x = values[rng.usize(..values.len())];
            }
            // Not NaN: every value was checked above.
            self::median(&resample).unwrap_or(median)
        })
        .collect();
    medians.sort_by(f64::total_cmp);
    let tail = (1.0 - LEVEL) / 2.0;
    let at = |q: f64| medians[((q * RESAMPLES as f64).floor() as usize).min(RESAMPLES - 1)];
    Some(Interval {
        median,
        low: at(tail),
        high: at(1.0 - tail),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Draws from a distribution by inverting its CDF at uniform points.
    fn draws(rng: &mut fastrand::Rng, n: usize, inverse_cdf: impl Fn(f64) -> f64) -> Vec<f64> {
        (0..n).map(|_| inverse_cdf(rng.f64())).collect()
    }

    /// Share of `trials` intervals from `n` draws that contain the true median.
    fn coverage(n: usize, true_median: f64, inverse_cdf: impl Fn(f64) -> f64) -> f64 {
        let mut rng = fastrand::Rng::with_seed(7);
        let trials = 400;
        let hits = (0..trials)
            .filter(|_| {
                let v = draws(&mut rng, n, &inverse_cdf);
                median_interval(&v).expect("n ≥ 2").contains(true_median)
            })
            .count();
        hits as f64 / trials as f64
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn one_value_has_no_interval() {
        assert_eq!(median_interval(&[1.2]), None);
        assert_eq!(median_interval(&[]), None);
    }

    #[test]
    fn identical_values_give_a_zero_width_interval() {
        let i = median_interval(&[0.8; 9]).expect("interval");
        assert_eq!((i.median, i.low, i.high), (0.8, 0.8, 0.8));
        assert!(!i.contains(1.0));
    }

    #[test]
    fn the_interval_holds_the_median_and_stays_in_the_sample_range() {
        let v = [0.9, 1.3, 0.7, 1.1, 1.0, 0.95, 1.6];
        let i = median_interval(&v).expect("interval");
        assert_eq!(i.median, 1.0);
        assert!(i.low <= i.median && i.median <= i.high, "{i:?}");
        assert!(i.low >= 0.7 && i.high <= 1.6, "{i:?}");
    }

    #[test]
    fn five_values_span_their_range() {
        // P(a resample's median is the smallest value) = 5.8 % > 2.5 %: the bounds are the
        // extremes, which cover the true median with probability 1 − 2/2⁵ = 93.75 %.
        let i = median_interval(&[1.0, 2.0, 3.0, 4.0, 5.0]).expect("interval");
        assert_eq!((i.low, i.high), (1.0, 5.0));
    }

    #[test]
    fn the_same_values_give_the_same_interval() {
        let v = [1.0, 1.2, 0.9, 1.05, 0.97, 1.3];
        assert_eq!(median_interval(&v), median_interval(&v));
    }

    #[test]
    fn covers_the_median_of_a_normal_distribution() {
        // Normal(1, 0.1) by the logistic approximation of its quantile function is symmetric
        // about 1, which is all the coverage test needs of it.
        let c = coverage(15, 1.0, |u| 1.0 + 0.1 * (u / (1.0 - u)).ln() / 1.702);
        assert!((0.88..=0.995).contains(&c), "coverage {c}");
    }

    #[test]
    fn covers_the_median_of_a_skewed_distribution() {
        // Exponential(1): median ln 2, a long right tail like latency ratios have.
        let c = coverage(15, std::f64::consts::LN_2, |u| -(1.0 - u).ln());
        assert!((0.88..=0.995).contains(&c), "coverage {c}");
    }

    #[test]
    fn covers_the_median_of_a_uniform_distribution() {
        let c = coverage(25, 0.5, |u| u);
        assert!((0.88..=0.995).contains(&c), "coverage {c}");
    }

    #[test]
    fn intervals_narrow_as_repetitions_grow() {
        let mut rng = fastrand::Rng::with_seed(11);
        let mean_width = |n: usize, rng: &mut fastrand::Rng| {
            let widths: Vec<f64> = (0..100)
                .map(|_| {
                    let v = draws(rng, n, |u| u);
                    median_interval(&v).expect("interval").width()
                })
                .collect();
            widths.iter().sum::<f64>() / widths.len() as f64
        };
        let (w10, w80) = (mean_width(10, &mut rng), mean_width(80, &mut rng));
        // The width of a median's interval falls as 1/√n: 8× the values, about ⅓ the width.
        assert!(w80 < 0.5 * w10, "width {w10} at n = 10, {w80} at n = 80");
    }
}
