//! Every misuse is a typed error, never a panic or a silent timer that never fires.

mod timer_support;

use std::sync::Arc;
use std::time::Duration;

use nemo_user::interrupt::{Endpoint, Receiver};
use nemo_user::timer::{Arm, Idle, Timer, TimerCore};
use nemo_user::{BackendKind, Error, ErrorKind};
use timer_support::{Source, TICK, Ticked};

const ZERO: Duration = Duration::ZERO;

/// An error as these tests compare it: its kind and its whole message.
fn said(e: Error) -> (ErrorKind, String) {
    (e.kind(), e.to_string())
}

fn invalid_period(d: Duration) -> (ErrorKind, String) {
    (
        ErrorKind::InvalidArgument,
        format!("invalid timer period or delay {d:?} (a period must be non-zero)"),
    )
}

fn out_of_range(v: u64) -> (ErrorKind, String) {
    (
        ErrorKind::InvalidArgument,
        format!("user-interrupt vector {v} is out of range (valid: 0..64)"),
    )
}

fn not_enabled(v: u64) -> (ErrorKind, String) {
    (
        ErrorKind::InvalidArgument,
        format!("vector {v} is not enabled on this receiver"),
    )
}

#[test]
fn a_zero_period_is_refused_everywhere() {
    let tt = TimerCore::builder().wait(Idle::Sleep).spawn().unwrap();
    let rx = Receiver::builder()
        .backend(BackendKind::Signal)
        .register(|_| {})
        .unwrap();
    let ep = rx.endpoint();
    assert_eq!(
        said(tt.core().arm(&ep, TICK, Arm::Periodic(ZERO)).unwrap_err()),
        invalid_period(ZERO)
    );
    assert_eq!(
        said(tt.core().arm_fn(Arm::Periodic(ZERO), |_| {}).unwrap_err()),
        invalid_period(ZERO)
    );
    assert_eq!(
        said(Timer::posix(&ep, TICK, Arm::Periodic(ZERO)).unwrap_err()),
        invalid_period(ZERO)
    );
    assert_eq!(
        Timer::posix(&ep, TICK, Arm::Periodic(ZERO))
            .unwrap_err()
            .errno(),
        libc::EINVAL
    );
    for timer in [
        tt.core()
            .arm(&ep, TICK, Arm::OneShot(Duration::from_secs(60)))
            .unwrap(),
        Timer::posix(&ep, TICK, Arm::OneShot(Duration::from_secs(60))).unwrap(),
    ] {
        assert_eq!(
            timer.set_period(ZERO).map_err(said),
            Err(invalid_period(ZERO))
        );
        assert_eq!(
            timer.rearm(Arm::Periodic(ZERO)).map_err(said),
            Err(invalid_period(ZERO))
        );
        assert_eq!(
            timer.rearm(Arm::OneShot(Duration::MAX)).map_err(said),
            Err(invalid_period(Duration::MAX))
        );
        assert!(
            timer.is_armed(),
            "a refused re-arm leaves the timer as it was"
        );
    }
}

#[test]
fn vectors_must_be_in_range_and_enabled() {
    let tt = TimerCore::builder().wait(Idle::Sleep).spawn().unwrap();
    let rx = Receiver::builder()
        .backend(BackendKind::Signal)
        .vectors(1 << 3)
        .register(|_| {})
        .unwrap();
    let ep = rx.endpoint();
    let arm = Arm::Periodic(Duration::from_millis(1));
    assert_eq!(
        said(tt.core().arm(&ep, 64, arm).unwrap_err()),
        out_of_range(64)
    );
    assert_eq!(
        said(Timer::posix(&ep, 64, arm).unwrap_err()),
        out_of_range(64)
    );
    assert_eq!(
        tt.core().arm(&ep, 4, arm).err().map(said),
        Some(not_enabled(4))
    );
    assert_eq!(
        Timer::posix(&ep, 4, arm).err().map(said),
        Some(not_enabled(4))
    );
    assert!(tt.core().arm(&ep, 3, arm).is_ok());
}

/// An endpoint of a receiver on a thread that has exited.
fn dead_endpoint(backend: BackendKind) -> Endpoint {
    std::thread::spawn(move || {
        let rx = Receiver::builder()
            .backend(backend)
            .register(|_| {})
            .unwrap();
        rx.endpoint()
    })
    .join()
    .unwrap()
}

#[test]
fn a_dead_receiver_is_refused() {
    let tt = TimerCore::builder().wait(Idle::Sleep).spawn().unwrap();
    let arm = Arm::Periodic(Duration::from_millis(1));
    for backend in [BackendKind::Signal, BackendKind::Poll] {
        let ep = dead_endpoint(backend);
        assert_eq!(
            tt.core().arm(&ep, TICK, arm).unwrap_err().kind(),
            ErrorKind::ReceiverGone
        );
    }
    let ep = dead_endpoint(BackendKind::Signal);
    assert_eq!(
        Timer::posix(&ep, TICK, arm).unwrap_err().kind(),
        ErrorKind::ReceiverGone
    );
}

/// A receiver that goes away while its timer is armed: the timer disarms and refuses to be
/// re-armed.
#[test]
fn a_receiver_dropped_under_an_armed_timer() {
    for source in Source::all_for(BackendKind::Signal) {
        let mut t = Ticked::new(BackendKind::Signal);
        let timer = t.arm(source, Arm::Periodic(Duration::from_micros(300)));
        t.wait_until("ticks", || t.count() >= 2);
        let Ticked {
            rx, timer_thread, ..
        } = t;
        drop(rx);
        assert!(!timer.is_armed(), "{source:?}");
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            timer
                .rearm(Arm::Periodic(Duration::from_millis(1)))
                .map_err(|e| e.kind()),
            Err(ErrorKind::ReceiverGone),
            "{source:?}"
        );
        assert_eq!(
            timer
                .set_period(Duration::from_millis(1))
                .map_err(|e| e.kind()),
            Err(ErrorKind::ReceiverGone)
        );
        drop(timer);
        drop(timer_thread);
    }
}

#[test]
fn posix_timers_need_the_signal_backend() {
    let rx = Receiver::builder()
        .backend(BackendKind::Poll)
        .register(|_| {})
        .unwrap();
    let e = Timer::posix(
        &rx.endpoint(),
        TICK,
        Arm::Periodic(Duration::from_millis(1)),
    )
    .unwrap_err();
    assert!(
        e.kind() == ErrorKind::Unsupported && e.to_string().contains("poll"),
        "{e}"
    );
    assert_eq!(e.errno(), libc::ENOTSUP);
}

#[test]
fn a_core_runs_on_one_thread_at_a_time() {
    // A timer function borrows this: it lives longer than the core.
    let ran = std::sync::atomic::AtomicBool::new(false);
    let core = Arc::new(TimerCore::builder().wait(Idle::Sleep).build());
    std::thread::scope(|s| {
        s.spawn(|| core.run().unwrap());
        // Idle until it runs: a timer function proves it.
        let t = core
            .arm_fn(Arm::OneShot(ZERO), |_| {
                ran.store(true, std::sync::atomic::Ordering::SeqCst)
            })
            .unwrap();
        while !ran.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::yield_now();
        }
        assert_eq!(
            core.run().map_err(said),
            Err((
                ErrorKind::Unsupported,
                "unsupported timer operation: this timer core is already running on another \
                 thread"
                    .to_string()
            ))
        );
        drop(t);
        core.stop();
    });
    assert_eq!(
        core.run().map_err(|e| e.kind()),
        Err(ErrorKind::TimerStopped)
    );
}
