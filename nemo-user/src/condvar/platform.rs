//! What the condvar protocol needs from the machine: a few atomic operations and three futex
//! operations. The protocol ([`super::protocol`]) is generic over this, so the very same code runs
//! on real atomics and futexes in production and on loom's model checker in the tests.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::futex;
use crate::wait::Deadline;

pub(crate) use crate::atom::{Atom32, Atom64};

/// Atomics, futexes, fences and time for the protocol.
pub(crate) trait Platform: Send + Sync {
    type A32: Atom32;
    type A64: Atom64;

    /// How many times the internal lock is retried before its waiter sleeps.
    const LOCK_SPINS: u32;

    /// How many owed wakes one returning waiter issues (the fan-out of the broadcast tree), and
    /// the largest number of parked waiters a notifier wakes itself rather than requeueing.
    const FANOUT: u32;

    /// `FUTEX_WAIT_BITSET` semantics: sleep while `*word == expected` until a wake whose bitset
    /// intersects `bitset`, or the deadline.
    fn futex_wait(
        &self,
        word: &Self::A32,
        expected: u32,
        bitset: u32,
        deadline: Option<&Deadline>,
        shared: bool,
    ) -> futex::WaitResult;

    /// `FUTEX_WAKE_BITSET` semantics; returns how many were woken.
    fn futex_wake(&self, word: &Self::A32, n: u32, bitset: u32, shared: bool) -> u32;

    /// `FUTEX_CMP_REQUEUE` semantics with an unlimited requeue count; `None` if `*from` differs
    /// from `expected`.
    fn futex_cmp_requeue(
        &self,
        from: &Self::A32,
        to: &Self::A32,
        nwake: u32,
        expected: u32,
        shared: bool,
    ) -> Option<u32>;

    /// Wakes up to `n` waiters of `generation` of the condvar at `cv` that sleep as
    /// interrupt-parked receivers (`crate::wake`); returns how many it woke.
    fn wake_registered(&self, cv: usize, generation: u32, n: u32) -> u32;

    /// Busy-wait hint.
    fn relax(&self);

    /// A memory fence.
    fn fence(&self, o: Ordering);

    /// Whether `d` has passed.
    fn expired(&self, d: &Deadline) -> bool;
}

/// Real atomics and the Linux futex.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Native;

impl Platform for Native {
    type A32 = AtomicU32;
    type A64 = AtomicU64;

    const LOCK_SPINS: u32 = 100;
    const FANOUT: u32 = 2;

    #[inline]
    fn futex_wait(
        &self,
        word: &AtomicU32,
        expected: u32,
        bitset: u32,
        deadline: Option<&Deadline>,
        shared: bool,
    ) -> futex::WaitResult {
        futex::wait(word, expected, bitset, deadline, shared)
    }

    #[inline]
    fn futex_wake(&self, word: &AtomicU32, n: u32, bitset: u32, shared: bool) -> u32 {
        let woken = futex::wake(word, n, bitset, shared);
        if woken > 0 {
            crate::wait::adaptive::note_woke_parked();
        }
        woken
    }

    #[inline]
    fn futex_cmp_requeue(
        &self,
        from: &AtomicU32,
        to: &AtomicU32,
        nwake: u32,
        expected: u32,
        shared: bool,
    ) -> Option<u32> {
        futex::cmp_requeue(from, to, nwake, expected, shared)
    }

    #[inline]
    fn wake_registered(&self, cv: usize, generation: u32, n: u32) -> u32 {
        crate::wake::native::wake(cv, generation, n)
    }

    #[inline(always)]
    fn relax(&self) {
        core::hint::spin_loop();
    }

    #[inline(always)]
    fn fence(&self, o: Ordering) {
        std::sync::atomic::fence(o);
    }

    #[inline]
    fn expired(&self, d: &Deadline) -> bool {
        d.has_passed()
    }
}
