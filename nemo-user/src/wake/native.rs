//! The process's registry and each thread's waker: a user-interrupt receiver of the thread's own,
//! registered at its first interrupt park and kept for the thread's life.
//!
//! # Invariants
//!
//! - A thread's [`ThreadWaker`] is reachable from other threads only through registry slots
//!   (an `Arc`); its receiver lives in the thread's TLS. A notifier holding a stale handle after
//!   the thread exited gets [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone) from the send
//!   (the receiver's send bracket guarantees no signal reaches a reused thread id), and the
//!   registry counts that claim as no wake.
//! - `word` is `WOKEN` only between a notifier's wake and the waiter's next [`ParkedWaker::arm`];
//!   the waiter sleeps only while it reads `ARMED`. The notifier stores `WOKEN` *before* it
//!   interrupts, so an interrupt that lands before the waiter sleeps is not needed: the sleep
//!   sees the word (the futex compares it, and a futex call interrupted by the signal restarts
//!   and compares it again).
//! - `parked_on` names the condvar the thread is registered on (0: none), so that a thread that
//!   exits inside a wait (`pthread_exit` from a signal handler, a cancellation) withdraws its
//!   slot from its TLS destructor instead of leaving it behind.

use std::cell::RefCell;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicUsize};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use uintr_sys::Support;
use uintr_sys::syscalls::{self, WaitOutcome};

use super::InterruptPark;
use super::registry::{Registry, Slots, Waker};
use crate::backend::BackendKind;
use crate::futex::{self, MATCH_ANY};
use crate::interrupt::{Receiver, Sender};
use crate::park::ParkResult;
use crate::wait::Deadline;

const ARMED: u32 = 0;
const WOKEN: u32 = 1;

/// The vector the thread's waker receiver is notified on.
const WAKE_VECTOR: u64 = 0;

/// Buckets of the process's registry.
const BUCKETS: usize = 64;

/// On UINTR hardware, the longest one `uintr_wait` sleeps before the waiter re-checks its word:
/// an interrupt that the CPU delivers in user space right before the `uintr_wait` system call
/// does not end that call, so the word is re-read at least this often.
const UINTR_WAIT_SLICE: Duration = Duration::from_millis(1);

type NativeRegistry = Registry<NativeWaker, Mutex<Slots<NativeWaker>>, AtomicU32>;

static REGISTRY: OnceLock<NativeRegistry> = OnceLock::new();

/// The process's registry, created at the first interrupt park.
pub(crate) fn registry() -> &'static NativeRegistry {
    REGISTRY
        .get_or_init(|| Registry::new(BUCKETS, || (Mutex::new(Slots::new()), AtomicU32::new(0))))
}

/// Notifier side: wakes up to `n` registered waiters of `generation` of the condvar at `cv`.
/// One load if no thread of the process ever parked on interrupts, two if none is parked now in
/// the condvar's bucket.
#[inline]
pub(crate) fn wake(cv: usize, generation: u32, n: u32) -> u32 {
    match REGISTRY.get() {
        Some(r) if r.any_on(cv) => r.wake(cv, generation, n),
        _ => 0,
    }
}

/// How a thread sleeps until its word changes.
#[derive(Debug, Clone, Copy)]
enum Sleep {
    /// `FUTEX_WAIT` on the word; the backend's signal interrupts the call, which restarts and
    /// finds the word changed (`signal` backend, and the `uintr` emulation, whose delivery is a
    /// signal too).
    Futex,
    /// `uintr_wait`, woken by `senduipi` (UINTR hardware, receiver registered
    /// `WAITING_RECEIVER`).
    UintrWait(Support),
}

/// One thread's waker: the word notifiers set and the sender that interrupts the thread.
pub(crate) struct ThreadWaker {
    word: AtomicU32,
    parked_on: AtomicUsize,
    sender: Sender,
    sleep: Sleep,
}

/// A registry slot's waiter: a thread sleeping as a receiver of its own, or a `sched` task
/// parked on its worker (through the task seam, `wake/task.rs`: woken by an unpark of the task
/// instead of an interrupt of a thread).
#[derive(Clone)]
pub(crate) enum NativeWaker {
    /// A thread's [`ThreadWaker`].
    Thread(Arc<ThreadWaker>),
    /// A task of a `sched` runtime.
    #[cfg(feature = "sched")]
    Task(super::task::TaskHandle),
}

impl Waker for NativeWaker {
    #[inline]
    fn same(&self, other: &Self) -> bool {
        match (self, other) {
            (NativeWaker::Thread(a), NativeWaker::Thread(b)) => Arc::ptr_eq(a, b),
            #[cfg(feature = "sched")]
            (NativeWaker::Task(a), NativeWaker::Task(b)) => super::task::same(a, b),
            #[cfg(feature = "sched")]
            _ => false,
        }
    }

    #[inline]
    fn wake(&self) -> bool {
        match self {
            NativeWaker::Thread(t) => {
                t.word.store(WOKEN, Release);
                t.sender.send().is_ok()
            }
            #[cfg(feature = "sched")]
            NativeWaker::Task(t) => t.wake(),
        }
    }
}

impl super::ParkedWaker for NativeWaker {
    #[inline]
    fn arm(&self, cv: usize) {
        match self {
            NativeWaker::Thread(t) => {
                t.parked_on.store(cv, Relaxed);
                t.word.store(ARMED, Relaxed);
            }
            #[cfg(feature = "sched")]
            NativeWaker::Task(t) => t.arm(),
        }
    }

    #[inline]
    fn disarm(&self) {
        match self {
            NativeWaker::Thread(t) => t.parked_on.store(0, Relaxed),
            #[cfg(feature = "sched")]
            NativeWaker::Task(_) => {}
        }
    }

    fn block(&self, deadline: Option<&Deadline>) -> ParkResult {
        match self {
            NativeWaker::Thread(t) => t.block(deadline),
            #[cfg(feature = "sched")]
            NativeWaker::Task(t) => t.block(deadline),
        }
    }
}

impl ThreadWaker {
    /// Sleeps until a notifier sets the word (or early, for any reason) or until `deadline`.
    fn block(&self, deadline: Option<&Deadline>) -> ParkResult {
        let w = &self.word;
        match self.sleep {
            Sleep::Futex => match futex::wait(w, ARMED, MATCH_ANY, deadline, false) {
                futex::WaitResult::TimedOut => ParkResult::TimedOut,
                futex::WaitResult::Mismatch
                | futex::WaitResult::Woken
                | futex::WaitResult::Interrupted => ParkResult::Woken,
            },
            Sleep::UintrWait(support) => loop {
                if w.load(Acquire) != ARMED {
                    return ParkResult::Woken;
                }
                let mut usec = UINTR_WAIT_SLICE.as_micros() as u64;
                if let Some(d) = deadline {
                    let left = d.remaining();
                    if left.is_zero() {
                        return ParkResult::TimedOut;
                    }
                    usec = usec.min(u64::try_from(left.as_micros()).unwrap_or(u64::MAX).max(1));
                }
                match syscalls::wait(support, usec) {
                    Ok(WaitOutcome::Interrupted) => return ParkResult::Woken,
                    Ok(WaitOutcome::TimedOut) => {}
                    // The kernel refuses after all: a futex sleep still ends on the word, by
                    // the deadline at the latest (nobody futex-wakes it, so it re-checks every
                    // slice).
                    Err(_) => {
                        let slice = Deadline::after(UINTR_WAIT_SLICE);
                        let d = match deadline {
                            Some(d) if d.remaining() < UINTR_WAIT_SLICE => d,
                            _ => &slice,
                        };
                        let _ = futex::wait(w, ARMED, MATCH_ANY, Some(d), false);
                    }
                }
            },
        }
    }
}

/// What the calling thread holds while it can park on interrupts.
struct Held {
    park: InterruptPark,
    waker: Arc<ThreadWaker>,
    // Dropped after `waker`'s slot is withdrawn (field order).
    _receiver: Receiver,
}

impl Drop for Held {
    fn drop(&mut self) {
        let cv = self.waker.parked_on.swap(0, Relaxed);
        if cv != 0 {
            // The thread is exiting inside an interrupt park: leave no slot behind.
            registry().withdraw(cv, &NativeWaker::Thread(Arc::clone(&self.waker)));
        }
    }
}

thread_local! {
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// The calling thread's waker for `park`, registering its receiver on first use; `None` if the
/// thread cannot park on interrupts (it has a receiver of its own, the backend is `poll`, or
/// the backend refuses), in which case the caller parks on the futex.
pub(crate) fn thread_waker(park: &InterruptPark) -> Option<NativeWaker> {
    HELD.try_with(|held| {
        let mut held = held.try_borrow_mut().ok()?;
        if let Some(h) = held.as_ref() {
            if h.park == *park {
                return Some(NativeWaker::Thread(Arc::clone(&h.waker)));
            }
            // Another backend was asked for: start over with it.
            *held = None;
        }
        let h = register(park)?;
        let w = NativeWaker::Thread(Arc::clone(&h.waker));
        *held = Some(h);
        Some(w)
    })
    .ok()
    .flatten()
}

/// Drops the calling thread's waker receiver, if it has one.
pub(crate) fn release_thread() -> bool {
    HELD.try_with(|held| held.try_borrow_mut().ok().and_then(|mut h| h.take()))
        .ok()
        .flatten()
        .is_some()
}

fn register(park: &InterruptPark) -> Option<Held> {
    let kind = match park.backend() {
        Some(k) => k,
        None => crate::backend_info().ok()?.kind,
    };
    let mut builder = Receiver::builder().vectors(1 << WAKE_VECTOR).backend(kind);
    let sleep = match kind {
        BackendKind::Poll => return None,
        BackendKind::Signal => Sleep::Futex,
        BackendKind::Uintr if park.is_emulated() => {
            builder = builder.uintr_emulated(true);
            Sleep::Futex
        }
        BackendKind::Uintr => {
            builder = builder.uintr_waiting(true);
            Sleep::UintrWait(uintr_sys::detect().support()?)
        }
    };
    // The handler has nothing to do: the notifier set the word before interrupting, and the
    // interruption itself is what ends the sleep.
    let receiver = builder.register(|_| {}).ok()?;
    let sender = receiver.endpoint().connect(WAKE_VECTOR).ok()?;
    Some(Held {
        park: *park,
        waker: Arc::new(ThreadWaker {
            word: AtomicU32::new(ARMED),
            parked_on: AtomicUsize::new(0),
            sender,
            sleep,
        }),
        _receiver: receiver,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wake::ParkedWaker;
    use crate::wake::registry::Bucket;

    #[test]
    fn a_bucket_with_its_first_slot_is_one_cache_line() {
        type NativeBucket = Bucket<Mutex<Slots<NativeWaker>>, AtomicU32>;
        assert_eq!(std::mem::size_of::<NativeBucket>(), 64);
        assert_eq!(std::mem::align_of::<NativeBucket>(), 64);
        assert_eq!(Slots::<NativeWaker>::new().inline_size(), 1);
    }

    #[test]
    fn a_thread_that_exits_while_registered_leaves_no_slot() {
        let cv = Box::new(0u64);
        let addr = &*cv as *const u64 as usize;
        std::thread::spawn(move || {
            let w = thread_waker(&InterruptPark::with_backend(BackendKind::Signal))
                .expect("the signal backend is available");
            w.arm(addr);
            registry().register(addr, 7, &w);
            assert_eq!(registry().registered_on(addr), 1);
            // Exits without withdrawing.
        })
        .join()
        .unwrap();
        assert_eq!(registry().registered_on(addr), 0);
    }

    #[test]
    fn a_wake_to_an_exited_thread_counts_as_none_and_frees_the_slot() {
        let cv = Box::new(0u64);
        let addr = &*cv as *const u64 as usize;
        let w = std::thread::spawn(|| {
            let w = thread_waker(&InterruptPark::with_backend(BackendKind::Signal)).unwrap();
            // Keep the handle; the receiver goes away with the thread.
            w.disarm();
            w
        })
        .join()
        .unwrap();
        registry().register(addr, 3, &w);
        assert_eq!(wake(addr, 3, 1), 0);
        assert_eq!(registry().registered_on(addr), 0);
    }

    #[test]
    fn a_thread_with_its_own_receiver_falls_back() {
        std::thread::spawn(|| {
            let _mine = Receiver::builder()
                .backend(BackendKind::Signal)
                .register(|_| {})
                .unwrap();
            assert!(thread_waker(&InterruptPark::with_backend(BackendKind::Signal)).is_none());
        })
        .join()
        .unwrap();
    }

    #[test]
    fn poll_has_no_interrupt_rung_and_release_frees_the_receiver() {
        std::thread::spawn(|| {
            assert!(thread_waker(&InterruptPark::with_backend(BackendKind::Poll)).is_none());
            assert!(thread_waker(&InterruptPark::with_backend(BackendKind::Signal)).is_some());
            assert!(release_thread());
            assert!(!release_thread());
            // The thread may register a receiver of its own again.
            let r = Receiver::builder()
                .backend(BackendKind::Signal)
                .register(|_| {});
            assert!(r.is_ok());
        })
        .join()
        .unwrap();
    }
}
