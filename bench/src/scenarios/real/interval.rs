//! The median of per-pair ratios and its 95 % percentile-bootstrap interval.

/// A median and its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The median of the values.
    pub median: f64,
    /// 2.5th percentile of the bootstrap medians.
    pub low: f64,
    /// 97.5th percentile of the bootstrap medians.
    pub high: f64,
}

pub(super) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Resamples for [`interval`].
pub const BOOTSTRAP: usize = 4_000;

/// The median of `values` and a 95 % percentile-bootstrap interval for it: `BOOTSTRAP`
/// resamples of the values with replacement (a fixed seed, so a run is reproducible), the
/// median of each, and the 2.5th and 97.5th percentiles of those. `None` for no values.
pub fn interval(values: &[f64]) -> Option<Interval> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    let m = median(&mut v);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut meds = Vec::with_capacity(BOOTSTRAP);
    let mut sample = vec![0.0; values.len()];
    for _ in 0..BOOTSTRAP {
        for s in sample.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *s = values[(x % values.len() as u64) as usize];
        }
        meds.push(median(&mut sample));
    }
    meds.sort_by(f64::total_cmp);
    let at = |q: f64| meds[((q * (BOOTSTRAP - 1) as f64).round() as usize).min(BOOTSTRAP - 1)];
    Some(Interval {
        median: m,
        low: at(0.025),
        high: at(0.975),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_of_a_constant_is_that_constant() {
        let i = interval(&[1.25; 9]).unwrap();
        assert_eq!((i.median, i.low, i.high), (1.25, 1.25, 1.25));
        assert!(interval(&[]).is_none());
    }

    #[test]
    fn the_interval_covers_the_median_of_a_known_distribution() {
        // Uniform on [0.9, 1.1]: median 1.0; with 200 values the 95 % interval of the sample
        // median is about ±0.012 wide on each side.
        let mut x: u64 = 7;
        let v: Vec<f64> = (0..200)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                0.9 + 0.2 * ((x >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        let i = interval(&v).unwrap();
        assert!(i.low <= i.median && i.median <= i.high);
        assert!(i.low < 1.0 && 1.0 < i.high, "{i:?}");
        assert!(i.high - i.low < 0.06, "{i:?}");
        // Fewer values, wider interval.
        let few = interval(&v[..10]).unwrap();
        assert!(few.high - few.low > i.high - i.low, "{few:?} vs {i:?}");
    }

    #[test]
    fn an_even_count_has_the_middle_pairs_mean_as_median() {
        assert_eq!(interval(&[1.0, 3.0, 2.0, 4.0]).unwrap().median, 2.5);
    }
}
