//! The project's targets as data: each a ratio of two rows measured in the same run (or of two
//! columns of one row, or of one row in two regimes), with a bound, judged on the median of
//! paired repetitions and its 95 % interval.

use super::{Ratio, Report, Stat};

/// One target: `mechanism`'s `stat` in `regime` over `versus`'s `versus_stat` in
/// `versus_regime`, at most `bound` (at least, with `at_least`), in one scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Scenario id.
    pub scenario: &'static str,
    /// Regime of the mechanism judged.
    pub regime: &'static str,
    /// The mechanism judged.
    pub mechanism: &'static str,
    /// The statistic judged.
    pub stat: Stat,
    /// The mechanism it is compared with.
    pub versus: &'static str,
    /// The regime of the row it is compared with (usually `regime`).
    pub versus_regime: &'static str,
    /// The statistic it is compared with (usually `stat`).
    pub versus_stat: Stat,
    /// The ratio's bound.
    pub bound: f64,
    /// Whether the bound is a floor (goodput) rather than a ceiling (latency).
    pub at_least: bool,
}

/// `mechanism` over `versus`, one statistic, one regime, at most `bound`.
const fn target(
    scenario: &'static str,
    regime: &'static str,
    mechanism: &'static str,
    versus: &'static str,
    stat: Stat,
    bound: f64,
) -> Target {
    Target {
        scenario,
        regime,
        mechanism,
        stat,
        versus,
        versus_regime: regime,
        versus_stat: stat,
        bound,
        at_least: false,
    }
}

/// One row's `stat` with a quantum over the same row without preemption (`hol`).
const fn preemption(mechanism: &'static str, stat: Stat, bound: f64, at_least: bool) -> Target {
    Target {
        scenario: "hol",
        regime: "50% q20us",
        mechanism,
        stat,
        versus: mechanism,
        versus_regime: "50% none",
        versus_stat: stat,
        bound,
        at_least,
    }
}

/// A kick's wake → running latency over the raw active message of its backend, one row.
const fn kick(mechanism: &'static str) -> Target {
    Target {
        scenario: "kick",
        regime: "busy worker",
        mechanism,
        stat: Stat::P50,
        versus: mechanism,
        versus_regime: "busy worker",
        versus_stat: Stat::Extra("am_p50"),
        bound: 1.10,
        at_least: false,
    }
}

/// Every target (README "Targets").
pub static TARGETS: &[Target] = &[
    target(
        "unicast",
        "short-gap",
        "nemo_condvar",
        "pthread_cond",
        Stat::P50,
        0.1,
    ),
    target(
        "unicast",
        "short-gap",
        "nemo_condvar",
        "pthread_cond",
        Stat::P99,
        0.2,
    ),
    target(
        "unicast",
        "short-gap",
        "nemo_condvar",
        "spin",
        Stat::P50,
        3.0,
    ),
    target(
        "unicast",
        "short-gap",
        "nemo_condvar",
        "std_condvar",
        Stat::P50,
        0.1,
    ),
    target(
        "unicast",
        "short-gap",
        "nemo_condvar",
        "parking_lot_condvar",
        Stat::P50,
        0.1,
    ),
    target(
        "unicast",
        "long-gap",
        "nemo_condvar_park",
        "futex",
        Stat::P50,
        1.05,
    ),
    target(
        "broadcast",
        "short-gap",
        "nemo_condvar",
        "pthread_cond",
        Stat::LastP50,
        0.1,
    ),
    target(
        "broadcast",
        "short-gap",
        "nemo_condvar",
        "pthread_cond",
        Stat::SigmaP50,
        0.1,
    ),
    target("am", "unicast", "am_signal", "signal", Stat::P50, 1.05),
    target("am", "unicast", "am_poll", "spin", Stat::P50, 2.0),
    target("am", "unicast", "am_uintr", "uintr", Stat::P50, 1.05),
    target(
        "pool",
        "ping-pong",
        "nemo_event",
        "std_condvar",
        Stat::P50,
        0.5,
    ),
    // xUI Fig. 7 at 50 % load and a 20 µs quantum, on each backend (the best one here counts).
    preemption("nemo_signal", Stat::Extra("get_p99"), 0.1, false),
    preemption("nemo_signal_lazy", Stat::Extra("get_p99"), 0.1, false),
    preemption("nemo_poll", Stat::Extra("get_p99"), 0.1, false),
    preemption("nemo_uintr", Stat::Extra("get_p99"), 0.1, false),
    preemption("nemo_signal", Stat::Extra("goodput_kreq_s"), 0.9, true),
    preemption("nemo_signal_lazy", Stat::Extra("goodput_kreq_s"), 0.9, true),
    preemption("nemo_poll", Stat::Extra("goodput_kreq_s"), 0.9, true),
    preemption("nemo_uintr", Stat::Extra("goodput_kreq_s"), 0.9, true),
    kick("nemo_signal"),
    kick("nemo_signal_lazy"),
    kick("nemo_poll"),
    kick("nemo_uintr"),
];

impl Target {
    /// The target in words: `long-gap nemo_condvar_park / futex p50 ≤ 1.05×`;
    /// `nemo_poll get_p99: 50% q20us / 50% none ≤ 0.1×` across regimes;
    /// `busy worker nemo_poll: p50 / am_p50 ≤ 1.1×` for two columns of one row.
    pub fn describe(&self) -> String {
        let op = if self.at_least { "≥" } else { "≤" };
        let (regime, stat, versus_stat) =
            (self.regime, self.stat.as_str(), self.versus_stat.as_str());
        // The other row, named only when it is not the judged one.
        let other = if self.versus == self.mechanism {
            ""
        } else {
            self.versus
        };
        let ratio = if self.versus_regime != self.regime {
            format!(
                "{} {stat}: {regime} / {} {other}",
                self.mechanism, self.versus_regime
            )
        } else if self.stat != self.versus_stat {
            format!(
                "{regime} {}: {stat} / {other} {versus_stat}",
                self.mechanism
            )
        } else {
            format!("{regime} {} / {other} {stat}", self.mechanism)
        };
        let ratio = ratio.split_whitespace().collect::<Vec<_>>().join(" ");
        format!("{ratio} {op} {}×", self.bound)
    }
}

/// How a target fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The whole interval is at or below the bound.
    Met,
    /// The whole interval is above the bound.
    Missed,
    /// The interval contains the bound: these repetitions cannot tell.
    NotDistinguishable,
    /// One repetition: met or missed on one draw, with no interval to say how surely.
    MetOnce,
    /// One repetition, above the bound.
    MissedOnce,
}

impl Verdict {
    /// The verdict in words.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::Missed => "missed",
            Verdict::NotDistinguishable => "not distinguishable",
            Verdict::MetOnce => "met on one repetition (no interval)",
            Verdict::MissedOnce => "missed on one repetition (no interval)",
        }
    }

    /// Judges `ratio` against `bound`, a ceiling (or a floor, with `at_least`).
    pub fn of(ratio: &Ratio, bound: f64, at_least: bool) -> Verdict {
        let meets = |x: f64| if at_least { x > bound } else { x < bound };
        match ratio.interval {
            Some(i) if i.contains(bound) => Verdict::NotDistinguishable,
            Some(i) if meets(i.low) && meets(i.high) => Verdict::Met,
            Some(_) => Verdict::Missed,
            None if meets(ratio.median) || ratio.median == bound => Verdict::MetOnce,
            None => Verdict::MissedOnce,
        }
    }
}

/// A target with its measured ratio (`None`: a row it needs was not measured in this run).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Judged {
    /// The target.
    pub target: Target,
    /// The ratio and its verdict.
    pub outcome: Option<(Ratio, Verdict)>,
}

/// The targets of the scenarios in `report` whose rows were both run (measured or not).
pub fn judge(report: &Report) -> Vec<Judged> {
    let ran = |t: &Target, regime: &str, m: &str| {
        report
            .rows
            .iter()
            .any(|r| r.scenario == t.scenario && r.regime == regime && r.mechanism == m)
    };
    TARGETS
        .iter()
        .filter(|t| ran(t, t.regime, t.mechanism) && ran(t, t.versus_regime, t.versus))
        .map(|&t| {
            let outcome = report
                .find(t.scenario, t.regime, t.mechanism)
                .zip(report.find(t.scenario, t.versus_regime, t.versus))
                .and_then(|(m, v)| Ratio::of_stats(m, t.stat, v, t.versus_stat))
                .map(|r| (r, Verdict::of(&r, t.bound, t.at_least)));
            Judged { target: t, outcome }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::Interval;

    fn ratio(median: f64, interval: Option<(f64, f64)>) -> Ratio {
        Ratio {
            median,
            interval: interval.map(|(low, high)| Interval { median, low, high }),
            repetitions: if interval.is_some() { 5 } else { 1 },
        }
    }

    #[test]
    fn verdicts_follow_the_interval() {
        assert_eq!(
            Verdict::of(&ratio(0.9, Some((0.8, 1.0))), 1.05, false),
            Verdict::Met
        );
        assert_eq!(
            Verdict::of(&ratio(1.2, Some((1.1, 1.3))), 1.05, false),
            Verdict::Missed
        );
        assert_eq!(
            Verdict::of(&ratio(1.0, Some((0.9, 1.1))), 1.05, false),
            Verdict::NotDistinguishable
        );
        assert_eq!(
            Verdict::of(&ratio(1.0, None), 1.05, false),
            Verdict::MetOnce
        );
        assert_eq!(
            Verdict::of(&ratio(1.05, None), 1.05, false),
            Verdict::MetOnce
        );
        assert_eq!(
            Verdict::of(&ratio(1.1, None), 1.05, false),
            Verdict::MissedOnce
        );
    }

    #[test]
    fn a_floor_is_met_from_above() {
        assert_eq!(
            Verdict::of(&ratio(0.98, Some((0.95, 1.0))), 0.9, true),
            Verdict::Met
        );
        assert_eq!(
            Verdict::of(&ratio(0.8, Some((0.7, 0.85))), 0.9, true),
            Verdict::Missed
        );
        assert_eq!(
            Verdict::of(&ratio(0.9, Some((0.85, 0.95))), 0.9, true),
            Verdict::NotDistinguishable
        );
        assert_eq!(Verdict::of(&ratio(1.0, None), 0.9, true), Verdict::MetOnce);
        assert_eq!(
            Verdict::of(&ratio(0.5, None), 0.9, true),
            Verdict::MissedOnce
        );
    }

    #[test]
    fn targets_say_what_they_compare() {
        let find = |scenario: &str, mechanism: &str, stat: &str| {
            TARGETS
                .iter()
                .find(|t| {
                    t.scenario == scenario && t.mechanism == mechanism && t.stat.as_str() == stat
                })
                .expect("registered")
                .describe()
        };
        assert_eq!(
            find("unicast", "nemo_condvar_park", "p50"),
            "long-gap nemo_condvar_park / futex p50 ≤ 1.05×"
        );
        assert_eq!(
            find("hol", "nemo_poll", "get_p99"),
            "nemo_poll get_p99: 50% q20us / 50% none ≤ 0.1×"
        );
        assert_eq!(
            find("hol", "nemo_poll", "goodput_kreq_s"),
            "nemo_poll goodput_kreq_s: 50% q20us / 50% none ≥ 0.9×"
        );
        assert_eq!(
            find("kick", "nemo_poll", "p50"),
            "busy worker nemo_poll: p50 / am_p50 ≤ 1.1×"
        );
    }

    fn measured(p50: u64, extra: Vec<(&'static str, f64)>) -> super::super::Measured {
        use crate::samples::{Measurement, Samples};
        super::super::Measured::new(Measurement {
            unit: crate::clock::Unit::Ns,
            samples: Samples::Latency(vec![p50; 3]),
            waiter_cpu_ns_per_event: None,
            pinned: true,
            clamped: 0,
            extra,
        })
        .expect("samples")
    }

    #[test]
    fn ratios_of_columns_and_across_regimes() {
        let kick = measured(2000, vec![("am_p50", 800.0)]);
        let r = Ratio::of_stats(&kick, Stat::P50, &kick, Stat::Extra("am_p50")).expect("ratio");
        assert_eq!(r.median, 2.5);
        let with = measured(5, vec![("get_p99", 200.0), ("goodput_kreq_s", 49.0)]);
        let without = measured(5, vec![("get_p99", 2000.0), ("goodput_kreq_s", 50.0)]);
        let tail = Ratio::of(&with, &without, Stat::Extra("get_p99")).expect("ratio");
        assert_eq!(tail.median, 0.1);
        let goodput = Ratio::of(&with, &without, Stat::Extra("goodput_kreq_s")).expect("ratio");
        assert_eq!(Verdict::of(&goodput, 0.9, true), Verdict::MetOnce);
        // A column the row does not have gives no ratio, not a zero.
        assert!(Ratio::of(&with, &without, Stat::Extra("no_such")).is_none());
    }

    #[test]
    fn targets_name_registered_scenarios_and_mechanisms() {
        for t in TARGETS {
            let s = crate::scenarios::find(t.scenario).expect("scenario");
            for m in [t.mechanism, t.versus] {
                let m = crate::mechanisms::find(m).expect("mechanism");
                assert!(s.accepts(m.kind()) && m.supports(s.id()), "{t:?}");
            }
            let plan = crate::plan::Plan::new(crate::plan::Profile::Full, 4);
            for regime in [t.regime, t.versus_regime] {
                assert!(
                    s.cases(&plan).iter().any(|c| c.regime == regime),
                    "{t:?}: no such regime {regime}"
                );
            }
        }
    }
}
