//! `preempt` (xUI Fig. 5): how much a compute kernel slows down when the `nemo_user::sched`
//! task running it is preempted every 5–100 µs — each preemption a tick, a switch to the
//! worker's loop and back to the same task (it is the worker's only task).
//!
//! One worker, one task at a time, two kinds of rows per kernel and quantum:
//!
//! - **safepoints** (`fib 20us`): each repetition runs the kernel (`ticks::kernels`, with
//!   `sched::safepoint` at its back-edges) three times, each as its own task: without safepoints
//!   (`plain`), with safepoints and quantum zero (`quiet`), and with safepoints at the case's
//!   quantum (`ticked`); `quiet` and `ticked` alternate in order.
//! - **anywhere** (`fib 20us anywhere`, `signal` and `uintr` only): the kernel without
//!   safepoints inside `sched::preemptible`, where the tick's handler redirects the task to the
//!   preemption stub at whatever instruction it interrupted; each repetition runs it `plain`
//!   (quantum zero) and `ticked`, alternating in order.
//! - **kbtimer** (`fib 5us kbtimer`, under `--sim` on the gem5 UINTR model only): as anywhere,
//!   but the ticks come from xUI's KB timer of the worker's own hardware thread (armed by the
//!   task on `sched::TICK_VECTOR` with the quantum as its period, disarmed before it returns)
//!   instead of `senduipi`s from the timer thread: xUI's "tracked + KB timer" when gem5 runs
//!   with `--strategy tracked`.
//!
//! Each run is timed by the worker thread's CPU clock, read inside the task, so other programs on
//! the machine do not count (under `--sim`, where each thread has a simulated core of its own,
//! by the simulated monotonic clock); the ticks' timer thread sleeps to its deadlines
//! (`Idle::Sleep`; it spins under `--sim`) and does not count either. `preemptions_per_run` and
//! `ticks_per_run` show how many ticks a run really took and how many of them switched.
//!
//! - `slowdown_pct`: median ticked over median baseline, minus one — the cost of preemption
//!   (baseline: `quiet` for safepoint rows, `plain` for anywhere and kbtimer rows);
//! - `checks_pct`: median quiet over median plain, minus one — the cost of the safepoints alone
//!   (a thread-local load and, on `poll`, the pending word); safepoint rows only;
//! - samples: the extra time of each ticked run over the baseline run it is paired with;
//! - `ns_per_preemption`: that extra time per preemption the run took (median).
//!
//! On `signal` a tick is a real-time signal handled on the worker (its cost counts); on `poll`
//! the tick is a store the worker's next safepoint reads; on `uintr` a user interrupt. An
//! anywhere row's tick that lands in the C library (memops' `memcpy`/`memset`) is deferred to a
//! later tick (see `nemo_user::sched::preemptible`), which `ticks_per_run` over
//! `preemptions_per_run` shows. xUI's tracked-interrupt rows need the gem5 model (the
//! delivery strategy is gem5's `run_uintr.py --strategy`, not a row).

use std::sync::Arc;
use std::time::Duration;

use nemo_user::sched::{self, Runtime};
use nemo_user::timer::Idle;
use uintr_sys::instructions::{KbTimerMode, xui_clear_timer, xui_set_timer};

use super::Driver;
use super::sched_support::{backend_of, lazy_ticks_of, three_sim_cores};
use crate::clock::{Unit, monotonic_ns, thread_cpu_ns};
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::{Instance, Setup, Skipped};
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};
use crate::ticks::kernels::{Kernel, Workload};

/// The preempt scenario.
pub struct Preempt;

pub(super) const FOOTER: &str = "\
paper (xUI Fig. 5, preemption every 5 µs): safepoint polling and signals cost most, UIPI less, \
xUI's tracked interrupts + KB timer least (gem5 only); rows \"… anywhere\": no safepoints, the \
kernel in sched::preemptible, preempted at any instruction (signal, uintr); rows \"… kbtimer\" (gem5 only): the same, ticked by \
the worker's own KB timer; slowdown_pct: \
ticked vs quiet (same safepoints, quantum 0; anywhere rows: vs the plain kernel), medians of \
interleaved runs timed by the worker's CPU clock; checks_pct: quiet vs no safepoints; samples: \
extra CPU ns of each ticked run over its pair; ns_per_preemption: that per preemption";

/// The last word of an anywhere row's regime (`mechanisms::nemo_interrupt` skips such rows on
/// `poll`, matching the same word).
const ANYWHERE: &str = "anywhere";
/// The last word of a KB-timer row's regime (`mechanisms::nemo_interrupt` skips such rows
/// where the KB timer or user interrupts are missing).
const KB_TIMER: &str = "kbtimer";

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
        Profile::Quick => Form {
            intervals: &[20],
            reps: 3,
            run: Duration::from_millis(1),
        },
        // xUI's headline quantum, short runs: gem5's O3 model simulates a few hundred thousand
        // instructions per host second (gem5/RESULTS.md).
        Profile::Sim => Form {
            intervals: &[5],
            reps: 1,
            run: Duration::from_micros(200),
        },
    }
}

/// Where a row's task may be preempted.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// At `sched::safepoint`s in the kernel.
    Safepoints,
    /// Anywhere inside `sched::preemptible`, no safepoints.
    Anywhere,
    /// As `Anywhere`, the ticks from xUI's KB timer of the worker's own hardware thread instead
    /// of the runtime's timer thread (gem5 UINTR model only; rows under `--sim`).
    KbTimer,
}

impl Rows {
    /// Timed runs per repetition: plain, quiet and ticked for safepoint rows; plain and
    /// ticked otherwise.
    fn runs(self) -> u32 {
        match self {
            Rows::Safepoints => 3,
            Rows::Anywhere | Rows::KbTimer => 2,
        }
    }
}

impl Driver for Preempt {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let f = form(plan);
        let reps = plan.iters.unwrap_or(f.reps);
        // At least 200 ticks a run natively; 40 under gem5 (200 µs at 5 µs: a few hundred
        // thousand cycles of O3 simulation per run).
        let least = if plan.profile == Profile::Sim {
            40
        } else {
            200
        };
        let mut kinds = vec![Rows::Safepoints, Rows::Anywhere];
        if plan.profile == Profile::Sim {
            kinds.push(Rows::KbTimer);
        }
        let mut cases = Vec::new();
        for &us in f.intervals {
            let run = f.run.max(Duration::from_micros(least * us));
            for &rows in &kinds {
                let runs = rows.runs();
                let suffix = match rows {
                    Rows::Safepoints => String::new(),
                    Rows::Anywhere => format!(" {ANYWHERE}"),
                    Rows::KbTimer => format!(" {KB_TIMER}"),
                };
                for k in Kernel::ALL {
                    cases.push(Case {
                        regime: format!("{} {us}us{suffix}", k.name()),
                        gap: Gap::Spin(Duration::from_micros(us)),
                        events: reps,
                        warmup: 1,
                        budget: Some(run * runs * reps as u32),
                        receivers: 1,
                        fanout: Fanout::One,
                    });
                }
            }
        }
        cases
    }

    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        three_sim_cores(setup)
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let backend = backend_of(instance)?;
        let lazy_ticks = lazy_ticks_of(instance);
        let mut words = case.regime.split_whitespace();
        let kernel = words
            .next()
            .and_then(Kernel::parse)
            .ok_or_else(|| Failure::Unsupported(format!("no kernel in {:?}", case.regime)))?;
        let rows = match words.nth(1) {
            Some(ANYWHERE) => Rows::Anywhere,
            Some(KB_TIMER) => Rows::KbTimer,
            _ => Rows::Safepoints,
        };
        let quantum = case.gap.duration();
        let reps = case.events.max(1);
        let runs = rows.runs();
        let run = case
            .budget
            .map_or(Duration::from_millis(4), |b| b / (runs * reps as u32));
        // A KB timer period is in TSC cycles (the run's clock under gem5).
        let kb_period = ctx.clock.ticks(quantum).max(1);
        let rt = Runtime::builder()
            .workers(1)
            .backend(backend)
            .lazy_ticks(lazy_ticks)
            .quantum(Duration::ZERO)
            // Not `Idle::Spin` natively: a spinning timer thread needs a core of its own,
            // which a small machine shared with other programs does not have (see
            // `bench/README.md`). gem5 aborts on `clock_nanosleep`, and gives it a core.
            .timer_idle(if ctx.sim { Idle::Spin } else { Idle::Sleep })
            .build()
            .map_err(|e| Failure::Register {
                receiver: 0,
                reason: e.to_string(),
            })?;
        let runner = Runner {
            rt: &rt,
            sim: ctx.sim,
        };
        let set_quantum = |q| {
            rt.set_quantum(0, q).map_err(|e| Failure::Register {
                receiver: 0,
                reason: e.to_string(),
            })
        };
        // The run whose extra time a tick costs: the same code unticked.
        let baseline = match rows {
            Rows::Safepoints => Mode::Quiet,
            Rows::Anywhere | Rows::KbTimer => Mode::Plain,
        };
        let ticked_mode = match rows {
            Rows::Safepoints => Mode::Quiet,
            Rows::Anywhere => Mode::Anywhere,
            Rows::KbTimer => Mode::KbTimer(kb_period),
        };
        // The runtime's timer thread ticks the ticked runs, except the KB timer's.
        let timer_quantum = if rows == Rows::KbTimer {
            Duration::ZERO
        } else {
            quantum
        };
        // Units of work for one run of about `run`.
        let mut w = Workload::new(kernel);
        let one = runner.time(&w, baseline)?.ns.max(1);
        w.set_units((run.as_nanos() as u64 / one).max(1));
        let w = Arc::new(w);
        for _ in 0..case.warmup {
            runner.time(&w, baseline)?;
        }
        let (mut plain, mut base, mut ticked) = (Vec::new(), Vec::new(), Vec::new());
        let mut per_preemption = Vec::new();
        let mut extra_ns = Vec::with_capacity(reps);
        let (mut preemptions, mut ticks) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            if rows == Rows::Safepoints {
                plain.push(runner.time(&w, Mode::Plain)?.ns as f64);
            }
            let mut b = 0.0;
            let mut t = Run::default();
            for second in [false, true] {
                if second == (rep % 2 == 0) {
                    set_quantum(timer_quantum)?;
                    t = runner.time(&w, ticked_mode)?;
                    set_quantum(Duration::ZERO)?;
                } else {
                    b = runner.time(&w, baseline)?.ns as f64;
                }
            }
            base.push(b);
            ticked.push(t.ns as f64);
            preemptions.push(t.preemptions as f64);
            ticks.push(t.ticks as f64);
            extra_ns.push((t.ns as f64 - b).max(0.0).round() as u64);
            if t.preemptions > 0 {
                per_preemption.push(((t.ns as f64 - b) / t.preemptions as f64).max(0.0));
            }
        }
        rt.shutdown();
        let (b, t) = (median(&base), median(&ticked));
        let mut extra = vec![
            ("interval_us", quantum.as_secs_f64() * 1e6),
            ("slowdown_pct", (t / b - 1.0) * 100.0),
        ];
        if rows == Rows::Safepoints {
            extra.push(("checks_pct", (b / median(&plain) - 1.0) * 100.0));
        }
        extra.extend([
            ("ns_per_preemption", median(&per_preemption)),
            ("preemptions_per_run", median(&preemptions)),
            ("ticks_per_run", median(&ticks)),
        ]);
        // The table's unit is the run's clock: simulated cycles under gem5.
        let (unit, samples) = if ctx.sim {
            let cycles = |ns: u64| ctx.clock.ticks(Duration::from_nanos(ns));
            (ctx.clock.unit(), extra_ns.into_iter().map(cycles).collect())
        } else {
            (Unit::Ns, extra_ns)
        };
        Ok(Measurement {
            unit,
            samples: Samples::Latency(samples),
            waiter_cpu_ns_per_event: None,
            pinned: false,
            clamped: 0,
            extra,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// No safepoints, no region.
    Plain,
    /// `sched::safepoint` at the kernel's back-edges (ticked or not, as the quantum says).
    Quiet,
    /// No safepoints, inside `sched::preemptible`.
    Anywhere,
    /// As `Anywhere`, with this hardware thread's KB timer ticking every so many TSC cycles
    /// on the worker's tick vector while the kernel runs.
    KbTimer(u64),
}

#[derive(Default)]
struct Run {
    ns: u64,
    preemptions: u64,
    ticks: u64,
}

struct Runner<'a> {
    rt: &'a Runtime,
    sim: bool,
}

impl Runner<'_> {
    /// Runs the kernel as a task and returns the worker's time over it (CPU time natively,
    /// simulated time under gem5), its preemptions and ticks.
    fn time(&self, w: &Workload, mode: Mode) -> Result<Run, Failure> {
        let mut w = w.clone();
        let clock: fn() -> Option<u64> = if self.sim {
            monotonic_ns_opt
        } else {
            thread_cpu_ns
        };
        let before = self.rt.stats()[0];
        let ns = self
            .rt
            .spawn(move || {
                let c0 = clock();
                match mode {
                    Mode::Plain => w.run(&mut || {}),
                    Mode::Quiet => w.run(&mut || {
                        sched::safepoint();
                    }),
                    Mode::Anywhere => sched::preemptible(|| w.run(&mut || {})),
                    Mode::KbTimer(period) => {
                        // SAFETY: `instantiate` admits KB-timer rows only where the gem5 model
                        // announces the timer, on the uintr backend: the worker's thread is a
                        // registered receiver whose handler takes the tick vector. The timer is
                        // disarmed before the task returns, so it never ticks another task's
                        // run (ticks that land in the worker's loop meanwhile only set the
                        // request that the worker clears before resuming a task).
                        unsafe {
                            xui_set_timer(period, KbTimerMode::Periodic, sched::TICK_VECTOR);
                        }
                        let r = sched::preemptible(|| w.run(&mut || {}));
                        // SAFETY: as above.
                        unsafe { xui_clear_timer() };
                        r
                    }
                };
                Some(clock()? - c0?)
            })
            .join()
            .map_err(|e| Failure::Unsupported(format!("the kernel task failed: {e}")))?
            .ok_or_else(|| Failure::Unsupported("no thread CPU clock".into()))?;
        let after = self.rt.stats()[0];
        Ok(Run {
            ns,
            preemptions: after.preemptions - before.preemptions,
            ticks: after.ticks - before.ticks,
        })
    }
}

fn monotonic_ns_opt() -> Option<u64> {
    Some(monotonic_ns())
}

fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}
