//! `preempt` (xUI Fig. 5): how much a compute kernel slows down when the `nemo_user::sched`
//! task running it is preempted every 5–100 µs — each preemption a tick, a switch to the
//! worker's loop and back to the same task (it is the worker's only task).
//!
//! One worker, one task at a time. Each repetition runs the kernel (`ticks::kernels`, with
//! `sched::safepoint` at its back-edges) three times, each as its own task: without safepoints
//! (`plain`), with safepoints and quantum zero (`quiet`), and with safepoints at the case's
//! quantum (`ticked`); `quiet` and `ticked` alternate in order. Each run is timed by the worker
//! thread's CPU clock, read inside the task, so other programs on the machine do not count; the
//! ticks' timer thread sleeps to its deadlines (`Idle::Sleep`) and does not count either, and
//! `preemptions_per_run` shows how many ticks a run really took.
//!
//! - `slowdown_pct`: median ticked over median quiet, minus one — the cost of preemption;
//! - `checks_pct`: median quiet over median plain, minus one — the cost of the safepoints alone
//!   (a thread-local load and, on `poll`, the pending word);
//! - samples: the extra CPU time of each ticked run over the quiet run it is paired with;
//! - `ns_per_preemption`: that extra time per preemption the run took (median).
//!
//! On `signal` a tick is a real-time signal handled on the worker (its cost counts); on `poll`
//! the tick is a store the worker's next safepoint reads. Neither preempts between safepoints
//! (see `nemo_user::sched`); xUI's UIPI and tracked-interrupt rows need the gem5 model.

use std::sync::Arc;
use std::time::Duration;

use nemo_user::sched::{self, Runtime};
use nemo_user::timer::Idle;

use super::Driver;
use super::sched_support::backend_of;
use crate::clock::{Unit, thread_cpu_ns};
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::{Instance, Setup, Skipped};
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};
use crate::ticks::kernels::{Kernel, Workload};

/// The preempt scenario.
pub struct Preempt;

pub(super) const FOOTER: &str = "\
paper (xUI Fig. 5, preemption every 5 µs): safepoint polling and signals cost most, UIPI less, \
xUI's tracked interrupts + KB timer least (gem5 only); slowdown_pct: ticked vs quiet (same \
safepoints, quantum 0), medians of interleaved runs timed by the worker's CPU clock; \
checks_pct: quiet vs no safepoints; samples: extra CPU ns of each ticked run over its quiet \
pair; ns_per_preemption: that per preemption";

struct Form {
    intervals: &'static [u64],
    reps: usize,
    run: Duration,
}

fn form(plan: &Plan) -> Form {
    match plan.profile {
        Profile::Full if plan.is_named("preempt") => Form {
            intervals: &[5, 10, 20, 50, 100],
            reps: 7,
            run: Duration::from_millis(10),
        },
        Profile::Full => Form {
            intervals: &[20],
            reps: 3,
            run: Duration::from_millis(4),
        },
        Profile::Quick | Profile::Sim => Form {
            intervals: &[20],
            reps: 3,
            run: Duration::from_millis(1),
        },
    }
}

impl Driver for Preempt {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let f = form(plan);
        let reps = plan.iters.unwrap_or(f.reps);
        let mut cases = Vec::new();
        for &us in f.intervals {
            let run = f.run.max(Duration::from_micros(200 * us));
            for k in Kernel::ALL {
                cases.push(Case {
                    regime: format!("{} {us}us", k.name()),
                    gap: Gap::Spin(Duration::from_micros(us)),
                    events: reps,
                    warmup: 1,
                    budget: Some(run * 3 * reps as u32),
                    receivers: 1,
                    fanout: Fanout::One,
                });
            }
        }
        cases
    }

    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        if setup.sim {
            return Err(Skipped::new(
                "a sched runtime's timer thread sleeps, which --sim runs cannot",
            ));
        }
        Ok(())
    }

    fn measure(
        &self,
        _ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let backend = backend_of(instance)?;
        let kernel = case
            .regime
            .split_whitespace()
            .next()
            .and_then(Kernel::parse)
            .ok_or_else(|| Failure::Unsupported(format!("no kernel in {:?}", case.regime)))?;
        let quantum = case.gap.duration();
        let reps = case.events.max(1);
        let run = case
            .budget
            .map_or(Duration::from_millis(4), |b| b / (3 * reps as u32));
        let rt = Runtime::builder()
            .workers(1)
            .backend(backend)
            .quantum(Duration::ZERO)
            // Not `Idle::Spin`: on `poll`, ticks from a spinning timer thread stall after the
            // first (see `bench/README.md`).
            .timer_idle(Idle::Sleep)
            .build()
            .map_err(|e| Failure::Register {
                receiver: 0,
                reason: e.to_string(),
            })?;
        let runner = Runner { rt: &rt };
        // Units of work for one run of about `run`.
        let mut w = Workload::new(kernel);
        let one = runner.time(&w, Mode::Quiet)?.cpu_ns.max(1);
        w.set_units((run.as_nanos() as u64 / one).max(1));
        let w = Arc::new(w);
        for _ in 0..case.warmup {
            runner.time(&w, Mode::Quiet)?;
        }
        let (mut plain, mut quiet, mut ticked) = (Vec::new(), Vec::new(), Vec::new());
        let mut per_preemption = Vec::new();
        let mut extra_ns = Vec::with_capacity(reps);
        let mut preemptions = Vec::new();
        for rep in 0..reps {
            plain.push(runner.time(&w, Mode::Plain)?.cpu_ns as f64);
            let mut q = 0.0;
            let mut t = Run::default();
            for second in [false, true] {
                if second == (rep % 2 == 0) {
                    rt.set_quantum(0, quantum).map_err(|e| Failure::Register {
                        receiver: 0,
                        reason: e.to_string(),
                    })?;
                    t = runner.time(&w, Mode::Quiet)?;
                    let _ = rt.set_quantum(0, Duration::ZERO);
                } else {
                    q = runner.time(&w, Mode::Quiet)?.cpu_ns as f64;
                }
            }
            quiet.push(q);
            ticked.push(t.cpu_ns as f64);
            preemptions.push(t.preemptions as f64);
            extra_ns.push((t.cpu_ns as f64 - q).max(0.0).round() as u64);
            if t.preemptions > 0 {
                per_preemption.push(((t.cpu_ns as f64 - q) / t.preemptions as f64).max(0.0));
            }
        }
        rt.shutdown();
        let (p, q, t) = (median(&plain), median(&quiet), median(&ticked));
        Ok(Measurement {
            unit: Unit::Ns,
            samples: Samples::Latency(extra_ns),
            waiter_cpu_ns_per_event: None,
            pinned: false,
            clamped: 0,
            extra: vec![
                ("interval_us", quantum.as_secs_f64() * 1e6),
                ("slowdown_pct", (t / q - 1.0) * 100.0),
                ("checks_pct", (q / p - 1.0) * 100.0),
                ("ns_per_preemption", median(&per_preemption)),
                ("preemptions_per_run", median(&preemptions)),
            ],
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No safepoints.
    Plain,
    /// `sched::safepoint` at the kernel's back-edges (ticked or not, as the quantum says).
    Quiet,
}

#[derive(Default)]
struct Run {
    cpu_ns: u64,
    preemptions: u64,
}

struct Runner<'a> {
    rt: &'a Runtime,
}

impl Runner<'_> {
    /// Runs the kernel as a task and returns the worker's CPU time over it and its preemptions.
    fn time(&self, w: &Workload, mode: Mode) -> Result<Run, Failure> {
        let mut w = w.clone();
        let before = self.rt.stats()[0].preemptions;
        let cpu = self
            .rt
            .spawn(move || {
                let c0 = thread_cpu_ns();
                match mode {
                    Mode::Plain => w.run(&mut || {}),
                    Mode::Quiet => w.run(&mut || {
                        sched::safepoint();
                    }),
                };
                Some(thread_cpu_ns()? - c0?)
            })
            .join()
            .map_err(|e| Failure::Unsupported(format!("the kernel task failed: {e}")))?
            .ok_or_else(|| Failure::Unsupported("no thread CPU clock".into()))?;
        Ok(Run {
            cpu_ns: cpu,
            preemptions: self.rt.stats()[0].preemptions - before,
        })
    }
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
