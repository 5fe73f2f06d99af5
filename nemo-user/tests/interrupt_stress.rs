//! Raw user interrupts under stress: nothing lost, nothing duplicated, on every software backend.

mod interrupt_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use interrupt_support::{Flavor, wait_for, wait_progress};
use nemo_user::ErrorKind;
use nemo_user::interrupt::Guard;

const SENDERS: usize = 4;

/// Ping-pong: each sender sends its vector and waits for the delivery before the next send, so
/// every send must be delivered exactly once — the count of deliveries equals the count of sends.
fn exactly_once(flavor: Flavor, rounds: u64) {
    let delivered: Arc<Vec<AtomicU64>> = Arc::new((0..64).map(|_| AtomicU64::new(0)).collect());
    let d = delivered.clone();
    let rx = flavor
        .builder()
        .register(move |v| {
            d[v.get() as usize].fetch_add(1, SeqCst);
        })
        .unwrap();
    let ep = rx.endpoint();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (ep, delivered) = (ep.clone(), delivered.clone());
            std::thread::spawn(move || {
                let v = 10 + s as u64;
                let tx = ep.connect(v).unwrap();
                for i in 1..=rounds {
                    tx.send().unwrap();
                    while delivered[v as usize].load(SeqCst) < i {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    let round_trips = || (0..SENDERS).map(|s| delivered[10 + s].load(SeqCst)).sum();
    wait_progress(
        flavor,
        "all round trips",
        round_trips,
        SENDERS as u64 * rounds,
    );
    for s in senders {
        s.join().unwrap();
    }
    // Nothing extra arrives later either.
    nemo_user::poll();
    for (v, n) in delivered.iter().enumerate() {
        let want = if (10..10 + SENDERS).contains(&v) {
            rounds
        } else {
            0
        };
        assert_eq!(n.load(SeqCst), want, "{flavor}: vector {v}");
    }
}

#[test]
fn every_round_trip_is_delivered_exactly_once_signal() {
    exactly_once(Flavor::Signal, 100_000);
}

#[test]
fn every_round_trip_is_delivered_exactly_once_poll() {
    exactly_once(Flavor::Poll, 100_000);
}

#[test]
fn every_round_trip_is_delivered_exactly_once_uintr_emulated() {
    exactly_once(Flavor::UintrEmulated, 25_000);
}

/// Free-running senders: sends coalesce, so deliveries ≤ sends; and the last send of every
/// sender is followed by a delivery that sees it (the handler reads the sequence number the
/// sender published before sending). That is "no posted vector is ever lost" under contention,
/// with guards taken and dropped on the receiver all the while.
fn no_send_is_lost(flavor: Flavor, per_sender: u64) {
    let seq: Arc<Vec<AtomicU64>> = Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    let seen: Arc<Vec<AtomicU64>> = Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    let calls: Arc<Vec<AtomicU64>> = Arc::new((0..SENDERS).map(|_| AtomicU64::new(0)).collect());
    let (q, s2, c) = (seq.clone(), seen.clone(), calls.clone());
    let rx = flavor
        .builder()
        .register(move |v| {
            let s = v.get() as usize - 20;
            c[s].fetch_add(1, SeqCst);
            s2[s].store(q[s].load(SeqCst), SeqCst);
        })
        .unwrap();
    let ep = rx.endpoint();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (ep, seq) = (ep.clone(), seq.clone());
            std::thread::spawn(move || {
                let tx = ep.connect(20 + s as u64).unwrap();
                for i in 1..=per_sender {
                    seq[s].store(i, SeqCst);
                    tx.send().unwrap();
                }
            })
        })
        .collect();
    let mut rounds = 0u64;
    while senders.iter().any(|s| !s.is_finished()) {
        let _g = Guard::new();
        rounds += 1;
        if rounds.is_multiple_of(3) {
            nemo_user::poll(); // deferred inside the guard
        }
        std::thread::yield_now();
    }
    for s in senders {
        s.join().unwrap();
    }
    wait_for(flavor, "the last send of every sender", || {
        (0..SENDERS).all(|s| seen[s].load(SeqCst) == per_sender)
    });
    for s in 0..SENDERS {
        let n = calls[s].load(SeqCst);
        assert!(
            (1..=per_sender).contains(&n),
            "{flavor}: sender {s}: {n} deliveries"
        );
    }
    drop(rx);
}

#[test]
fn no_send_is_lost_under_contention_signal() {
    no_send_is_lost(Flavor::Signal, 250_000);
}

#[test]
fn no_send_is_lost_under_contention_poll() {
    no_send_is_lost(Flavor::Poll, 250_000);
}

#[test]
fn no_send_is_lost_under_contention_uintr_emulated() {
    no_send_is_lost(Flavor::UintrEmulated, 250_000);
}

/// Receivers come and go while senders hammer them: sends either succeed or fail with
/// `ReceiverGone`, never crash, never signal a dead thread (the tid-reuse race).
#[test]
fn receivers_come_and_go_under_fire() {
    for flavor in Flavor::ALL {
        for _ in 0..300 {
            let (tx_ep, rx_ep) = std::sync::mpsc::channel();
            let receiver = std::thread::spawn(move || {
                let rx = flavor.builder().register(|_| {}).unwrap();
                tx_ep.send(rx.endpoint()).unwrap();
                for _ in 0..50 {
                    nemo_user::poll();
                    std::thread::yield_now();
                }
            });
            let ep = rx_ep.recv().unwrap();
            let tx = match ep.connect(1) {
                Ok(tx) => tx,
                Err(e) if e.kind() == ErrorKind::ReceiverGone => {
                    receiver.join().unwrap();
                    continue;
                }
                Err(e) => panic!("{flavor}: {e}"),
            };
            let mut gone = false;
            for _ in 0..10_000 {
                match tx.send() {
                    Ok(()) => assert!(!gone, "{flavor}: a send succeeded after ReceiverGone"),
                    Err(e) if e.kind() == ErrorKind::ReceiverGone => gone = true,
                    Err(e) => panic!("{flavor}: {e}"),
                }
                if gone {
                    break;
                }
            }
            receiver.join().unwrap();
            assert_eq!(
                tx.send().map_err(|e| e.kind()),
                Err(ErrorKind::ReceiverGone)
            );
        }
    }
}
