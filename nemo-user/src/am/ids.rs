//! The ids that name actions and targets of a [`Domain`](super::Domain).
//!
//! A leaf: errors carry these ids, so they depend on nothing else in the crate.

use core::fmt;

/// The layout both ids share: a slot index in the low 16 bits, a stamp above it (the domain's
/// tag, a target's registration count), and the plain-number conversions a C caller uses.
macro_rules! packed_id {
    ($id:ident, $max:ident, $max_doc:literal, $index_doc:literal, $from_doc:literal) => {
        impl $id {
            const INDEX_BITS: u32 = 16;
            #[doc = $max_doc]
            pub const $max: usize = 1 << Self::INDEX_BITS;

            fn pack(stamp: u32, index: usize) -> $id {
                $id((stamp << Self::INDEX_BITS) | index as u32)
            }

            fn stamp(self) -> u32 {
                self.0 >> Self::INDEX_BITS
            }

            #[doc = $index_doc]
            pub const fn index(self) -> usize {
                (self.0 & ((1 << Self::INDEX_BITS) - 1)) as usize
            }
        }

        /// The id as a plain number (for a C caller).
        impl From<$id> for u32 {
            fn from(id: $id) -> u32 {
                id.0
            }
        }

        #[doc = $from_doc]
        impl From<u32> for $id {
            fn from(id: u32) -> $id {
                $id(id)
            }
        }
    };
}

/// Names an action of one [`Domain`](super::Domain): the domain's tag and the action's index.
/// Another domain refuses it ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActionId(u32);

packed_id!(
    ActionId,
    MAX_ACTIONS,
    "The most actions a domain can have.",
    "The index in its domain's table, `0..capacity`.",
    "An id from a plain number; an id that names no action of the domain it is used with is \
     refused by `notify`."
);

impl ActionId {
    pub(super) fn new(tag: u16, index: usize) -> ActionId {
        ActionId::pack(u32::from(tag), index)
    }

    pub(super) fn tag(self) -> u16 {
        self.stamp() as u16
    }
}

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{} of domain {:#06x}", self.index(), self.tag())
    }
}

/// Names a target of a [`Domain`](super::Domain): a slot index and a registration stamp, so the
/// id of a target that went away, or of another domain's target, is refused with
/// [`ErrorKind::UnknownTarget`](crate::ErrorKind::UnknownTarget) (up to the bound in the module docs:
/// 65 536 registrations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TargetId(u32);

packed_id!(
    TargetId,
    MAX_TARGETS,
    "The most targets a domain can have.",
    "The slot index, `0..capacity` (dense: usable to index per-target arrays).",
    "An id from a plain number; one that names no live target is refused by `notify`."
);

impl TargetId {
    pub(super) fn new(index: usize, generation: u32) -> TargetId {
        TargetId::pack(generation, index)
    }

    pub(super) fn generation(self) -> u32 {
        self.stamp()
    }
}

impl fmt::Display for TargetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index(), self.generation())
    }
}
