//! The last rung of the wait ladder: blocking in the kernel until a word changes.
//!
//! A waiter parks by asking a [`Park`] implementation to sleep while a 32-bit word still holds a
//! value it read ([`ParkRequest`]); the notifier changes the word and wakes it. [`FutexPark`] (the
//! default) does this with `FUTEX_WAIT_BITSET`, honouring the deadline's clock and the
//! process-shared flag.
//!
//! ## Plugging in another park
//!
//! The park step is a trait so that an embedding can change *how* the thread blocks without
//! touching the protocol:
//!
//! - **Cancellation points.** A `pthread_cond_wait` replacement must block in a cancellation
//!   point. It can implement [`Park`] with a cancellable futex call of its own, or — more robustly,
//!   since cancellation unwinds through the caller — drive the wait itself with the split-phase
//!   API of [`RawCondvar`](crate::condvar::RawCondvar) (`begin_wait`, `prepare_park`, its own
//!   blocking call, `end_park`, and `abandon` from its cleanup handler), so no Rust frame is live
//!   while the thread can be cancelled.
//! - **User interrupts.** [`InterruptPark`] (from [`crate::wake`]) makes the ladder's waits
//!   sleep as user-interrupt receivers, registered beside the condvar, and their notifiers
//!   interrupt them (`senduipi` on UINTR, the backend's signal elsewhere) instead of issuing a
//!   `FUTEX_WAKE`. The ladder asks a park for that rung with [`Park::interrupt_rung`]; the
//!   split-phase API below always parks on the word. The futex park stays the default because
//!   it needs no registration and works across processes.
//!
//! ```
//! use nemo_user::embed::{FutexPark, Park, ParkRequest};
//! use nemo_user::wait::{Deadline, WaitOutcome};
//! use std::sync::atomic::AtomicU32;
//! use std::time::Duration;
//!
//! let word = AtomicU32::new(5);
//! // The word does not hold 4: returns at once (before any deadline), nothing to wait for.
//! let req = ParkRequest { word: &word, expected: 4, deadline: None, shared: false };
//! assert_eq!(FutexPark.park(&req), WaitOutcome::Woken);
//! // It holds 5 and nobody wakes us: the deadline ends the wait.
//! let d = Deadline::from(Duration::from_millis(1));
//! let req = ParkRequest { word: &word, expected: 5, deadline: Some(&d), shared: false };
//! assert_eq!(FutexPark.park(&req), WaitOutcome::TimedOut);
//! assert!(d.has_passed());
//! ```

pub use crate::wake::InterruptPark;

use std::sync::atomic::AtomicU32;

use crate::futex;
use crate::wait::{Deadline, WaitOutcome};

/// One request to block: sleep while `word` holds `expected`, until woken or `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct ParkRequest<'a> {
    /// The word the notifier changes before waking.
    pub word: &'a AtomicU32,
    /// The value the waiter saw; if the word differs, return at once.
    pub expected: u32,
    /// Absolute deadline on its clock, if any.
    pub deadline: Option<&'a Deadline>,
    /// Whether the word lives in memory shared between processes (use non-private futexes).
    pub shared: bool,
}

/// How a park ended, as [`Park::park`] reports it: a [`WaitOutcome`] whose `TimedOut` is exact
/// and whose `Woken` means only "returned before the deadline". The crate's own parkers name it
/// so.
pub(crate) type ParkResult = WaitOutcome;

/// A way to block the calling thread until a word changes. See the module docs.
pub trait Park {
    /// Blocks while `req.word` holds `req.expected`, until a wake or `req.deadline`.
    ///
    /// Returns [`WaitOutcome::TimedOut`] only once the deadline has passed on its clock, and
    /// [`WaitOutcome::Woken`] for every other return: woken, the word had already changed, a
    /// spurious wakeup or a signal. Every park is followed by a re-check of the condvar's
    /// state, so an implementation may return early for any reason; only `TimedOut` must be
    /// exact.
    fn park(&self, req: &ParkRequest<'_>) -> WaitOutcome;

    /// The interrupt rung this park stands for, if any: the wait ladder then parks the waiter
    /// as a user-interrupt receiver ([`crate::wake`]) and uses [`park`](Park::park) only where
    /// that rung does not apply. `None` by default.
    fn interrupt_rung(&self) -> Option<&InterruptPark> {
        None
    }
}

/// The default park: `FUTEX_WAIT_BITSET` with an absolute deadline on the deadline's clock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FutexPark;

impl Park for FutexPark {
    #[inline]
    fn park(&self, req: &ParkRequest<'_>) -> WaitOutcome {
        match futex::wait(
            req.word,
            req.expected,
            futex::MATCH_ANY,
            req.deadline,
            req.shared,
        ) {
            futex::WaitResult::Woken
            | futex::WaitResult::Interrupted
            | futex::WaitResult::Mismatch => WaitOutcome::Woken,
            futex::WaitResult::TimedOut => WaitOutcome::TimedOut,
        }
    }
}
