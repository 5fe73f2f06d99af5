//! Embedding hooks: what a runtime, a C library or a `pthread_cond_*` replacement built on nemo
//! needs beyond the primitives.
//!
//! The primitives ([`condvar`](crate::condvar), [`event`](crate::event),
//! [`interrupt`](crate::interrupt), [`am`](crate::am), [`timer`](crate::timer)) are all most
//! programs use. An embedding that drives waits itself — a C wait that must block in a
//! cancellation point, a runtime that parks its workers its own way — uses the pieces here, and
//! nothing else should need them:
//!
//! - The park step: [`Park`], with [`FutexPark`] (the default) and [`InterruptPark`](crate::wake::InterruptPark), for a runtime
//!   that blocks its waiters its own way; [`SplitWait`], the split-phase wait of a
//!   [`RawCondvar`](crate::condvar::RawCondvar) (`begin_wait`, `prepare_park`, `end_park`,
//!   `abandon`, `finish_wait`), for one that must make the blocking call itself.
//! - The spinner census: [`ParkedHere`] (a thread blocked outside the wait ladder says so, so
//!   spinners do not count on its CPU), [`spin_census`], [`refresh_spin_capacity`].
//! - [`signal_number`]: the real-time signal the `signal` backend notifies with, for a runtime
//!   that manages its threads' signal masks (it must stay unblocked where receivers run).
//! - [`futex`]: the parameters of the one blocking call, for code that makes it itself.
//! - [`clock`]: `CLOCK_MONOTONIC` nanoseconds, the TSC and its calibrated rate.
//! - [`c`]: the two things every C entry point of nemo does the same way: keep a panic out of C
//!   ([`c::guard`]) and read an absolute `timespec` deadline ([`c::deadline`]).
//!
//! They are re-exports: the crate itself uses the same functions, so there is no second copy
//! to drift.

pub use crate::backend::signal::signal_number;
pub use crate::condvar::raw::SplitWait;
pub use crate::park::{FutexPark, Park, ParkRequest};
pub use crate::wait::admission::{ParkedHere, SpinCensus, refresh_spin_capacity, spin_census};

/// The futex, for an embedding that makes the blocking call itself (the preload shim's C wait,
/// which must block with asynchronous cancellation enabled and no Rust frame on the stack).
pub mod futex {
    pub use crate::futex::{MATCH_ANY, wait_op, wait_with_op};
}

/// Time sources: what the timer core and the benchmark's timestamps read.
pub mod clock {
    pub use crate::clock::{
        calibrate_tsc, clock_ns, monotonic_ns, rdtsc_ordered, tsc_is_invariant,
    };
}

/// The C boundary, shared by `libnemo` and the preload shim.
pub mod c {
    use std::ffi::c_int;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use crate::wait::{Clock, Deadline};

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
    pub unsafe fn deadline(
        clock: Clock,
        abstime: *const libc::timespec,
    ) -> Result<Deadline, c_int> {
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
}
