//! A target's mailbox: a bounded multi-producer, single-consumer queue of `(action, payload)`
//! whose common case — one message in flight to an idle target — lives on the cache line of
//! the target's doorbell.
//!
//! # Why this shape
//!
//! A sender queues a message and then posts the target's interrupt vector into its UPID; the
//! receiver reads the UPID, takes the vector and drains the mailbox. If the message lives on other
//! cache lines than the UPID (a separate queue's tail, its slot), both sides miss on each of them
//! in turn: the sender takes over lines the receiver touched last, its posting RMW waits for those
//! writes, and the receiver misses again on the slot after it has seen the vector. So the first
//! message waits in an *inline slot* on the UPID's own line (in
//! [`Upid::software_words`](uintr_sys::Upid::software_words)), together with the word that
//! hands out room: a sender that finds the mailbox empty claims, writes and posts on one line,
//! and the receiver finds the message in the line that told it to look. Messages that arrive
//! while one is waiting go to a ring of slots on the heap.
//!
//! # Protocol
//!
//! Three words on the doorbell line:
//!
//! * `state` = `ticket (32) | queued (31) | INLINE (1)`: `INLINE` says the inline slot is
//!   taken, `queued` counts ring messages reserved and not yet consumed, `ticket` is the ticket
//!   of the next ring reservation. It is 0 exactly when the mailbox is empty. Senders change it
//!   with a CAS; the receiver clears `INLINE`, decrements `queued`, and resets the whole word to
//!   0 when it consumes the last ring message.
//! * `inline_head` = `action (32) | FULL (1)`, 0 while the inline slot holds nothing complete.
//! * `inline_payload`.
//!
//! A ring slot is the same pair, `head` and `payload`, four to a cache line.
//!
//! A sender that finds `state == 0` claims the inline slot (`0 → INLINE`), writes the payload,
//! then the head with `FULL` (release). Otherwise it reserves ring ticket `t` (`queued + 1`,
//! `ticket + 1`) if `queued + INLINE < capacity`, and writes slot `t mod size` the same way.
//! Else the mailbox is full and the message goes back to the sender.
//!
//! The receiver, in order: if `INLINE`, the inline message; then ring tickets from
//! `ticket − queued` on. It stops at a slot whose head is not `FULL` yet. It copies the message
//! out, zeroes the head, and releases the room (the RMW on `state`, release) *before* it runs the
//! action.
//!
//! Why it holds:
//!
//! * **FIFO per sender.** The inline slot is claimed only when `state == 0`: every message
//!   accepted before has been consumed. So an inline message is older than every ring message,
//!   and the receiver takes it first; ring messages go in ticket order, and a sender's later
//!   message gets a later ticket.
//! * **No slot reused early, no stale message.** A reservation succeeds with
//!   `queued < capacity ≤ size`, so the ticket `t − size` that last used the slot is below the
//!   oldest unconsumed ticket `t − queued`: consumed, its head zeroed, and its release is in the
//!   history of `state` that the reserving CAS (acquire) read. A head is non-zero only while its
//!   slot holds an unconsumed message, so tickets need no stamps and may restart at 0 whenever
//!   the ring empties (the size divides 2^32, so they may also wrap).
//! * **Lossless.** A sender writes before it posts the vector, and posting is a SeqCst RMW that
//!   the receiver's `take` reads; so a drain that starts after the take sees every message
//!   whose vector it took. A drain that meets a reserved slot not yet written (its sender was
//!   preempted, or is the very thread the drain interrupted) stops there instead of waiting: that
//!   sender posts after it writes, and the next delivery continues.
//! * **Async-signal-safe.** Both sides are loads, stores and CASes on memory that exists for the
//!   mailbox's whole life; nothing allocates, locks or waits for another thread.

use core::sync::atomic::AtomicBool;
use core::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crossbeam_utils::CachePadded;

use crate::atom::Atom64;

/// The largest mailbox capacity (`queued` has 31 bits; a power of two at least this large
/// must fit the ticket space).
pub(crate) const MAX_CAPACITY: usize = 1 << 30;

/// Ring messages a drain takes out (and releases) at a time.
pub(crate) const BATCH: usize = 16;
/// The inline slot is taken.
const INLINE: u64 = 1;
/// One ring message in `queued`.
const QUEUED_ONE: u64 = 1 << 1;
const QUEUED_MASK: u64 = ((1 << 31) - 1) << 1;
const TICKET_SHIFT: u32 = 32;
/// A complete message in a slot's head.
const FULL: u64 = 1;

#[inline(always)]
fn queued(state: u64) -> u64 {
    (state & QUEUED_MASK) >> 1
}

#[inline(always)]
fn ticket(state: u64) -> u32 {
    (state >> TICKET_SHIFT) as u32
}

/// The mailbox's words on the doorbell line.
pub(crate) struct Line<'a, W> {
    pub state: &'a W,
    pub inline_head: &'a W,
    pub inline_payload: &'a W,
}

// Not derived: the derive would ask for `W: Copy`, and atomics are not.
impl<W> Clone for Line<'_, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<W> Copy for Line<'_, W> {}

/// One ring slot: `action (32) | FULL` and the payload.
struct Slot<W> {
    head: W,
    payload: W,
}

/// The ring half of a mailbox (the inline half lives on the doorbell line).
pub(crate) struct Mailbox<W> {
    slots: Box<[Slot<W>]>,
    capacity: u64,
    /// Set by a sender that found the mailbox full, cleared by one that got in. While it is set,
    /// senders read `state` before they try to change it: senders retrying on a full mailbox
    /// then share the doorbell line with the receiver that is emptying it, instead of taking it
    /// away with a locked instruction each time. Only senders touch this line. A hint: either
    /// value is correct.
    full: CachePadded<AtomicBool>,
}

impl<W: Atom64> Mailbox<W> {
    /// A mailbox that holds `capacity` messages (clamped to `1..=MAX_CAPACITY`), one of them
    /// possibly inline.
    pub fn new(capacity: usize) -> Mailbox<W> {
        let capacity = capacity.clamp(1, MAX_CAPACITY);
        Mailbox {
            slots: (0..capacity.next_power_of_two())
                .map(|_| Slot {
                    head: W::new(0),
                    payload: W::new(0),
                })
                .collect(),
            capacity: capacity as u64,
            full: CachePadded::new(AtomicBool::new(false)),
        }
    }

    #[inline(always)]
    fn slot(&self, ticket: u32) -> &Slot<W> {
        // `slots.len()` is a power of two no larger than 2^30, so it divides 2^32 and the
        // index stays consistent when tickets wrap.
        &self.slots[ticket as usize & (self.slots.len() - 1)]
    }

    /// Queues `(action, payload)`; `Err` if the mailbox is full. The caller posts the
    /// doorbell afterwards.
    #[inline]
    pub fn push(&self, line: Line<'_, W>, action: u32, payload: u64) -> Result<(), ()> {
        let head = ((action as u64) << 32) | FULL;
        let was_full = self.full.load(Relaxed);
        // Usually straight to the CAS: a load first would fetch the line shared and then need
        // it again exclusive.
        let mut s = if was_full {
            line.state.load(Relaxed)
        } else {
            0
        };
        let slot = loop {
            if s == 0 {
                match line.state.compare_exchange(0, INLINE, Acquire, Relaxed) {
                    Ok(_) => break None,
                    Err(now) => s = now,
                }
                continue;
            }
            if queued(s) + (s & INLINE) >= self.capacity {
                if !was_full {
                    self.full.store(true, Relaxed);
                }
                return Err(());
            }
            let next = s.wrapping_add(QUEUED_ONE).wrapping_add(1 << TICKET_SHIFT);
            match line.state.compare_exchange(s, next, Acquire, Relaxed) {
                Ok(_) => break Some(self.slot(ticket(s))),
                Err(now) => s = now,
            }
        };
        match slot {
            None => {
                line.inline_payload.store(payload, Relaxed);
                line.inline_head.store(head, Release);
            }
            Some(slot) => {
                slot.payload.store(payload, Relaxed);
                slot.head.store(head, Release);
            }
        }
        if was_full {
            self.full.store(false, Relaxed);
        }
        Ok(())
    }

    /// Runs every complete message in order, and returns how many ran. Each message's room is
    /// released before its action runs (ring messages in batches of up to [`BATCH`], one RMW on
    /// the doorbell line each). Stops when the mailbox is empty or its oldest message is still
    /// being written. Only the receiving thread calls this, never re-entrantly.
    #[inline]
    pub fn drain(&self, line: Line<'_, W>, mut run: impl FnMut(u32, u64)) -> usize {
        let mut ran = 0;
        let mut batch = [(0u32, 0u64); BATCH];
        loop {
            let s = line.state.load(Acquire);
            if s & INLINE != 0 {
                let head = line.inline_head.load(Acquire);
                if head & FULL == 0 {
                    return ran;
                }
                let payload = line.inline_payload.load(Relaxed);
                line.inline_head.store(0, Relaxed);
                line.state.fetch_and(!INLINE, Release);
                run((head >> 32) as u32, payload);
                ran += 1;
                continue;
            }
            let queued = queued(s);
            if queued == 0 {
                return ran;
            }
            let first = ticket(s).wrapping_sub(queued as u32);
            let want = (queued as usize).min(BATCH);
            let mut taken = 0;
            while taken < want {
                let slot = self.slot(first.wrapping_add(taken as u32));
                let head = slot.head.load(Acquire);
                if head & FULL == 0 {
                    break;
                }
                batch[taken] = ((head >> 32) as u32, slot.payload.load(Relaxed));
                slot.head.store(0, Relaxed);
                taken += 1;
            }
            if taken > 0 {
                let out = taken as u64 * QUEUED_ONE;
                // The last ring messages out restart the tickets, so that an empty mailbox is 0
                // and the next sender's first CAS claims the inline slot. That takes a CAS, which
                // fails if a sender reserved meanwhile; then (and otherwise) a subtraction, which
                // cannot fail: a receiver retrying CASes against a streaming sender could lose
                // every time.
                let emptied = s & (QUEUED_MASK | INLINE) == out
                    && line.state.compare_exchange(s, 0, Release, Relaxed).is_ok();
                if !emptied {
                    line.state.fetch_sub(out, Release);
                }
                for &(action, payload) in &batch[..taken] {
                    run(action, payload);
                }
                ran += taken;
            }
            if taken < want {
                return ran;
            }
        }
    }

    /// Messages queued and not yet taken (those being written included).
    pub fn queued(&self, line: Line<'_, W>) -> usize {
        let s = line.state.load(Relaxed);
        (queued(s) + (s & INLINE)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicU64;

    struct Words([AtomicU64; 3]);

    impl Words {
        fn new() -> Words {
            Words([AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)])
        }

        fn line(&self) -> Line<'_, AtomicU64> {
            Line {
                state: &self.0[0],
                inline_head: &self.0[1],
                inline_payload: &self.0[2],
            }
        }

        fn state(&self) -> u64 {
            self.0[0].load(Relaxed)
        }
    }

    fn drain(m: &Mailbox<AtomicU64>, w: &Words) -> Vec<(u32, u64)> {
        let mut out = Vec::new();
        let n = m.drain(w.line(), |a, p| out.push((a, p)));
        assert_eq!(n, out.len());
        out
    }

    fn msgs(r: core::ops::RangeInclusive<u32>) -> Vec<(u32, u64)> {
        r.map(|i| (i, i as u64 * 100)).collect()
    }

    #[test]
    fn first_message_goes_inline_the_rest_to_the_ring_in_order() {
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(40);
        for i in 1..=40 {
            m.push(w.line(), i, i as u64 * 100).unwrap();
        }
        assert_eq!(w.state() & INLINE, INLINE);
        assert_eq!(queued(w.state()), 39);
        assert_eq!(m.queued(w.line()), 40);
        assert_eq!(m.push(w.line(), 99, 99), Err(()), "full at capacity");
        // More than one batch.
        assert_eq!(drain(&m, &w), msgs(1..=40));
        assert_eq!(drain(&m, &w), vec![]);
        assert_eq!(m.queued(w.line()), 0);
        assert_eq!(w.state(), 0, "empty is 0");
    }

    #[test]
    fn the_inline_slot_waits_for_the_ring_to_empty() {
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(4);
        m.push(w.line(), 1, 100).unwrap(); // inline
        m.push(w.line(), 2, 200).unwrap(); // ring
        // The receiver takes the inline message and meets ticket 1 reserved, not yet written.
        let s = w.state();
        w.0[0].store(s + QUEUED_ONE + (1 << TICKET_SHIFT), Relaxed);
        assert_eq!(drain(&m, &w), msgs(1..=2));
        // The inline slot is free but the ring is not: a later message must queue behind 3.
        m.push(w.line(), 4, 400).unwrap();
        assert_eq!(w.state() & INLINE, 0);
        // With the inline slot free, the ring alone may hold `capacity` messages.
        m.push(w.line(), 5, 500).unwrap();
        m.push(w.line(), 6, 600).unwrap();
        assert_eq!(m.push(w.line(), 7, 700), Err(()));
        assert_eq!(drain(&m, &w), vec![], "3 is not written yet");
        let slot = m.slot(1);
        slot.payload.store(300, Relaxed);
        slot.head.store((3 << 32) | FULL, Release);
        assert_eq!(drain(&m, &w), msgs(3..=6));
        m.push(w.line(), 7, 700).unwrap();
        assert_eq!(w.state(), INLINE, "empty again: inline");
        assert_eq!(drain(&m, &w), msgs(7..=7));
    }

    #[test]
    fn tickets_wrap() {
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(3); // 4 slots
        // An inline message, and the next ticket just below the wrap of the 32-bit ticket.
        let start = u32::MAX - 5;
        w.0[0].store(((start as u64) << TICKET_SHIFT) | INLINE, Relaxed);
        w.0[1].store(FULL, Relaxed);
        let mut out = Vec::new();
        let mut sent = 1u32;
        while sent < 40 {
            // Two in, then drain while a third is reserved and unwritten: the ring never
            // empties, so tickets keep advancing across the wrap.
            m.push(w.line(), sent, sent as u64).unwrap();
            let t = ticket(w.state());
            let reserved = w.state().wrapping_add(QUEUED_ONE + (1 << TICKET_SHIFT));
            w.0[0].store(reserved, Relaxed);
            m.drain(w.line(), |a, p| out.push((a, p)));
            let slot = m.slot(t);
            slot.payload.store(sent as u64 + 1, Relaxed);
            slot.head.store(((sent as u64 + 1) << 32) | FULL, Release);
            sent += 2;
        }
        assert!(ticket(w.state()) < 100, "the ticket wrapped");
        m.drain(w.line(), |a, p| out.push((a, p)));
        let want: Vec<_> = (0..sent).map(|i| (i, i as u64)).collect();
        assert_eq!(out, want);
        assert_eq!(w.state(), 0, "empty is 0 again");
    }

    #[test]
    fn a_message_being_written_stops_the_drain_without_losing_it() {
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(4);
        // A sender claimed the inline slot and has not written it yet.
        w.0[0].store(INLINE, Relaxed);
        assert_eq!(drain(&m, &w), vec![]);
        // Others queue behind it in the ring and must not overtake it.
        m.push(w.line(), 2, 200).unwrap();
        assert_eq!(drain(&m, &w), vec![]);
        // The claimer finishes.
        w.0[2].store(100, Relaxed);
        w.0[1].store((1 << 32) | FULL, Release);
        assert_eq!(drain(&m, &w), msgs(1..=2));
        assert_eq!(w.state(), 0);
    }

    #[test]
    fn a_mailbox_of_one_is_the_inline_slot() {
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(0);
        assert_eq!(m.capacity, 1);
        m.push(w.line(), 1, 100).unwrap();
        assert_eq!(m.push(w.line(), 2, 200), Err(()));
        assert_eq!(drain(&m, &w), msgs(1..=1));
        m.push(w.line(), 2, 200).unwrap();
        assert_eq!(drain(&m, &w), msgs(2..=2));
    }

    #[test]
    fn room_is_released_before_the_action_runs() {
        // An action that notifies its own target finds room, even in a full mailbox of one.
        let w = Words::new();
        let m = Mailbox::<AtomicU64>::new(1);
        m.push(w.line(), 1, 1).unwrap();
        let mut seen = Vec::new();
        m.drain(w.line(), |a, p| {
            seen.push((a, p));
            if a < 3 {
                m.push(w.line(), a + 1, p + 1).unwrap();
            }
        });
        assert_eq!(seen, vec![(1, 1), (2, 2), (3, 3)]);
        // And in the ring: a batch is released before any of it runs.
        let m = Mailbox::<AtomicU64>::new(3);
        for i in 1..=3 {
            m.push(w.line(), i, i as u64).unwrap();
        }
        let mut seen = Vec::new();
        m.drain(w.line(), |a, p| {
            seen.push((a, p));
            if a == 2 {
                m.push(w.line(), 4, 4).unwrap();
                m.push(w.line(), 5, 5).unwrap();
            }
        });
        assert_eq!(seen, (1..=5).map(|i| (i, i as u64)).collect::<Vec<_>>());
    }
}
