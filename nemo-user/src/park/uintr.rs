//! The park rung on UINTR kernels: block in `uintr_wait` instead of `FUTEX_WAIT`.
//!
//! A thread registered as a user-interrupt receiver with `UINTR_HANDLER_FLAG_WAITING_RECEIVER`
//! can sleep in `uintr_wait` and be woken by a `senduipi` — no `FUTEX_WAKE` on the notifier's side.
//! The condvar's notifiers still change the park word and issue futex wakes (they cannot know
//! which receiver sleeps where), so a `UintrPark` also re-checks the word every `slice`: a wake
//! is never lost, and it is prompt when the embedding pairs the park with a `senduipi` to the
//! receiver (through the interrupt layer), or `slice`-bounded otherwise.
//!
//! Gated: it can only be built from a [`Support`] token, which `uintr_sys::detect()` hands out
//! only on a CPU and kernel with UINTR. If the calling thread turns out not to be a registered
//! receiver, or the kernel lacks blocking support, it falls back to the futex park.
//!
//! ```
//! use nemo_user::embed::UintrPark;
//! use std::time::Duration;
//!
//! match uintr_sys::detect().support() {
//!     Some(support) => {
//!         let _park = UintrPark::new(support, Duration::from_micros(50));
//!     }
//!     None => println!("no UINTR here: the futex park is used"),
//! }
//! ```

use std::sync::atomic::Ordering;
use std::time::Duration;

use uintr_sys::Support;
use uintr_sys::syscalls::{self, WaitOutcome};

use super::{FutexPark, Park, ParkRequest, ParkResult};

/// Parks in `uintr_wait`, re-checking the park word every `slice`. See the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UintrPark {
    support: Support,
    slice_us: u64,
}

impl UintrPark {
    /// A UINTR park that re-checks the word at least every `slice` (at least 1 µs).
    pub fn new(support: Support, slice: Duration) -> Self {
        let slice_us = u64::try_from(slice.as_micros())
            .unwrap_or(syscalls::MAX_WAIT_USEC)
            .clamp(1, syscalls::MAX_WAIT_USEC);
        UintrPark { support, slice_us }
    }
}

impl Park for UintrPark {
    fn park(&self, req: &ParkRequest<'_>) -> ParkResult {
        if req.word.load(Ordering::Acquire) != req.expected {
            return ParkResult::Changed;
        }
        let usec = match req.deadline {
            Some(d) => {
                let left = d.remaining();
                if left.is_zero() {
                    return ParkResult::TimedOut;
                }
                u64::try_from(left.as_micros())
                    .unwrap_or(u64::MAX)
                    .clamp(1, self.slice_us)
            }
            None => self.slice_us,
        };
        match syscalls::wait(self.support, usec) {
            Ok(WaitOutcome::Interrupted) => ParkResult::Woken,
            Ok(WaitOutcome::TimedOut) => {
                if req.deadline.is_some_and(|d| d.has_passed()) {
                    ParkResult::TimedOut
                } else {
                    // A slice ended: let the caller re-check the word.
                    ParkResult::Woken
                }
            }
            Err(_) => FutexPark.park(req),
        }
    }
}
