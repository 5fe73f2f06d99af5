//! The handler entries under emulated delivery, checked register by register.
//!
//! A probe written in assembly loads known patterns into every general register, the flags (and,
//! for the vector test, ymm0–15 and MXCSR), publishes its stack pointer and spins on `jmp .`.
//! Another thread delivers a user interrupt to it; the handler records what it saw and moves the
//! frame's RIP past the `jmp`, so the probe resumes and stores every register for comparison.
//! Nothing between the patterns and the stores touches a register or a flag except the interrupt.

mod common;

use std::arch::{asm, naked_asm};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering::*};

use common::{GPR_NAMES, clobber_caller_saved, emulation_ready, frame_gprs, serial, wait_until};
use uintr_sys::emulation::{self, Entry, Tid};
use uintr_sys::trampoline::{FRAME_CPU_PART, Frame};
use uintr_sys::{Vector, uintr_entry};

const CF: u64 = 1 << 0;
const PF: u64 = 1 << 2;
const AF: u64 = 1 << 4;
const ZF: u64 = 1 << 6;
const SF: u64 = 1 << 7;
const TF: u64 = 1 << 8;
const DF: u64 = 1 << 10;
const OF: u64 = 1 << 11;
/// The flags the probe sets and checks (TF and AC are left alone: they would trap).
const CHECKED_FLAGS: u64 = CF | PF | AF | ZF | SF | DF | OF;

// Probe input: 15 GPRs (GPR_NAMES order), then RFLAGS.
static PAT: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
// Probe output: 15 GPRs, RFLAGS, RSP.
static OUT: [AtomicU64; 17] = [const { AtomicU64::new(0) }; 17];
static SAVED_RSP: AtomicU64 = AtomicU64::new(0);
static SPIN: AtomicU64 = AtomicU64::new(0);
static READY: AtomicU64 = AtomicU64::new(0);

// What the handler saw.
static SEEN: [AtomicU64; 19] = [const { AtomicU64::new(0) }; 19];
static SEEN_ARG: AtomicU64 = AtomicU64::new(0);
static SEEN_ADDR: AtomicU64 = AtomicU64::new(0);
static SEEN_LIVE_FLAGS: AtomicU64 = AtomicU64::new(0);
static HITS: AtomicU64 = AtomicU64::new(0);
static MODIFY: AtomicBool = AtomicBool::new(false);
const MOD_RBX: u64 = 0x0b0b_0b0b_0b0b_0b0b;
const MOD_R12: u64 = 0x1212_1212_1212_1212;

/// Loads PAT into every GPR and RFLAGS, spins, then stores every GPR, RFLAGS and RSP into OUT.
#[unsafe(naked)]
unsafe extern "C" fn gpr_probe() {
    naked_asm!(
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "mov qword ptr [rip + {saved_rsp}], rsp",
        "lea rax, [rip + 2f]",
        "mov qword ptr [rip + {spin}], rax",
        "push qword ptr [rip + {pat} + 120]",
        "popfq",
        "mov rax, qword ptr [rip + {pat} + 0]",
        "mov rbx, qword ptr [rip + {pat} + 8]",
        "mov rcx, qword ptr [rip + {pat} + 16]",
        "mov rdx, qword ptr [rip + {pat} + 24]",
        "mov rsi, qword ptr [rip + {pat} + 32]",
        "mov rdi, qword ptr [rip + {pat} + 40]",
        "mov rbp, qword ptr [rip + {pat} + 48]",
        "mov r8, qword ptr [rip + {pat} + 56]",
        "mov r9, qword ptr [rip + {pat} + 64]",
        "mov r10, qword ptr [rip + {pat} + 72]",
        "mov r11, qword ptr [rip + {pat} + 80]",
        "mov r12, qword ptr [rip + {pat} + 88]",
        "mov r13, qword ptr [rip + {pat} + 96]",
        "mov r14, qword ptr [rip + {pat} + 104]",
        "mov r15, qword ptr [rip + {pat} + 112]",
        "mov qword ptr [rip + {ready}], 1",
        // The interrupt lands here; the handler resumes us at the next instruction (2 bytes on).
        "2: jmp 2b",
        "mov qword ptr [rip + {out} + 0], rax",
        "mov qword ptr [rip + {out} + 8], rbx",
        "mov qword ptr [rip + {out} + 16], rcx",
        "mov qword ptr [rip + {out} + 24], rdx",
        "mov qword ptr [rip + {out} + 32], rsi",
        "mov qword ptr [rip + {out} + 40], rdi",
        "mov qword ptr [rip + {out} + 48], rbp",
        "mov qword ptr [rip + {out} + 56], r8",
        "mov qword ptr [rip + {out} + 64], r9",
        "mov qword ptr [rip + {out} + 72], r10",
        "mov qword ptr [rip + {out} + 80], r11",
        "mov qword ptr [rip + {out} + 88], r12",
        "mov qword ptr [rip + {out} + 96], r13",
        "mov qword ptr [rip + {out} + 104], r14",
        "mov qword ptr [rip + {out} + 112], r15",
        "mov qword ptr [rip + {out} + 128], rsp",
        "pushfq",
        "pop qword ptr [rip + {out} + 120]",
        // The handler may have moved RSP (frame-modification test).
        "mov rsp, qword ptr [rip + {saved_rsp}]",
        "cld",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
        saved_rsp = sym SAVED_RSP,
        spin = sym SPIN,
        pat = sym PAT,
        ready = sym READY,
        out = sym OUT,
    )
}

fn live_rflags() -> u64 {
    let f: u64;
    // SAFETY: reads RFLAGS through the stack.
    unsafe { asm!("pushfq", "pop {}", out(reg) f) };
    f
}

extern "C" fn observe(frame: &mut Frame, vector: u64) {
    // SAFETY: Frame is 19 u64 words, repr(C).
    let words: [u64; 19] = unsafe { core::mem::transmute(*frame) };
    for (s, w) in SEEN.iter().zip(words) {
        s.store(w, Relaxed);
    }
    SEEN_ARG.store(vector, Relaxed);
    SEEN_ADDR.store(frame as *mut Frame as u64, Relaxed);
    SEEN_LIVE_FLAGS.store(live_rflags(), Relaxed);
    if frame.rip == SPIN.load(Relaxed) {
        frame.rip += 2;
        if MODIFY.load(Relaxed) {
            frame.rbx = MOD_RBX;
            frame.r12 = MOD_R12;
            frame.rflags ^= CF | ZF;
            frame.rsp -= 64;
        }
    }
    HITS.fetch_add(1, Release);
    clobber_caller_saved();
}

uintr_entry!(OBSERVE_GPR => observe);
uintr_entry!(OBSERVE_XSAVE => observe, xsave);

/// Runs `probe` on a fresh thread and delivers `vector` to it once it spins.
fn interrupt_spinning_probe(probe: unsafe extern "C" fn(), entry: Entry, vector: Vector) {
    static TID: AtomicI32 = AtomicI32::new(0);
    READY.store(0, SeqCst);
    SPIN.store(0, SeqCst);
    HITS.store(0, SeqCst);
    let receiver = std::thread::spawn(move || {
        TID.store(Tid::current().as_raw(), SeqCst);
        // SAFETY: the probe preserves the callee-saved registers and returns normally once the
        // handler has moved it past its spin loop.
        unsafe { probe() };
    });
    wait_until("the probe to spin", || READY.load(SeqCst) == 1);
    let tid = Tid::from_raw(TID.load(SeqCst));
    // SAFETY: `entry` is an entry made by uintr_entry!; its handler only uses atomics.
    unsafe { emulation::deliver_to(tid, entry, vector) }.expect("deliver_to");
    wait_until("the probe to resume and return", || receiver.is_finished());
    receiver.join().expect("probe thread");
}

fn pattern(seed: u64, i: usize) -> u64 {
    (seed.wrapping_add(i as u64 + 1)).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ ((i as u64) << 56)
}

fn gpr_case(entry: Entry, seed: u64, flags: u64, modify: bool) {
    for (i, p) in PAT.iter().take(15).enumerate() {
        p.store(pattern(seed, i), SeqCst);
    }
    PAT[15].store(flags, SeqCst);
    MODIFY.store(modify, SeqCst);
    let (d0, u0) = (emulation::delivery_count(), emulation::uiret_count());
    let vector = Vector::new(seed % 64).unwrap();

    interrupt_spinning_probe(gpr_probe, entry, vector);

    let pats: Vec<u64> = PAT.iter().take(15).map(|p| p.load(SeqCst)).collect();
    let seen: Vec<u64> = SEEN.iter().map(|s| s.load(SeqCst)).collect();
    // SAFETY: 19 words back into the repr(C) frame they came from.
    let frame: Frame =
        unsafe { core::mem::transmute::<[u64; 19], Frame>(seen.try_into().unwrap()) };
    let saved_rsp = SAVED_RSP.load(SeqCst);
    let spin = SPIN.load(SeqCst);

    // Exactly one delivery and one uiret, entering the handler once.
    assert_eq!(HITS.load(SeqCst), 1);
    assert_eq!(emulation::delivery_count() - d0, 1);
    assert_eq!(emulation::uiret_count() - u0, 1);
    // The handler saw the interrupted state, as the CPU pushes it.
    assert_eq!(SEEN_ARG.load(SeqCst), u64::from(vector), "vector argument");
    assert_eq!(frame.vector, u64::from(vector), "frame.vector");
    assert_eq!(frame.rip, spin, "frame.rip is the spinning instruction");
    assert_eq!(frame.rsp, saved_rsp, "frame.rsp is the interrupted RSP");
    assert_eq!(
        frame.rflags & CHECKED_FLAGS,
        flags,
        "frame.rflags {:#x}",
        frame.rflags
    );
    assert_eq!(frame.rflags & TF, 0);
    for ((name, got), want) in GPR_NAMES.iter().zip(frame_gprs(&frame)).zip(&pats) {
        assert_eq!(got, *want, "frame.{name}");
    }
    // The frame sits where the CPU puts it: below the 128-byte red zone, 16-byte aligned.
    let cpu_part = SEEN_ADDR.load(SeqCst) + FRAME_CPU_PART as u64;
    assert_eq!(cpu_part, ((saved_rsp - 128) & !0xf) - 32, "frame address");
    // The handler ran with DF clear even though the interrupted code had it set.
    assert_eq!(SEEN_LIVE_FLAGS.load(SeqCst) & DF, 0, "DF in the handler");

    // Back in the probe: everything as it was, or as the handler rewrote it.
    let out: Vec<u64> = OUT.iter().map(|o| o.load(SeqCst)).collect();
    for (i, name) in GPR_NAMES.iter().enumerate() {
        let want = match (modify, *name) {
            (true, "rbx") => MOD_RBX,
            (true, "r12") => MOD_R12,
            _ => pats[i],
        };
        assert_eq!(
            out[i], want,
            "{name} after the interrupt (modify = {modify})"
        );
    }
    let want_flags = if modify { flags ^ (CF | ZF) } else { flags };
    assert_eq!(
        out[15] & CHECKED_FLAGS,
        want_flags,
        "rflags {:#x} after",
        out[15]
    );
    let want_rsp = if modify { saved_rsp - 64 } else { saved_rsp };
    assert_eq!(out[16], want_rsp, "rsp after");
}

#[test]
fn gpr_entry_preserves_every_register_flag_and_rsp() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    gpr_case(OBSERVE_GPR, 1, CHECKED_FLAGS, false);
    gpr_case(OBSERVE_GPR, 2, 0, false);
    gpr_case(OBSERVE_GPR, 63, CF | ZF | OF, false);
}

#[test]
fn xsave_entry_preserves_every_register_flag_and_rsp() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    gpr_case(OBSERVE_XSAVE, 3, CHECKED_FLAGS, false);
    gpr_case(OBSERVE_XSAVE, 4, 0, false);
}

#[test]
fn handler_modifications_of_the_frame_take_effect() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    gpr_case(OBSERVE_GPR, 5, CHECKED_FLAGS, true);
    gpr_case(OBSERVE_XSAVE, 6, PF | SF, true);
}

// ---------------------------------------------------------------------------------------------
// Vector state.

// ymm0..15 patterns / results, 32 bytes each (the SSE probe uses the low 16).
static PV: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static OV: [AtomicU64; 64] = [const { AtomicU64::new(0) }; 64];
static PAT_MXCSR: AtomicU32 = AtomicU32::new(0);
static OUT_MXCSR: AtomicU32 = AtomicU32::new(0);
static HANDLER_MXCSR: AtomicU32 = AtomicU32::new(0);
static DEFAULT_MXCSR: u32 = 0x1f80;
/// Round toward zero: what the handler leaves in MXCSR.
static CLOBBER_MXCSR: u32 = 0x7f80;
/// Round down, flush-to-zero: what the interrupted code runs with.
const PROBE_MXCSR: u32 = 0x1f80 | 0x2000 | 0x8000;
static USE_AVX: AtomicBool = AtomicBool::new(false);

#[unsafe(naked)]
unsafe extern "C" fn ymm_probe() {
    naked_asm!(
        "lea rax, [rip + 2f]",
        "mov qword ptr [rip + {spin}], rax",
        "ldmxcsr dword ptr [rip + {pat_mxcsr}]",
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "vmovdqu ymm\\i, ymmword ptr [rip + {pv} + 32*\\i]",
        ".endr",
        "mov qword ptr [rip + {ready}], 1",
        "2: jmp 2b",
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "vmovdqu ymmword ptr [rip + {ov} + 32*\\i], ymm\\i",
        ".endr",
        "stmxcsr dword ptr [rip + {out_mxcsr}]",
        "ldmxcsr dword ptr [rip + {default_mxcsr}]",
        "vzeroupper",
        "ret",
        spin = sym SPIN,
        ready = sym READY,
        pv = sym PV,
        ov = sym OV,
        pat_mxcsr = sym PAT_MXCSR,
        out_mxcsr = sym OUT_MXCSR,
        default_mxcsr = sym DEFAULT_MXCSR,
    )
}

#[unsafe(naked)]
unsafe extern "C" fn xmm_probe() {
    naked_asm!(
        "lea rax, [rip + 2f]",
        "mov qword ptr [rip + {spin}], rax",
        "ldmxcsr dword ptr [rip + {pat_mxcsr}]",
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "movdqu xmm\\i, xmmword ptr [rip + {pv} + 32*\\i]",
        ".endr",
        "mov qword ptr [rip + {ready}], 1",
        "2: jmp 2b",
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "movdqu xmmword ptr [rip + {ov} + 32*\\i], xmm\\i",
        ".endr",
        "stmxcsr dword ptr [rip + {out_mxcsr}]",
        "ldmxcsr dword ptr [rip + {default_mxcsr}]",
        "ret",
        spin = sym SPIN,
        ready = sym READY,
        pv = sym PV,
        ov = sym OV,
        pat_mxcsr = sym PAT_MXCSR,
        out_mxcsr = sym OUT_MXCSR,
        default_mxcsr = sym DEFAULT_MXCSR,
    )
}

/// All ones in ymm0..15 and a different rounding mode: what a careless handler might leave.
#[unsafe(naked)]
unsafe extern "C" fn clobber_ymm() {
    naked_asm!(
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "vpcmpeqd ymm\\i, ymm\\i, ymm\\i",
        ".endr",
        "ldmxcsr dword ptr [rip + {m}]",
        "ret",
        m = sym CLOBBER_MXCSR,
    )
}

#[unsafe(naked)]
unsafe extern "C" fn clobber_xmm() {
    naked_asm!(
        ".irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15",
        "pcmpeqd xmm\\i, xmm\\i",
        ".endr",
        "ldmxcsr dword ptr [rip + {m}]",
        "ret",
        m = sym CLOBBER_MXCSR,
    )
}

fn mxcsr() -> u32 {
    let mut m = 0u32;
    // SAFETY: stores MXCSR into a local.
    unsafe { asm!("stmxcsr dword ptr [{}]", in(reg) &mut m, options(nostack)) };
    m
}

extern "C" fn clobber_vectors(frame: &mut Frame, _vector: u64) {
    HANDLER_MXCSR.store(mxcsr(), Relaxed);
    if frame.rip == SPIN.load(Relaxed) {
        frame.rip += 2;
    }
    HITS.fetch_add(1, Release);
    // Last, so no compiled code runs between the clobber and the trampoline.
    // SAFETY: only clobbers call-clobbered vector registers and MXCSR (restored by the
    // interrupted probe itself before it returns to Rust).
    unsafe {
        if USE_AVX.load(Relaxed) {
            clobber_ymm()
        } else {
            clobber_xmm()
        }
    }
}

uintr_entry!(CLOBBER_GPR => clobber_vectors);
uintr_entry!(CLOBBER_XSAVE => clobber_vectors, xsave);

/// Returns (what the probe's vector registers held after the interrupt, the bytes compared per
/// register).
fn vector_case(entry: Entry) -> (Vec<u64>, usize) {
    let avx = std::arch::is_x86_feature_detected!("avx");
    USE_AVX.store(avx, SeqCst);
    for (j, p) in PV.iter().enumerate() {
        p.store(
            0x0123_4567_89ab_cdef ^ (j as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            SeqCst,
        );
    }
    PAT_MXCSR.store(PROBE_MXCSR, SeqCst);
    let probe: unsafe extern "C" fn() = if avx { ymm_probe } else { xmm_probe };
    interrupt_spinning_probe(probe, entry, Vector::new(7).unwrap());
    assert_eq!(HITS.load(SeqCst), 1);
    let words_per_reg = if avx { 4 } else { 2 };
    let out = OV
        .chunks(4)
        .flat_map(|r| r[..words_per_reg].iter().map(|w| w.load(SeqCst)))
        .collect();
    (out, words_per_reg)
}

#[test]
fn xsave_entry_preserves_vector_registers_and_mxcsr() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    if uintr_sys::trampoline::xsave_area_size() == 0 {
        eprintln!("skipped: XSAVE is not enabled on this CPU");
        return;
    }
    let (out, n) = vector_case(CLOBBER_XSAVE);
    let want: Vec<u64> = PV
        .chunks(4)
        .flat_map(|r| r[..n].iter().map(|w| w.load(SeqCst)))
        .collect();
    assert_eq!(out, want, "vector registers after the interrupt");
    assert_eq!(
        OUT_MXCSR.load(SeqCst),
        PROBE_MXCSR,
        "MXCSR after the interrupt"
    );
    assert_eq!(
        HANDLER_MXCSR.load(SeqCst),
        DEFAULT_MXCSR,
        "the handler runs with the default MXCSR"
    );
}

#[test]
fn gpr_entry_does_not_protect_vector_registers() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    let (out, _) = vector_case(CLOBBER_GPR);
    assert!(
        out.iter().all(|&w| w == u64::MAX),
        "the handler's clobber is visible: {out:x?}"
    );
    assert_eq!(OUT_MXCSR.load(SeqCst), CLOBBER_MXCSR);
    assert_eq!(
        HANDLER_MXCSR.load(SeqCst),
        PROBE_MXCSR,
        "the handler inherits the interrupted MXCSR"
    );
}
