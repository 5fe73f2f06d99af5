//! Active-message semantics: lookup errors, full mailboxes, coalescing without loss, broadcast,
//! C actions, and target lifecycle.

mod interrupt_support;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};

use interrupt_support::{SOFTWARE, counting, described, wait_until};
use nemo_user::am::{ActionId, Domain, TargetId};
use nemo_user::interrupt::{Guard, Receiver, Vector};
use nemo_user::{BackendKind, ErrorKind};

#[test]
fn unknown_actions_and_targets_are_errors() {
    let domain = Domain::builder().backend(BackendKind::Poll).build();
    let (add, _) = counting(&domain);
    let target = domain.register_target().unwrap();
    let bogus_action = ActionId::from(77);
    let unknown_action = Err((
        ErrorKind::InvalidArgument,
        format!("unknown action {bogus_action}"),
    ));
    assert_eq!(
        described(domain.notify(target.id(), bogus_action, 1)),
        unknown_action
    );
    assert_eq!(
        described(domain.broadcast(bogus_action, 1).map(drop)),
        unknown_action
    );
    let unknown_target =
        |id: TargetId| Err((ErrorKind::UnknownTarget, format!("unknown target {id}")));
    for bogus in [TargetId::from(5), TargetId::from(u32::MAX)] {
        assert_eq!(
            described(domain.notify(bogus, add, 1)),
            unknown_target(bogus)
        );
    }
    let id = target.id();
    drop(target);
    assert_eq!(described(domain.notify(id, add, 1)), unknown_target(id));
    // A new target in the same slot does not answer to the old id.
    let again = domain.register_target().unwrap();
    assert_eq!(again.id().index(), id.index());
    assert_ne!(again.id(), id);
    let e = domain.notify(id, add, 1).unwrap_err();
    assert_eq!(described::<()>(Err(e.clone())), unknown_target(id));
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(domain.notify(again.id(), add, 1).is_ok());
}

#[test]
fn a_full_mailbox_hands_the_payload_back() {
    let domain = Domain::builder()
        .backend(BackendKind::Poll)
        .mailbox(3)
        .build();
    let (add, sum) = counting(&domain);
    let target = domain.register_target().unwrap();
    let id = target.id();
    let d = domain.clone();
    std::thread::spawn(move || {
        for x in [1, 2, 4] {
            d.notify(id, add, x).unwrap();
        }
        let e = d.notify(id, add, 0xdead_beef).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MailboxFull);
        assert_eq!(e.returned_payload(), Some(0xdead_beef));
        assert_eq!(
            e.to_string(),
            format!(
                "the mailbox of target {id} is full (action {add}, payload 0xdeadbeef returned)"
            )
        );
        assert_eq!(e.errno(), libc::EAGAIN);
    })
    .join()
    .unwrap();
    assert_eq!(target.queued(), 3);
    assert_eq!(nemo_user::poll(), 1, "one interrupt for three messages");
    assert_eq!(sum.load(SeqCst), 7);
    assert!(domain.notify(id, add, 8).is_ok(), "room again");
}

#[test]
fn coalesced_interrupts_lose_no_message_and_keep_order() {
    for kind in SOFTWARE {
        let domain = Domain::builder().backend(kind).mailbox(4096).build();
        let order = Arc::new(AtomicU64::new(0));
        let broken = Arc::new(AtomicUsize::new(0));
        let (o, b) = (order.clone(), broken.clone());
        let next = domain
            .register_action(move |x| {
                if o.swap(x + 1, SeqCst) != x {
                    b.fetch_add(1, SeqCst);
                }
            })
            .unwrap();
        let target = domain.register_target().unwrap();
        let id = target.id();
        {
            let _g = Guard::new();
            let d = domain.clone();
            std::thread::spawn(move || {
                for x in 0..3000 {
                    d.notify(id, next, x).unwrap();
                }
            })
            .join()
            .unwrap();
            assert_eq!(target.receiver().pending(), 1 << domain.vector().get());
            assert_eq!(order.load(SeqCst), 0, "{kind}: nothing ran under the guard");
        }
        assert_eq!(
            order.load(SeqCst),
            3000,
            "{kind}: all 3000 ran at the guard drop"
        );
        assert_eq!(broken.load(SeqCst), 0, "{kind}: in order");
    }
}

#[test]
fn broadcast_reaches_every_target() {
    for kind in SOFTWARE {
        let domain = Domain::builder().backend(kind).build();
        let (add, sum) = counting(&domain);
        let ready = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (d, r, st, s) = (domain.clone(), ready.clone(), stop.clone(), sum.clone());
                std::thread::spawn(move || {
                    let _t = d.register_target().unwrap();
                    r.fetch_add(1, SeqCst);
                    wait_until(kind, "broadcasts", || s.load(SeqCst) == 3 * 111);
                    st.fetch_add(1, SeqCst);
                    while st.load(SeqCst) < 3 {
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        while ready.load(SeqCst) < 3 {
            std::thread::yield_now();
        }
        assert_eq!(domain.broadcast(add, 100), Ok(3));
        assert_eq!(domain.broadcast(add, 11), Ok(3));
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(sum.load(SeqCst), 333, "{kind}");
        // All targets are gone now.
        assert_eq!(domain.broadcast(add, 1), Ok(0));
    }
}

#[test]
fn broadcast_reports_targets_it_could_not_reach() {
    let domain = Domain::builder()
        .backend(BackendKind::Poll)
        .mailbox(1)
        .build();
    let (add, sum) = counting(&domain);
    let me = domain.register_target().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let d = domain.clone();
    let other = std::thread::spawn(move || {
        let t = d.register_target().unwrap();
        tx.send(()).unwrap();
        done_rx.recv().unwrap();
        drop(t);
    });
    rx.recv().unwrap();
    domain.notify(me.id(), add, 1).unwrap(); // fills my one-slot mailbox
    let e = domain.broadcast(add, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BroadcastIncomplete);
    assert_eq!(e.notified(), Some(1));
    assert_eq!(
        e.to_string(),
        "broadcast incomplete: 1 targets notified, 1 failed"
    );
    done_tx.send(()).unwrap();
    other.join().unwrap();
    nemo_user::poll();
    assert_eq!(
        sum.load(SeqCst),
        11,
        "the other target's drop ran its message"
    );
}

#[test]
fn a_target_can_take_its_own_vectors_too() {
    let domain = Domain::builder()
        .backend(BackendKind::Poll)
        .vector(Vector::new(5).unwrap())
        .build();
    let (add, sum) = counting(&domain);
    let others = Arc::new(Mutex::new(Vec::new()));
    let o = others.clone();
    let target = domain
        .register_target_with(
            Receiver::builder()
                .backend(BackendKind::Poll)
                .vectors(1 << 40),
            move |v| o.lock().unwrap().push(v.get()),
        )
        .unwrap();
    assert_eq!(domain.vector().get(), 5);
    let tick = target.receiver().endpoint().connect(40).unwrap();
    let id = target.id();
    std::thread::scope(|s| {
        s.spawn(|| {
            domain.notify(id, add, 3).unwrap();
            tick.send().unwrap();
        });
    });
    assert_eq!(nemo_user::poll(), 2);
    assert_eq!(sum.load(SeqCst), 3);
    assert_eq!(*others.lock().unwrap(), [40]);
}

#[test]
fn dropping_a_target_runs_what_was_queued() {
    let domain = Domain::builder().backend(BackendKind::Poll).build();
    let (add, sum) = counting(&domain);
    let target = domain.register_target().unwrap();
    let id = target.id();
    let d = domain.clone();
    std::thread::spawn(move || {
        for x in 0..100 {
            d.notify(id, add, x).unwrap();
        }
    })
    .join()
    .unwrap();
    drop(target);
    assert_eq!(sum.load(SeqCst), 4950);
}

#[test]
fn tables_are_bounded() {
    let domain = Domain::builder()
        .backend(BackendKind::Poll)
        .actions(2)
        .targets(1)
        .build();
    domain.register_action(|_| {}).unwrap();
    domain.register_action(|_| {}).unwrap();
    assert_eq!(
        described(domain.register_action(|_| {})),
        Err((
            ErrorKind::ResourceExhausted,
            "the action descriptor table is full (2 actions)".to_string()
        ))
    );
    let _mine = domain.register_target().unwrap();
    let d = domain.clone();
    let e = std::thread::spawn(move || d.register_target().map(|_| ()).unwrap_err())
        .join()
        .unwrap();
    assert_eq!(
        (e.kind(), e.to_string().as_str()),
        (
            ErrorKind::ResourceExhausted,
            "the target table is full (1 targets)"
        )
    );
    // The thread already has a receiver: one per thread.
    assert_eq!(
        domain.register_target().unwrap_err().kind(),
        ErrorKind::AlreadyRegistered
    );
}
