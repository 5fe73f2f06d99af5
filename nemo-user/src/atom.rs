//! The atomic words the lock-free protocols (the condvar's, the interrupt-park registry's, the
//! am mailbox's, and `sched`'s parking handshake and inbox) are generic over: the operations they
//! use, implemented for std's atomics and, in tests, for loom's, so the same protocol code runs in
//! production and under the model checker.
//!
//! A leaf: it depends on nothing else in the crate, so `condvar`, `wake` and `am` build on it
//! without importing each other.

#[cfg(feature = "sched")]
use std::sync::atomic::{AtomicPtr, AtomicU8};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// The atomic operations the protocols use on a byte (a `sched` task's park state).
#[cfg(feature = "sched")]
pub(crate) trait Atom8: Send + Sync {
    fn swap(&self, v: u8, o: Ordering) -> u8;
    fn compare_exchange(&self, cur: u8, new: u8, s: Ordering, f: Ordering) -> Result<u8, u8>;
}

/// The atomic operations the protocol uses on a 32-bit word.
pub(crate) trait Atom32: Send + Sync {
    fn load(&self, o: Ordering) -> u32;
    fn fetch_add(&self, v: u32, o: Ordering) -> u32;
    fn fetch_sub(&self, v: u32, o: Ordering) -> u32;
    fn compare_exchange_weak(
        &self,
        cur: u32,
        new: u32,
        s: Ordering,
        f: Ordering,
    ) -> Result<u32, u32>;
}

/// The atomic operations the protocols use on a 64-bit word (the condvar's, the am mailbox's).
pub(crate) trait Atom64: Send + Sync {
    fn new(v: u64) -> Self
    where
        Self: Sized;
    fn load(&self, o: Ordering) -> u64;
    fn store(&self, v: u64, o: Ordering);
    fn fetch_add(&self, v: u64, o: Ordering) -> u64;
    fn compare_exchange(&self, cur: u64, new: u64, s: Ordering, f: Ordering) -> Result<u64, u64>;
    fn compare_exchange_weak(
        &self,
        cur: u64,
        new: u64,
        s: Ordering,
        f: Ordering,
    ) -> Result<u64, u64>;
    fn fetch_and(&self, v: u64, o: Ordering) -> u64;
    fn fetch_sub(&self, v: u64, o: Ordering) -> u64;
}

/// The atomic operations the protocols use on a pointer (the head and the links of `sched`'s
/// intrusive inbox).
#[cfg(feature = "sched")]
pub(crate) trait AtomPtr<T>: Send + Sync {
    /// A null pointer.
    fn empty() -> Self
    where
        Self: Sized;
    fn load(&self, o: Ordering) -> *mut T;
    fn store(&self, p: *mut T, o: Ordering);
    fn swap(&self, p: *mut T, o: Ordering) -> *mut T;
    fn compare_exchange_weak(
        &self,
        cur: *mut T,
        new: *mut T,
        s: Ordering,
        f: Ordering,
    ) -> Result<*mut T, *mut T>;
}

macro_rules! forward {
    ($ty:ty, $int:ty; $($name:ident($($arg:ident: $argty:ty),*) -> $ret:ty;)*) => {
        $(
            #[inline(always)]
            fn $name(&self, $($arg: $argty),*) -> $ret {
                <$ty>::$name(self, $($arg),*)
            }
        )*
    };
}

macro_rules! atom_impl {
    ($a8:ident, $a32:ident, $a64:ident, $ptr:ident) => {
        #[cfg(feature = "sched")]
        impl Atom8 for $a8 {
            forward!($a8, u8;
                swap(v: u8, o: Ordering) -> u8;
                compare_exchange(cur: u8, new: u8, s: Ordering, f: Ordering) -> Result<u8, u8>;
            );
        }
        impl Atom32 for $a32 {
            forward!($a32, u32;
                load(o: Ordering) -> u32;
                fetch_add(v: u32, o: Ordering) -> u32;
                fetch_sub(v: u32, o: Ordering) -> u32;
                compare_exchange_weak(cur: u32, new: u32, s: Ordering, f: Ordering)
                    -> Result<u32, u32>;
            );
        }
        impl Atom64 for $a64 {
            #[inline(always)]
            fn new(v: u64) -> Self {
                <$a64>::new(v)
            }
            forward!($a64, u64;
                load(o: Ordering) -> u64;
                store(v: u64, o: Ordering) -> ();
                fetch_add(v: u64, o: Ordering) -> u64;
                compare_exchange(cur: u64, new: u64, s: Ordering, f: Ordering)
                    -> Result<u64, u64>;
                compare_exchange_weak(cur: u64, new: u64, s: Ordering, f: Ordering)
                    -> Result<u64, u64>;
                fetch_and(v: u64, o: Ordering) -> u64;
                fetch_sub(v: u64, o: Ordering) -> u64;
            );
        }
        #[cfg(feature = "sched")]
        impl<T> AtomPtr<T> for $ptr<T> {
            #[inline(always)]
            fn empty() -> Self {
                <$ptr<T>>::new(std::ptr::null_mut())
            }
            forward!($ptr<T>, *mut T;
                load(o: Ordering) -> *mut T;
                store(p: *mut T, o: Ordering) -> ();
                swap(p: *mut T, o: Ordering) -> *mut T;
                compare_exchange_weak(cur: *mut T, new: *mut T, s: Ordering, f: Ordering)
                    -> Result<*mut T, *mut T>;
            );
        }
    };
}

// Without `sched`, the byte and pointer names are never used: the impls that take them are
// compiled out.
atom_impl!(AtomicU8, AtomicU32, AtomicU64, AtomicPtr);

#[cfg(test)]
mod loom_atoms {
    #[cfg(feature = "sched")]
    use super::{Atom8, AtomPtr};
    use super::{Atom32, Atom64, Ordering};
    #[cfg(feature = "sched")]
    use loom::sync::atomic::{AtomicPtr, AtomicU8};
    use loom::sync::atomic::{AtomicU32, AtomicU64};

    atom_impl!(AtomicU8, AtomicU32, AtomicU64, AtomicPtr);
}
