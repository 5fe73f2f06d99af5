//! The results of a run and their outputs: the table on stdout, JSON, CSV of raw samples, and
//! figures. Nothing here measures; everything here reads [`Report`].

pub mod csv;
pub mod curves;
pub mod json;
pub mod plot;
pub mod table;
pub mod targets;

use crate::clock::Unit;
use crate::interval::{self, Interval};
use crate::machine::Machine;
use crate::mechanisms::Kind;
use crate::plan::Profile;
use crate::samples::{Measurement, Samples};
use crate::stats::{BroadcastSummary, Summary};

/// Everything a run produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// The profile it ran with.
    pub profile: Profile,
    /// The scenarios, in run order.
    pub scenarios: Vec<ScenarioInfo>,
    /// One row per scenario case and mechanism, in run order.
    pub rows: Vec<Row>,
}

/// What a table needs to know about its scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioInfo {
    /// Id.
    pub id: &'static str,
    /// One line.
    pub about: &'static str,
    /// Paper figures.
    pub figures: &'static str,
    /// The mechanism ratios are taken against.
    pub baseline: &'static str,
    /// Mechanisms whose ratios are taken against another mechanism than `baseline`:
    /// `(mechanism, its baseline)`.
    pub pairs: Vec<(&'static str, &'static str)>,
    /// Lines printed under the table.
    pub footer: &'static str,
    /// How many times each of its cases ran (ratios are medians over these).
    pub repetitions: usize,
}

impl ScenarioInfo {
    /// The mechanism `mechanism`'s ratios are taken against.
    pub fn baseline_of(&self, mechanism: &str) -> &'static str {
        self.pairs
            .iter()
            .find(|(m, _)| *m == mechanism)
            .map_or(self.baseline, |(_, b)| *b)
    }
}

/// One mechanism in one case of one scenario.
#[derive(Debug, Clone)]
pub struct Row {
    /// Scenario id.
    pub scenario: &'static str,
    /// Mechanism id.
    pub mechanism: &'static str,
    /// Mechanism kind.
    pub kind: Kind,
    /// Regime name.
    pub regime: String,
    /// Unit of every number but the CPU time.
    pub unit: Unit,
    /// Receiver threads.
    pub receivers: usize,
    /// The gap between events, µs.
    pub gap_us: f64,
    /// More threads than cores.
    pub oversubscribed: bool,
    /// What exactly a measured row ran, where its mechanism says more than its id.
    pub note: Option<String>,
    /// Measured, skipped or failed.
    pub outcome: Outcome,
}

/// How a row ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Measured, with samples and summaries.
    Measured(Box<Measured>),
    /// Cannot run here; the reason.
    Skipped(String),
    /// Started but did not complete (a lost wakeup, an undelivered interrupt).
    Failed(String),
}

/// A measured row's data.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Raw samples and per-event CPU, every repetition pooled.
    pub measurement: Measurement,
    /// Summary of every latency sample.
    pub summary: Summary,
    /// First/last/σ, for broadcast samples.
    pub broadcast: Option<BroadcastSummary>,
    /// The statistics ratios are taken of, one entry per repetition, in run order.
    pub repetitions: Vec<RepStats>,
}

/// A statistic a ratio is taken of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    /// Median latency.
    P50,
    /// 99th percentile latency.
    P99,
    /// Median latency of the last waiter of each broadcast.
    LastP50,
    /// Median σ of the waiters' wake times per broadcast.
    SigmaP50,
    /// One of the scenario's own columns (`get_p99` of `hol`, `am_p50` of `kick`).
    Extra(&'static str),
}

impl Stat {
    /// Its name in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P99 => "p99",
            Stat::LastP50 => "last_p50",
            Stat::SigmaP50 => "sigma_p50",
            Stat::Extra(name) => name,
        }
    }
}

/// One repetition's statistics.
#[derive(Debug, Clone, PartialEq)]
pub struct RepStats {
    /// Median latency.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Broadcasts: the last waiter's median latency.
    pub last_p50: Option<u64>,
    /// Broadcasts: the median σ of wake times.
    pub sigma_p50: Option<u64>,
    /// The scenario's own columns.
    pub extra: Vec<(&'static str, f64)>,
}

impl RepStats {
    fn of(m: &Measurement, summary: &Summary, broadcast: Option<&BroadcastSummary>) -> RepStats {
        RepStats {
            p50: summary.p50,
            p99: summary.p99,
            last_p50: broadcast.map(|b| b.last.p50),
            sigma_p50: broadcast.map(|b| b.sigma.p50),
            extra: m.extra.clone(),
        }
    }

    /// The value of `stat`, if this repetition has it.
    pub fn get(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::P50 => Some(self.p50 as f64),
            Stat::P99 => Some(self.p99 as f64),
            Stat::LastP50 => self.last_p50.map(|v| v as f64),
            Stat::SigmaP50 => self.sigma_p50.map(|v| v as f64),
            Stat::Extra(name) => self
                .extra
                .iter()
                .find(|(k, _)| *k == name)
                .map(|&(_, v)| v)
                .filter(|v| v.is_finite()),
        }
    }
}

fn summaries(m: &Measurement) -> Option<(Summary, Option<BroadcastSummary>)> {
    let summary = Summary::of(&m.samples.all())?;
    let broadcast = match &m.samples {
        Samples::Broadcast(w) => BroadcastSummary::of(w),
        Samples::Latency(_) => None,
    };
    Some((summary, broadcast))
}

impl Measured {
    /// Summarises one measurement (one repetition); `None` if it has no samples.
    pub fn new(measurement: Measurement) -> Option<Measured> {
        Measured::of_repetitions(vec![measurement])
    }

    /// Summarises the repetitions of a row: each one's statistics for the ratios, and every
    /// sample pooled for the rest. `None` if a repetition has no samples.
    pub fn of_repetitions(reps: Vec<Measurement>) -> Option<Measured> {
        let repetitions = reps
            .iter()
            .map(|m| summaries(m).map(|(s, b)| RepStats::of(m, &s, b.as_ref())))
            .collect::<Option<Vec<_>>>()?;
        let measurement = Measurement::pool(&reps)?;
        let (summary, broadcast) = summaries(&measurement)?;
        Some(Measured {
            measurement,
            summary,
            broadcast,
            repetitions,
        })
    }

    /// The statistic a row's headline ratio is taken of: the last waiter's median for
    /// broadcasts, the median otherwise.
    pub fn headline(&self) -> Stat {
        if self.broadcast.is_some() {
            Stat::LastP50
        } else {
            Stat::P50
        }
    }
}

/// A ratio over paired repetitions: repetition k of a row over repetition k of its baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// The median of the paired ratios.
    pub median: f64,
    /// Its 95 % bootstrap interval ([`crate::interval`]); `None` with one repetition.
    pub interval: Option<Interval>,
    /// Pairs the ratio was taken over.
    pub repetitions: usize,
}

impl Ratio {
    /// `value`'s repetitions over `base`'s, paired in run order; `None` when no pair has both
    /// values and a non-zero baseline.
    pub fn of(value: &Measured, base: &Measured, stat: Stat) -> Option<Ratio> {
        Ratio::of_stats(value, stat, base, stat)
    }

    /// `value`'s `stat` over `base`'s `base_stat`, repetitions paired in run order (`value`
    /// and `base` may be one row, for a ratio of two of its columns).
    pub fn of_stats(
        value: &Measured,
        stat: Stat,
        base: &Measured,
        base_stat: Stat,
    ) -> Option<Ratio> {
        let ratios: Vec<f64> = value
            .repetitions
            .iter()
            .zip(&base.repetitions)
            .filter_map(|(v, b)| match (v.get(stat), b.get(base_stat)) {
                (Some(v), Some(b)) if b > 0.0 => Some(v / b),
                _ => None,
            })
            .collect();
        Some(Ratio {
            median: interval::median(&ratios)?,
            interval: interval::median_interval(&ratios),
            repetitions: ratios.len(),
        })
    }

    /// Whether the interval contains `x`: the repetitions cannot tell the ratio from `x`.
    pub fn indistinguishable_from(&self, x: f64) -> bool {
        self.interval.is_some_and(|i| i.contains(x))
    }
}

impl Row {
    /// The measured data, if any.
    pub fn measured(&self) -> Option<&Measured> {
        match &self.outcome {
            Outcome::Measured(m) => Some(m),
            _ => None,
        }
    }
}

impl Report {
    /// The baseline row of a scenario case for this row's mechanism, if it was measured.
    pub fn baseline_for(&self, row: &Row) -> Option<&Measured> {
        let base = self
            .scenarios
            .iter()
            .find(|s| s.id == row.scenario)?
            .baseline_of(row.mechanism);
        self.rows
            .iter()
            .find(|r| r.scenario == row.scenario && r.regime == row.regime && r.mechanism == base)
            .and_then(Row::measured)
    }

    /// The measured row of a scenario case for `mechanism`.
    pub fn find(&self, scenario: &str, regime: &str, mechanism: &str) -> Option<&Measured> {
        self.rows
            .iter()
            .find(|r| r.scenario == scenario && r.regime == regime && r.mechanism == mechanism)
            .and_then(Row::measured)
    }

    /// A row's ratio of `stat` to its baseline's.
    pub fn ratio(&self, row: &Row, stat: Stat) -> Option<Ratio> {
        Ratio::of(row.measured()?, self.baseline_for(row)?, stat)
    }

    /// Why no row has waiter CPU time, when the run cannot measure it at all (`--sim`).
    pub fn waiter_cpu_unavailable(&self) -> Option<&'static str> {
        (self.profile == Profile::Sim).then_some(crate::clock::SIM_NO_THREAD_CPU)
    }

    /// Whether any row failed.
    pub fn any_failed(&self) -> bool {
        self.rows
            .iter()
            .any(|r| matches!(r.outcome, Outcome::Failed(_)))
    }
}

/// A file-name-safe stem for a row: `scenario-regime-mechanism`.
pub fn file_stem(scenario: &str, regime: &str, mechanism: &str) -> String {
    let clean = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '-'
                }
            })
            .collect::<String>()
    };
    format!("{}-{}-{}", clean(scenario), clean(regime), clean(mechanism))
}

/// What the report's tests share.
#[cfg(test)]
pub(crate) mod fixture {
    use super::Machine;

    /// A machine for the report's tests.
    pub(crate) fn machine() -> Machine {
        Machine {
            cpu: "cpu".into(),
            cores: 2,
            kernel: "Linux".into(),
            backend: "signal".into(),
            backend_reason: "why".into(),
            tsc_ghz: None,
            clock: "clock".into(),
            static_binary: false,
        }
    }
}
