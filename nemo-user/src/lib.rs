//! # nemo-user
//!
//! Nemo's asynchronous event primitives at user level.
//!
//! ## Condition variables and events
//!
//! [`condvar::Condvar`] (for `std::sync::Mutex`) and [`condvar::RawCondvar`] (48 bytes, any
//! mutex, process-shareable, all-zero initialised — what the `pthread_cond_*` replacement keeps
//! inside a `pthread_cond_t`) are condition variables whose waiters climb a wait ladder — spin on
//! the cache line, `umwait` where the CPU has WAITPKG, park on a futex — so a notification reaches
//! a waiter that is still spinning at cache-coherence speed instead of through the scheduler.
//! `notify_one` wakes exactly one waiter and never makes a system call unless that waiter is
//! parked; `notify_all` releases spinning waiters with one store per group of waiters (two words
//! of one cache line) and parked ones through a fan-out tree. [`event::Event`] is the same
//! machinery without a mutex, for idle workers waiting for "there is work". [`wait`] holds the
//! ladder's policies and deadlines, and [`wake`] the opt-in rung whose parked waiters are woken by
//! a user interrupt.
//!
//! ```
//! use nemo_user::condvar::Condvar;
//! use nemo_user::wait::WaitPolicy;
//! use std::sync::{Arc, Mutex};
//!
//! let shared = Arc::new((Mutex::new(0u32), Condvar::new().with_policy(WaitPolicy::default())));
//! let producer = {
//!     let shared = Arc::clone(&shared);
//!     std::thread::spawn(move || {
//!         let (m, cv) = &*shared;
//!         *m.lock().unwrap() = 42;
//!         cv.notify_all();
//!     })
//! };
//! let (m, cv) = &*shared;
//! let v = cv.wait_while(m.lock().unwrap(), m, |v| *v == 0).unwrap();
//! assert_eq!(*v, 42);
//! # drop(v);
//! producer.join().unwrap();
//! ```
//!
//! ## User interrupts and active messages
//!
//! [`interrupt`] gives every thread a receiver of 64 user-interrupt vectors: other threads
//! connect a [`Sender`](interrupt::Sender) to its [`Endpoint`](interrupt::Endpoint) and send; the
//! receiver's handler runs on the receiver's thread, highest vector first, a pending vector
//! coalesces, and a [`Guard`](interrupt::Guard) defers delivery. [`am`] builds Nemo's active
//! messages on top: per-target lossless mailboxes and an action table, so a notification carries
//! a payload and runs a chosen handler on the target thread.
//!
//! Three backends ([`BackendKind`]) share these semantics: `uintr` (Intel user interrupts, where the CPU and
//! kernel have them), `signal` (a software UPID notified by a real-time signal; the default
//! elsewhere) and `poll` (the same UPID, drained at [`poll()`] safepoints). `NEMO_BACKEND`
//! forces one; [`backend_info()`] says which one runs and why.
//!
//! On the `poll` backend (handlers run only at safepoints, and may do anything):
//!
//! ```
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use nemo_user::BackendKind;
//! use nemo_user::interrupt::{Guard, Receiver};
//!
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let l = log.clone();
//! let rx = Receiver::builder()
//!     .backend(BackendKind::Poll)
//!     .register(move |v| l.borrow_mut().push(v.get()))?;
//! let ep = rx.endpoint();
//! std::thread::spawn(move || -> nemo_user::Result<()> {
//!     for v in [3, 60, 3, 17] {
//!         ep.connect(v)?.send()?;
//!     }
//!     Ok(())
//! }).join().unwrap()?;
//! {
//!     let _g = Guard::new();
//!     assert_eq!(nemo_user::poll(), 0); // deferred while guarded
//! }
//! // The guard's drop delivered: highest first, and the two sends of 3 coalesced.
//! assert_eq!(*log.borrow(), [60, 17, 3]);
//! # Ok::<(), nemo_user::Error>(())
//! ```
//!
//! On the `signal` backend, active messages interrupt a busy thread (handlers run as signal
//! handlers, so they stick to atomics):
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use nemo_user::am::Domain;
//! use nemo_user::BackendKind;
//!
//! let domain = Domain::builder().backend(BackendKind::Signal).build();
//! let sum = Arc::new(AtomicU64::new(0));
//! let s = sum.clone();
//! let add = domain.register_action(move |x| { s.fetch_add(x, Ordering::SeqCst); })?;
//! let me = domain.register_target()?;
//! let (d, id) = (domain.clone(), me.id());
//! let sender = std::thread::spawn(move || -> nemo_user::Result<()> {
//!     for x in 1..=100 {
//!         d.notify(id, add, x)?;
//!     }
//!     Ok(())
//! });
//! while sum.load(Ordering::SeqCst) != 5050 {
//!     std::hint::spin_loop(); // no polling: the signal runs the actions
//! }
//! sender.join().unwrap()?;
//! # Ok::<(), nemo_user::Error>(())
//! ```
//!
//! ## Embedding
//!
//! A runtime or a C library that drives waits itself (its own park step, a wait that must
//! block in a cancellation point) finds what it needs in [`embed`]; nothing else should need
//! it. The futex and the clock this crate uses are `uintr_sys::futex` and `uintr_sys::clock`,
//! for code that makes the blocking call or takes its timestamps itself. How the modules depend
//! on each other, and where each invariant lives, is in the repository's `ARCHITECTURE.md`.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod am;
mod atom;
mod backend;
pub mod condvar;
pub mod embed;
mod error;
pub mod event;
mod futex;
pub mod interrupt;
pub(crate) mod park;
#[cfg(feature = "sched")]
pub mod sched;
pub mod timer;
pub mod wait;
pub mod wake;

/// The clock reads and TSC calibration live in `uintr-sys`, shared with the shim and the bench.
use uintr_sys::clock;

pub use backend::poll::poll;
pub use backend::{BackendInfo, BackendKind, backend_info};
pub use error::{Error, ErrorKind, Result};

/// The examples of the crate's README, compiled and run as doc tests (the README is inside the
/// package, so they run from the published crate too).
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
