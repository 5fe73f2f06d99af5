//! Targets: the threads that receive active messages, their mailboxes, and the table that
//! addresses them by id.
//!
//! # Slot protocol
//!
//! A slot's `state` word packs `stamp (32) | ACTIVE (1) | notifiers in flight (31)`. A
//! notifier adds one to the count and, in the same atomic step, reads whether the slot is active
//! with the stamp of its [`TargetId`]; if not, it takes its one back and reports the target
//! unknown. Registering sets `ACTIVE` and a fresh stamp; unregistering clears `ACTIVE`, then
//! waits for the count to drain before it releases the mailbox. So a notifier that got in can
//! use the entry without a lock (notify is async-signal-safe), and every message it queued is
//! in the mailbox before the receiver's final drain.
//!
//! # Stamps: ids carry their domain
//!
//! A stamp is the low 16 bits of a process-wide count of registrations, so a [`TargetId`] —
//! slot index and stamp — names one registration of one domain: an id of a target that went
//! away, or of another domain's target, matches a live slot only if a multiple of 65 536
//! registrations (in all domains together) separate the two.
//!
//! # Exited threads
//!
//! A target whose thread exits while registered (its [`Target`] leaked) is unregistered by the
//! thread-exit hook of `domain.rs`; should that hook not run (the thread-local was already
//! destroyed), a registration that finds the table full reclaims the slots of targets whose
//! receiver is gone (see [`TargetTable::insert`]).

use crate::error::Repr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

use super::ids::TargetId;
use super::mailbox::{Line, Mailbox};
use crate::error::Result;
use crate::interrupt::Sender;
use crate::interrupt::process::current_pid;

/// What notifiers reach: the mailbox and the interrupt that says "look".
pub(crate) struct Entry {
    pub mailbox: Mailbox<AtomicU64>,
    pub sender: Sender,
}

impl Entry {
    /// The mailbox's words on the line of the target's doorbell (its UPID). A thread has one
    /// receiver and so is the target of one domain at most: these words are this entry's.
    #[inline(always)]
    pub fn line(&self) -> Line<'_, AtomicU64> {
        let [state, inline_head, inline_payload, ..] = self.sender.doorbell().upid.software_words();
        Line {
            state,
            inline_head,
            inline_payload,
        }
    }
}

const ACTIVE: u64 = 1 << 31;
const COUNT: u64 = ACTIVE - 1;
const GEN_SHIFT: u32 = 32;

/// Registrations so far, in every domain; its low 16 bits stamp the next one.
static REGISTRATIONS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

pub(crate) struct Slot {
    state: AtomicU64,
    claimed: AtomicBool,
    entry: AtomicPtr<Entry>,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: AtomicU64::new(0),
            claimed: AtomicBool::new(false),
            entry: AtomicPtr::new(core::ptr::null_mut()),
        }
    }
}

/// Fixed table of target slots.
pub(crate) struct TargetTable {
    slots: Box<[Slot]>,
}

/// A notifier's access to a live entry; ends (and lets the target go) on drop.
pub(crate) struct Access<'a> {
    slot: &'a Slot,
    entry: &'a Entry,
    id: TargetId,
}

impl Access<'_> {
    pub fn entry(&self) -> &Entry {
        self.entry
    }

    pub fn id(&self) -> TargetId {
        self.id
    }
}

impl Drop for Access<'_> {
    fn drop(&mut self) {
        self.slot.state.fetch_sub(1, SeqCst);
    }
}

impl TargetTable {
    pub fn new(capacity: usize) -> TargetTable {
        TargetTable {
            slots: (0..capacity.min(TargetId::MAX_TARGETS))
                .map(|_| Slot::new())
                .collect(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Claims a free slot and publishes `entry` in it. A full table first reclaims the slots of
    /// targets whose thread exited with them registered.
    pub fn insert(&self, entry: Arc<Entry>) -> Result<TargetId> {
        let entry = match self.try_insert(entry) {
            Ok(id) => return Ok(id),
            Err(entry) => entry,
        };
        if self.reclaim_exited() == 0 {
            return Err(Repr::TargetTableFull(self.slots.len()).into());
        }
        self.try_insert(entry)
            .map_err(|_| Repr::TargetTableFull(self.slots.len()).into())
    }

    fn try_insert(&self, entry: Arc<Entry>) -> core::result::Result<TargetId, Arc<Entry>> {
        for (i, slot) in self.slots.iter().enumerate() {
            if slot
                .claimed
                .compare_exchange(false, true, SeqCst, SeqCst)
                .is_err()
            {
                continue;
            }
            slot.entry.store(Arc::into_raw(entry).cast_mut(), SeqCst);
            let stamp = REGISTRATIONS.fetch_add(1, SeqCst) & 0xffff;
            let mut cur = slot.state.load(SeqCst);
            loop {
                // Notifiers may be counting themselves in (and out again) meanwhile.
                let next = (u64::from(stamp) << GEN_SHIFT) | ACTIVE | (cur & COUNT);
                match slot.state.compare_exchange(cur, next, SeqCst, SeqCst) {
                    Ok(_) => break,
                    Err(now) => cur = now,
                }
            }
            return Ok(TargetId::new(i, stamp));
        }
        Err(entry)
    }

    /// Unregisters the targets whose receiver is gone though the slot is still active: their
    /// thread exited with the target registered. Returns how many.
    pub fn reclaim_exited(&self) -> usize {
        let exited: Vec<TargetId> = self
            .live()
            .filter(|a| {
                let doorbell = a.entry().sender.doorbell();
                doorbell.pid == current_pid() && !doorbell.is_alive()
            })
            .map(|a| a.id())
            .collect();
        for id in &exited {
            self.remove(*id);
        }
        exited.len()
    }

    fn enter(slot: &Slot, index: usize, generation: Option<u32>) -> Option<Access<'_>> {
        let prev = slot.state.fetch_add(1, SeqCst);
        let current = (prev >> GEN_SHIFT) as u32;
        let live = prev & ACTIVE != 0 && generation.is_none_or(|g| current == g);
        if !live {
            slot.state.fetch_sub(1, SeqCst);
            return None;
        }
        // SAFETY: ACTIVE was set when we counted ourselves in, so the entry was published and
        // `remove` will not release it until we leave.
        let entry = unsafe { &*slot.entry.load(SeqCst) };
        Some(Access {
            slot,
            entry,
            id: TargetId::new(index, current),
        })
    }

    /// The live target `id`, if any.
    pub fn get(&self, id: TargetId) -> Option<Access<'_>> {
        let slot = self.slots.get(id.index())?;
        Self::enter(slot, id.index(), Some(id.generation()))
    }

    /// Every live target.
    pub fn live(&self) -> impl Iterator<Item = Access<'_>> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Self::enter(s, i, None))
    }

    /// Deactivates `id`, waits for notifiers in flight, and frees the slot. Of several
    /// concurrent removals of one id, one does it and the others return at once.
    pub fn remove(&self, id: TargetId) {
        let Some(slot) = self.slots.get(id.index()) else {
            return;
        };
        let mut cur = slot.state.load(SeqCst);
        loop {
            if cur & ACTIVE == 0 || (cur >> GEN_SHIFT) as u32 != id.generation() {
                return;
            }
            let next = cur & !ACTIVE;
            match slot.state.compare_exchange(cur, next, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        let backoff = crossbeam_utils::Backoff::new();
        while slot.state.load(SeqCst) & COUNT != 0 {
            backoff.snooze();
        }
        let entry = slot.entry.swap(core::ptr::null_mut(), SeqCst);
        if !entry.is_null() {
            // SAFETY: made by `Arc::into_raw` in `insert`; no notifier holds it any more.
            drop(unsafe { Arc::from_raw(entry) });
        }
        slot.claimed.store(false, SeqCst);
    }
}

impl Drop for TargetTable {
    fn drop(&mut self) {
        for slot in self.slots.iter() {
            let entry = slot.entry.swap(core::ptr::null_mut(), SeqCst);
            if !entry.is_null() {
                // SAFETY: made by `Arc::into_raw`; the table is going away, nobody can enter.
                drop(unsafe { Arc::from_raw(entry) });
            }
        }
    }
}
