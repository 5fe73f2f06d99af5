//! The cases of `tests/sched_preemptible.rs` on the `uintr` backend's path: the same trampoline,
//! `Frame` and `uiret` as on the hardware, through `uintr_sys::emulation` (which builds the
//! frame from the delivery signal and emulates `uiret`). Unit tests, because only this crate can
//! build a runtime on the emulation.
use crate::interrupt::Guard;
use crate::sched::{Builder, Runtime, preemptible, safepoint};

#[path = "../../tests/preemptible_cases/mod.rs"]
mod cases;

/// `None` where the emulation cannot run (a CPU with user interrupts enabled).
fn uintr() -> Option<Builder> {
    uintr_sys::emulation::install()
        .is_ok()
        .then(|| Runtime::builder().uintr_emulated())
}

#[test]
fn a_tight_loop_is_preempted() {
    if let Some(b) = uintr() {
        cases::a_tight_loop_is_preempted(b);
    }
}

#[test]
fn outside_a_region_nothing_is_switched() {
    if let Some(b) = uintr() {
        cases::outside_a_region_nothing_is_switched(b);
    }
}

#[test]
fn a_guard_defers_preemption() {
    if let Some(b) = uintr() {
        cases::a_guard_defers_preemption(b);
    }
}

#[test]
fn registers_survive_preemption() {
    if let Some(b) = uintr() {
        cases::registers_survive_preemption(b);
    }
}

#[test]
fn a_storm_keeps_exact_counts() {
    if let Some(b) = uintr() {
        // Three signals per emulated interrupt: far fewer ticks get through a loaded machine.
        cases::a_storm_keeps_exact_counts(b, 1, 500);
    }
}
