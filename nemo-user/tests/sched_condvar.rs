//! `nemo_user::sched` tasks waiting on nemo's `Condvar` and `Event`: the wait suspends the task,
//! not its worker; every notification reaches exactly one waiter, whether waiters and notifiers
//! are tasks or plain threads; a notify kicks a busy worker over to a latency-critical waiter —
//! on the `poll` and `signal` backends.
#![cfg(feature = "sched")]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::condvar::Condvar;
use nemo_user::event::Event;
use nemo_user::interrupt::Guard;
use nemo_user::sched::{self, Runtime};
use nemo_user::wake::InterruptPark;

const BACKENDS: [BackendKind; 2] = [BackendKind::Poll, BackendKind::Signal];

/// Long enough for a loaded 2-core machine; a correct run ends far sooner.
const GIVE_UP: Duration = Duration::from_secs(30);

fn runtime(backend: BackendKind, workers: usize, quantum: Duration) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .backend(backend)
        .quantum(quantum)
        .build()
        .expect("runtime")
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < GIVE_UP, "gave up waiting for {what}");
        std::thread::yield_now();
    }
}

/// A little work that the optimiser cannot drop.
fn spin(n: u32) {
    let mut x = 1u64;
    for _ in 0..n {
        x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
    }
}

/// Permits handed from producers to consumers through a mutex and a condvar.
struct Permits {
    count: Mutex<u64>,
    cv: Condvar,
}

impl Permits {
    fn take(&self) {
        let g = self.count.lock().unwrap();
        let mut g = self.cv.wait_while(g, &self.count, |n| *n == 0).unwrap();
        *g -= 1;
    }

    fn give(&self) {
        *self.count.lock().unwrap() += 1;
        self.cv.notify_one();
    }
}

/// Consumer tasks on two workers take every permit that task and thread producers give: none
/// lost (every consumer finishes), none taken twice (the count never goes below zero and ends
/// at zero).
fn permits_reach_tasks_exactly_once(backend: BackendKind, cv: Condvar) {
    const CONSUMERS: usize = 64;
    const EACH: u64 = 240;
    const PRODUCER_TASKS: u64 = 4;
    const PRODUCER_THREADS: u64 = 2;
    const TOTAL: u64 = CONSUMERS as u64 * EACH;
    const PER_PRODUCER: u64 = TOTAL / (PRODUCER_TASKS + PRODUCER_THREADS);
    const _: () = assert!(TOTAL.is_multiple_of(PRODUCER_TASKS + PRODUCER_THREADS));

    let rt = runtime(backend, 2, Duration::from_micros(100));
    let permits = Arc::new(Permits {
        count: Mutex::new(0),
        cv,
    });
    let done = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let (permits, done) = (Arc::clone(&permits), Arc::clone(&done));
            rt.spawn(move || {
                for _ in 0..EACH {
                    permits.take();
                }
                done.fetch_add(1, SeqCst);
                EACH
            })
        })
        .collect();
    let task_producers: Vec<_> = (0..PRODUCER_TASKS)
        .map(|_| {
            let permits = Arc::clone(&permits);
            rt.spawn(move || {
                for i in 0..PER_PRODUCER {
                    permits.give();
                    if i % 8 == 0 {
                        sched::yield_now();
                    }
                }
            })
        })
        .collect();
    let thread_producers: Vec<_> = (0..PRODUCER_THREADS)
        .map(|_| {
            let permits = Arc::clone(&permits);
            std::thread::spawn(move || {
                for i in 0..PER_PRODUCER {
                    permits.give();
                    if i % 16 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    wait_for("every consumer to take its permits", || {
        done.load(SeqCst) == CONSUMERS
    });
    let taken: u64 = consumers.into_iter().map(|c| c.join().unwrap()).sum();
    task_producers.into_iter().for_each(|p| p.join().unwrap());
    thread_producers.into_iter().for_each(|p| p.join().unwrap());
    assert_eq!(taken, TOTAL, "{backend:?}");
    assert_eq!(*permits.count.lock().unwrap(), 0, "{backend:?}");
    let stats = rt.stats();
    assert_eq!(
        stats.iter().map(|s| s.completed).sum::<u64>(),
        CONSUMERS as u64 + PRODUCER_TASKS,
        "{backend:?}: {stats:?}"
    );
    rt.shutdown();
}

#[test]
fn tasks_waiting_on_a_condvar_take_every_permit_exactly_once() {
    for backend in BACKENDS {
        permits_reach_tasks_exactly_once(backend, Condvar::new());
    }
}

#[test]
fn tasks_waiting_on_an_interrupt_park_condvar_take_every_permit_exactly_once() {
    // The condvar's interrupt rung is for threads; tasks on it park as tasks all the same.
    for backend in BACKENDS {
        permits_reach_tasks_exactly_once(
            backend,
            Condvar::new().with_interrupt_park(InterruptPark::with_backend(BackendKind::Signal)),
        );
    }
}

/// Task and thread waiters on one condvar: `notify_one` wakes exactly one of them per call (no
/// more, none spurious), `notify_all` the rest.
#[test]
fn notify_one_wakes_exactly_one_waiter_among_tasks_and_threads() {
    const TASKS: usize = 12;
    const THREADS: usize = 4;
    const ONES: usize = 7;
    for backend in BACKENDS {
        let rt = runtime(backend, 2, Duration::from_micros(200));
        let shared = Arc::new((
            Mutex::new(0usize),
            Condvar::new().with_interrupt_park(InterruptPark::with_backend(BackendKind::Signal)),
            AtomicUsize::new(0),
        ));
        // Each waiter waits once: it returns only on a notification meant for it.
        let wait_once = {
            let shared = Arc::clone(&shared);
            move || {
                let (m, cv, woken) = &*shared;
                let mut g = m.lock().unwrap();
                *g += 1;
                let _g = cv.wait(g, m).unwrap();
                woken.fetch_add(1, SeqCst);
            }
        };
        let tasks: Vec<_> = (0..TASKS).map(|_| rt.spawn(wait_once.clone())).collect();
        let threads: Vec<_> = (0..THREADS)
            .map(|_| std::thread::spawn(wait_once.clone()))
            .collect();
        let (m, cv, woken) = &*shared;
        // A waiter counted under the mutex has joined the condvar before it released it.
        wait_for("every waiter to wait", || {
            *m.lock().unwrap() == TASKS + THREADS
        });
        for k in 1..=ONES {
            let g = m.lock().unwrap();
            assert!(cv.notify_one(), "{backend:?}: notify_one #{k} found nobody");
            drop(g);
            wait_for("the notified waiter", || woken.load(SeqCst) >= k);
        }
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(
            woken.load(SeqCst),
            ONES,
            "{backend:?}: a wait ended unnotified"
        );
        let g = m.lock().unwrap();
        assert_eq!(cv.notify_all(), TASKS + THREADS - ONES, "{backend:?}");
        drop(g);
        tasks.into_iter().for_each(|t| t.join().unwrap());
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(woken.load(SeqCst), TASKS + THREADS, "{backend:?}");
        rt.shutdown();
    }
}

/// Idle-worker style: tasks wait on an `Event` for items of a queue that tasks and threads
/// push; every item is popped exactly once.
#[test]
fn tasks_waiting_on_an_event_pop_every_item_exactly_once() {
    const WAITERS: usize = 16;
    const ITEMS_PER_PUSHER: u64 = 5_000;
    const PUSHERS: u64 = 4; // two tasks, two threads
    for backend in BACKENDS {
        let rt = runtime(backend, 2, Duration::from_micros(100));
        let queue = Arc::new((Mutex::new(VecDeque::new()), Event::new()));
        let popped = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let waiters: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (queue, popped, stop) =
                    (Arc::clone(&queue), Arc::clone(&popped), Arc::clone(&stop));
                rt.spawn(move || {
                    let (items, ready) = &*queue;
                    let mut sum = 0u64;
                    loop {
                        ready.wait_while(|| items.lock().unwrap().is_empty() && !stop.load(SeqCst));
                        match items.lock().unwrap().pop_front() {
                            Some(x) => {
                                sum += x;
                                popped.fetch_add(1, SeqCst);
                            }
                            None if stop.load(SeqCst) => return sum,
                            None => {}
                        }
                    }
                })
            })
            .collect();
        let push = {
            let queue = Arc::clone(&queue);
            move |first: u64| {
                let (items, ready) = &*queue;
                for x in first..first + ITEMS_PER_PUSHER {
                    items.lock().unwrap().push_back(x);
                    ready.notify_one();
                }
            }
        };
        let task_pushers: Vec<_> = (0..2)
            .map(|p| {
                let push = push.clone();
                rt.spawn(move || push(p * ITEMS_PER_PUSHER))
            })
            .collect();
        let thread_pushers: Vec<_> = (2..PUSHERS)
            .map(|p| {
                let push = push.clone();
                std::thread::spawn(move || push(p * ITEMS_PER_PUSHER))
            })
            .collect();
        let total = PUSHERS * ITEMS_PER_PUSHER;
        wait_for("every item to be popped", || popped.load(SeqCst) == total);
        task_pushers.into_iter().for_each(|p| p.join().unwrap());
        thread_pushers.into_iter().for_each(|p| p.join().unwrap());
        stop.store(true, SeqCst);
        queue.1.notify_all();
        let sum: u64 = waiters.into_iter().map(|w| w.join().unwrap()).sum();
        assert_eq!(sum, (0..total).sum::<u64>(), "{backend:?}");
        assert_eq!(popped.load(SeqCst), total, "{backend:?}");
        rt.shutdown();
    }
}

/// On one worker: a task waiting on a condvar does not hold the worker (the notifier is another
/// task of the same worker), and a task may join another that has not started yet.
#[test]
fn a_waiting_task_gives_its_worker_to_the_task_that_notifies_it() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::ZERO);
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let waiter = {
            let pair = Arc::clone(&pair);
            rt.spawn(move || {
                let (m, cv) = &*pair;
                let _g = cv
                    .wait_while(m.lock().unwrap(), m, |ready| !*ready)
                    .unwrap();
                "woken"
            })
        };
        let notifier = {
            let pair = Arc::clone(&pair);
            rt.spawn(move || {
                let (m, cv) = &*pair;
                *m.lock().unwrap() = true;
                cv.notify_one();
            })
        };
        let joiner = rt.spawn(move || {
            // Spawned last, on the only worker: joins tasks that may not have run yet.
            notifier.join().unwrap();
            waiter.join().unwrap()
        });
        assert_eq!(joiner.join().unwrap(), "woken", "{backend:?}");
        rt.shutdown();
    }
}

#[test]
fn a_timed_wait_in_a_task_times_out_or_is_woken() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::from_micros(200));
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let timed_out = {
            let pair = Arc::clone(&pair);
            rt.spawn(move || {
                let (m, cv) = &*pair;
                let start = Instant::now();
                let (_g, r) = cv
                    .wait_timeout(m.lock().unwrap(), m, Duration::from_millis(5))
                    .unwrap();
                (r.timed_out(), start.elapsed())
            })
        };
        let (t, took) = timed_out.join().unwrap();
        assert!(t, "{backend:?}");
        assert!(took >= Duration::from_millis(5), "{backend:?}: {took:?}");
        let woken = {
            let pair = Arc::clone(&pair);
            rt.spawn(move || {
                let (m, cv) = &*pair;
                let (g, r) = cv
                    .wait_timeout_while(m.lock().unwrap(), m, GIVE_UP, |ready| !*ready)
                    .unwrap();
                (*g, r.timed_out())
            })
        };
        std::thread::sleep(Duration::from_millis(2));
        *pair.0.lock().unwrap() = true;
        pair.1.notify_all();
        assert_eq!(woken.join().unwrap(), (true, false), "{backend:?}");
        rt.shutdown();
    }
}

/// One worker, no quantum ticks: a long task runs with safepoints while a latency-critical task
/// waits on a condvar. A notify from a thread kicks the worker, which runs the waiter before
/// the long task ends; without the mark it waits for the long task.
fn notify_while_busy(backend: BackendKind, critical: bool, busy_for: Duration) -> (bool, u64) {
    let rt = runtime(backend, 1, Duration::ZERO);
    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (waiting, c_ran, a_busy) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let c = {
        let (pair, waiting, c_ran) = (Arc::clone(&pair), Arc::clone(&waiting), Arc::clone(&c_ran));
        rt.spawn(move || {
            sched::set_latency_critical(critical);
            let (m, cv) = &*pair;
            let g = m.lock().unwrap();
            waiting.store(true, SeqCst);
            let _g = cv.wait_while(g, m, |go| !*go).unwrap();
            c_ran.store(true, SeqCst);
        })
    };
    let a = {
        let (c_ran, a_busy) = (Arc::clone(&c_ran), Arc::clone(&a_busy));
        rt.spawn(move || {
            a_busy.store(true, SeqCst);
            let mut notified_at = None;
            loop {
                spin(200);
                sched::safepoint();
                if c_ran.load(SeqCst) {
                    return true;
                }
                let since = *notified_at.get_or_insert_with(Instant::now);
                if since.elapsed() > busy_for {
                    return false;
                }
            }
        })
    };
    wait_for("A to run", || a_busy.load(SeqCst));
    wait_for("C to wait", || waiting.load(SeqCst));
    let (m, cv) = &*pair;
    *m.lock().unwrap() = true;
    assert!(cv.notify_one(), "{backend:?}: C was not waiting");
    let c_ran_while_a_busy = a.join().expect("task A");
    c.join().expect("task C");
    let kicks = rt.stats()[0].kicks;
    rt.shutdown();
    (c_ran_while_a_busy, kicks)
}

#[test]
fn a_condvar_notify_kicks_a_busy_worker_to_a_latency_critical_task() {
    for backend in BACKENDS {
        let (c_ran, kicks) = notify_while_busy(backend, true, GIVE_UP);
        assert!(
            c_ran,
            "{backend:?}: the critical waiter waited for the busy task"
        );
        assert!(kicks >= 1, "{backend:?}");
        let (c_ran, kicks) = notify_while_busy(backend, false, Duration::from_millis(30));
        assert!(!c_ran, "{backend:?}: switched without a tick or a kick");
        assert_eq!(kicks, 0, "{backend:?}");
    }
}

/// Inside a guard a task cannot suspend, so a wait blocks its worker thread like a thread's:
/// the notification from another thread still arrives.
#[test]
fn a_wait_inside_a_guard_blocks_the_worker_and_is_still_woken() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::from_micros(200));
        let pair = Arc::new((Mutex::new(false), Condvar::new(), AtomicBool::new(false)));
        let t = {
            let pair = Arc::clone(&pair);
            rt.spawn(move || {
                let (m, cv, waiting) = &*pair;
                let _guard = Guard::new();
                let g = m.lock().unwrap();
                waiting.store(true, SeqCst);
                let _g = cv.wait_while(g, m, |ready| !*ready).unwrap();
            })
        };
        let (m, cv, waiting) = &*pair;
        wait_for("the guarded waiter", || waiting.load(SeqCst));
        *m.lock().unwrap() = true;
        cv.notify_all();
        t.join().unwrap();
        rt.shutdown();
    }
}
