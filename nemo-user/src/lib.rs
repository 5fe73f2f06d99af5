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
//! of one cache line) and parked ones through a fan-out tree. [`event::Event`] is the same machinery without a mutex, for idle workers waiting
//! for "there is work". [`wait`] holds the ladder's policies and deadlines, [`park`] its last
//! rung.
//!
//! ```
//! use nemo_user::condvar::Condvar;
//! use nemo_user::wait::WaitPolicy;
//! use std::sync::{Arc, Mutex};
//!
//! let shared = Arc::new((Mutex::new(0u32), Condvar::with_policy(WaitPolicy::default())));
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
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod condvar;
pub mod event;
pub mod park;
pub mod wait;
