//! Correctness checks every [`BlockingEvent`] must pass (exact counts, no timing).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::BlockingEvent;

/// `waiters` threads each wait for `events` events, acknowledging each; the notifier publishes
/// the next event only after every waiter acknowledged the previous one. Every waiter must see
/// the counts 1, 2, ..., `events` in order: nothing lost, nothing doubled. A waiter that is not
/// woken within 10 s fails the test instead of hanging it.
pub fn handshake_exact(ev: &dyn BlockingEvent, waiters: usize, events: u64) {
    let acks: Vec<AtomicU64> = (0..waiters).map(|_| AtomicU64::new(0)).collect();
    let abort = AtomicBool::new(false);
    let seen_all = std::thread::scope(|s| {
        let handles: Vec<_> = (0..waiters)
            .map(|w| {
                let acks = &acks;
                let abort = &abort;
                s.spawn(move || {
                    let mut seen = 0;
                    let mut observed = Vec::with_capacity(events as usize);
                    while seen < events && !abort.load(Ordering::Acquire) {
                        seen = ev.wait(seen);
                        observed.push(seen);
                        acks[w].store(seen, Ordering::Release);
                    }
                    observed
                })
            })
            .collect();
        let mut lost = None;
        for e in 1..=events {
            if waiters == 1 {
                ev.notify_one();
            } else {
                ev.notify_all();
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut spins = 0u32;
            while acks.iter().any(|a| a.load(Ordering::Acquire) < e) {
                if Instant::now() > deadline {
                    lost = Some(e);
                    break;
                }
                // Spin first: a yield on a loaded machine can cost a whole time slice.
                spins += 1;
                if spins < 20_000 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if lost.is_some() {
                abort.store(true, Ordering::Release);
                // Release everyone so the scope can end and the test can report.
                for _ in 0..waiters {
                    ev.notify_all();
                }
                break;
            }
        }
        let seen: Vec<Vec<u64>> = handles
            .into_iter()
            .map(|h| h.join().expect("waiter panicked"))
            .collect();
        (lost, seen)
    });
    let (lost, seen) = seen_all;
    assert_eq!(lost, None, "event not delivered (lost wakeup)");
    let expected: Vec<u64> = (1..=events).collect();
    for (w, s) in seen.iter().enumerate() {
        assert_eq!(s, &expected, "waiter {w} saw a wrong sequence");
    }
}
