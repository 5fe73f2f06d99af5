//! Interrupt-woken parking: waiters of a condvar or event sleep as user-interrupt receivers and
//! their notifier interrupts them, instead of a `FUTEX_WAKE` per waiter (Nemo's kick for OS
//! threads).
//!
//! Opt in per condvar or event with [`InterruptPark`]
//! ([`Condvar::with_interrupt_park`](crate::condvar::Condvar::with_interrupt_park),
//! [`Event::with_interrupt_park`](crate::event::Event::with_interrupt_park), or as the `parker` of
//! the raw API). The 48-byte condvar stays as it is — pointer-free, process-shareable —
//! and the process keeps, beside it, a registry of parked receivers keyed by the condvar's
//! address, in the spirit of `parking_lot_core`'s parking lot.
//!
//! # The rung, per backend
//!
//! | backend of the waiter's receiver | the waiter sleeps in | the notifier wakes it with |
//! |---|---|---|
//! | `uintr` | `uintr_wait` (receiver registered `WAITING_RECEIVER`), re-checking every 1 ms | `senduipi` |
//! | `uintr`, emulated | `FUTEX_WAIT` on its own word | the emulation's delivery signal |
//! | `signal` | `FUTEX_WAIT` on its own word | the backend's real-time signal (`tgkill`) |
//! | `poll` | — (the futex park, unchanged) | `FUTEX_WAKE` |
//!
//! On `signal`, nobody ever `FUTEX_WAKE`s the waiter's word: the signal interrupts the futex call,
//! which restarts (`SA_RESTART`, or the kernel's restart block for timed waits) and, comparing
//! the word again, finds it changed. So the whole protocol runs, and is tested, on machines
//! without user interrupts; it is not faster than a futex there (a signal costs a `tgkill`,
//! a signal frame and a `sigreturn` on top of the wakeup).
//!
//! A thread that waits this way registers a receiver of its own at its first such wait (one
//! vector, a handler that does nothing) and keeps it until it exits or calls
//! [`InterruptPark::release_thread`]; meanwhile it cannot register another receiver
//! ([`ErrorKind::AlreadyRegistered`](crate::ErrorKind::AlreadyRegistered)). A thread that already has a
//! receiver, a process-shared condvar, and the `poll` backend park on the futex as before.
//!
//! A wake may reach a thread after it has left the wait (it returned on its own poll while a
//! notifier was claiming it). On `signal` that is a signal whose handler does nothing and whose
//! system call restarts; on UINTR hardware, where the receiver is registered
//! `WAITING_RECEIVER`, the kernel ends *any* interruptible system call the thread is blocked in
//! with `EINTR` when an interrupt arrives — so on UINTR, code on a thread that parks this way
//! must retry on `EINTR` (as code that uses signals must anyway).
//!
//! The registry also holds waiters that are not threads: a wait inside a `nemo_user::sched`
//! task (feature `sched`) registers the task, on any condvar or event that is not
//! process-shared, and the claim's wake unparks the task on its worker instead of interrupting a
//! thread (`sched/waiter.rs`). The handshake below is the same for both.
//!
//! # The handshake (who may touch what when)
//!
//! The condvar protocol (`condvar/protocol.rs`) alone decides *which* waiter returns and when —
//! tokens and generation tags — so `notify_one` stays exact and there are no spurious wakeups;
//! the registry only decides *how a sleeping waiter is woken*.
//!
//! Waiter of generation `g` of condvar `cv`, after the ladder's unparked rungs:
//! 1. arm its word; register `(cv, g, waker)`; `fence(SeqCst)`; poll the condvar;
//! 2. if still waiting, sleep until its word changes (or the deadline);
//! 3. withdraw, learning whether a notifier **claimed** the slot meanwhile; poll again, and on a
//!    deadline withdraw from the condvar (`cancel`, which may still take a token);
//! 4. if it returns and had been claimed, it may be returning on a token other than the one the
//!    claim announced (it took one while registered but not yet asleep): if a token of its
//!    group is still untaken, it passes the wake on to another waiter of the group (registered,
//!    else futex-parked). Otherwise it loops to 1.
//!
//! Notifier, after its change of the condvar's state and the `fence(SeqCst)` it already issues
//! (under the condvar's internal lock), and after releasing that lock:
//! - `notify_one` whose target group has no futex-parked waiter: claim one registered waiter of
//!   the group and wake it; a group released by the call: claim and wake all of its waiters.
//! - `notify_all`: claim and wake every registered waiter of both groups — the parallel fan-out
//!   of user interrupts, sent by the notifier in batches of 32, with no system call on `uintr`.
//!
//! No lost wakeup: the waiter's registration and the notifier's state change are ordered by the
//! two `SeqCst` fences (and the bucket lock), so either the notifier finds the slot or the
//! waiter's poll in step 1 sees the change. A claim always follows a state change that the
//! claimed waiter's next poll sees, unless another waiter took that token — which then returns
//! instead — and step 4 covers the waiter that took it without being the one claimed. A
//! deadline is handled by the condvar's `cancel` exactly as on the futex rung. A thread that
//! exits while registered withdraws in its TLS destructor, and a claim of a waiter whose thread
//! is gone counts as no wake (another waiter is claimed instead).
//!
//! The loom models in `condvar/loom_models.rs` run this handshake (the registry's own code, with
//! the interrupt replaced by an unpark).

pub(crate) mod native;
pub(crate) mod registry;
#[cfg(feature = "sched")]
pub(crate) mod task;

use crate::backend::BackendKind;
use crate::park::{FutexPark, Park, ParkRequest, ParkResult};
use crate::wait::Deadline;

/// The interrupt rung as a [`Park`]: waits that use it sleep as user-interrupt receivers and are
/// woken by their notifier's user interrupt (see the [module docs](self)). Where the rung does
/// not apply (the split-phase API, a process-shared condvar, a thread with a receiver of its
/// own, the `poll` backend) it parks on the futex like [`FutexPark`].
///
/// ```
/// use nemo_user::condvar::Condvar;
/// use nemo_user::BackendKind;
/// use nemo_user::wake::InterruptPark;
/// use std::sync::{Arc, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Condvar::new().with_interrupt_park(
///     InterruptPark::with_backend(BackendKind::Signal),
/// )));
/// let p = pair.clone();
/// let t = std::thread::spawn(move || {
///     let (m, cv) = &*p;
///     let _g = cv.wait_while(m.lock().unwrap(), m, |ready| !*ready).unwrap();
/// });
/// let (m, cv) = &*pair;
/// *m.lock().unwrap() = true;
/// cv.notify_all();
/// t.join().unwrap();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InterruptPark {
    backend: Option<BackendKind>,
    emulated: bool,
}

impl InterruptPark {
    /// The rung on the process's default backend ([`crate::backend_info`]).
    pub const fn new() -> Self {
        InterruptPark {
            backend: None,
            emulated: false,
        }
    }

    /// The rung on `kind` (on `poll` it is the futex park).
    pub const fn with_backend(kind: BackendKind) -> Self {
        InterruptPark {
            backend: Some(kind),
            emulated: false,
        }
    }

    /// The rung on the `uintr` backend run through `uintr-sys`'s emulation (for testing that
    /// backend's delivery path without hardware; two signals per wake).
    pub const fn uintr_emulated() -> Self {
        InterruptPark {
            backend: Some(BackendKind::Uintr),
            emulated: true,
        }
    }

    /// The backend asked for (`None`: the process default).
    pub(crate) const fn backend(&self) -> Option<BackendKind> {
        self.backend
    }

    /// Whether it asks for the emulated `uintr` backend.
    pub(crate) const fn is_emulated(&self) -> bool {
        self.emulated
    }

    /// Whether the calling thread parks on interrupts with this rung (registering its waker
    /// receiver now if it has none): `false` where it falls back to the futex park.
    pub fn applies_here(&self) -> bool {
        native::thread_waker(self).is_some()
    }

    /// Drops the calling thread's waker receiver, if it registered one, so that the thread may
    /// register a receiver of its own. Returns whether there was one. A later interrupt park
    /// registers a new one.
    pub fn release_thread() -> bool {
        native::release_thread()
    }
}

impl Park for InterruptPark {
    /// The futex park: what the split-phase API and every fallback use.
    #[inline]
    fn park(&self, req: &ParkRequest<'_>) -> ParkResult {
        FutexPark.park(req)
    }

    #[inline]
    fn interrupt_rung(&self) -> Option<&InterruptPark> {
        Some(self)
    }
}

/// The waiter's side of a [`registry::Waker`].
pub(crate) trait ParkedWaker: registry::Waker {
    /// Before registering on `cv`: make the next sleep block until a wake.
    fn arm(&self, cv: usize);
    /// After withdrawing: the thread is registered nowhere.
    fn disarm(&self);
    /// Sleeps until woken (or early, for any reason) or until `deadline`.
    fn block(&self, deadline: Option<&Deadline>) -> ParkResult;
}
