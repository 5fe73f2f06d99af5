//! Unicast wake-up latency of nemo's condvar and event against `pthread_cond`, a raw futex and a
//! spinning waiter, with the notifier pinned to core 0 and the waiter to core 1.
//!
//! Latency is measured from just before the notifier's signalling call to just after the waiter's
//! wait returns (with its mutex re-acquired, for the mutex-based mechanisms); the notifier waits
//! for the waiter to be back in its wait, then lets `gap` pass, then signals. A short gap keeps a
//! spinning waiter in its spin window; a long gap makes it park.
//!
//! ```sh
//! cargo run --release -p nemo-user --example condvar_latency [-- SHORT_GAP_US LONG_GAP_US ITERS]
//! ```
//!
//! The mechanisms run interleaved, in rounds, so that drift in the machine's load (it is shared
//! and noisy) affects them alike. This is a quick look for development; the benchmark suite
//! (`nemo-bench`) is where numbers are claimed.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hdrhistogram::Histogram;
use nemo_user::condvar::Condvar;
use nemo_user::event::Event;
use nemo_user::wait::WaitPolicy;

fn now_ns() -> u64 {
    uintr_sys::clock::monotonic_ns()
}

fn thread_cpu_ns() -> u64 {
    let t = {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        ts
    };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// The cores this process may use, read once before any thread pins itself (a thread spawned
/// by a pinned thread inherits its single-core mask).
static CORES: std::sync::OnceLock<Vec<core_affinity::CoreId>> = std::sync::OnceLock::new();

fn pin(core: usize) {
    let cores = CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    if let Some(id) = cores.get(core % cores.len().max(1)) {
        core_affinity::set_for_current(*id);
    }
}

/// A way for one thread to wait for a sequence number and another to publish it.
trait Mechanism: Send + Sync {
    /// Blocks until the published sequence differs from `last`; returns it.
    fn wait(&self, last: u64) -> u64;
    /// Publishes `seq` and wakes the waiter.
    fn signal(&self, seq: u64);
}

struct PthreadCond {
    m: UnsafeCell<libc::pthread_mutex_t>,
    c: UnsafeCell<libc::pthread_cond_t>,
    seq: UnsafeCell<u64>,
}

// SAFETY: `seq` is only accessed with `m` held; the pthread objects are thread-safe.
unsafe impl Sync for PthreadCond {}
// SAFETY: as above.
unsafe impl Send for PthreadCond {}

impl Mechanism for PthreadCond {
    fn wait(&self, last: u64) -> u64 {
        // SAFETY: initialised static-style objects, accessed through the pthread API; `seq` under
        // the mutex.
        unsafe {
            libc::pthread_mutex_lock(self.m.get());
            while *self.seq.get() == last {
                libc::pthread_cond_wait(self.c.get(), self.m.get());
            }
            let s = *self.seq.get();
            libc::pthread_mutex_unlock(self.m.get());
            s
        }
    }

    fn signal(&self, seq: u64) {
        // SAFETY: as in `wait`.
        unsafe {
            libc::pthread_mutex_lock(self.m.get());
            *self.seq.get() = seq;
            libc::pthread_mutex_unlock(self.m.get());
            libc::pthread_cond_signal(self.c.get());
        }
    }
}

struct Futex(AtomicU32);

impl Mechanism for Futex {
    fn wait(&self, last: u64) -> u64 {
        loop {
            let v = self.0.load(Ordering::Acquire);
            if u64::from(v) != last {
                return u64::from(v);
            }
            // SAFETY: live aligned u32, no timeout.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.0.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    v,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }

    fn signal(&self, seq: u64) {
        self.0.store(seq as u32, Ordering::Release);
        // SAFETY: live aligned u32.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.0.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                1,
            )
        };
    }
}

struct Spin(AtomicU64);

impl Mechanism for Spin {
    fn wait(&self, last: u64) -> u64 {
        loop {
            let v = self.0.load(Ordering::Acquire);
            if v != last {
                return v;
            }
            core::hint::spin_loop();
        }
    }

    fn signal(&self, seq: u64) {
        self.0.store(seq, Ordering::Release);
    }
}

struct NemoCondvar {
    m: Mutex<u64>,
    cv: Condvar,
}

impl Mechanism for NemoCondvar {
    fn wait(&self, last: u64) -> u64 {
        let g = self.m.lock().expect("not poisoned");
        let g = self
            .cv
            .wait_while(g, &self.m, |s| *s == last)
            .expect("not poisoned");
        *g
    }

    fn signal(&self, seq: u64) {
        *self.m.lock().expect("not poisoned") = seq;
        self.cv.notify_one();
    }
}

struct NemoEvent {
    seq: AtomicU64,
    ev: Event,
}

impl Mechanism for NemoEvent {
    fn wait(&self, last: u64) -> u64 {
        self.ev
            .wait_while(|| self.seq.load(Ordering::Acquire) == last);
        self.seq.load(Ordering::Acquire)
    }

    fn signal(&self, seq: u64) {
        self.seq.store(seq, Ordering::Release);
        self.ev.notify_one();
    }
}

struct Result {
    lat: Histogram<u64>,
    waiter_cpu_ns_per_event: u64,
}

/// `iters` events numbered `base + 1 ..= base + iters` (the mechanism last published `base`).
fn run(mech: Arc<dyn Mechanism>, base: u64, iters: u64, gap: Duration) -> Result {
    let stamp = Arc::new(AtomicU64::new(0));
    let ack = Arc::new(AtomicU64::new(0));
    let waiter = {
        let (mech, stamp, ack) = (mech.clone(), stamp.clone(), ack.clone());
        thread::spawn(move || {
            pin(1);
            let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)
                .expect("valid histogram bounds");
            let cpu0 = thread_cpu_ns();
            let mut last = base;
            for i in base + 1..=base + iters {
                ack.store(i - 1, Ordering::Release);
                last = mech.wait(last);
                let t1 = now_ns();
                assert_eq!(last, i);
                h.saturating_record(t1.saturating_sub(stamp.load(Ordering::Acquire)));
            }
            Result {
                lat: h,
                waiter_cpu_ns_per_event: (thread_cpu_ns() - cpu0) / iters,
            }
        })
    };
    pin(0);
    let gap_ns = gap.as_nanos() as u64;
    for i in base + 1..=base + iters {
        while ack.load(Ordering::Acquire) != i - 1 {
            core::hint::spin_loop();
        }
        let start = now_ns();
        while now_ns() - start < gap_ns {
            core::hint::spin_loop();
        }
        stamp.store(now_ns(), Ordering::Release);
        mech.signal(i);
    }
    waiter.join().expect("waiter thread")
}

fn mechanisms() -> Vec<(&'static str, Arc<dyn Mechanism>)> {
    vec![
        (
            "pthread_cond",
            Arc::new(PthreadCond {
                m: UnsafeCell::new(libc::PTHREAD_MUTEX_INITIALIZER),
                c: UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER),
                seq: UnsafeCell::new(0),
            }),
        ),
        ("futex", Arc::new(Futex(AtomicU32::new(0)))),
        ("spin", Arc::new(Spin(AtomicU64::new(0)))),
        (
            "nemo_condvar",
            Arc::new(NemoCondvar {
                m: Mutex::new(0),
                cv: Condvar::new(),
            }),
        ),
        (
            "nemo_condvar_park",
            Arc::new(NemoCondvar {
                m: Mutex::new(0),
                cv: Condvar::new().with_policy(WaitPolicy::park_only()),
            }),
        ),
        (
            "nemo_event",
            Arc::new(NemoEvent {
                seq: AtomicU64::new(0),
                ev: Event::new(),
            }),
        ),
    ]
}

fn main() {
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    let arg = |i: usize, d: u64| {
        std::env::args()
            .nth(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (short_us, long_us, iters) = (arg(1, 1), arg(2, 300), arg(3, 20_000));
    let policy = WaitPolicy::default();
    println!("unicast latency, notifier on core 0, waiter on core 1; default policy {policy:?}\n");
    println!(
        "{:<18} {:<10} {:>9} {:>9} {:>9} {:>14}",
        "mechanism", "regime", "p50 ns", "p99 ns", "max ns", "waiter cpu/ev"
    );
    const ROUNDS: u64 = 10;
    for (regime, gap_us, n) in [
        ("short-gap", short_us, iters),
        ("long-gap", long_us, (iters / 5).max(500)),
    ] {
        let mechs = mechanisms();
        let mut lat: Vec<Histogram<u64>> = mechs
            .iter()
            .map(|_| Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid bounds"))
            .collect();
        let mut cpu = vec![0u64; mechs.len()];
        for round in 0..ROUNDS {
            for (k, (_, mech)) in mechs.iter().enumerate() {
                let per = n / ROUNDS;
                let r = run(
                    mech.clone(),
                    round * per,
                    per,
                    Duration::from_micros(gap_us),
                );
                lat[k].add(&r.lat).expect("same bounds");
                cpu[k] += r.waiter_cpu_ns_per_event;
            }
        }
        let mut p50 = std::collections::HashMap::new();
        let mut p99 = std::collections::HashMap::new();
        for (k, (name, _)) in mechs.iter().enumerate() {
            let (a, b) = (
                lat[k].value_at_quantile(0.5),
                lat[k].value_at_quantile(0.99),
            );
            println!(
                "{name:<18} {regime:<10} {a:>9} {b:>9} {:>9} {:>11} ns",
                lat[k].max(),
                cpu[k] / ROUNDS
            );
            p50.insert(*name, a as f64);
            p99.insert(*name, b as f64);
        }
        let ratio = |m: &std::collections::HashMap<&str, f64>, a: &str, b: &str| m[a] / m[b];
        if regime == "short-gap" {
            println!(
                "  targets: nemo_condvar p50/pthread_cond = {:.3} (<= 0.1), p50/spin = {:.2} (<= 3), \
                 p99/pthread_cond = {:.3} (<= 0.2)",
                ratio(&p50, "nemo_condvar", "pthread_cond"),
                ratio(&p50, "nemo_condvar", "spin"),
                ratio(&p99, "nemo_condvar", "pthread_cond"),
            );
        } else {
            println!(
                "  targets: nemo_condvar_park p50/futex = {:.3} (<= 1.05)",
                ratio(&p50, "nemo_condvar_park", "futex"),
            );
        }
    }
}
