//! The memory structures of user interrupts (UINTR-ABI.md §5), shared by the hardware path, the
//! software emulation in `nemo-user`, the gem5 model and the tests, so that all of them agree on
//! one meaning of every bit.
//!
//! ```text
//! UPID (User Posted-Interrupt Descriptor), 16 bytes, 64-byte aligned
//!
//!  63            32 31      24 23      16 15          2   1    0
//! +----------------+----------+----------+-------------+----+----+
//! |  NDST (APIC id)| reserved |    NV    |  reserved   | SN | ON |   control (bytes 0..8)
//! +----------------+----------+----------+-------------+----+----+
//! |            PIR: one pending bit per user vector 63..0        |   pir     (bytes 8..16)
//! +---------------------------------------------------------------+
//!
//! UITT entry (User-Interrupt Target Table), 16 bytes
//!
//!  63                                   16 15        8 7        1  0
//! +---------------------------------------+-----------+----------+---+
//! |               reserved                |    UV     | reserved | V |  word 0
//! +---------------------------------------+-----------+----------+---+
//! |                     UPID address                                 |  word 1
//! +------------------------------------------------------------------+
//! ```
//!
//! The sender's half of `SENDUIPI` ([`Upid::post`]) and the receiver's half of notification
//! processing ([`Upid::take`]) are written here once, with the orderings that make them lossless,
//! so every backend inherits the same coalescing semantics as the CPU.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Number of user-interrupt vectors a receiver has.
pub const NUM_VECTORS: usize = 64;
/// Number of entries in a process's user-interrupt target table.
pub const UITT_ENTRIES: usize = 256;

/// A user-interrupt vector, `0..64`; 63 has the highest priority.
///
/// ```
/// use uintr_sys::Vector;
/// assert_eq!(Vector::new(63).unwrap().get(), 63);
/// assert!(Vector::new(64).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Vector(u8);

impl Vector {
    /// The highest-priority vector.
    pub const MAX: Vector = Vector(63);

    /// Checks that `v < 64`.
    pub const fn new(v: u64) -> Result<Vector> {
        if v < NUM_VECTORS as u64 {
            Ok(Vector(v as u8))
        } else {
            Err(Error::VectorOutOfRange(v))
        }
    }

    /// The vector number.
    pub const fn get(self) -> u8 {
        self.0
    }

    /// The vector's bit in a PIR or UIRR word.
    pub const fn bit(self) -> u64 {
        1u64 << self.0
    }

    /// The highest vector set in `pending`, if any (the one the CPU delivers first).
    pub const fn highest(pending: u64) -> Option<Vector> {
        if pending == 0 {
            None
        } else {
            Some(Vector(63 - pending.leading_zeros() as u8))
        }
    }
}

impl TryFrom<u64> for Vector {
    type Error = Error;
    fn try_from(v: u64) -> Result<Vector> {
        Vector::new(v)
    }
}

impl From<Vector> for u64 {
    fn from(v: Vector) -> u64 {
        v.0 as u64
    }
}

/// An index into the process's user-interrupt target table, `0..256`: the operand of `SENDUIPI`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UittIndex(u8);

impl UittIndex {
    /// Checks that `i < 256`.
    pub const fn new(i: u64) -> Result<UittIndex> {
        if i < UITT_ENTRIES as u64 {
            Ok(UittIndex(i as u8))
        } else {
            Err(Error::IndexOutOfRange(i))
        }
    }

    /// The index.
    pub const fn get(self) -> u64 {
        self.0 as u64
    }
}

/// Bit positions of the UPID control word.
pub mod upid_bits {
    /// Outstanding notification.
    pub const ON: u64 = 1 << 0;
    /// Suppress notification.
    pub const SN: u64 = 1 << 1;
    /// First bit of the notification vector (bits 23:16).
    pub const NV_SHIFT: u32 = 16;
    /// Mask of the notification vector after shifting.
    pub const NV_MASK: u64 = 0xff;
    /// First bit of the destination (x2APIC id, bits 63:32).
    pub const NDST_SHIFT: u32 = 32;
}

/// A snapshot of the UPID control word with bit accessors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpidControl(pub u64);

impl UpidControl {
    /// Outstanding notification (ON).
    pub const fn on(self) -> bool {
        self.0 & upid_bits::ON != 0
    }
    /// Suppress notification (SN).
    pub const fn sn(self) -> bool {
        self.0 & upid_bits::SN != 0
    }
    /// Notification vector (NV), the kernel's IPI vector.
    pub const fn nv(self) -> u8 {
        ((self.0 >> upid_bits::NV_SHIFT) & upid_bits::NV_MASK) as u8
    }
    /// Notification destination (NDST), the receiver CPU's x2APIC id.
    pub const fn ndst(self) -> u32 {
        (self.0 >> upid_bits::NDST_SHIFT) as u32
    }
    /// Builds a control word.
    pub const fn new(on: bool, sn: bool, nv: u8, ndst: u32) -> UpidControl {
        UpidControl(
            (on as u64)
                | ((sn as u64) << 1)
                | ((nv as u64) << upid_bits::NV_SHIFT)
                | ((ndst as u64) << upid_bits::NDST_SHIFT),
        )
    }
}

/// What the sender's half of `SENDUIPI` did (see [`Upid::post`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostOutcome {
    /// The vector was posted and ON was set: the sender must notify the receiver (IPI, signal…).
    Notify,
    /// The vector was posted; a notification is already outstanding (ON was set), so none is sent.
    Outstanding,
    /// The vector was posted; notifications are suppressed (SN set, receiver not running), so none
    /// is sent. Whoever clears SN must check PIR.
    Suppressed,
}

/// Number of [`Upid::software_words`]: the rest of the UPID's 64-byte line.
pub const UPID_SOFTWARE_WORDS: usize = 6;

/// User Posted-Interrupt Descriptor: one per receiver thread.
///
/// The fields are atomics because the CPU updates them with locked read-modify-writes; the
/// software backends do the same.
///
/// The architectural UPID is 16 bytes; the other 48 bytes of its line are
/// [`software_words`](Upid::software_words), which no CPU reads or writes.
#[repr(C, align(64))]
#[derive(Debug)]
pub struct Upid {
    control: AtomicU64,
    pir: AtomicU64,
    software: [AtomicU64; UPID_SOFTWARE_WORDS],
}

impl Default for Upid {
    fn default() -> Self {
        Upid::new()
    }
}

impl Upid {
    /// An empty UPID: nothing pending, not suppressed, NV 0, NDST 0.
    pub const fn new() -> Upid {
        Upid::with_notification(0, 0)
    }

    /// An empty UPID with the notification vector and destination set.
    pub const fn with_notification(nv: u8, ndst: u32) -> Upid {
        Upid {
            control: AtomicU64::new(UpidControl::new(false, false, nv, ndst).0),
            pir: AtomicU64::new(0),
            software: [const { AtomicU64::new(0) }; UPID_SOFTWARE_WORDS],
        }
    }

    /// Bytes 16..64 of the UPID's line, zero at construction: outside the architectural UPID, so
    /// neither the CPU nor the post/take protocol touches them.
    ///
    /// Software that owns a UPID (the emulated backends) may keep data here that a sender writes
    /// right before it [`post`](Upid::post)s: the receiver, which reads this line to find the
    /// posted vector, then finds the data in the same cache line instead of missing on another.
    pub fn software_words(&self) -> &[AtomicU64; UPID_SOFTWARE_WORDS] {
        &self.software
    }

    /// A snapshot of the control word.
    pub fn control(&self) -> UpidControl {
        UpidControl(self.control.load(Ordering::SeqCst))
    }

    /// A snapshot of the posted-interrupt requests (one bit per vector).
    pub fn pir(&self) -> u64 {
        self.pir.load(Ordering::SeqCst)
    }

    /// The sender's half of `SENDUIPI`: set `PIR[vector]`; then, if neither ON nor SN is set,
    /// set ON and tell the caller to notify the receiver.
    ///
    /// Lossless with [`Upid::take`]: if this returns [`PostOutcome::Outstanding`], ON was still
    /// set when the vector was already in PIR, and `take` clears ON *before* it swaps PIR, so the
    /// receiver's next `take` sees the vector. (All operations are `SeqCst`.)
    pub fn post(&self, vector: Vector) -> PostOutcome {
        self.pir.fetch_or(vector.bit(), Ordering::SeqCst);
        let mut cur = self.control.load(Ordering::SeqCst);
        loop {
            let c = UpidControl(cur);
            if c.sn() {
                return PostOutcome::Suppressed;
            }
            if c.on() {
                return PostOutcome::Outstanding;
            }
            match self.control.compare_exchange_weak(
                cur,
                cur | upid_bits::ON,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return PostOutcome::Notify,
                Err(now) => cur = now,
            }
        }
    }

    /// Sets `PIR[vector]` and nothing else: ON is left as it is, so nobody is to be notified,
    /// and a later [`Upid::post`] still notifies if ON is clear. For a receiver that reads PIR
    /// in software (a safepoint that polls it): the vector waits there for the receiver's next
    /// poll or [`take`](Upid::take), whichever comes first.
    pub fn post_quietly(&self, vector: Vector) {
        self.pir.fetch_or(vector.bit(), Ordering::SeqCst);
    }

    /// The receiver's half of notification processing: clear ON, then take (and clear) every
    /// posted vector. Returns the pending bits.
    pub fn take(&self) -> u64 {
        self.control.fetch_and(!upid_bits::ON, Ordering::SeqCst);
        self.pir.swap(0, Ordering::SeqCst)
    }

    /// [`take`](Upid::take) without the writes that would change nothing: ON is cleared only if
    /// it reads set, and PIR swapped only if it reads non-zero. For software receivers, which
    /// call `take` again after every handler (usually to find nothing), and whose UPID may never
    /// see ON (a polled receiver sets SN): two locked read-modify-writes become two loads.
    ///
    /// As lossless as `take`, for a receiver that is the only one to clear ON and PIR: ON
    /// reading clear means a sender that sets it later also notifies, so there is nothing to
    /// clear; PIR reading empty is a `take` that found nothing, and a vector posted after it
    /// either sets ON and notifies, or finds a notification outstanding whose processing
    /// comes later. (All operations are `SeqCst`.)
    pub fn take_lazily(&self) -> u64 {
        if self.control.load(Ordering::SeqCst) & upid_bits::ON != 0 {
            self.control.fetch_and(!upid_bits::ON, Ordering::SeqCst);
        }
        if self.pir.load(Ordering::SeqCst) == 0 {
            return 0;
        }
        self.pir.swap(0, Ordering::SeqCst)
    }

    /// Sets or clears SN (what the kernel does when the receiver is switched out / back in).
    /// Returns the previous SN. After clearing SN, the caller must [`Upid::take`] to pick up
    /// vectors posted while notifications were suppressed.
    pub fn set_suppress(&self, suppress: bool) -> bool {
        let prev = if suppress {
            self.control.fetch_or(upid_bits::SN, Ordering::SeqCst)
        } else {
            self.control.fetch_and(!upid_bits::SN, Ordering::SeqCst)
        };
        UpidControl(prev).sn()
    }

    /// Sets ON unconditionally and reports whether it was clear before (a receiver can use this
    /// to claim the notification duty after clearing SN with vectors pending).
    pub fn set_outstanding(&self) -> bool {
        !UpidControl(self.control.fetch_or(upid_bits::ON, Ordering::SeqCst)).on()
    }
}

/// One entry of the user-interrupt target table.
#[repr(C, align(16))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UittEntry {
    word0: u64,
    upid_addr: u64,
}

impl UittEntry {
    /// An invalid (empty) entry.
    pub const INVALID: UittEntry = UittEntry {
        word0: 0,
        upid_addr: 0,
    };

    /// A valid entry targeting `upid` with user vector `vector`.
    pub fn new(upid: *const Upid, vector: Vector) -> UittEntry {
        UittEntry {
            word0: 1 | ((vector.get() as u64) << 8),
            upid_addr: upid as u64,
        }
    }

    /// Builds an entry from its raw words (as read from simulated memory).
    pub const fn from_raw(word0: u64, upid_addr: u64) -> UittEntry {
        UittEntry { word0, upid_addr }
    }

    /// The raw words.
    pub const fn to_raw(self) -> (u64, u64) {
        (self.word0, self.upid_addr)
    }

    /// Bit 0: the entry is valid.
    pub const fn valid(self) -> bool {
        self.word0 & 1 != 0
    }

    /// Bits 15:8: the user vector (an invalid vector ≥ 64 in a raw entry is reported as an error).
    pub const fn vector(self) -> Result<Vector> {
        Vector::new((self.word0 >> 8) & 0xff)
    }

    /// Bits 127:64: the UPID address.
    pub const fn upid_addr(self) -> u64 {
        self.upid_addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};

    #[test]
    fn layout_matches_the_abi() {
        assert_eq!(size_of::<Upid>(), 64, "UPID occupies its own 64-byte line");
        assert_eq!(align_of::<Upid>(), 64);
        assert_eq!(offset_of!(Upid, control), 0);
        assert_eq!(offset_of!(Upid, pir), 8);
        assert_eq!(offset_of!(Upid, software), 16);
        assert_eq!(
            16 + 8 * UPID_SOFTWARE_WORDS,
            64,
            "the software words fill the line"
        );
        assert_eq!(size_of::<UittEntry>(), 16);
        assert_eq!(align_of::<UittEntry>(), 16);
        assert_eq!(offset_of!(UittEntry, upid_addr), 8);
    }

    #[test]
    fn control_bits_are_where_the_abi_says() {
        assert_eq!(UpidControl::new(true, false, 0, 0).0, 1);
        assert_eq!(UpidControl::new(false, true, 0, 0).0, 2);
        assert_eq!(UpidControl::new(false, false, 0xec, 0).0, 0xec << 16);
        assert_eq!(UpidControl::new(false, false, 0, 7).0, 7 << 32);
        let c = UpidControl(0xdead_beef_00ab_0003);
        assert!(c.on() && c.sn());
        assert_eq!(c.nv(), 0xab);
        assert_eq!(c.ndst(), 0xdead_beef);
    }

    #[test]
    fn uitt_entry_bits() {
        let upid = Upid::new();
        let e = UittEntry::new(&upid, Vector::new(42).unwrap());
        let (w0, w1) = e.to_raw();
        assert_eq!(w0, 1 | (42 << 8));
        assert_eq!(w1, &upid as *const Upid as u64);
        assert!(e.valid());
        assert_eq!(e.vector().unwrap().get(), 42);
        assert!(!UittEntry::INVALID.valid());
        assert_eq!(
            UittEntry::from_raw(1 | (200 << 8), 0).vector(),
            Err(Error::VectorOutOfRange(200))
        );
    }

    #[test]
    fn vector_and_index_ranges() {
        assert!(Vector::new(63).is_ok());
        assert_eq!(Vector::new(64), Err(Error::VectorOutOfRange(64)));
        assert!(UittIndex::new(255).is_ok());
        assert_eq!(UittIndex::new(256), Err(Error::IndexOutOfRange(256)));
        assert_eq!(Vector::highest(0), None);
        assert_eq!(Vector::highest(0b1011).unwrap().get(), 3);
        assert_eq!(Vector::highest(1 << 63).unwrap(), Vector::MAX);
    }

    #[test]
    fn post_coalesces_and_notifies_once() {
        let upid = Upid::new();
        let v = Vector::new(5).unwrap();
        assert_eq!(upid.post(v), PostOutcome::Notify);
        assert_eq!(upid.post(v), PostOutcome::Outstanding);
        assert_eq!(upid.post(Vector::new(9).unwrap()), PostOutcome::Outstanding);
        assert!(upid.control().on());
        assert_eq!(upid.take(), (1 << 5) | (1 << 9));
        assert!(!upid.control().on());
        assert_eq!(upid.take(), 0);
        assert_eq!(upid.post(v), PostOutcome::Notify);
    }

    #[test]
    fn a_quiet_post_waits_for_a_poll_and_leaves_the_next_post_to_notify() {
        let upid = Upid::new();
        let v = Vector::new(5).unwrap();
        upid.post_quietly(v);
        assert_eq!(upid.pir(), v.bit());
        assert!(!upid.control().on(), "no notification outstanding");
        // A poll takes it.
        assert_eq!(upid.take_lazily(), v.bit());
        assert_eq!(upid.take_lazily(), 0);
        // Left untaken, it goes with the next notification, which the next post makes.
        upid.post_quietly(v);
        assert_eq!(upid.post(v), PostOutcome::Notify);
        assert_eq!(upid.post(Vector::new(9).unwrap()), PostOutcome::Outstanding);
        assert_eq!(upid.take(), v.bit() | (1 << 9));
        assert_eq!(upid.control(), UpidControl(0));
    }

    #[test]
    fn software_words_are_left_alone_by_the_protocol() {
        let upid = Upid::new();
        for (i, w) in upid.software_words().iter().enumerate() {
            assert_eq!(w.load(Ordering::Relaxed), 0);
            w.store(i as u64 + 1, Ordering::Relaxed);
        }
        let v = Vector::new(7).unwrap();
        assert_eq!(upid.post(v), PostOutcome::Notify);
        assert!(!upid.set_suppress(false), "SN was never set");
        assert_eq!(upid.take(), v.bit());
        assert_eq!(upid.control(), UpidControl(0));
        for (i, w) in upid.software_words().iter().enumerate() {
            assert_eq!(w.load(Ordering::Relaxed), i as u64 + 1);
        }
    }

    #[test]
    fn taking_lazily_is_taking() {
        let upid = Upid::new();
        assert_eq!(upid.take_lazily(), 0);
        assert_eq!(upid.control(), UpidControl(0));
        let v = Vector::new(3).unwrap();
        assert_eq!(upid.post(v), PostOutcome::Notify);
        assert_eq!(upid.take_lazily(), v.bit());
        assert!(!upid.control().on(), "ON cleared");
        assert_eq!(
            upid.post(v),
            PostOutcome::Notify,
            "so the next post notifies"
        );
        assert_eq!(upid.take_lazily(), v.bit());
        // A suppressed UPID never sees ON; its vectors are still taken.
        assert!(!upid.set_suppress(true));
        assert_eq!(upid.post(v), PostOutcome::Suppressed);
        assert_eq!(upid.take_lazily(), v.bit());
        assert_eq!(upid.take_lazily(), 0);
        assert_eq!(upid.control(), UpidControl::new(false, true, 0, 0));
    }

    #[test]
    fn concurrent_posts_are_never_lost_to_a_lazy_taker() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        // The receiver takes lazily, and "notifications" are a flag it must act on: every post
        // that said Notify raises it, and the receiver takes again whenever it finds it raised.
        // At the end, everything posted must have been taken.
        let upid = Arc::new(Upid::new());
        let notified = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        let rounds = 100_000u64;
        let senders: Vec<_> = (0..2u64)
            .map(|s| {
                let (upid, notified) = (upid.clone(), notified.clone());
                std::thread::spawn(move || {
                    for i in 0..rounds {
                        let v = Vector::new((s * 32) + (i % 2)).unwrap();
                        if upid.post(v) == PostOutcome::Notify {
                            notified.store(true, Ordering::SeqCst);
                        }
                    }
                })
            })
            .collect();
        let taker = {
            let (upid, notified, done) = (upid.clone(), notified.clone(), done.clone());
            std::thread::spawn(move || {
                let mut seen = 0u64;
                loop {
                    // Read `done` first: once it is set and no notification is left, every
                    // post has happened and its notification (if it asked for one) is handled.
                    let finished = done.load(Ordering::SeqCst);
                    if notified.swap(false, Ordering::SeqCst) {
                        seen |= upid.take_lazily();
                    } else if finished {
                        return seen;
                    }
                }
            })
        };
        for s in senders {
            s.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        assert_eq!(
            taker.join().unwrap(),
            0b11 | (0b11 << 32),
            "every vector reached the receiver"
        );
        assert_eq!(upid.pir(), 0, "nothing left posted without a notification");
    }

    #[test]
    fn suppressed_posts_are_kept() {
        let upid = Upid::new();
        assert!(!upid.set_suppress(true));
        assert_eq!(upid.post(Vector::new(1).unwrap()), PostOutcome::Suppressed);
        assert!(!upid.control().on());
        assert!(upid.set_suppress(false));
        assert_eq!(upid.pir(), 2);
        assert!(upid.set_outstanding());
        assert!(!upid.set_outstanding());
        assert_eq!(upid.take(), 2);
    }

    #[test]
    fn concurrent_posts_are_never_lost() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicU64;
        let upid = Arc::new(Upid::new());
        let seen = Arc::new(AtomicU64::new(0));
        let rounds = 20_000u64;
        let senders: Vec<_> = (0..2u64)
            .map(|s| {
                let upid = upid.clone();
                std::thread::spawn(move || {
                    let mut notifies = 0u64;
                    for i in 0..rounds {
                        let v = Vector::new((s * 32) + (i % 32)).unwrap();
                        if upid.post(v) == PostOutcome::Notify {
                            notifies += 1;
                        }
                    }
                    notifies
                })
            })
            .collect();
        let taker = {
            let (upid, seen) = (upid.clone(), seen.clone());
            std::thread::spawn(move || {
                for _ in 0..rounds {
                    seen.fetch_or(upid.take(), Ordering::Relaxed);
                }
            })
        };
        let notifies: u64 = senders.into_iter().map(|s| s.join().unwrap()).sum();
        assert!(
            notifies >= 1,
            "the first post into an idle UPID must notify"
        );
        taker.join().unwrap();
        seen.fetch_or(upid.take(), Ordering::Relaxed);
        assert_eq!(
            seen.load(Ordering::Relaxed),
            u64::MAX,
            "every vector reached the receiver"
        );
    }
}
