//! The statistics of the tick scenarios, apart from their measurement loops: medians of paired
//! runs (same work, ticked and not, interleaved), the cost per delivered event, and CPU shares.

/// The median of `values` (the mean of the middle two for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// One repetition of an overhead measurement: the same work run back to back without ticks
/// (`quiet`) and with them (`ticked`), in clock ticks, and optionally without safepoint checks
/// at all (`plain`, for mechanisms that deliver at safepoints).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pair {
    /// Run time without ticks, same safepoints as `ticked`.
    pub quiet: u64,
    /// Run time with ticks.
    pub ticked: u64,
    /// Events delivered during the ticked run.
    pub events: u64,
    /// Run time without ticks and without safepoint checks.
    pub plain: Option<u64>,
}

impl Pair {
    /// Extra time per delivered event, in clock ticks (negative when noise made the ticked
    /// run faster); `None` without events.
    pub fn per_event(&self) -> Option<f64> {
        (self.events > 0).then(|| (self.ticked as f64 - self.quiet as f64) / self.events as f64)
    }

    /// Slowdown of the ticked run, in percent.
    pub fn slowdown_pct(&self) -> Option<f64> {
        (self.quiet > 0).then(|| (self.ticked as f64 / self.quiet as f64 - 1.0) * 100.0)
    }

    /// Cost of the safepoint checks without ticks, in percent of the plain run.
    pub fn checks_pct(&self) -> Option<f64> {
        let plain = self.plain.filter(|&p| p > 0)?;
        Some((self.quiet as f64 / plain as f64 - 1.0) * 100.0)
    }
}

/// The summary of an overhead measurement: medians over the repetitions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overhead {
    /// Median slowdown of the ticked runs, percent.
    pub slowdown_pct: f64,
    /// Median extra time per delivered event, in clock ticks; `None` if no run had events.
    pub per_event: Option<f64>,
    /// Median cost of the safepoint checks, percent; `None` without plain runs.
    pub checks_pct: Option<f64>,
    /// Median events per ticked run.
    pub events_per_run: f64,
}

impl Overhead {
    /// Summarises `pairs`; `None` if there are none.
    pub fn of(pairs: &[Pair]) -> Option<Overhead> {
        let collect = |f: fn(&Pair) -> Option<f64>| pairs.iter().filter_map(f).collect::<Vec<_>>();
        Some(Overhead {
            slowdown_pct: median(&collect(Pair::slowdown_pct))?,
            per_event: median(&collect(Pair::per_event)),
            checks_pct: median(&collect(Pair::checks_pct)),
            events_per_run: median(&collect(|p| Some(p.events as f64)))?,
        })
    }
}

/// CPU time over wall time, in percent.
pub fn cpu_pct(cpu_ns: u64, wall_ns: u64) -> Option<f64> {
    (wall_ns > 0).then(|| cpu_ns as f64 / wall_ns as f64 * 100.0)
}

/// Events per second over `wall_ns`.
pub fn per_second(events: u64, wall_ns: u64) -> Option<f64> {
    (wall_ns > 0).then(|| events as f64 * 1e9 / wall_ns as f64)
}

/// How late a tick is after the most recent deadline of a schedule that started at `origin`
/// with period `interval` (all in the same unit): the phase of `now` in the period.
pub fn phase_late(now: u64, origin: u64, interval: u64) -> u64 {
    if interval == 0 {
        return 0;
    }
    now.saturating_sub(origin) % interval
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 7.0]), Some(7.0));
    }

    #[test]
    fn pairs_give_slowdown_cost_per_event_and_check_cost() {
        let p = Pair {
            quiet: 1_000_000,
            ticked: 1_068_600,
            events: 100,
            plain: Some(800_000),
        };
        assert!((p.slowdown_pct().unwrap() - 6.86).abs() < 1e-9);
        assert!((p.per_event().unwrap() - 686.0).abs() < 1e-9);
        assert!((p.checks_pct().unwrap() - 25.0).abs() < 1e-9);
        let none = Pair {
            events: 0,
            plain: None,
            ..p
        };
        assert_eq!(none.per_event(), None);
        assert_eq!(none.checks_pct(), None);
    }

    #[test]
    fn the_summary_takes_medians_and_resists_an_outlier() {
        let pair = |quiet, ticked, events| Pair {
            quiet,
            ticked,
            events,
            plain: None,
        };
        // Three repetitions; the second was disturbed (a 50 % slower ticked run).
        let pairs = [
            pair(1000, 1010, 10),
            pair(1000, 1500, 10),
            pair(1000, 1020, 10),
        ];
        let o = Overhead::of(&pairs).unwrap();
        assert!((o.slowdown_pct - 2.0).abs() < 1e-9);
        assert_eq!(o.per_event, Some(2.0));
        assert_eq!(o.checks_pct, None);
        assert_eq!(o.events_per_run, 10.0);
        // Noise can make a ticked run faster: a negative cost, kept as measured.
        let o = Overhead::of(&[pair(1000, 990, 5)]).unwrap();
        assert_eq!(o.per_event, Some(-2.0));
        assert!(Overhead::of(&[]).is_none());
    }

    #[test]
    fn cpu_shares_rates_and_phases() {
        assert_eq!(cpu_pct(25, 100), Some(25.0));
        assert_eq!(cpu_pct(1, 0), None);
        assert_eq!(per_second(200, 1_000_000), Some(200_000.0));
        assert_eq!(phase_late(1_000_130, 1_000_000, 50), 30);
        assert_eq!(phase_late(5, 10, 50), 0);
        assert_eq!(phase_late(5, 0, 0), 0);
    }
}
