//! Many-thread stress of `Condvar` under every wait policy: exact generation counts, exact
//! producer/consumer sums, `notify_one` never waking more than it signalled, and timeouts that
//! lose no notification. Sized to finish in seconds on two cores.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use nemo_user::condvar::Condvar;
use nemo_user::wait::{WaitOutcome, WaitPolicy};

mod condvar_support;

fn policies() -> [WaitPolicy; 4] {
    [
        WaitPolicy::BUILTIN,
        WaitPolicy::park_only(),
        WaitPolicy::spin_then_park(Duration::from_micros(2)),
        WaitPolicy::spin_only(),
    ]
}

/// A broadcaster advances a generation only after every waiter saw the previous one; each waiter
/// must see every generation exactly once (none skipped, none seen twice).
#[test]
fn every_waiter_counts_every_generation_exactly() {
    for policy in policies() {
        // Pure spinners only make progress when the scheduler preempts them: keep fewer of
        // them than there are cores on small machines.
        let (waiters, generations) = if policy.parks() { (6, 300) } else { (2, 100) };
        condvar_support::broadcast_generations(
            &format!("{policy:?}"),
            waiters,
            generations,
            || Condvar::new().with_policy(policy),
            |_| {},
            None,
        );
    }
}

/// Bounded buffer with `notify_one` on both sides: every item produced is consumed once.
#[test]
fn producer_consumer_sums_are_exact() {
    for policy in policies() {
        condvar_support::producer_consumer_sums(&format!("{policy:?}"), 3, 3, 4000, 4, || {
            Condvar::new().with_policy(policy)
        });
    }
}

/// With W waiters registered, k `notify_one` calls leave exactly W − k unsignalled, wake exactly
/// k of them, and `notify_all` wakes the rest: the woken count equals the signals, never more.
#[test]
fn notify_one_wakes_exactly_as_many_as_it_signals() {
    const WAITERS: usize = 8;
    for policy in policies() {
        for k in [1usize, 3, 7] {
            let s = Arc::new((Mutex::new(()), Condvar::new().with_policy(policy)));
            let woken = Arc::new(AtomicUsize::new(0));
            let ws: Vec<_> = (0..WAITERS)
                .map(|_| {
                    let (s, woken) = (Arc::clone(&s), Arc::clone(&woken));
                    thread::spawn(move || {
                        let (m, cv) = &*s;
                        // No predicate: the test counts raw wakeups, which must all be real.
                        let g = cv.wait(m.lock().unwrap(), m).unwrap();
                        drop(g);
                        woken.fetch_add(1, Ordering::SeqCst);
                    })
                })
                .collect();
            let (_, cv) = &*s;
            while cv.raw().unsignalled_waiters() < WAITERS {
                thread::yield_now();
            }
            for _ in 0..k {
                assert!(cv.notify_one());
            }
            assert_eq!(cv.raw().unsignalled_waiters(), WAITERS - k);
            while woken.load(Ordering::SeqCst) < k {
                thread::yield_now();
            }
            // Nobody else was signalled, so nobody else may have returned.
            assert_eq!(woken.load(Ordering::SeqCst), k, "{policy:?}");
            assert_eq!(cv.raw().unsignalled_waiters(), WAITERS - k);
            assert_eq!(cv.notify_all(), WAITERS - k);
            for w in ws {
                w.join().unwrap();
            }
            assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
            assert!(!cv.notify_one(), "no waiter left to signal");
        }
    }
}

/// Waiters with short timeouts race a producer of permits: no permit is ever stranded while a
/// waiter that timed out leaves, and every permit is taken exactly once.
#[test]
fn timeouts_racing_notifications_lose_nothing() {
    const WAITERS: usize = 4;
    const PERMITS: usize = 3000;
    for policy in policies() {
        let s = Arc::new((
            Mutex::new((0usize, false)),
            Condvar::new().with_policy(policy),
        ));
        let taken = Arc::new(AtomicUsize::new(0));
        let timeouts = Arc::new(AtomicUsize::new(0));
        let ws: Vec<_> = (0..WAITERS)
            .map(|i| {
                let (s, taken, timeouts) =
                    (Arc::clone(&s), Arc::clone(&taken), Arc::clone(&timeouts));
                thread::spawn(move || {
                    let (m, cv) = &*s;
                    let timeout = Duration::from_micros(20 + 40 * i as u64);
                    let mut g = m.lock().unwrap();
                    loop {
                        if g.0 > 0 {
                            g.0 -= 1;
                            taken.fetch_add(1, Ordering::SeqCst);
                            continue;
                        }
                        if g.1 {
                            return;
                        }
                        let (g2, r) = cv.wait_timeout(g, m, timeout).unwrap();
                        g = g2;
                        if r.timed_out() {
                            timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        let (m, cv) = &*s;
        for i in 0..PERMITS {
            m.lock().unwrap().0 += 1;
            cv.notify_one();
            if i % 64 == 0 {
                thread::yield_now();
            }
        }
        // Every permit must be taken by the waiters without further notifications.
        while taken.load(Ordering::SeqCst) < PERMITS {
            thread::yield_now();
        }
        m.lock().unwrap().1 = true;
        cv.notify_all();
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(taken.load(Ordering::SeqCst), PERMITS, "{policy:?}");
        assert_eq!(m.lock().unwrap().0, 0);
    }
}

/// Many parked waiters released by one broadcast, repeatedly (exercises the requeue and the
/// fan-out chain); every round every waiter returns, with `Woken`.
#[test]
fn broadcast_releases_every_parked_waiter() {
    const WAITERS: usize = 12;
    const ROUNDS: usize = 60;
    let cv = Arc::new(nemo_user::condvar::RawCondvar::new());
    let m = Arc::new(Mutex::new(0usize));
    for round in 0..ROUNDS {
        let ws: Vec<_> = (0..WAITERS)
            .map(|_| {
                let (cv, m) = (Arc::clone(&cv), Arc::clone(&m));
                thread::spawn(move || {
                    let g = m.lock().unwrap();
                    let target = round + 1;
                    let mut g = Some(g);
                    loop {
                        let guard = g.take().unwrap();
                        if *guard >= target {
                            return;
                        }
                        let (o, relocked) = cv
                            .wait_raw_with(
                                &WaitPolicy::park_only(),
                                &nemo_user::embed::FutexPark,
                                || {
                                    drop(guard);
                                    Ok::<(), ()>(())
                                },
                                || m.lock().unwrap(),
                                None,
                            )
                            .unwrap();
                        assert_eq!(o, WaitOutcome::Woken);
                        g = Some(relocked);
                    }
                })
            })
            .collect();
        while cv.unsignalled_waiters() < WAITERS {
            thread::yield_now();
        }
        *m.lock().unwrap() = round + 1;
        assert_eq!(cv.notify_all(), WAITERS);
        for w in ws {
            w.join().unwrap();
        }
    }
}
