//! The project's UINTR code path inside gem5 (UINTR model, syscall emulation): `uintr-sys`
//! detection hands out its token, the syscalls register a handler made with
//! [`uintr_sys::uintr_entry!`], and `senduipi` reaches it on this core and on another one.
//! Prints `RESULT` lines like `uintr_micro` and exits 0 when every check passed.
//!
//! ```text
//! uintr-gem5-probe [events]
//! ```

use std::os::fd::AsFd;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use uintr_sys::instructions::{rdtsc, senduipi, stui, testui};
use uintr_sys::syscalls::{self, HandlerFlags};
use uintr_sys::trampoline::Frame;
use uintr_sys::{Support, Vector, detect};

static HITS: AtomicU64 = AtomicU64::new(0);
static LAST_VECTOR: AtomicU64 = AtomicU64::new(u64::MAX);
static ENTRY_TSC: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicBool = AtomicBool::new(false);

extern "C" fn on_interrupt(_frame: &mut Frame, vector: u64) {
    ENTRY_TSC.store(rdtsc(), Ordering::Relaxed);
    LAST_VECTOR.store(vector, Ordering::Relaxed);
    HITS.fetch_add(1, Ordering::Release);
}

uintr_sys::uintr_entry!(ON_INTERRUPT => on_interrupt);
uintr_sys::uintr_entry!(ON_INTERRUPT_XSAVE => on_interrupt, xsave);

/// The xsave entry on this CPU (gem5's CPUID reports no XSAVE area): an interrupt delivered
/// while this frame holds a known pattern must leave every word of it as it was.
#[inline(never)]
fn xsave_entry_keeps_the_stack(token: Support, failures: &mut u32) -> Result<(), uintr_sys::Error> {
    syscalls::unregister_handler(token)?;
    // SAFETY: ON_INTERRUPT_XSAVE is an entry made with uintr_entry!.
    unsafe { syscalls::register_handler(token, ON_INTERRUPT_XSAVE, HandlerFlags::NONE)? };
    let to_self = syscalls::register_self(token, Vector::new(9)?)?;
    let pattern: [u64; 256] = std::array::from_fn(|i| 0x5a5a_0000_0000_0000 | i as u64);
    let frame = std::hint::black_box(pattern);
    let before = HITS.load(Ordering::Acquire);
    // SAFETY: the token says UINTR is enabled; the table and entry exist.
    unsafe {
        uintr_sys::instructions::clui();
        senduipi(to_self);
        stui();
    }
    check(
        wait_for_hits(before + 1),
        "self interrupt through the xsave entry delivered",
        failures,
    );
    check(
        std::hint::black_box(&frame) == &pattern,
        "the xsave entry left the interrupted frame intact",
        failures,
    );
    println!(
        "uintr-gem5-probe: xsave entry with an XSAVE area of {} bytes",
        uintr_sys::trampoline::xsave_area_size()
    );
    Ok(())
}

fn wait_for_hits(n: u64) -> bool {
    let start = rdtsc();
    while HITS.load(Ordering::Acquire) < n {
        if rdtsc() - start > 10_000_000 {
            return false;
        }
    }
    true
}

fn check(ok: bool, what: &str, failures: &mut u32) {
    if !ok {
        eprintln!("uintr-gem5-probe: FAILED: {what}");
        *failures += 1;
    }
}

fn run(token: Support, events: u64) -> Result<u32, uintr_sys::Error> {
    let mut failures = 0;

    // To self: posted while UIF is clear, delivered by stui.
    // SAFETY: ON_INTERRUPT is an entry made with uintr_entry!.
    unsafe { syscalls::register_handler(token, ON_INTERRUPT, HandlerFlags::NONE)? };
    let to_self = syscalls::register_self(token, Vector::new(7)?)?;
    // SAFETY: the token says UINTR is enabled; the table and entry exist.
    unsafe {
        check(!testui(), "UIF is clear after registration", &mut failures);
        senduipi(to_self);
        stui();
    }
    check(wait_for_hits(1), "self interrupt delivered", &mut failures);
    check(
        LAST_VECTOR.load(Ordering::Relaxed) == 7,
        "vector 7 delivered",
        &mut failures,
    );

    // To a receiver on another core, `events` times: sender TSC before senduipi to the
    // handler's TSC (the trampoline and the handler's prologue included).
    let (tx, rx) = mpsc::channel();
    let receiver = std::thread::spawn(move || -> Result<(), uintr_sys::Error> {
        // SAFETY: as above.
        unsafe { syscalls::register_handler(token, ON_INTERRUPT, HandlerFlags::NONE)? };
        let fd = syscalls::vector_fd(token, Vector::new(12)?)?;
        tx.send(fd).expect("main thread waits for the fd");
        // SAFETY: this thread is a receiver now.
        unsafe { stui() };
        while !DONE.load(Ordering::Acquire) {
            std::hint::spin_loop();
        }
        syscalls::unregister_handler(token)
    });
    let fd = rx.recv().expect("receiver sends its vector fd");
    let index = syscalls::register_sender(token, fd.as_fd())?;
    let mut total = 0u64;
    let mut measured = 0u64;
    for i in 0..events {
        let before = HITS.load(Ordering::Acquire);
        let start = rdtsc();
        while rdtsc() - start < 4000 {}
        let t0 = rdtsc();
        // SAFETY: index is a valid entry of this process's table.
        unsafe { senduipi(index) };
        if !wait_for_hits(before + 1) {
            check(false, "cross-core interrupt delivered", &mut failures);
            break;
        }
        if i > 0 {
            total += ENTRY_TSC.load(Ordering::Relaxed) - t0;
            measured += 1;
        }
    }
    check(
        LAST_VECTOR.load(Ordering::Relaxed) == 12,
        "vector 12 delivered to the other core",
        &mut failures,
    );
    DONE.store(true, Ordering::Release);
    receiver.join().expect("receiver thread")?;
    xsave_entry_keeps_the_stack(token, &mut failures)?;
    if measured > 0 {
        println!(
            "RESULT test=rust_e2e events={measured} end_to_end={:.1}",
            total as f64 / measured as f64
        );
    }
    Ok(failures)
}

fn main() -> ExitCode {
    let events = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10u64);
    let d = detect();
    println!("uintr-gem5-probe: {}", d.reason());
    let Some(token) = d.support() else {
        println!("RESULT test=rust_probe skipped=no-uintr");
        return ExitCode::from(2);
    };
    match run(token, events) {
        Ok(0) => {
            println!("RESULT test=rust_probe ok=1");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("RESULT test=rust_probe ok=0 failures={n}");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("uintr-gem5-probe: {e}");
            ExitCode::FAILURE
        }
    }
}
