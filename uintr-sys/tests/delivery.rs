//! Emulated delivery semantics: synchronous self-delivery, the emulated UIF (clui/stui, no
//! re-entry), interrupted system calls, non-`uiret` SIGILLs, and interrupts landing at arbitrary
//! instructions of register-heavy code under a stream of deliveries.

mod common;

use std::arch::{asm, naked_asm};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering::*};

use common::{clobber_caller_saved, emulation_ready, serial, wait_until};
use uintr_sys::emulation::{self, Entry, Tid};
use uintr_sys::trampoline::Frame;
use uintr_sys::{Error, Vector, uintr_entry};

// ---------------------------------------------------------------------------------------------
// A recording handler: counts, keeps the order of vectors, tracks nesting.

static HANDLED: AtomicU64 = AtomicU64::new(0);
static ORDER: AtomicU64 = AtomicU64::new(0); // vectors, 6 bits each, in arrival order
static DEPTH: AtomicU64 = AtomicU64::new(0);
static MAX_DEPTH: AtomicU64 = AtomicU64::new(0);
static UIF_IN_HANDLER: AtomicU64 = AtomicU64::new(0); // bit per call: testui() was true
static RESEND: AtomicBool = AtomicBool::new(false);

extern "C" fn record(frame: &mut Frame, vector: u64) {
    let depth = DEPTH.fetch_add(1, SeqCst) + 1;
    MAX_DEPTH.fetch_max(depth, SeqCst);
    assert_eq!(frame.vector, vector);
    let n = HANDLED.load(SeqCst);
    if emulation::testui() {
        UIF_IN_HANDLER.fetch_or(1 << n, SeqCst);
    }
    ORDER.fetch_or(vector << (6 * n), SeqCst);
    if RESEND.swap(false, SeqCst) {
        // A self-interrupt from inside the handler stays pending until uiret.
        // SAFETY: RECORD is an entry of this handler.
        unsafe { emulation::deliver(RECORD, Vector::new(2).unwrap()) }.unwrap();
        assert_eq!(HANDLED.load(SeqCst), n, "delivered inside the handler");
    }
    HANDLED.store(n + 1, SeqCst);
    DEPTH.fetch_sub(1, SeqCst);
}

uintr_entry!(RECORD => record);

fn reset_record() {
    for a in [&HANDLED, &ORDER, &DEPTH, &MAX_DEPTH, &UIF_IN_HANDLER] {
        a.store(0, SeqCst);
    }
    RESEND.store(false, SeqCst);
}

#[test]
fn self_delivery_runs_the_handler_before_deliver_returns() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    reset_record();
    for (i, v) in [0u64, 63, 17].into_iter().enumerate() {
        // SAFETY: RECORD is an entry; its handler only uses atomics.
        unsafe { emulation::deliver(RECORD, Vector::new(v).unwrap()) }.unwrap();
        assert_eq!(HANDLED.load(SeqCst), i as u64 + 1);
    }
    assert_eq!(ORDER.load(SeqCst), 17 << 12 | 63 << 6);
    assert_eq!(
        UIF_IN_HANDLER.load(SeqCst),
        0,
        "UIF is clear inside the handler"
    );
    assert!(emulation::testui(), "and set again after uiret");
}

#[test]
fn clui_defers_delivery_until_stui_in_order() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    reset_record();
    std::thread::spawn(|| {
        emulation::clui();
        for v in [5, 6, 7] {
            // SAFETY: as above.
            unsafe { emulation::deliver(RECORD, Vector::new(v).unwrap()) }.unwrap();
        }
        assert_eq!(HANDLED.load(SeqCst), 0, "nothing runs while UIF is clear");
        emulation::stui();
        assert_eq!(
            HANDLED.load(SeqCst),
            3,
            "all pending deliveries ran at stui"
        );
        assert_eq!(ORDER.load(SeqCst), 5 | 6 << 6 | 7 << 12);
    })
    .join()
    .unwrap();
}

#[test]
fn the_handler_is_not_reentered() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    reset_record();
    RESEND.store(true, SeqCst);
    // SAFETY: as above.
    unsafe { emulation::deliver(RECORD, Vector::new(1).unwrap()) }.unwrap();
    assert_eq!(
        HANDLED.load(SeqCst),
        2,
        "the inner delivery ran right after uiret"
    );
    assert_eq!(MAX_DEPTH.load(SeqCst), 1);
    assert_eq!(ORDER.load(SeqCst), 1 | 2 << 6);
}

#[test]
fn a_blocking_read_survives_a_delivery() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    reset_record();
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    static TID: AtomicI32 = AtomicI32::new(0);
    let reader = std::thread::spawn(move || {
        TID.store(Tid::current().as_raw(), SeqCst);
        let mut b = 0u8;
        // SAFETY: reads one byte into `b`.
        unsafe { libc::read(fds[0], (&mut b as *mut u8).cast(), 1) }
    });
    wait_until("the reader to start", || TID.load(SeqCst) != 0);
    let tid = Tid::from_raw(TID.load(SeqCst));
    // SAFETY: as above.
    unsafe { emulation::deliver_to(tid, RECORD, Vector::new(9).unwrap()) }.unwrap();
    wait_until("the delivery", || HANDLED.load(SeqCst) == 1);
    // SAFETY: writes one byte from a local.
    assert_eq!(unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) }, 1);
    assert_eq!(
        reader.join().unwrap(),
        1,
        "read was restarted, not failed with EINTR"
    );
    // SAFETY: closing our own descriptors.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
}

/// Runs `f` in a forked child without core dumps and returns the signal that killed it.
fn death_signal_of_child(f: fn()) -> Option<i32> {
    // SAFETY: the child only calls async-signal-safe functions (setrlimit, f's asm/raise, _exit).
    unsafe {
        match libc::fork() {
            0 => {
                let no_core = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &no_core);
                f();
                libc::_exit(0);
            }
            pid => {
                assert!(pid > 0, "fork failed");
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
                libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status))
            }
        }
    }
}

#[test]
fn a_sigill_that_is_not_uiret_still_kills() {
    let _g = serial();
    if !emulation_ready() {
        return;
    }
    // SAFETY: ud2 raises #UD; the process is expected to die of it.
    let fault = death_signal_of_child(|| unsafe { asm!("ud2") });
    assert_eq!(fault, Some(libc::SIGILL), "a real #UD");
    // SAFETY: raise has no preconditions.
    let sent = death_signal_of_child(|| unsafe {
        libc::raise(libc::SIGILL);
    });
    assert_eq!(sent, Some(libc::SIGILL), "a sent SIGILL");
}

// ---------------------------------------------------------------------------------------------
// Arbitrary interruption points.

static LOOP_START: AtomicU64 = AtomicU64::new(0);
static LOOP_END: AtomicU64 = AtomicU64::new(0);

/// A deterministic mix of all 15 general registers for `iters` rounds, with carries live across
/// instructions and values kept in the red zone (which delivery must skip). The state array is
/// in `common::GPR_NAMES` order.
#[unsafe(naked)]
unsafe extern "C" fn mix(state: *mut [u64; 15], iters: u64) {
    naked_asm!(
        "push rbx",
        "push rbp",
        "push r12",
        "push r13",
        "push r14",
        "push r15",
        "push rdi", // [rsp + 8]: state
        "push rsi", // [rsp]: rounds left
        "lea rax, [rip + 1f]",
        "mov qword ptr [rip + {loop_start}], rax",
        "lea rax, [rip + 3f]",
        "mov qword ptr [rip + {loop_end}], rax",
        "mov rax, qword ptr [rdi + 0]",
        "mov rbx, qword ptr [rdi + 8]",
        "mov rcx, qword ptr [rdi + 16]",
        "mov rdx, qword ptr [rdi + 24]",
        "mov rsi, qword ptr [rdi + 32]",
        "mov rbp, qword ptr [rdi + 48]",
        "mov r8, qword ptr [rdi + 56]",
        "mov r9, qword ptr [rdi + 64]",
        "mov r10, qword ptr [rdi + 72]",
        "mov r11, qword ptr [rdi + 80]",
        "mov r12, qword ptr [rdi + 88]",
        "mov r13, qword ptr [rdi + 96]",
        "mov r14, qword ptr [rdi + 104]",
        "mov r15, qword ptr [rdi + 112]",
        "mov rdi, qword ptr [rdi + 40]",
        "1:",
        "add rax, rbx",
        "adc rcx, rdx", // CF of the add
        "mov qword ptr [rsp - 16], rcx",
        "rol rsi, 7",
        "xor rdi, rcx",
        "sub rbp, r8",
        "sbb r9, r10", // CF of the sub
        "lea r11, [r11 + r12*4 + 3]",
        "lea r12, [r12 + r13*2 + 1]",
        "cmp r14, r15",
        "cmovb r13, rdi", // flags of the cmp
        "adc r15, rsi",   // CF of the cmp
        "mov qword ptr [rsp - 120], r15",
        "xor rbx, qword ptr [rsp - 16]",
        "ror r14, 3",
        "add r14, rsi",
        "xor r8, r11",
        "add rdx, qword ptr [rsp - 120]",
        "xor r10, rbp",
        "sub qword ptr [rsp], 1",
        "jnz 1b",
        "3:",
        "xchg rax, qword ptr [rsp + 8]", // rax = state, the mixed rax parked on the stack
        "mov qword ptr [rax + 8], rbx",
        "mov qword ptr [rax + 16], rcx",
        "mov qword ptr [rax + 24], rdx",
        "mov qword ptr [rax + 32], rsi",
        "mov qword ptr [rax + 40], rdi",
        "mov qword ptr [rax + 48], rbp",
        "mov qword ptr [rax + 56], r8",
        "mov qword ptr [rax + 64], r9",
        "mov qword ptr [rax + 72], r10",
        "mov qword ptr [rax + 80], r11",
        "mov qword ptr [rax + 88], r12",
        "mov qword ptr [rax + 96], r13",
        "mov qword ptr [rax + 104], r14",
        "mov qword ptr [rax + 112], r15",
        "mov rbx, qword ptr [rsp + 8]",
        "mov qword ptr [rax + 0], rbx",
        "add rsp, 16",
        "pop r15",
        "pop r14",
        "pop r13",
        "pop r12",
        "pop rbp",
        "pop rbx",
        "ret",
        loop_start = sym LOOP_START,
        loop_end = sym LOOP_END,
    )
}

static COUNTED: AtomicU64 = AtomicU64::new(0);
static IN_LOOP: AtomicU64 = AtomicU64::new(0);
static VECTOR_SUM: AtomicU64 = AtomicU64::new(0);
static BAD_VECTOR: AtomicU64 = AtomicU64::new(0);

extern "C" fn count(frame: &mut Frame, vector: u64) {
    if frame.vector != vector || vector >= 64 {
        BAD_VECTOR.fetch_add(1, Relaxed);
    }
    VECTOR_SUM.fetch_add(vector, Relaxed);
    if (LOOP_START.load(Relaxed)..LOOP_END.load(Relaxed)).contains(&frame.rip) {
        IN_LOOP.fetch_add(1, Relaxed);
    }
    COUNTED.fetch_add(1, Release);
    clobber_caller_saved();
}

uintr_entry!(COUNT_GPR => count);
uintr_entry!(COUNT_XSAVE => count, xsave);

const ROUNDS: u64 = 20_000;
const MIN_SENT: u64 = 2_000;
const MIN_IN_LOOP: u64 = 300;

fn stress(entry: Entry) {
    for a in [&COUNTED, &IN_LOOP, &VECTOR_SUM, &BAD_VECTOR] {
        a.store(0, SeqCst);
    }
    let input: [u64; 15] =
        core::array::from_fn(|i| (i as u64 + 1).wrapping_mul(0xd6e8_feb8_6659_fd93));
    let mut reference = input;
    // SAFETY: mix reads and writes the 15 words of `reference` and preserves callee-saved state.
    unsafe { mix(&mut reference, ROUNDS) };
    assert_ne!(reference, input);

    static TID: AtomicI32 = AtomicI32::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);
    TID.store(0, SeqCst);
    STOP.store(false, SeqCst);
    let receiver = std::thread::spawn(move || {
        TID.store(Tid::current().as_raw(), SeqCst);
        let (mut chunks, mut wrong) = (0u64, 0u64);
        while !STOP.load(SeqCst) {
            let mut state = input;
            // SAFETY: as above.
            unsafe { mix(&mut state, ROUNDS) };
            chunks += 1;
            if state != reference {
                wrong += 1;
            }
        }
        (chunks, wrong)
    });
    wait_until("the receiver to start", || TID.load(SeqCst) != 0);
    let tid = Tid::from_raw(TID.load(SeqCst));

    let (mut sent, mut vector_sum) = (0u64, 0u64);
    while sent < MIN_SENT || IN_LOOP.load(SeqCst) < MIN_IN_LOOP {
        let v = sent % 64;
        // SAFETY: `entry` is an entry of `count`, which only uses atomics.
        match unsafe { emulation::deliver_to(tid, entry, Vector::new(v).unwrap()) } {
            Ok(()) => {
                sent += 1;
                vector_sum += v;
            }
            Err(Error::SignalQueueFull) => std::thread::yield_now(),
            Err(e) => panic!("deliver_to: {e}"),
        }
        // Keep the queue short so the stream stays spread over the receiver's work.
        wait_until("the receiver to keep up", || {
            sent - COUNTED.load(SeqCst) <= 4
        });
    }
    STOP.store(true, SeqCst);
    let (chunks, wrong) = receiver.join().unwrap();
    wait_until("every delivery", || COUNTED.load(SeqCst) == sent);

    assert_eq!(
        wrong, 0,
        "{wrong} of {chunks} interrupted runs computed a wrong result"
    );
    assert_eq!(
        COUNTED.load(SeqCst),
        sent,
        "each delivery entered the handler once"
    );
    assert_eq!(VECTOR_SUM.load(SeqCst), vector_sum);
    assert_eq!(BAD_VECTOR.load(SeqCst), 0);
    assert!(IN_LOOP.load(SeqCst) >= MIN_IN_LOOP);
    eprintln!(
        "{sent} deliveries, {} inside the loop, over {chunks} runs",
        IN_LOOP.load(SeqCst)
    );
}

#[test]
fn gpr_entry_survives_interrupts_at_arbitrary_points() {
    let _g = serial();
    if emulation_ready() {
        stress(COUNT_GPR);
    }
}

#[test]
fn xsave_entry_survives_interrupts_at_arbitrary_points() {
    let _g = serial();
    if emulation_ready() && uintr_sys::trampoline::xsave_area_size() != 0 {
        stress(COUNT_XSAVE);
    }
}
