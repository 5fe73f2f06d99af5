//! `Event` as idle workers use it: a mutex-free queue, producers that `notify_one` per item,
//! a `notify_all` shutdown, timed waits; exact sums under every policy.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use crossbeam_queue::SegQueue;
use nemo_user::event::Event;
use nemo_user::wait::{Deadline, WaitOutcome, WaitPolicy};

fn policies() -> [WaitPolicy; 3] {
    [
        WaitPolicy::BUILTIN,
        WaitPolicy::park_only(),
        WaitPolicy::spin_then_park(Duration::from_micros(3)),
    ]
}

struct Pool {
    queue: SegQueue<u64>,
    work: Event,
    done: AtomicBool,
}

#[test]
fn workers_consume_every_item_exactly_once() {
    const WORKERS: usize = 4;
    const PRODUCERS: u64 = 2;
    const ITEMS: u64 = 5000;
    for policy in policies() {
        for timed in [false, true] {
            let pool = Arc::new(Pool {
                queue: SegQueue::new(),
                work: Event::new().with_policy(policy),
                done: AtomicBool::new(false),
            });
            let sum = Arc::new(AtomicU64::new(0));
            let count = Arc::new(AtomicU64::new(0));
            let workers: Vec<_> = (0..WORKERS)
                .map(|_| {
                    let (pool, sum, count) =
                        (Arc::clone(&pool), Arc::clone(&sum), Arc::clone(&count));
                    thread::spawn(move || {
                        loop {
                            if let Some(x) = pool.queue.pop() {
                                sum.fetch_add(x, Ordering::Relaxed);
                                count.fetch_add(1, Ordering::Relaxed);
                                continue;
                            }
                            if pool.done.load(Ordering::SeqCst) {
                                return;
                            }
                            let idle =
                                || pool.queue.is_empty() && !pool.done.load(Ordering::SeqCst);
                            if timed {
                                let d = Deadline::from(Duration::from_micros(50));
                                pool.work.wait_while_until(idle, &d);
                            } else {
                                pool.work.wait_while(idle);
                            }
                        }
                    })
                })
                .collect();
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let pool = Arc::clone(&pool);
                    thread::spawn(move || {
                        for i in 0..ITEMS {
                            pool.queue.push(p * ITEMS + i + 1);
                            pool.work.notify_one();
                        }
                    })
                })
                .collect();
            for p in producers {
                p.join().unwrap();
            }
            pool.done.store(true, Ordering::SeqCst);
            pool.work.notify_all();
            for w in workers {
                w.join().unwrap();
            }
            let total = PRODUCERS * ITEMS;
            assert_eq!(
                count.load(Ordering::Relaxed),
                total,
                "{policy:?} timed={timed}"
            );
            assert_eq!(sum.load(Ordering::Relaxed), total * (total + 1) / 2);
        }
    }
}

#[test]
fn cancel_reports_a_notification_it_consumed() {
    let e = Event::new();
    let key = e.prepare_wait();
    assert!(e.notify_one());
    assert!(key.cancel(), "the notification was directed at this waiter");
    let key = e.prepare_wait();
    assert!(!key.cancel());
    assert!(!e.notify_one(), "nobody announced: nothing to signal");
    // Dropping a key withdraws it as well.
    drop(e.prepare_wait());
    assert_eq!(e.notify_all(), 0);
}

#[test]
fn notify_all_wakes_every_announced_waiter_and_notify_one_exactly_one() {
    const WAITERS: usize = 6;
    let e = Arc::new(Event::new().with_policy(WaitPolicy::park_only()));
    let announced = Arc::new(AtomicUsize::new(0));
    let woken = Arc::new(AtomicUsize::new(0));
    let ws: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (e, announced, woken) =
                (Arc::clone(&e), Arc::clone(&announced), Arc::clone(&woken));
            thread::spawn(move || {
                let key = e.prepare_wait();
                announced.fetch_add(1, Ordering::SeqCst);
                key.wait();
                woken.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    while announced.load(Ordering::SeqCst) < WAITERS {
        thread::yield_now();
    }
    assert!(e.notify_one());
    while woken.load(Ordering::SeqCst) < 1 {
        thread::yield_now();
    }
    assert_eq!(woken.load(Ordering::SeqCst), 1);
    assert_eq!(e.notify_all(), WAITERS - 1);
    for w in ws {
        w.join().unwrap();
    }
    assert_eq!(woken.load(Ordering::SeqCst), WAITERS);
}

#[test]
fn timed_event_wait_expires_without_notification() {
    let e = Event::new().with_policy(WaitPolicy::spin_then_park(Duration::from_micros(10)));
    let d = Deadline::from(Duration::from_millis(2));
    assert_eq!(e.prepare_wait().wait_until(&d), WaitOutcome::TimedOut);
    assert!(d.has_passed());
    assert_eq!(
        e.wait_while_until(|| true, &Deadline::from(Duration::ZERO)),
        WaitOutcome::TimedOut
    );
    assert_eq!(e.wait_while_until(|| false, &d), WaitOutcome::Woken);
}
