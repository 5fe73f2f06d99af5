//! # uintr-sys
//!
//! The raw layer of Intel user interrupts (UINTR, "UIPI"): the instructions, the syscalls of
//! Intel's UINTR kernel, the UPID/UITT memory structures, detection, and the handler trampoline.
//! Everything above it (`nemo-user`) is safe; this crate is small and every `unsafe fn` states the
//! CPU or kernel condition it needs.
//!
//! No UINTR syscall can be made without a [`Support`] token, and only [`detect()`] hands one out,
//! after both the CPU (CPUID) and the kernel (`/proc/cpuinfo`) say user interrupts exist. On
//! mainline Linux the UINTR syscall numbers belong to other calls, so this gate is what keeps a
//! program from calling, say, `rseq_slice_yield` while believing it registered a handler.
//!
//! ```
//! use uintr_sys::{detect, Upid, Vector, PostOutcome};
//!
//! let d = detect();
//! println!("UINTR: {} — {}", d.is_available(), d.reason());
//!
//! // The UPID semantics are usable (and testable) everywhere:
//! let upid = Upid::new();
//! assert_eq!(upid.post(Vector::new(3)?), PostOutcome::Notify);
//! assert_eq!(upid.post(Vector::new(3)?), PostOutcome::Outstanding); // coalesced
//! assert_eq!(upid.take(), 1 << 3);
//! # Ok::<(), uintr_sys::Error>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod detect;
pub mod error;
#[cfg(target_arch = "x86_64")]
pub mod instructions;
pub mod structures;
pub mod syscalls;

pub use detect::{Detection, Support, detect};
pub use error::{Error, Result};
pub use structures::{PostOutcome, UittEntry, UittIndex, Upid, UpidControl, Vector};
