//! `sched::preemptible` on the `signal` backend: a tick preempts a task at any instruction inside
//! the region (the handler rewrites the signal's context), and nowhere else.
#![cfg(feature = "sched")]

use nemo_user::BackendKind;
use nemo_user::interrupt::Guard;
use nemo_user::sched::{Builder, Runtime, preemptible, safepoint};

#[path = "preemptible_cases/mod.rs"]
mod cases;

fn signal() -> Builder {
    Runtime::builder().backend(BackendKind::Signal)
}

#[test]
fn a_tight_loop_is_preempted() {
    cases::a_tight_loop_is_preempted(signal());
}

#[test]
fn outside_a_region_nothing_is_switched() {
    cases::outside_a_region_nothing_is_switched(signal());
}

#[test]
fn a_guard_defers_preemption() {
    cases::a_guard_defers_preemption(signal());
}

#[test]
fn registers_survive_preemption() {
    cases::registers_survive_preemption(signal());
}

#[test]
fn a_storm_keeps_exact_counts() {
    cases::a_storm_keeps_exact_counts(signal(), 2, 2_000);
}

/// Lazy ticks (`Builder::lazy_ticks`): a task that reaches no safepoint leaves its tick
/// untaken, and the next tick interrupts it, so the region is still preempted at any
/// instruction, with every register intact and every count exact.
fn signal_lazy() -> Builder {
    signal().lazy_ticks(true)
}

#[test]
fn lazy_ticks_still_preempt_a_tight_loop() {
    cases::a_tight_loop_is_preempted(signal_lazy());
}

#[test]
fn lazy_ticks_keep_registers() {
    cases::registers_survive_preemption(signal_lazy());
}

#[test]
fn lazy_ticks_keep_exact_counts_in_a_storm() {
    cases::a_storm_keeps_exact_counts(signal_lazy(), 2, 2_000);
}

#[test]
fn lazy_ticks_respect_a_guard() {
    cases::a_guard_defers_preemption(signal_lazy());
}

#[test]
fn poll_preempts_only_at_safepoints() {
    // On `poll` the region changes nothing: the spinner keeps its worker until its deadline.
    let rt = Runtime::builder()
        .backend(BackendKind::Poll)
        .workers(1)
        .quantum(std::time::Duration::from_micros(200))
        .build()
        .expect("poll runs everywhere");
    let ran = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let spinner = {
        let ran = ran.clone();
        rt.spawn(move || {
            preemptible(|| cases::spin_for(&ran, std::time::Duration::from_millis(100)))
        })
    };
    let other = {
        let ran = ran.clone();
        rt.spawn(move || ran.store(true, std::sync::atomic::Ordering::Relaxed))
    };
    assert!(!spinner.join().unwrap(), "poll switched between safepoints");
    other.join().unwrap();
    rt.shutdown();
}
