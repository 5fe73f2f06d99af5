//! Prints what `uintr-sys` detects on this machine and why (including the kernel's UINTR ABI
//! revision, when the CPU and kernel checks pass), the syscall ABI it would use, and
//! whether the software emulation of delivery works here.
//!
//! ```text
//! cargo run -p uintr-sys --example detect
//! UINTR_DISABLE=1 cargo run -p uintr-sys --example detect
//! ```

use uintr_sys::syscalls::ABI;
use uintr_sys::{Error, detect, emulation, trampoline};

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn row(label: &str, value: &str) {
    println!("  {label:<54} {value}");
}

fn main() {
    let d = detect();
    println!("user interrupts (UINTR)");
    row("CPU: CPUID.(EAX=7,ECX=0):EDX[5]", yes_no(d.cpuid));
    let flag = match d.cpuinfo_flag {
        Some(b) => yes_no(b),
        None => "unknown (/proc/cpuinfo unreadable)",
    };
    row("kernel: `uintr` flag in /proc/cpuinfo", flag);
    row(
        "UINTR_DISABLE set in the environment",
        yes_no(d.disabled_by_env),
    );
    let abi = match d.abi {
        Some(abi) => abi.name(),
        None => "not probed (the checks above did not all pass)",
    };
    row("kernel ABI revision (side-effect-free probe)", abi);
    row("usable", yes_no(d.is_available()));
    println!("  why: {}", d.reason());
    println!();
    println!("related CPU features");
    row(
        "WAITPKG (umonitor/umwait/tpause): CPUID.(7,0):ECX[5]",
        yes_no(d.waitpkg),
    );
    match trampoline::xsave_area_size() {
        0 => row("XSAVE area", "XSAVE not enabled: xsave entries unusable"),
        n => row(
            "XSAVE area for XCR0 state: CPUID.(0xD,0):EBX",
            &format!("{n} bytes"),
        ),
    }
    println!();
    println!("syscall ABI these wrappers speak: {}", ABI.name);
    let table = [
        ("uintr_register_handler", ABI.register_handler),
        ("uintr_unregister_handler", ABI.unregister_handler),
        ("uintr_vector_fd", ABI.vector_fd),
        ("uintr_register_sender", ABI.register_sender),
        ("uintr_unregister_sender", ABI.unregister_sender),
        ("uintr_wait", ABI.wait),
        ("uintr_register_self", ABI.register_self),
        ("uintr_alt_stack", ABI.alt_stack),
        ("uintr_ipi_fd", ABI.ipi_fd),
    ];
    for (name, nr) in table {
        println!("  {nr}  {name}");
    }
    if !d.is_available() {
        println!("  (not called: without the token these numbers may be other syscalls)");
    }
    println!();
    let [plain, interrupting] = emulation::delivery_signals();
    println!(
        "software emulation (delivery signals {plain} and {interrupting} (WAITING_RECEIVER), \
         uiret via SIGILL)"
    );
    match emulation::install() {
        Ok(()) => println!("  works: uiret traps here, so delivery and uiret can be emulated"),
        Err(Error::EmulationUnavailable) => {
            println!("  not needed: uiret executes natively (the kernel enabled UINTR)")
        }
        Err(e) => println!("  unavailable: {e}"),
    }
}
