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
//!
//! They are re-exports: the crate itself uses the same items, so there is no second copy to
//! drift. The futex and the clock an embedding calls itself (the shim's own blocking call, the
//! benchmark's timestamps) are `uintr_sys::futex` and `uintr_sys::clock`, the ones this crate
//! uses.

pub use crate::backend::signal::signal_number;
pub use crate::condvar::raw::SplitWait;
pub use crate::park::{FutexPark, Park, ParkRequest};
pub use crate::wait::admission::{ParkedHere, SpinCensus, refresh_spin_capacity, spin_census};
