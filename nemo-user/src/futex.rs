//! The futex as the crate uses it: `uintr_sys::futex` (every `futex(2)` call of nemo, shared
//! with the preload shim) with the waits taking a [`Deadline`], whose clock picks the futex's.

use std::sync::atomic::AtomicU32;

pub(crate) use uintr_sys::futex::{
    MATCH_ANY, WaitResult, cmp_requeue, wait_op, wait_with_op, wake,
};

use crate::wait::Deadline;

/// `FUTEX_WAIT_BITSET`: sleeps while `*word == expected`, until woken by a wake whose bitset
/// intersects `bitset`, or until `deadline` (absolute, on its own clock).
#[inline]
pub(crate) fn wait(
    word: &AtomicU32,
    expected: u32,
    bitset: u32,
    deadline: Option<&Deadline>,
    shared: bool,
) -> WaitResult {
    let clock = deadline.map_or(libc::CLOCK_MONOTONIC, |d| d.clock().into());
    let at = deadline.map(Deadline::at);
    uintr_sys::futex::wait(word, expected, bitset, clock, at.as_ref(), shared)
}
