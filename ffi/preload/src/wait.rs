//! The non-blocking steps of a wait, which `c/cond_wait.c` strings together around its own
//! futex call (see the crate docs for why the blocking call is made in C):
//!
//! ```text
//! begin    check arguments (EINVAL), join the condvar, unlock the mutex (EPERM), spin
//!          → an errno value: return it, the mutex still held
//!          → DONE: go to finish            → PARK: go to prepare
//! prepare  register as parked (on the condvar, and on this CPU for the spinner admission),
//!          fill in the futex call
//!          → 0: the wait is over, go to finish
//!          → 1: C makes the futex call (cancellable), then calls parked
//! parked   unregister (both), check for a notification, the deadline
//!          → 1: go to finish               → 0: go to prepare
//! finish   leave the condvar, relock the mutex → 0, ETIMEDOUT or the relock's error
//! cancel   (cleanup handler, instead of finish) unregister from this CPU, withdraw, pass on
//!          a consumed signal, relock
//! ```
//!
//! A `WaitState` lives in the C frame (as opaque bytes) from `begin` to `finish` or `cancel`.

use std::ffi::c_int;
use std::mem::MaybeUninit;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use libc::{EINVAL, clockid_t, pthread_cond_t, pthread_mutex_t, timespec};
use nemo_c_boundary::{deadline, guard};
use nemo_user::condvar::{RawCondvar, WaitTicket};
use nemo_user::embed::{ParkedHere, SplitWait};
use nemo_user::wait::{Clock, Deadline, WaitOutcome, WaitPolicy};
use uintr_sys::futex;

use crate::pthread::condvar;

/// Size and alignment of the buffer `c/cond_wait.c` reserves (`NEMO_WAIT_STATE_SIZE`).
const STATE_SIZE: usize = 96;
const STATE_ALIGN: usize = 16;
const _: () = assert!(size_of::<WaitState>() <= STATE_SIZE);
const _: () = assert!(align_of::<WaitState>() <= STATE_ALIGN);

/// `begin` results other than an errno value.
const STEP_DONE: c_int = -1;
const STEP_PARK: c_int = -2;

/// Which deadline a wait has (`WAIT_*` in the C file).
const WAIT_PLAIN: c_int = 0;
const WAIT_TIMED: c_int = 1;
const WAIT_CLOCK: c_int = 2;

/// Futex waits made, for `NEMO_PRELOAD_VERBOSE=2`; counted only when that asked for it, so
/// that parking waiters do not all write one cache line.
static PARKS: AtomicU64 = AtomicU64::new(0);
static COUNT_PARKS: AtomicBool = AtomicBool::new(false);

/// Starts counting parked waits.
pub(crate) fn count_parks() {
    COUNT_PARKS.store(true, Ordering::Relaxed);
}

/// How many times a waiter has blocked in the kernel since [`count_parks`].
pub(crate) fn parks() -> u64 {
    PARKS.load(Ordering::Relaxed)
}

/// One waiter's wait, from `begin` to `finish`/`cancel`.
pub(crate) struct WaitState {
    cv: *const RawCondvar,
    mutex: *mut pthread_mutex_t,
    deadline: Option<Deadline>,
    /// `None` once finished.
    ticket: Option<WaitTicket>,
    outcome: Option<WaitOutcome>,
    /// Registered as parked on a CPU from `prepare` until the futex call returns (`parked`) or
    /// is cancelled (`cancel`): nothing drops a `WaitState`, so each exit takes it.
    on_cpu: Option<ParkedHere>,
}

/// One `FUTEX_WAIT_BITSET` call (`struct nemo_park_args` in the C file).
#[repr(C)]
pub(crate) struct ParkArgs {
    word: *const u32,
    expected: u32,
    op: c_int,
    has_deadline: c_int,
    deadline: timespec,
}

impl WaitState {
    fn cv(&self) -> &RawCondvar {
        // SAFETY: set by `begin` from a checked pointer that the caller keeps valid for the
        // whole wait (POSIX: a condvar may not be destroyed while waited on).
        unsafe { &*self.cv }
    }
}

/// The deadline of a wait, checked as glibc does before anything else: `EINVAL` for a missing
/// `abstime`, a `tv_nsec` outside `[0, 1e9)`, or a clock a condvar cannot use.
fn deadline_of(
    cv: &RawCondvar,
    kind: c_int,
    clock: clockid_t,
    abstime: *const timespec,
) -> Result<Option<Deadline>, c_int> {
    let clock = match kind {
        WAIT_PLAIN => return Ok(None),
        WAIT_TIMED => cv.clock(),
        WAIT_CLOCK => Clock::try_from(clock).map_err(|e| e.errno())?,
        _ => return Err(EINVAL),
    };
    // SAFETY: the caller passes a null or readable timespec.
    unsafe { deadline(clock, abstime) }.map(Some)
}

/// Starts a wait: checks the arguments, joins the condvar, releases the mutex and climbs the
/// spinning rungs of the condvar's policy (for the adaptive default: the window its spin hint
/// allows, if the spinner admission grants one). Returns `STEP_DONE` (call `finish`), `STEP_PARK`
/// (block, then call `prepare`), or an errno value with the mutex still held and nothing to
/// finish.
///
/// # Safety
/// `st` points to `STATE_SIZE` writable bytes aligned to `STATE_ALIGN`; `cond`, `mutex` and
/// `abstime` are what the caller of `pthread_cond_*wait` passed.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nemo_preload_rs_wait_begin(
    st: *mut MaybeUninit<WaitState>,
    cond: *mut pthread_cond_t,
    mutex: *mut pthread_mutex_t,
    kind: c_int,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        let Some(cv) = (unsafe { condvar(cond) }) else {
            return EINVAL;
        };
        if st.is_null() || mutex.is_null() {
            return EINVAL;
        }
        let deadline = match deadline_of(cv, kind, clock, abstime) {
            Ok(d) => d,
            Err(e) => return e,
        };
        let mut ticket = cv.begin_wait();
        // SAFETY: the caller holds `mutex` (POSIX); an error-checking mutex reports EPERM if not.
        let rc = unsafe { libc::pthread_mutex_unlock(mutex) };
        if rc != 0 {
            withdraw(cv, ticket);
            return rc;
        }
        let policy = WaitPolicy::from(cv.policy_class());
        let outcome = cv.spin_wait(&mut ticket, &policy, deadline.as_ref());
        let state = WaitState {
            cv,
            mutex,
            deadline,
            ticket: Some(ticket),
            outcome,
            on_cpu: None,
        };
        // SAFETY: `st` is writable and suitably aligned per the caller.
        unsafe { (*st).write(state) };
        if outcome.is_some() {
            STEP_DONE
        } else {
            STEP_PARK
        }
    })
}

/// Ends a ticket early without keeping what it consumed: a signal that reached this waiter is
/// passed on (POSIX: a waiter that does not return normally must not swallow a signal meant for
/// the others).
fn withdraw(cv: &RawCondvar, mut ticket: WaitTicket) {
    if cv.abandon(&mut ticket) == WaitOutcome::Woken {
        cv.notify_one();
    }
    cv.finish_wait(ticket);
}

/// Registers the waiter as parked and fills `args` with the futex call to make. Returns 1 to
/// park, 0 when the wait is over (call `finish`).
///
/// # Safety
/// `st` was initialised by a `begin` that returned `STEP_PARK`; `args` is writable.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nemo_preload_rs_wait_prepare(
    st: *mut WaitState,
    args: *mut ParkArgs,
) -> c_int {
    guard(|| {
        // SAFETY: initialised by `begin` and used by this thread only.
        let st = unsafe { &mut *st };
        // SAFETY: as in `WaitState::cv`; the reference does not borrow `st`.
        let cv = unsafe { &*st.cv };
        let Some(ticket) = st.ticket.as_mut() else {
            return 0;
        };
        match cv.prepare_park(ticket, st.deadline.as_ref()) {
            Err(outcome) => {
                st.outcome = Some(outcome);
                0
            }
            Ok(req) => {
                let op = futex::wait_op(
                    req.shared,
                    req.deadline
                        .map_or(libc::CLOCK_MONOTONIC, |d| d.clock().into()),
                );
                let deadline = req.deadline.map(Deadline::at);
                let a = ParkArgs {
                    word: req.word.as_ptr(),
                    expected: req.expected,
                    op,
                    has_deadline: c_int::from(deadline.is_some()),
                    deadline: deadline.unwrap_or(timespec {
                        tv_sec: 0,
                        tv_nsec: 0,
                    }),
                };
                // SAFETY: writable per the caller.
                unsafe { args.write(a) };
                if COUNT_PARKS.load(Ordering::Relaxed) {
                    PARKS.fetch_add(1, Ordering::Relaxed);
                }
                // Last, so that no Rust step runs between it and the futex call.
                st.on_cpu = Some(ParkedHere::register());
                1
            }
        }
    })
}

/// Accounts for a return from the futex call (`err`: its errno, 0 if it returned 0). Returns 1
/// when the wait is over (call `finish`), 0 to park again (call `prepare`).
///
/// # Safety
/// `st` was prepared by `prepare`, which returned 1.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nemo_preload_rs_wait_parked(
    st: *mut WaitState,
    err: c_int,
) -> c_int {
    guard(|| {
        // SAFETY: initialised by `begin` and used by this thread only.
        let st = unsafe { &mut *st };
        st.on_cpu = None;
        // SAFETY: as in `WaitState::cv`; the reference does not borrow `st`.
        let cv = unsafe { &*st.cv };
        let Some(ticket) = st.ticket.as_mut() else {
            return 1;
        };
        cv.end_park(ticket);
        if let Some(o) = cv.poll(ticket) {
            st.outcome = Some(o);
            return 1;
        }
        if err == libc::ETIMEDOUT || st.deadline.is_some_and(|d| d.has_passed()) {
            // Withdraw; a notification that raced the deadline still counts as woken.
            st.outcome = Some(cv.abandon(ticket));
            return 1;
        }
        0
    })
}

/// Ends a wait that is over: releases the ticket and re-acquires the mutex. Returns what
/// `pthread_cond_*wait` returns: the relock's error if it failed (`EOWNERDEAD` from a robust
/// mutex whose owner died), else `ETIMEDOUT` or 0.
///
/// # Safety
/// `st` was initialised by `begin`; not used again afterwards.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nemo_preload_rs_wait_finish(st: *mut WaitState) -> c_int {
    guard(|| {
        // SAFETY: initialised by `begin` and used by this thread only.
        let st = unsafe { &mut *st };
        st.on_cpu = None;
        let timed_out = match st.ticket.take() {
            Some(mut t) => {
                let cv = st.cv();
                let outcome = match st.outcome {
                    Some(o) => o,
                    None => cv.abandon(&mut t),
                };
                cv.finish_wait(t);
                outcome.timed_out()
            }
            None => false,
        };
        // SAFETY: the mutex the caller passed, released by `begin`.
        let rc = unsafe { libc::pthread_mutex_lock(st.mutex) };
        if rc != 0 {
            rc
        } else if timed_out {
            libc::ETIMEDOUT
        } else {
            0
        }
    })
}

/// The cleanup handler of a cancelled wait: withdraws the waiter (passing on a signal it had
/// consumed) and re-acquires the mutex, so the caller's cleanup handlers run with it held.
///
/// # Safety
/// `st` points to a state initialised by `begin` and not yet finished.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn nemo_preload_rs_wait_cancel(st: *mut std::ffi::c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: per the caller; the cancelled thread is the only user.
        let st = unsafe { &mut *st.cast::<WaitState>() };
        // Cancelled in the futex call (or just before it): the registration must not outlive
        // the wait, or this CPU would stay closed to spinners.
        st.on_cpu = None;
        if let Some(t) = st.ticket.take() {
            withdraw(st.cv(), t);
        }
        // SAFETY: the mutex the caller passed, released by `begin`. Its result cannot be
        // reported from a cleanup handler (glibc ignores it too).
        unsafe { libc::pthread_mutex_lock(st.mutex) };
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ptr;
    use std::time::Duration;

    /// The C driver's loop, without cancellation, for the crate's own tests.
    ///
    /// # Safety
    /// As `pthread_cond_timedwait` / `clockwait`.
    unsafe fn drive(
        cond: *mut pthread_cond_t,
        mutex: *mut pthread_mutex_t,
        kind: c_int,
        clock: clockid_t,
        abstime: *const timespec,
    ) -> c_int {
        #[repr(C, align(16))]
        struct Buf([u8; STATE_SIZE]);
        let mut buf = Buf([0; STATE_SIZE]);
        let st = ptr::from_mut(&mut buf).cast::<WaitState>();
        // SAFETY: the buffer has the size and alignment `begin` needs; the rest per the caller.
        unsafe {
            let r = nemo_preload_rs_wait_begin(st.cast(), cond, mutex, kind, clock, abstime);
            if r == STEP_PARK {
                let mut a = MaybeUninit::<ParkArgs>::uninit();
                while nemo_preload_rs_wait_prepare(st, a.as_mut_ptr()) == 1 {
                    let a = a.assume_init_ref();
                    let at = (a.has_deadline != 0).then_some(&a.deadline);
                    let err = futex::wait_with_op(a.word, a.op, a.expected, at, futex::MATCH_ANY)
                        .err()
                        .unwrap_or(0);
                    if nemo_preload_rs_wait_parked(st, err) == 1 {
                        break;
                    }
                }
            } else if r != STEP_DONE {
                return r;
            }
            nemo_preload_rs_wait_finish(st)
        }
    }

    fn in_ms(clock: Clock, ms: u64) -> timespec {
        Deadline::after_on(clock, Duration::from_millis(ms)).at()
    }

    #[test]
    fn timed_waits_time_out_with_the_mutex_held_on_both_clocks() {
        let mut m = libc::PTHREAD_MUTEX_INITIALIZER;
        let mut c = libc::PTHREAD_COND_INITIALIZER;
        for (kind, clock) in [
            (WAIT_TIMED, Clock::Realtime),
            (WAIT_CLOCK, Clock::Monotonic),
            (WAIT_CLOCK, Clock::Realtime),
        ] {
            let at = in_ms(clock, 3);
            // SAFETY: local, initialised objects; the mutex is held by this thread.
            unsafe {
                assert_eq!(libc::pthread_mutex_lock(&mut m), 0);
                let r = drive(&mut c, &mut m, kind, clock.into(), &at);
                assert_eq!(r, libc::ETIMEDOUT);
                assert!(Deadline::new(clock, at).unwrap().has_passed());
                assert_eq!(libc::pthread_mutex_trylock(&mut m), libc::EBUSY);
                assert_eq!(libc::pthread_mutex_unlock(&mut m), 0);
            }
        }
    }

    #[test]
    fn bad_arguments_are_einval_before_anything_changes() {
        let mut m = libc::PTHREAD_MUTEX_INITIALIZER;
        let mut c = libc::PTHREAD_COND_INITIALIZER;
        let bad = [
            timespec {
                tv_sec: 0,
                tv_nsec: -1,
            },
            timespec {
                tv_sec: 0,
                tv_nsec: 1_000_000_000,
            },
        ];
        // SAFETY: local objects; the mutex is held across the calls, which must not touch it.
        unsafe {
            assert_eq!(libc::pthread_mutex_lock(&mut m), 0);
            for ts in &bad {
                assert_eq!(drive(&mut c, &mut m, WAIT_TIMED, 0, ts), EINVAL);
            }
            assert_eq!(drive(&mut c, &mut m, WAIT_TIMED, 0, ptr::null()), EINVAL);
            let ok = in_ms(Clock::Monotonic, 1);
            let cpu = libc::CLOCK_PROCESS_CPUTIME_ID;
            assert_eq!(drive(&mut c, &mut m, WAIT_CLOCK, cpu, &ok), EINVAL);
            assert_eq!(drive(&mut c, ptr::null_mut(), WAIT_PLAIN, 0, &ok), EINVAL);
            assert_eq!(drive(ptr::null_mut(), &mut m, WAIT_PLAIN, 0, &ok), EINVAL);
            // Still held, and no waiter was left behind.
            assert_eq!(libc::pthread_mutex_trylock(&mut m), libc::EBUSY);
            assert_eq!(libc::pthread_mutex_unlock(&mut m), 0);
            assert_eq!(crate::exports::nemo_preload_cond_destroy(&mut c), 0);
        }
    }

    #[test]
    fn a_cancelled_park_unregisters_withdraws_and_relocks() {
        #[repr(C, align(16))]
        struct Buf([u8; STATE_SIZE]);
        let mut buf = Buf([0; STATE_SIZE]);
        let st = ptr::from_mut(&mut buf).cast::<WaitState>();
        let mut m = libc::PTHREAD_MUTEX_INITIALIZER;
        let mut c = libc::PTHREAD_COND_INITIALIZER;
        // SAFETY: local objects; the buffer has the size and alignment `begin` needs; the mutex
        // is held when the wait begins, as POSIX requires.
        unsafe {
            assert_eq!(libc::pthread_mutex_lock(&mut m), 0);
            let r =
                nemo_preload_rs_wait_begin(st.cast(), &mut c, &mut m, WAIT_PLAIN, 0, ptr::null());
            // Nobody notifies, so the spin (if it was admitted) ends in "park".
            assert_eq!(r, STEP_PARK);
            let mut a = MaybeUninit::<ParkArgs>::uninit();
            assert_eq!(nemo_preload_rs_wait_prepare(st, a.as_mut_ptr()), 1);
            assert!((*st).on_cpu.is_some(), "registered for the futex call");
            // What the cleanup handler does when the thread is cancelled in the futex call.
            nemo_preload_rs_wait_cancel(st.cast());
            assert!(
                (*st).on_cpu.is_none(),
                "the registration did not outlive the wait"
            );
            assert!((*st).ticket.is_none());
            assert_eq!(libc::pthread_mutex_trylock(&mut m), libc::EBUSY);
            assert_eq!(libc::pthread_mutex_unlock(&mut m), 0);
            // The waiter is gone: nothing left for destroy to wait for.
            assert_eq!(crate::exports::nemo_preload_cond_destroy(&mut c), 0);
        }
    }

    #[test]
    fn an_unowned_errorcheck_mutex_is_eperm_and_leaves_no_waiter() {
        // SAFETY (whole test): local objects, initialised before use.
        unsafe {
            let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
            libc::pthread_mutexattr_init(attr.as_mut_ptr());
            libc::pthread_mutexattr_settype(attr.as_mut_ptr(), libc::PTHREAD_MUTEX_ERRORCHECK);
            let mut m = MaybeUninit::<pthread_mutex_t>::uninit();
            libc::pthread_mutex_init(m.as_mut_ptr(), attr.as_ptr());
            let mut c = libc::PTHREAD_COND_INITIALIZER;
            let r = drive(&mut c, m.as_mut_ptr(), WAIT_PLAIN, 0, ptr::null());
            assert_eq!(r, libc::EPERM);
            assert_eq!(crate::exports::nemo_preload_cond_destroy(&mut c), 0);
        }
    }
}
