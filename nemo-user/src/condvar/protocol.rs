//! The condvar protocol: 48 bytes of counters, no pointers, no lost wakeups.
//!
//! # State (12 words, all-zero is valid)
//!
//! ```text
//!  offset  word        contents
//!  0       lock        internal lock, attributes, refs (waiters still inside a wait call):
//!                      see `lockword.rs`
//!  4       chain       wakes still owed to waiters requeued here by a broadcast (bits 0-23) and
//!                      the spin hint (bits 24-31, see `wait::adaptive`); also the futex word the
//!                      requeued waiters sleep on (nobody waits on it by value)
//!  8       counts      a_unsig (high 32) | b_live (low 32)
//!  16      sig[0]      tag (high 32) | tokens (low 32)   for the group of even generation
//!  24      sig[1]      same for the group of odd generation
//!  32      fut[0..2]   futex words the parked waiters of each parity sleep on
//!  40      parked[0..2] how many waiters of each parity are registered as parking
//! ```
//!
//! # Groups and generations
//!
//! Waiters are grouped by *generation*. New waiters join the open group **B** (generation `s`);
//! the group before it, **A** (generation `s - 1`), is closed to newcomers and is the one
//! `notify_one` signals. A group's generation has a parity, and a group owns the `sig`/`fut`/
//! `parked` slot of that parity for its whole life; the tag of `sig[g & 1]` is `g >> 1` while
//! generation `g` is A or B, so `s` is never stored: it is whichever of the two tags is newer.
//! (All-zero tags mean A = generation 0 in slot 0 and B = generation 1 in slot 1.)
//!
//! - `b_live`: waiters in B.
//! - `a_unsig`: waiters in A that no signal has been sent for yet.
//! - `tokens` (of A's slot): signals sent to A and not yet taken. Every waiter of A that is still
//!   waiting either is counted in `a_unsig` or has a token waiting for it:
//!   `waiting(A) == a_unsig + tokens(A)`. B's slot never has tokens.
//!
//! A waiter of generation `g` is **released** when the tag of its slot is no longer `g >> 1`.
//!
//! # Operations
//!
//! - **join** (under the lock): `b_live += 1`, remember `g = s`, `refs += 1`.
//! - **poll** (lock-free, on the waiter's own slot word — the cache line it spins on): released →
//!   woken; `tokens > 0` → take one by CAS → woken; otherwise keep waiting.
//! - **notify_one** (under the lock): if `a_unsig > 0`, `a_unsig -= 1` and add a token to A.
//!   Else if `b_live > 0`, *switch*: every waiter left in A already has a token, so release A
//!   wholesale by retagging its slot for the new open group `s + 1` (tokens reset to 0); B becomes
//!   A with `a_unsig = b_live - 1` and one token. Else nobody is waiting unsignalled: no-op.
//! - **notify_all** (under the lock): retag both slots (`s + 1` for the new, empty A and `s + 2`
//!   for the new B), zero the counts. One store per group (two words of one cache line) releases
//!   every spinning waiter.
//! - **cancel** (timeout, abandon; under the lock): released → woken; a token in my slot → take it
//!   → woken (a waiter that absorbed a futex wake meant for a sibling must not let the token
//!   strand); otherwise withdraw: `b_live -= 1` if I am in B, `a_unsig -= 1` if in A → timed out.
//! - **leave** (lock-free): `refs -= 1`; the last touch of the object by a waiter.
//!
//! Because a waiter is woken only by taking a token or by the release of a group whose every
//! member was signalled (or broadcast), **notify_one wakes exactly one waiter and there are no
//! spurious wakeups**; because signals go only to A, which holds only waiters that were already
//! waiting when B closed, a waiter never steals a signal sent before it started waiting.
//!
//! # Who may touch which word when
//!
//! | word | written by | when |
//! |---|---|---|
//! | `counts` | join, notify, cancel | only under the lock; read lock-free by the notify fast path |
//! | `sig` tag | notify (switch, broadcast) | only under the lock |
//! | `sig` tokens | notify adds (under the lock); waiters take (CAS, lock-free) | |
//! | `fut[p]` | notifiers bump it | only under the lock, and only when `parked[p] > 0` |
//! | `parked[p]` | waiters | lock-free increments/decrements around their futex wait |
//! | `chain` owed | notifiers add requeued counts (under the lock); anyone claims wakes (CAS) | |
//! | `chain` hint | waiters, by CAS that keeps the owed count (advisory: only sets spin windows) | |
//! | `lock` refs | join adds (in its unlock); leave subtracts (lock-free) | |
//!
//! # Parking
//!
//! A waiter parks by `parked[p] += 1`, `fence(SeqCst)`, reading `fut[p]`, polling once more, and
//! sleeping on `fut[p]` with the value it read. A notifier changes `sig[p]`, `fence(SeqCst)`, reads
//! `parked[p]`, and only if it is non-zero bumps `fut[p]` and issues a wake: with both fences at
//! least one side sees the other, so either the waiter sees the signal and does not sleep or the
//! notifier sees the waiter and wakes it (and the bump makes a late sleeper's futex call fail). No
//! waiter parked means no system call on notify.
//!
//! Parked waiters of the current A and B sleep on different words (parities), so a `notify_one`
//! wake (`FUTEX_WAKE` of 1 on A's word) always reaches a waiter of A. When a group is released
//! while some of its waiters are registered as parked, the releasing notifier moves them off the
//! slot's word **before releasing the lock** (so no waiter of a later generation can be queued
//! there yet): a few are woken directly and the rest are requeued (`FUTEX_CMP_REQUEUE`) onto
//! `chain`, whose count says how many wakes are owed there. Every waiter returning from a park
//! takes up to `FANOUT` (2) owed wakes and issues them: the parked waiters of a broadcast are woken
//! by a fan-out tree whose depth grows with the logarithm of their number, not by one serial loop,
//! and a slot word never holds a sleeper of a released generation once the lock is free.
//!
//! # Notify with nobody waiting
//!
//! `notify_one`/`notify_all` first load `counts` with no fence and return if it is zero: one
//! load, like glibc's `pthread_cond_signal`. That load cannot miss a waiter the notification
//! is for, as long as the waiters use a mutex the way every condition variable requires: a
//! waiter joins (writes `counts`) while it holds the mutex, and the notifier changed the
//! predicate while holding the same mutex. If the notifier locked the mutex after the waiter
//! released it, the join happens-before the notifier's unlock → lock → load (in this order,
//! whether the notify comes before or after its own unlock), so by write-read coherence the
//! load sees the join or a later value, and `counts` only returns to zero once every waiter it
//! counted was signalled or withdrew. If the notifier locked the mutex first, the waiter sees
//! the changed predicate and does not wait. A notifier that changes the predicate without the
//! mutex has no such guarantee here, nor with glibc. The loom models check both notify orders
//! without the fence.
//!
//! [`Event`](crate::event::Event) has no mutex: its waiters join, issue a `SeqCst` fence and
//! re-check the predicate, and its notifiers publish, issue a `SeqCst` fence, and load `counts`
//! (`notify_*_fenced`). Of two `SeqCst` fences one comes first, so either the notifier's load
//! sees the join or the waiter's re-check sees the publication (the store-buffering pattern);
//! a loom model shows that without the notifier's fence a wakeup is lost.
//!
//! # Bounds
//!
//! Generations are 32-bit and wrap; a waiter compares only for equality with its own tag, so it
//! would misread its state only if 2^31 generations of its parity went by between two of its
//! polls. Counts are 32-bit (more waiters than threads is impossible); `refs` has 24 bits, which
//! exceeds Linux's maximum number of threads (`PID_MAX_LIMIT` = 2^22).

use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::platform::{Atom32, Atom64, Native, Platform};
use crate::futex::MATCH_ANY;
use crate::park::ParkResult;
use crate::wait::{Deadline, WaitOutcome};

const A_ONE: u64 = 1 << 32;

/// The owed-wakes part of `chain`; the top byte is the spin hint. Owed wakes never exceed the
/// waiters present, which `refs` bounds below 2^24.
const CHAIN_OWED: u32 = (1 << 24) - 1;
const HINT_SHIFT: u32 = 24;

#[inline(always)]
pub(super) fn a_unsig(c: u64) -> u32 {
    (c >> 32) as u32
}

#[inline(always)]
pub(super) fn b_live(c: u64) -> u32 {
    c as u32
}

#[inline(always)]
fn tag(v: u64) -> u32 {
    (v >> 32) as u32
}

#[inline(always)]
fn tokens(v: u64) -> u32 {
    v as u32
}

/// The `sig` word of a freshly opened generation: its tag, no tokens.
#[inline(always)]
fn fresh(generation: u32) -> u64 {
    u64::from(generation >> 1) << 32
}

#[inline(always)]
fn slot(generation: u32) -> usize {
    (generation & 1) as usize
}

/// The protocol state. `#[repr(C)]` so its layout is the one documented above (48 bytes with
/// native atomics; the platform field is zero-sized there).
#[repr(C)]
pub(crate) struct Core<P: Platform> {
    pub(crate) lock: P::A32,
    chain: P::A32,
    pub(super) counts: P::A64,
    sig: [P::A64; 2],
    fut: [P::A32; 2],
    parked: [P::A32; 2],
    pub(crate) plat: P,
}

/// One waiter's view of its wait: plain data, so it can live anywhere (a C shim's cleanup
/// buffer, a stack frame) between the calls of a split-phase wait.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Ticket {
    generation: u32,
    /// Counted in `parked[slot(generation)]`.
    pub(super) parked: bool,
    /// Set once the waiter no longer counts in `a_unsig`/`b_live`/tokens.
    pub(super) outcome: Option<WaitOutcome>,
}

impl Ticket {
    pub(crate) fn outcome(&self) -> Option<WaitOutcome> {
        self.outcome
    }

    pub(crate) fn is_parked(&self) -> bool {
        self.parked
    }

    /// The generation of the group the waiter joined (the registry's key with the address).
    pub(crate) fn generation(&self) -> u32 {
        self.generation
    }
}

impl Core<Native> {
    /// The all-zero state on native atomics.
    pub(crate) const fn new() -> Self {
        Core {
            lock: AtomicU32::new(0),
            chain: AtomicU32::new(0),
            counts: AtomicU64::new(0),
            sig: [AtomicU64::new(0), AtomicU64::new(0)],
            fut: [AtomicU32::new(0), AtomicU32::new(0)],
            parked: [AtomicU32::new(0), AtomicU32::new(0)],
            plat: Native,
        }
    }
}

impl<P: Platform> Core<P> {
    /// Builds the all-zero state around a platform (for platforms whose atomics are not `const`).
    #[cfg(test)]
    pub(crate) fn from_parts(
        new32: impl Fn() -> P::A32,
        new64: impl Fn() -> P::A64,
        plat: P,
    ) -> Self {
        Core {
            lock: new32(),
            chain: new32(),
            counts: new64(),
            sig: [new64(), new64()],
            fut: [new32(), new32()],
            parked: [new32(), new32()],
            plat,
        }
    }

    /// The open generation `s` (B). Only meaningful under the lock, where tags cannot change.
    #[inline]
    fn open_gen(&self) -> u32 {
        let g0 = tag(self.sig[0].load(Relaxed)) << 1;
        let g1 = (tag(self.sig[1].load(Relaxed)) << 1) | 1;
        if g1 == g0.wrapping_add(1) {
            g1
        } else {
            debug_assert_eq!(g0, g1.wrapping_add(1), "slot tags are not consecutive");
            g0
        }
    }

    // ---------------------------------------------------------------- waiter side

    /// Joins the open group. Call before releasing the user's mutex.
    #[inline]
    pub(crate) fn join(&self) -> Ticket {
        self.lock();
        let generation = self.open_gen();
        let c = self.counts.load(Relaxed);
        debug_assert!(b_live(c) < u32::MAX);
        self.counts.store(c + 1, Relaxed);
        self.unlock_with_ref();
        Ticket {
            generation,
            parked: false,
            outcome: None,
        }
    }

    /// Checks, without blocking or locking, whether the waiter may return; takes a token if one
    /// is there.
    #[inline]
    pub(crate) fn poll(&self, t: &mut Ticket) -> Option<WaitOutcome> {
        if t.outcome.is_some() {
            return t.outcome;
        }
        let w = &self.sig[slot(t.generation)];
        let mine = t.generation >> 1;
        let mut v = w.load(Acquire);
        loop {
            if tag(v) != mine {
                break;
            }
            if tokens(v) == 0 {
                return None;
            }
            match w.compare_exchange_weak(v, v - 1, AcqRel, Acquire) {
                Ok(_) => break,
                Err(x) => v = x,
            }
        }
        t.outcome = Some(WaitOutcome::Woken);
        t.outcome
    }

    /// The word a spinning waiter polls (for `umonitor`).
    #[inline]
    pub(crate) fn spin_word(&self, t: &Ticket) -> &P::A64 {
        &self.sig[slot(t.generation)]
    }

    /// Registers the waiter as parking and returns the futex word and value to sleep on, or the
    /// outcome if the wait ended meanwhile. After sleeping, call [`end_park`](Self::end_park).
    #[inline]
    pub(crate) fn prepare_park(&self, t: &mut Ticket) -> Result<(&P::A32, u32), WaitOutcome> {
        if let Some(o) = t.outcome {
            return Err(o);
        }
        let p = slot(t.generation);
        if !t.parked {
            self.parked[p].fetch_add(1, Relaxed);
            t.parked = true;
        }
        self.plat.fence(SeqCst);
        let v = self.fut[p].load(Acquire);
        match self.poll(t) {
            None => Ok((&self.fut[p], v)),
            Some(o) => {
                self.end_park(t);
                Err(o)
            }
        }
    }

    /// Unregisters a parking waiter and passes on wakes owed by a broadcast.
    #[inline]
    pub(crate) fn end_park(&self, t: &mut Ticket) {
        if t.parked {
            self.parked[slot(t.generation)].fetch_sub(1, Release);
            t.parked = false;
            self.chain_step();
        }
    }

    /// Parks until the wait ends: `park(word, value)` blocks (or returns early, for any reason).
    pub(crate) fn park_until(
        &self,
        t: &mut Ticket,
        deadline: Option<&Deadline>,
        mut park: impl FnMut(&P::A32, u32) -> ParkResult,
    ) -> WaitOutcome {
        loop {
            let (word, expected) = match self.prepare_park(t) {
                Ok(x) => x,
                Err(o) => return o,
            };
            let r = park(word, expected);
            self.end_park(t);
            if let Some(o) = self.poll(t) {
                return o;
            }
            if r == ParkResult::TimedOut || deadline.is_some_and(|d| self.plat.expired(d)) {
                return self.cancel(t);
            }
        }
    }

    /// Ends a wait early (deadline, cancellation, error): returns `Woken` if a notification was
    /// (or is now) consumed, `TimedOut` if the waiter withdrew without one. Idempotent.
    pub(crate) fn cancel(&self, t: &mut Ticket) -> WaitOutcome {
        self.end_park(t);
        if let Some(o) = self.poll(t) {
            return o;
        }
        self.lock();
        let w = &self.sig[slot(t.generation)];
        let mine = t.generation >> 1;
        let outcome = loop {
            let v = w.load(Acquire);
            if tag(v) != mine {
                break WaitOutcome::Woken;
            }
            if tokens(v) > 0 {
                if w.compare_exchange(v, v - 1, AcqRel, Acquire).is_ok() {
                    break WaitOutcome::Woken;
                }
                continue;
            }
            let c = self.counts.load(Relaxed);
            if t.generation == self.open_gen() {
                debug_assert!(b_live(c) > 0);
                self.counts.store(c - 1, Relaxed);
            } else {
                // In A with no token left for anyone: waiting(A) = a_unsig + 0 includes me.
                debug_assert!(a_unsig(c) > 0);
                self.counts.store(c - A_ONE, Relaxed);
            }
            break WaitOutcome::TimedOut;
        };
        self.unlock(0);
        t.outcome = Some(outcome);
        outcome
    }

    // ---------------------------------------------------------------- notifier side

    /// [`notify_one`](Self::notify_one) for waiters that check their condition without a mutex
    /// (`Event`): the fence orders the caller's publication before the check for waiters.
    #[inline]
    pub(crate) fn notify_one_fenced(&self) -> bool {
        // Pairs with the fence such a waiter issues between joining and re-checking.
        self.plat.fence(SeqCst);
        self.notify_one()
    }

    /// Signals one waiter that has not been signalled yet. Returns whether there was one.
    ///
    /// The relaxed load of `counts` is enough when the waiters use a mutex (see "Notify with
    /// nobody waiting" above).
    #[inline]
    pub(crate) fn notify_one(&self) -> bool {
        if self.counts.load(Relaxed) == 0 {
            return false;
        }
        self.lock();
        let c = self.counts.load(Relaxed);
        let s = self.open_gen();
        let a = slot(s.wrapping_sub(1));
        let b = slot(s);
        let target;
        let mut target_gen = s.wrapping_sub(1);
        let mut released = None;
        if a_unsig(c) > 0 {
            self.counts.store(c - A_ONE, Relaxed);
            self.sig[a].fetch_add(1, Release);
            target = a;
        } else if b_live(c) > 0 {
            target_gen = s;
            // Switch: every waiter left in A holds a token, so release them all at once. The
            // grant goes first: spinners of B watch that word, and the retag of A's slot (whose
            // waiters hold tokens and are usually gone) would otherwise cost them one more
            // transfer of the cache line before they see it.
            self.sig[b].fetch_add(1, Release);
            self.sig[a].store(fresh(s.wrapping_add(1)), Release);
            self.counts.store(u64::from(b_live(c) - 1) << 32, Relaxed);
            target = b;
            released = Some(a);
        } else {
            self.unlock(0);
            return false;
        }
        self.plat.fence(SeqCst);
        if let Some(r) = released
            && self.parked[r].load(Relaxed) > 0
        {
            self.release_parked(r);
        }
        let wake = self.parked[target].load(Relaxed) > 0;
        if wake {
            self.fut[target].fetch_add(1, Release);
        }
        self.unlock(0);
        if wake {
            // Outside the lock: if the slot is released before this lands, its sleepers were
            // moved off the word by the releaser, and a stray wake only makes a newer waiter
            // re-check and sleep again.
            self.plat
                .futex_wake(&self.fut[target], 1, MATCH_ANY, self.shared());
        }
        // Interrupt-parked waiters (`crate::wake`): one of the target group, and all of a
        // released group. Also when a futex wake went out: a waiter counted in `parked` may be
        // on its way out, and then that wake reaches only futex sleepers, never this rung.
        let cv = self.address();
        if released.is_some() {
            self.plat.wake_registered(cv, s.wrapping_sub(1), u32::MAX);
        }
        self.plat.wake_registered(cv, target_gen, 1);
        true
    }

    /// [`notify_all`](Self::notify_all) for waiters that check their condition without a mutex.
    #[inline]
    pub(crate) fn notify_all_fenced(&self) -> u32 {
        self.plat.fence(SeqCst);
        self.notify_all()
    }

    /// Releases every waiter. Returns how many had not been signalled yet. Like `notify_one`, its
    /// fast path relies on the waiters' mutex.
    pub(crate) fn notify_all(&self) -> u32 {
        if self.counts.load(Relaxed) == 0 {
            return 0;
        }
        self.lock();
        let c = self.counts.load(Relaxed);
        if c == 0 {
            self.unlock(0);
            return 0;
        }
        let s = self.open_gen();
        let a = slot(s.wrapping_sub(1));
        let b = slot(s);
        // Release the larger group first: its spinners see their word change with the first
        // transfer of the line.
        let (first, then) = if b_live(c) >= a_unsig(c) {
            ((b, 2), (a, 1))
        } else {
            ((a, 1), (b, 2))
        };
        self.sig[first.0].store(fresh(s.wrapping_add(first.1)), Release);
        self.sig[then.0].store(fresh(s.wrapping_add(then.1)), Release);
        self.counts.store(0, Relaxed);
        self.plat.fence(SeqCst);
        let mut owed = false;
        for x in [a, b] {
            if self.parked[x].load(Relaxed) > 0 {
                owed |= self.release_parked(x);
            }
        }
        self.unlock(0);
        if owed {
            self.chain_step();
        }
        // Interrupt-parked waiters of both groups: the notifier's fan-out (`crate::wake`).
        let cv = self.address();
        self.plat.wake_registered(cv, s.wrapping_sub(1), u32::MAX);
        self.plat.wake_registered(cv, s, u32::MAX);
        a_unsig(c) + b_live(c)
    }

    /// Under the lock, right after slot `x`'s group was released: moves every waiter sleeping on
    /// `fut[x]` off it — waking up to `FANOUT` of them and requeueing the rest onto `chain` with as
    /// many wakes owed. Returns whether wakes are now owed on `chain`.
    fn release_parked(&self, x: usize) -> bool {
        let shared = self.shared();
        let v = self.fut[x].fetch_add(1, Release).wrapping_add(1);
        if self.parked[x].load(Relaxed) <= P::FANOUT {
            self.plat
                .futex_wake(&self.fut[x], u32::MAX, MATCH_ANY, shared);
            return false;
        }
        match self
            .plat
            .futex_cmp_requeue(&self.fut[x], &self.chain, P::FANOUT, v, shared)
        {
            Some(moved) => {
                let requeued = moved.saturating_sub(P::FANOUT);
                if requeued > 0 {
                    self.chain.fetch_add(requeued, Relaxed);
                }
                requeued > 0
            }
            None => {
                // `fut[x]` only changes under the lock we hold, so the compare cannot fail; if it
                // ever did, waking everyone is still correct.
                self.plat
                    .futex_wake(&self.fut[x], u32::MAX, MATCH_ANY, shared);
                false
            }
        }
    }

    /// Issues up to `FANOUT` of the wakes owed on `chain`.
    #[inline]
    fn chain_step(&self) {
        let mut c = self.chain.load(Relaxed);
        while c & CHAIN_OWED > 0 {
            let k = (c & CHAIN_OWED).min(P::FANOUT);
            match self.chain.compare_exchange_weak(c, c - k, Relaxed, Relaxed) {
                Ok(_) => {
                    self.plat
                        .futex_wake(&self.chain, k, MATCH_ANY, self.shared());
                    return;
                }
                Err(x) => c = x,
            }
        }
    }

    /// The condvar's address: the key of its interrupt-parked waiters in the registry.
    #[inline]
    pub(crate) fn address(&self) -> usize {
        self as *const Self as usize
    }

    /// Called by an interrupt-parked waiter of `generation` that a notifier claimed but that
    /// returns on an outcome of its own: if a token of its group is still untaken, the claim may
    /// have been meant for it, so wake another waiter of the group (an interrupt-parked one and
    /// a futex-parked one). A wake too many only makes a waiter re-check.
    pub(crate) fn pass_on(&self, generation: u32) {
        let p = slot(generation);
        let mine = generation >> 1;
        let v = self.sig[p].load(Acquire);
        if tag(v) != mine || tokens(v) == 0 {
            return;
        }
        // Both rungs, as `notify_one` does: a futex wake reaches no interrupt-parked waiter,
        // and an interrupt none on the futex.
        self.plat.wake_registered(self.address(), generation, 1);
        self.lock();
        let v = self.sig[p].load(Relaxed);
        let wake = tag(v) == mine && tokens(v) > 0 && self.parked[p].load(Relaxed) > 0;
        if wake {
            self.fut[p].fetch_add(1, Release);
        }
        self.unlock(0);
        if wake {
            self.plat
                .futex_wake(&self.fut[p], 1, MATCH_ANY, self.shared());
        }
    }

    /// Whether some waiter is registered as parking (a snapshot, for spin admission).
    #[inline]
    pub(crate) fn has_parked(&self) -> bool {
        self.parked[0].load(Relaxed) | self.parked[1].load(Relaxed) != 0
    }

    /// The spin hint byte (advisory; see `wait::adaptive`).
    #[inline]
    pub(crate) fn spin_hint(&self) -> u8 {
        (self.chain.load(Relaxed) >> HINT_SHIFT) as u8
    }

    /// Replaces the spin hint `from` with `to`, keeping the owed wakes. Gives up (returns
    /// `false`) if another waiter changed the hint meanwhile: its news is as good as ours.
    pub(crate) fn replace_spin_hint(&self, from: u8, to: u8) -> bool {
        let mut c = self.chain.load(Relaxed);
        loop {
            if (c >> HINT_SHIFT) as u8 != from {
                return false;
            }
            let new = (c & CHAIN_OWED) | (u32::from(to) << HINT_SHIFT);
            match self.chain.compare_exchange_weak(c, new, Relaxed, Relaxed) {
                Ok(_) => return true,
                Err(x) => c = x,
            }
        }
    }

    /// How many waiters have not been signalled: `(a_unsig, b_live)`. A snapshot, for tests and
    /// diagnostics.
    pub(crate) fn unsignalled(&self) -> (u32, u32) {
        let c = self.counts.load(Acquire);
        (a_unsig(c), b_live(c))
    }
}
