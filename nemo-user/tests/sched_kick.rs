//! `nemo_user::sched` parking and kicks: every unpark reaches its task exactly once across
//! workers, and a kick — not a tick — makes a busy worker switch to a latency-critical task.
#![cfg(feature = "sched")]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::sched::{self, Runtime, Unparker};

const BACKENDS: [BackendKind; 2] = [BackendKind::Poll, BackendKind::Signal];
const GIVE_UP: Duration = Duration::from_secs(20);

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < GIVE_UP, "gave up waiting for {what}");
        std::thread::yield_now();
    }
}

/// Per task: the round the notifier posted, the round the task saw, and how to wake it.
#[derive(Default)]
struct Mailbox {
    posted: AtomicU64,
    acked: AtomicU64,
    unparker: Mutex<Option<Unparker>>,
}

/// A task's side of the mailbox: publishes its unparker, then acks each round the notifier posts,
/// parking in between, until `rounds` are acked; returns how many wakeups brought a new round.
fn ack_rounds(mb: &Mailbox, rounds: u64) -> u64 {
    *mb.unparker.lock().unwrap() = sched::current_unparker();
    let mut wakeups_with_news = 0u64;
    loop {
        let posted = mb.posted.load(SeqCst);
        let acked = mb.acked.load(SeqCst);
        if posted > acked {
            // The notifier posts round r+1 only after seeing round r acked.
            assert_eq!(posted, acked + 1);
            mb.acked.store(posted, SeqCst);
            wakeups_with_news += 1;
        }
        if mb.acked.load(SeqCst) == rounds {
            return wakeups_with_news;
        }
        sched::park();
    }
}

/// Two notifier threads, each owning every other task of `boxes`: for each round, each waits for
/// its task's ack of the round before, posts the round and unparks the task.
fn spawn_notifiers(boxes: &Arc<Vec<Mailbox>>, rounds: u64) -> Vec<std::thread::JoinHandle<()>> {
    (0..2)
        .map(|half| {
            let boxes = Arc::clone(boxes);
            std::thread::spawn(move || {
                let mine: Vec<usize> = (half..boxes.len()).step_by(2).collect();
                let unparkers: Vec<Unparker> = mine
                    .iter()
                    .map(|&i| {
                        wait_for("an unparker", || {
                            boxes[i].unparker.lock().unwrap().is_some()
                        });
                        boxes[i].unparker.lock().unwrap().clone().unwrap()
                    })
                    .collect();
                for round in 1..=rounds {
                    for (&i, u) in mine.iter().zip(&unparkers) {
                        wait_for("an ack", || boxes[i].acked.load(SeqCst) == round - 1);
                        boxes[i].posted.store(round, SeqCst);
                        u.unpark();
                    }
                }
            })
        })
        .collect()
}

#[test]
fn every_unpark_reaches_its_task_exactly_once_across_workers() {
    const TASKS: usize = 48;
    const ROUNDS: u64 = 150;
    for backend in BACKENDS {
        let rt = Runtime::builder()
            .workers(2)
            .backend(backend)
            .quantum(Duration::from_micros(200))
            .build()
            .expect("runtime");
        let boxes: Arc<Vec<Mailbox>> = Arc::new((0..TASKS).map(|_| Mailbox::default()).collect());
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let boxes = Arc::clone(&boxes);
                rt.spawn(move || ack_rounds(&boxes[i], ROUNDS))
            })
            .collect();
        // Two notifier threads, each owning half of the tasks.
        let notifiers = spawn_notifiers(&boxes, ROUNDS);
        for n in notifiers {
            n.join().expect("notifier");
        }
        for t in tasks {
            assert_eq!(t.join().expect("task"), ROUNDS, "{backend:?}");
        }
        let acked: u64 = boxes.iter().map(|b| b.acked.load(SeqCst)).sum();
        assert_eq!(acked, TASKS as u64 * ROUNDS, "{backend:?}");
        let stats = rt.stats();
        assert_eq!(stats.iter().map(|s| s.started).sum::<u64>(), TASKS as u64);
        assert_eq!(
            stats.iter().map(|s| s.kicks).sum::<u64>(),
            0,
            "no task was critical"
        );
        rt.shutdown();
    }
}

/// One worker kept busy by two tasks that only reach safepoints, while latency-critical and
/// ordinary tasks of the same worker are unparked round after round from two threads and new
/// tasks are spawned: the kick's switch (a preempted task requeued, the woken one resumed at
/// once) loses no wakeup, runs no task twice, and leaves no busy or spawned task behind.
#[test]
fn kicked_switches_under_busy_tasks_lose_no_wakeup_and_no_task() {
    const CRITICAL: usize = 6;
    const ORDINARY: usize = 3;
    const TASKS: usize = CRITICAL + ORDINARY;
    const ROUNDS: u64 = 200;
    const SPAWNED: u64 = 40;
    for backend in BACKENDS {
        let rt = Runtime::builder()
            .workers(1)
            .backend(backend)
            .quantum(Duration::from_micros(50))
            .build()
            .expect("runtime");
        let boxes: Arc<Vec<Mailbox>> = Arc::new((0..TASKS).map(|_| Mailbox::default()).collect());
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..TASKS)
            .map(|i| {
                let boxes = Arc::clone(&boxes);
                rt.spawn(move || {
                    sched::set_latency_critical(i < CRITICAL);
                    ack_rounds(&boxes[i], ROUNDS)
                })
            })
            .collect();
        let busy: Vec<_> = (0..2)
            .map(|_| {
                let stop = Arc::clone(&stop);
                rt.spawn(move || {
                    let (mut x, mut chunks) = (1u64, 0u64);
                    while !stop.load(SeqCst) {
                        for _ in 0..100 {
                            x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
                        }
                        chunks += 1;
                        sched::safepoint();
                    }
                    chunks
                })
            })
            .collect();
        let notifiers = spawn_notifiers(&boxes, ROUNDS);
        // Spawned while kicks switch the worker: each is admitted by some later requeue or pick.
        let spawned: Vec<_> = (0..SPAWNED)
            .map(|k| {
                std::thread::sleep(Duration::from_micros(200));
                rt.spawn(move || k * 3)
            })
            .collect();
        for n in notifiers {
            n.join().expect("notifier");
        }
        for t in tasks {
            assert_eq!(t.join().expect("task"), ROUNDS, "{backend:?}");
        }
        let spawned_sum: u64 = spawned
            .into_iter()
            .map(|t| t.join().expect("spawned"))
            .sum();
        assert_eq!(spawned_sum, 3 * (0..SPAWNED).sum::<u64>(), "{backend:?}");
        stop.store(true, SeqCst);
        for b in busy {
            assert!(b.join().expect("busy task") > 0, "{backend:?}");
        }
        let acked: u64 = boxes.iter().map(|b| b.acked.load(SeqCst)).sum();
        assert_eq!(acked, TASKS as u64 * ROUNDS, "{backend:?}");
        let all = (TASKS + 2) as u64 + SPAWNED;
        // A join returns once the task's result is in; the worker counts it right after.
        wait_for("the last completion", || rt.stats()[0].completed == all);
        let stats = rt.stats()[0];
        assert_eq!(stats.started, all, "{backend:?}");
        assert!(stats.kicks >= 1, "{backend:?}: {stats:?}");
        assert!(stats.preemptions >= 1, "{backend:?}: {stats:?}");
        rt.shutdown();
    }
}

/// One worker, no quantum ticks: task C parks, task A keeps the worker busy, and another thread
/// unparks C. Returns whether C ran while A was still busy (within `busy_for` of the unpark),
/// and the worker's stats.
fn unpark_while_busy(
    backend: BackendKind,
    critical: bool,
    busy_for: Duration,
) -> (bool, sched::WorkerStats) {
    let rt = Runtime::builder()
        .workers(1)
        .backend(backend)
        .quantum(Duration::ZERO)
        .build()
        .expect("runtime");
    let unparker = Arc::new(Mutex::new(None));
    let (go, c_ran, a_busy) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let c = {
        let (unparker, go, c_ran) = (Arc::clone(&unparker), Arc::clone(&go), Arc::clone(&c_ran));
        rt.spawn(move || {
            sched::set_latency_critical(critical);
            *unparker.lock().unwrap() = sched::current_unparker();
            while !go.load(SeqCst) {
                sched::park();
            }
            c_ran.store(true, SeqCst);
        })
    };
    let a = {
        let (c_ran, a_busy) = (Arc::clone(&c_ran), Arc::clone(&a_busy));
        rt.spawn(move || {
            a_busy.store(true, SeqCst);
            let mut x = 1u64;
            let mut unparked_at = None;
            loop {
                for _ in 0..200 {
                    x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
                }
                sched::safepoint();
                if c_ran.load(SeqCst) {
                    return true;
                }
                // `go` is set just before the unpark; time from when A sees it.
                let since = *unparked_at.get_or_insert_with(Instant::now);
                if since.elapsed() > busy_for {
                    return false;
                }
            }
        })
    };
    wait_for("A to run", || a_busy.load(SeqCst));
    wait_for("C's unparker", || unparker.lock().unwrap().is_some());
    go.store(true, SeqCst);
    unparker.lock().unwrap().as_ref().unwrap().unpark();
    let c_ran_while_a_busy = a.join().expect("task A");
    c.join().expect("task C");
    assert!(c_ran.load(SeqCst));
    (c_ran_while_a_busy, rt.stats()[0])
}

#[test]
fn a_kick_switches_a_busy_worker_to_a_latency_critical_task() {
    for backend in BACKENDS {
        let (c_ran, stats) = unpark_while_busy(backend, true, GIVE_UP);
        assert!(
            c_ran,
            "{backend:?}: the critical task waited for the busy one"
        );
        assert_eq!(stats.ticks, 0, "{backend:?}: quantum zero, yet ticks");
        assert!(stats.kicks >= 1, "{backend:?}: {stats:?}");
        assert!(stats.preemptions >= 1, "{backend:?}: {stats:?}");
    }
}

#[test]
fn without_a_kick_an_unparked_task_waits_for_the_running_one() {
    for backend in BACKENDS {
        let (c_ran, stats) = unpark_while_busy(backend, false, Duration::from_millis(30));
        assert!(!c_ran, "{backend:?}: switched without a tick or a kick");
        assert_eq!((stats.kicks, stats.preemptions), (0, 0), "{backend:?}");
    }
}

#[test]
fn park_outside_a_task_returns() {
    assert!(sched::current_unparker().is_none());
    sched::park();
    sched::set_latency_critical(true);
}
