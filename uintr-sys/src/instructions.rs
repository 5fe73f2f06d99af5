//! The user-interrupt instructions (UINTR-ABI.md §3) as thin `asm!` wrappers, plus the WAITPKG
//! instructions (`umonitor`, `umwait`, `tpause`) that the wait ladder of `nemo-user` uses, and
//! `rdtsc`. `uiret` is not here: it is only meaningful at the end of a handler, see
//! [`crate::trampoline`].
//!
//! # Invariant: asm options
//!
//! No instruction that changes interrupt state (`clui`, `stui`), sends one (`senduipi`) or
//! waits for memory or time (`umonitor`, `umwait`, `tpause`) is declared `nomem`: with `nomem`
//! the compiler may move or merge memory accesses across it, and a section guarded by
//! `clui`/`stui`, a payload stored before a `senduipi`, or a flag re-read after a `umwait`
//! would no longer be where the code puts it. Only `testui` (reads UIF) and `rdtsc` are `nomem`.

use core::arch::asm;

use crate::structures::UittIndex;

/// `SENDUIPI index`: posts the vector of target-table entry `index` to its receiver's UPID and, if
/// no notification is outstanding or suppressed, notifies the receiver's CPU. About 383 cycles on
/// Sapphire Rapids, serializing.
///
/// # Safety
/// The calling thread must have a valid target table (`IA32_UINTR_TT` bit 0 set: the process has
/// called `uintr_register_sender` or `uintr_register_self` on a UINTR kernel), otherwise the CPU
/// raises #UD (SIGILL); and `index` must name a valid entry of it, otherwise #GP (SIGSEGV).
#[inline(always)]
pub unsafe fn senduipi(index: UittIndex) {
    // SAFETY: the caller guarantees the target table and the entry exist.
    unsafe { asm!("senduipi {}", in(reg) index.get(), options(nostack, preserves_flags)) }
}

/// `CLUI`: clears the user-interrupt flag (UIF); user interrupts are held pending until [`stui`].
/// About 2 cycles.
///
/// # Safety
/// The kernel must have enabled UINTR for this process (CR4.UINTR, i.e. a UINTR kernel and a CPU
/// with the feature: [`crate::detect()`] returned a token), otherwise the CPU raises #UD (SIGILL).
#[inline(always)]
pub unsafe fn clui() {
    // SAFETY: the caller guarantees UINTR is enabled.
    // Not `nomem`: memory accesses of a section that `clui` opens must not move out of it.
    unsafe { asm!("clui", options(nostack, preserves_flags)) }
}

/// `STUI`: sets UIF; pending user interrupts are delivered right after. About 32 cycles.
///
/// # Safety
/// As [`clui`]. Also: a handler may run immediately after this instruction, on this stack.
#[inline(always)]
pub unsafe fn stui() {
    // SAFETY: the caller guarantees UINTR is enabled.
    unsafe { asm!("stui", options(nostack, preserves_flags)) }
}

/// `TESTUI`: returns UIF (whether user interrupts are currently enabled).
///
/// # Safety
/// As [`clui`].
#[inline(always)]
pub unsafe fn testui() -> bool {
    let cf: u8;
    // SAFETY: the caller guarantees UINTR is enabled; TESTUI copies UIF into CF.
    // `nomem` is sound here: TESTUI only reads UIF; it neither changes interrupt state nor
    // orders memory, so accesses may move across it.
    unsafe { asm!("testui", "setc {}", out(reg_byte) cf, options(nomem, nostack)) }
    cf != 0
}

/// `RDTSC`: the time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: RDTSC is available in user mode on every x86_64 Linux system (CR4.TSD is clear).
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    ((hi as u64) << 32) | lo as u64
}

/// `UMONITOR addr`: arms address monitoring of the cache line holding `addr` for [`umwait`].
///
/// # Safety
/// The CPU must have WAITPKG ([`crate::Detection::waitpkg`]), otherwise #UD (SIGILL). `addr` may be
/// any address the process can read.
#[inline(always)]
pub unsafe fn umonitor(addr: *const u8) {
    // SAFETY: the caller guarantees WAITPKG; UMONITOR only arms monitoring, it reads nothing.
    unsafe { asm!("umonitor {}", in(reg) addr, options(nostack, preserves_flags)) }
}

/// `UMWAIT`: waits in a light (C0.2, `deep = true`) or lighter (C0.1) state until the monitored
/// line is written, the TSC reaches `deadline`, or the OS limit (`IA32_UMWAIT_CONTROL`) expires.
/// Returns `true` if the OS time limit ended the wait (CF).
///
/// # Safety
/// As [`umonitor`].
#[inline(always)]
pub unsafe fn umwait(deep: bool, deadline: u64) -> bool {
    let cf: u8;
    let ctl: u32 = if deep { 0 } else { 1 };
    // SAFETY: the caller guarantees WAITPKG; EDX:EAX is the TSC deadline. Not `nomem`: it waits
    // for a store to memory, so the loads that decide to wait, and those after it, stay put.
    unsafe {
        asm!("umwait {ctl:e}", "setc {cf}", ctl = in(reg) ctl, cf = out(reg_byte) cf,
             in("eax") deadline as u32, in("edx") (deadline >> 32) as u32, options(nostack))
    }
    cf != 0
}

/// `TPAUSE`: pauses until the TSC reaches `deadline` (or the OS limit). Returns `true` if the OS
/// limit ended the pause.
///
/// # Safety
/// As [`umonitor`].
#[inline(always)]
pub unsafe fn tpause(deep: bool, deadline: u64) -> bool {
    let cf: u8;
    let ctl: u32 = if deep { 0 } else { 1 };
    // SAFETY: the caller guarantees WAITPKG. Not `nomem`: a pause in a wait loop must not let
    // the loop's loads be hoisted over it.
    unsafe {
        asm!("tpause {ctl:e}", "setc {cf}", ctl = in(reg) ctl, cf = out(reg_byte) cf,
             in("eax") deadline as u32, in("edx") (deadline >> 32) as u32, options(nostack))
    }
    cf != 0
}

/// How [`xui_set_timer`] reads its `cycles` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KbTimerMode {
    /// `cycles` is an absolute TSC deadline; the timer fires once.
    OneShot = 0,
    /// `cycles` is a period in TSC cycles; a timer that fell behind fires once.
    Periodic = 1,
}

/// xUI's KB timer (xUI §4.3): arms this hardware thread's timer, which posts `vector` straight
/// into the thread's UIRR when it expires (no UPID, no sender core) and is delivered like any
/// user interrupt. The timer is per hardware thread: it keeps firing whatever code the thread
/// runs until [`xui_clear_timer`].
///
/// The KB timer is a research proposal: no CPU has it. The gem5 UINTR model implements it in
/// the pseudo-op slot gem5 reserves for users (`0F 04 55 00`; RAX = cycles, RCX = mode,
/// RDX = vector), and announces it with the `xui_kbtimer` flag in `/proc/cpuinfo`
/// ([`crate::detect::xui_kb_timer_announced`]).
///
/// # Safety
/// Only where `xui_kbtimer` is announced: on any real CPU the encoding is undefined (#UD,
/// SIGILL). The thread must be a registered receiver with a handler for `vector`.
#[inline(always)]
pub unsafe fn xui_set_timer(cycles: u64, mode: KbTimerMode, vector: u8) {
    // SAFETY: the caller guarantees the model's pseudo-op exists. Not `nomem`: it changes
    // interrupt state, see the module invariant.
    unsafe {
        asm!(".byte 0x0f, 0x04", ".word 0x55", in("rax") cycles, in("rcx") mode as u64,
             in("rdx") u64::from(vector), options(nostack, preserves_flags))
    }
}

/// Disarms this hardware thread's KB timer (`0F 04 56 00` in the gem5 model).
///
/// # Safety
/// As [`xui_set_timer`].
#[inline(always)]
pub unsafe fn xui_clear_timer() {
    // SAFETY: as `xui_set_timer`.
    unsafe {
        asm!(
            ".byte 0x0f, 0x04",
            ".word 0x56",
            options(nostack, preserves_flags)
        )
    }
}
