//! `kick` (Nemo §4.1 at user level): wake → running latency of a latency-critical
//! `nemo_user::sched` task whose worker is busy with a long task, with the kick on and off, next
//! to the raw active-message latency of the same backend.
//!
//! Three loops, each on a worker (or target) thread that runs the same busy loop — a chunk of
//! about [`CHUNK_NS`] of integer work, then a safepoint (`sched::safepoint`, which polls on
//! `poll`; `nemo_user::poll` for the raw target):
//!
//! - `am`: the busy thread is an active-message target; the sender stamps, notifies, and the
//!   action stamps the arrival — the raw path a kick is built on;
//! - `kick on`: one worker, a long task busy as above and a latency-critical task waiting on a
//!   nemo `Event`; the sender stamps and notifies the event, and the waiting task stamps when it
//!   runs. The notify unparks it and kicks the worker, whose running task switches at its next
//!   safepoint;
//! - `unpark`: as `kick on`, but the task parks with `sched::park` and the sender calls its
//!   `Unparker` directly: the kick without the condvar protocol and the waiter registry, to show
//!   what each part costs;
//! - `kick off`: as `kick on`, the waiting task not marked: it runs when a quantum tick
//!   ([`QUANTUM`], in both runtimes) preempts the long task — up to two quanta later, as the
//!   preempted task is queued before it.
//!
//! The four run in alternating blocks within one measurement, so drifts of a shared machine
//! hit them alike. Samples are `kick on` latencies; `am_*`, `unpark_*` and `off_*` are the
//! others' quantiles, `on_over_am_*` the ratios (target: p50 ≤ 1.10×).

use std::sync::atomic::{
    AtomicBool, AtomicU64, Ordering::Acquire, Ordering::Release, Ordering::SeqCst,
};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::am::Domain;
use nemo_user::event::Event;
use nemo_user::sched::{self, Runtime, Unparker};
use nemo_user::timer::Idle;

use super::Driver;
use super::sched_support::{
    Latencies, backend_of, lazy_ticks_of, spin, spins_per_us, three_sim_cores,
};
use crate::clock::Unit;
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::{Instance, Setup, Skipped};
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};

/// The kick scenario.
pub struct Kick;

/// The quantum of both sched runtimes (the `kick off` latency is set by it).
pub const QUANTUM: Duration = Duration::from_micros(200);

/// About how long the busy loops work between two safepoints.
pub const CHUNK_NS: f64 = 100.0;

/// Blocks per measurement (each runs the four loops).
const BLOCKS: usize = 4;

pub(super) const FOOTER: &str = "\
samples: kick on (wake → the latency-critical task runs, its worker busy); am_p50/am_p99: the \
raw active message to a busy thread of the same backend, measured the same way in the same run; \
unpark_*: the task woken by its Unparker instead of an Event (kick alone); off_*: the task not latency-critical (runs at a quantum tick, quantum 200 µs); target: \
on_over_am_p50 ≤ 1.10";

impl Driver for Kick {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let events = plan.iters.unwrap_or(match plan.profile {
            Profile::Full if plan.is_named("kick") => 4000,
            Profile::Full => 400,
            Profile::Quick => 200,
            // gem5's O3 model: a few hundred thousand simulated cycles per host second.
            Profile::Sim => 12,
        });
        vec![Case {
            regime: "busy worker".into(),
            gap: Gap::Sleep(Duration::from_micros(50)),
            events,
            warmup: if plan.profile == Profile::Sim { 4 } else { 20 },
            budget: None,
            receivers: 1,
            fanout: Fanout::One,
        }]
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
        let chunk = (spins_per_us() * CHUNK_NS / 1000.0).max(1.0) as u32;
        let mut samples = Vec::with_capacity(case.events);
        let gap = case.gap.duration();
        let (mut am, mut on, mut off) = (Latencies::new(), Latencies::new(), Latencies::new());
        let mut unpark = Latencies::new();
        for block in 0..BLOCKS {
            // The events spread over the blocks, `case.events` in all.
            let per = case.events / BLOCKS + usize::from(block < case.events % BLOCKS);
            if per == 0 {
                continue;
            }
            let warmup = if block == 0 { case.warmup } else { 0 };
            let mut run = |what: usize| -> Result<(), Failure> {
                let p = Loop {
                    sim: ctx.sim,
                    backend,
                    lazy_ticks,
                    chunk,
                    events: per,
                    warmup,
                    gap,
                };
                match what {
                    0 => p.raw_am(&mut am, &mut Vec::new()),
                    1 => p.sched(true, Via::Event, &mut on, &mut samples),
                    2 => p.sched(true, Via::Unparker, &mut unpark, &mut Vec::new()),
                    _ => p.sched(false, Via::Event, &mut off, &mut Vec::new()),
                }
            };
            let order: [usize; 4] = if block % 2 == 0 {
                [0, 1, 2, 3]
            } else {
                [3, 2, 1, 0]
            };
            for what in order {
                run(what)?;
            }
        }
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        // The table's unit is the run's clock: simulated cycles under gem5 (the latencies are
        // taken in simulated ns there), ns natively.
        let (unit, scale) = if ctx.sim {
            (
                ctx.clock.unit(),
                ctx.clock.ticks(Duration::from_secs(1)) as f64 / 1e9,
            )
        } else {
            (Unit::Ns, 1.0)
        };
        let samples = samples
            .into_iter()
            .map(|ns| (ns as f64 * scale).round() as u64)
            .collect();
        let q = |l: &Latencies, p: f64| l.quantile_ns(p) * scale;
        Ok(Measurement {
            unit,
            samples: Samples::Latency(samples),
            waiter_cpu_ns_per_event: None,
            pinned: false,
            clamped: 0,
            extra: vec![
                ("am_p50", q(&am, 0.5)),
                ("am_p99", q(&am, 0.99)),
                ("unpark_p50", q(&unpark, 0.5)),
                ("unpark_p99", q(&unpark, 0.99)),
                ("off_p50", q(&off, 0.5)),
                ("off_p99", q(&off, 0.99)),
                (
                    "on_over_am_p50",
                    ratio(on.quantile_ns(0.5), am.quantile_ns(0.5)),
                ),
                (
                    "on_over_am_p99",
                    ratio(on.quantile_ns(0.99), am.quantile_ns(0.99)),
                ),
            ],
        })
    }
}

/// How the sender wakes the waiting task.
#[derive(Clone, Copy)]
enum Via {
    /// A nemo `Event` the task waits on (the condvar protocol and the waiter registry, then
    /// the unpark).
    Event,
    /// The task's `sched::Unparker` directly (the unpark and kick alone).
    Unparker,
}

/// One block of one loop.
struct Loop {
    /// Under gem5: the gaps are spun (it cannot sleep) and the timer thread spins.
    sim: bool,
    backend: BackendKind,
    /// The sched runtime's quantum ticks are lazy (`nemo_signal_lazy`).
    lazy_ticks: bool,
    chunk: u32,
    events: usize,
    warmup: usize,
    gap: Duration,
}

/// How long the sender waits for one event before calling it lost.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What the sender and the receiving side share.
struct Stamps {
    base: Instant,
    /// When the receiver ran, in ns since `base`.
    at: AtomicU64,
    /// Events received.
    count: AtomicU64,
    stop: AtomicBool,
    /// The busy side is running.
    busy: AtomicBool,
}

impl Stamps {
    fn new() -> Stamps {
        Stamps {
            base: Instant::now(),
            at: AtomicU64::new(0),
            count: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            busy: AtomicBool::new(false),
        }
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn stamp(&self) {
        self.at.store(self.now_ns(), Release);
        self.count.fetch_add(1, Release);
    }
}

impl Loop {
    /// Sleeps the gap (plus up to half of it at random, so events do not lock to a period).
    fn pause(&self) {
        let jitter = fastrand::u64(0..=self.gap.as_nanos() as u64 / 2);
        let gap = self.gap + Duration::from_nanos(jitter);
        if self.sim {
            // gem5's syscall emulation ends the simulation on `clock_nanosleep`.
            let t = Instant::now();
            while t.elapsed() < gap {
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(gap);
        }
    }

    /// Sends `warmup + events` events with `send`, each after the previous one arrived; records
    /// the measured ones.
    fn drive(
        &self,
        stamps: &Stamps,
        mut send: impl FnMut(),
        lat: &mut Latencies,
        samples: &mut Vec<u64>,
    ) -> Result<(), Failure> {
        let start = Instant::now();
        while !stamps.busy.load(SeqCst) {
            if start.elapsed() > TIMEOUT {
                return Err(Failure::Unsupported("the busy side never ran".into()));
            }
            std::thread::yield_now();
        }
        for i in 0..self.warmup + self.events {
            self.pause();
            let t0 = stamps.now_ns();
            send();
            let sent_at = Instant::now();
            while stamps.count.load(Acquire) <= i as u64 {
                if sent_at.elapsed() > TIMEOUT {
                    return Err(Failure::Lost {
                        event: i,
                        timeout: TIMEOUT,
                    });
                }
                // Yield, not spin: on a machine with fewer free cores than threads, a spinning
                // sender would take turns with the receiver it waits for.
                std::thread::yield_now();
            }
            if i >= self.warmup {
                let ns = stamps.at.load(Acquire).saturating_sub(t0);
                lat.record(Duration::from_nanos(ns));
                samples.push(ns);
            }
        }
        Ok(())
    }

    /// The raw active message to a busy target thread.
    fn raw_am(&self, lat: &mut Latencies, samples: &mut Vec<u64>) -> Result<(), Failure> {
        let domain = Domain::builder().targets(1).backend(self.backend).build();
        let stamps = Arc::new(Stamps::new());
        let action = {
            let stamps = Arc::clone(&stamps);
            domain
                .register_action(move |_| stamps.stamp())
                .map_err(|e| Failure::Unsupported(format!("action: {e}")))?
        };
        let chunk = self.chunk;
        std::thread::scope(|s| {
            let (tx, rx) = std::sync::mpsc::channel();
            let (domain, stamps) = (&domain, &stamps);
            let target = s.spawn(move || {
                let target = match domain.register_target() {
                    Ok(t) => t,
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        return;
                    }
                };
                let _ = tx.send(Ok(target.id()));
                stamps.busy.store(true, SeqCst);
                while !stamps.stop.load(Acquire) {
                    spin(chunk);
                    nemo_user::poll();
                }
            });
            let r = match rx.recv() {
                Ok(Ok(id)) => self.drive(
                    stamps,
                    || {
                        let _ = domain.notify(id, action, 0);
                    },
                    lat,
                    samples,
                ),
                Ok(Err(e)) => Err(Failure::Register {
                    receiver: 0,
                    reason: e,
                }),
                Err(_) => Err(Failure::Unsupported("the target thread died".into())),
            };
            stamps.stop.store(true, Release);
            let _ = target.join();
            r
        })
    }

    /// A waiting task of a one-worker runtime whose other task is busy, woken through `via`.
    fn sched(
        &self,
        kick: bool,
        via: Via,
        lat: &mut Latencies,
        samples: &mut Vec<u64>,
    ) -> Result<(), Failure> {
        let rt = Runtime::builder()
            .workers(1)
            .backend(self.backend)
            .lazy_ticks(self.lazy_ticks)
            .quantum(QUANTUM)
            // gem5 cannot sleep, and gives the spinning timer thread a core of its own.
            .timer_idle(if self.sim { Idle::Spin } else { Idle::Sleep })
            .build()
            .map_err(|e| Failure::Register {
                receiver: 0,
                reason: e.to_string(),
            })?;
        let stamps = Arc::new(Stamps::new());
        let event = Arc::new((Event::new(), AtomicU64::new(0)));
        // Set once by the task before it first waits, read without a lock by the sender: the
        // `am` loop's sender takes no lock either.
        let unparker = Arc::new(OnceLock::<Unparker>::new());
        let waiter = {
            let (stamps, event, unparker) = (
                Arc::clone(&stamps),
                Arc::clone(&event),
                Arc::clone(&unparker),
            );
            rt.spawn(move || {
                sched::set_latency_critical(kick);
                if let Some(u) = sched::current_unparker() {
                    let _ = unparker.set(u);
                }
                let (ev, seq) = &*event;
                let mut seen = 0;
                let waiting = |seen: u64| seq.load(Acquire) == seen && !stamps.stop.load(Acquire);
                loop {
                    match via {
                        Via::Event => ev.wait_while(|| waiting(seen)),
                        Via::Unparker => {
                            while waiting(seen) {
                                sched::park();
                            }
                        }
                    }
                    if stamps.stop.load(Acquire) {
                        return;
                    }
                    seen = seq.load(Acquire);
                    stamps.stamp();
                }
            })
        };
        let chunk = self.chunk;
        let busy = {
            let stamps = Arc::clone(&stamps);
            rt.spawn(move || {
                stamps.busy.store(true, SeqCst);
                while !stamps.stop.load(Acquire) {
                    spin(chunk);
                    sched::safepoint();
                }
            })
        };
        let r = self.drive(
            &stamps,
            || {
                event.1.fetch_add(1, Release);
                match via {
                    Via::Event => {
                        event.0.notify_one();
                    }
                    Via::Unparker => {
                        if let Some(u) = unparker.get() {
                            u.unpark();
                        }
                    }
                }
            },
            lat,
            samples,
        );
        stamps.stop.store(true, Release);
        event.0.notify_all();
        if let Some(u) = unparker.get() {
            u.unpark();
        }
        let _ = waiter.join();
        let _ = busy.join();
        rt.shutdown();
        r
    }
}
