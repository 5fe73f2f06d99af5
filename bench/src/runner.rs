//! Drives a run: every selected scenario, case and mechanism, deciding for each whether it
//! applies, whether it can run here, and measuring it — each case `repetitions` times, the
//! mechanisms interleaved (A B C A B C …) so that drift in the machine's load hits every row
//! alike and repetition k of a row can be paired with repetition k of its baseline. Produces
//! the [`Report`].
//!
//! Where a scenario says so ([`Scenario::interleaves`]: the long gap of `unicast`), the
//! interleaving is finer: within each repetition the blocking mechanisms whose waiters park
//! take turns event by event, from one sender, so a drift shorter than a repetition hits them
//! alike too. Mechanisms whose waiters spin are measured alone, as before.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::harness::{Case, Context};
use crate::machine::{Machine, uintr_available};
use crate::mechanisms::{self, BlockingEvent, Instance, Mechanism, Setup, Skipped};
use crate::plan::Plan;
use crate::report::{Measured, Outcome, Report, Row, ScenarioInfo};
use crate::samples::Measurement;
use crate::scenarios::Scenario;

/// What to run.
#[derive(Clone)]
pub struct Selection {
    /// Scenarios, in order.
    pub scenarios: Vec<&'static Scenario>,
    /// Mechanisms named with `--mechanisms`; `None`: all that apply.
    pub mechanisms: Option<Vec<&'static Mechanism>>,
}

impl Selection {
    /// Every scenario and mechanism.
    pub fn all() -> Selection {
        Selection {
            scenarios: crate::scenarios::SCENARIOS.iter().collect(),
            mechanisms: None,
        }
    }

    /// The rows of `scenario`: every mechanism, or those named, after the baselines their
    /// ratios need (measured even when not named).
    fn mechanisms(&self, scenario: &Scenario) -> Vec<&'static Mechanism> {
        let Some(named) = &self.mechanisms else {
            return mechanisms::MECHANISMS.iter().collect();
        };
        let mut rows: Vec<&'static Mechanism> = Vec::new();
        let bases = std::iter::once(scenario.baseline)
            .chain(named.iter().map(|m| scenario.baseline_of(m.id)))
            .filter_map(mechanisms::find);
        for m in bases.chain(named.iter().copied()) {
            if !rows.iter().any(|r| r.id == m.id) {
                rows.push(m);
            }
        }
        rows
    }

    fn named(&self, m: &Mechanism) -> bool {
        self.mechanisms
            .as_ref()
            .is_some_and(|ms| ms.iter().any(|x| x.id == m.id))
    }
}

/// One planned row.
struct Planned<'a> {
    scenario: &'static Scenario,
    case: &'a Case,
    mechanism: &'static Mechanism,
}

impl Planned<'_> {
    fn applies(&self) -> bool {
        self.scenario.takes(self.mechanism)
    }
}

/// A row while its repetitions run.
enum Progress {
    /// The mechanism does not apply to the scenario and was not named: no row.
    NotARow,
    Running(Vec<Measurement>),
    Done(Outcome),
}

/// One repetition of `case`: its share of the case's time budget and warm-up, so a run with
/// more repetitions takes about as long.
fn repetition(case: &Case, repetitions: usize) -> Case {
    let n = repetitions.max(1);
    Case {
        budget: case.budget.map(|b| b / n as u32),
        warmup: (case.warmup / n).max(1).min(case.warmup),
        ..case.clone()
    }
}

/// Runs the selection and returns every row.
pub fn run(
    ctx: &Context,
    plan: &Plan,
    selection: &Selection,
    machine: Machine,
    show_progress: bool,
) -> Report {
    let cases: Vec<(&'static Scenario, Vec<Case>)> = selection
        .scenarios
        .iter()
        .map(|&s| (s, s.cases(plan)))
        .collect();
    let total: usize = cases
        .iter()
        .map(|(s, cs)| {
            let applying = selection
                .mechanisms(s)
                .into_iter()
                .filter(|&m| s.takes(m))
                .count();
            cs.len() * applying * plan.repetitions(s.repeat)
        })
        .sum();
    let bar = progress_bar(show_progress, total as u64);
    let mut rows = Vec::new();
    for (scenario, cases) in &cases {
        let repetitions = plan.repetitions(scenario.repeat);
        for case in cases {
            let planned: Vec<Planned<'_>> = selection
                .mechanisms(scenario)
                .into_iter()
                .map(|mechanism| Planned {
                    scenario,
                    case,
                    mechanism,
                })
                .collect();
            let mut progress: Vec<Progress> = planned
                .iter()
                .map(|p| match admit(ctx, p, selection) {
                    Ok(()) => Progress::Running(Vec::with_capacity(repetitions)),
                    Err(Some(outcome)) => Progress::Done(outcome),
                    Err(None) => Progress::NotARow,
                })
                .collect();
            let rep_case = repetition(case, repetitions);
            let together = scenario.interleaves(ctx, &rep_case);
            for _ in 0..repetitions {
                if together {
                    repetition_interleaved(ctx, &planned, &mut progress, &rep_case, &bar);
                    continue;
                }
                for (p, state) in planned.iter().zip(progress.iter_mut()) {
                    if !matches!(state, Progress::Running(_)) {
                        continue;
                    }
                    bar.set_message(format!(
                        "{} {} {}",
                        p.scenario.id, p.case.regime, p.mechanism.id
                    ));
                    record(state, measure(ctx, p, &rep_case));
                    bar.inc(1);
                }
            }
            for (p, state) in planned.iter().zip(progress) {
                let outcome = match state {
                    Progress::NotARow => continue,
                    Progress::Done(outcome) => outcome,
                    Progress::Running(reps) => match Measured::of_repetitions(reps) {
                        Some(m) => Outcome::Measured(Box::new(m)),
                        None => Outcome::Failed("no samples".to_string()),
                    },
                };
                rows.push(row(ctx, p, outcome));
            }
        }
    }
    bar.finish_and_clear();
    Report {
        machine,
        profile: plan.profile,
        scenarios: selection
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                id: s.id,
                about: s.about,
                figures: s.figures,
                baseline: s.baseline,
                pairs: s.pairs.to_vec(),
                footer: s.footer,
                repetitions: plan.repetitions(s.repeat),
            })
            .collect(),
        rows,
    }
}

/// Whether a row is measured: `Err` with its final outcome if not, `Err(None)` if it is not
/// a row at all.
fn admit(ctx: &Context, p: &Planned<'_>, selection: &Selection) -> Result<(), Option<Outcome>> {
    if !p.applies() {
        // Not a question this scenario asks of this mechanism: a row only if it was named.
        return Err(selection.named(p.mechanism).then(|| {
            Outcome::Skipped(format!(
                "{} ({}) does not apply to {}",
                p.mechanism.id,
                p.mechanism.kind.as_str(),
                p.scenario.id
            ))
        }));
    }
    let setup = setup(ctx, p.scenario.id, p.case);
    p.scenario
        .check(&setup)
        .and_then(|()| availability(p.mechanism, &setup))
        .map_err(|Skipped(reason)| Some(Outcome::Skipped(reason)))
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
pub fn availability(m: &Mechanism, setup: &Setup<'_>) -> Result<(), Skipped> {
    if setup.sim && setup.oversubscribed {
        // gem5's syscall emulation runs each thread on a core of its own and fails the clone
        // that would need one more.
        return Err(Skipped::new(format!(
            "{} receivers and the signaller need {} cores, and gem5 syscall emulation runs one \
             thread per core: simulate {} cores (run_nemo_bench.py --cores)",
            setup.receivers,
            setup.receivers + 1,
            setup.receivers + 1
        )));
    }
    if m.kind.burns_core() && setup.oversubscribed {
        return Err(Skipped::new(format!(
            "{} receivers and the signaller need {} cores, {} here: {} receivers would share a \
             core and measure the scheduler",
            setup.receivers,
            setup.receivers + 1,
            setup.cores,
            m.kind.as_str()
        )));
    }
    m.check(setup)
}

/// One repetition of one row.
fn measure(ctx: &Context, p: &Planned<'_>, case: &Case) -> Result<Measurement, Outcome> {
    let setup = setup(ctx, p.scenario.id, case);
    let instance = p
        .mechanism
        .instantiate(&setup)
        .map_err(|Skipped(reason)| Outcome::Skipped(reason))?;
    p.scenario
        .measure(ctx, case, &instance)
        .map_err(|f| Outcome::Failed(f.to_string()))
}

/// One repetition of every running row of a case whose blocking mechanisms take turns event
/// by event: those whose waiters leave the core free measured together, the others alone. If
/// the shared measurement fails, the row it names (a lost event names the mechanism whose
/// waiter never got it) ends with that failure, and the others are measured again alone so
/// that they still get their repetition; a failure that names no row is measured again alone
/// for every row, so that it lands on the row that causes it.
fn repetition_interleaved(
    ctx: &Context,
    planned: &[Planned<'_>],
    progress: &mut [Progress],
    case: &Case,
    bar: &ProgressBar,
) {
    let mut together: Vec<(usize, Box<dyn BlockingEvent>)> = Vec::new();
    for (i, p) in planned.iter().enumerate() {
        if !matches!(progress[i], Progress::Running(_)) {
            continue;
        }
        let alone = if p.mechanism.kind.burns_core() {
            measure(ctx, p, case)
        } else {
            match p.mechanism.instantiate(&setup(ctx, p.scenario.id, case)) {
                Ok(Instance::Blocking(ev)) => {
                    together.push((i, ev));
                    continue;
                }
                Ok(instance) => p
                    .scenario
                    .measure(ctx, case, &instance)
                    .map_err(|f| Outcome::Failed(f.to_string())),
                Err(Skipped(reason)) => Err(Outcome::Skipped(reason)),
            }
        };
        record(&mut progress[i], alone);
        bar.inc(1);
    }
    let Some(&(first, _)) = together.first() else {
        return;
    };
    let scenario = planned[first].scenario;
    bar.set_message(format!(
        "{} {}: {} mechanisms event by event",
        scenario.id,
        case.regime,
        together.len()
    ));
    let evs: Vec<&dyn BlockingEvent> = together.iter().map(|(_, ev)| &**ev).collect();
    let measured = scenario.measure_interleaved(ctx, case, &evs);
    let rows: Vec<usize> = together.iter().map(|&(i, _)| i).collect();
    drop(evs);
    drop(together);
    match measured {
        Ok(ms) => {
            for (&i, m) in rows.iter().zip(ms) {
                record(&mut progress[i], Ok(m));
            }
        }
        Err(shared) => {
            let culprit = shared.instance.and_then(|j| rows.get(j).copied());
            for &i in &rows {
                let result = if Some(i) == culprit {
                    Err(Outcome::Failed(format!(
                        "{} (taking turns with the other blocking rows)",
                        shared.failure
                    )))
                } else {
                    measure(ctx, &planned[i], case)
                };
                record(&mut progress[i], result);
            }
        }
    }
    bar.inc(rows.len() as u64);
}

/// Adds a repetition's result to its row: a measurement, or the row's final outcome.
fn record(state: &mut Progress, result: Result<Measurement, Outcome>) {
    match result {
        Ok(m) => {
            if let Progress::Running(reps) = state {
                reps.push(m);
            }
        }
        Err(outcome) => *state = Progress::Done(outcome),
    }
}

fn row(ctx: &Context, p: &Planned<'_>, outcome: Outcome) -> Row {
    let note = match outcome {
        Outcome::Measured(_) => p.mechanism.note(),
        _ => None,
    };
    Row {
        note,
        scenario: p.scenario.id,
        mechanism: p.mechanism.id,
        kind: p.mechanism.kind,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::{Fanout, Gap};
    use std::time::Duration;

    #[test]
    fn a_repetition_takes_its_share_of_budget_and_warmup() {
        let case = Case {
            regime: "long-gap".into(),
            gap: Gap::Sleep(Duration::from_millis(1)),
            events: 1000,
            budget: Some(Duration::from_millis(1500)),
            warmup: 100,
            receivers: 1,
            fanout: Fanout::One,
        };
        let r = repetition(&case, 10);
        assert_eq!(r.budget, Some(Duration::from_millis(150)));
        assert_eq!((r.warmup, r.events), (10, 1000));
        assert_eq!(repetition(&case, 1), case);
        let tiny = Case {
            warmup: 1,
            budget: None,
            ..case
        };
        assert_eq!(repetition(&tiny, 7).warmup, 1);
        assert_eq!(repetition(&tiny, 7).budget, None);
    }
}
