//! The compute kernels that `overhead` slows down with ticks (xUI Fig. 4): recursive fib, a
//! small linpack (LU factorisation with partial pivoting, daxpy updates), and memops (memcpy and
//! memset over a buffer larger than L1).
//!
//! Each takes a *safepoint*, called where a compiler that preempts by polling would put its
//! check: at every call (fib), at the back-edge of the column loop around each daxpy (linpack),
//! after every 4 KiB chunk (memops). With an empty closure it compiles to nothing, which is the
//! uninstrumented kernel.

use std::hint::black_box;

/// One of the three kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// `fib(20)`, recursive: a call (and a safepoint) per node.
    Fib,
    /// LU factorisation with partial pivoting of a 64×64 matrix.
    Linpack,
    /// memcpy then memset over a 256 KiB buffer, 4 KiB at a time.
    Memops,
}

const FIB_N: u32 = 20;
const LINPACK_N: usize = 64;
const MEMOPS_BYTES: usize = 256 * 1024;
const MEMOPS_CHUNK: usize = 4096;

impl Kernel {
    /// All three, in table order.
    pub const ALL: [Kernel; 3] = [Kernel::Fib, Kernel::Linpack, Kernel::Memops];

    /// The name in regimes.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Fib => "fib",
            Kernel::Linpack => "linpack",
            Kernel::Memops => "memops",
        }
    }

    /// The kernel named `name`.
    pub fn parse(name: &str) -> Option<Kernel> {
        Kernel::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// A kernel with its data, run `units` times per [`Workload::run`].
#[derive(Debug, Clone)]
pub struct Workload {
    kernel: Kernel,
    units: u64,
    data: Data,
}

#[derive(Debug, Clone)]
enum Data {
    Fib,
    Linpack {
        pristine: Vec<f64>,
        a: Vec<f64>,
        pivots: Vec<usize>,
    },
    Memops {
        src: Vec<u8>,
        dst: Vec<u8>,
    },
}

impl Workload {
    /// The kernel's data, one unit of work per run.
    pub fn new(kernel: Kernel) -> Workload {
        let data = match kernel {
            Kernel::Fib => Data::Fib,
            Kernel::Linpack => {
                // A fixed pseudo-random matrix (an LCG), entries in [-0.5, 0.5).
                let mut x = 0x2545_f491_4f6c_dd1du64;
                let pristine = (0..LINPACK_N * LINPACK_N)
                    .map(|_| {
                        x = x
                            .wrapping_mul(6_364_136_223_846_793_005)
                            .wrapping_add(1_442_695_040_888_963_407);
                        (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                    })
                    .collect::<Vec<_>>();
                Data::Linpack {
                    a: pristine.clone(),
                    pristine,
                    pivots: vec![0; LINPACK_N],
                }
            }
            Kernel::Memops => Data::Memops {
                src: (0..MEMOPS_BYTES).map(|i| (i * 31 % 251) as u8).collect(),
                dst: vec![0; MEMOPS_BYTES],
            },
        };
        Workload {
            kernel,
            units: 1,
            data,
        }
    }

    /// The kernel.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Units of work per run.
    pub fn units(&self) -> u64 {
        self.units
    }

    /// Sets the units of work per run (at least one).
    pub fn set_units(&mut self, units: u64) {
        self.units = units.max(1);
    }

    /// Runs the kernel `units` times, calling `safepoint` at its back-edges; returns a checksum
    /// (so the work cannot be optimised away).
    #[inline(never)]
    pub fn run<S: FnMut()>(&mut self, safepoint: &mut S) -> u64 {
        let mut sum = 0u64;
        for _ in 0..self.units {
            sum = sum.wrapping_add(match &mut self.data {
                Data::Fib => fib(black_box(FIB_N), safepoint),
                Data::Linpack {
                    pristine,
                    a,
                    pivots,
                } => {
                    a.copy_from_slice(pristine);
                    lu(a, LINPACK_N, pivots, safepoint);
                    a[a.len() - 1].to_bits() ^ pivots[LINPACK_N / 2] as u64
                }
                Data::Memops { src, dst } => memops(src, dst, safepoint),
            });
        }
        black_box(sum)
    }
}

fn fib<S: FnMut()>(n: u32, safepoint: &mut S) -> u64 {
    safepoint();
    if n < 2 {
        n as u64
    } else {
        fib(n - 1, safepoint) + fib(n - 2, safepoint)
    }
}

/// LINPACK's `dgefa`: column-major `a` (n × n) overwritten by its LU factors, row pivots in
/// `pivots`.
fn lu<S: FnMut()>(a: &mut [f64], n: usize, pivots: &mut [usize], safepoint: &mut S) {
    for k in 0..n {
        let col = k * n;
        let p = (k..n)
            .max_by(|&i, &j| a[col + i].abs().total_cmp(&a[col + j].abs()))
            .unwrap_or(k);
        pivots[k] = p;
        if a[col + p] == 0.0 {
            continue;
        }
        a.swap(col + p, col + k);
        let t = -1.0 / a[col + k];
        for v in &mut a[col + k + 1..col + n] {
            *v *= t;
        }
        let (left, right) = a.split_at_mut((k + 1) * n);
        let multipliers = &left[col + k + 1..col + n];
        for j in 0..n - k - 1 {
            let cj = &mut right[j * n..(j + 1) * n];
            let t = cj[p];
            cj.swap(p, k);
            // daxpy: column j += t · (column k below the diagonal)
            for (y, x) in cj[k + 1..].iter_mut().zip(multipliers) {
                *y += t * x;
            }
            safepoint();
        }
    }
}

fn memops<S: FnMut()>(src: &[u8], dst: &mut [u8], safepoint: &mut S) -> u64 {
    for (i, (d, s)) in dst
        .chunks_mut(MEMOPS_CHUNK)
        .zip(src.chunks(MEMOPS_CHUNK))
        .enumerate()
    {
        d.copy_from_slice(black_box(s));
        safepoint();
        d.fill(i as u8);
        safepoint();
    }
    black_box(&*dst);
    dst[0] as u64 ^ dst[dst.len() - 1] as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fib_is_fib_and_calls_the_safepoint_at_every_call() {
        let mut calls = 0u64;
        assert_eq!(fib(10, &mut || calls += 1), 55);
        // fib(n) makes 2·fib(n+1) − 1 calls.
        assert_eq!(calls, 2 * 89 - 1);
    }

    #[test]
    fn lu_factors_reproduce_the_matrix() {
        // A 3×3 system solved with the factors: A x = b for x = (1, 2, 3).
        let n = 3;
        let m = [[2.0, 1.0, 1.0], [4.0, -6.0, 0.0], [-2.0, 7.0, 2.0]]; // rows
        let mut a: Vec<f64> = (0..n * n).map(|i| m[i % n][i / n]).collect(); // column-major
        let mut piv = vec![0; n];
        let mut checks = 0;
        lu(&mut a, n, &mut piv, &mut || checks += 1);
        assert_eq!(checks, 2 + 1, "one safepoint per column update");
        let x = [1.0, 2.0, 3.0];
        let mut b: Vec<f64> = (0..n)
            .map(|r| (0..n).map(|c| m[r][c] * x[c]).sum())
            .collect();
        // dgesl: forward elimination with the pivots, then back substitution.
        for k in 0..n - 1 {
            b.swap(piv[k], k);
            for i in k + 1..n {
                b[i] += b[k] * a[k * n + i];
            }
        }
        for k in (0..n).rev() {
            b[k] /= a[k * n + k];
            for i in 0..k {
                b[i] -= b[k] * a[k * n + i];
            }
        }
        for (got, want) in b.iter().zip(x) {
            assert!((got - want).abs() < 1e-12, "{b:?}");
        }
    }

    #[test]
    fn memops_copies_then_fills_each_chunk() {
        let src: Vec<u8> = (0..3 * MEMOPS_CHUNK).map(|i| i as u8).collect();
        let mut dst = vec![0u8; src.len()];
        let mut checks = 0;
        memops(&src, &mut dst, &mut || checks += 1);
        assert_eq!(checks, 6);
        assert!(dst[..MEMOPS_CHUNK].iter().all(|&b| b == 0));
        assert!(dst[2 * MEMOPS_CHUNK..].iter().all(|&b| b == 2));
    }

    #[test]
    fn workloads_are_deterministic_and_scale_with_units() {
        for k in Kernel::ALL {
            assert_eq!(Kernel::parse(k.name()), Some(k));
            let mut w = Workload::new(k);
            let one = w.run(&mut || {});
            assert_eq!(w.run(&mut || {}), one, "{k:?}");
            let mut checks1 = 0u64;
            w.run(&mut || checks1 += 1);
            w.set_units(3);
            let mut checks3 = 0u64;
            w.run(&mut || checks3 += 1);
            assert_eq!(checks3, 3 * checks1, "{k:?}");
            assert!(checks1 > 0);
        }
        assert_eq!(Kernel::parse("nope"), None);
    }
}
