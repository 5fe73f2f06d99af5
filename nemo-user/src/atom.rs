//! The atomic words the lock-free protocols (the condvar's, the interrupt-park registry's, the
//! am mailbox's) are generic over: the operations they use, implemented for std's atomics and,
//! in tests, for loom's, so the same protocol code runs in production and under the model
//! checker.
//!
//! A leaf: it depends on nothing else in the crate, so `condvar`, `wake` and `am` build on it
//! without importing each other.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

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
    ($a32:ty, $a64:ty) => {
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
    };
}

atom_impl!(AtomicU32, AtomicU64);
#[cfg(test)]
atom_impl!(loom::sync::atomic::AtomicU32, loom::sync::atomic::AtomicU64);
