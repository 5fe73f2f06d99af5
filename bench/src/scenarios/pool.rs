//! `pool`: idle workers of a thread pool woken for tiny jobs, in the two shapes of Tokio's
//! multi-threaded runtime benchmarks (`rt_multi_threaded`: `ping_pong`, `spawn_many`):
//!
//! - `ping-pong`: a client hands one job to an idle worker and waits for its reply, back to
//!   back; one sample per round trip. Both directions go through the mechanism's one event
//!   (strictly alternating, so at most one thread waits at a time).
//! - `spawn-burst`: after a long gap (every worker has parked), a spawner queues
//!   [`BURST_JOBS`] jobs, waking a worker per job as a runtime does, and waits until all are
//!   done; one sample per burst. Workers drain the queue, then wait for the next wake.
//!
//! Invariants: a worker reads the event count before it drains the queue, and the spawner
//! queues a job before the notify that publishes the next count, so a job queued after a
//! worker's drain always comes with a count that worker has not seen: no job is stranded.
//! A watchdog calls the case off (a `Lost` failure) when no round trip or burst completes
//! within the context's timeout, releasing every waiter with `notify_all` (not under `--sim`,
//! where it would need a simulated core and could not sleep).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::ScopedJoinHandle;
use std::time::{Duration, Instant};

use super::Driver;
use crate::clock::thread_cpu_ns;
use crate::harness::{
    Case, Context, Failure, Fanout, Gap, StartGate, spawn_gated, spawn_in, wait_gap,
};
use crate::mechanisms::{BlockingEvent, Instance};
use crate::placement::{pin_current, pin_for_now};
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// Idle pool workers woken for tiny jobs.
pub struct Pool;

/// Repetitions of each case in a default run (see `Plan::repetitions`).
pub(super) const REPEAT: Counts = Counts {
    full: 8,
    quick: 1,
    sim: 1,
};

const PING_PONG: Counts = Counts {
    full: 10_000,
    quick: 1_000,
    sim: 50,
};
const BURSTS: Counts = Counts {
    full: 300,
    quick: 30,
    sim: 3,
};

/// Jobs queued per burst.
pub const BURST_JOBS: usize = 64;

pub(super) const FOOTER: &str = "\
ping-pong: p50… is the round trip client → worker → client of one tiny job; spawn-burst: the time \
from the first of 64 jobs queued (one notify each) to the last one done, workers parked before \
each burst; waiter CPU: each worker's CPU per round trip or burst";

impl Driver for Pool {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        vec![
            plan.case("ping-pong", Gap::None, PING_PONG, 1, Fanout::One),
            plan.case(
                "spawn-burst",
                plan.long_gap(),
                BURSTS,
                plan.waiters(),
                Fanout::All,
            ),
        ]
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let Instance::Blocking(ev) = instance else {
            return Err(Failure::Unsupported(
                "pool workers block on an event: it needs a blocking mechanism".into(),
            ));
        };
        let shared = Shared::new(case);
        let (samples, workers) = std::thread::scope(|s| {
            // Not under gem5's syscall emulation: the watchdog would need a simulated core of
            // its own, and its sleep ends the simulation.
            let watchdog = if ctx.sim {
                None
            } else {
                Some(spawn_in(s, "watchdog", || shared.watch(ctx, &**ev))?)
            };
            let out = match case.fanout {
                Fanout::One => ping_pong(ctx, case, &**ev, &shared),
                Fanout::All => burst(ctx, case, &**ev, &shared),
            };
            shared.finished.store(true, Ordering::Release);
            let lost = watchdog.is_some_and(|w| w.join().unwrap_or(true));
            match out {
                _ if lost => Err(Failure::Lost {
                    event: shared.progress.load(Ordering::Acquire) as usize,
                    timeout: ctx.timeout,
                }),
                out => out,
            }
        })?;
        let rounds = samples.len().max(1) as f64;
        let cpu: Option<u64> = workers.iter().map(|w| w.cpu_ns).sum();
        let mut extra = Vec::new();
        if case.fanout == Fanout::All {
            extra.push(("jobs_per_burst", BURST_JOBS as f64));
        }
        Ok(Measurement {
            unit: ctx.clock.unit(),
            samples: Samples::Latency(samples),
            waiter_cpu_ns_per_event: cpu.map(|c| c as f64 / rounds / workers.len() as f64),
            pinned: workers.iter().all(|w| w.pinned),
            clamped: 0,
            extra,
        })
    }
}

/// What the threads of one case share.
struct Shared {
    start: StartGate,
    stop: AtomicBool,
    /// Round trips or bursts completed (warm-up included); the watchdog's sign of life.
    progress: AtomicU64,
    /// The measuring thread is done; the watchdog may leave.
    finished: AtomicBool,
    workers: usize,
    exited: AtomicUsize,
    /// Ping-pong: the job's input, then its reply.
    job: AtomicU64,
    reply: AtomicU64,
    /// Burst: jobs queued and not yet claimed, and jobs done in this burst.
    queued: AtomicUsize,
    done: AtomicUsize,
}

impl Shared {
    fn new(case: &Case) -> Shared {
        Shared {
            start: StartGate::new(case.receivers + 1),
            stop: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            workers: case.receivers,
            exited: AtomicUsize::new(0),
            job: AtomicU64::new(0),
            reply: AtomicU64::new(0),
            queued: AtomicUsize::new(0),
            done: AtomicUsize::new(0),
        }
    }

    /// Until the case finishes: calls it off when nothing progresses for `ctx.timeout`.
    /// Returns whether it did.
    fn watch(&self, ctx: &Context, ev: &dyn BlockingEvent) -> bool {
        let mut last = (self.progress.load(Ordering::Acquire), Instant::now());
        while !self.finished.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
            let now = self.progress.load(Ordering::Acquire);
            if now != last.0 {
                last = (now, Instant::now());
            } else if last.1.elapsed() > ctx.timeout {
                self.stop.store(true, Ordering::Release);
                // Every notify publishes a new count, so each waiter returns and sees `stop`.
                while !self.finished.load(Ordering::Acquire)
                    || self.exited.load(Ordering::Acquire) < self.workers
                {
                    ev.notify_all();
                    std::thread::sleep(Duration::from_millis(1));
                }
                return true;
            }
        }
        false
    }

    /// Ends the workers after a completed case.
    fn release(&self, ev: &dyn BlockingEvent) {
        self.stop.store(true, Ordering::Release);
        while self.exited.load(Ordering::Acquire) < self.workers {
            ev.notify_all();
            std::thread::yield_now();
        }
    }
}

/// What a worker hands back.
struct Worker {
    cpu_ns: Option<u64>,
    pinned: bool,
}

/// A worker's life on its own thread: pinned to receiver core `w`, it waits for each new event
/// count and, unless the case is stopping, runs `on_wake(seen)` (which returns the count it has
/// now seen: a worker's own notify publishes one), until released.
fn work(
    ctx: &Context,
    sh: &Shared,
    ev: &dyn BlockingEvent,
    w: usize,
    mut on_wake: impl FnMut(u64) -> u64,
) -> Worker {
    let pinned = pin_current(ctx.topology.receiver_core(w));
    let cpu0 = thread_cpu_ns();
    let mut seen = 0;
    if sh.start.wait() {
        loop {
            seen = ev.wait(seen);
            if sh.stop.load(Ordering::Acquire) {
                break;
            }
            seen = on_wake(seen);
        }
    }
    let cpu_ns = cpu0.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a));
    sh.exited.fetch_add(1, Ordering::Release);
    Worker { cpu_ns, pinned }
}

/// Joins the workers; each counts as pinned only if the signaller was too.
fn join_all(
    handles: Vec<ScopedJoinHandle<'_, Worker>>,
    signaller_pinned: bool,
) -> Result<Vec<Worker>, Failure> {
    handles
        .into_iter()
        .map(|h| {
            let mut w = h.join().map_err(|_| Failure::Spawn {
                thread: "worker".into(),
                reason: "panicked".into(),
            })?;
            w.pinned &= signaller_pinned;
            Ok(w)
        })
        .collect()
}

/// The tiny job: a few dependent multiplications the optimiser cannot drop.
fn tiny_job(x: u64) -> u64 {
    let mut h = black_box(x) | 1;
    for _ in 0..8 {
        h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
    }
    h
}

/// Measured rounds stop once they have taken the case's budget (after at least one).
fn over_budget(ctx: &Context, case: &Case, started: Option<u64>) -> bool {
    match (case.budget, started) {
        (Some(b), Some(t0)) => ctx.clock.now().saturating_sub(t0) >= ctx.clock.ticks(b),
        _ => false,
    }
}

fn ping_pong(
    ctx: &Context,
    case: &Case,
    ev: &dyn BlockingEvent,
    sh: &Shared,
) -> Result<(Vec<u64>, Vec<Worker>), Failure> {
    let clock = ctx.clock;
    std::thread::scope(|s| {
        let workers = spawn_gated(s, &sh.start, 1, "worker", |w| {
            move || {
                work(ctx, sh, ev, w, |seen| {
                    let job = sh.job.load(Ordering::Acquire);
                    sh.reply.store(tiny_job(job), Ordering::Release);
                    ev.notify_one();
                    // Our own notify published the next count.
                    seen + 1
                })
            }
        })?;
        let pin = pin_for_now(ctx.topology.signaller_core());
        let mut samples = Vec::with_capacity(case.events);
        let mut started = None;
        let mut seen = 0;
        let mut wrong = None;
        sh.start.wait();
        for i in 0..case.warmup + case.events {
            if i == case.warmup {
                started = Some(clock.now());
            } else if over_budget(ctx, case, started) {
                break;
            }
            sh.job.store(i as u64, Ordering::Release);
            let t0 = clock.now();
            ev.notify_one();
            seen = ev.wait(seen + 1);
            let t1 = clock.now();
            if sh.stop.load(Ordering::Acquire) {
                break;
            }
            if sh.reply.load(Ordering::Acquire) != tiny_job(i as u64) {
                wrong = Some(i);
                break;
            }
            sh.progress.fetch_add(1, Ordering::Release);
            if i >= case.warmup {
                samples.push(clock.to_unit(t1.saturating_sub(t0)));
            }
        }
        sh.release(ev);
        let workers = join_all(workers, pin.pinned())?;
        match wrong {
            Some(i) => Err(Failure::Unsupported(format!(
                "round trip {i} returned another job's reply"
            ))),
            None => Ok((samples, workers)),
        }
    })
}

fn burst(
    ctx: &Context,
    case: &Case,
    ev: &dyn BlockingEvent,
    sh: &Shared,
) -> Result<(Vec<u64>, Vec<Worker>), Failure> {
    let clock = ctx.clock;
    let share_core = ctx.topology.oversubscribed(case.receivers);
    std::thread::scope(|s| {
        let workers = spawn_gated(s, &sh.start, case.receivers, "worker", |w| {
            move || {
                work(ctx, sh, ev, w, |seen| {
                    while sh
                        .queued
                        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |q| q.checked_sub(1))
                        .is_ok()
                    {
                        black_box(tiny_job(seen));
                        sh.done.fetch_add(1, Ordering::Release);
                    }
                    seen
                })
            }
        })?;
        let pin = pin_for_now(ctx.topology.signaller_core());
        let mut samples = Vec::with_capacity(case.events);
        let mut started = None;
        sh.start.wait();
        'bursts: for i in 0..case.warmup + case.events {
            if i == case.warmup {
                started = Some(clock.now());
            } else if over_budget(ctx, case, started) {
                break;
            }
            wait_gap(ctx, case.gap);
            sh.done.store(0, Ordering::Relaxed);
            let t0 = clock.now();
            for _ in 0..BURST_JOBS {
                sh.queued.fetch_add(1, Ordering::Release);
                ev.notify_one();
            }
            let mut spins = 0u32;
            while sh.done.load(Ordering::Acquire) < BURST_JOBS {
                if sh.stop.load(Ordering::Acquire) {
                    break 'bursts;
                }
                spins = spins.wrapping_add(1);
                if share_core && spins > 64 {
                    std::thread::yield_now();
                } else {
                    std::hint::spin_loop();
                }
            }
            let t1 = clock.now();
            sh.progress.fetch_add(1, Ordering::Release);
            if i >= case.warmup {
                samples.push(clock.to_unit(t1.saturating_sub(t0)));
            }
        }
        sh.release(ev);
        Ok((samples, join_all(workers, pin.pinned())?))
    })
}
