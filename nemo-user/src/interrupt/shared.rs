//! [`Shared`]: what a receiver shares with its endpoints and senders — its [`Doorbell`], placed
//! on the heap or (process-shared) in a `MAP_SHARED` mapping, and its backend's receiver-side
//! half.

use core::ptr::NonNull;

use crate::error::{Error, Result};

use super::doorbell::Doorbell;
use super::seam::Backend;

/// Owner of a receiver's [`Doorbell`] (heap-allocated or in a shared mapping) and of its
/// backend's receiver-side half.
pub(crate) struct Shared {
    /// Dropped first: the doorbell goes before the backend's half (the `uintr` vector fds).
    placed: Placed,
    backend: Box<dyn Backend>,
}

// SAFETY: `Doorbell` holds atomics and integers that are immutable after construction; the
// pointer is owned (freed once, by `Placed`'s drop); the backend's half is `Send + Sync` by its
// trait bound.
unsafe impl Send for Shared {}
// SAFETY: as above; all shared mutation goes through atomics.
unsafe impl Sync for Shared {}

impl Shared {
    /// Places `doorbell`, then sets up the backend with `open` (so a failed placement leaves
    /// nothing registered with the backend), before anyone else can reach the doorbell.
    pub fn new(
        doorbell: Doorbell,
        process_shared: bool,
        open: impl FnOnce(&Doorbell) -> Result<Box<dyn Backend>>,
    ) -> Result<Shared> {
        let (ptr, mapped) = if process_shared {
            // SAFETY: an anonymous shared mapping with no address hint; the result is checked.
            let p = unsafe {
                libc::mmap(
                    core::ptr::null_mut(),
                    core::mem::size_of::<Doorbell>(),
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(Error::last_os_error());
            }
            let p = p.cast::<Doorbell>();
            // SAFETY: `p` is a fresh, page-aligned (so 64-byte aligned), writable mapping of at
            // least `size_of::<Doorbell>()` bytes.
            unsafe { p.write(doorbell) };
            (p, true)
        } else {
            (Box::into_raw(Box::new(doorbell)), false)
        };
        let placed = Placed {
            // SAFETY: both branches produced a non-null pointer.
            doorbell: unsafe { NonNull::new_unchecked(ptr) },
            mapped,
        };
        // SAFETY: just placed, valid until `placed` drops.
        let backend = open(unsafe { placed.doorbell.as_ref() })?;
        Ok(Shared { placed, backend })
    }

    #[inline(always)]
    pub fn doorbell(&self) -> &Doorbell {
        // SAFETY: valid and initialised from `new` until `drop`.
        unsafe { self.placed.doorbell.as_ref() }
    }

    /// The backend's receiver-side half.
    pub fn backend(&self) -> &dyn Backend {
        &*self.backend
    }
}

/// A placed doorbell, freed on drop: what [`Shared::new`] holds while the backend is set up.
struct Placed {
    doorbell: NonNull<Doorbell>,
    mapped: bool,
}

impl Drop for Placed {
    fn drop(&mut self) {
        // SAFETY: valid until the end of this drop.
        let pidfd = unsafe { self.doorbell.as_ref() }.thread_pidfd;
        if pidfd >= 0 {
            // SAFETY: opened in `Doorbell::new` (this process's descriptor, or a fork child's
            // inherited copy of it), closed once, here.
            unsafe { libc::close(pidfd) };
        }
        if self.mapped {
            // SAFETY: the mapping was made in `Shared::new` with this size, and `Doorbell`
            // needs no drop.
            unsafe {
                libc::munmap(
                    self.doorbell.as_ptr().cast(),
                    core::mem::size_of::<Doorbell>(),
                );
            }
        } else {
            // SAFETY: made by `Box::into_raw` in `Shared::new`, freed only here.
            drop(unsafe { Box::from_raw(self.doorbell.as_ptr()) });
        }
    }
}
