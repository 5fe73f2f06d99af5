//! The C API of nemo: `libnemo.so`, `libnemo.a` and `ffi/include/nemo.h`.
//!
//! | group | functions | memory |
//! |---|---|---|
//! | [`condvar`] | `nemo_condvar_init`, `_destroy`, `_signal`, `_broadcast`, `_wait`, `_timedwait`, `_clockwait` | caller's 48-byte `nemo_condvar_t` |
//! | [`event`] | `nemo_event_init`, `_destroy`, `_notify_one`, `_notify_all`, `_prepare_wait`, `_wait`, `_timedwait`, `_clockwait`, `_cancel_wait` | caller's 48-byte `nemo_event_t` and `nemo_event_key_t` |
//! | [`am`] | `nemo_am_config_default`, `nemo_am_domain_create`, `_destroy`, `nemo_am_register_action`, `_register_target`, `_unregister_target`, `nemo_am_notify`, `_broadcast`, `_poll` | opaque handles owned by the library |
//! | [`info`] | `nemo_backend_info`, `nemo_version` | static strings |
//!
//! Every function returns 0 or an errno value (`EINVAL` for a null pointer or a bad argument,
//! `ETIMEDOUT`, `EBUSY`, `EAGAIN`, …); none lets a panic cross into C (each body runs under
//! `catch_unwind`, and a caught panic is reported as `ENOTRECOVERABLE`).
//!
//! The same functions are callable from Rust through this crate's `rlib`, which is how the
//! crate tests itself:
//!
//! ```
//! use nemo::condvar::{nemo_condvar_init, nemo_condvar_signal, nemo_condvar_timedwait,
//!     nemo_condvar_destroy, NemoCondvar};
//!
//! let mut cv = NemoCondvar::INITIALIZER;
//! let mut m = libc::PTHREAD_MUTEX_INITIALIZER;
//! // SAFETY: local objects, used by this thread only.
//! unsafe {
//!     assert_eq!(nemo_condvar_init(&mut cv, std::ptr::null()), 0);
//!     assert_eq!(nemo_condvar_signal(&mut cv), 0); // nobody waits: a no-op
//!     assert_eq!(libc::pthread_mutex_lock(&mut m), 0);
//!     let past = libc::timespec { tv_sec: 0, tv_nsec: 0 };
//!     assert_eq!(nemo_condvar_timedwait(&mut cv, &mut m, &past), libc::ETIMEDOUT);
//!     assert_eq!(libc::pthread_mutex_unlock(&mut m), 0);
//!     assert_eq!(nemo_condvar_destroy(&mut cv), 0);
//!     assert_eq!(nemo_condvar_signal(std::ptr::null_mut()), libc::EINVAL);
//! }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod am;
pub mod condvar;
pub mod event;
pub mod info;

use std::ffi::c_int;

pub(crate) use nemo_c_boundary::guard;
use nemo_user::wait::{Clock, PolicyClass};

/// [`guard`] for a body that stops at its first failed check: `Err(errno)` returns `errno`.
pub(crate) fn guard_errno(f: impl FnOnce() -> Result<c_int, c_int>) -> c_int {
    guard(|| f().unwrap_or_else(|errno| errno))
}

/// `Ok` if `p` is an optional out-pointer a function may write (null, or aligned), else
/// `EINVAL`.
pub(crate) fn optional_out<T>(p: *mut T) -> Result<(), c_int> {
    if p.is_null() || p.is_aligned() {
        Ok(())
    } else {
        Err(libc::EINVAL)
    }
}

/// The wait policy of a condvar or event (`nemo_policy_t`).
pub type NemoPolicy = c_int;
/// The process-wide default policy (spin a while, then park).
pub const NEMO_POLICY_DEFAULT: NemoPolicy = 0;
/// Park at once: no spinning.
pub const NEMO_POLICY_PARK_ONLY: NemoPolicy = 1;
/// Never park: spin until woken or the deadline (burns a core).
pub const NEMO_POLICY_SPIN_ONLY: NemoPolicy = 2;

/// Attributes of a condvar or event (`nemo_attr_t`). A null pointer means the defaults:
/// `CLOCK_REALTIME`, process-private, default policy.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NemoAttr {
    /// The clock of `*_timedwait` deadlines: `CLOCK_REALTIME` or `CLOCK_MONOTONIC`.
    pub clock: libc::clockid_t,
    /// `1`: usable from several processes (the object lives in shared memory; use a
    /// process-shared mutex with it); `0`: this process only.
    pub pshared: c_int,
    /// One of the `NEMO_POLICY_*` values.
    pub policy: NemoPolicy,
}

const _: () = assert!(size_of::<NemoAttr>() == 12);

impl NemoAttr {
    /// The defaults (`NEMO_ATTR_DEFAULT` in C).
    pub const DEFAULT: NemoAttr = NemoAttr {
        clock: libc::CLOCK_REALTIME,
        pshared: 0,
        policy: NEMO_POLICY_DEFAULT,
    };

    /// The checked settings, or `EINVAL`.
    pub(crate) fn parse(&self) -> Result<(Clock, bool, PolicyClass), c_int> {
        let clock = Clock::try_from(self.clock).map_err(|e| e.errno())?;
        let shared = match self.pshared {
            0 => false,
            1 => true,
            _ => return Err(libc::EINVAL),
        };
        let policy = match self.policy {
            NEMO_POLICY_DEFAULT => PolicyClass::Default,
            NEMO_POLICY_PARK_ONLY => PolicyClass::ParkOnly,
            NEMO_POLICY_SPIN_ONLY => PolicyClass::SpinOnly,
            _ => return Err(libc::EINVAL),
        };
        Ok((clock, shared, policy))
    }

    /// `*attr`, or the defaults for a null pointer.
    ///
    /// # Safety
    /// `attr` is null or points to a readable `nemo_attr_t`.
    pub(crate) unsafe fn read(attr: *const NemoAttr) -> NemoAttr {
        if attr.is_null() {
            NemoAttr::DEFAULT
        } else {
            // SAFETY: non-null and readable per the caller.
            unsafe { attr.read() }
        }
    }
}
