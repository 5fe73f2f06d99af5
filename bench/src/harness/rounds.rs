//! The notify → wake loop, for blocking waiters and for interrupted running receivers.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::{Case, Context, Failure, Fanout, Gap, SharedFailure, StartGate, spawn_gated};
use crate::arrival::Arrivals;
use crate::clock::{Clock, thread_cpu_ns};
use crate::mechanisms::{BlockingEvent, Instance, InterruptLink};
use crate::placement::{pin_current, pin_for_now};

/// Raw timestamps of one case, warm-up removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rounds {
    /// Sender's timestamp right before each notify, in clock ticks.
    pub sent: Vec<u64>,
    /// Each receiver's timestamp right after each wake: `[receiver][event]`, in clock ticks.
    pub woke: Vec<Vec<u64>>,
    /// Each receiver's CPU time over the measured events, in ns.
    pub receiver_cpu_ns: Vec<Option<u64>>,
    /// Every thread was pinned.
    pub pinned: bool,
    /// The notifier's own time inside each measured `notify_*` call, in clock ticks (blocking
    /// mechanisms only; empty for interrupt links).
    pub notify: Vec<u64>,
}

impl Rounds {
    /// Latencies `[receiver][event]` in the clock's unit, and how many were negative (the
    /// receiver's stamp before the sender's: cross-core TSC skew) and clamped to 0.
    pub fn latencies(&self, clock: &Clock) -> (Vec<Vec<u64>>, usize) {
        let mut clamped = 0;
        let lat = self
            .woke
            .iter()
            .map(|w| {
                w.iter()
                    .zip(&self.sent)
                    .map(|(&t1, &t0)| {
                        if t1 < t0 {
                            clamped += 1;
                        }
                        clock.to_unit(t1.saturating_sub(t0))
                    })
                    .collect()
            })
            .collect();
        (lat, clamped)
    }

    /// The median of [`notify`](Self::notify) in the clock's unit, if there are samples: what
    /// one notification costs the notifier, beside the waiter's latency.
    pub fn notify_median(&self, clock: &Clock) -> Option<f64> {
        let mut v = self.notify.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        Some(clock.to_unit(v[v.len() / 2]) as f64)
    }

    /// Mean over receivers of CPU ns per measured event.
    pub fn cpu_ns_per_event(&self) -> Option<f64> {
        let events = self.sent.len();
        if events == 0 || self.receiver_cpu_ns.is_empty() {
            return None;
        }
        let total: Option<u64> = self.receiver_cpu_ns.iter().copied().sum();
        total.map(|t| t as f64 / events as f64 / self.receiver_cpu_ns.len() as f64)
    }
}

/// Runs `case.warmup + case.events` rounds of `instance` and returns the measured ones.
pub fn rounds(ctx: &Context, case: &Case, instance: &Instance) -> Result<Rounds, Failure> {
    check_receivers(case)?;
    match instance {
        Instance::Blocking(ev) => blocking_rounds(ctx, case, &**ev),
        Instance::Interrupt(link) => interrupt_rounds(ctx, case, &**link),
    }
}

/// A case needs receivers, and exactly one if it is unicast.
fn check_receivers(case: &Case) -> Result<(), Failure> {
    if case.receivers == 0 {
        return Err(Failure::Unsupported(
            "a case needs at least one receiver".into(),
        ));
    }
    if case.fanout == Fanout::One && case.receivers != 1 {
        return Err(Failure::Unsupported(
            "a unicast case has exactly one receiver".into(),
        ));
    }
    Ok(())
}

/// How the sender waits for receivers: spinning when it has its own core, yielding when it
/// shares one (a spinning sender would starve the receiver it waits for), and never forever.
struct SenderWait {
    share_core: bool,
    timeout: Duration,
}

impl SenderWait {
    fn new(ctx: &Context, case: &Case) -> SenderWait {
        SenderWait {
            share_core: ctx.topology.oversubscribed(case.receivers),
            timeout: ctx.timeout,
        }
    }

    /// Waits until `ready()`; false on timeout.
    fn until(&self, ready: impl Fn() -> bool) -> bool {
        let mut spins: u32 = 0;
        // Set lazily: the common case returns before reading the wall clock at all.
        let mut deadline: Option<Instant> = None;
        while !ready() {
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) {
                let now = Instant::now();
                match deadline {
                    None => deadline = Some(now + self.timeout),
                    Some(d) if now > d => return false,
                    Some(_) => {}
                }
            }
            if self.share_core && spins > 64 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
        true
    }
}

/// Waits out the gap that starts now.
pub fn wait_gap(ctx: &Context, gap: Gap) {
    let spin = |d| {
        let clock = ctx.clock;
        let end = clock.now().saturating_add(clock.ticks(d));
        while clock.now() < end {
            std::hint::spin_loop();
        }
    };
    match gap {
        Gap::None => {}
        Gap::Spin(d) => spin(d),
        // gem5's syscall emulation cannot sleep (`clock_nanosleep`, which `thread::sleep` uses,
        // ends the simulation): spin on the clock there.
        Gap::Sleep(d) if ctx.sim => spin(d),
        Gap::Sleep(d) => std::thread::sleep(d),
    }
}

/// What each receiver thread hands back.
struct ReceiverRun {
    woke: Vec<u64>,
    cpu_ns: Option<u64>,
    pinned: bool,
}

/// The calling thread's CPU time, where there is such a thing: gem5's syscall emulation answers
/// every clock, `CLOCK_THREAD_CPUTIME_ID` included, with simulated wall time, so under `--sim`
/// the waiter-CPU column has no data (see [`SIM_NO_THREAD_CPU`](crate::clock::SIM_NO_THREAD_CPU)).
fn cpu_now(ctx: &Context) -> Option<u64> {
    if ctx.sim { None } else { thread_cpu_ns() }
}

fn cpu_delta(start: Option<u64>, end: Option<u64>) -> Option<u64> {
    Some(end?.saturating_sub(start?))
}

/// Ends the measured events early once they have taken the case's budget (after at least one).
struct Budget {
    clock: Clock,
    limit: Option<u64>,
    warmup: usize,
    started: u64,
}

impl Budget {
    fn new(ctx: &Context, case: &Case) -> Budget {
        Budget {
            clock: ctx.clock,
            limit: case.budget.map(|b| ctx.clock.ticks(b)),
            warmup: case.warmup,
            started: 0,
        }
    }

    /// Called before sending event `i`: whether to stop instead.
    fn spent(&mut self, i: usize) -> bool {
        let Some(limit) = self.limit else {
            return false;
        };
        if i == self.warmup {
            self.started = self.clock.now();
            return false;
        }
        i > self.warmup && self.clock.now().saturating_sub(self.started) >= limit
    }
}

/// Wakes blocked waiters until all have left: each notify publishes a new count, so every
/// waiter returns from `wait`, sees `stop` and exits.
fn release(ev: &dyn BlockingEvent, exited: &AtomicUsize, receivers: usize) {
    while exited.load(Ordering::Acquire) < receivers {
        ev.notify_all();
        let t = Instant::now();
        while exited.load(Ordering::Acquire) < receivers && t.elapsed() < Duration::from_millis(10)
        {
            std::thread::yield_now();
        }
    }
}

fn blocking_rounds(ctx: &Context, case: &Case, ev: &dyn BlockingEvent) -> Result<Rounds, Failure> {
    let mut all = interleaved_blocking_rounds(ctx, case, &[ev]).map_err(|f| f.failure)?;
    Ok(all.pop().expect("one instance, one result"))
}

/// Runs `case.warmup + case.events` rounds of each of `evs`, their events interleaved one by one
/// (`evs[0]`, `evs[1]`, …, `evs[0]`, …) from one sender, and returns each instance's measured
/// rounds in the order of `evs`. Each instance has its own `case.receivers` receivers, pinned to
/// the cores a case of one instance would use; before every gap the sender waits until every
/// receiver of every instance is back in its wait, so the gap finds them all parked alike.
///
/// Side by side event by event, the instances meet the same machine: a drift in its load or
/// in the host's scheduling of its vCPUs that lasts longer than a few events hits all of them,
/// where instances measured one after another each meet their own. The case's budget is per
/// instance, as if each ran alone. Only for waiters that block (a spinning waiter would hold
/// the core the others wake on); a lost event fails the whole call.
pub fn interleaved_blocking_rounds(
    ctx: &Context,
    case: &Case,
    evs: &[&dyn BlockingEvent],
) -> Result<Vec<Rounds>, SharedFailure> {
    check_receivers(case)?;
    let k = evs.len();
    if k == 0 {
        return Ok(Vec::new());
    }
    let total = case.warmup + case.events;
    let clock = ctx.clock;
    let per = case.receivers;
    // ready[j * per + r] = i + 1: receiver r of instance j consumed its events < i and is about
    // to wait for its event i.
    let ready: Vec<CachePadded<AtomicU64>> = (0..k * per)
        .map(|_| CachePadded::new(AtomicU64::new(0)))
        .collect();
    let stop = AtomicBool::new(false);
    let exited: Vec<AtomicUsize> = (0..k).map(|_| AtomicUsize::new(0)).collect();
    let start = StartGate::new(k * per + 1);
    let wait = SenderWait::new(ctx, case);
    let release_all = || {
        for (ev, exited) in evs.iter().zip(&exited) {
            release(*ev, exited, per);
        }
    };

    std::thread::scope(|s| {
        let receivers = spawn_gated(s, &start, k * per, "receiver", |t| {
            let (ready, stop, exited, start) = (&ready, &stop, &exited, &start);
            let (j, r) = (t / per, t % per);
            let ev = evs[j];
            let core = ctx.topology.receiver_core(r);
            move || {
                let pinned = pin_current(core);
                let mut woke = vec![0u64; total];
                let mut seen = 0;
                let mut cpu0 = None;
                if start.wait() {
                    for (i, slot) in woke.iter_mut().enumerate() {
                        if i == case.warmup {
                            cpu0 = cpu_now(ctx);
                        }
                        ready[t].store(i as u64 + 1, Ordering::Release);
                        seen = ev.wait(seen);
                        *slot = clock.now();
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                    }
                }
                let cpu_ns = cpu_delta(cpu0, cpu_now(ctx));
                // Done: never a receiver the sender still waits for.
                ready[t].store(u64::MAX, Ordering::Release);
                exited[j].fetch_add(1, Ordering::Release);
                ReceiverRun {
                    woke,
                    cpu_ns,
                    pinned,
                }
            }
        })?;

        // The signaller is the calling thread: under gem5 every thread needs a core of its own
        // (1 + receivers in all), and the receivers, created first, take cores 1, 2, ... there.
        let sender = 'send: {
            let pin = pin_for_now(ctx.topology.signaller_core());
            let pinned = pin.pinned();
            let mut sent: Vec<Vec<u64>> = (0..k).map(|_| Vec::with_capacity(total)).collect();
            let mut notify: Vec<Vec<u64>> = (0..k).map(|_| Vec::with_capacity(total)).collect();
            let mut budget = Budget::new(ctx, case);
            budget.limit = budget.limit.map(|l| l.saturating_mul(k as u64));
            assert!(start.wait(), "only a failed spawn calls the start off");
            'events: for i in 0..total {
                for (j, ev) in evs.iter().enumerate() {
                    // Every receiver of instances before j has had event i, the others not yet.
                    let all_ready = || {
                        ready.iter().enumerate().all(|(t, r)| {
                            let want = i as u64 + 1 + u64::from(t / per < j);
                            r.load(Ordering::Acquire) >= want
                        })
                    };
                    if !wait.until(all_ready) {
                        // The instance of the first receiver still short of its event.
                        let lost = ready.iter().enumerate().find_map(|(t, r)| {
                            let want = i as u64 + 1 + u64::from(t / per < j);
                            (r.load(Ordering::Acquire) < want).then_some(t / per)
                        });
                        stop.store(true, Ordering::Release);
                        release_all();
                        break 'send Err(SharedFailure {
                            instance: lost,
                            failure: Failure::Lost {
                                event: i,
                                timeout: ctx.timeout,
                            },
                        });
                    }
                    if j == 0 && budget.spent(i) {
                        break 'events;
                    }
                    wait_gap(ctx, case.gap);
                    let t0 = clock.now();
                    sent[j].push(t0);
                    match case.fanout {
                        Fanout::One => ev.notify_one(),
                        Fanout::All => ev.notify_all(),
                    }
                    notify[j].push(clock.now().saturating_sub(t0));
                }
            }
            if sent.iter().any(|s| s.len() < total) {
                stop.store(true, Ordering::Release);
                release_all();
            }
            Ok((sent, pinned, notify))
        };

        let mut runs: Vec<ReceiverRun> = receivers
            .into_iter()
            .map(|h| h.join().expect("receiver thread panicked"))
            .collect();
        let (sent, sender_pinned, notify) = sender?;
        let mut out = Vec::with_capacity(k);
        for (j, (sent, notify)) in sent.into_iter().zip(notify).enumerate().rev() {
            let mine = runs.split_off(j * per);
            let mut r = assemble(case, sent, sender_pinned, mine);
            r.notify = notify[case.warmup.min(notify.len())..].to_vec();
            out.push(r);
        }
        out.reverse();
        Ok(out)
    })
}

fn interrupt_rounds(
    ctx: &Context,
    case: &Case,
    link: &dyn InterruptLink,
) -> Result<Rounds, Failure> {
    let total = case.warmup + case.events;
    let arrivals: Vec<Arc<Arrivals>> = (0..case.receivers)
        .map(|_| Arc::new(Arrivals::new(ctx.clock, total)))
        .collect();
    let stop = AtomicBool::new(false);
    let registration: Mutex<Option<Failure>> = Mutex::new(None);
    let start = StartGate::new(case.receivers + 1);
    let wait = SenderWait::new(ctx, case);

    std::thread::scope(|s| {
        let receivers = spawn_gated(s, &start, case.receivers, "receiver", |r| {
            let (stop, start, registration) = (&stop, &start, &registration);
            let mine = arrivals[r].clone();
            let core = ctx.topology.receiver_core(r);
            move || {
                let pinned = pin_current(core);
                let registered = link.register(r, mine.clone());
                if let Err(e) = &registered
                    && let Ok(mut slot) = registration.lock()
                {
                    slot.get_or_insert(Failure::Register {
                        receiver: r,
                        reason: e.0.clone(),
                    });
                }
                let go = start.wait();
                let mut cpu0 = None;
                if registered.is_ok() {
                    // The receiver *runs*: a busy loop that is the mechanism's safepoint
                    // (not at all if the case was called off).
                    if go {
                        loop {
                            link.poll(r);
                            let c = mine.count();
                            if cpu0.is_none() && c >= case.warmup {
                                cpu0 = cpu_now(ctx);
                            }
                            if c >= total || stop.load(Ordering::Acquire) {
                                break;
                            }
                            std::hint::spin_loop();
                        }
                    }
                    link.unregister(r);
                }
                ReceiverRun {
                    woke: Vec::new(),
                    cpu_ns: cpu_delta(cpu0, cpu_now(ctx)),
                    pinned,
                }
            }
        })?;

        // The signaller is the calling thread, as in `blocking_rounds`.
        let sender = 'send: {
            let pin = pin_for_now(ctx.topology.signaller_core());
            let pinned = pin.pinned();
            let mut sent = Vec::with_capacity(total);
            let mut budget = Budget::new(ctx, case);
            assert!(start.wait(), "only a failed spawn calls the start off");
            if let Some(f) = registration.lock().ok().and_then(|mut r| r.take()) {
                stop.store(true, Ordering::Release);
                break 'send Err(f);
            }
            let arrived = |n: usize| arrivals.iter().all(|a| a.count() >= n);
            for i in 0..total {
                if !wait.until(|| arrived(i)) {
                    stop.store(true, Ordering::Release);
                    break 'send Err(Failure::Lost {
                        event: i.saturating_sub(1),
                        timeout: ctx.timeout,
                    });
                }
                if budget.spent(i) {
                    break;
                }
                wait_gap(ctx, case.gap);
                sent.push(ctx.clock.now());
                match case.fanout {
                    Fanout::One => link.send(0),
                    Fanout::All => link.send_all(case.receivers),
                }
            }
            let ok = wait.until(|| arrived(sent.len()));
            stop.store(true, Ordering::Release);
            if !ok {
                break 'send Err(Failure::Lost {
                    event: sent.len() - 1,
                    timeout: ctx.timeout,
                });
            }
            Ok((sent, pinned))
        };

        let mut runs: Vec<ReceiverRun> = receivers
            .into_iter()
            .map(|h| h.join().expect("receiver thread panicked"))
            .collect();
        let (sent, sender_pinned) = sender?;
        for (r, (run, a)) in runs.iter_mut().zip(&arrivals).enumerate() {
            let got = a.count();
            if got != sent.len() {
                return Err(Failure::Spurious {
                    receiver: r,
                    got,
                    sent: sent.len(),
                });
            }
            run.woke = (0..got).map(|i| a.get(i)).collect();
        }
        Ok(assemble(case, sent, sender_pinned, runs))
    })
}

/// Drops the warm-up and any wake after the last event sent (the release of an early stop).
fn assemble(case: &Case, sent: Vec<u64>, sender_pinned: bool, runs: Vec<ReceiverRun>) -> Rounds {
    let n = sent.len();
    let w = case.warmup.min(n);
    Rounds {
        notify: Vec::new(),
        sent: sent[w..].to_vec(),
        pinned: sender_pinned && runs.iter().all(|r| r.pinned),
        receiver_cpu_ns: runs.iter().map(|r| r.cpu_ns).collect(),
        woke: runs
            .into_iter()
            .map(|r| r.woke[w.min(r.woke.len())..n.min(r.woke.len())].to_vec())
            .collect(),
    }
}
