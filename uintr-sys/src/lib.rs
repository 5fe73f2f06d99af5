//! # uintr-sys
//!
//! The raw layer of Intel user interrupts (UINTR, "UIPI"): the instructions, the syscalls of
//! Intel's UINTR kernel, the UPID/UITT memory structures, detection, the handler trampoline, and
//! a software emulation of delivery for machines without UINTR. Everything above it
//! (`nemo-user`) is safe; this crate is small and every `unsafe fn` states the CPU or kernel
//! condition it needs.
//!
//! | module | what |
//! |---|---|
//! | [`detect`](mod@detect) | CPUID + `/proc/cpuinfo` detection, the ABI revision probe and the [`Support`] token |
//! | [`syscalls`] | `uintr_register_handler` … `uintr_ipi_fd`, gated by the token |
//! | [`instructions`] | `senduipi`, `clui`, `stui`, `testui`, WAITPKG, `rdtsc` |
//! | [`structures`] | [`Upid`] (with the lossless post/take protocol) and [`UittEntry`] |
//! | [`trampoline`] | the handler entry ([`uintr_entry!`]) and its [`Frame`](trampoline::Frame) |
//! | [`target_table`] | the process's target table: shared, serialised sender indices |
//! | [`emulation`] | delivery, `uiret` and the kernel's calls done in software with signals |
//! | [`clock`] | `CLOCK_MONOTONIC` nanoseconds, the ordered TSC read and its calibrated rate |
//! | [`futex`] | `futex(2)`: the waits, wakes and requeue that nemo's blocking is made of |
//!
//! No UINTR syscall can be made without a [`Support`] token, and only [`detect()`] hands one out,
//! after both the CPU (CPUID) and the kernel (`/proc/cpuinfo`) say user interrupts exist and a
//! side-effect-free probe has found the ABI revision these wrappers speak ([`AbiRevision`]). On
//! mainline Linux the UINTR syscall numbers belong to other calls, so this gate is what keeps a
//! program from calling, say, `rseq_slice_yield` while believing it registered a handler.
//!
//! ```
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use uintr_sys::trampoline::Frame;
//! use uintr_sys::{PostOutcome, Upid, Vector, detect, emulation};
//!
//! // A receiver: a UPID that senders post into, and a handler that drains it.
//! static UPID: Upid = Upid::new();
//! static RECEIVED: AtomicU64 = AtomicU64::new(0);
//!
//! extern "C" fn on_interrupt(_frame: &mut Frame, _vector: u64) {
//!     RECEIVED.fetch_or(UPID.take(), Ordering::Relaxed);
//! }
//! uintr_sys::uintr_entry!(ENTRY => on_interrupt, xsave);
//!
//! # fn main() -> uintr_sys::Result<()> {
//! let d = detect();
//! println!("UINTR: {} — {}", d.is_available(), d.reason());
//!
//! // Sending: post the vector (coalescing like the CPU), notify only when asked to.
//! let v = Vector::new(3)?;
//! assert_eq!(UPID.post(v), PostOutcome::Notify);
//! assert_eq!(UPID.post(v), PostOutcome::Outstanding); // coalesced: no second notification
//!
//! if let Some(support) = d.support() {
//!     use uintr_sys::{instructions, syscalls};
//!     // SAFETY: ENTRY is a user-interrupt entry and stays valid for the program's life.
//!     unsafe { syscalls::register_handler(support, ENTRY, syscalls::HandlerFlags::NONE)? };
//!     let index = syscalls::register_self(support, v)?;
//!     // SAFETY: the token says UINTR is enabled; register_self gave this thread a table and
//!     // `index` is a valid entry of it.
//!     unsafe {
//!         instructions::stui();
//!         instructions::senduipi(index);
//!     }
//!     // A self-interrupt arrives within a few instructions, not necessarily the next one.
//!     while RECEIVED.load(Ordering::Relaxed) == 0 {
//!         std::hint::spin_loop();
//!     }
//!     syscalls::unregister_sender(support, index)?;
//!     syscalls::unregister_handler(support)?;
//! } else {
//!     emulation::install()?;
//!     // SAFETY: ENTRY is a user-interrupt entry; its handler only touches atomics.
//!     unsafe { emulation::deliver(ENTRY, v)? };
//! }
//! assert_eq!(RECEIVED.load(Ordering::Relaxed), v.bit());
//! # Ok(()) }
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod clock;
pub mod detect;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod emulation;
pub mod error;
pub mod futex;
#[cfg(target_arch = "x86_64")]
pub mod instructions;
pub mod structures;
pub mod syscalls;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub mod target_table;
#[cfg(target_arch = "x86_64")]
pub mod trampoline;

pub use detect::{AbiRevision, Detection, Support, detect};
pub use error::{Error, Result};
pub use structures::{PostOutcome, UittEntry, UittIndex, Upid, UpidControl, Vector};
