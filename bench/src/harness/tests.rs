//! The measurement loop against real and deliberately broken mechanisms: exact counts, lost
//! events reported rather than hung on, spurious deliveries caught. No timing assertions.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::arrival::Arrivals;
use crate::mechanisms::{self, BlockingEvent, Instance, InterruptLink, Setup, Skipped};

fn ctx(timeout: Duration) -> Context {
    Context {
        clock: Clock::native(Duration::from_millis(2)),
        topology: Topology::detect(),
        sim: false,
        timeout,
    }
}

fn case(events: usize, receivers: usize, fanout: Fanout) -> Case {
    Case {
        regime: "test".to_string(),
        gap: Gap::Spin(Duration::from_micros(1)),
        events,
        budget: None,
        warmup: 2,
        receivers,
        fanout,
    }
}

fn instance(id: &str, c: &Case, ctx: &Context) -> Instance {
    let setup = Setup {
        scenario: "unicast",
        regime: &c.regime,
        receivers: c.receivers,
        cores: ctx.topology.cores(),
        oversubscribed: ctx.topology.oversubscribed(c.receivers),
        sim: false,
        static_binary: false,
        uintr: false,
    };
    match mechanisms::find(id).map(|m| m.instantiate(&setup)) {
        Some(Ok(i)) => i,
        _ => panic!("{id} must instantiate here"),
    }
}

#[test]
fn warmup_is_bounded() {
    assert_eq!(default_warmup(1), 1);
    assert_eq!(default_warmup(50), 5);
    assert_eq!(default_warmup(1_000_000), 200);
}

#[test]
fn unicast_rounds_keep_exactly_the_measured_events() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(50, 1, Fanout::One);
    let r = rounds(&ctx, &c, &instance("futex", &c, &ctx)).expect("futex completes");
    assert_eq!(r.sent.len(), 50);
    assert_eq!(r.woke.len(), 1);
    assert_eq!(r.woke[0].len(), 50);
    // Each wake follows its own send (the clock is monotone on one core and the TSC is
    // invariant across cores), and sends are in order.
    assert!(r.sent.windows(2).all(|w| w[0] < w[1]));
    let (lat, clamped) = r.latencies(&ctx.clock);
    assert_eq!((lat[0].len(), clamped), (50, 0));
    // One notifier cost per measured event; a FUTEX_WAKE is a system call, never free.
    assert_eq!(r.notify.len(), 50);
    assert!(r.notify_median(&ctx.clock).is_some_and(|m| m > 0.0));
}

#[test]
fn broadcast_rounds_record_every_waiter() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(20, 3, Fanout::All);
    let r = rounds(&ctx, &c, &instance("pthread_cond", &c, &ctx)).expect("completes");
    assert_eq!(r.woke.len(), 3);
    assert!(r.woke.iter().all(|w| w.len() == 20));
    assert_eq!(r.receiver_cpu_ns.len(), 3);
}

#[test]
fn unicast_needs_exactly_one_receiver() {
    let ctx = ctx(Duration::from_secs(1));
    let c = case(5, 2, Fanout::One);
    let err = rounds(&ctx, &c, &instance("futex", &c, &ctx)).expect_err("rejected");
    assert!(matches!(err, Failure::Unsupported(_)));
}

#[test]
fn a_spent_budget_stops_after_one_measured_event() {
    let ctx = ctx(Duration::from_secs(10));
    let mut c = case(1000, 1, Fanout::One);
    c.budget = Some(Duration::ZERO);
    let r = rounds(&ctx, &c, &instance("futex", &c, &ctx)).expect("completes");
    assert_eq!(r.sent.len(), 1);
    assert_eq!(r.woke[0].len(), 1);
}

/// Drops every `notify_one`: the waiter never learns of the event.
struct LosesUnicast {
    count: AtomicU64,
    inner: Box<dyn BlockingEvent>,
}

impl BlockingEvent for LosesUnicast {
    fn wait(&self, seen: u64) -> u64 {
        self.inner.wait(seen)
    }
    fn notify_one(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }
    fn notify_all(&self) {
        self.inner.notify_all();
    }
}

#[test]
fn a_lost_wakeup_is_reported_not_hung_on() {
    let ctx = ctx(Duration::from_millis(200));
    let c = case(10, 1, Fanout::One);
    let Instance::Blocking(inner) = instance("futex", &c, &ctx) else {
        panic!("futex is blocking");
    };
    let lossy = Instance::Blocking(Box::new(LosesUnicast {
        count: AtomicU64::new(0),
        inner,
    }));
    let err = rounds(&ctx, &c, &lossy).expect_err("the event is lost");
    assert!(matches!(err, Failure::Lost { event: 1, .. }), "{err:?}");
}

/// Delivers at the receiver's safepoint: `send` raises a flag, `poll` stamps (an `am_poll`-like
/// mechanism). `extra` stamps each delivery that many more times (a broken mechanism).
struct PollLink {
    pending: Vec<AtomicBool>,
    arrivals: Mutex<Vec<Option<Arc<Arrivals>>>>,
    extra: usize,
}

impl PollLink {
    fn new(receivers: usize, extra: usize) -> PollLink {
        PollLink {
            pending: (0..receivers).map(|_| AtomicBool::new(false)).collect(),
            arrivals: Mutex::new(vec![None; receivers]),
            extra,
        }
    }
}

impl InterruptLink for PollLink {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        self.arrivals.lock().expect("lock")[index] = Some(arrivals);
        Ok(())
    }
    fn send(&self, index: usize) {
        self.pending[index].store(true, Ordering::Release);
    }
    fn poll(&self, index: usize) {
        if self.pending[index].swap(false, Ordering::Acquire) {
            let a = self.arrivals.lock().expect("lock")[index].clone();
            if let Some(a) = a {
                for _ in 0..=self.extra {
                    a.stamp();
                }
            }
        }
    }
    fn unregister(&self, index: usize) {
        self.arrivals.lock().expect("lock")[index] = None;
    }
}

#[test]
fn interrupt_rounds_deliver_at_safepoints() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(40, 1, Fanout::One);
    let link = Instance::Interrupt(Box::new(PollLink::new(1, 0)));
    let r = rounds(&ctx, &c, &link).expect("completes");
    assert_eq!(r.sent.len(), 40);
    assert_eq!(r.woke[0].len(), 40);
    assert!(
        r.notify.is_empty(),
        "interrupt links report no notifier cost"
    );
    assert!(r.woke[0].iter().zip(&r.sent).all(|(w, s)| w >= s));
}

#[test]
fn interrupt_broadcast_reaches_every_receiver() {
    let ctx = ctx(Duration::from_secs(10));
    // Two receivers that both burn a core may share one on a small machine: correctness only.
    let c = case(10, 2, Fanout::All);
    let link = Instance::Interrupt(Box::new(PollLink::new(2, 0)));
    let r = rounds(&ctx, &c, &link).expect("completes");
    assert_eq!(r.woke.len(), 2);
    assert!(r.woke.iter().all(|w| w.len() == 10));
}

#[test]
fn double_deliveries_are_caught() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(5, 1, Fanout::One);
    let link = Instance::Interrupt(Box::new(PollLink::new(1, 1)));
    let err = rounds(&ctx, &c, &link).expect_err("every event arrives twice");
    assert!(matches!(err, Failure::Spurious { .. }), "{err:?}");
}

/// The threads that waited and the threads that notified, each once.
#[derive(Default)]
struct Callers {
    waiters: Mutex<Vec<std::thread::ThreadId>>,
    notifiers: Mutex<Vec<std::thread::ThreadId>>,
}

impl Callers {
    fn note(list: &Mutex<Vec<std::thread::ThreadId>>) {
        let me = std::thread::current().id();
        let mut l = list.lock().expect("lock");
        if !l.contains(&me) {
            l.push(me);
        }
    }
}

/// A real event that records its callers.
struct WhoCalls {
    inner: Box<dyn BlockingEvent>,
    callers: Arc<Callers>,
}

impl BlockingEvent for WhoCalls {
    fn wait(&self, seen: u64) -> u64 {
        Callers::note(&self.callers.waiters);
        self.inner.wait(seen)
    }
    fn notify_one(&self) {
        Callers::note(&self.callers.notifiers);
        self.inner.notify_one();
    }
    fn notify_all(&self) {
        Callers::note(&self.callers.notifiers);
        self.inner.notify_all();
    }
}

/// gem5's syscall emulation gives every thread a core of its own and fails the clone of one
/// thread more, so a case must run on exactly `receivers + 1` threads, the caller's included:
/// the caller is the signaller.
#[test]
fn the_caller_signals_and_only_receivers_are_spawned() {
    let ctx = ctx(Duration::from_secs(10));
    let me = std::thread::current().id();
    for (receivers, fanout) in [(1, Fanout::One), (3, Fanout::All)] {
        let c = case(10, receivers, fanout);
        let Instance::Blocking(inner) = instance("futex", &c, &ctx) else {
            panic!("futex is blocking");
        };
        let callers = Arc::new(Callers::default());
        let ev = Instance::Blocking(Box::new(WhoCalls {
            inner,
            callers: callers.clone(),
        }));
        rounds(&ctx, &c, &ev).expect("completes");
        assert_eq!(*callers.notifiers.lock().expect("lock"), [me]);
        let waiters = callers.waiters.lock().expect("lock");
        assert_eq!(waiters.len(), receivers);
        assert!(!waiters.contains(&me));
    }
}

/// Records the threads that send and that register.
struct WhoSends {
    inner: PollLink,
    callers: Arc<Callers>,
}

impl InterruptLink for WhoSends {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        Callers::note(&self.callers.waiters);
        self.inner.register(index, arrivals)
    }
    fn send(&self, index: usize) {
        Callers::note(&self.callers.notifiers);
        self.inner.send(index);
    }
    fn poll(&self, index: usize) {
        self.inner.poll(index);
    }
    fn unregister(&self, index: usize) {
        self.inner.unregister(index);
    }
}

#[test]
fn the_caller_sends_to_running_receivers() {
    let ctx = ctx(Duration::from_secs(10));
    let me = std::thread::current().id();
    let callers = Arc::new(Callers::default());
    let c = case(10, 2, Fanout::All);
    let link = Instance::Interrupt(Box::new(WhoSends {
        inner: PollLink::new(2, 0),
        callers: callers.clone(),
    }));
    rounds(&ctx, &c, &link).expect("completes");
    assert_eq!(*callers.notifiers.lock().expect("lock"), [me]);
    let receivers = callers.waiters.lock().expect("lock");
    assert_eq!(receivers.len(), 2);
    assert!(!receivers.contains(&me));
}

/// Under `--sim` the CPU-time clock is simulated wall time: no waiter CPU is reported.
#[test]
fn no_waiter_cpu_under_sim() {
    let mut ctx = ctx(Duration::from_secs(10));
    let c = case(5, 1, Fanout::One);
    let r = rounds(&ctx, &c, &instance("futex", &c, &ctx)).expect("completes");
    assert!(r.cpu_ns_per_event().is_some());
    ctx.sim = true;
    let r = rounds(&ctx, &c, &instance("futex", &c, &ctx)).expect("completes");
    assert_eq!(r.receiver_cpu_ns, [None]);
    assert_eq!(r.cpu_ns_per_event(), None);
    let link = Instance::Interrupt(Box::new(PollLink::new(1, 0)));
    let r = rounds(&ctx, &c, &link).expect("completes");
    assert_eq!(r.cpu_ns_per_event(), None);
}

fn blocking(id: &str, c: &Case, ctx: &Context) -> Box<dyn BlockingEvent> {
    match instance(id, c, ctx) {
        Instance::Blocking(ev) => ev,
        Instance::Interrupt(_) => panic!("{id} is blocking"),
    }
}

#[test]
fn interleaved_instances_take_turns_and_keep_their_own_events() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(30, 1, Fanout::One);
    let evs: Vec<Box<dyn BlockingEvent>> = ["futex", "pthread_cond", "thread_park"]
        .iter()
        .map(|id| blocking(id, &c, &ctx))
        .collect();
    let refs: Vec<&dyn BlockingEvent> = evs.iter().map(|e| &**e).collect();
    let rs = interleaved_blocking_rounds(&ctx, &c, &refs).expect("completes");
    assert_eq!(rs.len(), 3);
    for r in &rs {
        assert_eq!((r.sent.len(), r.woke.len(), r.woke[0].len()), (30, 1, 30));
        assert_eq!(r.notify.len(), 30);
        let (lat, clamped) = r.latencies(&ctx.clock);
        assert_eq!((lat[0].len(), clamped), (30, 0));
        assert_eq!(r.receiver_cpu_ns.len(), 1);
    }
    // One sender, events in turn: instance 0, 1, 2, then 0 again.
    for i in 0..30 {
        assert!(rs[0].sent[i] < rs[1].sent[i] && rs[1].sent[i] < rs[2].sent[i]);
        if i + 1 < 30 {
            assert!(rs[2].sent[i] < rs[0].sent[i + 1]);
        }
    }
    // Each wake belongs to its own instance's event: after it, before that instance's next.
    for r in &rs {
        for i in 0..29 {
            assert!(r.sent[i] <= r.woke[0][i] && r.woke[0][i] <= r.sent[i + 1]);
        }
    }
}

#[test]
fn interleaved_broadcast_wakes_every_receiver_of_every_instance() {
    let ctx = ctx(Duration::from_secs(10));
    let c = case(12, 2, Fanout::All);
    let evs = [
        blocking("futex", &c, &ctx),
        blocking("pthread_cond", &c, &ctx),
    ];
    let refs: Vec<&dyn BlockingEvent> = evs.iter().map(|e| &**e).collect();
    let rs = interleaved_blocking_rounds(&ctx, &c, &refs).expect("completes");
    assert!(
        rs.iter()
            .all(|r| r.woke.len() == 2 && r.woke.iter().all(|w| w.len() == 12))
    );
}

#[test]
fn interleaved_budget_is_per_instance_and_stops_all_alike() {
    let ctx = ctx(Duration::from_secs(10));
    let mut c = case(1000, 1, Fanout::One);
    c.budget = Some(Duration::ZERO);
    let evs = [
        blocking("futex", &c, &ctx),
        blocking("thread_park", &c, &ctx),
    ];
    let refs: Vec<&dyn BlockingEvent> = evs.iter().map(|e| &**e).collect();
    let rs = interleaved_blocking_rounds(&ctx, &c, &refs).expect("completes");
    assert!(rs.iter().all(|r| r.sent.len() == 1 && r.woke[0].len() == 1));
}

#[test]
fn a_lost_wakeup_among_interleaved_instances_is_reported_not_hung_on() {
    let ctx = ctx(Duration::from_millis(200));
    let c = case(10, 1, Fanout::One);
    let lossy = LosesUnicast {
        count: AtomicU64::new(0),
        inner: blocking("futex", &c, &ctx),
    };
    let good = blocking("pthread_cond", &c, &ctx);
    let refs: [&dyn BlockingEvent; 2] = [&*good, &lossy];
    let err = interleaved_blocking_rounds(&ctx, &c, &refs).expect_err("the event is lost");
    assert!(
        matches!(err.failure, Failure::Lost { event: 1, .. }),
        "{err:?}"
    );
    // The lossy instance is named, not the one beside it.
    assert_eq!(err.instance, Some(1));
    // And the other way round, on fresh instances.
    let lossy = LosesUnicast {
        count: AtomicU64::new(0),
        inner: blocking("futex", &c, &ctx),
    };
    let good = blocking("pthread_cond", &c, &ctx);
    let refs: [&dyn BlockingEvent; 2] = [&lossy, &*good];
    let err = interleaved_blocking_rounds(&ctx, &c, &refs).expect_err("the event is lost");
    assert_eq!(err.instance, Some(0));
}

#[test]
fn no_instances_no_rounds() {
    let ctx = ctx(Duration::from_secs(1));
    let c = case(5, 1, Fanout::One);
    assert!(
        interleaved_blocking_rounds(&ctx, &c, &[])
            .expect("nothing to run")
            .is_empty()
    );
}
