//! `uiret`: trapped as #UD (SIGILL) and done to the saved context; every other SIGILL is passed
//! on.

use core::ffi::c_void;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use libc::c_int;

use super::UIRET_BYTES;

/// `uiret`s emulated.
pub(super) static UIRETS: AtomicU64 = AtomicU64::new(0);
/// The SIGILL disposition found at install time, to which non-`uiret` faults are passed.
pub(super) static PREVIOUS_SIGILL: OnceLock<libc::sigaction> = OnceLock::new();

/// Whether the bytes at `rip` are `uiret`. Reads one byte at a time and stops at the first
/// mismatch, so it never reads past what the CPU itself fetched to raise the fault.
///
/// # Safety
/// `rip` is where a SIGILL was raised (its first byte was fetched by the CPU).
unsafe fn is_uiret_at(rip: u64) -> bool {
    UIRET_BYTES.iter().enumerate().all(|(i, &b)| {
        // SAFETY: byte i is read only if bytes 0..i matched; a CPU that decoded `F3 0F 01` has
        // fetched the ModRM byte after it.
        unsafe { core::ptr::read_volatile((rip as *const u8).add(i)) == b }
    })
}

/// The SIGILL handler: emulates `uiret`, passes every other SIGILL on.
pub(super) extern "C" fn on_sigill(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: valid siginfo and ucontext from the kernel, as in `on_delivery`.
    let (code, uc) = unsafe { ((*info).si_code, &mut *(ctx as *mut libc::ucontext_t)) };
    let g = &mut uc.uc_mcontext.gregs;
    let rip = g[libc::REG_RIP as usize] as u64;
    // A fault (si_code > 0), not a SIGILL sent by kill/tgkill, at a uiret.
    // SAFETY: for a fault, RIP is the faulting instruction.
    if code > 0 && unsafe { is_uiret_at(rip) } {
        let rsp = g[libc::REG_RSP as usize] as u64 as *const u64;
        // SAFETY: uiret pops these three words; the frame the entry returns through is there
        // (the CPU would fault on the same reads).
        let (new_rip, new_rflags, new_rsp) = unsafe {
            (
                core::ptr::read_volatile(rsp),
                core::ptr::read_volatile(rsp.add(1)),
                core::ptr::read_volatile(rsp.add(2)),
            )
        };
        g[libc::REG_RIP as usize] = new_rip as i64;
        // rt_sigreturn keeps only the flags user code may change, as uiret does.
        g[libc::REG_EFL as usize] = new_rflags as i64;
        g[libc::REG_RSP as usize] = new_rsp as i64;
        // UIF = 1.
        for s in super::delivery_signals() {
            // SAFETY: uc_sigmask is a valid sigset_t.
            unsafe { libc::sigdelset(&mut uc.uc_sigmask, s) };
        }
        UIRETS.fetch_add(1, Ordering::Relaxed);
        return;
    }
    // SAFETY: forwarding the kernel's arguments.
    unsafe { chain_sigill(sig, info, ctx, code) };
}

/// Hands a SIGILL that is not an emulated `uiret` to whoever had SIGILL before, or makes it
/// fatal as it would have been.
///
/// # Safety
/// Called from the SIGILL handler with the kernel's arguments.
unsafe fn chain_sigill(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void, code: c_int) {
    let previous = PREVIOUS_SIGILL.get();
    let handler = previous.map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    if handler == libc::SIG_IGN && code <= 0 {
        return; // an ignored, sent SIGILL stays ignored
    }
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: sigaction/raise-style syscalls are async-signal-safe; the default action
        // terminates: on return for a fault (the instruction faults again), or at once for a
        // sent signal re-queued to this thread (pending until this handler returns).
        unsafe {
            let mut dfl: libc::sigaction = core::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &dfl, core::ptr::null_mut());
            if code <= 0 {
                libc::syscall(libc::SYS_tgkill, libc::getpid(), super::gettid(), sig);
            }
        }
        return;
    }
    let flags = previous.map_or(0, |p| p.sa_flags);
    if flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature; it gets the kernel's arguments.
        let f: extern "C" fn(c_int, *mut libc::siginfo_t, *mut c_void) =
            unsafe { core::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler has this signature.
        let f: extern "C" fn(c_int) = unsafe { core::mem::transmute(handler) };
        f(sig);
    }
}

/// Executes `uiret` on a frame that returns right after it: a no-op if `uiret` runs natively,
/// one emulated `uiret` (counted) if it traps.
#[unsafe(naked)]
pub(super) unsafe extern "C" fn probe() {
    core::arch::naked_asm!(
        // uiret pops RIP, RFLAGS, RSP (in that order), so push them in reverse.
        "mov rax, rsp",
        "push rax",
        "pushfq",
        "lea rax, [rip + 2f]",
        "push rax",
        "uiret",
        "2:",
        "ret",
    )
}
