//! The ids that name actions and targets of a [`Domain`](super::Domain).
//!
//! A leaf: errors carry these ids, so they depend on nothing else in the crate.

use core::fmt;

/// Names an action of one [`Domain`](super::Domain): the domain's tag and the action's index.
/// Another domain refuses it with [`Error::UnknownAction`](crate::Error::UnknownAction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(u32);

impl ActionId {
    const INDEX_BITS: u32 = 16;
    /// The most actions a domain can have.
    pub const MAX_ACTIONS: usize = 1 << Self::INDEX_BITS;

    pub(super) fn new(tag: u16, index: usize) -> ActionId {
        ActionId((u32::from(tag) << Self::INDEX_BITS) | index as u32)
    }

    /// The index in its domain's table, `0..capacity`.
    pub const fn index(self) -> usize {
        (self.0 & ((1 << Self::INDEX_BITS) - 1)) as usize
    }

    pub(super) fn tag(self) -> u16 {
        (self.0 >> Self::INDEX_BITS) as u16
    }

    /// The id as a plain number (for a C caller).
    pub const fn as_u32(self) -> u32 {
        self.0
    }

    /// An id from a plain number; an id that names no action of the domain it is used with is
    /// refused by `notify`.
    pub const fn from_u32(id: u32) -> ActionId {
        ActionId(id)
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} of domain {:#06x}", self.index(), self.tag())
    }
}

/// Names a target of a [`Domain`](super::Domain): a slot index and a registration stamp, so the
/// id of a target that went away, or of another domain's target, is refused with
/// [`Error::UnknownTarget`](crate::Error::UnknownTarget) (up to the bound in the module docs:
/// 65 536 registrations).
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
