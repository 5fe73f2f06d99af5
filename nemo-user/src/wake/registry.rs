//! The registry of interrupt-parked waiters: which threads sleep on which condvar generation.
//!
//! # Invariants
//!
//! - A [`Slot`] is `(condvar address, generation, waker)`. It is in its bucket from the waiter's
//!   [`Registry::register`] until either the waiter's [`Registry::withdraw`] removes it or a
//!   notifier's [`Registry::wake`] **claims** it (removes it). Exactly one of the two removes a
//!   slot, under the bucket's lock, so a waiter learns from `withdraw` whether it was claimed.
//! - A claim is followed by the claimer's [`Waker::wake`] of the slot's waker *after* the bucket
//!   lock is released (the wake may be a system call; no lock is held across it). A waker may
//!   therefore be woken for a slot it has already left: its waits treat every wake as "re-check".
//! - A bucket's `registered` counts its slots. It is incremented before a slot is inserted and
//!   decremented after one is removed, so a notifier that reads 0 in its condvar's bucket after
//!   its `SeqCst` fence knows that every waiter registering later will see the notifier's state
//!   change (see [`crate::wake`] for the whole handshake).
//! - A bucket — its count, its lock and its first slot — is one cache line: a notify that claims
//!   the only waiter of a condvar, and the waiter's withdraw after it, each move that one line
//!   between the cores (plus the waker's own). A bucket that has once held two slots keeps them
//!   in a heap buffer from then on (one more line), so that no later wait allocates.
//! - The registry never dereferences a condvar address: a slot whose condvar is gone is only a
//!   number, and waiters withdraw before they stop using the condvar.
//!
//! The registry is generic over the lock, the counter and the waker so that the loom models run
//! this very code; the process's own instance is [`super::native`].

use std::marker::PhantomData;
use std::sync::atomic::Ordering::Relaxed;

use smallvec::SmallVec;

use crate::atom::Atom32;

/// How many claimed wakers a notifier holds at once (on its stack) before it wakes them and
/// claims more: a broadcast to more waiters runs in batches of this size, without allocating.
pub(crate) const CLAIM_BATCH: usize = 32;

/// What a notifier does to a claimed waiter, and what the waiter does to sleep until then.
pub(crate) trait Waker: Clone + Send + Sync {
    /// Whether two handles name the same waiter.
    fn same(&self, other: &Self) -> bool;
    /// Notifier side: mark the waiter woken, then interrupt it. Returns `false` if the waiter's
    /// thread is gone (nobody will take the wake).
    fn wake(&self) -> bool;
}

/// One registered waiter.
pub(crate) struct Slot<W> {
    cv: usize,
    generation: u32,
    waker: W,
}

/// The slots of one bucket: the first lies inline, beside the bucket's lock, until the bucket
/// first holds two; then all of them lie in a buffer the bucket keeps.
pub(crate) type Slots<W> = SmallVec<[Slot<W>; 1]>;

/// A bucket's lock around its slots.
pub(crate) trait BucketLock<W>: Send + Sync {
    /// Runs `f` with the bucket's slots, under its lock.
    fn with<R>(&self, f: impl FnOnce(&mut Slots<W>) -> R) -> R;
}

impl<W: Send> BucketLock<W> for std::sync::Mutex<Slots<W>> {
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Slots<W>) -> R) -> R {
        // A panic cannot leave a bucket half-updated (every update is one push or one
        // swap_remove), so a poisoned lock is still consistent.
        let mut g = self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut g)
    }
}

#[cfg(test)]
impl<W: Send> BucketLock<W> for loom::sync::Mutex<Slots<W>> {
    fn with<R>(&self, f: impl FnOnce(&mut Slots<W>) -> R) -> R {
        f(&mut self.lock().unwrap())
    }
}

/// One bucket: how many slots it holds, and its locked slots; a cache line of its own.
#[repr(align(64))]
pub(crate) struct Bucket<L, C> {
    registered: C,
    slots: L,
}

/// Parked waiters keyed by condvar address, in `buckets.len()` buckets (a power of two).
pub(crate) struct Registry<W, L, C> {
    buckets: Box<[Bucket<L, C>]>,
    _waker: PhantomData<fn(W) -> W>,
}

impl<W: Waker, L: BucketLock<W>, C: Atom32> Registry<W, L, C> {
    /// A registry of `buckets` buckets (a power of two), each an empty lock and a zeroed
    /// counter from `bucket`.
    pub(crate) fn new(buckets: usize, mut bucket: impl FnMut() -> (L, C)) -> Self {
        assert!(buckets.is_power_of_two());
        Registry {
            buckets: (0..buckets)
                .map(|_| {
                    let (slots, registered) = bucket();
                    Bucket { registered, slots }
                })
                .collect(),
            _waker: PhantomData,
        }
    }

    #[inline]
    fn bucket(&self, cv: usize) -> &Bucket<L, C> {
        // Fibonacci hashing of the address without its always-zero low bits.
        let h = (cv >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize);
        let bits = self.buckets.len().trailing_zeros();
        let i = if bits == 0 {
            0
        } else {
            h >> (usize::BITS - bits)
        };
        &self.buckets[i]
    }

    /// Whether any slot may be registered in the bucket of the condvar at `cv` (a snapshot; see
    /// the module invariants for when a `false` is conclusive).
    #[inline]
    pub(crate) fn any_on(&self, cv: usize) -> bool {
        self.bucket(cv).registered.load(Relaxed) != 0
    }

    /// Whether any slot is registered in any bucket (a snapshot, for tests).
    #[cfg(test)]
    pub(crate) fn any(&self) -> bool {
        self.buckets.iter().any(|b| b.registered.load(Relaxed) != 0)
    }

    /// Registers `waker` as parked on generation `generation` of the condvar at `cv`. The caller
    /// then issues a `SeqCst` fence and re-checks its wait before sleeping.
    pub(crate) fn register(&self, cv: usize, generation: u32, waker: &W) {
        let bucket = self.bucket(cv);
        bucket.registered.fetch_add(1, Relaxed);
        bucket.slots.with(|slots| {
            slots.push(Slot {
                cv,
                generation,
                waker: waker.clone(),
            })
        });
    }

    /// Removes `waker`'s slot for `cv`. Returns `true` if a notifier had claimed it (it was no
    /// longer there), `false` if this call removed it.
    pub(crate) fn withdraw(&self, cv: usize, waker: &W) -> bool {
        let bucket = self.bucket(cv);
        let removed = bucket.slots.with(|slots| {
            match slots.iter().position(|s| s.cv == cv && s.waker.same(waker)) {
                Some(i) => {
                    slots.swap_remove(i);
                    true
                }
                None => false,
            }
        });
        if removed {
            bucket.registered.fetch_sub(1, Relaxed);
        }
        !removed
    }

    /// Claims up to `n` slots of generation `generation` of the condvar at `cv` and wakes their
    /// waiters (outside the bucket lock). Returns how many wakes reached a live waiter; a claimed
    /// waiter whose thread is gone does not count, and another slot is claimed in its place.
    pub(crate) fn wake(&self, cv: usize, generation: u32, n: u32) -> u32 {
        let bucket = self.bucket(cv);
        let mut woken = 0u32;
        while woken < n {
            let want = ((n - woken) as usize).min(CLAIM_BATCH);
            let mut claimed: [Option<W>; CLAIM_BATCH] = [const { None }; CLAIM_BATCH];
            let mut k = 0;
            bucket.slots.with(|slots| {
                let mut i = 0;
                while i < slots.len() && k < want {
                    if slots[i].cv == cv && slots[i].generation == generation {
                        claimed[k] = Some(slots.swap_remove(i).waker);
                        k += 1;
                    } else {
                        i += 1;
                    }
                }
            });
            if k == 0 {
                break;
            }
            for w in claimed.iter_mut().take(k) {
                bucket.registered.fetch_sub(1, Relaxed);
                if let Some(w) = w.take()
                    && w.wake()
                {
                    woken += 1;
                }
            }
            if k < want {
                break;
            }
        }
        woken
    }

    /// How many slots the condvar at `cv` has registered (a snapshot, for tests).
    #[cfg(test)]
    pub(crate) fn registered_on(&self, cv: usize) -> usize {
        self.bucket(cv)
            .slots
            .with(|slots| slots.iter().filter(|s| s.cv == cv).count())
    }
}
