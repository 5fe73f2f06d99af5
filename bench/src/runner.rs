//! Drives a run: every selected scenario, case and mechanism, deciding for each whether it
//! applies, whether it can run here, and measuring it. Produces the [`Report`].

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::harness::{Case, Context};
use crate::machine::{Machine, uintr_available};
use crate::mechanisms::{self, Mechanism, Setup, Skipped};
use crate::plan::Plan;
use crate::report::{Measured, Outcome, Report, Row, ScenarioInfo};
use crate::scenarios::Scenario;

/// What to run.
#[derive(Clone)]
pub struct Selection {
    /// Scenarios, in order.
    pub scenarios: Vec<&'static dyn Scenario>,
    /// Mechanisms named with `--mechanisms`; `None`: all that apply.
    pub mechanisms: Option<Vec<&'static dyn Mechanism>>,
}

impl Selection {
    /// Every scenario and mechanism.
    pub fn all() -> Selection {
        Selection {
            scenarios: crate::scenarios::SCENARIOS.to_vec(),
            mechanisms: None,
        }
    }

    fn mechanisms(&self) -> Vec<&'static dyn Mechanism> {
        match &self.mechanisms {
            Some(m) => m.clone(),
            None => mechanisms::MECHANISMS.to_vec(),
        }
    }

    fn named(&self, m: &dyn Mechanism) -> bool {
        self.mechanisms
            .as_ref()
            .is_some_and(|ms| ms.iter().any(|x| x.id() == m.id()))
    }
}

/// One planned row.
struct Planned<'a> {
    scenario: &'static dyn Scenario,
    case: &'a Case,
    mechanism: &'static dyn Mechanism,
}

/// Runs the selection and returns every row.
pub fn run(
    ctx: &Context,
    plan: &Plan,
    selection: &Selection,
    machine: Machine,
    show_progress: bool,
) -> Report {
    let cases: Vec<(&'static dyn Scenario, Vec<Case>)> = selection
        .scenarios
        .iter()
        .map(|&s| (s, s.cases(plan)))
        .collect();
    let mut planned = Vec::new();
    let mut rows = Vec::new();
    for (scenario, cases) in &cases {
        for case in cases {
            for m in selection.mechanisms() {
                planned.push(Planned {
                    scenario: *scenario,
                    case,
                    mechanism: m,
                });
            }
        }
    }
    let applies = |p: &Planned<'_>| {
        p.scenario.accepts(p.mechanism.kind())
            && p.mechanism.supports(p.scenario.id(), &p.case.regime)
    };
    let bar = progress_bar(
        show_progress,
        planned.iter().filter(|p| applies(p)).count() as u64,
    );
    for p in &planned {
        if !applies(p) {
            // Not a question this scenario asks of this mechanism: a row only if it was named.
            if selection.named(p.mechanism) {
                rows.push(row(
                    ctx,
                    p,
                    Outcome::Skipped(format!(
                        "{} ({}) does not apply to {}",
                        p.mechanism.id(),
                        p.mechanism.kind().as_str(),
                        p.scenario.id()
                    )),
                ));
            }
            continue;
        }
        bar.set_message(format!(
            "{} {} {}",
            p.scenario.id(),
            p.case.regime,
            p.mechanism.id()
        ));
        let outcome = measure(ctx, p);
        rows.push(row(ctx, p, outcome));
        bar.inc(1);
    }
    bar.finish_and_clear();
    Report {
        machine,
        profile: plan.profile,
        scenarios: selection
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                id: s.id(),
                about: s.about(),
                figures: s.figures(),
                baseline: s.baseline(),
                pairs: mechanisms::MECHANISMS
                    .iter()
                    .map(|m| (m.id(), s.baseline_of(m.id())))
                    .filter(|&(m, b)| b != s.baseline() && m != b)
                    .collect(),
                footer: s.footer(),
            })
            .collect(),
        rows,
    }
}

/// The setup a mechanism is asked about.
pub fn setup<'a>(ctx: &Context, scenario: &'a str, case: &'a Case) -> Setup<'a> {
    Setup {
        scenario,
        regime: &case.regime,
        receivers: case.receivers,
        cores: ctx.topology.cores(),
        oversubscribed: ctx.topology.oversubscribed(case.receivers),
        sim: ctx.sim,
        static_binary: mechanisms::static_binary(),
        uintr: uintr_available(),
    }
}

/// Whether a mechanism can run in a setup: the run-wide rules first, then its own.
pub fn availability(m: &dyn Mechanism, setup: &Setup<'_>) -> Result<(), Skipped> {
    if m.kind().burns_core() && setup.oversubscribed {
        return Err(Skipped::new(format!(
            "{} receivers and the signaller need {} cores, {} here: {} receivers would share a \
             core and measure the scheduler",
            setup.receivers,
            setup.receivers + 1,
            setup.cores,
            m.kind().as_str()
        )));
    }
    m.check(setup)
}

fn measure(ctx: &Context, p: &Planned<'_>) -> Outcome {
    let setup = setup(ctx, p.scenario.id(), p.case);
    if let Err(Skipped(reason)) = p.scenario.check(&setup) {
        return Outcome::Skipped(reason);
    }
    if let Err(Skipped(reason)) = availability(p.mechanism, &setup) {
        return Outcome::Skipped(reason);
    }
    let instance = match p.mechanism.instantiate(&setup) {
        Ok(i) => i,
        Err(Skipped(reason)) => return Outcome::Skipped(reason),
    };
    match p.scenario.measure(ctx, p.case, &instance) {
        Ok(m) => match Measured::new(m) {
            Some(m) => Outcome::Measured(Box::new(m)),
            None => Outcome::Failed("no samples".to_string()),
        },
        Err(f) => Outcome::Failed(f.to_string()),
    }
}

fn row(ctx: &Context, p: &Planned<'_>, outcome: Outcome) -> Row {
    Row {
        scenario: p.scenario.id(),
        mechanism: p.mechanism.id(),
        kind: p.mechanism.kind(),
        regime: p.case.regime.clone(),
        unit: ctx.clock.unit(),
        receivers: p.case.receivers,
        gap_us: p.case.gap.duration().as_secs_f64() * 1e6,
        oversubscribed: ctx.topology.oversubscribed(p.case.receivers),
        outcome,
    }
}

fn progress_bar(show: bool, len: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}") {
        bar.set_style(style);
    }
    bar
}
