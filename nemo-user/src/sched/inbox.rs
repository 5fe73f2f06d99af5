//! A worker's inbox: the parked tasks of the worker that unparkers made runnable, as an
//! intrusive lock-free stack of their tokens — any thread pushes with one compare-and-swap, the
//! worker takes the whole stack with one swap.
//!
//! Invariants:
//! - Any thread pushes; only the owner (the worker) takes. Nothing is allocated on either side:
//!   a node's link lives in the node (the task's token, whose cache line the unparker has just
//!   written anyway).
//! - A node is in at most one inbox, at most once, at any time; the pusher guarantees it
//!   (`kick.rs`: only the unparker that finds the task `PARKED` pushes it, and the task cannot
//!   park again before the worker has taken it). So a node's link is written only by its one
//!   pusher, before the compare-and-swap that publishes it (`Release`), and read only by the
//!   owner after the swap that takes it (`Acquire`).
//! - The inbox holds no reference count: the pusher guarantees that a node outlives its stay
//!   (`kick.rs`: the worker holds the parked task's token until it has taken it).
//! - No ABA: nodes are never removed one at a time, only the whole list by a swap with null.
//! - [`Inbox::take_all`] hands the nodes over oldest first (the owner reverses the list it took,
//!   which no other thread can reach any more).

use std::marker::PhantomData;
use std::ptr;
use std::sync::atomic::AtomicPtr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::atom::AtomPtr;

/// A node of an inbox: it carries its own link.
pub(crate) trait Linked<L> {
    fn link(&self) -> &L;
}

/// An intrusive multi-producer, single-consumer stack of `T`s (see the module docs). Aligned to
/// a cache line: its head is the one line that every push and take touches.
#[repr(align(64))]
pub(crate) struct Inbox<T, L = AtomicPtr<T>> {
    head: L,
    _nodes: PhantomData<*const T>,
}

// SAFETY: the inbox only moves pointers between threads; what a pointer may be used for is the
// pusher's and the owner's contract (see the module docs).
unsafe impl<T, L: Send> Send for Inbox<T, L> {}
// SAFETY: as above; every shared access goes through the atomic head.
unsafe impl<T, L: Sync> Sync for Inbox<T, L> {}

impl<T, L> core::fmt::Debug for Inbox<T, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Inbox")
    }
}

impl<T: Linked<L>, L: AtomPtr<T>> Inbox<T, L> {
    pub(crate) fn new() -> Self {
        Inbox {
            head: L::empty(),
            _nodes: PhantomData,
        }
    }

    /// Pushes `node`.
    ///
    /// # Safety
    /// `node` is in no inbox now, and stays valid until the owner has taken it.
    #[inline]
    pub(crate) unsafe fn push(&self, node: &T) {
        let p = ptr::from_ref(node).cast_mut();
        let mut head = self.head.load(Relaxed);
        loop {
            node.link().store(head, Relaxed);
            match self.head.compare_exchange_weak(head, p, Release, Relaxed) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// Whether nothing is pushed (a snapshot).
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head.load(Acquire).is_null()
    }

    /// Takes every pushed node and calls `f` on each, oldest first. Only the owner calls it.
    ///
    /// # Safety
    /// No other thread takes from this inbox.
    pub(crate) unsafe fn take_all(&self, mut f: impl FnMut(&T)) {
        let mut newest = self.head.swap(ptr::null_mut(), Acquire);
        if newest.is_null() {
            return;
        }
        // Reverse the list, which only this thread can reach now.
        let mut oldest: *mut T = ptr::null_mut();
        while !newest.is_null() {
            // SAFETY: a pushed node stays valid until taken (push's contract), and is taken now.
            let node = unsafe { &*newest };
            let next = node.link().load(Relaxed);
            node.link().store(oldest, Relaxed);
            oldest = newest;
            newest = next;
        }
        while !oldest.is_null() {
            // SAFETY: as above; the link is read before `f`, after which the node may be pushed
            // again.
            let node = unsafe { &*oldest };
            oldest = node.link().load(Relaxed);
            f(node);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    struct Node {
        value: u32,
        link: AtomicPtr<Node>,
    }

    impl Linked<AtomicPtr<Node>> for Node {
        fn link(&self) -> &AtomicPtr<Node> {
            &self.link
        }
    }

    fn nodes(n: u32) -> Vec<Node> {
        (0..n)
            .map(|value| Node {
                value,
                link: AtomicPtr::new(ptr::null_mut()),
            })
            .collect()
    }

    #[test]
    fn takes_oldest_first_and_leaves_it_empty() {
        let inbox = Inbox::<Node>::new();
        let ns = nodes(5);
        assert!(inbox.is_empty());
        for n in &ns {
            unsafe { inbox.push(n) };
        }
        assert!(!inbox.is_empty());
        let mut seen = Vec::new();
        unsafe { inbox.take_all(|n| seen.push(n.value)) };
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert!(inbox.is_empty());
        unsafe { inbox.take_all(|_| panic!("taken twice")) };
        // A taken node may be pushed again.
        unsafe { inbox.push(&ns[3]) };
        unsafe { inbox.take_all(|n| seen.push(n.value)) };
        assert_eq!(seen.last(), Some(&3));
    }

    #[test]
    fn many_pushers_every_node_taken_exactly_once() {
        const THREADS: u32 = 8;
        const PER: u32 = 5000;
        let all = Arc::new(nodes(THREADS * PER));
        let inbox = Arc::new(Inbox::<Node>::new());
        let pushers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (all, inbox) = (Arc::clone(&all), Arc::clone(&inbox));
                std::thread::spawn(move || {
                    for i in 0..PER {
                        unsafe { inbox.push(&all[(t * PER + i) as usize]) };
                    }
                })
            })
            .collect();
        let mut seen = vec![0u8; (THREADS * PER) as usize];
        let mut last = vec![None::<u32>; THREADS as usize];
        let mut taken = 0;
        while taken < THREADS * PER {
            unsafe {
                inbox.take_all(|n| {
                    seen[n.value as usize] += 1;
                    // Each pusher's nodes come out in the order it pushed them.
                    let (t, i) = (n.value / PER, n.value % PER);
                    assert!(last[t as usize].is_none_or(|l| l < i));
                    last[t as usize] = Some(i);
                    taken += 1;
                })
            };
        }
        for p in pushers {
            p.join().unwrap();
        }
        assert!(seen.iter().all(|&c| c == 1));
        assert!(inbox.is_empty());
    }
}
