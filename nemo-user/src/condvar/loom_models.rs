//! Loom models of the condvar protocol: every interleaving (within a preemption bound) of 2–3
//! threads waiting, notifying, timing out and destroying, on the very code of
//! [`super::protocol`], with the futex emulated. A lost wakeup shows up as loom's "deadlock"
//! (every thread blocked), an over-wakeup as a failed count.
//!
//! Timed waits are modelled as "the deadline passes at the moment the waiter would block", which
//! races the timeout against every point of the notifier.

use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::time::Duration;

use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
use loom::sync::{Arc, Mutex, MutexGuard};
use loom::thread;

use super::interrupt_park::park_registered;
use super::platform::Platform;
use super::protocol::Core;
use crate::futex::{MATCH_ANY, WaitResult};
use crate::park::ParkResult;
use crate::wait::{Deadline, WaitOutcome};
use crate::wake::ParkedWaker;
use crate::wake::registry::{Registry, Slots, Waker};

/// An interrupt-parked waiter on the model: its word, and the thread a wake unparks (the
/// user interrupt).
#[derive(Clone)]
struct LoomWaker(Arc<(AtomicU32, thread::Thread)>);

impl LoomWaker {
    fn current() -> Self {
        LoomWaker(Arc::new((AtomicU32::new(0), thread::current())))
    }
}

impl Waker for LoomWaker {
    fn same(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    fn wake(&self) -> bool {
        self.0.0.store(1, SeqCst);
        self.0.1.unpark();
        true
    }
}

impl ParkedWaker for LoomWaker {
    fn arm(&self, _: usize) {
        self.0.0.store(0, Relaxed);
    }

    fn disarm(&self) {}

    fn block(&self, deadline: Option<&Deadline>) -> ParkResult {
        if self.0.0.load(SeqCst) != 0 {
            return ParkResult::Woken;
        }
        if deadline.is_some() {
            // The deadline passes as the waiter would sleep.
            return ParkResult::TimedOut;
        }
        while self.0.0.load(SeqCst) == 0 {
            thread::park();
        }
        ParkResult::Woken
    }
}

type LoomRegistry = Registry<LoomWaker, Mutex<Slots<LoomWaker>>, AtomicU32>;

struct Sleeper {
    id: usize,
    addr: usize,
    bitset: u32,
    thread: thread::Thread,
}

#[derive(Default)]
struct Queues {
    sleepers: Vec<Sleeper>,
    woken: Vec<usize>,
    next_id: usize,
}

/// The futex, emulated: one queue of sleepers keyed by address, checked and changed under a loom
/// mutex (the kernel's hash-bucket lock). The kernel wakes in FIFO order among equal priorities
/// but in priority order otherwise, so the protocol must not depend on the order: `lifo` makes
/// the emulator wake the newest sleeper first.
struct LoomPlatform {
    queues: Mutex<Queues>,
    lifo: bool,
    registry: LoomRegistry,
}

fn addr(w: &AtomicU32) -> usize {
    w as *const AtomicU32 as usize
}

impl LoomPlatform {
    fn wake_where(&self, q: &mut Queues, at: usize, n: u32, bitset: u32) -> u32 {
        let mut woken = 0;
        while woken < n {
            let matching = |s: &Sleeper| s.addr == at && s.bitset & bitset != 0;
            let i = if self.lifo {
                q.sleepers.iter().rposition(matching)
            } else {
                q.sleepers.iter().position(matching)
            };
            let Some(i) = i else { break };
            let s = q.sleepers.remove(i);
            q.woken.push(s.id);
            s.thread.unpark();
            woken += 1;
        }
        woken
    }
}

impl Platform for LoomPlatform {
    type A32 = AtomicU32;
    type A64 = AtomicU64;
    const LOCK_SPINS: u32 = 0;
    // One, so that two parked waiters already exercise the requeue and the chain.
    const FANOUT: u32 = 1;

    fn futex_wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        bitset: u32,
        deadline: Option<&Deadline>,
        _shared: bool,
    ) -> WaitResult {
        let id = {
            let mut q = self.queues.lock().unwrap();
            if word.load(SeqCst) != expected {
                return WaitResult::Mismatch;
            }
            if deadline.is_some() {
                return WaitResult::TimedOut;
            }
            let id = q.next_id;
            q.next_id += 1;
            q.sleepers.push(Sleeper {
                id,
                addr: addr(word),
                bitset,
                thread: thread::current(),
            });
            id
        };
        loop {
            {
                let mut q = self.queues.lock().unwrap();
                if let Some(i) = q.woken.iter().position(|&w| w == id) {
                    q.woken.swap_remove(i);
                    return WaitResult::Woken;
                }
            }
            thread::park();
        }
    }

    fn futex_wake(&self, word: &AtomicU32, n: u32, bitset: u32, _shared: bool) -> u32 {
        let mut q = self.queues.lock().unwrap();
        self.wake_where(&mut q, addr(word), n, bitset)
    }

    fn futex_cmp_requeue(
        &self,
        from: &AtomicU32,
        to: &AtomicU32,
        nwake: u32,
        expected: u32,
        _shared: bool,
    ) -> Option<u32> {
        let mut q = self.queues.lock().unwrap();
        if from.load(SeqCst) != expected {
            return None;
        }
        let mut moved = self.wake_where(&mut q, addr(from), nwake, MATCH_ANY);
        for s in q.sleepers.iter_mut().filter(|s| s.addr == addr(from)) {
            s.addr = addr(to);
            moved += 1;
        }
        Some(moved)
    }

    fn wake_registered(&self, cv: usize, generation: u32, n: u32) -> u32 {
        if self.registry.any_on(cv) {
            self.registry.wake(cv, generation, n)
        } else {
            0
        }
    }

    fn relax(&self) {
        thread::yield_now();
    }

    fn fence(&self, o: std::sync::atomic::Ordering) {
        loom::sync::atomic::fence(o);
    }

    fn expired(&self, _: &Deadline) -> bool {
        false
    }
}

type Cv = Core<LoomPlatform>;

fn new_cv() -> Cv {
    cv_waking(false)
}

fn cv_waking(lifo: bool) -> Cv {
    Core::from_parts(
        || AtomicU32::new(0),
        || AtomicU64::new(0),
        LoomPlatform {
            queues: Mutex::new(Queues::default()),
            lifo,
            registry: Registry::new(1, || (Mutex::new(Slots::new()), AtomicU32::new(0))),
        },
    )
}

/// `pthread_cond_wait`/`timedwait` on the model: join, unlock, park, leave, relock.
fn wait<'a, T>(
    cv: &Cv,
    m: &'a Mutex<T>,
    g: MutexGuard<'a, T>,
    timed: bool,
) -> (MutexGuard<'a, T>, WaitOutcome) {
    let mut t = cv.join();
    drop(g);
    let deadline = timed.then(|| Deadline::after(Duration::from_secs(3600)));
    let d = deadline.as_ref();
    let o = cv.park_until(&mut t, d, |w, v| {
        match cv.plat.futex_wait(w, v, MATCH_ANY, d, false) {
            WaitResult::TimedOut => ParkResult::TimedOut,
            WaitResult::Mismatch | WaitResult::Woken | WaitResult::Interrupted => ParkResult::Woken,
        }
    });
    cv.leave(t);
    (m.lock().unwrap(), o)
}

/// The same wait on the interrupt rung: the waiter sleeps as a registered receiver.
fn wait_irq<'a, T>(
    cv: &Cv,
    m: &'a Mutex<T>,
    g: MutexGuard<'a, T>,
    timed: bool,
) -> (MutexGuard<'a, T>, WaitOutcome) {
    let me = LoomWaker::current();
    let mut t = cv.join();
    drop(g);
    let deadline = timed.then(|| Deadline::after(Duration::from_secs(3600)));
    let o = park_registered(cv, &mut t, &cv.plat.registry, &me, deadline.as_ref());
    cv.leave(t);
    (m.lock().unwrap(), o)
}

fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

struct Permits {
    m: Mutex<u32>,
    cv: Cv,
    woken: AtomicUsize,
    /// Waiters park on the interrupt rung.
    irq: bool,
}

impl Permits {
    fn new() -> Arc<Self> {
        Self::waking(false)
    }

    fn waking(lifo: bool) -> Arc<Self> {
        Arc::new(Permits {
            m: Mutex::new(0),
            cv: cv_waking(lifo),
            woken: AtomicUsize::new(0),
            irq: false,
        })
    }

    fn interrupt_parked() -> Arc<Self> {
        Arc::new(Permits {
            m: Mutex::new(0),
            cv: new_cv(),
            woken: AtomicUsize::new(0),
            irq: true,
        })
    }

    fn wait<'a>(
        &'a self,
        g: MutexGuard<'a, u32>,
        timed: bool,
    ) -> (MutexGuard<'a, u32>, WaitOutcome) {
        if self.irq {
            wait_irq(&self.cv, &self.m, g, timed)
        } else {
            wait(&self.cv, &self.m, g, timed)
        }
    }

    /// Takes one permit, waiting (untimed) for it.
    fn take(&self) {
        let mut g = self.m.lock().unwrap();
        while *g == 0 {
            let (g2, o) = self.wait(g, false);
            g = g2;
            if o == WaitOutcome::Woken {
                self.woken.fetch_add(1, SeqCst);
            }
        }
        *g -= 1;
    }

    /// Posts one permit and signals; returns whether a waiter was signalled.
    fn post(&self) -> bool {
        let mut g = self.m.lock().unwrap();
        *g += 1;
        let signalled = self.cv.notify_one();
        drop(g);
        signalled
    }

    /// Posts one permit and signals after unlocking (the notify then races with new waiters).
    fn post_unlocked(&self) -> bool {
        *self.m.lock().unwrap() += 1;
        self.cv.notify_one()
    }
}

#[test]
fn notify_one_is_never_lost() {
    check(|| {
        let p = Permits::new();
        let w = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        let signalled = p.post();
        w.join().unwrap();
        // Exactly as many woken returns as signals: no spurious or extra wakeups.
        assert_eq!(p.woken.load(SeqCst), usize::from(signalled));
    });
}

#[test]
fn two_waiters_two_signals_wake_exactly_two() {
    // Covers the group switch with a parked waiter of the released group (the second signal
    // releases the first group while its waiter may still be registered as parked).
    check(|| {
        let p = Permits::new();
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let p = p.clone();
                thread::spawn(move || p.take())
            })
            .collect();
        let signalled = usize::from(p.post()) + usize::from(p.post());
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(p.woken.load(SeqCst), signalled);
        assert_eq!(*p.m.lock().unwrap(), 0);
    });
}

#[test]
fn signals_from_two_notifiers_reach_every_waiter_in_any_wake_order() {
    // A signal's futex wake may still be in flight when a second notifier releases that
    // signal's group and a newer waiter parks on the same word; with the kernel waking in
    // priority order, the stray wake could hit the newer waiter. The releaser therefore moves
    // the released group's sleepers off the word before anyone can join the new group.
    check(|| {
        let p = Permits::waking(true);
        let w1 = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        let w2 = {
            let p = p.clone();
            thread::spawn(move || {
                p.take();
                p.take();
            })
        };
        let n = {
            let p = p.clone();
            thread::spawn(move || p.post_unlocked())
        };
        p.post_unlocked();
        p.post_unlocked();
        n.join().unwrap();
        w1.join().unwrap();
        w2.join().unwrap();
        assert_eq!(*p.m.lock().unwrap(), 0);
    });
}

/// `waiters` threads wait for a flag; one broadcast after setting it must release them all.
fn broadcast_releases(waiters: usize) {
    check(move || {
        let s = Arc::new((Mutex::new(false), new_cv()));
        let ws: Vec<_> = (0..waiters)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let (m, cv) = &*s;
                    let mut g = m.lock().unwrap();
                    while !*g {
                        g = wait(cv, m, g, false).0;
                    }
                })
            })
            .collect();
        {
            let (m, cv) = &*s;
            *m.lock().unwrap() = true;
            cv.notify_all();
        }
        for w in ws {
            w.join().unwrap();
        }
    });
}

#[test]
fn broadcast_to_three_parked_waiters_fans_out() {
    // With a fan-out of one, the notifier wakes one waiter and requeues two; the woken waiters
    // must pass the remaining wakes on down the chain.
    broadcast_releases(3);
}

#[test]
fn notify_all_releases_every_waiter_through_the_chain() {
    // Two parked waiters exceed the fan-out of the loom build, so a broadcast requeues one of
    // them onto the chain word and a woken waiter must pass the wake on.
    broadcast_releases(2);
}

#[test]
fn a_timed_out_waiter_never_strands_a_signal() {
    check(|| {
        let p = Permits::new();
        let took_timed = Arc::new(AtomicBool::new(false));
        let timed = {
            let (p, took) = (p.clone(), took_timed.clone());
            thread::spawn(move || {
                let mut g = p.m.lock().unwrap();
                while *g == 0 {
                    let (g2, o) = wait(&p.cv, &p.m, g, true);
                    g = g2;
                    if o == WaitOutcome::TimedOut {
                        break;
                    }
                }
                if *g > 0 {
                    *g -= 1;
                    took.store(true, SeqCst);
                }
            })
        };
        let untimed = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        p.post();
        timed.join().unwrap();
        if took_timed.load(SeqCst) {
            p.post();
        }
        // If the timed waiter had absorbed the signal meant for this one and left, it would
        // sleep forever here and loom would report a deadlock.
        untimed.join().unwrap();
        assert_eq!(*p.m.lock().unwrap(), 0);
    });
}

#[test]
fn event_without_mutex_loses_no_wakeup() {
    check(|| {
        let s = Arc::new((AtomicBool::new(false), new_cv()));
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                let (flag, cv) = &*s;
                while !flag.load(Relaxed) {
                    let mut t = cv.join();
                    cv.plat.fence(SeqCst);
                    if flag.load(Relaxed) {
                        cv.cancel(&mut t);
                        cv.leave(t);
                        break;
                    }
                    cv.park_until(&mut t, None, |w, v| {
                        cv.plat.futex_wait(w, v, MATCH_ANY, None, false);
                        ParkResult::Woken
                    });
                    cv.leave(t);
                }
            })
        };
        let (flag, cv) = &*s;
        // Relaxed, like a work-queue push whose ordering comes from the two fences.
        flag.store(true, Relaxed);
        cv.notify_one_fenced();
        worker.join().unwrap();
    });
}

/// The store-buffering core of the `Event` pattern, without blocking: the worker announces
/// itself (join, fence) and re-checks a flag; the producer publishes the flag and notifies. A
/// wakeup is lost if the worker commits to sleeping (flag not seen) while the notify sees no
/// waiter.
fn event_fence_pairing(notifier_fence: bool) {
    check(move || {
        let s = Arc::new((AtomicBool::new(false), new_cv(), AtomicBool::new(false)));
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                let (flag, cv, committed) = &*s;
                let mut t = cv.join();
                cv.plat.fence(SeqCst);
                if flag.load(Relaxed) {
                    cv.cancel(&mut t);
                    cv.leave(t);
                } else {
                    // Stays joined: it would now sleep until notified.
                    committed.store(true, SeqCst);
                }
            })
        };
        let (flag, cv, committed) = &*s;
        flag.store(true, Relaxed);
        let signalled = if notifier_fence {
            cv.notify_one_fenced()
        } else {
            cv.notify_one()
        };
        worker.join().unwrap();
        assert!(signalled || !committed.load(SeqCst), "lost wakeup");
    });
}

#[test]
fn event_fences_pair_up() {
    event_fence_pairing(true);
}

#[test]
#[should_panic(expected = "lost wakeup")]
fn event_without_the_notifier_fence_can_lose_a_wakeup() {
    // Why `Event` notifies with `notify_one_fenced`: without the fence, the notifier's load of
    // `counts` may miss the worker's join while the worker's re-check misses the flag.
    event_fence_pairing(false);
}

#[test]
fn unfenced_notify_after_unlock_reaches_a_mutex_waiter() {
    // The notify fast path has no fence: the waiter's join happens before its mutex unlock, and
    // the notifier's load after its own lock/unlock of that mutex, so it cannot miss the waiter.
    check(|| {
        let p = Permits::new();
        let w = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        let signalled = p.post_unlocked();
        w.join().unwrap();
        assert_eq!(p.woken.load(SeqCst), usize::from(signalled));
        assert_eq!(*p.m.lock().unwrap(), 0);
    });
}

#[test]
fn spin_hint_updates_never_disturb_the_broadcast_chain() {
    // The hint shares `chain` with the wakes a broadcast owes; two parked waiters exceed the
    // loom fan-out, so one is requeued onto `chain` while a third thread keeps rewriting the
    // hint. A lost owed wake would leave a waiter asleep (deadlock); a corrupted hint would
    // fail the final check.
    check(|| {
        let s = Arc::new((Mutex::new(false), new_cv()));
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let (m, cv) = &*s;
                    let mut g = m.lock().unwrap();
                    while !*g {
                        g = wait(cv, m, g, false).0;
                    }
                })
            })
            .collect();
        let hinter = {
            let s = s.clone();
            thread::spawn(move || {
                let cv = &s.1;
                assert!(cv.replace_spin_hint(0, 0x21));
                assert!(!cv.replace_spin_hint(0, 0x05));
                assert!(cv.replace_spin_hint(0x21, 0x0c));
            })
        };
        {
            let (m, cv) = &*s;
            *m.lock().unwrap() = true;
            cv.notify_all();
        }
        for w in ws {
            w.join().unwrap();
        }
        hinter.join().unwrap();
        assert_eq!(s.1.spin_hint(), 0x0c);
    });
}

#[test]
fn destroy_after_broadcast_waits_for_the_waiter_to_leave() {
    check(|| {
        let s = Arc::new((Mutex::new(false), new_cv(), AtomicBool::new(false)));
        let w = {
            let s = s.clone();
            thread::spawn(move || {
                let (m, cv, left) = &*s;
                let mut g = m.lock().unwrap();
                while !*g {
                    g = wait(cv, m, g, false).0;
                }
                left.store(true, SeqCst);
            })
        };
        let (m, cv, _) = &*s;
        let mut g = m.lock().unwrap();
        *g = true;
        cv.notify_all();
        drop(g);
        assert_eq!(cv.destroy(), Ok(()));
        assert_eq!(cv.unsignalled(), (0, 0));
        w.join().unwrap();
    });
}

// ---------------------------------------------------------------- the interrupt rung

#[test]
fn interrupt_parked_notify_one_is_never_lost() {
    check(|| {
        let p = Permits::interrupt_parked();
        let w = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        let signalled = p.post();
        w.join().unwrap();
        assert_eq!(p.woken.load(SeqCst), usize::from(signalled));
        assert!(!p.cv.plat.registry.any(), "a slot was left behind");
    });
}

#[test]
fn interrupt_parked_unfenced_notify_after_unlock_is_never_lost() {
    check(|| {
        let p = Permits::interrupt_parked();
        let w = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        let signalled = p.post_unlocked();
        w.join().unwrap();
        assert_eq!(p.woken.load(SeqCst), usize::from(signalled));
    });
}

#[test]
fn interrupt_parked_two_waiters_two_signals_wake_exactly_two() {
    // Claims race the waiters' own polls: a waiter may return on a token while another claim
    // names it, and must pass that claim on (or the other waiter sleeps forever: a deadlock).
    check(|| {
        let p = Permits::interrupt_parked();
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let p = p.clone();
                thread::spawn(move || p.take())
            })
            .collect();
        let signalled = usize::from(p.post_unlocked()) + usize::from(p.post_unlocked());
        for w in ws {
            w.join().unwrap();
        }
        assert_eq!(p.woken.load(SeqCst), signalled);
        assert_eq!(*p.m.lock().unwrap(), 0);
        assert!(!p.cv.plat.registry.any());
    });
}

#[test]
fn interrupt_parked_broadcast_wakes_every_waiter() {
    check(|| {
        let s = Arc::new((Mutex::new(false), new_cv()));
        let ws: Vec<_> = (0..2)
            .map(|_| {
                let s = s.clone();
                thread::spawn(move || {
                    let (m, cv) = &*s;
                    let mut g = m.lock().unwrap();
                    while !*g {
                        g = wait_irq(cv, m, g, false).0;
                    }
                })
            })
            .collect();
        {
            let (m, cv) = &*s;
            *m.lock().unwrap() = true;
            cv.notify_all();
        }
        for w in ws {
            w.join().unwrap();
        }
    });
}

#[test]
fn interrupt_parked_timeout_never_strands_a_signal() {
    // A timed interrupt-parked waiter and an untimed one; the signal races the timeout.
    check(|| {
        let p = Permits::interrupt_parked();
        let took_timed = Arc::new(AtomicBool::new(false));
        let timed = {
            let (p, took) = (p.clone(), took_timed.clone());
            thread::spawn(move || {
                let mut g = p.m.lock().unwrap();
                while *g == 0 {
                    let (g2, o) = p.wait(g, true);
                    g = g2;
                    if o == WaitOutcome::TimedOut {
                        break;
                    }
                }
                if *g > 0 {
                    *g -= 1;
                    took.store(true, SeqCst);
                }
            })
        };
        let untimed = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        p.post();
        timed.join().unwrap();
        if took_timed.load(SeqCst) {
            p.post();
        }
        untimed.join().unwrap();
        assert_eq!(*p.m.lock().unwrap(), 0);
        assert!(!p.cv.plat.registry.any());
    });
}

#[test]
fn interrupt_and_futex_parked_waiters_share_a_condvar() {
    // One waiter on each rung, two signals: each rung's wake must reach its own kind.
    check(|| {
        let p = Permits::new();
        let irq = {
            let p = p.clone();
            thread::spawn(move || {
                let mut g = p.m.lock().unwrap();
                while *g == 0 {
                    g = wait_irq(&p.cv, &p.m, g, false).0;
                }
                *g -= 1;
            })
        };
        let futex = {
            let p = p.clone();
            thread::spawn(move || p.take())
        };
        p.post_unlocked();
        p.post_unlocked();
        irq.join().unwrap();
        futex.join().unwrap();
        assert_eq!(*p.m.lock().unwrap(), 0);
    });
}

#[test]
fn interrupt_parked_event_without_mutex_loses_no_wakeup() {
    check(|| {
        let s = Arc::new((AtomicBool::new(false), new_cv()));
        let worker = {
            let s = s.clone();
            thread::spawn(move || {
                let (flag, cv) = &*s;
                let me = LoomWaker::current();
                while !flag.load(Relaxed) {
                    let mut t = cv.join();
                    cv.plat.fence(SeqCst);
                    if flag.load(Relaxed) {
                        cv.cancel(&mut t);
                        cv.leave(t);
                        break;
                    }
                    park_registered(cv, &mut t, &cv.plat.registry, &me, None);
                    cv.leave(t);
                }
            })
        };
        let (flag, cv) = &*s;
        flag.store(true, Relaxed);
        cv.notify_one_fenced();
        worker.join().unwrap();
    });
}

#[test]
fn a_claimed_waiter_that_returns_on_another_token_passes_the_claim_on() {
    // Two waiters already in one group, two signals. A waiter that took the first token while
    // registered (not yet asleep) can be the one the second signal claims; unless it passes the
    // claim on, the other waiter sleeps forever on the second token (loom: deadlock).
    check(|| {
        let cv = Arc::new(new_cv());
        let tickets = [cv.join(), cv.join()];
        let ws: Vec<_> = tickets
            .into_iter()
            .map(|mut t| {
                let cv = cv.clone();
                thread::spawn(move || {
                    let me = LoomWaker::current();
                    let o = park_registered(&*cv, &mut t, &cv.plat.registry, &me, None);
                    cv.leave(t);
                    o
                })
            })
            .collect();
        assert!(cv.notify_one());
        assert!(cv.notify_one());
        for w in ws {
            assert_eq!(w.join().unwrap(), WaitOutcome::Woken);
        }
        assert!(!cv.plat.registry.any());
    });
}
