//! `timer` (xUI Fig. 6): what the timer core itself costs — the CPU share of a thread that
//! times preemption ticks for N receivers — for each way of getting the time: `setitimer`'s
//! signal, `clock_nanosleep`, or spinning on TSC deadlines (`nemo_user`'s timer core; its
//! sleeping mode too in the full form), as the number of receivers grows (1 up to the cores
//! beside the timer's; more would share cores and is flagged), at intervals of 5–100 µs.
//!
//! At each expiration the timer thread notifies every receiver with the mechanism's `send`
//! (one tick in flight per receiver, as with a pending vector); receivers run busy loops with
//! the mechanism's safepoint. Per repetition, the timer thread's CPU time (its thread CPU clock)
//! over the wall time it ran, the expirations it served, and how late it served them.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nemo_user::timer::{Arm, Expiry, Idle, TimerCore};

use super::Driver;
use crate::arrival::Arrivals;
use crate::clock::{Clock, Source, Unit, monotonic_ns, thread_cpu_ns};
use crate::harness::{Case, Context, Failure, Fanout, Gap, StartGate, spawn_gated};
use crate::mechanisms::{Instance, InterruptLink, Setup, Skipped};
use crate::placement::pin_current;
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};
use crate::ticks::sources::{AlarmBlocked, TimerSource, nanosleep_loop, setitimer_loop};
use crate::ticks::stats::{cpu_pct, median, per_second};

/// The timer core's cost.
pub struct Timer;

struct Form {
    sources: &'static [TimerSource],
    intervals: &'static [u64],
    reps: usize,
    rep: Duration,
    /// Receiver counts: every power of two below the cores, the largest that fits, and one
    /// that does not (to flag it).
    all_counts: bool,
}

const OS_AND_SPIN: &[TimerSource] = &[
    TimerSource::Setitimer,
    TimerSource::Nanosleep,
    TimerSource::Spin,
];

fn form(plan: &Plan) -> Form {
    match plan.profile {
        Profile::Sim => Form {
            sources: OS_AND_SPIN,
            intervals: &[5],
            reps: 2,
            rep: Duration::from_micros(500),
            all_counts: false,
        },
        Profile::Quick => Form {
            sources: OS_AND_SPIN,
            intervals: &[50],
            reps: 2,
            rep: Duration::from_millis(15),
            all_counts: false,
        },
        Profile::Full if plan.is_named("timer") => Form {
            sources: &[
                TimerSource::Setitimer,
                TimerSource::Nanosleep,
                TimerSource::Spin,
                TimerSource::Sleep,
            ],
            intervals: &[5, 10, 50, 100],
            reps: 5,
            rep: Duration::from_millis(100),
            all_counts: true,
        },
        Profile::Full => Form {
            sources: OS_AND_SPIN,
            intervals: &[10, 100],
            reps: 3,
            rep: Duration::from_millis(30),
            all_counts: false,
        },
    }
}

/// The receiver counts to run with `cores` cores.
fn receiver_counts(cores: usize, all: bool) -> Vec<usize> {
    let fit = cores.saturating_sub(1).max(1);
    if !all {
        return vec![fit];
    }
    let mut v: Vec<usize> = std::iter::successors(Some(1usize), |n| Some(n * 2))
        .take_while(|&n| n < fit)
        .collect();
    v.push(fit);
    v.push(fit + 1);
    v
}

pub(super) const FOOTER: &str = "\
paper (xUI Fig. 6): a timer core that gets its time from setitimer() or nanosleep() spends a \
growing share of its CPU in the OS as the tick rate rises, and each receiver adds the cost of a \
send; spinning on the TSC costs the whole core (it served up to 22 receivers at 5 µs); KB timers \
need no timer core
p50…max: median lateness of the ticks (deadline → sends), one value per repetition; \
timer_cpu_pct: the timer thread's CPU time over its wall time; rate_pct: expirations served over \
the nominal rate; delivered_per_s: ticks each receiver got (the rest coalesced); nanosleep and \
nemo-sleep run with 1 ns timer slack";

impl Driver for Timer {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let f = form(plan);
        let reps = plan.iters.unwrap_or(f.reps);
        // Under gem5 every thread needs a simulated core of its own, and besides the receivers
        // the timer thread and the measuring thread each take one.
        let cores = match plan.profile {
            Profile::Sim => plan.cores.saturating_sub(1),
            _ => plan.cores,
        };
        let mut cases = Vec::new();
        for &source in f.sources {
            for &us in f.intervals {
                for n in receiver_counts(cores, f.all_counts) {
                    cases.push(Case {
                        regime: format!("{} {us}us ×{n}", source.name()),
                        gap: Gap::Spin(Duration::from_micros(us)),
                        events: reps,
                        warmup: 0,
                        // The measured part: `reps` repetitions of `rep` each.
                        budget: Some(f.rep * reps as u32),
                        receivers: n,
                        fanout: Fanout::All,
                    });
                }
            }
        }
        cases
    }

    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        match source_of(setup.regime) {
            Some(s) if setup.sim && s.needs_kernel_timers() => Err(Skipped::new(format!(
                "gem5 syscall-emulation mode has no {}: it aborts on signals, timers and \
                 clock_nanosleep",
                s.name()
            ))),
            Some(_) if setup.sim && setup.receivers + 2 > setup.cores => {
                let (n, need) = (setup.receivers, setup.receivers + 2);
                Err(Skipped::new(format!(
                    "{n} receivers, the timer thread and the measuring thread need {need} cores, \
                     and gem5 syscall emulation runs one thread per core: simulate {need} cores \
                     (run_nemo_bench.py --cores)"
                )))
            }
            Some(_) => Ok(()),
            None => Err(Skipped::new(format!(
                "no timer source in {:?}",
                setup.regime
            ))),
        }
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let Instance::Interrupt(link) = instance else {
            return Err(Failure::Unsupported(
                "the timer notifies running receivers: it needs an interrupt mechanism".into(),
            ));
        };
        let source = source_of(&case.regime)
            .ok_or_else(|| Failure::Unsupported(format!("no source in {:?}", case.regime)))?;
        let reps = case.events.max(1);
        let rep = case
            .budget
            .map_or(Duration::from_millis(30), |b| b / reps as u32);
        let reps = run_case(ctx, &**link, source, case, reps, rep)?;
        Ok(summarise(ctx, case, &reps))
    }
}

fn source_of(regime: &str) -> Option<TimerSource> {
    regime
        .split_whitespace()
        .next()
        .and_then(TimerSource::parse)
}

/// Lateness of ticks, written by the timer thread without locks or allocation.
struct LateLog {
    values: Box<[AtomicU64]>,
    len: AtomicUsize,
}

impl LateLog {
    fn new(capacity: usize) -> LateLog {
        LateLog {
            values: (0..capacity).map(|_| AtomicU64::new(0)).collect(),
            len: AtomicUsize::new(0),
        }
    }

    fn push(&self, ns: u64) {
        let i = self.len.fetch_add(1, Ordering::Relaxed);
        if let Some(v) = self.values.get(i) {
            v.store(ns, Ordering::Relaxed);
        }
    }

    fn take(&self) -> Vec<u64> {
        let n = self.len.swap(0, Ordering::Relaxed).min(self.values.len());
        self.values[..n]
            .iter()
            .map(|v| v.load(Ordering::Relaxed))
            .collect()
    }
}

/// Notifies the receivers at each expiration.
struct Notify<'l> {
    link: &'l dyn InterruptLink,
    arrivals: Vec<Arc<Arrivals>>,
    sent: Vec<AtomicU64>,
    late: LateLog,
    expirations: AtomicU64,
}

impl Notify<'_> {
    fn tick(&self, missed: u64, late_ns: u64) {
        self.expirations.fetch_add(1 + missed, Ordering::Relaxed);
        self.late.push(late_ns);
        for (r, (a, sent)) in self.arrivals.iter().zip(&self.sent).enumerate() {
            // One tick in flight per receiver: a later one coalesces with it.
            if a.count() as u64 >= sent.load(Ordering::Relaxed) {
                sent.fetch_add(1, Ordering::Relaxed);
                self.link.send(r);
            }
        }
    }

    fn delivered(&self) -> u64 {
        self.arrivals.iter().map(|a| a.count() as u64).sum()
    }
}

/// One repetition.
struct Rep {
    cpu_ns: Option<u64>,
    wall_ns: u64,
    expirations: u64,
    delivered: u64,
    late_ns: Vec<u64>,
    pinned: bool,
}

/// Waits `d` on the measuring thread: sleeping natively, spinning under simulation (where
/// sleeping aborts gem5).
fn pause(ctx: &Context, d: Duration) {
    if ctx.sim {
        let end = ctx.clock.now() + ctx.clock.ticks(d);
        while ctx.clock.now() < end {
            std::hint::spin_loop();
        }
    } else {
        std::thread::sleep(d);
    }
}

fn timer_core<'a>(clock: &Clock, wait: Idle) -> TimerCore<'a> {
    let b = TimerCore::builder().wait(wait);
    match (clock.source(), clock.tsc_ghz()) {
        (Source::Tsc | Source::Cycles, Some(g)) => b.tsc_ghz(g).build(),
        _ => b.build(),
    }
}

/// Runs the source for `d` on a thread pinned to the timer's core.
fn one_rep(
    ctx: &Context,
    source: TimerSource,
    notify: &Notify<'_>,
    interval: Duration,
    d: Duration,
) -> Rep {
    let before = notify.delivered();
    let e0 = notify.expirations.load(Ordering::Relaxed);
    let stop = AtomicBool::new(false);
    let measured = |work: &mut dyn FnMut()| {
        let pinned = pin_current(ctx.topology.signaller_core());
        let (c0, w0) = (thread_cpu_ns(), monotonic_ns());
        work();
        let (c1, w1) = (thread_cpu_ns(), monotonic_ns());
        let cpu = match (c0, c1) {
            (Some(a), Some(b)) if !ctx.sim => Some(b.saturating_sub(a)),
            _ => None,
        };
        (cpu, w1.saturating_sub(w0), pinned)
    };
    let (cpu_ns, wall_ns, pinned) = match source {
        TimerSource::Spin | TimerSource::Sleep => {
            let wait = if source == TimerSource::Spin {
                Idle::Spin
            } else {
                Idle::Sleep
            };
            let core = Arc::new(timer_core(&ctx.clock, wait));
            std::thread::scope(|s| {
                let t = s.spawn(|| {
                    measured(&mut || {
                        // Armed on the timer thread, inside the measured window.
                        let timer = core.arm_fn(Arm::Periodic(interval), |e: Expiry| {
                            notify.tick(e.missed, e.late.as_nanos() as u64)
                        });
                        if timer.is_ok() {
                            let _ = core.run();
                        }
                        drop(timer);
                    })
                });
                pause(ctx, d);
                core.stop();
                t.join().expect("timer thread panicked")
            })
        }
        TimerSource::Setitimer | TimerSource::Nanosleep => std::thread::scope(|s| {
            let t = s.spawn(|| {
                measured(&mut || {
                    let tick = |late| notify.tick(0, late);
                    let n = if source == TimerSource::Setitimer {
                        setitimer_loop(interval, &stop, tick)
                    } else {
                        nanosleep_loop(interval, &stop, tick)
                    };
                    // The loops count periods they slept through; `tick` counted one each.
                    let counted = notify.expirations.load(Ordering::Relaxed) - e0;
                    notify
                        .expirations
                        .fetch_add(n.saturating_sub(counted), Ordering::Relaxed);
                })
            });
            pause(ctx, d);
            stop.store(true, Ordering::Release);
            t.join().expect("timer thread panicked")
        }),
    };
    Rep {
        cpu_ns,
        wall_ns,
        expirations: notify.expirations.load(Ordering::Relaxed) - e0,
        delivered: notify.delivered() - before,
        late_ns: notify.late.take(),
        pinned,
    }
}

fn run_case(
    ctx: &Context,
    link: &dyn InterruptLink,
    source: TimerSource,
    case: &Case,
    reps: usize,
    rep: Duration,
) -> Result<Vec<Rep>, Failure> {
    let n = case.receivers;
    let interval = case.gap.duration();
    let expected = (rep.as_nanos() / interval.as_nanos().max(1)) as usize;
    let notify = Notify {
        link,
        arrivals: (0..n)
            .map(|_| Arc::new(Arrivals::new(ctx.clock, 1)))
            .collect(),
        sent: (0..n).map(|_| AtomicU64::new(0)).collect(),
        late: LateLog::new((2 * expected + 64).min(1 << 20)),
        expirations: AtomicU64::new(0),
    };
    // Before any thread of the case exists, so that all of them inherit the blocked signal.
    let _alarm = (source == TimerSource::Setitimer).then(AlarmBlocked::new);
    let stop = AtomicBool::new(false);
    let ready = StartGate::new(n + 1);
    let failed: Mutex<Option<Failure>> = Mutex::new(None);
    let (notify, stop, ready, failed) = (&notify, &stop, &ready, &failed);
    std::thread::scope(|s| {
        let receivers = spawn_gated(s, ready, n, "receiver", |r| {
            move || {
                let pinned = pin_current(ctx.topology.receiver_core(r));
                let registered = link.register(r, notify.arrivals[r].clone());
                if let Err(e) = &registered
                    && let Ok(mut f) = failed.lock()
                {
                    f.get_or_insert(Failure::Register {
                        receiver: r,
                        reason: e.0.clone(),
                    });
                }
                let go = ready.wait();
                if registered.is_ok() {
                    while go && !stop.load(Ordering::Acquire) {
                        link.poll(r);
                        std::hint::spin_loop();
                    }
                    link.unregister(r);
                }
                pinned
            }
        })?;
        assert!(ready.wait(), "only a failed spawn calls the start off");
        let failure = failed.lock().ok().and_then(|mut f| f.take());
        let reps: Vec<Rep> = match failure {
            Some(_) => Vec::new(),
            None => (0..reps)
                .map(|_| one_rep(ctx, source, notify, interval, rep))
                .collect(),
        };
        stop.store(true, Ordering::Release);
        let all_pinned = receivers
            .into_iter()
            .all(|h| h.join().expect("receiver thread panicked"));
        match failure {
            Some(f) => Err(f),
            None => Ok(reps
                .into_iter()
                .map(|r| Rep {
                    pinned: r.pinned && all_pinned,
                    ..r
                })
                .collect()),
        }
    })
}

fn ns_to_unit(ctx: &Context, ns: f64) -> f64 {
    match ctx.clock.unit() {
        Unit::Ns => ns,
        Unit::Cycles => ns * ctx.clock.tsc_ghz().unwrap_or(1.0),
    }
}

fn summarise(ctx: &Context, case: &Case, reps: &[Rep]) -> Measurement {
    let interval = case.gap.duration();
    let samples = reps
        .iter()
        .map(|r| {
            let late: Vec<f64> = r.late_ns.iter().map(|&v| v as f64).collect();
            median(&late).map_or(0, |m| ns_to_unit(ctx, m).round() as u64)
        })
        .collect();
    let of =
        |f: &dyn Fn(&Rep) -> Option<f64>| median(&reps.iter().filter_map(f).collect::<Vec<_>>());
    let nominal = 1.0 / interval.as_secs_f64();
    let mut extra = vec![("interval_us", interval.as_secs_f64() * 1e6)];
    if let Some(cpu) = of(&|r| cpu_pct(r.cpu_ns?, r.wall_ns)) {
        extra.push(("timer_cpu_pct", cpu));
    }
    if let Some(rate) = of(&|r| per_second(r.expirations, r.wall_ns)) {
        extra.push(("ticks_per_s", rate));
        extra.push(("rate_pct", rate / nominal * 100.0));
    }
    if let Some(d) = of(&|r| per_second(r.delivered, r.wall_ns)) {
        extra.push(("delivered_per_s", d / case.receivers.max(1) as f64));
    }
    Measurement {
        unit: ctx.clock.unit(),
        samples: Samples::Latency(samples),
        waiter_cpu_ns_per_event: None,
        pinned: reps.iter().all(|r| r.pinned),
        clamped: 0,
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn receiver_counts_stop_at_the_cores_and_flag_one_more() {
        assert_eq!(receiver_counts(2, false), [1]);
        assert_eq!(receiver_counts(2, true), [1, 2]);
        assert_eq!(receiver_counts(8, true), [1, 2, 4, 7, 8]);
        assert_eq!(receiver_counts(5, true), [1, 2, 4, 5]);
        assert_eq!(receiver_counts(1, true), [1, 2]);
    }

    #[test]
    fn cases_name_source_interval_and_receivers() {
        let plan = Plan::new(Profile::Full, 4);
        let cases = Timer.cases(&plan);
        assert_eq!(cases.len(), 3 * 2);
        assert!(cases.iter().any(|c| c.regime == "setitimer 10us ×3"));
        let mut named = plan.clone();
        named.named = vec!["timer".into()];
        let full = Timer.cases(&named);
        assert_eq!(full.len(), 4 * 4 * 4);
        assert!(
            full.iter()
                .any(|c| c.regime == "nemo-sleep 5us ×4" && c.receivers == 4)
        );
        for c in Timer.cases(&Plan::new(Profile::Sim, 3)) {
            assert!(source_of(&c.regime).is_some());
            // One simulated core each for the timer thread and the measuring thread.
            assert_eq!(c.receivers, 1, "{}", c.regime);
        }
    }

    #[test]
    fn simulation_runs_only_the_spinning_source() {
        let setup = |regime: &'static str, sim| Setup {
            scenario: "timer",
            regime,
            receivers: 1,
            cores: 3,
            oversubscribed: false,
            sim,
            static_binary: false,
            uintr: false,
        };
        assert!(Timer.check(&setup("spin 5us ×1", true)).is_ok());
        let why = Timer.check(&setup("setitimer 5us ×1", true)).unwrap_err();
        assert!(why.0.contains("gem5"), "{why}");
        assert!(Timer.check(&setup("nanosleep 5us ×1", true)).is_err());
        assert!(Timer.check(&setup("nanosleep 5us ×1", false)).is_ok());
    }

    #[test]
    fn simulation_needs_a_core_per_thread() {
        let setup = |receivers, cores, sim| Setup {
            scenario: "timer",
            regime: "spin 5us ×1",
            receivers,
            cores,
            oversubscribed: receivers + 1 > cores,
            sim,
            static_binary: false,
            uintr: false,
        };
        assert!(Timer.check(&setup(1, 3, true)).is_ok());
        let why = Timer.check(&setup(1, 2, true)).unwrap_err();
        assert!(why.0.contains("3 cores"), "{why}");
        assert!(Timer.check(&setup(1, 2, false)).is_ok());
    }

    #[test]
    fn the_late_log_keeps_what_fits() {
        let log = LateLog::new(2);
        log.push(5);
        log.push(7);
        log.push(9);
        assert_eq!(log.take(), [5, 7]);
        assert!(log.take().is_empty());
    }
}
