//! Preemption at any instruction: [`preemptible`] regions, the handler's decision to preempt,
//! and the stub the interrupted task "calls" to switch.
//!
//! The handler of a tick never switches stacks. When it finds the running task inside a
//! preemptible region, it rewrites the context it will return to (the signal's `ucontext_t` on
//! `signal`, the trampoline's [`Frame`](uintr_sys::trampoline::Frame) on `uintr`) so that the
//! task resumes in [`preemption_stub`] instead of at the interrupted instruction; the stub saves
//! every register, calls [`preempted`] — which suspends the task as [`safepoint()`] does — and
//! restores every register and returns to the interrupted instruction. The switch so happens
//! in ordinary context, after `rt_sigreturn` / `uiret`, with delivery enabled and no guard held:
//! it is as sound as a safepoint's, provided that the interrupted code could be left at that
//! instruction for another task of the worker — which is what a region promises.
//!
//! Invariants:
//! - `REGION` is non-null exactly while a task runs inside [`preemptible`] on this thread and
//!   may be preempted there; it points at the task's worker's state, which the task's `Arc`
//!   keeps alive. It is null while the scheduler runs, during every switch (`task::suspend`
//!   clears it before and restores it after), and from the moment a handler redirects the task
//!   until [`preempted`] has switched back to it, so a redirected task is never redirected again
//!   before it reached the stub and read `RESUME_AT`.
//! - A handler redirects only when `REGION` is non-null, the worker's preemption request is
//!   set, no [`Guard`] is held and no delivery is in progress on the thread (depth 0), the
//!   thread is not panicking, and the interrupted instruction is outside the C library, the
//!   dynamic loader and the unwinder (whose locks a region may not know it takes, see
//!   [`exclude_runtime_libraries`]). Everything it reads is an atomic in a `const`-initialised
//!   thread-local or a `OnceLock` already set: it is async-signal-safe.
//! - The stub touches no memory below its stack pointer, so a handler that interrupts it (or
//!   [`preempted`] once `REGION` is restored) may redirect it again: the nested stub saves and
//!   restores on top, and unwinds in order.
//! - The stub's frame holds no unwind information: [`preempted`] is `extern "C"` (a panic in it
//!   aborts), and a coroutine suspended in it must not be dropped (the scheduler runs every
//!   started task to completion).

use core::sync::atomic::Ordering::Relaxed;
use core::sync::atomic::{AtomicU32, AtomicU64, compiler_fence};
use std::sync::OnceLock;

use crate::interrupt::Guard;

use super::region;
use super::wakeup::WorkerState;

#[cfg(doc)]
use super::task::safepoint;

thread_local! {
    /// The instruction a redirected task resumes at, from the handler to [`preempted`].
    static RESUME_AT: AtomicU64 = const { AtomicU64::new(0) };
}

/// Runs `f` in a region where the calling task may be preempted at any instruction, and
/// returns its result.
///
/// On the `signal` and `uintr` backends a tick (or a kick) that arrives while the task runs `f`
/// switches to the worker's next task right there, without waiting for a [`safepoint()`]; the
/// task resumes later at the same instruction with all its general, flags and FP/SSE/AVX
/// registers as they were. On `poll`, and outside a task, it only runs `f`: ticks still switch at
/// safepoints.
///
/// # What `f` must not do
///
/// A task suspended at an arbitrary instruction keeps whatever it holds, and the next task of the
/// same worker runs on the same thread. So inside the region the code must not
/// - take a lock (a [`std::sync::Mutex`], an `RwLock`, a spin lock, stdout/stderr, a condvar
///   wait) or anything that waits for another task of the worker;
/// - allocate or free, with an allocator other than the C library's (see below);
/// - rely on thread-locals staying unchanged across an instruction (the worker's other tasks
///   share them).
///
/// Pure computation on memory the task owns — the loops of a numerical kernel, a parser over a
/// buffer — is what the region is for. [`yield_now`](super::yield_now),
/// [`safepoint()`] and [`park`](super::park) may be called inside it.
///
/// As a second line of defence, the handler never preempts while the interrupted instruction is
/// in the C library, the dynamic loader or the unwinder (so `malloc`'s and `pthread_mutex`'s
/// locks are not held by a preempted task), nor while a [`Guard`] is held, nor while the thread
/// is panicking; the request then waits for the next tick or safepoint. A lock written in Rust
/// (`std::sync::Mutex`, `parking_lot`) is not protected by this, nor is the C library of a
/// statically linked program (it is part of the program's own code there).
///
/// A preemption takes the FP/SSE/AVX save area (`xsave`'s size, a few KiB at most) and a few
/// hundred bytes more of the task's stack, below the interrupted code's frame.
///
/// ```
/// use std::time::Duration;
/// use nemo_user::BackendKind;
/// use nemo_user::sched::{self, Runtime};
///
/// let rt = Runtime::builder()
///     .workers(1)
///     .backend(BackendKind::Signal)
///     .quantum(Duration::from_micros(100))
///     .build()?;
/// let sums: Vec<_> = (0..2u64)
///     .map(|i| {
///         rt.spawn(move || {
///             // No safepoint in the loop: the ticks preempt it anyway.
///             sched::preemptible(|| (0..20_000_000u64).fold(i, |s, k| s.wrapping_add(k ^ s)))
///         })
///     })
///     .collect();
/// for s in sums {
///     s.join().unwrap();
/// }
/// rt.shutdown();
/// # Ok::<(), nemo_user::Error>(())
/// ```
pub fn preemptible<R>(f: impl FnOnce() -> R) -> R {
    let Some(worker) = super::task::current_worker_state() else {
        return f();
    };
    /// Restores the region the caller was in, also when `f` panics.
    struct Leave(*mut WorkerState);
    impl Drop for Leave {
        fn drop(&mut self) {
            compiler_fence(core::sync::atomic::Ordering::SeqCst);
            region::store(self.0);
        }
    }
    let outer = region::swap(worker.cast_mut());
    let _leave = Leave(outer);
    // The handler must see the store before any instruction of `f`, and `f`'s last instruction
    // before the restore (C's `atomic_signal_fence`).
    compiler_fence(core::sync::atomic::Ordering::SeqCst);
    f()
}

/// Called by the `signal` and `uintr` handlers after they delivered, with the instruction the
/// interrupted code resumes at: returns where it should resume instead (the preemption stub)
/// if the running task is to be preempted there. Async-signal-safe.
pub(crate) fn redirect(interrupted_rip: u64) -> Option<u64> {
    let worker = region::load();
    if worker.is_null() {
        return None;
    }
    // SAFETY: non-null only while a task of this worker runs in a region (module invariants);
    // the task's `Arc` keeps the state alive.
    let requested = unsafe { &*worker }.preempt_requested.load(Relaxed);
    if !requested
        || Guard::is_held()
        || std::thread::panicking()
        || in_runtime_libraries(interrupted_rip)
    {
        return None;
    }
    region::store(core::ptr::null_mut());
    RESUME_AT.with(|r| r.store(interrupted_rip, Relaxed));
    Some(preemption_stub as *const () as u64)
}

/// What the stub saved, at the address it passes to [`preempted`]: the general registers in
/// the order it pushed them (r15 lowest), RFLAGS, and the slot its final `ret` pops.
#[repr(C)]
struct Interrupted {
    gprs: [u64; 15],
    rflags: u64,
    /// Where the task resumes: the interrupted instruction.
    resume_at: u64,
}

/// Bytes below the interrupted RSP the stub leaves alone: the System V red zone.
const RED_ZONE: usize = 128;

/// Bytes of the FP/SSE/AVX save area: `xsave_area_size()` (at least 576) where the OS enabled
/// XSAVE, 0 for `fxsave64`'s 512 (simulators that report no XSAVE area). Set by [`prepare`]
/// before any worker starts.
static SAVE_AREA_BYTES: AtomicU32 = AtomicU32::new(0);

/// Sizes the save area and finds the runtime libraries' code; called once per runtime build.
pub(super) fn prepare() {
    let xsave = uintr_sys::trampoline::xsave_area_size();
    let bytes = if xsave == 0 { 0 } else { xsave.max(576) };
    SAVE_AREA_BYTES.store(u32::try_from(bytes).unwrap_or(u32::MAX), Relaxed);
    RUNTIME_LIBRARIES.get_or_init(exclude_runtime_libraries);
}

/// Where a redirected task resumes. Entered by `rt_sigreturn` / `uiret` with every register of
/// the interrupted code (RSP = its stack pointer, nothing pushed), as if that code had called
/// it; returns there with every register restored.
///
/// ```text
///   interrupted RSP = S ─►┌──────────────────────────────┐
///                         │ red zone, 128 bytes          │  live data of a leaf function
///                S - 128 ─┼──────────────────────────────┤
///                         │ resume_at (written by Rust)  │  `ret 128` pops it, then skips
///                S - 136 ─┼──────────────────────────────┤  the red zone: RSP = S again
///                         │ RFLAGS (pushfq)              │
///                         │ rax, rbx, … r15 (r15 lowest) │
///   rbx = &Interrupted ──►├──────────────────────────────┤
///                         ┊ alignment                    ┊
///                         │ XSAVE area (64-aligned) or   │  the interrupted FP/SSE/AVX
///                         │ FXSAVE area (16-aligned)     │  state; RSP here at the call
///                         ├──────────────────────────────┤
///                         │ preempted(), the switch      │
/// ```
#[unsafe(naked)]
unsafe extern "C" fn preemption_stub() {
    core::arch::naked_asm!(
        // `lea`, not `sub`: the flags are still the interrupted code's.
        "lea rsp, [rsp - {skip}]",
        "pushfq",
        "push rax",
        "push rbx",
        "push rcx",
        "push rdx",
        "push rsi",
        "push rdi",
        "push rbp",
        "push r8",
        "push r9",
        "push r10",
        "push r11",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        // rbx is callee-saved: it keeps &Interrupted across the call.
        "mov rbx, rsp",
        // Rust code may assume DF = 0; the interrupted DF is in the saved RFLAGS.
        "cld",
        "mov eax, dword ptr [rip + {bytes}]",
        "test eax, eax",
        "jz 2f",
        "sub rsp, rax",
        // xsave64 faults unless its area is 64-byte aligned.
        "and rsp, -64",
        // XRSTOR faults on a non-zero XCOMP_BV or reserved header bytes; XSAVE writes only
        // XSTATE_BV, so clear the 64-byte header at +512 first.
        "xor ecx, ecx",
        "mov qword ptr [rsp + 512], rcx",
        "mov qword ptr [rsp + 520], rcx",
        "mov qword ptr [rsp + 528], rcx",
        "mov qword ptr [rsp + 536], rcx",
        "mov qword ptr [rsp + 544], rcx",
        "mov qword ptr [rsp + 552], rcx",
        "mov qword ptr [rsp + 560], rcx",
        "mov qword ptr [rsp + 568], rcx",
        // Every component XCR0 enables, which is what CPUID sized the area for.
        "mov eax, -1",
        "mov edx, -1",
        "xsave64 [rsp]",
        "jmp 3f",
        "2:",
        "sub rsp, 512",
        "and rsp, -16",
        "fxsave64 [rsp]",
        "3:",
        // Other tasks run with the ABI's FP environment: MXCSR 0x1F80 (through the red zone
        // below RSP, which signal frames skip) and a reset x87.
        "mov dword ptr [rsp - 8], 0x1f80",
        "ldmxcsr dword ptr [rsp - 8]",
        "fninit",
        "mov rdi, rbx",
        // RSP is 16-byte aligned (64 with xsave) for the call.
        "call {preempted}",
        "mov eax, dword ptr [rip + {bytes}]",
        "test eax, eax",
        "jz 4f",
        "mov eax, -1",
        "mov edx, -1",
        "xrstor64 [rsp]",
        "jmp 5f",
        "4:",
        "fxrstor64 [rsp]",
        "5:",
        "mov rsp, rbx",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop r11",
        "pop r10",
        "pop r9",
        "pop r8",
        "pop rbp",
        "pop rdi",
        "pop rsi",
        "pop rdx",
        "pop rcx",
        "pop rbx",
        "pop rax",
        "popfq",
        // Pops resume_at, then RSP += 128: back at the interrupted instruction and RSP.
        "ret {red_zone}",
        skip = const RED_ZONE + 8,
        red_zone = const RED_ZONE,
        bytes = sym SAVE_AREA_BYTES,
        preempted = sym preempted,
    )
}

/// Called by the stub: sets where the stub returns to, then does what [`safepoint()`] does
/// when a preemption is requested.
extern "C" fn preempted(interrupted: &mut Interrupted) {
    interrupted.resume_at = RESUME_AT.with(|r| r.load(Relaxed));
    let worker = super::task::preempt_current();
    // The task runs again on its worker: back in its region (null only if the redirect found
    // no task, which the invariants rule out).
    region::resume_region(worker.cast_mut());
}

// ---------------------------------------------------------------------------------------------
// The runtime libraries' code, where a region's task is never preempted.

/// Executable ranges `[start, end)` of the C library, the dynamic loader and the unwinder.
static RUNTIME_LIBRARIES: OnceLock<Vec<(u64, u64)>> = OnceLock::new();

fn in_runtime_libraries(rip: u64) -> bool {
    RUNTIME_LIBRARIES
        .get()
        .is_some_and(|ranges| ranges.iter().any(|&(s, e)| (s..e).contains(&rip)))
}

/// The loaded objects whose code may hold a lock the region's code does not see: glibc (malloc,
/// stdio, pthread mutexes, `dl_iterate_phdr`), the dynamic loader (lazy binding, TLS
/// allocation) and `libgcc_s` (the unwinder's object lock).
fn exclude_runtime_libraries() -> Vec<(u64, u64)> {
    unsafe extern "C" fn each(
        info: *mut libc::dl_phdr_info,
        _size: libc::size_t,
        data: *mut libc::c_void,
    ) -> libc::c_int {
        // SAFETY: dl_iterate_phdr passes a valid info for the duration of the call, and `data`
        // is the `Vec` given below.
        let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Vec<(u64, u64)>>()) };
        if info.dlpi_name.is_null() {
            return 0;
        }
        // SAFETY: a NUL-terminated path owned by the loader.
        let name = unsafe { core::ffi::CStr::from_ptr(info.dlpi_name) }.to_bytes();
        let file = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
        let wanted = [
            &b"libc.so"[..],
            b"ld-linux",
            b"libgcc_s.so",
            b"libpthread.so",
        ];
        if !wanted.iter().any(|w| file.starts_with(w)) {
            return 0;
        }
        for i in 0..usize::from(info.dlpi_phnum) {
            // SAFETY: dlpi_phdr has dlpi_phnum entries.
            let ph = unsafe { &*info.dlpi_phdr.add(i) };
            if ph.p_type == libc::PT_LOAD && ph.p_flags & libc::PF_X != 0 {
                let start = info.dlpi_addr.wrapping_add(ph.p_vaddr);
                ranges.push((start, start.wrapping_add(ph.p_memsz)));
            }
        }
        0
    }
    let mut ranges: Vec<(u64, u64)> = Vec::new();
    // SAFETY: the callback matches dl_iterate_phdr's type and only reads what it is given;
    // `ranges` outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(each), (&raw mut ranges).cast()) };
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_c_library_is_excluded_and_this_crate_is_not() {
        prepare();
        let malloc = libc::malloc as *const () as u64;
        assert!(in_runtime_libraries(malloc), "malloc at {malloc:#x}");
        let here = the_c_library_is_excluded_and_this_crate_is_not as *const () as u64;
        assert!(!in_runtime_libraries(here));
        assert!(!in_runtime_libraries(preemption_stub as *const () as u64));
    }

    #[test]
    fn outside_a_task_nothing_is_redirected() {
        assert!(super::region::outside_regions());
        assert_eq!(preemptible(|| 7), 7);
        assert!(super::region::outside_regions());
        assert_eq!(redirect(0x1000), None);
    }
}
