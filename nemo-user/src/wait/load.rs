//! Whether the machine is busy: more runnable threads, in all processes, than online CPUs. A
//! spinner on such a machine holds a CPU that some other thread — quite possibly the one that
//! would notify it — is queued for, so while it lasts adaptive waiters spin only where spins
//! are catching their wakeups (`wait/adaptive.rs`).
//!
//! Invariants:
//! - The waiter's path reads one cached flag and a coarse clock (vDSO, no system call). At most
//!   one waiter per [`REFRESH_NS`] re-reads `/proc/loadavg` (open, read, close: a few
//!   microseconds), chosen by a compare-and-swap on the next refresh time.
//! - The count is smoothed (`avg ← (3 avg + now) / 4`, per refresh) so that one snapshot of a
//!   momentary burst does not flip the flag; it reacts within a few refreshes.
//! - Where `/proc/loadavg` cannot be read (a sandbox, a simulator), the machine counts as idle:
//!   the other admission rules still apply.
//!
//! The runnable count includes the reading thread itself and, on a machine of `n` CPUs, a
//! notifier and its waiter on CPUs of their own make 2 ≤ n: "busy" starts beyond `n` (see
//! `is_busy` for the exact threshold).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

/// How often the runnable count is re-read.
pub(crate) const REFRESH_NS: u64 = 10_000_000;

/// Fixed point for the smoothed count.
const ONE: u32 = 256;

static NEXT_REFRESH_NS: AtomicU64 = AtomicU64::new(0);
static AVG_RUNNABLE: AtomicU32 = AtomicU32::new(0);
static BUSY: AtomicBool = AtomicBool::new(false);

/// Whether the machine had more runnable threads than online CPUs at the last refresh,
/// refreshing first if that is due.
#[inline]
pub(crate) fn machine_busy() -> bool {
    let now = coarse_now_ns();
    let next = NEXT_REFRESH_NS.load(Relaxed);
    if now >= next
        && NEXT_REFRESH_NS
            .compare_exchange(next, now + REFRESH_NS, Relaxed, Relaxed)
            .is_ok()
    {
        refresh();
    }
    BUSY.load(Relaxed)
}

#[cold]
fn refresh() {
    let Some(runnable) = read_runnable() else {
        BUSY.store(false, Relaxed);
        return;
    };
    let cpus = online_cpus();
    let old = AVG_RUNNABLE.load(Relaxed);
    let avg = smooth(old, runnable);
    AVG_RUNNABLE.store(avg, Relaxed);
    BUSY.store(is_busy(avg, cpus), Relaxed);
}

/// One smoothing step; the first reading (`old == 0`) is taken as it is.
fn smooth(old: u32, runnable: u32) -> u32 {
    let now = runnable.saturating_mul(ONE);
    if old == 0 {
        now
    } else {
        ((u64::from(old) * 3 + u64::from(now)) / 4) as u32
    }
}

/// Busy from about `cpus + 0.75` runnable on average: a steady one more thread than CPUs, but
/// not a single reading of a burst on an otherwise fitting load.
fn is_busy(avg: u32, cpus: u32) -> bool {
    avg >= cpus.saturating_add(1).saturating_mul(ONE) - ONE / 4
}

/// The online CPUs, re-read every 256 refreshes (CPUs come and go rarely; glibc reads a file
/// for it).
fn online_cpus() -> u32 {
    static CPUS: AtomicU32 = AtomicU32::new(0);
    static READS: AtomicU32 = AtomicU32::new(0);
    let cached = CPUS.load(Relaxed);
    if cached != 0 && !READS.fetch_add(1, Relaxed).is_multiple_of(256) {
        return cached;
    }
    // SAFETY: sysconf has no preconditions.
    let n = u32::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) })
        .unwrap_or(1)
        .max(1);
    CPUS.store(n, Relaxed);
    n
}

/// `CLOCK_MONOTONIC_COARSE` in ns (a vDSO read; its resolution, a few ms, is plenty here).
fn coarse_now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec; the clock id is valid on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// The runnable threads of the machine now: the numerator of the fourth field of
/// `/proc/loadavg` (`0.52 0.58 0.59 3/467 12345`). No allocation (this may run inside a
/// `pthread_cond_wait` of a program that interposes `malloc`), and raw system calls rather than
/// glibc's `open`/`read`/`close`: those are cancellation points, and a thread cancelled inside
/// a wait must not start unwinding here, in Rust frames.
fn read_runnable() -> Option<u32> {
    let mut buf = [0u8; 128];
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat,
            libc::AT_FDCWD,
            c"/proc/loadavg".as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: `buf` is writable for its length.
    let n = unsafe { libc::syscall(libc::SYS_read, fd, buf.as_mut_ptr(), buf.len()) };
    // SAFETY: `fd` is ours and open.
    unsafe { libc::syscall(libc::SYS_close, fd) };
    let n = usize::try_from(n).ok()?;
    parse_runnable(&buf[..n])
}

fn parse_runnable(text: &[u8]) -> Option<u32> {
    let field = text
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty())
        .nth(3)?;
    let running = field.split(|&b| b == b'/').next()?;
    std::str::from_utf8(running).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_runnable_count() {
        assert_eq!(parse_runnable(b"0.52 0.58 0.59 3/467 12345\n"), Some(3));
        assert_eq!(parse_runnable(b"10.00 9.1 8.0 17/2000 1\n"), Some(17));
        assert_eq!(parse_runnable(b"0.52 0.58 0.59\n"), None);
        assert_eq!(parse_runnable(b"a b c x/1 2"), None);
        assert_eq!(parse_runnable(b""), None);
    }

    #[test]
    fn this_machine_has_a_readable_count() {
        // At least the reading thread itself is running.
        assert!(read_runnable().is_some_and(|n| n >= 1));
    }

    #[test]
    fn busy_means_more_runnable_than_cpus_after_smoothing() {
        // Idle two-CPU machine: a notifier and a waiter fit.
        let avg = smooth(0, 2);
        assert!(!is_busy(avg, 2));
        // One CPU hog per core beside them: busy at once (first reading) ...
        assert!(is_busy(smooth(0, 4), 2));
        assert!(is_busy(smooth(0, 3), 2));
        // ... and, from idle, within a few refreshes, not after one burst.
        let once = smooth(avg, 4);
        assert!(!is_busy(smooth(once, 2), 2));
        let mut a = avg;
        for _ in 0..3 {
            a = smooth(a, 4);
        }
        assert!(is_busy(a, 2));
        // Back to idle, it recovers the same way.
        for _ in 0..6 {
            a = smooth(a, 2);
        }
        assert!(!is_busy(a, 2));
    }

    #[test]
    fn the_flag_is_refreshed_at_most_once_per_period() {
        let _ = machine_busy();
        let next = NEXT_REFRESH_NS.load(Relaxed);
        assert!(next > coarse_now_ns().saturating_sub(REFRESH_NS));
        let _ = machine_busy();
        // Either nothing was due, or exactly one refresh moved the time on by a period.
        let after = NEXT_REFRESH_NS.load(Relaxed);
        assert!(after == next || after >= next + REFRESH_NS / 2);
    }
}
