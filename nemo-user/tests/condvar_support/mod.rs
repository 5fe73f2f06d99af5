//! Helpers shared by the condvar stress tests: stress scenarios that several `Condvar` test files
//! run, each with its own condvars (a wait policy, an interrupt rung, the adaptive default): a
//! broadcast that every waiter must see generation by generation, and a bounded buffer whose sums
//! must come out exact.
#![allow(dead_code)] // each test file uses its own subset

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread;

use nemo_user::condvar::Condvar;

/// A broadcaster advances a generation only after every waiter acknowledged the previous one;
/// each of `waiters` threads must see every one of `generations` exactly once (none skipped,
/// none seen twice). `make_cv` builds both condvars; `on_waiter_start(w)` runs first on waiter
/// `w`'s thread; `gap`, if given, runs between generations with the mutex released. `label`
/// names the run in failure messages.
pub fn broadcast_generations(
    label: &str,
    waiters: usize,
    generations: u64,
    make_cv: impl Fn() -> Condvar,
    on_waiter_start: impl Fn(usize) + Send + Sync + 'static,
    gap: Option<fn(u64)>,
) {
    struct S {
        m: Mutex<(u64, usize)>, // (generation, acks for it)
        gen_cv: Condvar,
        ack_cv: Condvar,
    }
    let s = Arc::new(S {
        m: Mutex::new((0, waiters)),
        gen_cv: make_cv(),
        ack_cv: make_cv(),
    });
    let on_waiter_start = Arc::new(on_waiter_start);
    let handles: Vec<_> = (0..waiters)
        .map(|w| {
            let s = Arc::clone(&s);
            let on_waiter_start = Arc::clone(&on_waiter_start);
            thread::spawn(move || {
                on_waiter_start(w);
                let (mut seen, mut last) = (0u64, 0u64);
                let mut g = s.m.lock().unwrap();
                while last < generations {
                    g = s.gen_cv.wait_while(g, &s.m, |st| st.0 == last).unwrap();
                    assert_eq!(g.0, last + 1, "skipped a generation");
                    last = g.0;
                    seen += 1;
                    g.1 += 1;
                    if g.1 == waiters {
                        s.ack_cv.notify_one();
                    }
                }
                seen
            })
        })
        .collect();
    for i in 0..generations {
        let mut g = s.m.lock().unwrap();
        g = s.ack_cv.wait_while(g, &s.m, |st| st.1 < waiters).unwrap();
        if let Some(gap) = gap {
            drop(g);
            gap(i);
            g = s.m.lock().unwrap();
        }
        g.0 += 1;
        g.1 = 0;
        s.gen_cv.notify_all();
    }
    for h in handles {
        assert_eq!(h.join().unwrap(), generations, "{label}");
    }
}

/// Bounded buffer of `cap` items with `notify_one` on both sides: `producers` threads push
/// `items` distinct numbers each, `consumers` threads pop them; every item produced is
/// consumed exactly once, so the consumers' count and sum equal the producers'.
pub fn producer_consumer_sums(
    label: &str,
    producers: u64,
    consumers: usize,
    items: u64,
    cap: usize,
    make_cv: impl Fn() -> Condvar,
) {
    struct S {
        q: Mutex<(VecDeque<u64>, u64)>, // (buffer, producers finished)
        not_empty: Condvar,
        not_full: Condvar,
    }
    let s = Arc::new(S {
        q: Mutex::new((VecDeque::new(), 0)),
        not_empty: make_cv(),
        not_full: make_cv(),
    });
    let producer_threads: Vec<_> = (0..producers)
        .map(|p| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                for i in 0..items {
                    let mut g = s.q.lock().unwrap();
                    g = s
                        .not_full
                        .wait_while(g, &s.q, |st| st.0.len() >= cap)
                        .unwrap();
                    g.0.push_back(p * items + i + 1);
                    drop(g);
                    s.not_empty.notify_one();
                }
                s.q.lock().unwrap().1 += 1;
                s.not_empty.notify_all();
            })
        })
        .collect();
    let consumer_threads: Vec<_> = (0..consumers)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let (mut sum, mut n) = (0u64, 0u64);
                loop {
                    let mut g = s.q.lock().unwrap();
                    g = s
                        .not_empty
                        .wait_while(g, &s.q, |st| st.0.is_empty() && st.1 < producers)
                        .unwrap();
                    match g.0.pop_front() {
                        Some(x) => {
                            drop(g);
                            s.not_full.notify_one();
                            sum += x;
                            n += 1;
                        }
                        None => return (sum, n),
                    }
                }
            })
        })
        .collect();
    for p in producer_threads {
        p.join().unwrap();
    }
    let (sum, n) = consumer_threads
        .into_iter()
        .map(|c| c.join().unwrap())
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let total = producers * items;
    assert_eq!(n, total, "{label}");
    assert_eq!(sum, total * (total + 1) / 2, "{label}");
}
