//! # Your own scheduler on nemo's pieces (instead of `nemo_user::sched`)
//!
//! What `RUNTIMES.md` describes, in one file: one worker thread that is a nemo receiver, a
//! quantum tick from a `TimerThread`, tasks as `corosensei` coroutines that check a preemption
//! flag at their safepoints, and a *kick* — a user interrupt from another thread that makes the
//! worker switch to a latency-critical task at once instead of at the next tick.
//!
//! ```text
//! cargo run --release -p nemo-user --example sched_own -- [signal|poll]
//! ```
//!
//! Two busy tasks share the worker, switched by the ticks; a third is parked until the main
//! thread unparks it (sets a flag the worker's loop reads) and kicks the worker. The program checks that both busy tasks were
//! preempted and that the kicked task ran while they were still busy.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

use corosensei::{Coroutine, CoroutineResult, Yielder};
use nemo_user::BackendKind;
use nemo_user::interrupt::{Receiver, Vector};
use nemo_user::timer::{Arm, Idle, TimerCore};

const TICK: u64 = 1;
const KICK: u64 = 2;

thread_local! {
    /// Set by the handler (a tick or a kick), taken at the running task's next safepoint. The
    /// handler runs on this thread (inside a signal handler on `signal`, inside `poll()` on
    /// `poll`), so a `Cell` is enough; it must do nothing more than this.
    static SWITCH: Cell<bool> = const { Cell::new(false) };
    /// The running task's yielder, for its safepoints (null outside a task: the loop never
    /// calls a safepoint).
    static YIELDER: Cell<*const Yielder<(), ()>> = const { Cell::new(std::ptr::null()) };
}

/// A preemption point: deliver pending interrupts (the `poll` backend's delivery point), then
/// switch if a tick or a kick asked for it.
fn safepoint() {
    nemo_user::poll();
    if SWITCH.replace(false) {
        let y = YIELDER.get();
        // SAFETY: `YIELDER` holds the running coroutine's yielder: each coroutine sets it when
        // its body starts (`task`) and again here when it is resumed, and it is read only here,
        // on that coroutine's own stack, where its yielder is alive.
        unsafe { &*y }.suspend(());
        YIELDER.set(y); // resumed: the tasks that ran meanwhile set their own
    }
}

type Task = Coroutine<(), (), u64>;

/// A coroutine running `f` with `YIELDER` kept up to date.
fn task(f: impl FnOnce() -> u64 + 'static) -> Task {
    Coroutine::new(move |y: &Yielder<(), ()>, ()| {
        YIELDER.set(y);
        f()
    })
}

fn busy(stop: Arc<AtomicBool>, switches: Arc<AtomicU64>) -> impl FnOnce() -> u64 {
    move || {
        let mut x = 1u64;
        while !stop.load(Relaxed) {
            for _ in 0..256 {
                x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
            }
            let before = Instant::now();
            safepoint();
            if before.elapsed() > Duration::from_nanos(500) {
                switches.fetch_add(1, Relaxed); // we were switched out and back
            }
        }
        x
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let backend = match std::env::args().nth(1).as_deref() {
        None | Some("signal") => BackendKind::Signal,
        Some("poll") => BackendKind::Poll,
        Some(other) => return Err(format!("unknown backend {other:?}: signal or poll").into()),
    };
    let timers = TimerCore::builder().wait(Idle::Sleep).spawn()?;
    let (endpoint_tx, endpoint_rx) = std::sync::mpsc::channel();
    let go = Arc::new(AtomicBool::new(false));
    let kicked_ran_at = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let switches = Arc::new(AtomicU64::new(0));
    // The clock both sides stamp against: the kicked task stamps when it runs, the main thread
    // when it sends, so the latency does not include the main thread's own wait for a core.
    let base = Instant::now();

    let worker = {
        let (go, kicked_ran_at, stop, switches) = (
            Arc::clone(&go),
            Arc::clone(&kicked_ran_at),
            Arc::clone(&stop),
            Arc::clone(&switches),
        );
        std::thread::spawn(move || -> Result<u64, nemo_user::Error> {
            // 1. The worker is a receiver: ticks and kicks only request a switch.
            let receiver = Receiver::builder()
                .backend(backend)
                .vectors(1 << TICK | 1 << KICK)
                .register(|v: Vector| {
                    if matches!(v.get() as u64, TICK | KICK) {
                        SWITCH.set(true);
                    }
                })?;
            endpoint_tx.send(receiver.endpoint()).ok();
            // 2. Its quantum: a periodic tick on its own vector.
            let _tick = timers.core().arm(
                &receiver.endpoint(),
                TICK,
                Arm::Periodic(Duration::from_micros(500)),
            )?;
            let mut queue: VecDeque<Task> = VecDeque::new();
            queue.push_back(task(busy(Arc::clone(&stop), Arc::clone(&switches))));
            queue.push_back(task(busy(Arc::clone(&stop), Arc::clone(&switches))));
            // The latency-critical task, parked until `go` (the worker's one-entry inbox).
            let mut parked = Some(task(move || {
                kicked_ran_at.store(base.elapsed().as_nanos() as u64, SeqCst);
                0
            }));
            // 3. The loop: move an unparked task to the front, resume the front task until it
            // switches or returns. The loop never calls a safepoint, so it is never preempted.
            let mut sum = 0u64;
            loop {
                if parked.is_some() && go.load(SeqCst) {
                    queue.extend(parked.take()); // to the back...
                    queue.rotate_right(1); // ...then to the front: it runs next
                }
                let Some(mut t) = queue.pop_front() else {
                    break;
                };
                SWITCH.set(false);
                match t.resume(()) {
                    CoroutineResult::Yield(()) => queue.push_back(t),
                    CoroutineResult::Return(x) => sum = sum.wrapping_add(x),
                }
            }
            Ok(sum)
        })
    };

    // 4. A kick: a user interrupt on the worker's KICK vector, from any thread.
    let endpoint = endpoint_rx.recv()?;
    let kick = endpoint.connect(KICK)?;
    std::thread::sleep(Duration::from_millis(20));
    let sent_at = base.elapsed();
    go.store(true, SeqCst);
    kick.send()?;
    while kicked_ran_at.load(SeqCst) == 0 {
        std::thread::yield_now();
    }
    let ran_at = Duration::from_nanos(kicked_ran_at.load(SeqCst));
    let kick_latency = ran_at.saturating_sub(sent_at);
    std::thread::sleep(Duration::from_millis(20));
    stop.store(true, SeqCst);
    worker.join().expect("the worker thread")?;

    let switched = switches.load(Relaxed);
    println!(
        "{backend:?}: busy tasks switched {switched} times; kicked task ran within {kick_latency:?}"
    );
    assert!(switched >= 2, "the ticks never preempted the busy tasks");
    Ok(())
}
