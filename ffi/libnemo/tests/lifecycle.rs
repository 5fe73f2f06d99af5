//! Bad input and lifecycles through the C functions, called from Rust: misaligned and foreign
//! pointers are `EINVAL`, a target handle is reclaimed when its thread exits, and ids are
//! refused by other domains, and a C action gets its context inside a signal handler.
//! (`c_lifecycle.rs` runs the first cases from C.)

use std::ptr::{null, null_mut};

use nemo::am::*;
use nemo::condvar::*;
use nemo::event::*;

#[repr(C, align(64))]
struct Buf([u8; 256]);

/// A pointer `offset` bytes into `buf`, as a `T`.
fn at<T>(buf: &mut Buf, offset: usize) -> *mut T {
    buf.0[offset..].as_mut_ptr().cast()
}

fn poll_domain(targets: u32) -> *mut NemoAmDomain {
    let cfg = NemoAmConfig {
        targets,
        backend: NEMO_BACKEND_POLL,
        ..NemoAmConfig::DEFAULT
    };
    let mut d = null_mut();
    // SAFETY: valid out and config pointers.
    assert_eq!(unsafe { nemo_am_domain_create(&mut d, &cfg) }, 0);
    d
}

unsafe extern "C" fn add(ctx: *mut std::ffi::c_void, payload: u64) {
    // SAFETY: registered with a pointer to a live AtomicU64.
    unsafe { &*ctx.cast::<std::sync::atomic::AtomicU64>() }
        .fetch_add(payload, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn misaligned_condvars_events_keys_mutexes_and_deadlines_are_einval() {
    let mut buf = Buf([0; 256]);
    let mut soon = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut soon) };
    soon.tv_sec += 1;
    let mut m = libc::PTHREAD_MUTEX_INITIALIZER;
    let cv: *mut NemoCondvar = at(&mut buf, 1);
    let ev: *mut NemoEvent = at(&mut buf, 65);
    let key: *mut NemoEventKey = at(&mut buf, 129);
    let bad_mutex: *mut libc::pthread_mutex_t = at(&mut buf, 193);
    let bad_ts: *const libc::timespec = at(&mut buf, 250);
    let mut good = NemoCondvar::INITIALIZER;
    let mut good_ev = NemoEvent::INITIALIZER;
    // SAFETY: every pointer is readable and writable memory of `buf` or a local; the functions
    // must refuse the misaligned ones before using them.
    unsafe {
        assert_eq!(nemo_condvar_init(cv, null()), libc::EINVAL);
        assert_eq!(nemo_condvar_signal(cv), libc::EINVAL);
        assert_eq!(nemo_condvar_broadcast(cv), libc::EINVAL);
        assert_eq!(libc::pthread_mutex_lock(&mut m), 0);
        // Refused at once: accepting it would spin (the futex refuses the address) until the
        // deadline, one second away, then say ETIMEDOUT.
        assert_eq!(nemo_condvar_timedwait(cv, &mut m, &soon), libc::EINVAL);
        assert_eq!(nemo_condvar_wait(cv, &mut m), libc::EINVAL);
        assert_eq!(
            nemo_condvar_timedwait(&mut good, &mut m, bad_ts),
            libc::EINVAL
        );
        assert_eq!(libc::pthread_mutex_unlock(&mut m), 0);
        assert_eq!(nemo_condvar_wait(&mut good, bad_mutex), libc::EINVAL);
        assert_eq!(nemo_condvar_destroy(cv), libc::EINVAL);
        assert_eq!(nemo_event_init(ev, null()), libc::EINVAL);
        assert_eq!(nemo_event_notify_one(ev), libc::EINVAL);
        assert_eq!(nemo_event_prepare_wait(ev, key), libc::EINVAL);
        assert_eq!(nemo_event_prepare_wait(&mut good_ev, key), libc::EINVAL);
        assert_eq!(nemo_event_wait(&mut good_ev, key), libc::EINVAL);
        assert_eq!(nemo_event_destroy(ev), libc::EINVAL);
        assert_eq!(nemo_condvar_destroy(&mut good), 0);
        assert_eq!(nemo_event_destroy(&mut good_ev), 0);
    }
}

#[test]
fn foreign_and_misaligned_active_message_handles_are_einval() {
    let mut buf = Buf([0; 256]);
    let zeros: *mut NemoAmDomain = at(&mut buf, 0);
    let misaligned: *mut NemoAmDomain = at(&mut buf, 9);
    let d = poll_domain(4);
    let mut id = 0u32;
    // SAFETY: live or readable pointers; the foreign ones must be refused before use.
    unsafe {
        for bad in [zeros, misaligned] {
            assert_eq!(nemo_am_notify(bad, 0, 0, 1), libc::EINVAL);
            assert_eq!(nemo_am_broadcast(bad, 0, 1, null_mut()), libc::EINVAL);
            assert_eq!(
                nemo_am_register_action(bad, Some(add), null_mut(), &mut id),
                libc::EINVAL
            );
            assert_eq!(nemo_am_domain_destroy(bad), libc::EINVAL);
        }
        assert_eq!(nemo_am_unregister_target(at(&mut buf, 0)), libc::EINVAL);
        assert_eq!(
            nemo_am_register_action(d, Some(add), null_mut(), at(&mut buf, 1)),
            libc::EINVAL
        );
        assert_eq!(nemo_am_domain_destroy(d), 0);
    }
}

#[test]
fn a_target_handle_is_reclaimed_when_its_thread_exits() {
    let d = poll_domain(1);
    let sum = std::sync::atomic::AtomicU64::new(0);
    let mut act = 0;
    // SAFETY: a live domain; `sum` outlives every use of the action (the domain is destroyed
    // at the end of this test).
    unsafe {
        let ctx = (&raw const sum).cast_mut().cast();
        assert_eq!(nemo_am_register_action(d, Some(add), ctx, &mut act), 0);
    }
    let addr = d as usize;
    let register = move || {
        let (mut h, mut id) = (null_mut(), 0);
        // SAFETY: a live domain, valid out-pointers.
        let rc = unsafe { nemo_am_register_target(addr as *mut NemoAmDomain, &mut h, &mut id) };
        (rc, h as usize, id)
    };
    let (rc, handle, id) = std::thread::spawn(register).join().unwrap();
    assert_eq!(rc, 0);
    // SAFETY: a live domain; the handle is only looked up.
    unsafe {
        assert_eq!(nemo_am_notify(d, id, act, 1), libc::EINVAL);
        let mut n = 9;
        assert_eq!(nemo_am_broadcast(d, act, 1, &mut n), 0);
        assert_eq!(n, 0);
        assert_eq!(
            nemo_am_unregister_target(handle as *mut NemoAmTarget),
            libc::EINVAL
        );
    }
    // The one slot is free again.
    assert_eq!(std::thread::spawn(register).join().unwrap().0, 0);
    // SAFETY: a live domain, destroyed once.
    assert_eq!(unsafe { nemo_am_domain_destroy(d) }, 0);
}

#[test]
fn ids_of_one_domain_are_einval_in_another() {
    let (a, b) = (poll_domain(2), poll_domain(2));
    let (mut act_a, mut act_b, mut tid) = (0, 0, 0);
    let mut t = null_mut();
    // SAFETY: live domains and valid out-pointers; the target is this thread's.
    unsafe {
        assert_eq!(
            nemo_am_register_action(a, Some(add), null_mut(), &mut act_a),
            0
        );
        assert_eq!(
            nemo_am_register_action(b, Some(add), null_mut(), &mut act_b),
            0
        );
        assert_ne!(act_a, act_b);
        assert_eq!(nemo_am_register_target(a, &mut t, &mut tid), 0);
        assert_eq!(nemo_am_notify(a, tid, act_b, 1), libc::EINVAL);
        assert_eq!(nemo_am_notify(b, tid, act_b, 1), libc::EINVAL);
        assert_eq!(nemo_am_unregister_target(t), 0);
        assert_eq!(nemo_am_domain_destroy(a), 0);
        assert_eq!(nemo_am_domain_destroy(b), 0);
    }
}

#[test]
fn c_actions_get_their_context_inside_a_signal_handler() {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let cfg = NemoAmConfig {
        targets: 1,
        backend: NEMO_BACKEND_SIGNAL,
        ..NemoAmConfig::DEFAULT
    };
    let (mut d, mut act, mut t, mut id) = (null_mut(), 0, null_mut(), 0);
    // SAFETY: valid out and config pointers; `COUNTER` outlives the domain; the target is
    // registered and unregistered on this thread, before the domain is destroyed.
    unsafe {
        assert_eq!(nemo_am_domain_create(&mut d, &cfg), 0);
        let ctx = (&raw const COUNTER).cast_mut().cast();
        assert_eq!(nemo_am_register_action(d, Some(add), ctx, &mut act), 0);
        assert_eq!(nemo_am_register_target(d, &mut t, &mut id), 0);
    }
    let addr = d as usize;
    std::thread::spawn(move || {
        for x in 1..=4 {
            // SAFETY: a live domain.
            let rc = unsafe { nemo_am_notify(addr as *mut NemoAmDomain, id, act, x) };
            assert_eq!(rc, 0);
        }
    })
    .join()
    .unwrap();
    // No polling: the signal runs the actions on this thread.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while COUNTER.load(std::sync::atomic::Ordering::SeqCst) != 10 {
        assert!(
            std::time::Instant::now() < give_up,
            "the C action never ran"
        );
        std::hint::spin_loop();
    }
    // SAFETY: this thread's live target, then the live domain, each released once.
    unsafe {
        assert_eq!(nemo_am_unregister_target(t), 0);
        assert_eq!(nemo_am_domain_destroy(d), 0);
    }
}
