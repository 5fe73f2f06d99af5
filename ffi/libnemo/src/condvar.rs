//! `nemo_condvar_*`: nemo's condition variable in a caller-allocated, 48-byte `nemo_condvar_t`,
//! used with the caller's `pthread_mutex_t` — the same object and semantics as
//! [`RawCondvar`], which the preload shim keeps in a `pthread_cond_t`.
//!
//! Differences from `pthread_cond_*` (see the `nemo_user::condvar` docs): no spurious
//! wakeups, `signal` wakes exactly one waiter, `destroy` returns `EBUSY` while a waiter has not
//! been signalled, and the waits are not cancellation points (a pending cancellation is acted on
//! at the caller's next one; use the preload shim where `pthread_cancel` must interrupt a wait).
//!
//! # Input checks
//!
//! Every pointer argument is checked for null and for its type's alignment (8 bytes for the
//! condvar, the mutex and the deadline, 4 for the attributes) before it is used: a misaligned
//! object is `EINVAL`, never an atomic access to misaligned memory (which the futex calls
//! refuse, turning a park into a busy loop).

use std::ffi::c_int;

use libc::{EINVAL, clockid_t, pthread_mutex_t, timespec};
pub(crate) use nemo_c_boundary::deadline;
use nemo_user::condvar::RawCondvar;
use nemo_user::wait::{Clock, Deadline};

use crate::{NemoAttr, guard, guard_errno};

/// Whether `p` is non-null and aligned for a `U`.
#[inline(always)]
pub(crate) fn usable<T, U>(p: *const T) -> bool {
    !p.is_null() && p.cast::<U>().is_aligned()
}

/// The condvar in a caller's object; `None` for a null or misaligned pointer.
///
/// # Safety
/// A non-null `p` points to a live object initialised by `init`, by the initializer, or to
/// zeros, that is accessed only through this API while the reference is used.
#[inline(always)]
pub(crate) unsafe fn raw<'a, T>(p: *const T) -> Option<&'a RawCondvar> {
    // SAFETY: non-null and aligned (checked), and a valid 48-byte condvar per the caller; a
    // `RawCondvar` is all atomics, so concurrent users through shared references are fine.
    usable::<T, RawCondvar>(p).then(|| unsafe { &*p.cast::<RawCondvar>() })
}

/// Runs `f` on the condvar in a caller's object under [`guard`]; `EINVAL` for a null pointer.
/// What the destroy and notify entry points of condvars and events share.
///
/// # Safety
/// As [`raw`].
#[inline(always)]
pub(crate) unsafe fn with_raw<T>(p: *const T, f: impl FnOnce(&RawCondvar) -> c_int) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        match unsafe { raw(p) } {
            None => EINVAL,
            Some(c) => f(c),
        }
    })
}

/// The `destroy` of a condvar or an event: the error's errno, or 0.
pub(crate) fn destroy(c: &RawCondvar) -> c_int {
    c.destroy().map_or_else(|e| e.errno(), |()| 0)
}

/// Writes a fresh condvar with `attr`'s settings to `p`.
///
/// # Safety
/// `p` is null or writable for 48 bytes and not in use; `attr` is null or readable.
pub(crate) unsafe fn init_raw<T>(p: *mut T, attr: *const NemoAttr) -> c_int {
    if !usable::<T, RawCondvar>(p) || !(attr.is_null() || attr.is_aligned()) {
        return EINVAL;
    }
    // SAFETY: per the caller.
    let (clock, shared, policy) = match unsafe { NemoAttr::read(attr) }.parse() {
        Ok(x) => x,
        Err(e) => return e,
    };
    let cv = RawCondvar::with_attributes(clock, shared, policy);
    // SAFETY: non-null, aligned (checked), writable for 48 bytes and unused per the caller.
    unsafe { p.cast::<RawCondvar>().write(cv) };
    0
}

/// Defines a condvar-backed C type (`nemo_condvar_t`, `nemo_event_t`: 48 caller-allocated
/// bytes, 8-byte aligned, all zeros a valid object) and the exports every such type has: init
/// (the object and its attributes, under [`guard`]), destroy and the notifies (each
/// [`with_raw`] and one call). `obj` names the pointer argument in the docs.
macro_rules! raw_condvar_type {
    (
        $(#[$ty_doc:meta])* type $ty:ident, $obj:literal;
        $(#[$init_doc:meta])* init: $init:ident;
        $(#[$destroy_doc:meta])* destroy: $destroy:ident;
        $($(#[$notify_doc:meta])* notify: $notify:ident = $method:ident;)*
    ) => {
        $(#[$ty_doc])*
        #[repr(C, align(8))]
        #[derive(Debug)]
        pub struct $ty {
            bytes: [u8; 48],
        }

        impl $ty {
            /// All zeros: the C initializer.
            pub const INITIALIZER: $ty = $ty { bytes: [0; 48] };
        }

        const _: () = assert!(size_of::<$ty>() == size_of::<RawCondvar>());
        const _: () = assert!(align_of::<$ty>() >= align_of::<RawCondvar>());

        $(#[$init_doc])*
        ///
        /// # Safety
        #[doc = concat!("`", $obj, "` is null or writable for 48 bytes and not in use; `attr` is")]
        /// null or readable.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $init(p: *mut $ty, attr: *const $crate::NemoAttr) -> c_int {
            // SAFETY: per the caller.
            $crate::guard(|| unsafe { $crate::condvar::init_raw(p, attr) })
        }

        $(#[$destroy_doc])*
        ///
        /// # Safety
        #[doc = concat!("`", $obj, "` is null or a live object.")]
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $destroy(p: *mut $ty) -> c_int {
            // SAFETY: per the caller.
            unsafe { $crate::condvar::with_raw(p, $crate::condvar::destroy) }
        }

        $(
            $(#[$notify_doc])*
            ///
            /// # Safety
            #[doc = concat!("`", $obj, "` is null or a live object.")]
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn $notify(p: *mut $ty) -> c_int {
                // SAFETY: per the caller.
                unsafe {
                    $crate::condvar::with_raw(p, |c| {
                        c.$method();
                        0
                    })
                }
            }
        )*
    };
}
pub(crate) use raw_condvar_type;

raw_condvar_type! {
    /// `nemo_condvar_t`: 48 bytes, 8-byte aligned; all zeros (`NEMO_CONDVAR_INITIALIZER`) is a
    /// valid condvar with the default attributes.
    type NemoCondvar, "cv";
    /// Initialises a condvar: `attr` null for the defaults (realtime clock, process-private,
    /// default policy). `EINVAL` for a null or misaligned `cv` or `attr`, or a bad attribute.
    init: nemo_condvar_init;
    /// Destroys a condvar: `EBUSY` (changing nothing) while a waiter has not been signalled;
    /// otherwise waits until waiters already woken have stopped touching it, then returns 0 and
    /// the memory may be reused.
    destroy: nemo_condvar_destroy;
    /// Wakes exactly one waiter, if any; no system call unless that waiter is parked.
    notify: nemo_condvar_signal = notify_one;
    /// Wakes every waiter.
    notify: nemo_condvar_broadcast = notify_all;
}

/// The deadline of a `*_clockwait`: `*abstime` on the clock a C caller names by id; `EINVAL`
/// for a clock other than `CLOCK_REALTIME` and `CLOCK_MONOTONIC`, or as [`deadline`].
///
/// # Safety
/// `abstime` is null or points to a readable `timespec`.
pub(crate) unsafe fn deadline_on(
    clock: clockid_t,
    abstime: *const timespec,
) -> Result<Option<Deadline>, c_int> {
    let clock = Clock::try_from(clock).map_err(|e| e.errno())?;
    // SAFETY: per the caller.
    unsafe { deadline(clock, abstime) }.map(Some)
}

/// The wait behind the three `nemo_condvar_*wait` functions.
///
/// # Safety
/// As [`nemo_condvar_timedwait`].
unsafe fn wait(
    cv: *mut NemoCondvar,
    mutex: *mut pthread_mutex_t,
    deadline: impl FnOnce(&RawCondvar) -> Result<Option<Deadline>, c_int>,
) -> Result<c_int, c_int> {
    // SAFETY: per the caller.
    let c = unsafe { raw(cv) }.ok_or(EINVAL)?;
    if !usable::<pthread_mutex_t, pthread_mutex_t>(mutex) {
        return Err(EINVAL);
    }
    let deadline = deadline(c)?;
    let r = c.wait_raw(
        // SAFETY: the caller's mutex; an error-checking mutex reports EPERM if not held.
        || match unsafe { libc::pthread_mutex_unlock(mutex) } {
            0 => Ok(()),
            e => Err(e),
        },
        // SAFETY: the same mutex, released above.
        || unsafe { libc::pthread_mutex_lock(mutex) },
        deadline.as_ref(),
    );
    Ok(match r? {
        (_, relock) if relock != 0 => relock,
        (outcome, _) if outcome.timed_out() => libc::ETIMEDOUT,
        _ => 0,
    })
}

/// Releases `mutex`, waits for a signal or broadcast, and re-acquires `mutex`. Returns 0, the
/// unlock's error (`EPERM`: an error-checking mutex the caller does not hold; nothing waited),
/// or the relock's (`EOWNERDEAD`: a robust mutex whose owner died, now held by the caller).
///
/// # Safety
/// `cv` is null or a live condvar; `mutex` is null or a live mutex that the caller holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_condvar_wait(
    cv: *mut NemoCondvar,
    mutex: *mut pthread_mutex_t,
) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { wait(cv, mutex, |_| Ok(None)) })
}

/// [`nemo_condvar_wait`] until `abstime` on the condvar's clock (its `nemo_attr_t`): returns
/// `ETIMEDOUT` (mutex re-acquired) once it has passed, never earlier; `EINVAL` for a null or
/// malformed `abstime` (`tv_nsec` outside `[0, 1e9)`), with the mutex still held.
///
/// # Safety
/// As [`nemo_condvar_wait`]; `abstime` is null or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_condvar_timedwait(
    cv: *mut NemoCondvar,
    mutex: *mut pthread_mutex_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { wait(cv, mutex, |c| deadline(c.clock(), abstime).map(Some)) })
}

/// [`nemo_condvar_timedwait`] on `clock` (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`, else
/// `EINVAL`).
///
/// # Safety
/// As [`nemo_condvar_timedwait`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_condvar_clockwait(
    cv: *mut NemoCondvar,
    mutex: *mut pthread_mutex_t,
    clock: clockid_t,
    abstime: *const timespec,
) -> c_int {
    // SAFETY: per the caller.
    guard_errno(|| unsafe { wait(cv, mutex, |_| deadline_on(clock, abstime)) })
}
