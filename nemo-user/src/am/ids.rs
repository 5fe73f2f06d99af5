//! The ids that name actions and targets of a [`Domain`](super::Domain).
//!
//! A leaf: errors carry these ids, so they depend on nothing else in the crate.

use core::fmt;

/// Names an action of a [`Domain`](super::Domain).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(u32);

impl ActionId {
    /// The id as a plain number (for a C caller).
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// An id from a plain number; an id that names no action is refused by `notify`.
    pub const fn from_u32(id: u32) -> ActionId {
        ActionId(id)
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Names a target of a [`Domain`](super::Domain): a slot index and a generation, so the id of
/// a target that went away never reaches a later target in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetId(u32);

impl TargetId {
    const INDEX_BITS: u32 = 16;
    /// The most targets a domain can have.
    pub const MAX_TARGETS: usize = 1 << Self::INDEX_BITS;

    pub(super) fn new(index: usize, generation: u32) -> TargetId {
        TargetId((generation << Self::INDEX_BITS) | index as u32)
    }

    /// The slot index, `0..capacity` (dense: usable to index per-target arrays).
    pub const fn index(self) -> usize {
        (self.0 & ((1 << Self::INDEX_BITS) - 1)) as usize
    }

    pub(super) fn generation(self) -> u32 {
        self.0 >> Self::INDEX_BITS
    }

    /// The id as a plain number (for a C caller).
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// An id from a plain number; one that names no live target is refused by `notify`.
    pub const fn from_u32(id: u32) -> TargetId {
        TargetId(id)
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index(), self.generation())
    }
}
