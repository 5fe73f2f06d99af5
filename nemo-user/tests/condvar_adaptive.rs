//! The adaptive default policy under stress: gaps that switch between "inside the spin window"
//! and "far outside it" (so the spin hint climbs to skipping, probes and falls back), more
//! waiters than CPUs with two of them pinned to one CPU (so the spinner admission refuses and
//! stops spinners), timed waits racing notifications, split-phase waiters that make the blocking
//! call themselves (as the `LD_PRELOAD` shim does). Every count must be exact, and once every
//! waiter is gone the process must have no spinner and no parked waiter registered.
//!
//! One test function on purpose: the spinner bookkeeping is per process, and a second test
//! running beside it would make the final census meaningless.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use nemo_user::condvar::{Condvar, RawCondvar};
use nemo_user::embed::{FutexPark, Park, ParkedHere, SplitWait, spin_census};
use nemo_user::event::Event;
use nemo_user::wait::{Deadline, WaitOutcome, WaitPolicy};

mod condvar_support;

/// The gap before event `i`: runs of immediate events, of events far outside the 20 µs window
/// (long enough for the hint to reach "skip" and probe), and of events a few µs apart.
fn gap(i: u64) {
    match (i / 24) % 3 {
        0 => {}
        1 => thread::sleep(Duration::from_micros(150)),
        _ => {
            let end = Instant::now() + Duration::from_micros(5);
            while Instant::now() < end {
                std::hint::spin_loop();
            }
        }
    }
}

/// Pins the calling thread to the first core, if the machine lets it.
fn pin_first_core() {
    if let Some(core) = core_affinity::get_core_ids().and_then(|c| c.first().copied()) {
        core_affinity::set_for_current(core);
    }
}

/// Broadcast generations under the adaptive default, the first two waiters pinned to one core
/// and `gap` between generations: every waiter sees every generation exactly once.
fn broadcast_generations(waiters: usize, generations: u64) {
    condvar_support::broadcast_generations(
        "adaptive",
        waiters,
        generations,
        || {
            // The process-wide default policy, which is adaptive.
            assert!(WaitPolicy::default().is_adaptive());
            Condvar::new()
        },
        |w| {
            if w < 2 {
                pin_first_core();
            }
        },
        Some(gap),
    );
}

/// The condvar a permit run drives, and how its takers wait (`None`: untimed). The wait
/// returns the relocked guard and whether it was woken (not timed out).
trait PermitCv: Send + Sync + 'static {
    fn take_wait<'a>(
        &self,
        m: &'a Mutex<u64>,
        g: MutexGuard<'a, u64>,
        timeout: Option<Duration>,
    ) -> (MutexGuard<'a, u64>, bool);
    fn notify_one(&self) -> bool;
    fn notify_all(&self) -> usize;
}

impl PermitCv for Condvar {
    fn take_wait<'a>(
        &self,
        m: &'a Mutex<u64>,
        g: MutexGuard<'a, u64>,
        timeout: Option<Duration>,
    ) -> (MutexGuard<'a, u64>, bool) {
        match timeout {
            Some(t) => {
                let (g, r) = self.wait_timeout(g, m, t).unwrap();
                (g, !r.timed_out())
            }
            None => (self.wait(g, m).unwrap(), true),
        }
    }
    fn notify_one(&self) -> bool {
        Condvar::notify_one(self)
    }
    fn notify_all(&self) -> usize {
        Condvar::notify_all(self)
    }
}

/// Split-phase waiters, as the `LD_PRELOAD` shim waits.
impl PermitCv for RawCondvar {
    fn take_wait<'a>(
        &self,
        m: &'a Mutex<u64>,
        g: MutexGuard<'a, u64>,
        timeout: Option<Duration>,
    ) -> (MutexGuard<'a, u64>, bool) {
        let (g, o) = split_phase_wait(self, m, g, timeout);
        (g, o == WaitOutcome::Woken)
    }
    fn notify_one(&self) -> bool {
        RawCondvar::notify_one(self)
    }
    fn notify_all(&self) -> usize {
        RawCondvar::notify_all(self)
    }
}

struct Permits<C> {
    m: Mutex<u64>,
    cv: C,
    taken: AtomicU64,
    woken: AtomicUsize,
    signalled: AtomicUsize,
}

/// Permits posted one at a time with `notify_one`, taken by waiters every other one of which
/// uses a short timeout, the first `pinned` of them on one CPU: every permit is taken exactly
/// once and no notification is lost to a timeout. Returns the condvar, idle.
fn permits_with_timeouts<C: PermitCv>(cv: C, takers: usize, pinned: usize, permits: u64) -> C {
    let s = Arc::new(Permits {
        m: Mutex::new(0),
        cv,
        taken: AtomicU64::new(0),
        woken: AtomicUsize::new(0),
        signalled: AtomicUsize::new(0),
    });
    let handles: Vec<_> = (0..takers)
        .map(|w| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                if w < pinned {
                    pin_first_core();
                }
                let timeout = (w % 2 == 1).then_some(Duration::from_micros(40));
                let mut mine = 0u64;
                loop {
                    let mut g = s.m.lock().unwrap();
                    while *g == 0 && s.taken.load(Ordering::SeqCst) < permits {
                        let (g2, woken) = s.cv.take_wait(&s.m, g, timeout);
                        g = g2;
                        if woken {
                            s.woken.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    if *g == 0 {
                        return mine;
                    }
                    *g -= 1;
                    mine += 1;
                    if s.taken.fetch_add(1, Ordering::SeqCst) + 1 == permits {
                        // The last permit: release whoever still waits for one.
                        let released = s.cv.notify_all();
                        s.signalled.fetch_add(released, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    for i in 0..permits {
        gap(i);
        let mut g = s.m.lock().unwrap();
        *g += 1;
        if s.cv.notify_one() {
            s.signalled.fetch_add(1, Ordering::SeqCst);
        }
    }
    let total: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, permits);
    assert_eq!(*s.m.lock().unwrap(), 0);
    // No spurious wakeups and no lost ones: each signal, and each waiter the final broadcast
    // released unsignalled, is exactly one woken return (timed or not).
    assert_eq!(
        s.woken.load(Ordering::SeqCst),
        s.signalled.load(Ordering::SeqCst)
    );
    match Arc::try_unwrap(s) {
        Ok(s) => s.cv,
        Err(_) => unreachable!("every taker has been joined"),
    }
}

/// One wait the way a C shim makes it with the split-phase API: the adaptive spin of
/// `spin_wait`, then its own blocking call with the CPU registration held across it, the
/// deadline checked and the wait abandoned by hand. Returns the relocked guard and whether a
/// notification was consumed.
fn split_phase_wait<'a>(
    cv: &RawCondvar,
    m: &'a Mutex<u64>,
    g: MutexGuard<'a, u64>,
    timeout: Option<Duration>,
) -> (MutexGuard<'a, u64>, WaitOutcome) {
    let deadline = timeout.map(Deadline::from);
    let mut t = cv.begin_wait();
    drop(g);
    let policy = WaitPolicy::BUILTIN;
    let outcome = match cv.spin_wait(&mut t, &policy, deadline.as_ref()) {
        Some(o) => o,
        None => loop {
            match cv.prepare_park(&mut t, deadline.as_ref()) {
                Err(o) => break o,
                Ok(req) => {
                    let registered = ParkedHere::register();
                    FutexPark.park(&req);
                    drop(registered);
                    cv.end_park(&mut t);
                    if let Some(o) = cv.poll(&mut t) {
                        break o;
                    }
                    if deadline.as_ref().is_some_and(Deadline::has_passed) {
                        break cv.abandon(&mut t);
                    }
                }
            }
        },
    };
    cv.finish_wait(t);
    (m.lock().unwrap(), outcome)
}

/// Mutex-free producer/consumer on an `Event` with the same gaps: the sum is exact.
fn event_items(workers: usize, items: u64) {
    struct S {
        next: Mutex<Vec<u64>>,
        done: AtomicU64,
        sum: AtomicU64,
        ready: Event,
    }
    let s = Arc::new(S {
        next: Mutex::new(Vec::new()),
        done: AtomicU64::new(0),
        sum: AtomicU64::new(0),
        ready: Event::new(),
    });
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                if w == 0 {
                    pin_first_core();
                }
                loop {
                    s.ready.wait_while(|| {
                        s.next.lock().unwrap().is_empty() && s.done.load(Ordering::SeqCst) == 0
                    });
                    let item = s.next.lock().unwrap().pop();
                    match item {
                        Some(x) => {
                            s.sum.fetch_add(x, Ordering::SeqCst);
                        }
                        None if s.done.load(Ordering::SeqCst) != 0 => return,
                        None => {}
                    }
                }
            })
        })
        .collect();
    for i in 1..=items {
        gap(i);
        s.next.lock().unwrap().push(i);
        s.ready.notify_one();
    }
    // Drain, then stop everyone.
    while !s.next.lock().unwrap().is_empty() {
        s.ready.notify_all();
        thread::yield_now();
    }
    s.done.store(1, Ordering::SeqCst);
    s.ready.notify_all();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(s.sum.load(Ordering::SeqCst), items * (items + 1) / 2);
}

#[test]
fn adaptive_waits_lose_nothing_and_leave_nothing_registered() {
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    // More waiters than CPUs, wherever this runs.
    let waiters = cpus + 2;
    broadcast_generations(waiters, 600);
    permits_with_timeouts(
        Condvar::new().with_policy(WaitPolicy::BUILTIN),
        waiters,
        1,
        1500,
    );
    event_items(waiters, 1500);
    let raw = RawCondvar::new();
    assert!(WaitPolicy::from(raw.policy_class()).is_adaptive());
    let raw = permits_with_timeouts(raw, waiters, 2, 1500);
    assert_eq!(raw.destroy(), Ok(()));
    let census = spin_census();
    assert_eq!(census.spinning, 0, "{census:?}");
    assert_eq!(census.parked, 0, "{census:?}");
}
