//! Spin counters per condvar: how often an adaptive wait was offered a window, spun, caught its
//! wakeup while spinning, and how much spinning was spent for nothing — the evidence for whether
//! spinning pays on a given condvar.
//!
//! Invariants:
//! - Counting never makes a system call or allocates (it may run inside a `pthread_cond_wait`
//!   of a program that interposes `malloc`): one fixed table of [`ROWS`] rows, each claimed by
//!   one condvar address with a compare-and-swap and then bumped with relaxed `fetch_add`s. Only
//!   the waiters of that condvar write its row, so a row's line moves between CPUs only as the
//!   condvar's own lines do.
//! - A row is found by hashing the address and probing at most [`PROBES`] rows; a condvar that
//!   finds none free is counted in the overflow row (reported with address 0). Rows are never
//!   given back: a condvar destroyed and re-created at the same address continues its
//!   predecessor's row, and a program that waits on more than about a thousand condvars in its life
//!   sees the later ones summed in the overflow row.
//! - Counts are snapshots: a reader may see a wait's first events and not yet its last.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

/// Rows in the table (the last is the overflow row).
const ROWS: usize = 1024;
/// Rows looked at before a condvar goes to the overflow row.
const PROBES: usize = 16;
/// The key of the overflow row.
const OVERFLOW: usize = 1;

/// What the adaptive waits on one condvar did (sums over all threads; see [`spin_stats`]).
///
/// `spins − caught` spins ended without a wakeup (the waiter parked, or its deadline passed);
/// `wasted_ns` is their total length, the CPU time spinning cost for nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpinStats {
    /// Waits that went through an adaptive policy's spinning phase.
    pub waits: u64,
    /// Waits whose spin hint offered a window (the rest skipped it: spinning had not paid).
    pub windows: u64,
    /// Waits offered a window but refused a CPU to spin on (spinner admission, or a busy
    /// machine).
    pub refused: u64,
    /// Of those, refused because the machine had no idle CPU (see `wait::admission`).
    pub refused_busy: u64,
    /// Spins started.
    pub spins: u64,
    /// Spins that ended with the wakeup (or a notification at the first poll after admission).
    pub caught: u64,
    /// Nanoseconds spent in all spins.
    pub spin_ns: u64,
    /// Nanoseconds spent in spins that did not catch the wakeup.
    pub wasted_ns: u64,
    /// Waits that went on to park.
    pub parks: u64,
    /// Parked waits woken within the policy's full window of their start (a window might have
    /// caught them, had the spinner not needed the notifier's CPU).
    pub parked_in_window: u64,
}

impl SpinStats {
    fn add(&mut self, o: &SpinStats) {
        self.waits += o.waits;
        self.windows += o.windows;
        self.refused += o.refused;
        self.refused_busy += o.refused_busy;
        self.spins += o.spins;
        self.caught += o.caught;
        self.spin_ns += o.spin_ns;
        self.wasted_ns += o.wasted_ns;
        self.parks += o.parks;
        self.parked_in_window += o.parked_in_window;
    }
}

/// The counters of one condvar, as [`spin_stats`] lists them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CondvarSpinStats {
    /// The condvar's address (0: the condvars a thread waited on beyond its first 15).
    pub addr: usize,
    /// Its counters.
    pub stats: SpinStats,
}

/// One event of a wait, for [`record`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// The spinning phase ran; `window`: the hint offered one; `refused_busy`: refused because
    /// the machine was busy; `spun`: admitted.
    Began {
        window: bool,
        refused: bool,
        refused_busy: bool,
        spun: bool,
    },
    /// A spin of `ns` ended; `caught`: with the wakeup.
    Spun { ns: u64, caught: bool },
    /// The wait parks.
    Parks,
    /// A parked wait was woken within the full window.
    ParkedInWindow,
}

const N: usize = 10;

#[repr(align(128))]
struct Row {
    key: AtomicUsize,
    c: [AtomicU64; N],
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Row = Row {
    key: AtomicUsize::new(0),
    c: [const { AtomicU64::new(0) }; N],
};
static TABLE: [Row; ROWS] = [EMPTY; ROWS];

/// Adds one event of a wait on the condvar at `addr`.
#[inline]
pub(crate) fn record(addr: usize, ev: Event) {
    let row = row_of(addr);
    let bump = |i: usize, by: u64| {
        if by != 0 {
            row.c[i].fetch_add(by, Relaxed);
        }
    };
    match ev {
        Event::Began {
            window,
            refused,
            refused_busy,
            spun,
        } => {
            bump(0, 1);
            bump(1, u64::from(window));
            bump(2, u64::from(refused));
            bump(3, u64::from(refused_busy));
            bump(4, u64::from(spun));
        }
        Event::Spun { ns, caught } => {
            bump(6, ns);
            if caught {
                bump(5, 1);
            } else {
                bump(7, ns);
            }
        }
        Event::Parks => bump(8, 1),
        Event::ParkedInWindow => bump(9, 1),
    }
}

fn home(addr: usize) -> usize {
    // Fibonacci hashing of the address without its alignment bits.
    ((addr >> 3).wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> 8) % (ROWS - 1)
}

/// The row of `addr`, claiming a free one if it has none.
fn row_of(addr: usize) -> &'static Row {
    let addr = addr.max(OVERFLOW + 1);
    let h = home(addr);
    for i in 0..PROBES {
        let r = &TABLE[(h + i) % (ROWS - 1)];
        match r.key.load(Acquire) {
            k if k == addr => return r,
            0 => match r.key.compare_exchange(0, addr, Release, Acquire) {
                Ok(_) => return r,
                Err(k) if k == addr => return r,
                Err(_) => {}
            },
            _ => {}
        }
    }
    let r = &TABLE[ROWS - 1];
    if r.key.load(Relaxed) != OVERFLOW {
        r.key.store(OVERFLOW, Release);
    }
    r
}

/// The row of `addr` if it has one.
fn find(addr: usize) -> Option<&'static Row> {
    let h = home(addr);
    (0..PROBES)
        .map(|i| &TABLE[(h + i) % (ROWS - 1)])
        .find(|r| r.key.load(Acquire) == addr)
}

fn read(r: &Row) -> SpinStats {
    let c = |i: usize| r.c[i].load(Relaxed);
    SpinStats {
        waits: c(0),
        windows: c(1),
        refused: c(2),
        refused_busy: c(3),
        spins: c(4),
        caught: c(5),
        spin_ns: c(6),
        wasted_ns: c(7),
        parks: c(8),
        parked_in_window: c(9),
    }
}

/// The spin counters of every condvar (and [`Event`](crate::event::Event)) this process has
/// waited on with an adaptive policy, busiest first. A snapshot; counting costs the waiters a
/// few relaxed atomic adds on a line only that condvar's waiters write, and no system call.
/// After about a thousand condvars, later ones are summed in one row with address 0.
///
/// ```
/// use nemo_user::condvar::RawCondvar;
/// use nemo_user::wait::spin_stats;
///
/// let cv = RawCondvar::new();
/// let _ = cv.spin_stats(); // all zero until someone waits on it
/// for row in spin_stats() {
///     assert!(row.stats.caught <= row.stats.spins);
/// }
/// ```
pub fn spin_stats() -> Vec<CondvarSpinStats> {
    let mut out: Vec<CondvarSpinStats> = Vec::new();
    each_row(|key, s| {
        let addr = if key == OVERFLOW { 0 } else { key };
        match out.iter_mut().find(|r| r.addr == addr) {
            Some(r) => r.stats.add(&s),
            None => out.push(CondvarSpinStats { addr, stats: s }),
        }
    });
    out.sort_by_key(|r| std::cmp::Reverse(r.stats.waits));
    out
}

/// The counters of the condvar at `addr` (zero if it has no row, or shares the overflow row).
pub(crate) fn stats_of(addr: usize) -> SpinStats {
    find(addr.max(OVERFLOW + 1)).map(read).unwrap_or_default()
}

fn each_row(mut f: impl FnMut(usize, SpinStats)) {
    for r in &TABLE {
        let key = r.key.load(Acquire);
        if key != 0 {
            f(key, read(r));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_add_up_per_address_across_threads() {
        let addr = Box::leak(Box::new(0u64)) as *const u64 as usize;
        let ev = Event::Began {
            window: true,
            refused: false,
            refused_busy: false,
            spun: true,
        };
        let t = std::thread::spawn(move || {
            record(addr, ev);
            record(
                addr,
                Event::Spun {
                    ns: 100,
                    caught: true,
                },
            );
        });
        t.join().unwrap();
        record(addr, ev);
        record(
            addr,
            Event::Spun {
                ns: 40,
                caught: false,
            },
        );
        record(addr, Event::Parks);
        let s = stats_of(addr);
        assert_eq!((s.waits, s.windows, s.spins, s.caught), (2, 2, 2, 1));
        assert_eq!((s.spin_ns, s.wasted_ns, s.parks), (140, 40, 1));
        assert!(spin_stats().iter().any(|r| r.addr == addr && r.stats == s));
    }

    #[test]
    fn addresses_with_no_free_row_count_in_the_overflow_row() {
        let overflow = || {
            spin_stats()
                .into_iter()
                .find(|r| r.addr == 0)
                .map_or(0, |r| r.stats.parks)
        };
        let before = overflow();
        // More addresses with the same home row than a condvar may probe (made-up addresses:
        // only their value is used).
        let base = 0x7ff0_0000_0000usize;
        let h = home(base);
        let addrs: Vec<usize> = (0..)
            .map(|i| base + 8 * i)
            .filter(|&a| home(a) == h)
            .take(PROBES + 4)
            .collect();
        for &a in &addrs {
            record(a, Event::Parks);
        }
        let own: u64 = addrs.iter().map(|&a| stats_of(a).parks).sum();
        assert!(addrs.iter().all(|&a| stats_of(a).parks <= 1));
        assert!(own < addrs.len() as u64);
        // Other tests may overflow meanwhile too, so at least ours are there.
        assert!(own + (overflow() - before) >= addrs.len() as u64);
    }

    #[test]
    fn an_address_never_counted_reads_zero() {
        let addr = Box::leak(Box::new(0u64)) as *const u64 as usize;
        assert_eq!(stats_of(addr), SpinStats::default());
    }
}
