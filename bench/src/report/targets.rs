//! The project's targets as data: each a ratio of two rows measured in the same run, with a
//! bound, judged on the median of paired repetitions and its 95 % interval.

use super::{Ratio, Report, Stat};

/// One target: `mechanism`'s `stat` over `versus`'s, in one regime of one scenario, at most
/// `bound`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Scenario id.
    pub scenario: &'static str,
    /// Regime.
    pub regime: &'static str,
    /// The mechanism judged.
    pub mechanism: &'static str,
    /// The mechanism it is compared with.
    pub versus: &'static str,
    /// The statistic compared.
    pub stat: Stat,
    /// The largest ratio that meets the target.
    pub bound: f64,
}

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
        versus,
        stat,
        bound,
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
];

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

    /// Judges `ratio` against `bound`.
    pub fn of(ratio: &Ratio, bound: f64) -> Verdict {
        match ratio.interval {
            Some(i) if i.contains(bound) => Verdict::NotDistinguishable,
            Some(i) if i.high < bound => Verdict::Met,
            Some(_) => Verdict::Missed,
            None if ratio.median <= bound => Verdict::MetOnce,
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
    let ran = |t: &Target, m: &str| {
        report
            .rows
            .iter()
            .any(|r| r.scenario == t.scenario && r.regime == t.regime && r.mechanism == m)
    };
    TARGETS
        .iter()
        .filter(|t| ran(t, t.mechanism) && ran(t, t.versus))
        .map(|&target| {
            let outcome = report
                .find(target.scenario, target.regime, target.mechanism)
                .zip(report.find(target.scenario, target.regime, target.versus))
                .and_then(|(m, v)| Ratio::of(m, v, target.stat))
                .map(|r| (r, Verdict::of(&r, target.bound)));
            Judged { target, outcome }
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
            Verdict::of(&ratio(0.9, Some((0.8, 1.0))), 1.05),
            Verdict::Met
        );
        assert_eq!(
            Verdict::of(&ratio(1.2, Some((1.1, 1.3))), 1.05),
            Verdict::Missed
        );
        assert_eq!(
            Verdict::of(&ratio(1.0, Some((0.9, 1.1))), 1.05),
            Verdict::NotDistinguishable
        );
        assert_eq!(Verdict::of(&ratio(1.0, None), 1.05), Verdict::MetOnce);
        assert_eq!(Verdict::of(&ratio(1.1, None), 1.05), Verdict::MissedOnce);
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
            assert!(
                s.cases(&plan).iter().any(|c| c.regime == t.regime),
                "{t:?}: no such regime"
            );
        }
    }
}
