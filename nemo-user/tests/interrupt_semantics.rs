//! The one semantics of every software backend: delivery on the receiver thread, coalescing,
//! highest vector first, guards, all 64 vectors, and the errors.

mod interrupt_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering::SeqCst};

use interrupt_support::{Flavor, VectorLog, wait_for, wait_until};
use nemo_user::BackendKind;
use nemo_user::ErrorKind;
use nemo_user::interrupt::{Endpoint, Guard, Receiver, Sender};

fn register_logging(flavor: Flavor, log: &VectorLog) -> Receiver {
    let l = log.clone();
    flavor
        .builder()
        .register(move |v| l.push(v.get()))
        .expect("register")
}

/// Sends each vector of `vectors` once from another thread, and waits for the sends to finish.
fn send_from_other_thread(ep: &Endpoint, vectors: &[u64]) {
    std::thread::scope(|s| {
        s.spawn(|| {
            for &v in vectors {
                ep.connect(v).unwrap().send().unwrap();
            }
        });
    });
}

#[test]
fn handler_runs_on_the_receiver_thread() {
    for flavor in Flavor::ALL {
        let ran_on = Arc::new(AtomicI32::new(0));
        let r = ran_on.clone();
        let rx = flavor
            .builder()
            .register(move |_| {
                // SAFETY: gettid has no preconditions.
                r.store(unsafe { libc::gettid() }, SeqCst)
            })
            .unwrap();
        assert_eq!(rx.endpoint().backend(), flavor.kind());
        assert_eq!(nemo_user::interrupt::current_backend(), Some(flavor.kind()));
        send_from_other_thread(&rx.endpoint(), &[5]);
        wait_for(flavor, "delivery", || ran_on.load(SeqCst) != 0);
        // SAFETY: gettid has no preconditions.
        assert_eq!(ran_on.load(SeqCst), unsafe { libc::gettid() });
        let described = format!("{:?}", rx.endpoint());
        let tid = ran_on.load(SeqCst);
        assert!(described.contains(&format!("tid: {tid},")), "{described}");
    }
}

#[test]
fn a_pending_vector_coalesces_while_guarded() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(64);
        let rx = register_logging(flavor, &log);
        let ep = rx.endpoint();
        {
            let _g = Guard::new();
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        let tx = ep.connect(11).unwrap();
                        for _ in 0..1000 {
                            tx.send().unwrap();
                        }
                    });
                }
            });
            // On `uintr` the bit is pending in the CPU, which software cannot see.
            let visible = if flavor == Flavor::UintrEmulated {
                0
            } else {
                1 << 11
            };
            assert_eq!(rx.pending(), visible, "{flavor}: one pending bit");
            assert_eq!(nemo_user::poll(), 0, "{flavor}: guarded");
            assert_eq!(log.len(), 0, "{flavor}: nothing delivered under the guard");
        }
        assert_eq!(log.snapshot(), [11], "{flavor}: 4000 sends, one delivery");
        assert_eq!(rx.pending(), 0);
    }
}

#[test]
fn highest_vector_is_delivered_first() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(64);
        let rx = register_logging(flavor, &log);
        let sent = [7u64, 63, 0, 31, 32, 1, 62, 7];
        {
            let _g = Guard::new();
            send_from_other_thread(&rx.endpoint(), &sent);
        }
        assert_eq!(log.snapshot(), [63, 62, 32, 31, 7, 1, 0], "{flavor}");
    }
}

#[test]
fn a_higher_vector_sent_during_a_handler_overtakes_lower_pending_ones() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(64);
        let l = log.clone();
        let me: Arc<std::sync::OnceLock<Sender>> = Arc::new(std::sync::OnceLock::new());
        let m = me.clone();
        let rx = flavor
            .builder()
            .register(move |v| {
                l.push(v.get());
                if v.get() == 40 {
                    // Sending is allowed in a handler; 50 outranks the pending 10.
                    m.get().unwrap().send().unwrap();
                }
            })
            .unwrap();
        me.set(rx.endpoint().connect(50).unwrap()).unwrap();
        {
            let _g = Guard::new();
            send_from_other_thread(&rx.endpoint(), &[10, 40]);
        }
        wait_for(flavor, "three deliveries", || log.len() == 3);
        assert_eq!(log.snapshot(), [40, 50, 10], "{flavor}");
    }
}

#[test]
fn guards_nest_and_the_outermost_drop_delivers() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(64);
        let rx = register_logging(flavor, &log);
        let outer = Guard::new();
        assert!(Guard::is_held());
        {
            let _inner = Guard::new();
            send_from_other_thread(&rx.endpoint(), &[3]);
            nemo_user::poll();
        }
        // The inner drop does not deliver.
        nemo_user::poll();
        assert_eq!(log.len(), 0, "{flavor}");
        drop(outer);
        assert!(!Guard::is_held());
        assert_eq!(
            log.snapshot(),
            [3],
            "{flavor}: the outermost drop delivered"
        );
    }
}

#[test]
fn a_guard_drop_is_a_safepoint_on_the_poll_backend() {
    let log = VectorLog::new(8);
    let rx = register_logging(Flavor::Poll, &log);
    send_from_other_thread(&rx.endpoint(), &[9]);
    assert_eq!(log.len(), 0, "poll delivers only at safepoints");
    drop(Guard::new());
    assert_eq!(log.snapshot(), [9]);
    assert_eq!(nemo_user::poll(), 0);
}

#[test]
fn all_64_vectors_are_delivered_exactly_once() {
    for flavor in Flavor::ALL {
        let seen = Arc::new(AtomicU64::new(0));
        let dup = Arc::new(AtomicUsize::new(0));
        let (s, d) = (seen.clone(), dup.clone());
        let rx = flavor
            .builder()
            .register(move |v| {
                if s.fetch_or(v.bit(), SeqCst) & v.bit() != 0 {
                    d.fetch_add(1, SeqCst);
                }
            })
            .unwrap();
        let all: Vec<u64> = (0..64).collect();
        send_from_other_thread(&rx.endpoint(), &all);
        wait_for(flavor, "all vectors", || seen.load(SeqCst) == u64::MAX);
        assert_eq!(
            dup.load(SeqCst),
            0,
            "{flavor}: a vector was delivered twice"
        );
    }
}

#[test]
fn bad_vectors_are_refused() {
    for flavor in Flavor::ALL {
        let rx = flavor.builder().vectors(0b1010).register(|_| {}).unwrap();
        let ep = rx.endpoint();
        for v in [64, 65, 1000, u64::MAX] {
            let e = ep.connect(v).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            assert_eq!(
                e.to_string(),
                format!("user-interrupt vector {v} is out of range (valid: 0..64)")
            );
            assert_eq!(e.errno(), libc::EINVAL);
        }
        let e = ep.connect(0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.to_string(), "vector 0 is not enabled on this receiver");
        assert!(ep.connect(3).is_ok());
    }
}

#[test]
fn one_receiver_per_thread_and_reregistration_works() {
    for flavor in Flavor::ALL {
        let rx = flavor.builder().register(|_| {}).unwrap();
        let second = flavor.builder().register(|_| {});
        assert_eq!(
            second.err().map(|e| e.kind()),
            Some(ErrorKind::AlreadyRegistered)
        );
        let old = rx.endpoint();
        drop(rx);
        assert_eq!(nemo_user::interrupt::current_backend(), None);
        let log = VectorLog::new(8);
        let rx = register_logging(flavor, &log);
        assert!(!old.is_alive());
        assert_eq!(old.connect(1).unwrap_err().kind(), ErrorKind::ReceiverGone);
        send_from_other_thread(&rx.endpoint(), &[2]);
        wait_for(flavor, "delivery after re-registration", || log.len() == 1);
        assert_eq!(log.snapshot(), [2]);
    }
}

#[test]
fn sends_to_a_dropped_receiver_fail_and_pending_ones_are_delivered_by_the_drop() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(8);
        let rx = register_logging(flavor, &log);
        let tx = rx.endpoint().connect(4).unwrap();
        {
            let _g = Guard::new();
            std::thread::scope(|s| {
                s.spawn(|| tx.send().unwrap());
            });
            drop(rx);
        }
        // On `uintr` the vector is pending in the CPU when the handler is unregistered, and the
        // kernel discards it (the backend's documented difference).
        let delivered: &[u8] = if flavor == Flavor::UintrEmulated {
            &[]
        } else {
            &[4]
        };
        assert_eq!(
            log.snapshot(),
            delivered,
            "{flavor}: the drop delivered what was posted"
        );
        assert!(!tx.endpoint().is_alive());
        assert_eq!(tx.send().map_err(|e| e.errno()), Err(libc::ESHUTDOWN));
        assert_eq!(
            tx.send().map_err(|e| e.kind()),
            Err(ErrorKind::ReceiverGone)
        );
    }
}

#[test]
fn sends_fail_after_the_receiver_thread_exits() {
    for flavor in Flavor::ALL {
        // Dropped normally at thread exit…
        let ep = std::thread::spawn(move || {
            let rx = flavor.builder().register(|_| {}).unwrap();
            rx.endpoint()
        })
        .join()
        .unwrap();
        assert!(!ep.is_alive());
        assert_eq!(ep.connect(1).unwrap_err().kind(), ErrorKind::ReceiverGone);
        // …or leaked: the thread-exit hook marks it dead, so no signal targets the old tid.
        let (ep, tx) = std::thread::spawn(move || {
            let rx = flavor.builder().register(|_| {}).unwrap();
            let tx = rx.endpoint().connect(1).unwrap();
            let ep = rx.endpoint();
            std::mem::forget(rx);
            (ep, tx)
        })
        .join()
        .unwrap();
        assert!(!ep.is_alive(), "{flavor}");
        assert_eq!(
            tx.send().map_err(|e| e.kind()),
            Err(ErrorKind::ReceiverGone)
        );
    }
}

#[test]
fn a_receiver_kept_in_a_thread_local_is_dropped_at_thread_exit() {
    thread_local! {
        static RX: std::cell::RefCell<Option<Receiver>> = const { std::cell::RefCell::new(None) };
    }
    let ep = std::thread::spawn(|| {
        let rx = Receiver::builder()
            .backend(BackendKind::Signal)
            .register(|_| {})
            .unwrap();
        let ep = rx.endpoint();
        RX.with(|r| *r.borrow_mut() = Some(rx));
        ep
    })
    .join()
    .unwrap();
    assert_eq!(ep.connect(0).unwrap_err().kind(), ErrorKind::ReceiverGone);
}

#[test]
fn a_handler_may_drop_its_own_receiver() {
    thread_local! {
        static RX: std::cell::RefCell<Option<Receiver>> = const { std::cell::RefCell::new(None) };
    }
    // Poll only: the handler touches a RefCell, which a signal handler must not.
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let rx = Receiver::builder()
        .backend(BackendKind::Poll)
        .register(move |_| {
            c.fetch_add(1, SeqCst);
            RX.with(|r| drop(r.borrow_mut().take()));
        })
        .unwrap();
    let ep = rx.endpoint();
    RX.with(|r| *r.borrow_mut() = Some(rx));
    send_from_other_thread(&ep, &[1, 2, 3]);
    assert_eq!(nemo_user::poll(), 1, "the drop ends delivery");
    assert_eq!(calls.load(SeqCst), 1);
    assert!(!ep.is_alive());
    assert_eq!(nemo_user::interrupt::current_backend(), None);
    // The thread can register again.
    let again = Receiver::builder()
        .backend(BackendKind::Poll)
        .register(|_| {})
        .unwrap();
    drop(again);
}

#[test]
fn sending_to_oneself_delivers_on_the_spot_or_at_the_guard_drop() {
    for flavor in Flavor::ALL {
        let log = VectorLog::new(8);
        let rx = register_logging(flavor, &log);
        let tx = rx.endpoint().connect(8).unwrap();
        tx.send().unwrap();
        if !flavor.polls() {
            assert_eq!(
                log.snapshot(),
                [8],
                "a self-send delivers before send returns"
            );
        } else {
            assert_eq!(nemo_user::poll(), 1);
        }
        {
            let _g = Guard::new();
            tx.send().unwrap();
            nemo_user::poll();
            assert_eq!(log.len(), 1);
        }
        assert_eq!(log.snapshot(), [8, 8], "{flavor}");
    }
}

#[test]
fn endpoints_and_senders_describe_their_receiver() {
    let rx = Receiver::builder()
        .backend(BackendKind::Poll)
        .register(|_| {})
        .unwrap();
    let ep = rx.endpoint();
    assert_eq!(ep, rx.endpoint());
    assert_eq!(ep.backend(), BackendKind::Poll);
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    let described = format!("{ep:?}");
    assert!(described.contains(&format!("pid: {pid},")), "{described}");
    assert!(described.contains("process_shared: false"), "{described}");
    let tx = ep.connect(12).unwrap();
    assert!(format!("{tx:?}").contains("vector: 12"), "{tx:?}");
    assert_eq!(tx.endpoint(), ep);
    assert!(format!("{ep:?}").contains("Poll"));
}

#[test]
fn a_receiver_blocked_in_a_syscall_is_interrupted_and_the_call_resumes() {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-int array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let [rd, wr] = fds;
    let hit = Arc::new(AtomicUsize::new(0));
    let h = hit.clone();
    let (tx_ep, rx_ep) = std::sync::mpsc::channel();
    let receiver = std::thread::spawn(move || {
        let rx = Receiver::builder()
            .backend(BackendKind::Signal)
            .register(move |_| {
                h.fetch_add(1, SeqCst);
            })
            .unwrap();
        tx_ep.send(rx.endpoint()).unwrap();
        let mut byte = 0u8;
        // SAFETY: reading one byte into a valid buffer.
        let n = unsafe { libc::read(rd, (&mut byte as *mut u8).cast(), 1) };
        (n, byte)
    });
    let ep = rx_ep.recv().unwrap();
    let tx = ep.connect(6).unwrap();
    // The receiver may not be in `read` yet; keep interrupting until the handler has run and
    // a little while after, so that at least some land inside the blocked call.
    for _ in 0..100 {
        tx.send().unwrap();
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    wait_until(BackendKind::Poll, "handler in blocked thread", || {
        hit.load(SeqCst) > 0
    });
    // SAFETY: writing one byte from a valid buffer.
    assert_eq!(unsafe { libc::write(wr, b"x".as_ptr().cast(), 1) }, 1);
    let (n, byte) = receiver.join().unwrap();
    assert_eq!(
        (n, byte),
        (1, b'x'),
        "read resumed after the handler (SA_RESTART)"
    );
    // SAFETY: closing our own descriptors.
    unsafe {
        libc::close(rd);
        libc::close(wr);
    }
}
