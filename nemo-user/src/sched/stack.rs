//! A task's stack: an anonymous mapping with a guard page below it, as corosensei's
//! `DefaultStack` makes, without its Valgrind registration.
//!
//! `DefaultStack` announces every stack to Valgrind through a client request, the magic
//! sequence `rol rdi, 3; rol rdi, 13; rol rdi, 61; rol rdi, 51; xchg rbx, rbx`, a no-op on
//! every x86 CPU. gem5's x86 decoder (v24.0) executes `xchg rbx, rbx` as three XORs, which
//! zeroes RBX, and the caller then stores through it: every `sched` task would crash a
//! simulated run at its first spawn. This stack is the same mapping without the request.
//!
//! Invariants: `base` is one past the top of a readable, writable region of at least the size
//! asked for, `limit` its bottom, and the page below `limit` is mapped `PROT_NONE` (a stack
//! overflow faults there instead of running into other memory). The mapping lives exactly as
//! long as the value.

use std::io;
use std::num::NonZeroUsize;

use corosensei::stack::{MIN_STACK_SIZE, Stack, StackPointer};

/// The stack of one task.
pub(crate) struct TaskStack {
    /// Start of the mapping (the guard page).
    mapping: *mut libc::c_void,
    len: usize,
    /// The guard page's size (the system's page size).
    guard: usize,
}

// SAFETY: the mapping is plain memory owned by the value; nothing in it is tied to a thread.
unsafe impl Send for TaskStack {}

impl TaskStack {
    /// Maps `size` bytes of stack (at least corosensei's minimum, rounded up to pages) and a
    /// guard page below them.
    pub(crate) fn new(size: usize) -> io::Result<TaskStack> {
        // SAFETY: sysconf has no preconditions.
        let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) })
            .ok()
            .filter(|p| p.is_power_of_two())
            .unwrap_or(4096);
        let usable = size
            .max(MIN_STACK_SIZE)
            .checked_add(page - 1)
            .map(|s| s & !(page - 1))
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let len = usable
            .checked_add(page)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing.
        let mapping = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if mapping == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let stack = TaskStack {
            mapping,
            len,
            guard: page,
        };
        // SAFETY: `[mapping + page, mapping + len)` lies inside the mapping just made.
        let rw = unsafe {
            libc::mprotect(
                mapping.cast::<u8>().add(page).cast(),
                usable,
                libc::PROT_READ | libc::PROT_WRITE,
            )
        };
        if rw != 0 {
            // `stack` unmaps on drop.
            return Err(io::Error::last_os_error());
        }
        Ok(stack)
    }

    fn start(&self) -> usize {
        self.mapping as usize
    }
}

// SAFETY: `base` and `limit` bound a writable region (module invariants) that stays mapped
// for as long as the value, which the coroutine owns while it runs.
unsafe impl Stack for TaskStack {
    fn base(&self) -> StackPointer {
        NonZeroUsize::new(self.start() + self.len).expect("a mapping does not end at 0")
    }

    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.start() + self.guard).expect("a mapping does not start at 0")
    }
}

impl Drop for TaskStack {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.mapping, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stack_is_writable_from_limit_to_base_and_page_aligned() {
        let s = TaskStack::new(10_000).expect("mapping");
        let (base, limit) = (s.base().get(), s.limit().get());
        assert!(base - limit >= 10_000);
        assert_eq!(base % 4096, 0);
        assert_eq!(limit % 4096, 0);
        // SAFETY: inside the writable region per the invariants.
        unsafe {
            std::ptr::write_volatile((limit) as *mut u8, 1);
            std::ptr::write_volatile((base - 1) as *mut u8, 2);
            assert_eq!(std::ptr::read_volatile((base - 1) as *const u8), 2);
        }
    }

    #[test]
    fn tiny_requests_get_the_minimum() {
        let s = TaskStack::new(0).expect("mapping");
        assert!(s.base().get() - s.limit().get() >= MIN_STACK_SIZE);
    }
}
