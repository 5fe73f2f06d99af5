//! The futex: every `futex(2)` call of nemo, as thin wrappers (`nemo-user`'s condvar protocol,
//! park step and timer core sleep; the preload shim's parameters for its own blocking call). A
//! system call wrapper with no policy of its own, so it lives here, below `nemo-user`, where the
//! shim and the benchmark reach it without going through `nemo-user`'s API.
//!
//! Every wait uses `FUTEX_WAIT_BITSET` because it is the only futex wait that takes an *absolute*
//! deadline and lets the caller pick its clock (`FUTEX_CLOCK_REALTIME` or the default
//! `CLOCK_MONOTONIC`): that is exactly what `pthread_cond_timedwait`/`clockwait` promise. The
//! `shared` flag selects process-shared futexes (no `FUTEX_PRIVATE_FLAG`), keyed by the backing
//! page instead of the address, so they work across `fork` in `MAP_SHARED` memory.

use std::sync::atomic::AtomicU32;

/// Bitset that matches every waiter (`FUTEX_BITSET_MATCH_ANY`).
pub const MATCH_ANY: u32 = u32::MAX;

/// Why a [`wait`] returned: every return of `FUTEX_WAIT_BITSET` is one of these (an errno the
/// arguments [`wait`] builds cannot cause is reported as `Woken`, which callers re-check).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitResult {
    /// Woken by a `FUTEX_WAKE`/requeue (or a spurious kernel wakeup).
    Woken,
    /// The word no longer held the expected value (`EAGAIN`): something changed, re-check.
    Mismatch,
    /// The absolute deadline passed (`ETIMEDOUT`).
    TimedOut,
    /// A signal handler ran (`EINTR`).
    Interrupted,
}

/// The `futex(2)` system call itself, the one place the crate makes it. `timeout` is the
/// timeout pointer, or, for `FUTEX_CMP_REQUEUE`, the requeue limit `val2` the kernel reads in
/// its place.
///
/// # Safety
/// `uaddr` (and `uaddr2` where `futex_op` uses it) point to live, 4-byte aligned `u32`s;
/// `timeout` is null, points to a `timespec` that outlives the call, or is the value the
/// operation reads in its place. The kernel only reads the timeout.
#[inline]
unsafe fn futex(
    uaddr: *const u32,
    futex_op: i32,
    val: u32,
    timeout: *const libc::timespec,
    uaddr2: *const u32,
    val3: u32,
) -> libc::c_long {
    // SAFETY: per the caller.
    unsafe { libc::syscall(libc::SYS_futex, uaddr, futex_op, val, timeout, uaddr2, val3) }
}

fn op(base: i32, shared: bool) -> i32 {
    if shared {
        base
    } else {
        base | libc::FUTEX_PRIVATE_FLAG
    }
}

/// The `futex_op` of a `FUTEX_WAIT_BITSET` on a private (`shared == false`) or process-shared
/// word, whose absolute timeout, if any, is on `clock`: `CLOCK_REALTIME`, or `CLOCK_MONOTONIC`
/// for any other clock (the only two a futex wait can use).
#[inline]
pub fn wait_op(shared: bool, clock: libc::clockid_t) -> i32 {
    let base = op(libc::FUTEX_WAIT_BITSET, shared);
    if clock == libc::CLOCK_REALTIME {
        base | libc::FUTEX_CLOCK_REALTIME
    } else {
        base
    }
}

/// `FUTEX_WAIT_BITSET` with a ready `futex_op` (see [`wait_op`]): sleeps while
/// `*word == expected`, until woken by a wake whose bitset intersects `bitset`, or until `at`
/// (absolute). `Err` carries the errno (`EAGAIN`: the word differed; `ETIMEDOUT`; `EINTR`).
///
/// See [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html).
///
/// # Safety
/// `word` points to a 4-byte aligned `u32` that stays mapped for the duration of the call.
#[inline]
pub unsafe fn wait_with_op(
    word: *const u32,
    futex_op: i32,
    expected: u32,
    at: Option<&libc::timespec>,
    bitset: u32,
) -> Result<(), i32> {
    let ts_ptr = at.map_or(std::ptr::null(), |t| t as *const libc::timespec);
    // SAFETY: `word` is live and aligned per the caller; `ts_ptr` is null or points to a
    // timespec that outlives the call; the kernel only reads both.
    let r = unsafe { futex(word, futex_op, expected, ts_ptr, std::ptr::null(), bitset) };
    if r == 0 {
        return Ok(());
    }
    Err(std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL))
}

/// `FUTEX_WAIT_BITSET`: sleeps while `*word == expected`, until woken by a wake whose bitset
/// intersects `bitset`, or until `at` (absolute, on `clock`: see [`wait_op`]).
#[inline]
pub fn wait(
    word: &AtomicU32,
    expected: u32,
    bitset: u32,
    clock: libc::clockid_t,
    at: Option<&libc::timespec>,
    shared: bool,
) -> WaitResult {
    // SAFETY: `word` is a live, aligned u32 for the duration of the call.
    let r = unsafe { wait_with_op(word.as_ptr(), wait_op(shared, clock), expected, at, bitset) };
    match r {
        Ok(()) => WaitResult::Woken,
        Err(libc::EAGAIN) => WaitResult::Mismatch,
        Err(libc::ETIMEDOUT) => WaitResult::TimedOut,
        Err(libc::EINTR) => WaitResult::Interrupted,
        // EINVAL/EFAULT cannot happen with the arguments built here; treat anything else as a
        // spurious return, which every caller already handles by re-checking its condition.
        Err(_) => WaitResult::Woken,
    }
}

/// `FUTEX_WAKE_BITSET`: wakes up to `n` waiters on `word` whose bitset intersects `bitset`.
/// Returns how many were woken.
#[inline]
pub fn wake(word: &AtomicU32, n: u32, bitset: u32, shared: bool) -> u32 {
    let n = n.min(i32::MAX as u32);
    let wake = op(libc::FUTEX_WAKE_BITSET, shared);
    // SAFETY: `word` is a live, aligned u32; FUTEX_WAKE_BITSET does not dereference the unused
    // timeout/uaddr2 arguments.
    let r = unsafe {
        futex(
            word.as_ptr(),
            wake,
            n,
            std::ptr::null(),
            std::ptr::null(),
            bitset,
        )
    };
    if r > 0 { r as u32 } else { 0 }
}

/// `FUTEX_CMP_REQUEUE`: if `*from == expected`, wakes up to `nwake` waiters of `from` and moves
/// every other waiter of `from` onto `to`'s queue (they keep sleeping, now on `to`). Returns the
/// number woken plus requeued, or `None` if `*from` no longer held `expected`.
#[inline]
pub fn cmp_requeue(
    from: &AtomicU32,
    to: &AtomicU32,
    nwake: u32,
    expected: u32,
    shared: bool,
) -> Option<u32> {
    let nwake = nwake.min(i32::MAX as u32);
    let requeue = op(libc::FUTEX_CMP_REQUEUE, shared);
    // The requeue limit: every waiter not woken moves to `to`.
    let limit = std::ptr::without_provenance(i32::MAX as usize);
    // SAFETY: both words are live, aligned u32s of the same object; for FUTEX_CMP_REQUEUE the
    // timeout slot carries the requeue limit, as futex(2) documents.
    let r = unsafe { futex(from.as_ptr(), requeue, nwake, limit, to.as_ptr(), expected) };
    if r >= 0 { Some(r as u32) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_returns_at_once_on_a_mismatch_and_times_out_at_its_deadline() {
        let word = AtomicU32::new(1);
        let mono = libc::CLOCK_MONOTONIC;
        assert_eq!(
            wait(&word, 0, MATCH_ANY, mono, None, false),
            WaitResult::Mismatch
        );
        let past = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1,
        };
        for (clock, shared) in [(mono, false), (libc::CLOCK_REALTIME, true)] {
            assert_eq!(
                wait(&word, 1, MATCH_ANY, clock, Some(&past), shared),
                WaitResult::TimedOut
            );
        }
        assert_eq!(wake(&word, 1, MATCH_ANY, false), 0, "no waiter to wake");
        let other = AtomicU32::new(0);
        assert_eq!(
            cmp_requeue(&word, &other, 1, 2, false),
            None,
            "*from != expected"
        );
        assert_eq!(cmp_requeue(&word, &other, 1, 1, false), Some(0));
    }

    #[test]
    fn the_wait_op_names_its_clock_and_sharing() {
        let private = wait_op(false, libc::CLOCK_MONOTONIC);
        assert_eq!(private, libc::FUTEX_WAIT_BITSET | libc::FUTEX_PRIVATE_FLAG);
        let shared_rt = wait_op(true, libc::CLOCK_REALTIME);
        assert_eq!(
            shared_rt,
            libc::FUTEX_WAIT_BITSET | libc::FUTEX_CLOCK_REALTIME
        );
    }
}
