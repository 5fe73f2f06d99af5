//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses a subset

use std::arch::naked_asm;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Tests of one binary share statics that the assembly probes address directly: one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waits for `cond`; panics with `what` after a generous liveness bound (a hang is a failure,
/// not a slow pass, but no test depends on how fast anything is).
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "gave up waiting for: {what}");
        std::thread::yield_now();
    }
}

/// Installs the emulation, or says why the test cannot run here.
pub fn emulation_ready() -> bool {
    match uintr_sys::emulation::install() {
        Ok(()) => true,
        Err(uintr_sys::Error::EmulationUnavailable) => {
            eprintln!("skipped: uiret executes natively here (a UINTR kernel); nothing to emulate");
            false
        }
        Err(e) => panic!("emulation::install failed: {e}"),
    }
}

pub const GPR_NAMES: [&str; 15] = [
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
    "r15",
];

/// The general registers of a frame in `GPR_NAMES` order.
pub fn frame_gprs(f: &uintr_sys::trampoline::Frame) -> [u64; 15] {
    [
        f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp, f.r8, f.r9, f.r10, f.r11, f.r12, f.r13,
        f.r14, f.r15,
    ]
}

/// Overwrites every register a handler may clobber, so that a trampoline that forgot one shows.
#[unsafe(naked)]
pub extern "C" fn clobber_caller_saved() {
    naked_asm!(
        "mov rax, 0x5a5a5a5a5a5a5a5a",
        "mov rcx, rax",
        "mov rdx, rax",
        "mov rsi, rax",
        "mov rdi, rax",
        "mov r8, rax",
        "mov r9, rax",
        "mov r10, rax",
        "mov r11, rax",
        // Flags as `xor` leaves them (ZF and PF set, the rest clear), unlike any probe pattern.
        "xor eax, eax",
        "ret",
    )
}
