//! `nemo_user::sched`: every task runs exactly once, yields interleave, ticks preempt at
//! safepoints (not inside guards), FP state survives preemption, panics reach the joiner, and
//! the quantum changes at run time — on the `poll` and `signal` backends.
#![cfg(feature = "sched")]

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nemo_user::interrupt::Guard;
use nemo_user::sched::{self, Runtime};
use nemo_user::{BackendKind, ErrorKind};

const BACKENDS: [BackendKind; 2] = [BackendKind::Poll, BackendKind::Signal];

/// Long enough for a loaded 2-core machine; a correct run ends far sooner.
const GIVE_UP: Duration = Duration::from_secs(20);

fn runtime(backend: BackendKind, workers: usize, quantum: Duration) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .backend(backend)
        .quantum(quantum)
        .build()
        .expect("runtime")
}

/// A little work that the optimiser cannot drop.
fn spin(n: u32) {
    let mut x = 1u64;
    for _ in 0..n {
        x = std::hint::black_box(x.rotate_left(5) ^ 0x9e37_79b9);
    }
}

/// Loops at safepoints until `flag` is set (true) or `GIVE_UP` passes (false).
fn until_set(flag: &AtomicBool) -> bool {
    let start = Instant::now();
    while !flag.load(SeqCst) {
        if start.elapsed() > GIVE_UP {
            return false;
        }
        spin(200);
        sched::safepoint();
    }
    true
}

#[test]
fn many_tasks_across_workers_each_run_exactly_once() {
    const TASKS: usize = 2000;
    for backend in BACKENDS {
        let rt = runtime(backend, 3, Duration::from_micros(100));
        let runs: Arc<Vec<AtomicU32>> = Arc::new((0..TASKS).map(|_| AtomicU32::new(0)).collect());
        let handles: Vec<_> = (0..TASKS)
            .map(|i| {
                let runs = Arc::clone(&runs);
                rt.spawn(move || {
                    runs[i].fetch_add(1, SeqCst);
                    for k in 0..(i % 4) {
                        spin(100);
                        if k % 2 == 0 {
                            sched::yield_now();
                        } else {
                            sched::safepoint();
                        }
                    }
                    (i as u64) * (i as u64)
                })
            })
            .collect();
        let sum: u64 = handles.into_iter().map(|h| h.join().expect("task")).sum();
        let n = TASKS as u64;
        assert_eq!(sum, (n - 1) * n * (2 * n - 1) / 6, "{backend:?}");
        assert!(runs.iter().all(|r| r.load(SeqCst) == 1), "{backend:?}");
        let started: u64 = rt.stats().iter().map(|s| s.started).sum();
        assert_eq!(started, n, "{backend:?}");
        rt.shutdown();
    }
}

#[test]
fn yields_interleave_on_one_worker() {
    const ROUNDS: usize = 5;
    let rt = runtime(BackendKind::Poll, 1, Duration::ZERO);
    let go = Arc::new(AtomicBool::new(false));
    let log = Arc::new(Mutex::new(String::new()));
    let handles: Vec<_> = ['A', 'B']
        .into_iter()
        .map(|name| {
            let (go, log) = (Arc::clone(&go), Arc::clone(&log));
            rt.spawn(move || {
                let start = Instant::now();
                while !go.load(SeqCst) && start.elapsed() < GIVE_UP {
                    sched::yield_now();
                }
                for _ in 0..ROUNDS {
                    log.lock().unwrap().push(name);
                    sched::yield_now();
                }
            })
        })
        .collect();
    go.store(true, SeqCst);
    for h in handles {
        h.join().expect("task");
    }
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2 * ROUNDS);
    assert!(
        log == "AB".repeat(ROUNDS) || log == "BA".repeat(ROUNDS),
        "not interleaved: {log}"
    );
    assert_eq!(rt.stats()[0].preemptions, 0);
}

#[test]
fn ticks_preempt_a_busy_task_so_another_on_its_worker_runs() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::from_micros(200));
        let b_ran = Arc::new(AtomicBool::new(false));
        let a = {
            let b_ran = Arc::clone(&b_ran);
            rt.spawn(move || until_set(&b_ran))
        };
        let b = {
            let b_ran = Arc::clone(&b_ran);
            rt.spawn(move || b_ran.store(true, SeqCst))
        };
        assert!(a.join().expect("task A"), "{backend:?}: B never ran");
        b.join().expect("task B");
        let stats = rt.stats()[0];
        assert!(stats.preemptions >= 1, "{backend:?}: {stats:?}");
        assert!(stats.ticks >= stats.preemptions, "{backend:?}: {stats:?}");
        assert_eq!(stats.yields, 0, "{backend:?}");
    }
}

#[test]
fn a_guard_defers_preemption_until_its_drop() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::from_micros(100));
        let b_ran = Arc::new(AtomicBool::new(false));
        let a = {
            let b_ran = Arc::clone(&b_ran);
            rt.spawn(move || {
                // A request made before the guard: a few quanta without a safepoint, then the
                // poll backend's delivery, which runs the tick handler but does not switch.
                let start = Instant::now();
                while start.elapsed() < Duration::from_millis(5) {
                    spin(200);
                }
                nemo_user::poll();
                let b_ran_before = b_ran.load(SeqCst);
                let guard = Guard::new();
                let start = Instant::now();
                let mut switched_inside = false;
                while start.elapsed() < Duration::from_millis(50) {
                    spin(200);
                    switched_inside |= sched::safepoint();
                    sched::yield_now(); // no switch under a guard either
                }
                let b_ran_inside = b_ran.load(SeqCst);
                drop(guard);
                // The request waited for the guard.
                let switched_at_first_safepoint = sched::safepoint();
                (
                    b_ran_before,
                    switched_inside,
                    b_ran_inside,
                    switched_at_first_safepoint,
                    until_set(&b_ran),
                )
            })
        };
        let b = {
            let b_ran = Arc::clone(&b_ran);
            rt.spawn(move || b_ran.store(true, SeqCst))
        };
        let (b_ran_before, switched_inside, b_ran_inside, switched_after, b_ran_after) =
            a.join().expect("A");
        b.join().expect("B");
        assert!(!b_ran_before, "{backend:?}: switched outside a safepoint");
        assert!(!switched_inside, "{backend:?}: switched inside the guard");
        assert!(!b_ran_inside, "{backend:?}: B ran inside the guard");
        assert!(switched_after, "{backend:?}: the deferred request was lost");
        assert!(b_ran_after, "{backend:?}");
        assert_eq!(rt.stats()[0].yields, 0, "{backend:?}");
    }
}

/// FP/SSE work whose result depends on every intermediate rounding.
fn fp_work(seed: u64, steps: u32) -> (u64, u32) {
    let mut x = seed as f64 * 1e-3 + 0.5;
    let mut y = seed as f32 * 0.25 + 1.0;
    for i in 0..steps {
        x = (x.mul_add(1.000_000_1, 0.3).sin() + (x * x + 1.0).sqrt()) / 1.7;
        y = (y * 1.0001 + (i as f32).sqrt()).fract() + y.cos();
        sched::safepoint();
    }
    (x.to_bits(), y.to_bits())
}

#[test]
fn preempted_fp_results_are_bit_identical_to_unpreempted_ones() {
    const TASKS: u64 = 6;
    const STEPS: u32 = 200_000;
    let reference: Vec<_> = (0..TASKS).map(|s| fp_work(s, STEPS)).collect();
    // 5 µs: a preemption storm (as many ticks as the timer thread manages).
    for quantum_us in [5, 20] {
        for backend in BACKENDS {
            let rt = runtime(backend, 2, Duration::from_micros(quantum_us));
            let handles: Vec<_> = (0..TASKS)
                .map(|s| rt.spawn(move || fp_work(s, STEPS)))
                .collect();
            let results: Vec<_> = handles
                .into_iter()
                .map(|h| h.join().expect("task"))
                .collect();
            assert_eq!(results, reference, "{backend:?} at {quantum_us} µs");
            let preemptions: u64 = rt.stats().iter().map(|s| s.preemptions).sum();
            assert!(
                preemptions > 0,
                "{backend:?} at {quantum_us} µs: nothing was preempted"
            );
        }
    }
}

#[test]
fn a_panicking_task_is_reported_through_its_handle() {
    for backend in BACKENDS {
        let rt = runtime(backend, 1, Duration::from_micros(200));
        let bad = rt.spawn(|| -> u32 {
            sched::yield_now();
            panic!("task failed on purpose");
        });
        let good = rt.spawn(|| 7u32);
        let err = bad.join().expect_err("the task panicked");
        assert_eq!(err.to_string(), "the task panicked: task failed on purpose");
        let payload = err.try_into_panic().expect("a panic");
        assert_eq!(
            payload.downcast_ref::<&str>(),
            Some(&"task failed on purpose"),
            "the payload the task panicked with"
        );
        assert_eq!(good.join().expect("task"), 7);
        assert_eq!(rt.spawn(|| 8u32).join().expect("the worker goes on"), 8);
    }
}

#[test]
fn the_quantum_changes_at_run_time() {
    let rt = runtime(BackendKind::Poll, 1, Duration::ZERO);
    let (a_started, b_ran) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let a = {
        let (a_started, b_ran) = (Arc::clone(&a_started), Arc::clone(&b_ran));
        rt.spawn(move || {
            a_started.store(true, SeqCst);
            until_set(&b_ran)
        })
    };
    let b = {
        let b_ran = Arc::clone(&b_ran);
        rt.spawn(move || b_ran.store(true, SeqCst))
    };
    let start = Instant::now();
    while !a_started.load(SeqCst) && start.elapsed() < GIVE_UP {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(a_started.load(SeqCst));
    // Quantum zero: no ticks, so A keeps the only worker.
    std::thread::sleep(Duration::from_millis(30));
    assert!(!b_ran.load(SeqCst));
    assert_eq!(rt.stats()[0].ticks, 0);

    rt.set_quantum(0, Duration::from_micros(200))
        .expect("worker 0");
    assert!(
        a.join().expect("task A"),
        "B never ran after the quantum was set"
    );
    b.join().expect("task B");
    assert!(rt.stats()[0].preemptions >= 1);

    let e = rt.set_quantum(1, Duration::from_micros(200)).unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::InvalidArgument, libc::EINVAL)
    );
    assert_eq!(e.to_string(), "no worker 1: the runtime has 1");
}

#[test]
fn tasks_spawned_from_several_threads_all_run() {
    const PER_THREAD: u64 = 300;
    let rt = runtime(BackendKind::Signal, 2, Duration::from_micros(100));
    let sums: Vec<u64> = std::thread::scope(|s| {
        let spawners: Vec<_> = (0..3u64)
            .map(|t| {
                let rt = &rt;
                s.spawn(move || {
                    let handles: Vec<_> = (0..PER_THREAD)
                        .map(|i| {
                            rt.spawn(move || {
                                sched::yield_now();
                                t * 1000 + i
                            })
                        })
                        .collect();
                    handles.into_iter().map(|h| h.join().expect("task")).sum()
                })
            })
            .collect();
        spawners
            .into_iter()
            .map(|h| h.join().expect("spawner"))
            .collect()
    });
    let expected: Vec<u64> = (0..3u64)
        .map(|t| t * 1000 * PER_THREAD + (0..PER_THREAD).sum::<u64>())
        .collect();
    assert_eq!(sums, expected);
}

#[test]
fn a_runtime_needs_a_worker() {
    let e = Runtime::builder().workers(0).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(e.to_string(), "a runtime needs at least one worker");
}

#[test]
fn a_task_whose_stack_cannot_be_mapped_never_runs_and_says_why() {
    let rt = Runtime::builder()
        .workers(1)
        .backend(BackendKind::Poll)
        .stack_size(1 << 60)
        .build()
        .expect("runtime");
    let ran = Arc::new(AtomicBool::new(false));
    let r = Arc::clone(&ran);
    let err = rt
        .spawn(move || r.store(true, SeqCst))
        .join()
        .expect_err("no stack, no task");
    let message = err.to_string();
    let e = err.try_into_panic().expect_err("not a panic");
    assert_eq!(message, e.to_string());
    assert_eq!((e.kind(), e.errno()), (ErrorKind::Os, libc::ENOMEM), "{e}");
    assert!(
        e.to_string()
            .starts_with("the task's stack could not be allocated"),
        "{e}"
    );
    assert!(!ran.load(SeqCst));
}

#[test]
fn outside_a_task_the_task_functions_do_nothing_to_switch() {
    assert!(!sched::safepoint());
    sched::yield_now();
}
