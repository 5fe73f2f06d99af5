//! Measures what the wait ladder's default bounds are based on, with two pinned threads:
//!
//! 1. **spin handoff**: a store to a cache line → a thread spinning on it sees it;
//! 2. **futex wake → run**: `FUTEX_WAKE` → the parked thread runs again;
//! 3. **`FUTEX_WAKE` cost** for the notifier, with a sleeper to wake and with none;
//! 4. **notify with nobody waiting**: nemo's condvar (no fence: its waiters use a mutex), the
//!    fenced notify that [`Event`](nemo_user::event::Event) uses, and glibc's
//!    `pthread_cond_signal`, each timed over batches of calls.
//!
//! ```sh
//! cargo run --release -p nemo-user --example wait_calibrate [-- ITERATIONS]
//! ```
//!
//! A waiter that parks instead of spinning pays (2) − (1) in extra latency when the event comes;
//! spin-then-park is 2-competitive when the spin lasts about that long, so the default spin bound
//! is chosen near it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use hdrhistogram::Histogram;
use nemo_user::condvar::RawCondvar;

fn now_ns() -> u64 {
    uintr_sys::clock::monotonic_ns()
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

fn futex_wait(w: &AtomicU32, v: u32) {
    // SAFETY: `w` is a live aligned u32; no timeout.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            w.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            v,
            std::ptr::null::<libc::timespec>(),
        )
    };
}

fn futex_wake(w: &AtomicU32) -> i64 {
    // SAFETY: `w` is a live aligned u32.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            w.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            1,
        )
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("valid histogram bounds")
}

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<34} n={:<6} p50={:>8} ns  p90={:>8} ns  p99={:>8} ns",
        h.len(),
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99)
    );
}

/// One-way latency of a store seen by a spinning thread.
fn spin_handoff(iters: usize) -> Histogram<u64> {
    let seq = Arc::new(AtomicU64::new(0));
    let stamp = Arc::new(AtomicU64::new(0));
    let ack = Arc::new(AtomicU64::new(0));
    let waiter = {
        let (seq, stamp, ack) = (seq.clone(), stamp.clone(), ack.clone());
        thread::spawn(move || {
            pin(1);
            let mut h = hist();
            for i in 1..=iters as u64 {
                while seq.load(Ordering::Acquire) != i {
                    core::hint::spin_loop();
                }
                let t1 = now_ns();
                h.saturating_record(t1.saturating_sub(stamp.load(Ordering::Relaxed)));
                ack.store(i, Ordering::Release);
            }
            h
        })
    };
    pin(0);
    for i in 1..=iters as u64 {
        while ack.load(Ordering::Acquire) != i - 1 {
            core::hint::spin_loop();
        }
        stamp.store(now_ns(), Ordering::Relaxed);
        seq.store(i, Ordering::Release);
    }
    waiter.join().expect("waiter thread")
}

/// Futex wake → parked waiter running, and the notifier's `FUTEX_WAKE` cost with a sleeper.
fn futex_round(iters: usize, gap: Duration) -> (Histogram<u64>, Histogram<u64>) {
    let word = Arc::new(AtomicU32::new(0));
    let stamp = Arc::new(AtomicU64::new(0));
    let ack = Arc::new(AtomicU32::new(0));
    let waiter = {
        let (word, stamp, ack) = (word.clone(), stamp.clone(), ack.clone());
        thread::spawn(move || {
            pin(1);
            let mut lat = hist();
            for i in 1..=iters as u32 {
                ack.store(i - 1, Ordering::Release);
                while word.load(Ordering::Acquire) != i {
                    futex_wait(&word, i - 1);
                }
                let t1 = now_ns();
                lat.saturating_record(t1.saturating_sub(stamp.load(Ordering::Relaxed)));
            }
            lat
        })
    };
    pin(0);
    let mut wake_cost = hist();
    for i in 1..=iters as u32 {
        while ack.load(Ordering::Acquire) != i - 1 {
            core::hint::spin_loop();
        }
        // Let the waiter get into the kernel.
        let start = now_ns();
        while now_ns() - start < gap.as_nanos() as u64 {
            core::hint::spin_loop();
        }
        let t0 = now_ns();
        stamp.store(t0, Ordering::Relaxed);
        word.store(i, Ordering::Release);
        futex_wake(&word);
        wake_cost.saturating_record(now_ns() - t0);
    }
    (waiter.join().expect("waiter thread"), wake_cost)
}

fn wake_nobody(iters: usize) -> Histogram<u64> {
    let word = AtomicU32::new(0);
    let mut h = hist();
    for _ in 0..iters {
        let t0 = now_ns();
        futex_wake(&word);
        h.saturating_record(now_ns() - t0);
    }
    h
}

/// Calls per timed batch: one call is too short for the clock.
const BATCH: u64 = 1000;

/// Nanoseconds per `BATCH` calls of `call`, one sample per batch.
fn batched(iters: usize, mut call: impl FnMut()) -> Histogram<u64> {
    let mut h = hist();
    for _ in 0..iters {
        let t0 = now_ns();
        for _ in 0..BATCH {
            call();
        }
        h.saturating_record(now_ns() - t0);
    }
    h
}

fn report_batched(name: &str, h: &Histogram<u64>) {
    let per_call = |q| h.value_at_quantile(q) as f64 / BATCH as f64;
    println!(
        "{name:<34} n={:<6} p50={:>8.2} ns  p90={:>8.2} ns  (per call, batches of {BATCH})",
        h.len(),
        per_call(0.5),
        per_call(0.9)
    );
}

/// The cost of notifying nobody: nemo's two notify paths and glibc's.
fn notify_nobody(iters: usize) {
    let cv = RawCondvar::new();
    let plain = batched(iters, || {
        std::hint::black_box(cv.notify_one());
    });
    report_batched("RawCondvar::notify_one, nobody", &plain);
    let fenced = batched(iters, || {
        std::hint::black_box(cv.notify_one_fenced());
    });
    report_batched("RawCondvar::notify_one_fenced", &fenced);
    let cond = Box::new(std::cell::UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER));
    let glibc = batched(iters, || {
        // SAFETY: a statically initialised condvar that outlives the loop; signalling one with
        // no waiters is defined and does nothing.
        std::hint::black_box(unsafe { libc::pthread_cond_signal(cond.get()) });
    });
    report_batched("pthread_cond_signal, nobody", &glibc);
    // SAFETY: nobody uses it any more.
    unsafe { libc::pthread_cond_destroy(cond.get()) };
}

fn clock_read(iters: usize) -> Histogram<u64> {
    let mut h = hist();
    for _ in 0..iters {
        let t0 = now_ns();
        let t1 = now_ns();
        h.saturating_record(t1 - t0);
    }
    h
}

fn main() {
    CORES.get_or_init(|| core_affinity::get_core_ids().unwrap_or_default());
    let iters: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let cores = core_affinity::get_core_ids().map_or(0, |c| c.len());
    println!(
        "wait ladder calibration: {iters} iterations, {cores} cores, threads pinned to cores 0 and 1"
    );
    println!("WAITPKG (umwait): {}", uintr_sys::detect::cpu_has_waitpkg());
    report("clock_gettime(MONOTONIC) back-to-back", &clock_read(iters));
    let spin = spin_handoff(iters);
    report("spin handoff (store -> spinner)", &spin);
    let (lat, cost) = futex_round(iters / 4, Duration::from_micros(100));
    report("futex wake -> parked waiter runs", &lat);
    report("FUTEX_WAKE call, one sleeper", &cost);
    report("FUTEX_WAKE call, no sleeper", &wake_nobody(iters));
    notify_nobody(iters / 10);
    let penalty = lat
        .value_at_quantile(0.5)
        .saturating_sub(spin.value_at_quantile(0.5));
    println!(
        "\nextra latency of parking over spinning (p50): {penalty} ns; \
         2-competitive spin bound: about {} us",
        penalty.div_ceil(1000)
    );
}
