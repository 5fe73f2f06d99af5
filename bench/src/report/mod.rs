//! The results of a run and their outputs: the table on stdout, JSON, CSV of raw samples, and
//! figures. Nothing here measures; everything here reads [`Report`].

pub mod csv;
pub mod json;
pub mod plot;
pub mod table;

use crate::clock::Unit;
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
    /// Raw samples and per-event CPU.
    pub measurement: Measurement,
    /// Summary of every latency sample.
    pub summary: Summary,
    /// First/last/σ, for broadcast samples.
    pub broadcast: Option<BroadcastSummary>,
}

impl Measured {
    /// Summarises a measurement; `None` if it has no samples.
    pub fn new(measurement: Measurement) -> Option<Measured> {
        let summary = Summary::of(&measurement.samples.all())?;
        let broadcast = match &measurement.samples {
            Samples::Broadcast(w) => BroadcastSummary::of(w),
            Samples::Latency(_) => None,
        };
        Some(Measured {
            measurement,
            summary,
            broadcast,
        })
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
