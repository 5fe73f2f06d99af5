//! # Preemptive round-robin on one thread, switched by timer ticks
//!
//! Two busy loops — each a coroutine on its own stack — share one thread under a round-robin
//! scheduler. Neither ever yields on its own: a periodic timer tick ends each one's slice.
//!
//! The switch happens in the tick's *deferred* path, never in the interrupt handler: the handler
//! only sets a flag (on the `signal` backend it runs as a signal handler, where switching stacks
//! under the interrupted code would be unsafe); each loop checks the flag at a safepoint at its
//! back-edge — where a compiler would put a preemption check — and yields to the scheduler
//! there. On the `poll` backend the safepoint is also where the tick is delivered
//! (`nemo_user::poll()`).
//!
//! The context switch is [`corosensei`]'s: a few lines of audited assembly per architecture,
//! guard-paged stacks, and unwinding through suspended coroutines, all of which a hand-written
//! switch would have to re-do, in an example whose subject is the timer.
//!
//! ```text
//! cargo run --release -p nemo-user --example preempt -- [signal|poll|posix] [quantum_us] [slices]
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use corosensei::{Coroutine, CoroutineResult, Yielder};
use nemo_user::BackendKind;
use nemo_user::interrupt::Receiver;
use nemo_user::timer::{Arm, Idle, TickStats, Timer, TimerCore};

/// The vector the quantum ticks arrive on.
pub const TICK: u64 = 1;

/// How the ticks reach the scheduler's thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickPath {
    /// A timer thread sends them; the `signal` backend interrupts the running loop.
    SignalThread,
    /// A timer thread posts them; the loops' safepoints deliver them (`poll` backend).
    PollThread,
    /// A per-thread POSIX timer: the kernel signals the thread, no timer thread.
    SignalPosix,
}

impl TickPath {
    fn backend(self) -> BackendKind {
        match self {
            TickPath::PollThread => BackendKind::Poll,
            TickPath::SignalThread | TickPath::SignalPosix => BackendKind::Signal,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Slices each loop ran (times it was resumed and then preempted).
    pub slices: [u64; 2],
    /// Iterations of each loop's body.
    pub work: [u64; 2],
    /// Slices that ended without a tick: none, since the loops only yield on a tick.
    pub yields_without_tick: u64,
    /// The quantum timer's counts.
    pub ticks: TickStats,
}

/// A busy loop that yields only when `preempt` is set, checked at its back-edge; it returns
/// when `stop` is set.
fn busy_loop(
    yielder: &Yielder<(), bool>,
    preempt: &AtomicBool,
    stop: &AtomicBool,
    work: &AtomicU64,
    poll: bool,
) {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while !stop.load(Relaxed) {
        for _ in 0..64 {
            x = std::hint::black_box(x.rotate_left(7) ^ x.wrapping_mul(31));
        }
        work.fetch_add(1, Relaxed);
        // The safepoint.
        if poll {
            nemo_user::poll();
        }
        if preempt.swap(false, Relaxed) {
            yielder.suspend(true);
        }
    }
}

/// Runs the two loops round-robin with `quantum` ticks until each has had `slices` slices (or
/// `timeout` passed), and reports what happened.
pub fn run(
    path: TickPath,
    quantum: Duration,
    slices: u64,
    timeout: Duration,
) -> nemo_user::Result<Report> {
    let preempt = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let p = preempt.clone();
    let rx = Receiver::builder()
        .backend(path.backend())
        .register(move |v| {
            if v.get() as u64 == TICK {
                p.store(true, Relaxed);
            }
        })?;
    // The timer thread (if any) must outlive the timer.
    let timer_thread = match path {
        TickPath::SignalPosix => None,
        _ => Some(TimerCore::builder().wait(Idle::Sleep).spawn()?),
    };
    let timer: Timer<'static> = match &timer_thread {
        Some(t) => t.core().arm(&rx.endpoint(), TICK, Arm::Periodic(quantum))?,
        None => Timer::posix(&rx.endpoint(), TICK, Arm::Periodic(quantum))?,
    };

    let work: [Arc<AtomicU64>; 2] = Default::default();
    let poll = path.backend() == BackendKind::Poll;
    let mut tasks: Vec<Coroutine<(), bool, ()>> = work
        .iter()
        .map(|w| {
            let (p, s, w) = (preempt.clone(), stop.clone(), w.clone());
            Coroutine::new(move |y: &Yielder<(), bool>, ()| busy_loop(y, &p, &s, &w, poll))
        })
        .collect();

    let mut report = Report {
        slices: [0; 2],
        work: [0; 2],
        yields_without_tick: 0,
        ticks: TickStats::default(),
    };
    let start = Instant::now();
    while report.slices.iter().any(|&s| s < slices) && start.elapsed() < timeout {
        for (i, task) in tasks.iter_mut().enumerate() {
            match task.resume(()) {
                CoroutineResult::Yield(true) => report.slices[i] += 1,
                CoroutineResult::Yield(false) | CoroutineResult::Return(()) => {
                    report.yields_without_tick += 1
                }
            }
        }
    }
    timer.cancel();
    report.ticks = timer.stats();
    // Let both loops return, so their stacks unwind normally.
    stop.store(true, Relaxed);
    for task in &mut tasks {
        while !task.done() {
            let _ = task.resume(());
        }
    }
    report.work = [work[0].load(Relaxed), work[1].load(Relaxed)];
    drop(timer);
    drop(timer_thread);
    drop(rx);
    Ok(report)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = match args.next().as_deref() {
        None | Some("signal") => TickPath::SignalThread,
        Some("poll") => TickPath::PollThread,
        Some("posix") => TickPath::SignalPosix,
        Some(other) => {
            return Err(format!("unknown tick path {other:?}: signal, poll or posix").into());
        }
    };
    let quantum_us: u64 = args.next().map_or(Ok(1000), |a| a.parse())?;
    let slices: u64 = args.next().map_or(Ok(20), |a| a.parse())?;
    let r = run(
        path,
        Duration::from_micros(quantum_us),
        slices,
        Duration::from_secs(30),
    )?;
    println!("{path:?}, quantum {quantum_us} µs:");
    for i in 0..2 {
        println!(
            "  loop {i}: {} slices, {} iterations",
            r.slices[i], r.work[i]
        );
    }
    println!(
        "  ticks: {} delivered, {} coalesced",
        r.ticks.delivered, r.ticks.coalesced
    );
    Ok(())
}
