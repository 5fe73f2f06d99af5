//! `futex`: raw `FUTEX_WAIT` / `FUTEX_WAKE` on a private word — the kernel floor for waking a
//! parked waiter, with nothing on top (no waiter tracking: every notify makes the syscall).

use std::sync::atomic::{AtomicU32, Ordering};

use crossbeam_utils::CachePadded;

use super::{BlockingEvent, Driver, Instance, Setup, Skipped};

/// Raw futex wait/wake.
pub struct Futex;

impl Driver for Futex {
    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(FutexEvent {
            word: CachePadded::new(AtomicU32::new(0)),
        })))
    }
}

/// The event count, 32 bits wide because that is what a futex word is.
struct FutexEvent {
    word: CachePadded<AtomicU32>,
}

impl FutexEvent {
    fn wake(&self, n: i32) {
        // SAFETY: FUTEX_WAKE only reads the address to find waiters; the word is a live,
        // aligned u32 for the duration of the call.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                self.word.as_ptr(),
                libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                n,
            );
        }
    }
}

impl BlockingEvent for FutexEvent {
    fn wait(&self, seen: u64) -> u64 {
        let seen = seen as u32;
        loop {
            let now = self.word.load(Ordering::Acquire);
            if now != seen {
                return u64::from(now);
            }
            // SAFETY: the word is a live, aligned u32; the kernel sleeps only while it still
            // holds `seen` (EAGAIN otherwise) and a null timeout waits indefinitely. EINTR and
            // spurious returns are handled by re-checking the predicate.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    self.word.as_ptr(),
                    libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
                    seen,
                    std::ptr::null::<libc::timespec>(),
                );
            }
        }
    }

    fn notify_one(&self) {
        self.word.fetch_add(1, Ordering::Release);
        self.wake(1);
    }

    fn notify_all(&self) {
        self.word.fetch_add(1, Ordering::Release);
        self.wake(i32::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    fn event() -> FutexEvent {
        FutexEvent {
            word: CachePadded::new(AtomicU32::new(0)),
        }
    }

    #[test]
    fn unicast_events_are_each_seen_once() {
        handshake_exact(&event(), 1, 2000);
    }

    #[test]
    fn broadcast_events_reach_every_waiter() {
        handshake_exact(&event(), 3, 500);
    }
}
