//! The lock word of the condvar (offset 0): the internal lock that serialises joins,
//! notifications and cancellations, the attributes a C shim sets (clock, process-shared, policy
//! class), and the count of waiters still inside a wait call, which `destroy` waits for.
//!
//! ```text
//!  bit 0      LOCKED
//!  bit 1      LOCK_SLEEPERS   someone sleeps on the lock word (futex bitset BITSET_LOCK)
//!  bit 2      DESTROYING      a destroyer sleeps until refs == 0 (futex bitset BITSET_DESTROY)
//!  bit 3      clock           0 = CLOCK_REALTIME, 1 = CLOCK_MONOTONIC
//!  bit 4      process-shared
//!  bits 5-6   policy class
//!  bits 8-31  refs
//! ```
//!
//! The lock is Drepper's "mutex3" on a word whose other bits change under it (refs are dropped
//! without the lock, attributes are set at init), so every transition is a CAS that preserves the
//! bits it does not own. Its critical sections are a handful of loads and stores (plus, on a
//! broadcast to parked waiters, the requeue system call), so contenders spin briefly before
//! sleeping.

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::platform::{Atom32, Atom64, Platform};
use super::protocol::{Core, Ticket, a_unsig, b_live};

pub(crate) const LOCKED: u32 = 1 << 0;
pub(crate) const LOCK_SLEEPERS: u32 = 1 << 1;
pub(crate) const DESTROYING: u32 = 1 << 2;
pub(crate) const ATTR_MONOTONIC: u32 = 1 << 3;
pub(crate) const ATTR_SHARED: u32 = 1 << 4;
pub(crate) const ATTR_POLICY_SHIFT: u32 = 5;
pub(crate) const ATTR_POLICY_MASK: u32 = 3 << ATTR_POLICY_SHIFT;
const REF_SHIFT: u32 = 8;
pub(crate) const REF_ONE: u32 = 1 << REF_SHIFT;

/// Futex bitsets on the lock word: lock sleepers and the destroyer are woken separately.
const BITSET_LOCK: u32 = 1;
const BITSET_DESTROY: u32 = 2;

impl<P: Platform> Core<P> {
    #[inline(always)]
    pub(crate) fn shared(&self) -> bool {
        self.lock.load(Relaxed) & ATTR_SHARED != 0
    }

    /// The attribute bits (clock, shared, policy) of the lock word.
    #[inline(always)]
    pub(crate) fn attr_bits(&self) -> u32 {
        self.lock.load(Relaxed) & (ATTR_MONOTONIC | ATTR_SHARED | ATTR_POLICY_MASK)
    }

    /// Replaces the attribute bits under `mask` with `bits`.
    pub(crate) fn set_attr_bits(&self, mask: u32, bits: u32) {
        let mut v = self.lock.load(Relaxed);
        loop {
            let new = (v & !mask) | (bits & mask);
            match self.lock.compare_exchange_weak(v, new, Relaxed, Relaxed) {
                Ok(_) => return,
                Err(x) => v = x,
            }
        }
    }

    #[inline]
    pub(super) fn lock(&self) {
        let v = self.lock.load(Relaxed);
        if v & LOCKED == 0
            && self
                .lock
                .compare_exchange_weak(v, v | LOCKED, Acquire, Relaxed)
                .is_ok()
        {
            return;
        }
        self.lock_contended();
    }

    /// Spin a little, then sleep on the lock word (Drepper's "mutex3": a thread that slept takes
    /// the lock with `LOCK_SLEEPERS` set, so its unlock wakes the next sleeper).
    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0;
        let mut slept = false;
        loop {
            let v = self.lock.load(Relaxed);
            if v & LOCKED == 0 {
                let new = v | LOCKED | if slept { LOCK_SLEEPERS } else { 0 };
                if self
                    .lock
                    .compare_exchange_weak(v, new, Acquire, Relaxed)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            if spins < P::LOCK_SPINS {
                spins += 1;
                self.plat.relax();
                continue;
            }
            if v & LOCK_SLEEPERS == 0
                && self
                    .lock
                    .compare_exchange_weak(v, v | LOCK_SLEEPERS, Relaxed, Relaxed)
                    .is_err()
            {
                continue;
            }
            self.plat.futex_wait(
                &self.lock,
                v | LOCK_SLEEPERS,
                BITSET_LOCK,
                None,
                v & ATTR_SHARED != 0,
            );
            slept = true;
        }
    }

    /// Releases the lock and takes one reference in the same step (a waiter joining: its
    /// reference keeps the object alive until [`leave`](Self::leave)).
    #[inline]
    pub(super) fn unlock_with_ref(&self) {
        self.unlock(REF_ONE);
    }

    /// Releases the lock, adding `refs_delta` to the reference count in the same step.
    #[inline]
    pub(super) fn unlock(&self, refs_delta: u32) {
        let mut v = self.lock.load(Relaxed);
        loop {
            let new = (v & !(LOCKED | LOCK_SLEEPERS)).wrapping_add(refs_delta);
            match self.lock.compare_exchange_weak(v, new, Release, Relaxed) {
                Ok(_) => break,
                Err(x) => v = x,
            }
        }
        if v & LOCK_SLEEPERS != 0 {
            self.plat
                .futex_wake(&self.lock, 1, BITSET_LOCK, v & ATTR_SHARED != 0);
        }
    }

    /// The waiter's last touch of the object.
    #[inline]
    pub(crate) fn leave(&self, t: Ticket) {
        debug_assert!(t.outcome.is_some() && !t.parked);
        let prev = self.lock.fetch_sub(REF_ONE, Release);
        if prev & DESTROYING != 0 && prev >> REF_SHIFT == 1 {
            // The futex key is only the address: waking after the destroyer saw refs == 0 and
            // freed the memory touches nothing.
            self.plat.futex_wake(
                &self.lock,
                u32::MAX,
                BITSET_DESTROY,
                prev & ATTR_SHARED != 0,
            );
        }
    }

    /// Waits until no waiter touches the object any more. Fails, changing nothing, if some
    /// waiter has not been signalled (it would wait forever); returns how many.
    pub(crate) fn destroy(&self) -> Result<(), u32> {
        self.lock();
        let c = self.counts.load(Relaxed);
        if c != 0 {
            self.unlock(0);
            return Err(a_unsig(c) + b_live(c));
        }
        let mut v = self.lock.load(Relaxed);
        loop {
            let new = (v & !(LOCKED | LOCK_SLEEPERS)) | DESTROYING;
            match self.lock.compare_exchange_weak(v, new, Release, Relaxed) {
                Ok(_) => break,
                Err(x) => v = x,
            }
        }
        let shared = v & ATTR_SHARED != 0;
        if v & LOCK_SLEEPERS != 0 {
            self.plat.futex_wake(&self.lock, 1, BITSET_LOCK, shared);
        }
        loop {
            let v = self.lock.load(Acquire);
            if v >> REF_SHIFT == 0 {
                return Ok(());
            }
            self.plat
                .futex_wait(&self.lock, v, BITSET_DESTROY, None, shared);
        }
    }
}
