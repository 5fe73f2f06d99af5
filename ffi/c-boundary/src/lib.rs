//! The C boundary of nemo, shared by `libnemo` and the preload shim: the two things every
//! exported C function does the same way, in one place so that the two libraries cannot drift.
//!
//! - [`guard`]: no panic (a bug) unwinds into C; it becomes `ENOTRECOVERABLE`.
//! - [`deadline`]: an absolute `timespec` read as glibc reads `pthread_cond_timedwait`'s, with
//!   the same `EINVAL` cases.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use std::ffi::c_int;
use std::panic::{AssertUnwindSafe, catch_unwind};

use nemo_user::wait::{Clock, Deadline};

/// Runs the body of an exported C function: a panic (a bug) becomes `ENOTRECOVERABLE`
/// instead of unwinding into C.
#[inline(always)]
pub fn guard(f: impl FnOnce() -> c_int) -> c_int {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(libc::ENOTRECOVERABLE)
}

/// The absolute deadline `*abstime` on `clock`, or `EINVAL` for a null or misaligned
/// pointer or a `tv_nsec` outside `[0, 1e9)` (what glibc checks before anything else).
///
/// # Safety
/// `abstime` is null or points to a readable `timespec`.
pub unsafe fn deadline(clock: Clock, abstime: *const libc::timespec) -> Result<Deadline, c_int> {
    if abstime.is_null() || !abstime.is_aligned() {
        return Err(libc::EINVAL);
    }
    // SAFETY: non-null, aligned (checked) and readable per the caller.
    Deadline::new(clock, unsafe { *abstime }).map_err(|e| e.errno())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_enotrecoverable_and_deadlines_are_checked() {
        assert_eq!(guard(|| 7), 7);
        assert_eq!(guard(|| panic!("a bug")), libc::ENOTRECOVERABLE);
        // SAFETY: null, or a local timespec.
        unsafe {
            assert_eq!(
                deadline(Clock::Monotonic, std::ptr::null()).err(),
                Some(libc::EINVAL)
            );
            let bad = libc::timespec {
                tv_sec: 1,
                tv_nsec: 1_000_000_000,
            };
            assert_eq!(deadline(Clock::Realtime, &bad).err(), Some(libc::EINVAL));
            let good = libc::timespec {
                tv_sec: 1,
                tv_nsec: 5,
            };
            let d = deadline(Clock::Realtime, &good).unwrap();
            assert_eq!(
                (d.clock(), d.at().tv_sec, d.at().tv_nsec),
                (Clock::Realtime, 1, 5)
            );
        }
    }
}
