//! What an expiration does — post a vector to a receiver, or call a function — and the counts
//! that say how many expirations became deliveries.

use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering::SeqCst};

use crate::interrupt::Sender;

use super::{Expiry, TickStats};

/// Delivered and coalesced expirations of one timer. Expirations are their sum, so a snapshot is
/// consistent by construction.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    delivered: AtomicU64,
    coalesced: AtomicU64,
}

impl Counts {
    pub const fn new() -> Counts {
        Counts {
            delivered: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        }
    }

    #[inline]
    pub fn delivered(&self, n: u64) {
        if n != 0 {
            self.delivered.fetch_add(n, SeqCst);
        }
    }

    #[inline]
    pub fn coalesced(&self, n: u64) {
        if n != 0 {
            self.coalesced.fetch_add(n, SeqCst);
        }
    }

    pub fn reset(&self) {
        self.delivered.store(0, SeqCst);
        self.coalesced.store(0, SeqCst);
    }

    pub fn snapshot(&self) -> TickStats {
        TickStats {
            delivered: self.delivered.load(SeqCst),
            coalesced: self.coalesced.load(SeqCst),
        }
    }
}

/// States of a timer on a timer core.
pub(crate) mod state {
    /// Expirations are scheduled.
    pub const ARMED: u8 = 0;
    /// Cancelled; may be re-armed.
    pub const CANCELLED: u8 = 1;
    /// A one-shot timer that fired; may be re-armed.
    pub const DONE: u8 = 2;
    /// The receiver is gone; cannot be re-armed.
    pub const DEAD: u8 = 3;
    /// The handle was dropped: the core forgets the timer at its next pass.
    pub const RELEASED: u8 = 4;
}

/// The part of a timer shared between its handle and the core that serves it.
#[derive(Debug)]
pub(crate) struct Slot {
    pub state: AtomicU8,
    /// The core is inside this timer's expiration (between its state check and the end of the
    /// send or call). Cancelling waits for it to clear: after `cancel` returns, nothing more is
    /// sent or called for the timer.
    pub firing: AtomicBool,
    pub counts: Counts,
}

impl Slot {
    pub fn new() -> Slot {
        Slot {
            state: AtomicU8::new(state::ARMED),
            firing: AtomicBool::new(false),
            counts: Counts::new(),
        }
    }

    pub fn state(&self) -> u8 {
        self.state.load(SeqCst)
    }

    /// Moves from `ARMED` to `to`; false if the timer was no longer armed.
    pub fn disarm(&self, to: u8) -> bool {
        self.state
            .compare_exchange(state::ARMED, to, SeqCst, SeqCst)
            .is_ok()
    }
}

/// Clears [`Slot::firing`] even if a callback panics, so that a cancel never waits forever.
pub(crate) struct Firing<'s>(&'s Slot);

impl<'s> Firing<'s> {
    /// Marks the slot firing; `None` (and not firing) if it is not armed.
    pub fn begin(slot: &'s Slot) -> Option<Firing<'s>> {
        slot.firing.store(true, SeqCst);
        if slot.state() == state::ARMED {
            Some(Firing(slot))
        } else {
            slot.firing.store(false, SeqCst);
            None
        }
    }
}

impl Drop for Firing<'_> {
    fn drop(&mut self) {
        self.0.firing.store(false, SeqCst);
    }
}

/// Whether an expiration interrupts its receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Every tick posts and notifies (a signal on `signal`, a `senduipi` on `uintr`).
    EveryTick,
    /// A tick only posts, where the receiver's pending vectors can be seen (`signal`, `poll`):
    /// the receiver takes it at its next [`crate::poll`]. A tick that finds the one before it
    /// still pending — the receiver polled nowhere for a whole period — notifies, so the
    /// receiver is interrupted one period late instead of never. Where pending vectors cannot
    /// be seen (`uintr`), as [`Notify::EveryTick`].
    Laggards,
}

/// Where an expiration goes.
pub(crate) enum Destination<'a> {
    /// A vector of a receiver. Where the receiver's pending vectors can be seen (`signal`,
    /// `poll`), a tick that finds its vector still pending is counted as coalesced instead of
    /// being posted again.
    Vector(Sender, Notify),
    /// A function called on the core's thread.
    Call(Box<dyn FnMut(Expiry) + Send + 'a>),
}

/// What became of the target after an expiration.
pub(crate) enum Fired {
    Ok,
    /// The receiver has gone: the timer is dead.
    Gone,
}

impl<'a> Destination<'a> {
    pub fn vector(sender: Sender, notify: Notify) -> Destination<'a> {
        Destination::Vector(sender, notify)
    }

    /// One expiration (after `expiry.missed` that were skipped).
    ///
    /// Counting a pending vector as coalesced is exact when the timer is the only sender of its
    /// vector: only senders set the bit, so a bit seen set stays pending until the receiver
    /// takes it, and a bit seen clear is posted afresh by this send. With
    /// [`Notify::Laggards`], a tick is posted without a notification and without the
    /// outstanding bit (ON), so a bit seen set is such a tick left untaken for a period (or
    /// one whose notification is still outstanding): the send that follows sets ON if it is
    /// clear and notifies. If the receiver takes the tick between this check and that send,
    /// the send posts it once more — one more handler call, counted as coalesced.
    pub fn fire(&mut self, counts: &Counts, expiry: Expiry) -> Fired {
        counts.coalesced(expiry.missed);
        match self {
            Destination::Vector(sender, notify) => {
                let pending = sender.is_pending();
                let quiet = *notify == Notify::Laggards && sender.notifies();
                if pending == Some(true) {
                    counts.coalesced(1);
                    if quiet && sender.send().is_err() {
                        return Fired::Gone;
                    }
                    return Fired::Ok;
                }
                let sent = if quiet && pending.is_some() {
                    sender.post_quietly()
                } else {
                    sender.send()
                };
                match sent {
                    Ok(()) => {
                        counts.delivered(1);
                        Fired::Ok
                    }
                    Err(_) => {
                        counts.coalesced(1);
                        Fired::Gone
                    }
                }
            }
            Destination::Call(f) => {
                f(expiry);
                counts.delivered(1);
                Fired::Ok
            }
        }
    }
}
