//! Correctness checks every [`BlockingEvent`] and [`InterruptLink`] must pass (exact counts, no
//! timing).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::{BlockingEvent, InterruptLink};
use crate::arrival::Arrivals;
use crate::clock::Clock;

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

/// Receivers of an [`InterruptLink`] for a test: each registers on its own thread and runs the
/// busy loop (yielding, so more receivers than cores still make progress) until told to stop.
struct TestReceivers<'s> {
    arrivals: Vec<Arc<Arrivals>>,
    stop: &'s AtomicBool,
}

struct StopOnDrop<'s>(&'s AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Registers `receivers` receivers of `link` (with room for `capacity` stamps each), runs `body`
/// with their arrivals once all are registered, then stops and unregisters them.
fn with_receivers<R>(
    link: &dyn InterruptLink,
    receivers: usize,
    capacity: usize,
    body: impl FnOnce(&TestReceivers<'_>) -> R,
) -> R {
    let arrivals: Vec<Arc<Arrivals>> = (0..receivers)
        .map(|_| Arc::new(Arrivals::new(Clock::monotonic(), capacity)))
        .collect();
    let stop = AtomicBool::new(false);
    let registered = Barrier::new(receivers + 1);
    std::thread::scope(|s| {
        let threads: Vec<_> = arrivals
            .iter()
            .enumerate()
            .map(|(r, a)| {
                let (stop, registered) = (&stop, &registered);
                let a = a.clone();
                s.spawn(move || {
                    let reg = link.register(r, a);
                    if reg.is_err() {
                        stop.store(true, Ordering::Release);
                    }
                    registered.wait();
                    if let Err(why) = reg {
                        panic!("receiver {r} cannot register: {why}");
                    }
                    while !stop.load(Ordering::Acquire) {
                        link.poll(r);
                        std::thread::yield_now();
                    }
                    link.unregister(r);
                })
            })
            .collect();
        registered.wait();
        let out = {
            // Stops the receivers however `body` ends, so a failed assertion fails the test
            // instead of hanging it.
            let _stop = StopOnDrop(&stop);
            body(&TestReceivers {
                arrivals: arrivals.clone(),
                stop: &stop,
            })
        };
        for t in threads {
            t.join().expect("receiver panicked");
        }
        out
    })
}

/// Waits up to 10 s for every receiver to count `n` arrivals; false on timeout.
fn all_arrived(rx: &TestReceivers<'_>, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while rx.arrivals.iter().any(|a| a.count() < n) {
        if Instant::now() > deadline || rx.stop.load(Ordering::Acquire) {
            return false;
        }
        std::thread::yield_now();
    }
    true
}

/// The [`InterruptLink`] contract, with exact counts: `receivers` receivers on their own threads,
/// `events` events sent one at a time (to receiver 0, or with `broadcast` to all), the next only
/// once every receiver stamped the previous one. Every event must be stamped exactly once by
/// every receiver it was sent to, on time order, and nothing after the run (a late or doubled
/// delivery) may add to the counts.
pub fn interrupt_exact(link: &dyn InterruptLink, receivers: usize, events: usize, broadcast: bool) {
    assert!(broadcast || receivers == 1, "unicast has one receiver");
    let arrivals = with_receivers(link, receivers, events, |rx| {
        for e in 1..=events {
            if broadcast {
                link.send_all(receivers);
            } else {
                link.send(0);
            }
            assert!(
                all_arrived(rx, e),
                "event {e} not delivered to every receiver"
            );
            for (r, a) in rx.arrivals.iter().enumerate() {
                assert_eq!(a.count(), e, "receiver {r}: event {e} delivered twice");
            }
        }
        rx.arrivals.clone()
    });
    // The receivers have unregistered: late deliveries would have been counted by now.
    for (r, a) in arrivals.iter().enumerate() {
        assert_eq!(a.count(), events, "receiver {r}: deliveries after the run");
        let stamps: Vec<u64> = (0..events).map(|i| a.get(i)).collect();
        assert!(
            stamps.iter().all(|&t| t > 0) && stamps.windows(2).all(|w| w[0] <= w[1]),
            "receiver {r}: stamps missing or out of order"
        );
    }
}

/// Streams `messages` sends to one receiver without waiting between them: a link that
/// [queues messages](InterruptLink::queues_messages) must hand every one to the handler, exactly
/// once.
pub fn stream_exact(link: &dyn InterruptLink, messages: usize) {
    let arrivals = with_receivers(link, 1, messages, |rx| {
        for _ in 0..messages {
            link.send(0);
        }
        assert!(all_arrived(rx, messages), "messages lost in the stream");
        rx.arrivals[0].clone()
    });
    assert_eq!(arrivals.count(), messages, "messages handled twice");
}
