//! Helpers shared by the timer tests: a receiver that counts ticks, the timer sources, and
//! bounded waits. No timing assertions: waits have a hang guard, and counts are checked against
//! bounds that hold however slow the machine is.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::interrupt::Receiver;
use nemo_user::timer::{Arm, Idle, Timer, TimerCore, TimerThread};

/// The vector ticks arrive on.
pub const TICK: u64 = 9;

/// A hang guard for broken delivery, not a timing assertion.
pub const HANG: Duration = Duration::from_secs(60);

/// Where ticks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Thread(Idle),
    Posix,
}

impl Source {
    /// Every source that can serve `backend`.
    pub fn all_for(backend: BackendKind) -> Vec<Source> {
        let mut v = vec![
            Source::Thread(Idle::Sleep),
            Source::Thread(Idle::Spin),
            Source::Thread(Idle::Pause),
        ];
        if backend == BackendKind::Signal {
            v.push(Source::Posix);
        }
        v
    }
}

/// A receiver on the calling thread whose handler counts ticks, with the timer source (the
/// timer thread is kept alive as long as this).
pub struct Ticked {
    pub backend: BackendKind,
    pub ticks: Arc<AtomicU64>,
    pub rx: Receiver,
    pub timer_thread: Option<TimerThread>,
}

impl Ticked {
    pub fn new(backend: BackendKind) -> Ticked {
        let ticks = Arc::new(AtomicU64::new(0));
        let t = ticks.clone();
        let rx = Receiver::builder()
            .backend(backend)
            .register(move |v| {
                if v.get() as u64 == TICK {
                    t.fetch_add(1, SeqCst);
                }
            })
            .expect("register");
        Ticked {
            backend,
            ticks,
            rx,
            timer_thread: None,
        }
    }

    /// Arms a timer of `source` on [`TICK`].
    pub fn arm(&mut self, source: Source, arm: Arm) -> Timer<'static> {
        match source {
            Source::Thread(wait) => {
                let tt = self.timer_thread.get_or_insert_with(|| {
                    TimerCore::builder()
                        .wait(wait)
                        .spawn()
                        .expect("timer thread")
                });
                tt.core().arm(&self.rx.endpoint(), TICK, arm).expect("arm")
            }
            Source::Posix => Timer::posix(&self.rx.endpoint(), TICK, arm).expect("posix timer"),
        }
    }

    pub fn count(&self) -> u64 {
        self.ticks.load(SeqCst)
    }

    /// Lets ticks in (a safepoint on `poll`; on `signal` the signal interrupts the wait)
    /// until `cond` holds. Panics after [`HANG`].
    pub fn wait_until(&self, what: &str, cond: impl Fn() -> bool) {
        let start = Instant::now();
        while !cond() {
            nemo_user::poll();
            std::thread::yield_now();
            assert!(start.elapsed() < HANG, "hung waiting for {what}");
        }
    }

    /// Lets ticks in for `d`.
    pub fn let_in(&self, d: Duration) {
        let end = Instant::now() + d;
        while Instant::now() < end {
            nemo_user::poll();
            std::thread::yield_now();
        }
    }
}
