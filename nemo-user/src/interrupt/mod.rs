//! User interrupts between threads: [`Receiver`], [`Endpoint`], [`Sender`], [`Guard`].
//!
//! A thread registers a [`Receiver`] with a handler; other threads connect a [`Sender`] for one
//! of its 64 vectors to its [`Endpoint`] and [`send`](Sender::send). The handler runs on the
//! receiver's thread, once per delivered vector, highest vector first; sending a vector that is
//! still pending coalesces with it (exactly like a hardware user interrupt: the vector says "look",
//! it carries no count). For payloads that must all arrive, use [active messages](crate::am).
//!
//! # What a handler may do
//!
//! | backend | runs | may | must not |
//! |---|---|---|---|
//! | `poll` | inside [`crate::poll()`] and a guard's drop | anything | — |
//! | `signal` | at any instruction, as a signal handler (also inside blocking syscalls, which then restart) | async-signal-safe work: atomics, lock-free queues, `write`, sending interrupts | allocate or free, take locks the interrupted code may hold (that includes `println!` and `Mutex`es the thread uses) |
//! | `uintr` | at any instruction while UIF is set, on the interrupted stack (below its red zone) | as `signal` | as `signal`; make system calls that block indefinitely (a receiver blocked in the kernel is not interrupted, except the interrupt rung's own waker, [`InterruptPark`](crate::wake::InterruptPark), which registers for it) |
//!
//! On every backend: a handler runs with delivery deferred (no handler interrupts another), a
//! panic aborts the process, and a handler that drops its own receiver is safe (the receiver is
//! freed after the handler returns). Code that shares data with a handler protects it with a
//! [`Guard`], not a lock.
//!
//! Where the machine has no user interrupts, the `uintr` backend's own path (trampoline entry,
//! `uiret`, notification processing, `clui`/`stui` guards) still runs through `uintr-sys`'s
//! emulation: [`ReceiverBuilder::uintr_emulated`]. That is for testing; it is not fast.
//!
//! # Lifecycle
//!
//! Dropping a receiver (or the thread exiting without dropping it) unregisters it: later sends
//! and connects fail with [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone), and no signal is
//! ever sent to the exited thread's id. The thread may register again. In a fork child, the
//! parent's receivers are gone: the child never runs the parent's handlers, and its sends through
//! inherited endpoints fail with [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess) unless the
//! receiver was [process-shared](ReceiverBuilder::process_shared).
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use nemo_user::BackendKind;
//! use nemo_user::interrupt::{Receiver, Sender};
//!
//! // The handler of a signal-backend receiver runs like a signal handler: atomics only.
//! let got = Arc::new(AtomicU64::new(0));
//! let g = got.clone();
//! let rx = Receiver::builder()
//!     .backend(BackendKind::Signal)
//!     .register(move |v| { g.fetch_or(v.bit(), Ordering::SeqCst); })?;
//! let ep = rx.endpoint();
//! std::thread::spawn(move || -> Result<(), nemo_user::Error> {
//!     ep.connect(9)?.send()
//! }).join().unwrap()?;
//! while got.load(Ordering::SeqCst) == 0 {
//!     std::hint::spin_loop(); // the signal interrupts this loop and runs the handler
//! }
//! assert_eq!(got.load(Ordering::SeqCst), 1 << 9);
//! # Ok::<(), nemo_user::Error>(())
//! ```

pub(crate) mod delivery;
pub(crate) mod doorbell;
mod endpoint;
pub(crate) mod flag;
mod guard;
pub(crate) mod kind;
pub(crate) mod local;
pub(crate) mod process;
mod receiver;
pub(crate) mod resume;
pub(crate) mod seam;
mod sender;
pub(crate) mod shared;
pub(crate) mod thread;

pub use endpoint::Endpoint;
pub use guard::Guard;
pub use receiver::{Receiver, ReceiverBuilder};
pub use sender::Sender;
pub use uintr_sys::Vector;

/// The mask with all 64 vectors set.
pub(crate) const ALL_VECTORS: u64 = u64::MAX;

/// The backend of the calling thread's receiver, if it has one.
pub fn current_backend() -> Option<kind::BackendKind> {
    thread::with(|ts| {
        let local = ts.receiver.load(core::sync::atomic::Ordering::Relaxed);
        // SAFETY: the thread's registered receiver is live while the pointer is set.
        (!local.is_null()).then(|| unsafe { &*local }.shared.doorbell().kind())
    })
}
