//! The condvar inside a caller's `pthread_cond_t`: its 48 bytes are a
//! [`RawCondvar`](nemo_user::condvar::RawCondvar).

use libc::pthread_cond_t;
use nemo_user::condvar::RawCondvar;

/// The condvar inside a caller's `pthread_cond_t`; `None` for a null or misaligned pointer.
///
/// # Safety
/// A non-null, aligned `cond` must point to a `pthread_cond_t` that stays valid for `'a` and is
/// used only through this shim (its 48 bytes are a [`RawCondvar`]).
#[inline(always)]
pub(crate) unsafe fn condvar<'a>(cond: *const pthread_cond_t) -> Option<&'a RawCondvar> {
    const { assert!(size_of::<RawCondvar>() == size_of::<pthread_cond_t>()) };
    const { assert!(align_of::<RawCondvar>() <= align_of::<pthread_cond_t>()) };
    if cond.is_null() || !cond.cast::<RawCondvar>().is_aligned() {
        return None;
    }
    // SAFETY: non-null and aligned; valid and exclusively this shim's per the caller. A
    // `RawCondvar` is all atomics, so a shared reference tolerates concurrent users.
    Some(unsafe { &*cond.cast::<RawCondvar>() })
}
