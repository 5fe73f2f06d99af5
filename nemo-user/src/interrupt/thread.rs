//! Per-thread delivery state, and the process/thread identity that senders compare against.
//!
//! # Protocol
//!
//! Everything here is touched by one thread only — the owner — but *asynchronously*: a signal
//! handler (or a user-interrupt handler) may run between any two instructions of the owner and
//! read or write the same words. So the words are atomics accessed with `Relaxed` ordering and
//! separated by [`signal_fence`]s (the compiler must not move them across each other; the CPU
//! sees its own stores in order). A handler always leaves `depth` as it found it, which is why
//! the owner may update `depth` with a plain load + store.
//!
//! * `depth` — guards held plus deliveries in progress. While it is non-zero, a notification is
//!   not delivered; it sets `deferred` instead and leaves its vectors posted.
//! * `deferred` — a notification arrived while `depth > 0`; whoever brings `depth` back to zero
//!   (a guard's drop, the end of a delivery) delivers.
//! * `receiver` — the thread's registered receiver, or null. Handlers that find null do nothing
//!   (a late signal after unregistration is harmless).

use core::sync::atomic::{
    AtomicBool, AtomicI32, AtomicPtr, AtomicU8, AtomicU32, Ordering::Relaxed,
};
use std::sync::Once;

use super::local::Local;
use super::process::{current_pid, refresh_pid};

/// A compiler-only fence: orders the owner's accesses against a handler running on the same
/// thread (C's `atomic_signal_fence`).
#[inline(always)]
pub(crate) fn signal_fence() {
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

pub(crate) struct ThreadState {
    pub depth: AtomicU32,
    pub deferred: AtomicBool,
    /// Who implements the thread's user-interrupt flag, which guards clear and set: nobody,
    /// the CPU, or the emulation (see `flag::uif`).
    pub uif: AtomicU8,
    pub receiver: AtomicPtr<Local>,
    /// Cached `gettid()`, 0 until first asked (reset in a fork child).
    pub tid: AtomicI32,
}

thread_local! {
    // `const` initialisation and no destructor: the slot is a plain TLS word, so reading it
    // from a signal handler neither allocates nor runs lazy initialisation. (In a library
    // loaded with `dlopen`, the C library may allocate a thread's TLS block at its first
    // access: that first access is the registration, on the receiving thread, before any
    // notification can target it.)
    static THREAD: ThreadState = const {
        ThreadState {
            depth: AtomicU32::new(0),
            deferred: AtomicBool::new(false),
            uif: AtomicU8::new(0),
            receiver: AtomicPtr::new(core::ptr::null_mut()),
            tid: AtomicI32::new(0),
        }
    };
}

/// Runs `f` with this thread's state. Async-signal-safe.
#[inline(always)]
pub(crate) fn with<R>(f: impl FnOnce(&ThreadState) -> R) -> R {
    THREAD.with(f)
}

impl ThreadState {
    #[inline(always)]
    pub fn enter(&self) {
        signal_fence();
        self.depth.store(self.depth.load(Relaxed) + 1, Relaxed);
        signal_fence();
    }

    /// Returns the new depth.
    #[inline(always)]
    pub fn leave(&self) -> u32 {
        signal_fence();
        let d = self.depth.load(Relaxed) - 1;
        self.depth.store(d, Relaxed);
        signal_fence();
        d
    }

    /// This thread's kernel id.
    #[inline]
    pub fn tid(&self) -> libc::pid_t {
        let t = self.tid.load(Relaxed);
        if t != 0 {
            return t;
        }
        // SAFETY: gettid has no preconditions and cannot fail.
        let t = unsafe { libc::gettid() };
        self.tid.store(t, Relaxed);
        t
    }
}

static AT_FORK: Once = Once::new();

/// Registers the fork handler; must run before anything caches a pid or a receiver.
pub(crate) fn init_process() {
    AT_FORK.call_once(|| {
        // SAFETY: the handler is async-signal-safe (atomic stores to this thread's TLS and a
        // static, and getpid), as a handler that runs in a fork child must be.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
        current_pid();
    });
}

/// In a fork child the only thread is a copy of the forking one: its registration (if it had
/// one) belongs to the parent, where senders keep posting to the parent's memory. Forgetting it
/// here is what makes "a fork child does not receive the parent's interrupts" true, and stops the
/// child from delivering copies of vectors that were pending at the fork.
unsafe extern "C" fn after_fork_in_child() {
    refresh_pid();
    THREAD.with(|t| {
        t.receiver.store(core::ptr::null_mut(), Relaxed);
        t.deferred.store(false, Relaxed);
        t.uif.store(0, Relaxed);
        t.tid.store(0, Relaxed);
    });
}
