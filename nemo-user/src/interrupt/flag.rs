//! The thread's user-interrupt flag (UIF): what a [`Guard`](super::Guard) clears and sets.
//!
//! Only a `uintr` receiver has one, and it is either the CPU's (`clui`/`stui`) or the emulation's
//! (a blocked signal). Which one is recorded per thread in [`ThreadState::uif`], set by the
//! `uintr` backend when its receiver becomes reachable and cleared when it goes, so that a guard
//! on any thread drives the right flag without knowing about backends. On the software backends
//! a guard's counter alone defers delivery.

use core::sync::atomic::Ordering::Relaxed;

use uintr_sys::emulation;

use super::thread::ThreadState;

/// Values of [`ThreadState::uif`]: who implements the thread's user-interrupt flag.
pub(crate) mod uif {
    /// The thread has no `uintr` receiver: guards touch no flag.
    pub const NONE: u8 = 0;
    /// The CPU's UIF (`clui`/`stui`).
    pub const CPU: u8 = 1;
    /// The emulation's (a blocked signal).
    pub const EMULATED: u8 = 2;
}

/// `stui` / `clui` for the calling thread's `uintr` receiver; nothing without one.
#[inline]
pub(crate) fn set_uif(ts: &ThreadState, enabled: bool) {
    match ts.uif.load(Relaxed) {
        // SAFETY: a CPU-mode receiver exists only where UINTR is enabled for this process.
        uif::CPU => unsafe {
            if enabled {
                uintr_sys::instructions::stui();
            } else {
                uintr_sys::instructions::clui();
            }
        },
        uif::EMULATED => {
            if enabled {
                emulation::stui();
            } else {
                emulation::clui();
            }
        }
        _ => {}
    }
}
