//! The `uintr` backend against what the hardware and Intel's UINTR kernel do that a kind
//! emulation would hide (UINTR-ABI.md §4b): a self-send enters the handler at once, the target
//! table has 256 slots, and a re-registering thread gets its old UPID back. Run on `uintr-sys`'s
//! emulation, which behaves that way.

mod interrupt_support;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use interrupt_support::{Flavor, VectorLog, wait_for};
use nemo_user::ErrorKind;
use nemo_user::interrupt::{Guard, Receiver, Sender};

/// A hang here is the failure: longer than any scheduling delay.
const DEADLOCK: Duration = Duration::from_secs(30);

#[test]
fn a_handler_that_drops_its_receiver_on_a_self_send_does_not_deadlock() {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let slot: Rc<RefCell<Option<Receiver>>> = Rc::new(RefCell::new(None));
        let in_handler = slot.clone();
        let rx = Receiver::builder()
            .uintr_emulated(true)
            .register(move |_| drop(in_handler.borrow_mut().take()))
            .unwrap();
        let tx = rx.endpoint().connect(3).unwrap();
        *slot.borrow_mut() = Some(rx);
        let first = tx.send();
        let dropped = slot.borrow().is_none();
        done_tx.send((first, dropped, tx.send())).unwrap();
    });
    let (first, dropped, second) = done_rx.recv_timeout(DEADLOCK).expect(
        "the send never returned: the handler's drop waits for the send bracket it interrupted",
    );
    assert_eq!(first, Ok(()));
    assert!(dropped, "the handler ran and dropped the receiver");
    assert_eq!(second.map_err(|e| e.kind()), Err(ErrorKind::ReceiverGone));
}

#[test]
fn more_senders_than_target_table_slots_can_connect_to_one_vector() {
    let log = VectorLog::new(4);
    let l = log.clone();
    let rx = Receiver::builder()
        .uintr_emulated(true)
        .register(move |v| l.push(v.get()))
        .unwrap();
    let ep = rx.endpoint();
    // The process's table has 256 slots.
    let senders: Vec<Sender> = (0..400)
        .map(|i| {
            ep.connect(5)
                .unwrap_or_else(|e| panic!("connection {i}: {e}"))
        })
        .collect();
    std::thread::scope(|s| {
        s.spawn(|| senders[399].send().unwrap());
    });
    wait_for(Flavor::UintrEmulated, "vector 5", || log.len() == 1);
    assert_eq!(log.snapshot(), [5]);
}

#[test]
fn vectors_posted_before_a_re_registration_do_not_reach_the_new_handler() {
    std::thread::spawn(|| {
        let first = Receiver::builder()
            .uintr_emulated(true)
            .register(|_| panic!("delivery is held by the guard"))
            .unwrap();
        let stale = first.endpoint().connect(6).unwrap();
        {
            let _held = Guard::new();
            stale.send().unwrap();
            drop(first);
        }
        let log = VectorLog::new(4);
        let l = log.clone();
        let second = Receiver::builder()
            .uintr_emulated(true)
            .register(move |v| l.push(v.get()))
            .unwrap();
        let fresh = second.endpoint().connect(7).unwrap();
        std::thread::scope(|s| {
            s.spawn(|| fresh.send().unwrap());
        });
        wait_for(Flavor::UintrEmulated, "vector 7", || log.len() >= 1);
        assert_eq!(
            log.snapshot(),
            [7],
            "only what was sent to the new receiver arrives"
        );
    })
    .join()
    .unwrap();
}
