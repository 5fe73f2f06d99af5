//! `LockApiCondvar` with `lock_api` mutexes: parking_lot's (many-thread stress with exact sums
//! and exact generation counts, under each wait policy) and a spin lock written against
//! `lock_api::RawMutex` here, to show that any implementation works. Sized to finish in seconds
//! on two cores.
#![cfg(feature = "lock_api")]

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use nemo_user::condvar::LockApiCondvar;
use nemo_user::wait::WaitPolicy;
use parking_lot::Mutex;

fn policies() -> [WaitPolicy; 3] {
    [
        WaitPolicy::BUILTIN,
        WaitPolicy::park_only(),
        WaitPolicy::spin_then_park(Duration::from_micros(2)),
    ]
}

/// Bounded buffer with `notify_one` on both sides: every item produced is consumed exactly once,
/// so the consumers' count and sum equal the producers'.
#[test]
fn parking_lot_producer_consumer_sums_are_exact() {
    const PRODUCERS: u64 = 3;
    const CONSUMERS: usize = 3;
    const ITEMS: u64 = 3000;
    const CAPACITY: usize = 8;
    for policy in policies() {
        struct S {
            queue: Mutex<(VecDeque<u64>, usize)>, // (items, producers still running)
            not_empty: LockApiCondvar,
            not_full: LockApiCondvar,
        }
        let s = Arc::new(S {
            queue: Mutex::new((VecDeque::new(), PRODUCERS as usize)),
            not_empty: LockApiCondvar::new().with_policy(policy),
            not_full: LockApiCondvar::new().with_policy(policy),
        });
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    for i in 0..ITEMS {
                        let mut q = s.queue.lock();
                        s.not_full.wait_while(&mut q, |q| q.0.len() >= CAPACITY);
                        q.0.push_back(p * ITEMS + i);
                        s.not_empty.notify_one();
                    }
                    let mut q = s.queue.lock();
                    q.1 -= 1;
                    if q.1 == 0 {
                        // Consumers waiting on an empty queue learn that nothing more comes.
                        s.not_empty.notify_all();
                    }
                })
            })
            .collect();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let (mut count, mut sum) = (0u64, 0u64);
                    let mut q = s.queue.lock();
                    loop {
                        s.not_empty
                            .wait_while(&mut q, |q| q.0.is_empty() && q.1 > 0);
                        match q.0.pop_front() {
                            Some(x) => {
                                count += 1;
                                sum += x;
                                s.not_full.notify_one();
                            }
                            None => return (count, sum),
                        }
                    }
                })
            })
            .collect();
        for p in producers {
            p.join().unwrap();
        }
        let (count, sum) = consumers
            .into_iter()
            .map(|c| c.join().unwrap())
            .fold((0, 0), |(c, s), (c1, s1)| (c + c1, s + s1));
        let n = PRODUCERS * ITEMS;
        assert_eq!(count, n, "{policy:?}");
        assert_eq!(sum, n * (n - 1) / 2, "{policy:?}");
    }
}

/// A broadcaster advances a generation only after every waiter saw the previous one; each waiter
/// sees every generation exactly once.
#[test]
fn parking_lot_every_waiter_counts_every_generation_exactly() {
    const WAITERS: usize = 5;
    const GENERATIONS: u64 = 300;
    struct S {
        m: Mutex<(u64, usize)>, // (generation, acks for it)
        generation: LockApiCondvar,
        acks: LockApiCondvar,
    }
    let s = Arc::new(S {
        m: Mutex::new((0, WAITERS)),
        generation: LockApiCondvar::new(),
        acks: LockApiCondvar::new(),
    });
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let (mut seen, mut last) = (0u64, 0u64);
                let mut g = s.m.lock();
                while last < GENERATIONS {
                    s.generation.wait_while(&mut g, |st| st.0 == last);
                    assert_eq!(g.0, last + 1, "skipped a generation");
                    last = g.0;
                    seen += 1;
                    g.1 += 1;
                    if g.1 == WAITERS {
                        s.acks.notify_one();
                    }
                }
                seen
            })
        })
        .collect();
    for _ in 0..GENERATIONS {
        let mut g = s.m.lock();
        s.acks.wait_while(&mut g, |st| st.1 < WAITERS);
        g.0 += 1;
        g.1 = 0;
        s.generation.notify_all();
    }
    for w in waiters {
        assert_eq!(w.join().unwrap(), GENERATIONS);
    }
}

/// `notify_one` wakes exactly one of several parked waiters, and `notify_all` the rest.
#[test]
fn parking_lot_notify_one_wakes_exactly_one() {
    const WAITERS: usize = 4;
    let s = Arc::new((
        Mutex::new(0usize), // waiters inside the wait
        LockApiCondvar::new().with_policy(WaitPolicy::park_only()),
        AtomicUsize::new(0), // waiters that returned
    ));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let (m, cv, woken) = &*s;
                let mut inside = m.lock();
                *inside += 1;
                cv.wait(&mut inside);
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    let (m, cv, woken) = &*s;
    // All four are waiting once they have counted themselves in (they join the condvar before
    // the mutex is released, so a notify after this point reaches them).
    while *m.lock() < WAITERS {
        thread::yield_now();
    }
    assert!(cv.notify_one());
    let start = Instant::now();
    while woken.load(Ordering::SeqCst) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "no waiter woke");
        thread::yield_now();
    }
    // Give a wrongly woken second waiter time to show up.
    thread::sleep(Duration::from_millis(50));
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    assert_eq!(cv.notify_all(), WAITERS - 1);
    for w in waiters {
        w.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
}

/// Timed waits: never reported as timed out before the timeout; a notification before the
/// deadline is reported as woken; `wait_while_until` reports whether the condition still held.
#[test]
fn parking_lot_timed_waits() {
    let m = Mutex::new(false);
    let cv = LockApiCondvar::new();
    let mut g = m.lock();
    let timeout = Duration::from_millis(20);
    let start = Instant::now();
    assert!(cv.wait_until(&mut g, timeout).timed_out());
    assert!(start.elapsed() >= timeout);
    // The guard is usable (locked) again after the wait.
    *g = true;
    assert!(
        !cv.wait_while_until(&mut g, |ready| !*ready, timeout)
            .timed_out()
    );
    *g = false;
    assert!(
        cv.wait_while_until(&mut g, |ready| !*ready, timeout)
            .timed_out()
    );
    drop(g);

    let s = Arc::new((Mutex::new(false), LockApiCondvar::new()));
    let notifier = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(10));
            *s.0.lock() = true;
            s.1.notify_all();
        })
    };
    let mut ready = s.0.lock();
    let r =
        s.1.wait_while_until(&mut ready, |r| !*r, Duration::from_secs(30));
    assert!(!r.timed_out() && *ready);
    drop(ready);
    notifier.join().unwrap();
}

/// A test-and-set spin lock implementing `lock_api::RawMutex`: any implementation works with
/// the condvar, not only parking_lot's. It yields while it spins: with more threads than cores,
/// a pure spinner burns its time slice while the holder waits to run.
struct RawSpinLock(AtomicBool);

// SAFETY: `lock` returns only after swapping `false` to `true` with Acquire, so at most one
// owner holds it; `unlock` releases with a Release store, which publishes the owner's writes
// to the next owner.
unsafe impl lock_api::RawMutex for RawSpinLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: RawSpinLock = RawSpinLock(AtomicBool::new(false));
    type GuardMarker = lock_api::GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            thread::yield_now();
        }
    }

    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

type SpinMutex<T> = lock_api::Mutex<RawSpinLock, T>;

#[test]
fn a_spin_lock_counts_exactly() {
    const THREADS: usize = 4;
    const ROUNDS: usize = 500;
    // Threads take turns by ticket: each waits for its turn, increments, and wakes the rest.
    let s = Arc::new((SpinMutex::new(0usize), LockApiCondvar::new()));
    let handles: Vec<_> = (0..THREADS)
        .map(|me| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let (m, cv) = &*s;
                for round in 0..ROUNDS {
                    let turn = round * THREADS + me;
                    let mut count = m.lock();
                    cv.wait_while(&mut count, |c| *c != turn);
                    *count += 1;
                    cv.notify_all();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*s.0.lock(), THREADS * ROUNDS);
}
