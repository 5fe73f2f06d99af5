//! `TimerCore::arm_lazy`: a tick is posted quietly and taken at the receiver's next poll; only a
//! tick that finds the one before it untaken interrupts the receiver. No timing assertions: the
//! invariants below hold however the machine schedules the threads.

mod timer_support;

use std::cell::Cell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::interrupt::Receiver;
use nemo_user::timer::{Arm, Idle, TickStats, Timer, TimerCore, TimerThread};
use timer_support::{HANG, TICK};

thread_local! {
    /// Set while the test thread is inside `nemo_user::poll`.
    static IN_POLL: Cell<bool> = const { Cell::new(false) };
}

/// Ticks the receiver's handler ran for, and how many of them ran outside a poll (in the
/// signal handler: an interruption).
struct Counts {
    ticks: AtomicU64,
    interrupted: AtomicU64,
}

fn receiver(backend: BackendKind) -> (Receiver, Arc<Counts>) {
    let counts = Arc::new(Counts {
        ticks: AtomicU64::new(0),
        interrupted: AtomicU64::new(0),
    });
    let c = Arc::clone(&counts);
    let rx = Receiver::builder()
        .backend(backend)
        .register(move |v| {
            if v.get() as u64 == TICK {
                c.ticks.fetch_add(1, SeqCst);
                if !IN_POLL.with(Cell::get) {
                    c.interrupted.fetch_add(1, SeqCst);
                }
            }
        })
        .expect("register");
    (rx, counts)
}

/// A lazy periodic timer on [`TICK`] of `rx`, served by a timer thread of its own (returned
/// with it: dropping the thread stops the timer).
fn lazy_timer(rx: &Receiver, period: Duration) -> (TimerThread, Timer<'static>) {
    let timers = TimerCore::builder()
        .wait(Idle::Sleep)
        .spawn()
        .expect("timer thread");
    let timer = timers
        .core()
        .arm_lazy(&rx.endpoint(), TICK, Arm::Periodic(period))
        .expect("arm");
    (timers, timer)
}

/// Asserts that every posted tick ran the handler once, and at most the ticks a laggard's send
/// posted again (counted as coalesced) ran it once more.
fn assert_ticks_accounted(what: &str, ticks: u64, s: TickStats) {
    assert!(
        s.delivered <= ticks && ticks <= s.delivered + s.coalesced,
        "{what}: {ticks} handler calls for {s:?}"
    );
}

fn poll() {
    IN_POLL.with(|p| p.set(true));
    nemo_user::poll();
    IN_POLL.with(|p| p.set(false));
}

/// Busy work with no poll, about `d` long.
fn work(d: Duration) {
    let end = Instant::now() + d;
    let mut x = 1u64;
    while Instant::now() < end {
        for _ in 0..256 {
            x = black_box(x.rotate_left(5) ^ 0x9e37_79b9);
        }
    }
}

/// A receiver that polls between short stretches of work takes its ticks at its polls; every
/// tick that interrupted it instead followed one left untaken for a whole period (a
/// coalesced expiration), and each posted tick ran the handler exactly once.
#[test]
fn a_polling_receiver_takes_its_ticks_at_its_polls() {
    for backend in [BackendKind::Signal, BackendKind::Poll] {
        let (rx, counts) = receiver(backend);
        let (_timers, timer) = lazy_timer(&rx, Duration::from_millis(1));
        let start = Instant::now();
        while counts.ticks.load(SeqCst) < 20 {
            poll();
            work(Duration::from_micros(20));
            assert!(start.elapsed() < HANG, "{backend}: no ticks");
        }
        timer.cancel();
        poll(); // a tick posted before the cancel
        let s = timer.stats();
        let interrupted = counts.interrupted.load(SeqCst);
        assert!(
            interrupted <= s.coalesced,
            "{backend}: {interrupted} interruptions, but only {} ticks found the one before \
             untaken ({s:?}): a tick interrupted a receiver that polls",
            s.coalesced
        );
        assert_ticks_accounted(&backend.to_string(), counts.ticks.load(SeqCst), s);
    }
}

/// A receiver that never polls is still interrupted: each tick that finds the previous one
/// untaken notifies it, so every handler call is preceded by a coalesced expiration.
#[test]
fn a_receiver_that_never_polls_is_interrupted_a_period_late() {
    let (rx, counts) = receiver(BackendKind::Signal);
    let (_timers, timer) = lazy_timer(&rx, Duration::from_millis(1));
    let start = Instant::now();
    while counts.ticks.load(SeqCst) < 5 {
        work(Duration::from_micros(50));
        assert!(
            start.elapsed() < HANG,
            "a receiver that does not poll was never interrupted: {:?}",
            timer.stats()
        );
    }
    timer.cancel();
    let s = timer.stats();
    let ticks = counts.ticks.load(SeqCst);
    assert_eq!(
        counts.interrupted.load(SeqCst),
        ticks,
        "no poll took a tick"
    );
    assert!(
        s.coalesced >= ticks,
        "{ticks} interruptions, {s:?}: an interruption without an untaken tick before it"
    );
    // What is still pending is taken by the next poll, once.
    poll();
    assert_ticks_accounted(
        "after the last poll",
        counts.ticks.load(SeqCst),
        timer.stats(),
    );
}

/// Once the receiver is gone, a lazy timer dies as an eager one does (its quiet post fails in
/// the doorbell's bracket).
#[test]
fn a_lazy_timer_dies_with_its_receiver() {
    let (rx, _counts) = receiver(BackendKind::Signal);
    let (_timers, timer) = lazy_timer(&rx, Duration::from_micros(200));
    drop(rx);
    let start = Instant::now();
    while timer.is_armed() {
        std::thread::sleep(Duration::from_millis(1));
        assert!(start.elapsed() < HANG, "the timer outlived its receiver");
    }
    assert!(
        timer
            .rearm(Arm::Periodic(Duration::from_millis(1)))
            .is_err()
    );
}
