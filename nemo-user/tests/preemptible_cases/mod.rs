//! Preemption at any instruction inside `sched::preemptible`, as cases any backend that
//! preempts anywhere must pass: `tests/sched_preemptible.rs` runs them on `signal`, the `sched`
//! module's unit tests on the `uintr` backend's emulated path.
//!
//! The includer brings `Builder`, `Runtime`, `preemptible`, `safepoint` and `Guard` into scope
//! (from `nemo_user` or from `crate`). Every case bounds its wait with a deadline and fails
//! cleanly when the preemption does not come.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::{Builder, Guard, Runtime, preemptible, safepoint};

/// How long a case waits for a preemption that a working implementation gives in a quantum.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Spins (no call, no safepoint) until `flag` is set or the deadline passes; returns whether
/// the flag was set. The clock is read every 2²⁰ rounds only.
#[inline(never)]
pub fn spin_until(flag: &AtomicBool, deadline: Instant) -> bool {
    let mut x = 1u64;
    loop {
        for _ in 0..1 << 20 {
            if flag.load(Relaxed) {
                black_box(x);
                return true;
            }
            x = x.rotate_left(5) ^ 0x9e37_79b9;
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
}

/// Spins for `d` (no safepoint), and reports whether `flag` was seen set meanwhile.
#[inline(never)]
pub fn spin_for(flag: &AtomicBool, d: Duration) -> bool {
    let end = Instant::now() + d;
    let mut seen = false;
    let mut x = 1u64;
    while Instant::now() < end {
        for _ in 0..1 << 12 {
            seen |= flag.load(Relaxed);
            x = x.rotate_left(5) ^ 0x9e37_79b9;
        }
    }
    black_box(x);
    seen
}

fn one_worker(builder: Builder, quantum: Duration) -> Runtime {
    builder
        .workers(1)
        .quantum(quantum)
        .build()
        .expect("a runtime on this backend")
}

/// A task spinning in a region with no safepoint gives its only worker to a second task.
pub fn a_tight_loop_is_preempted(builder: Builder) {
    let rt = one_worker(builder, Duration::from_micros(200));
    let stop = Arc::new(AtomicBool::new(false));
    let spinner = {
        let stop = Arc::clone(&stop);
        let deadline = Instant::now() + DEADLINE;
        rt.spawn(move || preemptible(|| spin_until(&stop, deadline)))
    };
    let other = {
        let stop = Arc::clone(&stop);
        rt.spawn(move || stop.store(true, Relaxed))
    };
    other.join().expect("the second task runs");
    assert!(
        spinner.join().expect("the spinner returns"),
        "the second task ran only after the spinner's deadline: no preemption in the region"
    );
    let s = rt.stats()[0];
    assert!(s.preemptions >= 1, "{s:?}");
    rt.shutdown();
}

/// Outside a region a plain loop keeps its worker, however many ticks arrive; inside one the
/// same loop is preempted.
pub fn outside_a_region_nothing_is_switched(builder: Builder) {
    let rt = one_worker(builder, Duration::from_micros(200));
    let ran = Arc::new(AtomicBool::new(false));
    let spinner = {
        let ran = Arc::clone(&ran);
        rt.spawn(move || {
            let seen_outside = spin_for(&ran, Duration::from_millis(150));
            let deadline = Instant::now() + DEADLINE;
            let seen_inside = preemptible(|| spin_until(&ran, deadline));
            (seen_outside, seen_inside)
        })
    };
    let other = {
        let ran = Arc::clone(&ran);
        rt.spawn(move || ran.store(true, Relaxed))
    };
    let (outside, inside) = spinner.join().expect("the spinner returns");
    other.join().expect("the second task runs");
    let s = rt.stats()[0];
    assert!(!outside, "switched outside a region: {s:?}");
    assert!(inside, "not preempted inside the region: {s:?}");
    assert!(s.ticks >= 10, "too few ticks to tell: {s:?}");
    rt.shutdown();
}

/// A guard held inside a region defers the preemption until its drop.
pub fn a_guard_defers_preemption(builder: Builder) {
    let rt = one_worker(builder, Duration::from_micros(200));
    let ran = Arc::new(AtomicBool::new(false));
    let spinner = {
        let ran = Arc::clone(&ran);
        rt.spawn(move || {
            preemptible(|| {
                let guard = Guard::new();
                let seen_in_guard = spin_for(&ran, Duration::from_millis(150));
                drop(guard);
                let deadline = Instant::now() + DEADLINE;
                (seen_in_guard, spin_until(&ran, deadline))
            })
        })
    };
    let other = {
        let ran = Arc::clone(&ran);
        rt.spawn(move || ran.store(true, Relaxed))
    };
    let (in_guard, after) = spinner.join().expect("the spinner returns");
    other.join().expect("the second task runs");
    let s = rt.stats()[0];
    assert!(!in_guard, "switched while a guard was held: {s:?}");
    assert!(after, "not preempted after the guard's drop: {s:?}");
    rt.shutdown();
}

/// Eight f64 accumulators, live in xmm registers across the loop; returns their bits.
#[inline(never)]
pub fn sse_series(seed: u64, rounds: u64) -> [u64; 8] {
    let mut a = [0f64; 8];
    for (i, v) in a.iter_mut().enumerate() {
        *v = (seed as f64 + i as f64) * 0.001;
    }
    for k in 0..rounds {
        let x = k as f64 * 1e-7;
        a[0] = a[0] * 0.999_999_9 + x;
        a[1] = a[1] * 0.999_999_8 + a[0] * 1e-9;
        a[2] = a[2] * 0.999_999_7 - a[1] * 1e-9;
        a[3] = a[3] * 0.999_999_6 + (a[2] - x) * 1e-9;
        a[4] = a[4] * 0.999_999_5 + a[3] * a[0] * 1e-12;
        a[5] = a[5] / 1.000_000_1 + x * x;
        a[6] = a[6] * 0.999_999_3 + a[5].abs() * 1e-9;
        a[7] = a[7] * 0.999_999_2 + (a[6] + a[4]) * 1e-9;
    }
    a.map(f64::to_bits)
}

/// The same with 256-bit AVX vectors (upper halves live across the loop), where the CPU has
/// AVX; `None` elsewhere.
pub fn avx_series(seed: u64, rounds: u64) -> Option<[u64; 8]> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        // SAFETY: AVX is present.
        return Some(unsafe { avx_series_inner(seed, rounds) });
    }
    let _ = (seed, rounds);
    None
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[inline(never)]
fn avx_series_inner(seed: u64, rounds: u64) -> [u64; 8] {
    use std::arch::x86_64::*;
    let s = seed as f64;
    let mut a = _mm256_set_pd(s, s + 1.0, s + 2.0, s + 3.0);
    let mut b = _mm256_set_pd(s * 0.5, s * 0.25, s * 0.125, s * 0.0625);
    let ka = _mm256_set1_pd(0.999_999_9);
    let kb = _mm256_set1_pd(1.000_000_1);
    for k in 0..rounds {
        let x = _mm256_set1_pd(k as f64 * 1e-7);
        a = _mm256_add_pd(_mm256_mul_pd(a, ka), x);
        b = _mm256_sub_pd(_mm256_div_pd(b, kb), _mm256_mul_pd(a, _mm256_set1_pd(1e-9)));
    }
    let mut out = [0f64; 8];
    // SAFETY: `out` has room for two vectors of four f64.
    unsafe {
        _mm256_storeu_pd(out.as_mut_ptr(), a);
        _mm256_storeu_pd(out.as_mut_ptr().add(4), b);
    }
    out.map(f64::to_bits)
}

/// Thirteen general registers and the carry flag live across a loop written in assembly, so
/// that preemptions land between any two of its instructions; returns the registers.
#[inline(never)]
pub fn gpr_chain(seed: u64, rounds: u64) -> [u64; 13] {
    let mut r = [0u64; 13];
    for (i, v) in r.iter_mut().enumerate() {
        *v = seed
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(i as u32 * 5)
            ^ i as u64;
    }
    let [
        mut a,
        mut b,
        mut c,
        mut d,
        mut e,
        mut f,
        mut g,
        mut h,
        mut i,
        mut j,
        mut k,
        mut l,
        mut m,
    ] = r;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: only the named registers and the flags change; no memory is touched.
    unsafe {
        core::arch::asm!(
            "2:",
            "add {a}, {b}",
            // The carry of the `add` is consumed here: a lost CF changes the result.
            "adc {c}, {d}",
            "rol {b}, 7",
            "xor {d}, {a}",
            "add {e}, {c}",
            "adc {f}, {g}",
            "ror {g}, 11",
            "xor {h}, {f}",
            "sub {i}, {h}",
            "sbb {j}, {k}",
            "rol {k}, 3",
            "xor {l}, {j}",
            "add {m}, {l}",
            "adc {a}, {e}",
            "dec {n}",
            "jnz 2b",
            a = inout(reg) a,
            b = inout(reg) b,
            c = inout(reg) c,
            d = inout(reg) d,
            e = inout(reg) e,
            f = inout(reg) f,
            g = inout(reg) g,
            h = inout(reg) h,
            i = inout(reg) i,
            j = inout(reg) j,
            k = inout(reg) k,
            l = inout(reg) l,
            m = inout(reg) m,
            n = inout(reg) rounds.max(1) => _,
            options(nomem, nostack),
        );
    }
    [a, b, c, d, e, f, g, h, i, j, k, l, m]
}

/// Tasks computing with xmm/ymm registers and with many general registers, preempted at any
/// instruction thousands of times, give bit-identical results to an unpreempted run.
pub fn registers_survive_preemption(builder: Builder) {
    const ROUNDS: u64 = 6_000_000;
    const GPR_ROUNDS: u64 = 60_000_000;
    let rt = one_worker(builder, Duration::from_micros(20));
    let seeds = [3u64, 17, 101];
    let handles: Vec<_> = seeds
        .iter()
        .map(|&seed| {
            rt.spawn(move || {
                preemptible(|| {
                    (
                        sse_series(seed, ROUNDS),
                        avx_series(seed, ROUNDS),
                        gpr_chain(seed, GPR_ROUNDS),
                    )
                })
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("a kernel task"))
        .collect();
    let s = rt.stats()[0];
    rt.shutdown();
    for (&seed, (sse, avx, gpr)) in seeds.iter().zip(results) {
        assert_eq!(sse, sse_series(seed, ROUNDS), "xmm state, seed {seed}");
        assert_eq!(avx, avx_series(seed, ROUNDS), "ymm state, seed {seed}");
        assert_eq!(
            gpr,
            gpr_chain(seed, GPR_ROUNDS),
            "general registers, seed {seed}"
        );
    }
    // The kernels call no safepoint: every preemption was at an arbitrary instruction.
    assert!(s.preemptions >= 200, "too few preemptions to tell: {s:?}");
}

/// A storm: quantum 5 µs for about two seconds (longer, up to [`DEADLINE`], until the workers
/// were preempted `least_preemptions` times), tasks on every worker spinning in regions and
/// counting; every count comes out exact and every task finishes once.
pub fn a_storm_keeps_exact_counts(builder: Builder, workers: usize, least_preemptions: u64) {
    const TASKS: u64 = 6;
    let rt = builder
        .workers(workers)
        .quantum(Duration::from_micros(5))
        .build()
        .expect("a runtime on this backend");
    let total = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..TASKS)
        .map(|t| {
            let (total, stop) = (Arc::clone(&total), Arc::clone(&stop));
            rt.spawn(move || {
                preemptible(|| {
                    let mut mine = 0u64;
                    let mut x = t;
                    while !stop.load(Relaxed) {
                        x = black_box(x.rotate_left(5) ^ 0x9e37_79b9);
                        mine += 1;
                        total.fetch_add(1, Relaxed);
                    }
                    (mine, x)
                })
            })
        })
        .collect();
    let start = Instant::now();
    let preemptions = |rt: &Runtime| rt.stats().iter().map(|s| s.preemptions).sum::<u64>();
    while start.elapsed() < Duration::from_secs(2)
        || (preemptions(&rt) < least_preemptions && start.elapsed() < DEADLINE)
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Relaxed);
    let mut sum = 0;
    for (t, h) in handles.into_iter().enumerate() {
        let (mine, x) = h.join().expect("a storm task");
        let mut want = t as u64;
        for _ in 0..mine {
            want = want.rotate_left(5) ^ 0x9e37_79b9;
        }
        assert_eq!(x, want, "task {t}'s chain after {mine} rounds");
        sum += mine;
    }
    assert_eq!(total.load(Relaxed), sum, "the shared count");
    let stats = rt.stats();
    rt.shutdown();
    let started: u64 = stats.iter().map(|s| s.started).sum();
    let completed: u64 = stats.iter().map(|s| s.completed).sum();
    let preempted: u64 = stats.iter().map(|s| s.preemptions).sum();
    assert_eq!((started, completed), (TASKS, TASKS), "{stats:?}");
    assert!(
        preempted >= least_preemptions,
        "a storm with few preemptions: {stats:?}"
    );
    // A safepoint after the runtime is gone does nothing (nothing left requested or stuck).
    assert!(!safepoint());
}
