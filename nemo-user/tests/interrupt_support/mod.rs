//! Helpers shared by the interrupt, backend and active-message tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use nemo_user::am::{ActionId, Domain};
use nemo_user::interrupt::{Receiver, ReceiverBuilder};
use nemo_user::{BackendKind, ErrorKind};

/// A result as the tests compare it: an error by its kind and its whole message.
pub fn described<T>(r: nemo_user::Result<T>) -> Result<T, (ErrorKind, String)> {
    r.map_err(|e| (e.kind(), e.to_string()))
}

/// The software backends, which CI runs everywhere.
pub const SOFTWARE: [BackendKind; 2] = [BackendKind::Signal, BackendKind::Poll];

/// A way to run a receiver: the software backends, and the `uintr` backend's own path (its
/// trampoline entry, dispatch and guards) driven by `uintr-sys`'s emulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Signal,
    Poll,
    UintrEmulated,
}

impl Flavor {
    /// Every flavor that runs on any machine.
    pub const ALL: [Flavor; 3] = [Flavor::Signal, Flavor::Poll, Flavor::UintrEmulated];

    pub fn kind(self) -> BackendKind {
        match self {
            Flavor::Signal => BackendKind::Signal,
            Flavor::Poll => BackendKind::Poll,
            Flavor::UintrEmulated => BackendKind::Uintr,
        }
    }

    pub fn builder(self) -> ReceiverBuilder {
        match self {
            Flavor::UintrEmulated => Receiver::builder().uintr_emulated(true),
            f => Receiver::builder().backend(f.kind()),
        }
    }

    /// Whether delivery needs an explicit safepoint.
    pub fn polls(self) -> bool {
        self == Flavor::Poll
    }
}

impl std::fmt::Display for Flavor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Generous bound on how long a condition may take before a test is declared hung (a hang
/// guard for broken delivery, not a timing assertion).
pub const HANG: Duration = Duration::from_secs(60);

/// Waits on the receiving thread until `cond` holds: polling on the poll backend, just letting
/// the signal interrupt the loop on the signal backend. Panics if it never does.
pub fn wait_until(kind: BackendKind, what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        if kind == BackendKind::Poll {
            nemo_user::poll();
        }
        std::thread::yield_now();
        assert!(start.elapsed() < HANG, "hung waiting for {what} on {kind}");
    }
}

/// Waits on the receiving thread until `progress()` reaches `done`, like [`wait_until`], but
/// declares a hang only when `progress()` has not moved for [`HANG`]: a long run on a starved
/// machine is slow, a lost delivery stops it for good.
pub fn wait_progress(flavor: Flavor, what: &str, progress: impl Fn() -> u64, done: u64) {
    let mut last = progress();
    let mut since = Instant::now();
    while last < done {
        if flavor.polls() {
            nemo_user::poll();
        }
        std::thread::yield_now();
        let now = progress();
        if now != last {
            (last, since) = (now, Instant::now());
        }
        assert!(
            since.elapsed() < HANG,
            "no progress for {HANG:?} waiting for {what} on {flavor}: {last} of {done}"
        );
    }
}

/// [`wait_until`] for a [`Flavor`].
pub fn wait_for(flavor: Flavor, what: &str, cond: impl Fn() -> bool) {
    wait_until(flavor.kind(), what, cond)
}

/// An append-only log of vectors that a handler can write without allocating or locking.
#[derive(Clone)]
pub struct VectorLog(Arc<(Vec<AtomicU8>, AtomicUsize)>);

impl VectorLog {
    pub fn new(capacity: usize) -> VectorLog {
        VectorLog(Arc::new((
            (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            AtomicUsize::new(0),
        )))
    }

    /// Handler side: records `v`.
    pub fn push(&self, v: u8) {
        let i = self.0.1.fetch_add(1, SeqCst);
        if let Some(slot) = self.0.0.get(i) {
            slot.store(v, SeqCst);
        }
    }

    pub fn len(&self) -> usize {
        self.0.1.load(SeqCst)
    }

    pub fn snapshot(&self) -> Vec<u8> {
        let n = self.len().min(self.0.0.len());
        self.0.0[..n].iter().map(|a| a.load(SeqCst)).collect()
    }
}

/// Registers an action on `domain` that adds its payload to the returned sum.
pub fn counting(domain: &Domain) -> (ActionId, Arc<AtomicU64>) {
    let sum = Arc::new(AtomicU64::new(0));
    let s = sum.clone();
    let id = domain
        .register_action(move |x| {
            s.fetch_add(x, SeqCst);
        })
        .unwrap();
    (id, sum)
}
