//! Cancelling: no tick is posted after `cancel` returns, at most one posted before is still
//! delivered, timer functions stop exactly, and dropping a timer cancels it.

mod timer_support;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use nemo_user::timer::{Arm, Idle, Timer, TimerCore};
use nemo_user::{BackendKind, ErrorKind};
use timer_support::{HANG, Source, Ticked};

#[test]
fn no_tick_after_cancel_beyond_the_one_in_flight() {
    for backend in [BackendKind::Signal, BackendKind::Poll] {
        for source in Source::all_for(backend) {
            let mut t = Ticked::new(backend);
            let timer = t.arm(source, Arm::Periodic(Duration::from_micros(200)));
            t.wait_until("ticks", || t.count() >= 5);
            timer.cancel();
            let at_cancel = t.count();
            let stats = timer.stats();
            t.let_in(Duration::from_millis(30));
            let after = t.count() - at_cancel;
            assert!(
                after <= 1,
                "{backend} {source:?}: {after} ticks after cancel"
            );
            assert_eq!(
                timer.stats(),
                stats,
                "{backend} {source:?}: counted after cancel"
            );
            assert_eq!(stats.delivered, t.count(), "{backend} {source:?}");
            assert!(!timer.is_armed());
            timer.cancel(); // idempotent
        }
    }
}

#[test]
fn dropping_a_timer_cancels_it() {
    for source in Source::all_for(BackendKind::Signal) {
        let mut t = Ticked::new(BackendKind::Signal);
        let timer = t.arm(source, Arm::Periodic(Duration::from_micros(200)));
        t.wait_until("ticks", || t.count() >= 3);
        drop(timer);
        let at_drop = t.count();
        t.let_in(Duration::from_millis(30));
        assert!(t.count() - at_drop <= 1, "{source:?}");
    }
}

/// A timer function is called on the timer thread, so cancelling is exact: once `cancel`
/// returns, the function has returned for the last time.
#[test]
fn cancel_stops_a_timer_function_exactly() {
    for wait in [Idle::Spin, Idle::Sleep, Idle::Pause] {
        let calls = AtomicU64::new(0);
        let core = Arc::new(TimerCore::builder().wait(wait).build());
        std::thread::scope(|s| {
            s.spawn(|| core.run().unwrap());
            let timer = core
                .arm_fn(Arm::Periodic(Duration::from_micros(100)), |e| {
                    assert!(e.late < HANG);
                    calls.fetch_add(1, SeqCst);
                })
                .unwrap();
            let start = Instant::now();
            while calls.load(SeqCst) < 20 {
                std::thread::yield_now();
                assert!(start.elapsed() < HANG);
            }
            timer.cancel();
            let n = calls.load(SeqCst);
            std::thread::sleep(Duration::from_millis(10));
            assert_eq!(calls.load(SeqCst), n, "{wait:?}: called after cancel");
            assert_eq!(timer.stats().delivered, n, "{wait:?}");
            core.stop();
        });
    }
}

/// A function may cancel its own timer (without waiting for itself); it may not arm on its own
/// core, which would wait for itself.
#[test]
fn a_timer_function_may_cancel_but_not_arm_on_its_core() {
    let tt = TimerCore::builder().wait(Idle::Sleep).spawn().unwrap();
    let me: Arc<OnceLock<Timer<'static>>> = Arc::new(OnceLock::new());
    let calls = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let (m, c, r, core) = (
        me.clone(),
        calls.clone(),
        refused.clone(),
        tt.core().clone(),
    );
    let timer = tt
        .core()
        .arm_fn(Arm::Periodic(Duration::from_micros(300)), move |_| {
            // Calls before the test has stored the timer (a loaded machine can hold the test
            // thread past several periods) do not count: the third counted call cancels.
            let Some(t) = m.get() else {
                return;
            };
            if c.fetch_add(1, SeqCst) + 1 == 3 {
                t.cancel();
                let nested = core.arm_fn(Arm::OneShot(Duration::ZERO), |_| {});
                if nested.is_err_and(|e| e.kind() == ErrorKind::Unsupported) {
                    r.fetch_add(1, SeqCst);
                }
            }
        })
        .unwrap();
    let _ = me.set(timer);
    let start = Instant::now();
    while calls.load(SeqCst) < 3 {
        std::thread::yield_now();
        assert!(start.elapsed() < HANG);
    }
    std::thread::sleep(Duration::from_millis(10));
    assert_eq!(calls.load(SeqCst), 3, "the function cancelled itself");
    assert_eq!(refused.load(SeqCst), 1, "arming from a function is refused");
    let timer = me.get().unwrap();
    assert!(!timer.is_armed());
    // From outside, the timer can be re-armed.
    timer.rearm(Arm::OneShot(Duration::ZERO)).unwrap();
    let start = Instant::now();
    while calls.load(SeqCst) < 4 {
        std::thread::yield_now();
        assert!(start.elapsed() < HANG);
    }
}

/// Stopping a timer thread (dropping it) ends its timers: they stay disarmed and refuse to be
/// re-armed.
#[test]
fn timers_of_a_stopped_thread_stay_disarmed() {
    let mut t = Ticked::new(BackendKind::Poll);
    let timer = t.arm(
        Source::Thread(Idle::Sleep),
        Arm::Periodic(Duration::from_micros(300)),
    );
    t.wait_until("ticks", || t.count() >= 2);
    t.timer_thread = None; // stops and joins the thread
    nemo_user::poll();
    let n = t.count();
    t.let_in(Duration::from_millis(10));
    assert_eq!(t.count(), n);
    assert_eq!(
        timer
            .rearm(Arm::OneShot(Duration::ZERO))
            .map_err(|e| e.kind()),
        Err(ErrorKind::TimerStopped)
    );
    assert_eq!(timer.stats().delivered, n);
}

/// Stopping a core that is about to sleep (its last timer just released) must wake it: a stop
/// between its check of `stopped` and its sleep would otherwise be slept through. (The window
/// is a few instructions wide: this catches a regression only now and then.)
#[test]
fn stop_is_never_slept_through() {
    for wait in [Idle::Spin, Idle::Sleep] {
        for _ in 0..150 {
            let fired = Arc::new(AtomicU64::new(0));
            let f = fired.clone();
            let core = Arc::new(TimerCore::builder().wait(wait).build());
            let runner = core.clone();
            let (done_tx, done) = std::sync::mpsc::channel();
            let t = std::thread::spawn(move || {
                let _ = runner.run();
                let _ = done_tx.send(());
            });
            let timer = core
                .arm_fn(Arm::Periodic(Duration::from_micros(50)), move |_| {
                    f.fetch_add(1, SeqCst);
                })
                .unwrap();
            // The core is in its wait between deadlines.
            while fired.load(SeqCst) == 0 {
                std::hint::spin_loop();
            }
            drop(timer);
            core.stop();
            assert!(
                done.recv_timeout(Duration::from_secs(30)).is_ok(),
                "{wait:?}: the core slept through stop"
            );
            t.join().unwrap();
        }
    }
}
