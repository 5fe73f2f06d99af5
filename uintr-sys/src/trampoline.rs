//! The handler entry: the code the CPU jumps to when a user interrupt arrives.
//!
//! The CPU saves almost nothing on delivery (UINTR-ABI.md §4): it pushes the old RSP, RFLAGS, RIP
//! and the vector, and jumps. Every general register, the flags it did not push and all
//! x87/SSE/AVX state still belong to the interrupted code. An ordinary function cannot be the
//! entry, and `extern "x86-interrupt"` is nightly-only, so the entry is a naked function generated
//! by [`uintr_entry!`](crate::uintr_entry): it saves every general register into a [`Frame`], calls
//! a plain `extern "C"` [`Handler`], restores the registers from the (possibly modified) frame and
//! returns with `add rsp, 8; uiret`.
//!
//! Two flavours:
//!
//! * **`uintr_entry!(pub ENTRY => handler)`** saves the 15 general registers only. The handler
//!   must not change x87/SSE/AVX state (registers *or* MXCSR), or the interrupted code sees the
//!   change. Compiled Rust may use SSE registers for plain copies, so use this flavour only for
//!   handlers that are known to leave them alone (small, audited, atomics-only handlers).
//! * **`uintr_entry!(pub ENTRY => handler, xsave)`** also saves the whole extended state enabled
//!   in XCR0 with `xsave64` into a 64-byte-aligned area on the stack, sized from CPUID leaf 0xD
//!   ([`xsave_area_size`]), gives the handler the ABI's default MXCSR and a reset x87 unit (as
//!   the kernel does for signal handlers), and restores everything with `xrstor64` before
//!   returning. Safe for any handler; costs an XSAVE/XRSTOR pair and
//!   [`xsave_area_size`] bytes of stack (2.4–2.6 KiB with AVX-512, 11 KiB with AMX). Where
//!   CPUID reports no XSAVE area (simulators), it saves the general registers only.
//!
//! # The stack frame
//!
//! ```text
//!                 higher addresses
//!   ┊ interrupted code's stack           ┊
//!   ├────────────────────────────────────┤ <- tmp = RSP of the interrupted code
//!   │ red zone, skipped (STACKADJUST,    │    (or, with `uintr_alt_stack`, the alternate
//!   │ 128 bytes by default)              │     stack's top instead of tmp - 128)
//!   ├────────────────────────────────────┤ <- tmp - 128
//!   │ 0 or 8 bytes to 16-byte alignment  │
//!   ├────────────────────────────────────┤ <- (tmp - 128) & !0xF
//!   │ rsp     = tmp                      │ F+24  ┐
//!   │ rflags  (with TF/RF as they were)  │ F+16  │ pushed by the CPU
//!   │ rip     (next instruction to run)  │ F+8   │ (popped by uiret)
//!   │ vector                             │ F+0   ┘ <- RSP at entry = F, 16-aligned
//!   │ rax                                │ F-8   ┐
//!   │ rbx                                │       │
//!   │ rcx, rdx, rsi, rdi, rbp,           │       │ pushed by the trampoline:
//!   │ r8, r9, r10, r11, r12, r13, r14    │       │ `Frame` = these 15 + the 4 above
//!   │ r15                                │ F-120 ┘ <- &mut Frame (first argument)
//!   ├────────────────────────────────────┤
//!   │ xsave flavour only: XSAVE area,    │    [xsave_area_size()] bytes, 64-byte aligned
//!   │ header at +512, zeroed before      │    (the gap above it is alignment padding)
//!   │ XSAVE (XSTATE_BV, XCOMP_BV, rsvd)  │
//!   ├────────────────────────────────────┤ <- 16-aligned (64 with xsave): `call handler`
//!   │ handler's own frames               │
//!   ┊                                    ┊
//!                 lower addresses
//! ```
//!
//! # Modifying the frame
//!
//! Everything in the [`Frame`] is restored from memory after the handler returns, so a handler
//! can change the interrupted context: set `rip` to redirect it, `rsp` to move it to another
//! stack, any general register, or the flags (only the bits user code may change take effect:
//! CF, PF, AF, ZF, SF, TF, DF, OF, AC, RF, NT, ID). Together this is a full context switch, which
//! is how a user-level scheduler preempts a task from a timer interrupt: save the old frame
//! somewhere, write the next task's registers into it, return. The xsave flavour restores the
//! extended state of the *interrupted* code; a scheduler that switches tasks must save and load
//! their vector state itself.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use uintr_sys::trampoline::Frame;
//!
//! static LAST: AtomicU64 = AtomicU64::new(u64::MAX);
//!
//! extern "C" fn on_interrupt(frame: &mut Frame, vector: u64) {
//!     debug_assert_eq!(frame.vector, vector);
//!     LAST.store(vector, Ordering::Relaxed);
//! }
//!
//! uintr_sys::uintr_entry!(
//!     /// Entry for `on_interrupt`, saving the extended state too.
//!     pub ON_INTERRUPT => on_interrupt, xsave
//! );
//!
//! // `ON_INTERRUPT` is what `syscalls::register_handler` (hardware) or
//! // `emulation::deliver` (software) take:
//! let _entry: unsafe extern "C" fn() = ON_INTERRUPT;
//! ```

use core::sync::atomic::{AtomicU32, Ordering};

/// What the handler sees and may change: the interrupted thread's general registers and the
/// state the CPU pushed. `#[repr(C)]`, fields in ascending address order (see the module's
/// diagram): `&mut Frame` points at `r15`, the last register the trampoline pushed, and `vector`
/// is the word the entry's RSP pointed at.
///
/// Every field is written back to the interrupted context when the handler returns.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)] // the register fields are named after the registers
pub struct Frame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// The user-interrupt vector (0..64), pushed by the CPU. Changing it has no effect.
    pub vector: u64,
    /// Where the interrupted code resumes (`uiret` pops it).
    pub rip: u64,
    /// The interrupted code's RFLAGS (`uiret` pops it).
    pub rflags: u64,
    /// The interrupted code's RSP (`uiret` pops it).
    pub rsp: u64,
}

/// Size of a [`Frame`] in bytes.
pub const FRAME_SIZE: usize = core::mem::size_of::<Frame>();

/// Offset of [`Frame::vector`]: the part of the frame the CPU pushed starts here.
pub const FRAME_CPU_PART: usize = core::mem::offset_of!(Frame, vector);

const _: () = assert!(FRAME_SIZE == 19 * 8 && FRAME_CPU_PART == 15 * 8);

/// A user-interrupt handler: called by an entry made with [`uintr_entry!`](crate::uintr_entry)
/// with the interrupted context and the vector.
///
/// It runs on the interrupted thread, at an arbitrary instruction of it, with user interrupts
/// disabled (UIF = 0) until it returns, so it must be async-signal-safe in spirit: no locks the
/// interrupted code may hold, no allocation. A panic that reaches the `extern "C"` boundary
/// aborts the process.
pub type Handler = extern "C" fn(&mut Frame, u64);

/// Bytes needed by `xsave64` for every state component enabled in XCR0:
/// `CPUID.(EAX=0xD,ECX=0):EBX`. 0 when the CPU or OS does not enable XSAVE
/// (`CPUID.1:ECX.OSXSAVE[27]` clear). Every CPU with user interrupts has XSAVE; where
/// `CPUID.(0xD,0)` reports no area (simulators), an xsave entry saves the general registers only.
///
/// The value is cached in the variable the xsave entries read; calling this once before the
/// first interrupt spares the first entry a CPUID (which traps to the hypervisor in a VM).
pub fn xsave_area_size() -> usize {
    let cached = __XSAVE_AREA_SIZE.load(Ordering::Relaxed);
    if cached != 0 {
        return cached as usize;
    }
    let size = xsave_area_size_uncached();
    __XSAVE_AREA_SIZE.store(size, Ordering::Relaxed);
    size as usize
}

#[cfg(target_arch = "x86_64")]
fn xsave_area_size_uncached() -> u32 {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 0xD is read only when the maximum basic leaf
    // covers it and the OS has enabled XSAVE.
    let max = __cpuid(0).eax;
    let osxsave = __cpuid(1).ecx & (1 << 27) != 0;
    if max < 0xD || !osxsave {
        return 0;
    }
    __cpuid_count(0xD, 0).ebx
}

#[cfg(not(target_arch = "x86_64"))]
fn xsave_area_size_uncached() -> u32 {
    0
}

/// The cached [`xsave_area_size`], read by the xsave entries; 0 until first computed (an entry
/// that finds 0 runs CPUID itself and stores the result, so every writer stores the same value).
#[doc(hidden)]
pub static __XSAVE_AREA_SIZE: AtomicU32 = AtomicU32::new(0);

/// Defines a user-interrupt entry (a naked `unsafe extern "C" fn()`) that calls a [`Handler`].
///
/// ```
/// # use uintr_sys::trampoline::Frame;
/// extern "C" fn count(_: &mut Frame, _vector: u64) {}
/// extern "C" fn compute(_: &mut Frame, _vector: u64) { /* may use floating point */ }
///
/// uintr_sys::uintr_entry!(pub COUNT_ENTRY => count);            // general registers only
/// uintr_sys::uintr_entry!(pub COMPUTE_ENTRY => compute, xsave); // + all XCR0 state
/// ```
///
/// The handler's signature is checked: anything but `extern "C" fn(&mut Frame, u64)` is a type
/// error. The generated function has the visibility and attributes given before its name.
///
/// # Safety
///
/// The generated function must never be called: it is entered only by the CPU's user-interrupt
/// delivery (after `syscalls::register_handler`) or by
/// [`emulation::deliver`](crate::emulation::deliver), which build the frame it expects.
#[macro_export]
macro_rules! uintr_entry {
    ($(#[$meta:meta])* $vis:vis $name:ident => $handler:path $(,)?) => {
        $(#[$meta])*
        #[doc = concat!(
            "\n\nUser-interrupt entry (general registers only) calling `",
            stringify!($handler),
            "`. Never call it: only the CPU or `uintr_sys::emulation` enter it."
        )]
        #[allow(non_snake_case)]
        #[unsafe(naked)]
        $vis unsafe extern "C" fn $name() {
            ::core::arch::naked_asm!(
                $crate::__uintr_save_gprs!(),
                // Rust code may assume DF = 0; the interrupted code's DF is in the pushed RFLAGS.
                "cld",
                // rbx survives the call (callee-saved) and keeps &mut Frame for the restore.
                "mov rbx, rsp",
                "mov rdi, rsp",
                "mov rsi, qword ptr [rsp + {vector}]",
                // RSP is F - 120 ≡ 8 (mod 16) here; the SysV ABI wants 16 at the call.
                "and rsp, -16",
                "call {handler}",
                "mov rsp, rbx",
                $crate::__uintr_restore_gprs_and_return!(),
                handler = sym $handler,
                vector = const $crate::trampoline::FRAME_CPU_PART,
            )
        }
        const _: $crate::trampoline::Handler = $handler;
    };
    ($(#[$meta:meta])* $vis:vis $name:ident => $handler:path, xsave $(,)?) => {
        $(#[$meta])*
        #[doc = concat!(
            "\n\nUser-interrupt entry (general registers and XSAVE state) calling `",
            stringify!($handler),
            "`. Never call it: only the CPU or `uintr_sys::emulation` enter it."
        )]
        #[allow(non_snake_case)]
        #[unsafe(naked)]
        $vis unsafe extern "C" fn $name() {
            ::core::arch::naked_asm!(
                $crate::__uintr_save_gprs!(),
                // Rust code may assume DF = 0; the interrupted code's DF is in the pushed RFLAGS.
                "cld",
                // rbx survives the call (callee-saved) and keeps &mut Frame for the restore.
                "mov rbx, rsp",
                // The XSAVE area size, computed once. All GPRs are saved, so CPUID may clobber
                // eax/ebx/ecx/edx; rbx is reloaded right after.
                "mov eax, dword ptr [rip + {size}]",
                "test eax, eax",
                "jnz 2f",
                "mov eax, 0xd",
                "xor ecx, ecx",
                "cpuid",
                "mov eax, ebx",
                "mov dword ptr [rip + {size}], eax",
                "mov rbx, rsp",
                "2:",
                // No XSAVE (CPUID leaf 0xD empty, as in simulators): general registers only.
                "test eax, eax",
                "jz 4f",
                // Never less than the legacy region and the header written below.
                "cmp eax, 576",
                "jae 3f",
                "mov eax, 576",
                "3:",
                "sub rsp, rax",
                // xsave64 faults unless its area is 64-byte aligned.
                "and rsp, -64",
                // The 64-byte header at +512 is stack garbage. XSAVE sets only the XSTATE_BV
                // bits of enabled components (the others keep their value) and leaves XCOMP_BV and
                // the reserved bytes alone; XRSTOR faults if any of those is non-zero.
                "xor eax, eax",
                "mov qword ptr [rsp + 512], rax",
                "mov qword ptr [rsp + 520], rax",
                "mov qword ptr [rsp + 528], rax",
                "mov qword ptr [rsp + 536], rax",
                "mov qword ptr [rsp + 544], rax",
                "mov qword ptr [rsp + 552], rax",
                "mov qword ptr [rsp + 560], rax",
                "mov qword ptr [rsp + 568], rax",
                // Requested-feature bitmap = XCR0 & EDX:EAX: all ones saves every enabled
                // component, exactly what CPUID.(0xD,0):EBX sized the area for.
                "mov eax, -1",
                "mov edx, -1",
                // The 64-bit form keeps the full x87 FPU instruction/data pointers.
                "xsave64 [rsp]",
                // Give the handler the ABI's default FP environment, as the kernel gives a
                // signal handler: MXCSR 0x1F80 (via the red zone below RSP) and a reset x87.
                "mov dword ptr [rsp - 8], 0x1f80",
                "ldmxcsr dword ptr [rsp - 8]",
                "fninit",
                "mov rdi, rbx",
                "mov rsi, qword ptr [rbx + {vector}]",
                // RSP is 64-byte aligned, so 16-byte aligned for the call.
                "call {handler}",
                "mov eax, -1",
                "mov edx, -1",
                "xrstor64 [rsp]",
                "jmp 5f",
                "4:",
                "mov rdi, rbx",
                "mov rsi, qword ptr [rbx + {vector}]",
                "and rsp, -16",
                "call {handler}",
                "5:",
                "mov rsp, rbx",
                $crate::__uintr_restore_gprs_and_return!(),
                handler = sym $handler,
                size = sym $crate::trampoline::__XSAVE_AREA_SIZE,
                vector = const $crate::trampoline::FRAME_CPU_PART,
            )
        }
        const _: $crate::trampoline::Handler = $handler;
    };
}

/// Assembly text: push the 15 general registers so that they form the low part of
/// [`Frame`](crate::trampoline::Frame) (rax is pushed first, so it sits right below the vector;
/// r15 last, at the lowest address). Pushes change no flags, but the flags need no saving here:
/// the CPU pushed RFLAGS and `uiret` restores it.
#[doc(hidden)]
#[macro_export]
macro_rules! __uintr_save_gprs {
    () => {
        concat!(
            "push rax\n",
            "push rbx\n",
            "push rcx\n",
            "push rdx\n",
            "push rsi\n",
            "push rdi\n",
            "push rbp\n",
            "push r8\n",
            "push r9\n",
            "push r10\n",
            "push r11\n",
            "push r12\n",
            "push r13\n",
            "push r14\n",
            "push r15\n",
        )
    };
}

/// Assembly text: with RSP = &Frame, pop the 15 general registers (in reverse order of
/// [`__uintr_save_gprs`]), drop the vector and `uiret`, which pops RIP, RFLAGS and RSP from the
/// frame (any value the handler wrote there) and sets UIF again.
#[doc(hidden)]
#[macro_export]
macro_rules! __uintr_restore_gprs_and_return {
    () => {
        concat!(
            "pop r15\n",
            "pop r14\n",
            "pop r13\n",
            "pop r12\n",
            "pop r11\n",
            "pop r10\n",
            "pop r9\n",
            "pop r8\n",
            "pop rbp\n",
            "pop rdi\n",
            "pop rsi\n",
            "pop rdx\n",
            "pop rcx\n",
            "pop rbx\n",
            "pop rax\n",
            "add rsp, 8\n",
            "uiret\n",
        )
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::offset_of;

    #[test]
    fn frame_layout_matches_the_push_order() {
        // Push order rax..r15 puts r15 lowest; the CPU's four words follow rax.
        let regs = [
            offset_of!(Frame, r15),
            offset_of!(Frame, r14),
            offset_of!(Frame, r13),
            offset_of!(Frame, r12),
            offset_of!(Frame, r11),
            offset_of!(Frame, r10),
            offset_of!(Frame, r9),
            offset_of!(Frame, r8),
            offset_of!(Frame, rbp),
            offset_of!(Frame, rdi),
            offset_of!(Frame, rsi),
            offset_of!(Frame, rdx),
            offset_of!(Frame, rcx),
            offset_of!(Frame, rbx),
            offset_of!(Frame, rax),
            offset_of!(Frame, vector),
            offset_of!(Frame, rip),
            offset_of!(Frame, rflags),
            offset_of!(Frame, rsp),
        ];
        for (i, off) in regs.into_iter().enumerate() {
            assert_eq!(off, i * 8, "field {i}");
        }
        assert_eq!(FRAME_SIZE, 152);
    }

    #[test]
    fn xsave_area_size_covers_the_legacy_area_and_header() {
        let size = xsave_area_size();
        if size != 0 {
            // 512-byte legacy region + 64-byte header at least.
            assert!(size >= 576, "{size}");
            assert_eq!(size as u32, xsave_area_size_uncached());
            assert_eq!(__XSAVE_AREA_SIZE.load(Ordering::Relaxed) as usize, size);
        }
    }
}
