//! [`Receiver`]: a thread's registration to receive user interrupts.

use crate::error::Repr;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use crate::backend::{self, BackendKind};
use crate::error::Result;

use super::delivery::drain;
use super::doorbell::Doorbell;
use super::endpoint::Endpoint;
use super::local::Local;
use super::process::current_pid;
use super::shared::Shared;
use super::thread::{self, signal_fence};
use super::{ALL_VECTORS, Vector};

/// The calling thread's user-interrupt receiver: 64 vectors, one handler.
///
/// Register one per thread with [`Receiver::builder`] (`Receiver::builder().register(handler)`
/// for the default backend and all vectors); hand [`Receiver::endpoint`] to the threads that
/// will send. The handler
/// runs on this thread, once per delivered vector, highest vector first; a vector sent again
/// before it was delivered coalesces. What a handler may do depends on the backend (see
/// [`crate::interrupt`]); a panicking handler aborts the process.
///
/// Dropping the receiver unregisters it: every send that returned `Ok` before is delivered by
/// the drop at the latest (even inside a [`Guard`](super::Guard): the drop is where the owner
/// chose to end the receiver), and every later send fails with [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone). The
/// thread may then register again. If the thread exits with the receiver leaked, the receiver
/// is marked gone at thread exit, and what was pending is discarded.
///
/// On `uintr`, vectors still in flight inside the CPU when the receiver is dropped are discarded
/// by the kernel.
///
/// `Receiver` is neither `Send` nor `Sync`: it belongs to its thread.
///
/// ```
/// use std::cell::Cell;
/// use std::rc::Rc;
/// use nemo_user::BackendKind;
/// use nemo_user::interrupt::{Receiver, Sender};
///
/// let seen = Rc::new(Cell::new(0u64));
/// let s = seen.clone();
/// let rx = Receiver::builder()
///     .backend(BackendKind::Poll)
///     .register(move |v| s.set(s.get() | v.bit()))?;
/// let tx = rx.endpoint().connect(7)?;
/// std::thread::scope(|sc| {
///     sc.spawn(|| tx.send()).join().unwrap()
/// })?;
/// assert_eq!(nemo_user::poll(), 1); // the poll backend delivers at safepoints
/// assert_eq!(seen.get(), 1 << 7);
/// drop(rx);
/// assert_eq!(tx.send().unwrap_err().kind(), nemo_user::ErrorKind::ReceiverGone);
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[must_use = "dropping a receiver unregisters it: keep it for as long as the thread receives"]
pub struct Receiver {
    local: NonNull<Local>,
    _owned_by_thread: PhantomData<*const ()>,
}

/// Options for registering a [`Receiver`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ReceiverBuilder {
    backend: Option<BackendKind>,
    vectors: u64,
    process_shared: bool,
    uintr: backend::uintr::Options,
}

impl Default for ReceiverBuilder {
    fn default() -> Self {
        ReceiverBuilder {
            backend: None,
            vectors: ALL_VECTORS,
            process_shared: false,
            uintr: backend::uintr::Options::default(),
        }
    }
}

impl ReceiverBuilder {
    /// Uses this backend instead of the process default. Registering fails with
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (backend unavailable) if it cannot run here.
    pub fn backend(mut self, kind: BackendKind) -> Self {
        self.backend = Some(kind);
        self
    }

    /// Only the vectors whose bit is set in `mask` may be connected to (on `uintr` each enabled
    /// vector costs one file descriptor while the receiver lives).
    pub fn vectors(mut self, mask: u64) -> Self {
        self.vectors = mask;
        self
    }

    /// Adds `vector` to the enabled set.
    pub(crate) fn enable_vector(mut self, vector: Vector) -> Self {
        self.vectors |= vector.bit();
        self
    }

    /// Puts the receiver's UPID in memory shared with fork children, so that endpoints inherited
    /// across `fork` still reach it (children can send to their parent's receiver). A forked
    /// child's sends otherwise fail with [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess).
    pub fn process_shared(mut self, shared: bool) -> Self {
        self.process_shared = shared;
        self
    }

    /// On `uintr`, asks the kernel to interrupt blocking system calls of the receiver
    /// (`UINTR_HANDLER_FLAG_WAITING_RECEIVER`), which the interrupt rung ([`InterruptPark`](crate::wake::InterruptPark))'s
    /// `uintr_wait` needs. *Every* interruptible call of the receiver's thread then fails with
    /// `EINTR` when an interrupt arrives (`read`, `futex`, `nanosleep`, `epoll_wait`, …, with no
    /// `SA_RESTART`-style restart): code on that thread must retry on `EINTR`. Needs a kernel
    /// built with blocking support; registration fails otherwise. Ignored by the other backends, whose
    /// receivers are always reached (`signal`: the syscall restarts after the handler) or never
    /// (`poll`).
    pub(crate) fn uintr_waiting(mut self, waiting: bool) -> Self {
        self.uintr.waiting = waiting;
        self
    }

    /// On `uintr`, runs the backend through `uintr-sys`'s emulation instead of the CPU: the same
    /// trampoline, dispatch and guards, on any machine, at the cost of two signals per interrupt.
    /// For testing this backend's path without hardware; implies `backend(BackendKind::Uintr)`.
    /// Senders must be in the receiver's process.
    pub fn uintr_emulated(mut self, emulated: bool) -> Self {
        self.uintr.emulated = emulated;
        if emulated {
            self.backend = Some(BackendKind::Uintr);
        }
        self
    }

    /// Registers the calling thread as a receiver whose interrupts run `handler`.
    ///
    /// Errors: [`ErrorKind::AlreadyRegistered`](crate::ErrorKind::AlreadyRegistered) if the thread has a receiver,
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (backend unavailable) / [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) (bad backend name) for a backend that cannot run
    /// (or a bad `NEMO_BACKEND`), [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) (bad signal) / [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted) (no free signal) on `signal`,
    /// [`ErrorKind::Os`](crate::ErrorKind::Os) (a user-interrupt system call) if the kernel refuses.
    pub fn register<F>(self, handler: F) -> Result<Receiver>
    where
        F: FnMut(Vector) + 'static,
    {
        thread::init_process();
        let kind = backend::choose(self.backend, &self.uintr)?;
        thread::with(|ts| {
            if !ts.receiver.load(Relaxed).is_null() {
                return Err(Repr::AlreadyRegistered.into());
            }
            let doorbell = Doorbell::new(
                kind,
                current_pid(),
                ts.tid(),
                backend::notification_signal(kind)?,
                self.vectors,
                self.process_shared,
            );
            let shared = Arc::new(Shared::new(doorbell, self.process_shared, |doorbell| {
                backend::open(kind, &self.uintr, self.vectors, doorbell)
            })?);
            let local = Box::into_raw(Box::new(Local::new(shared.clone(), Box::new(handler))));
            exit_hook::arm();
            signal_fence();
            ts.receiver.store(local, Relaxed);
            signal_fence();
            shared.backend().activate();
            Ok(Receiver {
                // SAFETY: from `Box::into_raw`, never null.
                local: unsafe { NonNull::new_unchecked(local) },
                _owned_by_thread: PhantomData,
            })
        })
    }
}

impl Receiver {
    /// Options for registering a receiver: `Receiver::builder().register(handler)` registers
    /// the calling thread with the default backend and all 64 vectors.
    pub fn builder() -> ReceiverBuilder {
        ReceiverBuilder::default()
    }

    fn shared(&self) -> &Arc<Shared> {
        // SAFETY: the receiver owns `local` until its drop.
        &unsafe { self.local.as_ref() }.shared
    }

    /// What senders connect to. Cheap to clone, `Send + Sync`.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(self.shared().clone())
    }

    /// Vectors posted to this receiver's software UPID and not yet delivered: everything pending
    /// on `signal` and `poll`; on `uintr`, only vectors deferred by a guard (the CPU's own pending
    /// vectors are not visible).
    pub fn pending(&self) -> u64 {
        self.shared().doorbell().upid.pir()
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("tid", &self.shared().doorbell().tid)
            .field("backend", &self.shared().doorbell().kind())
            .field("pending", &format_args!("{:#x}", self.pending()))
            .finish()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let local = self.local.as_ptr();
        thread::with(|ts| {
            // SAFETY: owned by this receiver until freed at the end of this block.
            let l = unsafe { &*local };
            let doorbell = l.shared.doorbell();
            let current = ts.receiver.load(Relaxed) == local;
            if current {
                l.shared.backend().deactivate();
                // From here on, notifications that land find no receiver and leave their
                // vectors in the UPID, where the final drain below finds them.
                signal_fence();
                ts.receiver.store(core::ptr::null_mut(), Relaxed);
                signal_fence();
            }
            doorbell.kill();
            if l.is_active() {
                // Dropped from inside its own handler: the activation frees it on return.
                l.orphaned.store(true, Relaxed);
                signal_fence();
                return;
            }
            if current && doorbell.pid == current_pid() {
                // SAFETY: `local` is live and this thread's; no activation of it is running.
                unsafe { drain(ts, local, false) };
            }
            // SAFETY: from `Box::into_raw` in `register`; no activation refers to it.
            drop(unsafe { Box::from_raw(local) });
        });
    }
}

/// Marks the thread's receiver dead when the thread exits without dropping it (it was leaked),
/// so that no sender signals the exited thread's id, which the kernel may hand to another thread.
mod exit_hook {
    use super::*;

    struct ExitHook;

    impl Drop for ExitHook {
        fn drop(&mut self) {
            thread::with(|ts| {
                let local = ts.receiver.swap(core::ptr::null_mut(), Relaxed);
                if local.is_null() {
                    return;
                }
                // SAFETY: a registered receiver is live until its owner drops it, and its owner
                // (which was leaked, or lives in a thread-local destroyed later) frees it only
                // after finding it no longer current.
                let shared = &unsafe { &*local }.shared;
                shared.backend().deactivate();
                shared.doorbell().kill();
            });
        }
    }

    thread_local! {
        static HOOK: ExitHook = const { ExitHook };
    }

    /// Registers the hook's destructor for this thread (on first use).
    pub(super) fn arm() {
        HOOK.with(|_| ());
    }
}
