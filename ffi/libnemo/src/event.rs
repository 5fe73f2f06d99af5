//! `nemo_event_*`: a mutex-free "there is work" event for idle workers (an eventcount), in a
//! caller-allocated 48-byte `nemo_event_t` — the protocol of [`nemo_user::event::Event`].
//!
//! A worker announces itself (`nemo_event_prepare_wait`), re-checks its condition, then either
//! withdraws (`nemo_event_cancel_wait`) or commits (`nemo_event_wait`); a producer publishes
//! work, then notifies. A notification sent after the announcement is never lost, and one sent
//! before it is visible to the re-check.
//!
//! ```c
//! nemo_event_key_t key;
//! while (queue_empty(q)) {
//!     nemo_event_prepare_wait(&ev, &key);
//!     if (!queue_empty(q)) { nemo_event_cancel_wait(&ev, &key, NULL); break; }
//!     nemo_event_wait(&ev, &key);
//! }
//! ```

use std::ffi::c_int;
use std::sync::atomic::{Ordering, fence};

use libc::{EINVAL, clockid_t, timespec};
use nemo_user::condvar::{RawCondvar, WaitTicket};
use nemo_user::embed::{FutexPark, SplitWait};
use nemo_user::wait::{Deadline, WaitOutcome, WaitPolicy};

use crate::condvar::{deadline, deadline_on, raw, usable};
use crate::{guard_errno, optional_out};

/// `nemo_event_key_t`: one announced wait, from `nemo_event_prepare_wait` to
/// `nemo_event_wait`/`_timedwait`/`_clockwait`/`_cancel_wait`. Caller-allocated, 32 bytes;
/// must not be copied while armed.
#[repr(C)]
#[derive(Debug)]
pub struct NemoEventKey {
    opaque: [u64; 4],
}

/// What a key holds while armed.
#[repr(C)]
struct Armed {
    event: *const RawCondvar,
    /// `ARMED` from prepare until the wait is finished; a key used twice, or never prepared,
    /// is `EINVAL` instead of corrupting the event's count of waiters.
    magic: u64,
    ticket: WaitTicket,
}

const ARMED: u64 = 0x6e65_6d6f_6b65_7921;

const _: () = assert!(size_of::<Armed>() <= size_of::<NemoEventKey>());
const _: () = assert!(align_of::<Armed>() <= align_of::<NemoEventKey>());

/// Takes the ticket out of an armed key for `ev`, disarming it; `EINVAL` otherwise.
///
/// # Safety
/// `key` is null or points to a readable, writable key.
unsafe fn disarm(ev: &RawCondvar, key: *mut NemoEventKey) -> Result<WaitTicket, c_int> {
    if !usable::<NemoEventKey, Armed>(key) {
        return Err(EINVAL);
    }
    let k = key.cast::<Armed>();
    // SAFETY: non-null, aligned (checked), readable, and large enough for `Armed`;
    // the fields are read through raw pointers so a never-armed key is only read as integers.
    unsafe {
        let magic = std::ptr::addr_of!((*k).magic).read();
        let event = std::ptr::addr_of!((*k).event).read();
        if magic != ARMED || !std::ptr::eq(event, ev) {
            return Err(EINVAL);
        }
        std::ptr::addr_of_mut!((*k).magic).write(0);
        // The magic says `prepare_wait` wrote a ticket here and nothing took it since.
        Ok(std::ptr::addr_of!((*k).ticket).read())
    }
}

crate::condvar::raw_condvar_type! {
    /// `nemo_event_t`: 48 bytes, 8-byte aligned; all zeros (`NEMO_EVENT_INITIALIZER`) is a valid
    /// event with the default attributes.
    type NemoEvent, "ev";
    /// Initialises an event (`attr` null for the defaults; its clock is the one of
    /// `nemo_event_timedwait`).
    init: nemo_event_init;
    /// Destroys an event: `EBUSY` while a worker has announced a wait that no notification has
    /// reached; otherwise 0 once woken workers have left it.
    destroy: nemo_event_destroy;
    /// Wakes one announced worker, if any. Call after publishing the work. Fenced: the workers
    /// check their condition without a mutex (see `nemo_event_prepare_wait`).
    notify: nemo_event_notify_one = notify_one_fenced;
    /// Wakes every announced worker.
    notify: nemo_event_notify_all = notify_all_fenced;
}

/// Announces that the caller is about to wait, arming `key`. Re-check the condition after
/// this, then commit (`nemo_event_wait`…) or withdraw (`nemo_event_cancel_wait`): every armed
/// key must end in one of them.
///
/// # Safety
/// `ev` is null or a live event; `key` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_event_prepare_wait(
    ev: *mut NemoEvent,
    key: *mut NemoEventKey,
) -> c_int {
    guard_errno(|| {
        // SAFETY: per the caller.
        let e = unsafe { raw(ev) }.ok_or(EINVAL)?;
        if !usable::<NemoEventKey, Armed>(key) {
            return Err(EINVAL);
        }
        let armed = Armed {
            event: e,
            magic: ARMED,
            ticket: e.begin_wait(),
        };
        // Pairs with the fence that starts every notify: either the producer's notify sees
        // this waiter, or the caller's re-check sees the producer's work.
        fence(Ordering::SeqCst);
        // SAFETY: non-null and aligned (checked), writable per the caller; `Armed` fits.
        unsafe { key.cast::<Armed>().write(armed) };
        Ok(0)
    })
}

/// Commits an announced wait.
///
/// # Safety
/// As [`nemo_event_prepare_wait`], with `key` armed by it for `ev`.
unsafe fn commit(
    ev: *mut NemoEvent,
    key: *mut NemoEventKey,
    deadline: impl FnOnce(&RawCondvar) -> Result<Option<Deadline>, c_int>,
) -> Result<c_int, c_int> {
    // SAFETY: per the caller.
    let e = unsafe { raw(ev) }.ok_or(EINVAL)?;
    // Check the deadline first: a bad one leaves the key armed, to be waited on or cancelled.
    let d = deadline(e)?;
    // SAFETY: per the caller.
    let mut t = unsafe { disarm(e, key) }?;
    let policy = WaitPolicy::from(e.policy_class());
    let outcome = e.wait_ticket(&mut t, &policy, &FutexPark, d.as_ref());
    e.finish_wait(t);
    Ok(if outcome.timed_out() {
        libc::ETIMEDOUT
    } else {
        0
    })
}

/// Waits for a notification sent after `nemo_event_prepare_wait`; disarms `key`.
///
/// # Safety
/// `ev` is null or a live event; `key` is null or a key armed for `ev`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_event_wait(ev: *mut NemoEvent, key: *mut NemoEventKey) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { commit(ev, key, |_| Ok(None)) })
}

/// [`nemo_event_wait`] until `abstime` on the event's clock: `ETIMEDOUT` once it has passed
/// without a notification (the key is disarmed either way); `EINVAL` for a malformed
/// `abstime` (the key stays armed).
///
/// # Safety
/// As [`nemo_event_wait`]; `abstime` is null or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_event_timedwait(
    ev: *mut NemoEvent,
    key: *mut NemoEventKey,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { commit(ev, key, |e| deadline(e.clock(), abstime).map(Some)) })
}

/// [`nemo_event_timedwait`] on `clock` (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`).
///
/// # Safety
/// As [`nemo_event_timedwait`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_event_clockwait(
    ev: *mut NemoEvent,
    key: *mut NemoEventKey,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { commit(ev, key, |_| deadline_on(clock, abstime)) })
}

/// Withdraws an announced wait, disarming `key`. `*was_notified` (if not null) is set to 1 if a
/// notification had already been directed at this worker — it is consumed, which is right when
/// the worker withdraws because it found the work that notification announced — else 0.
///
/// # Safety
/// `ev` is null or a live event; `key` is null or a key armed for `ev`; `was_notified` is null
/// or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_event_cancel_wait(
    ev: *mut NemoEvent,
    key: *mut NemoEventKey,
    was_notified: *mut c_int,
) -> c_int {
    guard_errno(|| {
        // SAFETY: per the caller.
        let e = unsafe { raw(ev) }.ok_or(EINVAL)?;
        // Refused before the key is disarmed: the wait is still announced.
        optional_out(was_notified)?;
        // SAFETY: per the caller.
        let mut t = unsafe { disarm(e, key) }?;
        let woken = e.abandon(&mut t) == WaitOutcome::Woken;
        e.finish_wait(t);
        if !was_notified.is_null() {
            // SAFETY: non-null and writable per the caller.
            unsafe { was_notified.write(c_int::from(woken)) };
        }
        Ok(0)
    })
}
