//! `overhead` (xUI Fig. 4): how much a compute kernel slows down when its thread receives a tick
//! every 1–100 µs, and what each delivered tick costs it.
//!
//! The kernel thread runs on one core; a timer core — `nemo_user::timer::TimerCore` spinning on
//! TSC deadlines — runs on another and, at each deadline, sends the mechanism's interrupt
//! (`InterruptLink::send`), one at a time: a tick whose predecessor has not arrived yet coalesces
//! with it, as a pending vector does. Mechanisms with a timer of their own (`own_ticks`: a
//! per-thread POSIX timer) tick themselves instead, and the timer core idles alongside.
//!
//! Each repetition runs the same work back to back without ticks and with them (in alternating
//! order), so slow drifts of the machine cancel, and times each run by the kernel thread's CPU
//! clock, so that other programs sharing the machine do not count (wall time under `--sim`,
//! where there is no such clock); the results are medians over repetitions:
//!
//! - `slowdown_pct`: ticked time over quiet time, minus one;
//! - `cycles_per_event` (and `ns_per_event`): the extra time divided by the ticks delivered;
//! - for mechanisms that deliver only at safepoints (they say so:
//!   `InterruptLink::delivers_at_safepoints`; a probe that looked for ticked runs receiving
//!   nothing misjudged a starved signal receiver), both runs call the mechanism's `poll` at the
//!   kernel's back-edges, and `checks_pct` is what those checks cost with no ticks at all,
//!   against the uninstrumented kernel.
//!
//! A receiver that cannot keep up — each tick costs it more than the interval — would never
//! finish its run: the timer core stops the ticks once a ticked run has taken [`SATURATED`]
//! times as long as the work takes without them, and the row counts such runs in
//! `saturated_runs` (its slowdown is then a lower bound).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nemo_user::timer::{Arm, Expiry, Idle, TimerCore};

use super::Driver;
use crate::arrival::Arrivals;
use crate::clock::{Source, Unit, thread_cpu_ns};
use crate::harness::{Case, Context, Failure, Fanout, Gap, spawn_in};
use crate::mechanisms::{Instance, InterruptLink, OwnTicks};
use crate::placement::{pin_current, pin_for_now};
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};
use crate::ticks::kernels::{Kernel, Workload};
use crate::ticks::stats::{Overhead as Summary, Pair};

/// Kernels slowed down by ticks.
pub struct Overhead;

/// What a profile runs: intervals, repetitions, and the length of one kernel run.
struct Form {
    intervals: &'static [u64],
    reps: usize,
    run: Duration,
}

/// Runs per repetition: quiet, ticked, and (for safepoint mechanisms) uninstrumented.
const RUNS_PER_REP: u32 = 3;

/// Times a repetition is run again when its ticked run received no tick.
const RETRIES: u32 = 10;

/// A ticked run this many times longer than the work takes without ticks is saturated: the
/// ticks are stopped so that it can finish.
pub const SATURATED: u64 = 10;

fn form(plan: &Plan) -> Form {
    match plan.profile {
        Profile::Sim => Form {
            intervals: &[5],
            reps: 3,
            run: Duration::from_micros(200),
        },
        Profile::Quick => Form {
            intervals: &[5],
            reps: 3,
            run: Duration::from_millis(1),
        },
        Profile::Full if plan.is_named("overhead") => Form {
            intervals: &[1, 5, 10, 50, 100],
            reps: 11,
            run: Duration::from_millis(10),
        },
        Profile::Full => Form {
            intervals: &[5, 50],
            reps: 5,
            run: Duration::from_millis(4),
        },
    }
}

pub(super) const FOOTER: &str = "\
paper (xUI Fig. 4, Sapphire Rapids at 2 GHz, fib/linpack/memops): 645 cycles per event for UIPI \
from a timer core, 231 with tracked interrupts, 105 with the KB timer; at 5 µs the slowdown falls \
from 6.86 % (UIPI) to 1.06 % (KB timer + tracking)
p50…max: extra CPU time of the kernel thread per delivered tick, one value per repetition; \
cycles are TSC cycles
slowdown_pct: ticked run vs the same kernel without ticks (medians of interleaved repetitions); \
checks_pct: safepoint checks without ticks vs no checks; delivered_pct: ticks that became \
deliveries (the rest coalesced with a pending one)";

impl Driver for Overhead {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let f = form(plan);
        let reps = plan.iters.unwrap_or(f.reps);
        let mut cases = Vec::new();
        for &us in f.intervals {
            // Long enough for a couple of hundred ticks (a simulator runs what it is given).
            let run = match plan.profile {
                Profile::Sim => f.run,
                _ => f.run.max(Duration::from_micros(200 * us)),
            };
            for k in Kernel::ALL {
                cases.push(Case {
                    regime: format!("{} {us}us", k.name()),
                    gap: Gap::Spin(Duration::from_micros(us)),
                    events: reps,
                    warmup: 1,
                    // The measured part: `reps` repetitions of up to three runs.
                    budget: Some(run * RUNS_PER_REP * reps as u32),
                    receivers: 1,
                    fanout: Fanout::One,
                });
            }
        }
        cases
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let Instance::Interrupt(link) = instance else {
            return Err(Failure::Unsupported(
                "overhead interrupts a running kernel: it needs an interrupt mechanism".into(),
            ));
        };
        let kernel = case
            .regime
            .split_whitespace()
            .next()
            .and_then(Kernel::parse)
            .ok_or_else(|| Failure::Unsupported(format!("no kernel in {:?}", case.regime)))?;
        let reps = case.events.max(1);
        let run = case.budget.map_or(Duration::from_millis(4), |b| {
            b / (RUNS_PER_REP * reps as u32)
        });
        let params = Params {
            kernel,
            interval: case.gap.duration(),
            run,
            warmup: case.warmup,
            reps,
        };
        let outcome = run_case(ctx, &**link, &params)?;
        Ok(summarise(ctx, &params, outcome))
    }
}

struct Params {
    kernel: Kernel,
    interval: Duration,
    run: Duration,
    warmup: usize,
    reps: usize,
}

/// What the kernel thread measured.
struct Outcome {
    pairs: Vec<Pair>,
    expirations: u64,
    /// Ticked runs whose ticks were stopped (see [`SATURATED`]).
    saturated: u64,
    polled: bool,
    pinned: bool,
}

/// The timer core's side of the ticks, shared with the kernel thread.
struct Ticks<'l> {
    link: &'l dyn InterruptLink,
    arrivals: Arc<Arrivals>,
    /// The kernel thread wants ticks.
    active: AtomicBool,
    /// The timer core is inside its tick function.
    busy: AtomicBool,
    sent: AtomicU64,
    expired: AtomicU64,
    /// When the current ticked run is saturated (clock ticks; 0: no run).
    deadline: AtomicU64,
    saturated: AtomicBool,
    /// The mechanism's own ticks during a ticked run.
    own: Mutex<Option<Arc<dyn OwnTicks>>>,
}

impl Ticks<'_> {
    /// At each deadline, on the timer core.
    fn tick(&self, e: Expiry, clock: &crate::clock::Clock) {
        self.busy.store(true, Ordering::SeqCst);
        let deadline = self.deadline.load(Ordering::SeqCst);
        if deadline != 0 && clock.now() > deadline {
            self.saturated.store(true, Ordering::SeqCst);
            self.active.store(false, Ordering::SeqCst);
            // `try_lock`, and again at the next tick if need be: the kernel thread holds the
            // lock only to put the handle in or take it out.
            if let Ok(own) = self.own.try_lock()
                && let Some(o) = own.as_ref()
            {
                o.stop();
            }
        }
        if self.active.load(Ordering::SeqCst) {
            self.expired.fetch_add(1 + e.missed, Ordering::Relaxed);
            if self.arrivals.count() as u64 >= self.sent.load(Ordering::Relaxed) {
                self.sent.fetch_add(1, Ordering::Relaxed);
                self.link.send(0);
            }
        }
        self.busy.store(false, Ordering::SeqCst);
    }

    /// Stops the sends; returns once the timer core is out of its tick function, so nothing is
    /// sent after.
    fn deactivate(&self) {
        self.active.store(false, Ordering::SeqCst);
        while self.busy.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    }
}

/// The timer core the ticks come from: spinning on TSC deadlines, the run's TSC rate reused.
fn tick_core<'a>(ctx: &Context) -> TimerCore<'a> {
    let b = TimerCore::builder().wait(Idle::Spin);
    match (ctx.clock.source(), ctx.clock.tsc_ghz()) {
        (Source::Tsc | Source::Cycles, Some(g)) => b.tsc_ghz(g).build(),
        _ => b.build(),
    }
}

fn run_case(ctx: &Context, link: &dyn InterruptLink, p: &Params) -> Result<Outcome, Failure> {
    let ticks = Ticks {
        link,
        arrivals: Arc::new(Arrivals::new(ctx.clock, 1)),
        active: AtomicBool::new(false),
        busy: AtomicBool::new(false),
        sent: AtomicU64::new(0),
        expired: AtomicU64::new(0),
        deadline: AtomicU64::new(0),
        saturated: AtomicBool::new(false),
        own: Mutex::new(None),
    };
    let core = Arc::new(tick_core(ctx));
    std::thread::scope(|s| {
        let timer_thread = spawn_in(s, "timer", || {
            let pinned = pin_current(ctx.topology.signaller_core());
            let _ = core.run();
            pinned
        })?;
        // Armed for the whole case, so the timer core does the same in quiet and ticked runs.
        let ticker = core.arm_fn(Arm::Periodic(p.interval), |e| ticks.tick(e, &ctx.clock));
        let result = match &ticker {
            // Under gem5 every thread needs a core of its own: the kernel runs on the calling
            // thread, so a case is two threads, the timer's and this one.
            Ok(_) if ctx.sim => kernel_thread(ctx, &ticks, p),
            Ok(_) => spawn_in(s, "kernel", || kernel_thread(ctx, &ticks, p))
                .and_then(|k| k.join().expect("kernel thread panicked")),
            Err(e) => Err(Failure::Unsupported(format!("timer core: {e}"))),
        };
        drop(ticker);
        core.stop();
        let timer_pinned = timer_thread.join().expect("timer thread panicked");
        result.map(|o| Outcome {
            pinned: o.pinned && timer_pinned,
            ..o
        })
    })
}

/// One ticked run.
struct Ticked {
    time: u64,
    events: u64,
    expirations: u64,
    saturated: bool,
}

/// The kernel thread's runs.
struct Runs<'t, 'l> {
    ctx: &'t Context,
    ticks: &'t Ticks<'l>,
    interval: Duration,
    /// Wall time of the latest run without ticks, uninstrumented and instrumented (clock
    /// ticks): what a ticked run is compared with to call it saturated. Wall time, because the
    /// watchdog has only the wall clock, and it includes what the machine's load adds.
    quiet_wall: [Cell<u64>; 2],
    /// Runs are timed by the thread's CPU clock (else by the wall clock).
    cpu_time: bool,
}

impl Runs<'_, '_> {
    fn timed(&self, w: &mut Workload, instrumented: bool) -> u64 {
        self.timed_from(w, instrumented, || {})
    }

    /// Times `first` (which starts the ticks) and the work.
    fn timed_from(&self, w: &mut Workload, instrumented: bool, first: impl FnOnce()) -> u64 {
        let link = self.ticks.link;
        let (t0, w0) = (self.stamp(), self.ctx.clock.now());
        first();
        if instrumented {
            w.run(&mut || link.poll(0));
        } else {
            w.run(&mut || {});
        }
        let (t1, w1) = (self.stamp(), self.ctx.clock.now());
        if !self.ticks.active.load(Ordering::SeqCst)
            && self.ticks.deadline.load(Ordering::SeqCst) == 0
        {
            self.quiet_wall[usize::from(instrumented)].set(w1.saturating_sub(w0));
        }
        t1.saturating_sub(t0)
    }

    /// The kernel thread's CPU time in clock ticks: time the thread spends in the kernel
    /// receiving ticks counts, time other programs of a shared machine take from it does not.
    /// Wall time where there is no thread CPU clock (gem5's syscall emulation).
    fn stamp(&self) -> u64 {
        match thread_cpu_ns() {
            Some(ns) if self.cpu_time => self.ctx.clock.ticks(Duration::from_nanos(ns)),
            _ => self.ctx.clock.now(),
        }
    }

    /// Waits until every tick sent has arrived (polling, for safepoint mechanisms).
    fn settle(&self, arrived: impl Fn() -> bool) -> Result<(), Failure> {
        let start = Instant::now();
        while !arrived() {
            self.ticks.link.poll(0);
            if start.elapsed() > self.ctx.timeout {
                return Err(Failure::Lost {
                    event: self.ticks.arrivals.count(),
                    timeout: self.ctx.timeout,
                });
            }
            std::hint::spin_loop();
        }
        Ok(())
    }

    fn ticked(&self, w: &mut Workload, instrumented: bool) -> Result<Ticked, Failure> {
        let t = self.ticks;
        let clock = self.ctx.clock;
        let a0 = t.arrivals.count() as u64;
        let e0 = t.expired.load(Ordering::Relaxed);
        t.saturated.store(false, Ordering::SeqCst);
        // The watchdog first: a mechanism's own ticks start as soon as they are armed.
        let quiet = self.quiet_wall[usize::from(instrumented)]
            .get()
            .max(self.quiet_wall[0].get());
        let limit = quiet.max(clock.ticks(self.interval)) * SATURATED;
        t.deadline
            .store(clock.now().saturating_add(limit), Ordering::SeqCst);
        let own: Option<Arc<dyn OwnTicks>> = match t.link.own_ticks(0, self.interval) {
            None => None,
            Some(Ok(own)) => {
                // Reachable by the watchdog before it starts.
                let own: Arc<dyn OwnTicks> = Arc::from(own);
                *t.own.lock().unwrap_or_else(|e| e.into_inner()) = Some(own.clone());
                Some(own)
            }
            Some(Err(why)) => {
                t.deadline.store(0, Ordering::SeqCst);
                return Err(Failure::Unsupported(why.0));
            }
        };
        let mut started = Ok(());
        // Starting the ticks is part of the run: a receiver that cannot keep up is stuck from
        // the first one on.
        let time = self.timed_from(w, instrumented, || match &own {
            None => t.active.store(true, Ordering::SeqCst),
            Some(o) => started = o.start(),
        });
        let own = own.is_some();
        let events = t.arrivals.count() as u64 - a0;
        t.deactivate();
        t.deadline.store(0, Ordering::SeqCst);
        let saturated = t.saturated.load(Ordering::SeqCst);
        if let Err(why) = started {
            t.own.lock().unwrap_or_else(|e| e.into_inner()).take();
            return Err(Failure::Unsupported(why.0));
        }
        if own {
            let own = t.own.lock().unwrap_or_else(|e| e.into_inner()).take();
            let (expirations, delivered) = own.as_ref().map_or((0, 0), |o| o.counts());
            drop(own);
            self.settle(|| t.arrivals.count() as u64 - a0 >= delivered)?;
            Ok(Ticked {
                time,
                events,
                expirations,
                saturated,
            })
        } else {
            let sent = t.sent.load(Ordering::Relaxed);
            self.settle(|| t.arrivals.count() as u64 >= sent)?;
            Ok(Ticked {
                time,
                events,
                expirations: t.expired.load(Ordering::Relaxed) - e0,
                saturated,
            })
        }
    }
}

/// Sets the units of work that take about `target` uninstrumented.
fn calibrate(runs: &Runs<'_, '_>, w: &mut Workload, target: Duration) {
    let want = runs.ctx.clock.ticks(target).max(1) as f64;
    let mut units = 1u64;
    loop {
        w.set_units(units);
        let t = runs.timed(w, false).max(1);
        let next = ((units as f64) * want / t as f64).ceil().clamp(1.0, 1e8) as u64;
        if t as f64 >= 0.8 * want || next <= units {
            return;
        }
        units = next;
    }
}

fn kernel_thread(ctx: &Context, ticks: &Ticks<'_>, p: &Params) -> Result<Outcome, Failure> {
    let pin = pin_for_now(ctx.topology.receiver_core(0));
    let pinned = pin.pinned();
    ticks
        .link
        .register(0, ticks.arrivals.clone())
        .map_err(|e| Failure::Register {
            receiver: 0,
            reason: e.0,
        })?;
    let runs = Runs {
        ctx,
        ticks,
        interval: p.interval,
        quiet_wall: [Cell::new(0), Cell::new(0)],
        cpu_time: !ctx.sim && thread_cpu_ns().is_some(),
    };
    let result = (|| {
        let mut w = Workload::new(p.kernel);
        calibrate(&runs, &mut w, p.run);
        let polled = ticks.link.delivers_at_safepoints();
        let mut pairs = Vec::with_capacity(p.reps);
        let mut expirations = 0;
        let mut saturated = 0;
        for i in 0..p.warmup + p.reps {
            let mut attempts = 0;
            let (quiet, ticked) = loop {
                let (q, t) = if i % 2 == 0 {
                    let q = runs.timed(&mut w, polled);
                    (q, runs.ticked(&mut w, polled)?)
                } else {
                    let t = runs.ticked(&mut w, polled)?;
                    (runs.timed(&mut w, polled), t)
                };
                // A ticked run that got no tick measured nothing: on a loaded machine the timer
                // thread may have had no core for all of it. Run the repetition again.
                attempts += 1;
                if t.events > 0 || attempts >= RETRIES {
                    break (q, t);
                }
            };
            let plain = polled.then(|| runs.timed(&mut w, false));
            if i >= p.warmup {
                expirations += ticked.expirations;
                saturated += u64::from(ticked.saturated);
                pairs.push(Pair {
                    quiet,
                    ticked: ticked.time,
                    events: ticked.events,
                    plain,
                });
            }
        }
        Ok(Outcome {
            pairs,
            expirations,
            saturated,
            polled,
            pinned,
        })
    })();
    ticks.link.unregister(0);
    result
}

/// Clock ticks to the report unit, as a float.
fn to_unit(ctx: &Context, ticks: f64) -> f64 {
    match (ctx.clock.source(), ctx.clock.tsc_ghz()) {
        (Source::Tsc, Some(g)) => ticks / g,
        _ => ticks,
    }
}

fn summarise(ctx: &Context, p: &Params, o: Outcome) -> Measurement {
    let samples = o
        .pairs
        .iter()
        .map(|pair| {
            pair.per_event()
                .map_or(0, |t| to_unit(ctx, t.max(0.0)).round() as u64)
        })
        .collect();
    let mut extra = vec![("interval_us", p.interval.as_secs_f64() * 1e6)];
    if let Some(s) = Summary::of(&o.pairs) {
        extra.push(("slowdown_pct", s.slowdown_pct));
        if let Some(per) = s.per_event {
            // TSC ticks (and simulated cycles) are cycles; a monotonic clock's are ns.
            if ctx.clock.tsc_ghz().is_some() {
                extra.push(("cycles_per_event", per));
            }
            if ctx.clock.unit() == Unit::Ns {
                extra.push(("ns_per_event", to_unit(ctx, per)));
            }
        }
        if o.polled {
            extra.push(("checks_pct", s.checks_pct.unwrap_or(0.0)));
        }
        extra.push(("events_per_run", s.events_per_run));
    }
    let events: u64 = o.pairs.iter().map(|p| p.events).sum();
    if o.expirations > 0 {
        extra.push((
            "delivered_pct",
            events as f64 / o.expirations as f64 * 100.0,
        ));
    }
    if o.saturated > 0 {
        extra.push(("saturated_runs", o.saturated as f64));
    }
    Measurement {
        unit: ctx.clock.unit(),
        samples: Samples::Latency(samples),
        waiter_cpu_ns_per_event: None,
        pinned: o.pinned,
        clamped: 0,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_grow_from_quick_to_named() {
        let mut plan = Plan::new(Profile::Full, 2);
        let default = Overhead.cases(&plan);
        assert_eq!(default.len(), 2 * 3);
        assert!(default.iter().any(|c| c.regime == "fib 5us"));
        plan.named = vec!["overhead".into()];
        let full = Overhead.cases(&plan);
        assert_eq!(full.len(), 5 * 3);
        assert!(full.iter().any(|c| c.regime == "memops 1us"));
        assert!(full[0].budget > default[0].budget);
        let quick = Overhead.cases(&Plan::new(Profile::Quick, 2));
        assert_eq!(quick.len(), 3);
        let mut iters = Plan::new(Profile::Quick, 2);
        iters.iters = Some(4);
        assert!(Overhead.cases(&iters).iter().all(|c| c.events == 4));
        for c in Overhead.cases(&Plan::new(Profile::Sim, 2)) {
            assert_eq!(c.gap.duration(), Duration::from_micros(5));
            assert!(Kernel::parse(c.regime.split_whitespace().next().unwrap()).is_some());
        }
    }
}
