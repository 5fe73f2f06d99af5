//! A process-shared `RawCondvar` in zero-filled `MAP_SHARED` memory, driven from both sides of a
//! `fork` with a process-shared glibc mutex: ping-pong handoffs under each policy class, and a
//! cross-process timed wait on `CLOCK_MONOTONIC`.
//!
//! One test in this binary, so no other test thread is running when it forks; the child only
//! calls the condvar, the pthread mutex and `_exit` (nothing that allocates).

use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use nemo_user::condvar::RawCondvar;
use nemo_user::wait::{Clock, Deadline, PolicyClass, WaitOutcome};

#[repr(C)]
struct Shared {
    cv: RawCondvar,
    m: UnsafeCell<libc::pthread_mutex_t>,
    turn: AtomicU32,
}

fn lock(s: &Shared) -> i32 {
    // SAFETY: the mutex was initialised as process-shared before the fork and outlives both.
    unsafe { libc::pthread_mutex_lock(s.m.get()) }
}

fn unlock(s: &Shared) -> Result<(), i32> {
    // SAFETY: as in `lock`.
    match unsafe { libc::pthread_mutex_unlock(s.m.get()) } {
        0 => Ok(()),
        e => Err(e),
    }
}

/// Waits (with the mutex held) until `turn == want`. Returns false on any unexpected result.
fn wait_for_turn(s: &Shared, want: u32) -> bool {
    while s.turn.load(Ordering::SeqCst) != want {
        match s.cv.wait_raw(|| unlock(s), || lock(s), None) {
            Ok((WaitOutcome::Woken, 0)) => {}
            _ => return false,
        }
    }
    true
}

/// The child's side: returns its exit status.
fn child(s: &Shared, rounds: u32) -> i32 {
    for _ in 0..rounds {
        if lock(s) != 0 || !wait_for_turn(s, 1) {
            return 2;
        }
        s.turn.store(0, Ordering::SeqCst);
        if !s.cv.notify_one() {
            return 3;
        }
        if unlock(s).is_err() {
            return 4;
        }
    }
    // Nobody will notify: a timed wait on the condvar's clock must time out, and not early.
    if lock(s) != 0 {
        return 5;
    }
    let deadline = Deadline::after_on(s.cv.clock(), Duration::from_millis(2));
    match s.cv.wait_raw(|| unlock(s), || lock(s), Some(&deadline)) {
        Ok((WaitOutcome::TimedOut, 0)) if deadline.has_passed() => {}
        _ => return 6,
    }
    if unlock(s).is_err() {
        return 7;
    }
    0
}

fn parent(s: &Shared, rounds: u32) {
    for _ in 0..rounds {
        assert_eq!(lock(s), 0);
        s.turn.store(1, Ordering::SeqCst);
        s.cv.notify_one();
        assert!(wait_for_turn(s, 0));
        assert_eq!(unlock(s), Ok(()));
    }
}

#[test]
fn process_shared_condvar_works_across_fork() {
    for class in [
        PolicyClass::ParkOnly,
        PolicyClass::Default,
        PolicyClass::SpinOnly,
    ] {
        // Two pure spinners only progress when the scheduler lets both run: fewer rounds.
        let rounds = if class == PolicyClass::SpinOnly {
            100
        } else {
            1500
        };
        let size = std::mem::size_of::<Shared>();
        // SAFETY: an anonymous shared mapping of `size` bytes; checked for failure below.
        let mem = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(mem, libc::MAP_FAILED);
        let sp = mem as *mut Shared;
        // SAFETY: the mapping is zero-filled, page-aligned and large enough; all-zero bytes are
        // a valid RawCondvar, AtomicU32 and (before init) pthread_mutex_t storage. Nothing else
        // references it yet.
        let s: &mut Shared = unsafe { &mut *sp };
        s.cv = RawCondvar::with_attributes(Clock::Monotonic, true, class);
        let mut attr = MaybeUninit::<libc::pthread_mutexattr_t>::uninit();
        // SAFETY: attr is initialised before use and destroyed after; the mutex storage is ours.
        unsafe {
            assert_eq!(libc::pthread_mutexattr_init(attr.as_mut_ptr()), 0);
            assert_eq!(
                libc::pthread_mutexattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED),
                0
            );
            assert_eq!(libc::pthread_mutex_init(s.m.get(), attr.as_ptr()), 0);
            libc::pthread_mutexattr_destroy(attr.as_mut_ptr());
        }
        let s: &Shared = s;
        assert!(s.cv.is_process_shared());

        // SAFETY: no other thread of this test binary is running (single test); the child only
        // runs `child`, which allocates nothing, then `_exit`s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = child(s, rounds);
            // SAFETY: terminating the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) };
        }
        parent(s, rounds);
        let mut status = 0;
        // SAFETY: waiting for our own child.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(
            libc::WIFEXITED(status),
            "child did not exit normally ({class:?})"
        );
        assert_eq!(libc::WEXITSTATUS(status), 0, "child failed ({class:?})");
        assert_eq!(s.cv.unsignalled_waiters(), 0);
        assert_eq!(s.cv.destroy(), Ok(()));
        // SAFETY: the child is gone and nothing references the mapping any more.
        unsafe {
            libc::pthread_mutex_destroy(s.m.get());
            libc::munmap(mem, size);
        }
    }
}
