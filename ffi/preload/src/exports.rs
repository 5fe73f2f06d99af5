//! The non-blocking entry points — `pthread_cond_init`, `_destroy`, `_signal`, `_broadcast` —
//! and their symbol versions. (The waits are in `c/cond_wait.c`, see the crate docs.)
//!
//! Each function is defined under an internal name and given its public, versioned name by a
//! `.symver` directive below: `name@@GLIBC_2.3.2` is the default version a program linked
//! against glibc asks for, `name@GLIBC_2.2.5` the pre-NPTL ABI, forwarded to glibc's own
//! compatibility code. `remove` drops the internal name from the symbol table.

use std::ffi::c_int;

use libc::{EINVAL, ENOSYS, pthread_cond_t, pthread_condattr_t};
use nemo_c_boundary::guard;
use nemo_user::condvar::RawCondvar;
use nemo_user::wait::{Clock, PolicyClass};

use crate::mode;
use crate::pthread::condvar;

/// `pthread_cond_init`: a fresh condvar with the attributes' clock and process-shared flag.
///
/// # Safety
/// `cond` must be writable for 48 bytes and not in use by any thread; `attr` null or
/// initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_preload_cond_init(
    cond: *mut pthread_cond_t,
    attr: *const pthread_condattr_t,
) -> c_int {
    if let Some(f) = mode::forward() {
        // SAFETY: glibc's own function, with the caller's arguments.
        return f.init.map_or(ENOSYS, |f| unsafe { f(cond, attr) });
    }
    guard(|| {
        if cond.is_null() || !cond.cast::<RawCondvar>().is_aligned() {
            return EINVAL;
        }
        let cv = if attr.is_null() {
            RawCondvar::new()
        } else {
            let (mut clock, mut pshared) = (0, 0);
            // SAFETY: `attr` is an initialised condattr per the caller; the outputs are locals.
            let rc = unsafe {
                libc::pthread_condattr_getclock(attr, &mut clock)
                    | libc::pthread_condattr_getpshared(attr, &mut pshared)
            };
            let Some(clock) = Clock::try_from(clock).ok().filter(|_| rc == 0) else {
                return EINVAL;
            };
            let shared = pshared == libc::PTHREAD_PROCESS_SHARED;
            RawCondvar::with_attributes(clock, shared, PolicyClass::Default)
        };
        // SAFETY: checked non-null and aligned; writable and unused per the caller.
        unsafe { cond.cast::<RawCondvar>().write(cv) };
        0
    })
}

/// Defines the one-argument exports (destroy, signal, broadcast): each is [`on_condvar`] with
/// glibc's function of that name and its own operation.
macro_rules! condvar_exports {
    ($($(#[$doc:meta])* fn $name:ident = $forwarded:ident, |$cv:ident| $op:expr;)*) => {$(
        $(#[$doc])*
        ///
        /// # Safety
        /// `cond` as in `condvar`.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn $name(cond: *mut pthread_cond_t) -> c_int {
            // SAFETY: per the caller.
            unsafe { on_condvar(cond, |f| f.$forwarded, |$cv| $op) }
        }
    )*};
}

condvar_exports! {
    /// `pthread_cond_destroy`: `EBUSY` while a waiter has not been notified; otherwise waits
    /// until notified waiters have left the object (so "broadcast, then destroy" is safe).
    fn nemo_preload_cond_destroy = destroy, |cv| cv.destroy().map_or_else(|e| e.errno(), |()| 0);
    /// `pthread_cond_signal`: wakes one waiter (exactly one), without a system call unless it
    /// is parked.
    fn nemo_preload_cond_signal = signal, |cv| { cv.notify_one(); 0 };
    /// `pthread_cond_broadcast`: wakes every waiter.
    fn nemo_preload_cond_broadcast = broadcast, |cv| { cv.notify_all(); 0 };
}

/// The body of the one-argument exports: glibc's `forwarded` function where the shim forwards,
/// else `op` on the condvar behind `cond` (`EINVAL` for a null or misaligned one), with a panic
/// kept out of C.
///
/// # Safety
/// `cond` as in `condvar`.
unsafe fn on_condvar(
    cond: *mut pthread_cond_t,
    forwarded: impl FnOnce(&mode::Forward) -> Option<mode::CondFn>,
    op: impl FnOnce(&RawCondvar) -> c_int,
) -> c_int {
    if let Some(f) = mode::forward() {
        // SAFETY: glibc's own function, with the caller's argument.
        return forwarded(f).map_or(ENOSYS, |f| unsafe { f(cond) });
    }
    guard(|| {
        // SAFETY: per the caller.
        match unsafe { condvar(cond) } {
            None => EINVAL,
            Some(cv) => op(cv),
        }
    })
}

/// `pthread_cond_init@GLIBC_2.2.5`, forwarded to glibc.
///
/// # Safety
/// As glibc's function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_preload_compat_cond_init(
    cond: *mut pthread_cond_t,
    attr: *const pthread_condattr_t,
) -> c_int {
    // SAFETY: glibc's own function, with the caller's arguments.
    mode::compat()
        .init
        .map_or(ENOSYS, |f| unsafe { f(cond, attr) })
}

/// `pthread_cond_destroy@GLIBC_2.2.5`, forwarded to glibc.
///
/// # Safety
/// As glibc's function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_preload_compat_cond_destroy(cond: *mut pthread_cond_t) -> c_int {
    // SAFETY: glibc's own function, with the caller's argument.
    mode::compat()
        .destroy
        .map_or(ENOSYS, |f| unsafe { f(cond) })
}

/// `pthread_cond_signal@GLIBC_2.2.5`, forwarded to glibc.
///
/// # Safety
/// As glibc's function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_preload_compat_cond_signal(cond: *mut pthread_cond_t) -> c_int {
    // SAFETY: glibc's own function, with the caller's argument.
    mode::compat().signal.map_or(ENOSYS, |f| unsafe { f(cond) })
}

/// `pthread_cond_broadcast@GLIBC_2.2.5`, forwarded to glibc.
///
/// # Safety
/// As glibc's function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_preload_compat_cond_broadcast(cond: *mut pthread_cond_t) -> c_int {
    // SAFETY: glibc's own function, with the caller's argument.
    mode::compat()
        .broadcast
        .map_or(ENOSYS, |f| unsafe { f(cond) })
}

// Only the shared object gets versioned names (its version script defines the nodes); the
// crate's unit-test binary keeps the internal ones.
#[cfg(not(test))]
std::arch::global_asm!(
    ".symver nemo_preload_cond_init, pthread_cond_init@@GLIBC_2.3.2, remove",
    ".symver nemo_preload_cond_destroy, pthread_cond_destroy@@GLIBC_2.3.2, remove",
    ".symver nemo_preload_cond_signal, pthread_cond_signal@@GLIBC_2.3.2, remove",
    ".symver nemo_preload_cond_broadcast, pthread_cond_broadcast@@GLIBC_2.3.2, remove",
    ".symver nemo_preload_compat_cond_init, pthread_cond_init@GLIBC_2.2.5, remove",
    ".symver nemo_preload_compat_cond_destroy, pthread_cond_destroy@GLIBC_2.2.5, remove",
    ".symver nemo_preload_compat_cond_signal, pthread_cond_signal@GLIBC_2.2.5, remove",
    ".symver nemo_preload_compat_cond_broadcast, pthread_cond_broadcast@GLIBC_2.2.5, remove",
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::MaybeUninit;

    #[test]
    fn init_takes_clock_and_pshared_from_the_attributes() {
        // SAFETY (whole test): every pointer is to a local that outlives the calls.
        unsafe {
            let mut attr = MaybeUninit::<pthread_condattr_t>::uninit();
            assert_eq!(libc::pthread_condattr_init(attr.as_mut_ptr()), 0);
            libc::pthread_condattr_setclock(attr.as_mut_ptr(), libc::CLOCK_MONOTONIC);
            libc::pthread_condattr_setpshared(attr.as_mut_ptr(), libc::PTHREAD_PROCESS_SHARED);
            let mut c = MaybeUninit::<pthread_cond_t>::uninit();
            assert_eq!(nemo_preload_cond_init(c.as_mut_ptr(), attr.as_ptr()), 0);
            let cv = condvar(c.as_ptr()).expect("aligned");
            assert_eq!(cv.clock(), Clock::Monotonic);
            assert!(cv.is_process_shared());
            assert_eq!(nemo_preload_cond_signal(c.as_mut_ptr()), 0);
            assert_eq!(nemo_preload_cond_broadcast(c.as_mut_ptr()), 0);
            assert_eq!(nemo_preload_cond_destroy(c.as_mut_ptr()), 0);
            assert_eq!(nemo_preload_cond_init(c.as_mut_ptr(), std::ptr::null()), 0);
            let cv = condvar(c.as_ptr()).expect("aligned");
            assert_eq!(cv.clock(), Clock::Realtime);
            assert!(!cv.is_process_shared());
        }
    }

    #[test]
    fn null_and_misaligned_pointers_are_einval() {
        let null = std::ptr::null_mut();
        // SAFETY: null and misaligned pointers are rejected before any access.
        unsafe {
            assert_eq!(nemo_preload_cond_init(null, std::ptr::null()), EINVAL);
            assert_eq!(nemo_preload_cond_signal(null), EINVAL);
            assert_eq!(nemo_preload_cond_broadcast(null), EINVAL);
            assert_eq!(nemo_preload_cond_destroy(null), EINVAL);
            let mut buf = [0u64; 8];
            let odd = buf
                .as_mut_ptr()
                .cast::<u8>()
                .add(4)
                .cast::<pthread_cond_t>();
            assert_eq!(nemo_preload_cond_signal(odd), EINVAL);
        }
    }

    #[test]
    fn the_zero_initializer_is_a_valid_condvar() {
        let mut c = libc::PTHREAD_COND_INITIALIZER;
        // SAFETY: a local condvar nobody else uses.
        unsafe {
            assert_eq!(nemo_preload_cond_signal(&mut c), 0);
            assert_eq!(nemo_preload_cond_destroy(&mut c), 0);
        }
    }
}
