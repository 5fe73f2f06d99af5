//! The `uintr` backend's own path — trampoline entry, `uiret`, the CPU's notification processing,
//! guards as `clui`/`stui` — driven by `uintr-sys`'s emulation, so it is tested on machines
//! without user interrupts. (The shared semantics run on it too, in the other test files.)

mod interrupt_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use interrupt_support::{Flavor, VectorLog, wait_for};
use nemo_user::BackendKind;
use nemo_user::ErrorKind;
use nemo_user::am::Domain;
use nemo_user::interrupt::{Guard, Receiver};
use uintr_sys::emulation;

#[test]
fn deliveries_enter_through_the_trampoline_and_leave_by_uiret() {
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(move |_| {
            h.fetch_add(1, SeqCst);
        })
        .unwrap();
    assert_eq!(rx.endpoint().backend(), BackendKind::Uintr);
    let (entries, uirets) = (emulation::delivery_count(), emulation::uiret_count());
    let ep = rx.endpoint();
    std::thread::scope(|s| {
        s.spawn(|| {
            let tx = ep.connect(2).unwrap();
            for i in 1..=200 {
                tx.send().unwrap();
                while hits.load(SeqCst) < i {
                    std::thread::yield_now();
                }
            }
        });
    });
    assert_eq!(hits.load(SeqCst), 200);
    // Other tests of this binary may use the emulation at the same time: at least ours counted.
    assert!(emulation::delivery_count() - entries >= 200);
    assert!(emulation::uiret_count() - uirets >= 200);
}

#[test]
fn notification_processing_delivers_the_highest_vector_first() {
    let log = VectorLog::new(64);
    let l = log.clone();
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(move |v| l.push(v.get()))
        .unwrap();
    // Block delivery with the (emulated) UIF itself rather than a guard, so that the pending
    // vectors are taken by the handler's notification processing, one entry per vector.
    emulation::clui();
    let ep = rx.endpoint();
    std::thread::scope(|s| {
        s.spawn(|| {
            for v in [5u64, 61, 5, 0, 33, 12] {
                ep.connect(v).unwrap().send().unwrap();
            }
        });
    });
    assert_eq!(log.len(), 0);
    // Pending in the (emulated) CPU, not deferred in software: invisible, as on the hardware.
    assert_eq!(rx.pending(), 0);
    let entries = emulation::delivery_count();
    emulation::stui();
    wait_for(Flavor::UintrEmulated, "five vectors", || log.len() == 5);
    assert_eq!(log.snapshot(), [61, 33, 12, 5, 0]);
    assert!(
        emulation::delivery_count() - entries >= 5,
        "one trampoline entry per vector, as the CPU does"
    );
}

#[test]
fn a_guard_is_clui_and_its_drop_is_stui() {
    let log = VectorLog::new(8);
    let l = log.clone();
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(move |v| l.push(v.get()))
        .unwrap();
    assert!(emulation::testui(), "registration enabled delivery");
    {
        let _g = Guard::new();
        assert!(!emulation::testui(), "the guard cleared UIF");
        {
            let _inner = Guard::new();
        }
        assert!(
            !emulation::testui(),
            "an inner guard's drop leaves UIF clear"
        );
        let ep = rx.endpoint();
        std::thread::scope(|s| {
            s.spawn(|| ep.connect(7).unwrap().send().unwrap());
        });
        assert_eq!(log.len(), 0);
    }
    assert!(emulation::testui());
    assert_eq!(log.snapshot(), [7]);
    drop(rx);
    // Without a uintr receiver, guards leave the flag alone.
    emulation::stui();
    {
        let _g = Guard::new();
        assert!(emulation::testui());
    }
}

#[test]
fn a_guard_held_across_registration_keeps_delivery_off() {
    let log = VectorLog::new(8);
    let l = log.clone();
    let g = Guard::new();
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(move |v| l.push(v.get()))
        .unwrap();
    assert!(!emulation::testui());
    let tx = rx.endpoint().connect(1).unwrap();
    tx.send().unwrap(); // to oneself: held by the guard
    assert_eq!(log.len(), 0);
    drop(g);
    assert!(emulation::testui());
    assert_eq!(log.snapshot(), [1]);
}

#[test]
fn emulated_endpoints_stay_in_their_process_and_die_with_their_receiver() {
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(|_| {})
        .unwrap();
    let tx = rx.endpoint().connect(9).unwrap();
    assert_eq!(
        rx.endpoint().connect(64).map_err(|e| e.to_string()).err(),
        Some("user-interrupt vector 64 is out of range (valid: 0..64)".to_string())
    );
    drop(rx);
    assert_eq!(
        tx.send().map_err(|e| e.kind()),
        Err(ErrorKind::ReceiverGone)
    );
    let ep = std::thread::spawn(|| {
        Receiver::builder()
            .uintr_emulated(true)
            .register(|_| {})
            .unwrap()
            .endpoint()
    })
    .join()
    .unwrap();
    assert_eq!(ep.connect(0).unwrap_err().kind(), ErrorKind::ReceiverGone);
}

#[test]
fn active_messages_run_over_the_emulated_uintr_path() {
    let domain = Domain::default();
    let sum = Arc::new(AtomicU64::new(0));
    let s = sum.clone();
    let add = domain
        .register_action(move |x| {
            s.fetch_add(x, SeqCst);
        })
        .unwrap();
    let target = domain
        .register_target_with(Receiver::builder().uintr_emulated(true), |_| {})
        .unwrap();
    assert_eq!(target.receiver().endpoint().backend(), BackendKind::Uintr);
    let (d, id) = (domain.clone(), target.id());
    std::thread::spawn(move || {
        for x in 1..=1000 {
            while d.notify(id, add, x).is_err() {
                std::thread::yield_now();
            }
        }
    })
    .join()
    .unwrap();
    wait_for(Flavor::UintrEmulated, "1000 messages", || {
        sum.load(SeqCst) == 500_500
    });
}
