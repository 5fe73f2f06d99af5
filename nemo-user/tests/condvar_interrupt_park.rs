//! Stress of the interrupt rung (`nemo_user::wake`) on the `signal` backend and on the `uintr`
//! emulation: waiters park as user-interrupt receivers and only their notifier's interrupt wakes
//! them. Exact counts throughout: every generation seen once by every waiter (a broadcast to
//! more waiters than cores), `notify_one` waking exactly as many as it signalled, exact
//! producer/consumer sums, timeouts that lose no notification, the mutex-free event, and more
//! condvars than the waiter registry has buckets, each waking only its own waiter.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_queue::SegQueue;
use nemo_user::BackendKind;
use nemo_user::condvar::Condvar;
use nemo_user::event::Event;
use nemo_user::wait::WaitPolicy;
use nemo_user::wake::InterruptPark;

mod condvar_support;

fn rungs() -> [InterruptPark; 2] {
    [
        InterruptPark::with_backend(BackendKind::Signal),
        InterruptPark::uintr_emulated(),
    ]
}

/// Parks at once, so that every wait really sleeps on the interrupt rung.
fn condvar(rung: InterruptPark) -> Condvar {
    Condvar::new()
        .with_policy(WaitPolicy::park_only())
        .with_interrupt_park(rung)
}

/// Asserts, on a waiter thread, that the rung applies there (it registered its receiver).
fn assert_rung_applies(rung: &InterruptPark) {
    assert!(
        rung.applies_here(),
        "{rung:?} does not apply on this thread"
    );
    // The backend each of `rungs()` was built for.
    let expected = if *rung == InterruptPark::uintr_emulated() {
        BackendKind::Uintr
    } else {
        BackendKind::Signal
    };
    assert_eq!(nemo_user::interrupt::current_backend(), Some(expected));
}

/// More waiters than cores, a broadcast per generation, and each waiter must see every
/// generation exactly once.
#[test]
fn broadcast_to_more_waiters_than_cores_counts_every_generation() {
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    let waiters = (cores * 3).clamp(6, 24);
    for rung in rungs() {
        condvar_support::broadcast_generations(
            &format!("{rung:?}"),
            waiters,
            150,
            || condvar(rung),
            move |_| assert_rung_applies(&rung),
            None,
        );
    }
}

/// Waits until `cv` counts `n` unsignalled waiters, and then a little longer so that they sleep.
fn until_waiting(cv: &Condvar, n: usize) {
    let start = Instant::now();
    while cv.raw().unsignalled_waiters() < n {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waiters never arrived"
        );
        thread::sleep(Duration::from_millis(1));
    }
    thread::sleep(Duration::from_millis(20));
}

/// Plain waits (no predicate): a return is a wakeup. `k` notify_one calls must wake exactly `k`
/// parked waiters, and a broadcast the rest.
#[test]
fn notify_one_wakes_exactly_as_many_as_it_signalled() {
    const WAITERS: usize = 6;
    for rung in rungs() {
        for k in [1, 2, 5] {
            let s = Arc::new((Mutex::new(()), condvar(rung), AtomicUsize::new(0)));
            let handles: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let s = Arc::clone(&s);
                    thread::spawn(move || {
                        assert_rung_applies(&rung);
                        let (m, cv, woken) = &*s;
                        let g = m.lock().unwrap();
                        let _g = cv.wait(g, m).unwrap();
                        woken.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            let (_, cv, woken) = &*s;
            until_waiting(cv, WAITERS);
            for _ in 0..k {
                assert!(cv.notify_one());
            }
            let start = Instant::now();
            while woken.load(Ordering::SeqCst) < k {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{rung:?}: a notify_one was lost ({} of {k} woke)",
                    woken.load(Ordering::SeqCst)
                );
                thread::sleep(Duration::from_millis(1));
            }
            // Give extra wakeups, if any, time to show.
            thread::sleep(Duration::from_millis(30));
            assert_eq!(woken.load(Ordering::SeqCst), k, "{rung:?}: woke too many");
            assert_eq!(cv.notify_all(), WAITERS - k);
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
        }
    }
}

/// Bounded buffer with `notify_one` on both sides: every item produced is consumed once.
#[test]
fn producer_consumer_sums_are_exact() {
    for rung in rungs() {
        condvar_support::producer_consumer_sums(&format!("{rung:?}"), 2, 3, 1500, 2, || {
            condvar(rung)
        });
    }
}

/// Waiters with short timeouts race a slow producer of permits: whatever times out, every
/// permit is taken exactly once and the untimed waiters still finish (no signal stranded).
#[test]
fn timeouts_lose_no_notification() {
    const PERMITS: usize = 400;
    for rung in rungs() {
        let s = Arc::new((Mutex::new(0usize), condvar(rung), AtomicUsize::new(0)));
        let takers: Vec<_> = (0..4)
            .map(|i| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    let (m, cv, taken) = &*s;
                    let mut timeouts = 0;
                    loop {
                        let mut g = m.lock().unwrap();
                        if i % 2 == 0 {
                            let (g2, r) = cv
                                .wait_timeout_while(g, m, Duration::from_micros(50), |p| *p == 0)
                                .unwrap();
                            g = g2;
                            if r.timed_out() {
                                timeouts += 1;
                            }
                        } else {
                            g = cv.wait_while(g, m, |p| *p == 0).unwrap();
                        }
                        if *g == usize::MAX {
                            return timeouts;
                        }
                        if *g > 0 {
                            *g -= 1;
                            taken.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let (m, cv, taken) = &*s;
        for i in 0..PERMITS {
            *m.lock().unwrap() += 1;
            cv.notify_one();
            if i % 8 == 0 {
                // Twenty timeouts long: a timed taker that runs at all times out here, even on
                // a machine busy enough to hold it off the CPU for most of the gap.
                thread::sleep(Duration::from_millis(1));
            }
        }
        let start = Instant::now();
        while taken.load(Ordering::SeqCst) < PERMITS {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{rung:?}: permits stranded ({} of {PERMITS} taken)",
                taken.load(Ordering::SeqCst)
            );
            thread::sleep(Duration::from_millis(1));
        }
        *m.lock().unwrap() = usize::MAX;
        cv.notify_all();
        let timeouts: usize = takers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken.load(Ordering::SeqCst), PERMITS, "{rung:?}");
        // The timed takers did time out between permits: the race was exercised.
        assert!(timeouts > 0, "{rung:?}: no wait timed out");
    }
}

/// The mutex-free event on the interrupt rung: every item pushed is popped once.
#[test]
fn event_workers_take_every_item_exactly_once() {
    const WORKERS: usize = 5;
    const ITEMS: u64 = 3000;
    for rung in rungs() {
        let s = Arc::new((
            SegQueue::new(),
            Event::new()
                .with_policy(WaitPolicy::park_only())
                .with_interrupt_park(rung),
        ));
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                let s = Arc::clone(&s);
                thread::spawn(move || {
                    assert_rung_applies(&rung);
                    let (q, ev) = &*s;
                    let (mut sum, mut n) = (0u64, 0u64);
                    loop {
                        ev.wait_while(|| q.is_empty());
                        match q.pop() {
                            Some(0) => return (sum, n),
                            Some(x) => {
                                sum += x;
                                n += 1;
                            }
                            None => {}
                        }
                    }
                })
            })
            .collect();
        let (q, ev) = &*s;
        for x in 1..=ITEMS {
            q.push(x);
            ev.notify_one();
            if x % 64 == 0 {
                thread::yield_now();
            }
        }
        for _ in 0..WORKERS {
            q.push(0);
            ev.notify_one();
        }
        let (sum, n) = workers
            .into_iter()
            .map(|w| w.join().unwrap())
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        assert_eq!(n, ITEMS, "{rung:?}");
        assert_eq!(sum, ITEMS * (ITEMS + 1) / 2, "{rung:?}");
    }
}

/// A thread that already has a receiver of its own falls back to the futex park and still
/// gets every wakeup; a thread that releases its waker receiver may register its own.
#[test]
fn threads_with_their_own_receiver_fall_back_to_the_futex() {
    let rung = InterruptPark::with_backend(BackendKind::Signal);
    let s = Arc::new((Mutex::new(0u32), condvar(rung)));
    let h = {
        let s = Arc::clone(&s);
        thread::spawn(move || {
            let _own = nemo_user::interrupt::Receiver::builder()
                .backend(BackendKind::Signal)
                .register(|_| {})
                .unwrap();
            assert!(!rung.applies_here());
            let (m, cv) = &*s;
            let mut g = m.lock().unwrap();
            for want in 1..=50 {
                g = cv.wait_while(g, m, |v| *v < want).unwrap();
            }
        })
    };
    let (m, cv) = &*s;
    for _ in 0..50 {
        *m.lock().unwrap() += 1;
        cv.notify_one();
        thread::sleep(Duration::from_micros(200));
    }
    h.join().unwrap();
    thread::spawn(move || {
        assert!(rung.applies_here());
        assert!(InterruptPark::release_thread());
        assert!(
            nemo_user::interrupt::Receiver::builder()
                .backend(BackendKind::Signal)
                .register(|_| {})
                .is_ok()
        );
    })
    .join()
    .unwrap();
}

/// More condvars than the waiter registry has buckets (64), one parked waiter on each: condvars
/// share buckets, and a bucket holds slots of several condvars. Each round sets every condvar's
/// value and notifies it once; every waiter must wake for its own condvar, see each round
/// exactly once, and none may be left asleep.
#[test]
fn waiters_on_more_condvars_than_buckets_each_take_exactly_their_own_wakeups() {
    const CONDVARS: usize = 80;
    const ROUNDS: u64 = 12;
    for rung in rungs() {
        let pairs: Arc<Vec<(Mutex<u64>, Condvar)>> = Arc::new(
            (0..CONDVARS)
                .map(|_| (Mutex::new(0), condvar(rung)))
                .collect(),
        );
        let acks = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..CONDVARS)
            .map(|i| {
                let (pairs, acks) = (Arc::clone(&pairs), Arc::clone(&acks));
                thread::spawn(move || {
                    assert_rung_applies(&rung);
                    let (m, cv) = &pairs[i];
                    let mut seen = 0;
                    while seen < ROUNDS {
                        let mut g = m.lock().unwrap();
                        while *g == seen {
                            g = cv.wait(g, m).unwrap();
                        }
                        assert_eq!(*g, seen + 1, "{rung:?}: condvar {i} skipped a round");
                        seen = *g;
                        drop(g);
                        acks.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for round in 1..=ROUNDS {
            // A different order each round, so that claims in shared buckets interleave.
            let order: Vec<usize> = if round % 2 == 0 {
                (0..CONDVARS).collect()
            } else {
                (0..CONDVARS).rev().collect()
            };
            for i in order {
                let (m, cv) = &pairs[i];
                *m.lock().unwrap() = round;
                cv.notify_one();
            }
            let want = round as usize * CONDVARS;
            let start = Instant::now();
            while acks.load(Ordering::SeqCst) < want {
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "{rung:?}: round {round}: {} of {CONDVARS} waiters woke (a wakeup was lost)",
                    acks.load(Ordering::SeqCst) - (want - CONDVARS)
                );
                thread::sleep(Duration::from_millis(1));
            }
        }
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(acks.load(Ordering::SeqCst), ROUNDS as usize * CONDVARS);
    }
}
