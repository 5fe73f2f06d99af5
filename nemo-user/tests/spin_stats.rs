//! The spin counters of `Condvar`, `Event` and `wait::spin_stats`: every adaptive wait is
//! counted once on its own condvar, and the counts are consistent with each other whatever the
//! machine's load made the waits do (spin, be refused, park).

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use nemo_user::condvar::Condvar;
use nemo_user::event::Event;
use nemo_user::wait::{SpinStats, WaitPolicy, spin_stats};

fn consistent(s: &SpinStats) {
    assert!(s.windows <= s.waits, "{s:?}");
    assert!(s.refused + s.spins <= s.windows, "{s:?}");
    assert!(s.refused_busy <= s.refused, "{s:?}");
    assert!(s.caught <= s.spins, "{s:?}");
    assert!(s.wasted_ns <= s.spin_ns, "{s:?}");
    assert!(s.parks <= s.waits, "{s:?}");
    assert!(s.parked_in_window <= s.parks, "{s:?}");
    // A wait either was woken before the spin, while spinning, or went on to park (or timed
    // out while spinning, which these tests never do).
    assert!(s.caught + s.parks <= s.waits, "{s:?}");
}

#[test]
fn a_condvar_counts_each_of_its_waits_once() {
    const ROUNDS: u64 = 2_000;
    let pair = Arc::new((Mutex::new((0u64, false)), Condvar::new(), Condvar::new()));
    assert!(WaitPolicy::default().is_adaptive(), "the condvars' policy");
    let other = Arc::clone(&pair);
    let waits_here = thread::spawn(move || {
        let (m, to_worker, to_main) = &*other;
        let mut waits = 0u64;
        for i in 0..ROUNDS {
            let mut g = m.lock().unwrap();
            while g.0 == i * 2 {
                g = to_worker.wait(g, m).unwrap();
                waits += 1;
            }
            g.0 += 1;
            to_main.notify_one();
        }
        waits
    });
    let (m, to_worker, to_main) = &*pair;
    let mut main_waits = 0u64;
    for i in 0..ROUNDS {
        let mut g = m.lock().unwrap();
        g.0 += 1;
        to_worker.notify_one();
        while g.0 == i * 2 + 1 {
            g = to_main.wait(g, m).unwrap();
            main_waits += 1;
        }
    }
    let worker_waits = waits_here.join().unwrap();
    let (a, b) = (to_worker.spin_stats(), to_main.spin_stats());
    assert_eq!(a.waits, worker_waits, "{a:?}");
    assert_eq!(b.waits, main_waits, "{b:?}");
    consistent(&a);
    consistent(&b);
    let listed = spin_stats();
    for (cv, s) in [(to_worker, a), (to_main, b)] {
        let addr = std::ptr::from_ref(cv.raw()) as usize;
        let row = listed.iter().find(|r| r.addr == addr).expect("listed");
        // Nothing waits any more, so the snapshot is the same.
        assert_eq!(row.stats, s);
    }
}

#[test]
fn a_fixed_policy_is_not_counted_and_an_event_is() {
    let fixed = Condvar::new().with_policy(WaitPolicy::spin_then_park(Duration::from_micros(5)));
    let m = Mutex::new(());
    let (_g, r) = fixed
        .wait_timeout(m.lock().unwrap(), &m, Duration::from_millis(1))
        .unwrap();
    assert!(r.timed_out());
    assert_eq!(fixed.spin_stats(), SpinStats::default());

    let event = Arc::new(Event::new());
    let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let waiter = {
        let (event, flag) = (Arc::clone(&event), Arc::clone(&flag));
        thread::spawn(move || event.wait_while(|| !flag.load(std::sync::atomic::Ordering::Acquire)))
    };
    // Nobody notifies until the counters show the waiter parked.
    let start = std::time::Instant::now();
    while event.spin_stats().parks == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the waiter never parked"
        );
        thread::sleep(Duration::from_millis(1));
    }
    flag.store(true, std::sync::atomic::Ordering::Release);
    event.notify_all();
    waiter.join().unwrap();
    let s = event.spin_stats();
    consistent(&s);
    assert!(s.waits >= 1 && s.parks >= 1, "{s:?}");
}
