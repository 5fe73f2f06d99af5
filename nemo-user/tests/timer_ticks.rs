//! Tick counts, coalescing and accounting of every timer source on the software backends.

mod timer_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::interrupt::{Guard, Receiver};
use nemo_user::timer::{Arm, Idle, TimerCore};
use timer_support::{Source, TICK, Ticked};

const BACKENDS: [BackendKind; 2] = [BackendKind::Signal, BackendKind::Poll];

/// A periodic timer of period P, armed at t0 and cancelled at t1, has deadlines at t0 + kP: so at
/// most (t1 - t0) / P expirations (+ 1 for the clocks' rounding), however loaded the machine; and
/// every delivered one ran the handler exactly once.
#[test]
fn periodic_ticks_stay_within_the_deadline_bound() {
    const PERIOD: Duration = Duration::from_millis(1);
    for backend in BACKENDS {
        for source in Source::all_for(backend) {
            let mut t = Ticked::new(backend);
            let t0 = Instant::now();
            let timer = t.arm(source, Arm::Periodic(PERIOD));
            t.wait_until("10 ticks", || t.count() >= 10);
            timer.cancel();
            let elapsed = t0.elapsed();
            // Whatever was posted before the cancel is taken now; nothing is posted after.
            nemo_user::poll();
            let s = timer.stats();
            let bound = (elapsed.as_nanos() / PERIOD.as_nanos()) as u64 + 1;
            assert!(
                s.delivered + s.coalesced <= bound,
                "{backend} {source:?}: {s:?} in {elapsed:?}"
            );
            assert!(s.delivered >= 10, "{backend} {source:?}: {s:?}");
            assert_eq!(
                s.delivered,
                t.count(),
                "{backend} {source:?}: one handler call per delivered tick"
            );
            assert!(!timer.is_armed());
        }
    }
}

/// While the receiver takes no delivery, the first tick stays pending and every later one
/// coalesces with it: exactly one delivery, however many expirations.
#[test]
fn ticks_coalesce_while_pending() {
    for backend in BACKENDS {
        for source in Source::all_for(backend) {
            let mut t = Ticked::new(backend);
            let guard = Guard::new();
            let timer = t.arm(source, Arm::Periodic(Duration::from_micros(500)));
            let start = Instant::now();
            // Until the first tick is posted and four more expirations came after it. (A late
            // timer thread counts the periods it skipped as coalesced before it posts: the
            // counts may read 0 delivered and 5 coalesced for a moment.)
            while {
                let s = timer.stats();
                s.delivered == 0 || s.delivered + s.coalesced < 5
            } {
                std::thread::yield_now();
                assert!(start.elapsed() < timer_support::HANG, "no expirations");
            }
            nemo_user::poll(); // deferred inside the guard
            let s = timer.stats();
            assert_eq!(s.delivered, 1, "{backend} {source:?}: {s:?}");
            assert!(s.coalesced >= 4, "{backend} {source:?}: {s:?}");
            assert_eq!(
                t.count(),
                0,
                "{backend} {source:?}: delivered inside a guard"
            );
            drop(guard); // delivers the one pending tick
            assert_eq!(t.count(), 1, "{backend} {source:?}");
            timer.cancel();
            nemo_user::poll();
            assert_eq!(timer.stats().delivered, t.count(), "{backend} {source:?}");
        }
    }
}

#[test]
fn a_one_shot_fires_once_and_can_be_rearmed() {
    for backend in BACKENDS {
        for source in Source::all_for(backend) {
            let mut t = Ticked::new(backend);
            let before = Instant::now();
            let timer = t.arm(source, Arm::OneShot(Duration::from_millis(2)));
            let armed = timer.is_armed();
            // Armed until it fires, which is not before 2 ms; a test thread preempted for
            // longer (a loaded machine) cannot tell.
            if before.elapsed() < Duration::from_millis(1) {
                assert!(armed, "{backend} {source:?}");
            }
            t.wait_until("the one-shot", || t.count() == 1);
            t.let_in(Duration::from_millis(20));
            assert_eq!(t.count(), 1, "{backend} {source:?}: a one-shot fired twice");
            let s = timer.stats();
            assert_eq!(s.delivered + s.coalesced, 1);
            assert!(!timer.is_armed(), "{backend} {source:?}");
            timer.rearm(Arm::OneShot(Duration::ZERO)).unwrap();
            t.wait_until("the re-armed one-shot", || t.count() == 2);
            t.let_in(Duration::from_millis(5));
            assert_eq!(t.count(), 2, "{backend} {source:?}");
            assert_eq!(timer.stats().delivered, 2, "{backend} {source:?}");
        }
    }
}

/// Re-arming replaces the schedule: a cancelled periodic timer re-armed as a one-shot fires
/// exactly once more.
#[test]
fn rearm_replaces_the_schedule() {
    for source in Source::all_for(BackendKind::Poll) {
        let mut t = Ticked::new(BackendKind::Poll);
        let timer = t.arm(source, Arm::Periodic(Duration::from_millis(1)));
        t.wait_until("3 ticks", || t.count() >= 3);
        timer.cancel();
        nemo_user::poll(); // the poll backend: whatever was posted is taken here, exactly
        let before = t.count();
        assert_eq!(timer.stats().delivered, before);
        timer.rearm(Arm::OneShot(Duration::from_millis(1))).unwrap();
        t.wait_until("the one-shot", || t.count() == before + 1);
        t.let_in(Duration::from_millis(10));
        assert_eq!(t.count(), before + 1, "{source:?}");
        // And back to periodic.
        timer
            .rearm(Arm::Periodic(Duration::from_millis(1)))
            .unwrap();
        t.wait_until("periodic again", || t.count() >= before + 4);
        timer.cancel();
    }
}

/// Shortening the period takes effect at once: the next expiration is one new period after the
/// last one, which for an hour-long period that just started is already past.
#[test]
fn set_period_changes_the_rate_keeping_the_phase() {
    for backend in BACKENDS {
        for source in Source::all_for(backend) {
            let mut t = Ticked::new(backend);
            let timer = t.arm(source, Arm::Periodic(Duration::from_secs(3600)));
            t.let_in(Duration::from_millis(3));
            assert_eq!(t.count(), 0);
            let t0 = Instant::now();
            timer.set_period(Duration::from_millis(1)).unwrap();
            t.wait_until("ticks at the new period", || t.count() >= 5);
            timer.cancel();
            let bound = (t0.elapsed().as_nanos() / 1_000_000) as u64 + 2;
            assert!(
                timer.stats().delivered + timer.stats().coalesced <= bound,
                "{backend} {source:?}: {:?}",
                timer.stats()
            );
            // A cancelled timer is re-armed by a new period, one period from now.
            timer.set_period(Duration::from_millis(1)).unwrap();
            assert!(timer.is_armed());
            let n = t.count();
            t.wait_until("ticks after set_period re-armed it", || t.count() >= n + 2);
        }
    }
}

/// One timer thread serves several receivers, each on its own thread and vector.
#[test]
fn one_timer_thread_serves_many_receivers() {
    for wait in [Idle::Sleep, Idle::Spin] {
        let tt = TimerCore::builder().wait(wait).spawn().unwrap();
        std::thread::scope(|s| {
            for r in 0..3u64 {
                let tt = &tt;
                s.spawn(move || {
                    for backend in BACKENDS {
                        let ticks = Arc::new(AtomicU64::new(0));
                        let k = ticks.clone();
                        let vector = TICK + r;
                        let rx = Receiver::builder()
                            .backend(backend)
                            .register(move |v| {
                                assert_eq!(v.get() as u64, vector);
                                k.fetch_add(1, SeqCst);
                            })
                            .unwrap();
                        let period = Duration::from_micros(300 * (r + 1));
                        let timer = tt
                            .core()
                            .arm(&rx.endpoint(), vector, Arm::Periodic(period))
                            .unwrap();
                        let start = Instant::now();
                        while ticks.load(SeqCst) < 5 {
                            nemo_user::poll();
                            std::thread::yield_now();
                            assert!(start.elapsed() < timer_support::HANG);
                        }
                        timer.cancel();
                        nemo_user::poll();
                        assert_eq!(timer.stats().delivered, ticks.load(SeqCst));
                    }
                });
            }
        });
    }
}

/// Timers on several vectors of one receiver tick independently.
#[test]
fn posix_timers_on_several_vectors() {
    let counts: Arc<[AtomicU64; 3]> = Arc::new(Default::default());
    let c = counts.clone();
    let rx = Receiver::builder()
        .backend(BackendKind::Signal)
        .register(move |v| {
            c[v.get() as usize - 1].fetch_add(1, SeqCst);
        })
        .unwrap();
    let timers: Vec<_> = (1..=3u64)
        .map(|v| {
            nemo_user::timer::Timer::posix(
                &rx.endpoint(),
                v,
                Arm::Periodic(Duration::from_micros(400 * v)),
            )
            .unwrap()
        })
        .collect();
    let start = Instant::now();
    while counts.iter().any(|c| c.load(SeqCst) < 5) {
        std::thread::yield_now();
        assert!(start.elapsed() < timer_support::HANG);
    }
    for (t, c) in timers.iter().zip(counts.iter()) {
        t.cancel();
        assert_eq!(t.stats().delivered, c.load(SeqCst));
    }
}
