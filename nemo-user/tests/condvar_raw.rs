//! `RawCondvar` as a C shim uses it: all-zero initialisation, glibc mutexes (error-checking,
//! robust), both clocks, the split-phase API, destruction, and the error path of `unlock`.

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nemo_user::ErrorKind;
use nemo_user::condvar::{Condvar, RawCondvar};
use nemo_user::embed::{FutexPark, SplitWait};
use nemo_user::wait::{Clock, Deadline, PolicyClass, WaitOutcome, WaitPolicy};

fn policies() -> [WaitPolicy; 4] {
    [
        WaitPolicy::BUILTIN,
        WaitPolicy::park_only(),
        WaitPolicy::spin_then_park(Duration::from_micros(5)),
        WaitPolicy::spin_only(),
    ]
}

/// A glibc mutex in a stable place, with errno-style lock/unlock.
struct PthreadMutex(Box<UnsafeCell<libc::pthread_mutex_t>>);

// SAFETY: a pthread mutex is made to be used from several threads; all access goes through the
// pthread functions.
unsafe impl Sync for PthreadMutex {}
// SAFETY: as above.
unsafe impl Send for PthreadMutex {}

impl PthreadMutex {
    fn new(kind: libc::c_int, robust: bool) -> Self {
        let m = PthreadMutex(Box::new(UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER)));
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: attr is initialised by pthread_mutexattr_init before use and destroyed after;
        // the mutex memory is owned by `m` and not yet shared.
        unsafe {
            assert_eq!(libc::pthread_mutexattr_init(attr.as_mut_ptr()), 0);
            assert_eq!(libc::pthread_mutexattr_settype(attr.as_mut_ptr(), kind), 0);
            if robust {
                assert_eq!(
                    libc::pthread_mutexattr_setrobust(
                        attr.as_mut_ptr(),
                        libc::PTHREAD_MUTEX_ROBUST
                    ),
                    0
                );
            }
            assert_eq!(libc::pthread_mutex_init(m.0.get(), attr.as_ptr()), 0);
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        }
        m
    }

    fn lock(&self) -> i32 {
        // SAFETY: the mutex was initialised in `new` and lives as long as `self`.
        unsafe { libc::pthread_mutex_lock(self.0.get()) }
    }

    fn unlock(&self) -> Result<(), i32> {
        // SAFETY: as above.
        match unsafe { libc::pthread_mutex_unlock(self.0.get()) } {
            0 => Ok(()),
            e => Err(e),
        }
    }

    fn consistent(&self) -> i32 {
        // SAFETY: as above.
        unsafe { libc::pthread_mutex_consistent(self.0.get()) }
    }
}

#[test]
fn all_zero_bytes_are_a_working_condvar() {
    // SAFETY: every field of RawCondvar is an atomic integer, for which all-zero is valid.
    let cv: RawCondvar = unsafe { MaybeUninit::zeroed().assume_init() };
    assert_eq!(cv.clock(), Clock::Realtime);
    assert!(!cv.is_process_shared());
    let s = Arc::new((Mutex::new(0u32), cv));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let s = Arc::clone(&s);
            thread::spawn(move || {
                let (m, cv) = &*s;
                let mut g = m.lock().unwrap();
                while *g == 0 {
                    let (_, relocked) = cv
                        .wait_raw(
                            || {
                                drop(g);
                                Ok::<(), ()>(())
                            },
                            || m.lock().unwrap(),
                            None,
                        )
                        .unwrap();
                    g = relocked;
                }
            })
        })
        .collect();
    let (m, cv) = &*s;
    while cv.unsignalled_waiters() < 3 {
        thread::yield_now();
    }
    *m.lock().unwrap() = 1;
    assert_eq!(cv.notify_all(), 3);
    for w in waiters {
        w.join().unwrap();
    }
}

#[test]
fn timeouts_are_never_early_on_either_clock() {
    for policy in policies() {
        for clock in [Clock::Realtime, Clock::Monotonic] {
            let cv = RawCondvar::with_attributes(clock, false, PolicyClass::Default);
            for us in [0u64, 15, 60, 250, 1500] {
                let deadline = Deadline::after_on(cv.clock(), Duration::from_micros(us));
                assert_eq!(deadline.clock(), clock);
                let (o, ()) = cv
                    .wait_raw_with(
                        &policy,
                        &FutexPark,
                        || Ok::<(), ()>(()),
                        || (),
                        Some(&deadline),
                    )
                    .unwrap();
                assert_eq!(o, WaitOutcome::TimedOut);
                assert!(
                    deadline.has_passed(),
                    "{policy:?} {clock:?}: woke before {:?}",
                    deadline.at()
                );
            }
            assert_eq!(cv.unsignalled_waiters(), 0);
        }
    }
}

#[test]
fn condvar_wait_timeout_is_never_early() {
    let (m, cv) = (
        Mutex::new(()),
        Condvar::new().with_policy(WaitPolicy::park_only()),
    );
    for ms in [0u64, 1, 3] {
        let start = Instant::now();
        let (g, r) = cv
            .wait_timeout(m.lock().unwrap(), &m, Duration::from_millis(ms))
            .unwrap();
        assert!(r.timed_out());
        assert!(start.elapsed() >= Duration::from_millis(ms));
        drop(g);
    }
    let (g, r) = cv
        .wait_timeout_while(m.lock().unwrap(), &m, Duration::from_millis(1), |_| true)
        .unwrap();
    assert!(r.timed_out());
    drop(g);
    let (_g, r) = cv
        .wait_timeout_while(m.lock().unwrap(), &m, Duration::from_millis(1), |_| false)
        .unwrap();
    assert!(!r.timed_out());
}

#[test]
fn error_checking_mutex_unlock_failure_is_returned_and_leaves_no_waiter() {
    let m = PthreadMutex::new(libc::PTHREAD_MUTEX_ERRORCHECK, false);
    let cv = RawCondvar::new();
    // Not locked by this thread: glibc's unlock fails with EPERM.
    let relocked = AtomicBool::new(false);
    let r = cv.wait_raw(
        || m.unlock(),
        || {
            relocked.store(true, Ordering::SeqCst);
            m.lock()
        },
        None,
    );
    assert_eq!(r.map(|(o, _)| o), Err(libc::EPERM));
    assert!(
        !relocked.load(Ordering::SeqCst),
        "must not relock after a failed unlock"
    );
    assert_eq!(cv.unsignalled_waiters(), 0);
    assert!(!cv.notify_one());
}

#[test]
fn a_signal_consumed_before_a_failing_unlock_is_passed_on() {
    let cv = Arc::new(RawCondvar::new());
    let woken = Arc::new(AtomicBool::new(false));
    let other = {
        let (cv, woken) = (Arc::clone(&cv), Arc::clone(&woken));
        thread::spawn(move || {
            let (o, ()) = cv
                .wait_raw_with(
                    &WaitPolicy::park_only(),
                    &FutexPark,
                    || Ok::<(), ()>(()),
                    || (),
                    None,
                )
                .unwrap();
            assert_eq!(o, WaitOutcome::Woken);
            woken.store(true, Ordering::SeqCst);
        })
    };
    while cv.unsignalled_waiters() < 1 {
        thread::yield_now();
    }
    // A notification lands between this waiter's registration and its (failing) unlock.
    let r = cv.wait_raw(
        || {
            assert!(cv.notify_one());
            Err(libc::EPERM)
        },
        || (),
        None,
    );
    assert_eq!(r.map(|(o, ())| o), Err(libc::EPERM));
    other.join().unwrap();
    assert!(woken.load(Ordering::SeqCst));
    assert_eq!(cv.unsignalled_waiters(), 0);
}

#[test]
fn robust_mutex_owner_death_comes_back_from_the_relock() {
    let m = Arc::new(PthreadMutex::new(libc::PTHREAD_MUTEX_NORMAL, true));
    let cv = Arc::new(RawCondvar::new());
    let flag = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (m, cv, flag) = (Arc::clone(&m), Arc::clone(&cv), Arc::clone(&flag));
        thread::spawn(move || {
            assert_eq!(m.lock(), 0);
            let mut last = 0;
            while !flag.load(Ordering::SeqCst) {
                let (_, rc) = cv.wait_raw(|| m.unlock(), || m.lock(), None).unwrap();
                last = rc;
            }
            if last == libc::EOWNERDEAD {
                assert_eq!(m.consistent(), 0);
            }
            assert_eq!(m.unlock(), Ok(()));
            last
        })
    };
    while cv.unsignalled_waiters() < 1 {
        thread::yield_now();
    }
    {
        let (m, cv, flag) = (Arc::clone(&m), Arc::clone(&cv), Arc::clone(&flag));
        // This thread exits while holding the robust mutex.
        thread::spawn(move || {
            assert_eq!(m.lock(), 0);
            flag.store(true, Ordering::SeqCst);
            cv.notify_one();
        })
        .join()
        .unwrap();
    }
    assert_eq!(waiter.join().unwrap(), libc::EOWNERDEAD);
}

#[test]
fn split_phase_abandon_consumes_a_pending_signal() {
    let cv = RawCondvar::new();
    let mut t = cv.begin_wait();
    assert_eq!(cv.unsignalled_waiters(), 1);
    assert!(cv.notify_one());
    assert_eq!(cv.unsignalled_waiters(), 0);
    assert_eq!(cv.abandon(&mut t), WaitOutcome::Woken);
    assert_eq!(cv.abandon(&mut t), WaitOutcome::Woken, "idempotent");
    cv.finish_wait(t);

    // Without a signal, abandoning withdraws the waiter.
    let mut t = cv.begin_wait();
    assert!(cv.poll(&mut t).is_none());
    let req = cv.prepare_park(&mut t, None).unwrap();
    assert!(!req.shared);
    // Abandon straight from the parked state (a cancellation cleanup handler would).
    assert_eq!(cv.abandon(&mut t), WaitOutcome::TimedOut);
    cv.finish_wait(t);
    assert_eq!(cv.unsignalled_waiters(), 0);
    assert!(!cv.notify_one());
    assert_eq!(cv.destroy(), Ok(()));
}

#[test]
fn destroy_refuses_unnotified_waiters_and_waits_for_notified_ones() {
    let cv = Arc::new(RawCondvar::new());
    let mut t = cv.begin_wait();
    let busy = cv.destroy().unwrap_err();
    assert_eq!((busy.kind(), busy.errno()), (ErrorKind::Busy, libc::EBUSY));
    assert_eq!(
        busy.to_string(),
        "condvar is busy: 1 waiter(s) have not been notified"
    );
    assert_eq!(cv.notify_all(), 1);
    // The waiter is notified but has not left: destroy must wait for it.
    let done = Arc::new(AtomicUsize::new(0));
    let destroyer = {
        let (cv, done) = (Arc::clone(&cv), Arc::clone(&done));
        thread::spawn(move || {
            let r = cv.destroy();
            done.store(1, Ordering::SeqCst);
            r
        })
    };
    thread::sleep(Duration::from_millis(20));
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "destroy returned while a waiter was inside"
    );
    assert_eq!(cv.poll(&mut t), Some(WaitOutcome::Woken));
    cv.finish_wait(t);
    assert_eq!(destroyer.join().unwrap(), Ok(()));
}

#[test]
fn the_condvar_clock_follows_the_attribute() {
    assert_eq!(RawCondvar::new().clock(), Clock::Realtime);
    for clock in [Clock::Monotonic, Clock::Realtime] {
        let cv = RawCondvar::with_attributes(clock, false, PolicyClass::Default);
        assert_eq!(cv.clock(), clock);
    }
}
