//! Active-message lifecycles: ids carry their domain, targets of threads that exit registered
//! are reclaimed, panicking actions, and a sender facing a full real-time signal queue.
//!
//! The cases that abort the process or lower a process-wide limit run in a child process (this
//! test binary again, with `AM_LIFECYCLE_CHILD` naming the case).

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::ErrorKind;
use nemo_user::am::{Domain, TargetId};
use nemo_user::interrupt::Receiver;

mod interrupt_support;

use interrupt_support::{counting, described};

const CHILD: &str = "AM_LIFECYCLE_CHILD";

/// Registers a target on a new thread that then exits with it registered (the `Target` leaked).
fn exit_registered(domain: &Domain) -> nemo_user::Result<TargetId> {
    let d = domain.clone();
    std::thread::spawn(move || {
        let t = d.register_target()?;
        let id = t.id();
        std::mem::forget(t);
        Ok(id)
    })
    .join()
    .unwrap()
}

fn count_lines(path: &str) -> usize {
    std::fs::read_to_string(path).unwrap().lines().count()
}

fn count_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn ids_of_one_domain_are_refused_by_another() {
    let a = Domain::builder().backend(BackendKind::Poll).build();
    let b = Domain::builder().backend(BackendKind::Poll).build();
    let (act_a, sum_a) = counting(&a);
    let (act_b, sum_b) = counting(&b);
    assert_eq!(act_a.index(), act_b.index());
    assert_ne!(act_a, act_b);
    let t = a.register_target().unwrap();
    let id_a = t.id();
    let unknown = Err((
        ErrorKind::InvalidArgument,
        format!("unknown action {act_b}"),
    ));
    assert_eq!(described(a.notify(id_a, act_b, 1)), unknown);
    assert_eq!(described(a.broadcast(act_b, 1).map(drop)), unknown);
    drop(t);
    let t = b.register_target().unwrap();
    let id_b = t.id();
    assert_eq!(id_a.index(), id_b.index(), "the same slot of both tables");
    assert_eq!(
        described(b.notify(id_a, act_b, 1)),
        Err((ErrorKind::UnknownTarget, format!("unknown target {id_a}")))
    );
    assert_eq!(
        described(a.notify(id_b, act_a, 1)),
        Err((ErrorKind::UnknownTarget, format!("unknown target {id_b}")))
    );
    b.notify(id_b, act_b, 5).unwrap();
    nemo_user::poll();
    assert_eq!((sum_a.load(SeqCst), sum_b.load(SeqCst)), (0, 5));
}

#[test]
fn a_target_whose_thread_exits_registered_is_gone_and_its_slot_reused() {
    for kind in [BackendKind::Signal, BackendKind::Poll] {
        let domain = Domain::builder().backend(kind).targets(1).build();
        let (add, _) = counting(&domain);
        let gone = exit_registered(&domain).unwrap();
        assert_eq!(
            described(domain.notify(gone, add, 1)),
            Err((ErrorKind::UnknownTarget, format!("unknown target {gone}"))),
            "{kind:?}"
        );
        // Not counted, and not a failure that a retry could cure.
        assert_eq!(domain.broadcast(add, 1), Ok(0), "{kind:?}");
        // The only slot is free again.
        let again = exit_registered(&domain).unwrap();
        assert_eq!(again.index(), gone.index());
        let mine = domain.register_target().unwrap();
        assert_eq!(domain.broadcast(add, 1), Ok(1), "{kind:?}");
        nemo_user::poll();
        drop(mine);
    }
}

/// How far the process's mapping and descriptor counts may move because of other tests.
const SLACK: usize = 32;

#[test]
fn ten_thousand_threads_exiting_registered_leave_no_targets_mappings_or_fds() {
    let domain = Domain::builder()
        .backend(BackendKind::Signal)
        .targets(4)
        .mailbox(16)
        .build();
    let (add, _) = counting(&domain);
    // Warm up: thread stacks and allocator arenas kept for reuse.
    for _ in 0..100 {
        exit_registered(&domain).unwrap();
    }
    let (maps, fds) = (count_lines("/proc/self/maps"), count_fds());
    for i in 0..10_000 {
        exit_registered(&domain).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
    }
    assert_eq!(domain.broadcast(add, 1), Ok(0), "live targets");
    // Other tests of this binary run alongside and map stacks or open files of their own, so
    // the counts may move by a few; a leak per exiting thread would add ten thousand.
    let (maps_after, fds_after) = (count_lines("/proc/self/maps"), count_fds());
    assert!(
        maps_after <= maps + SLACK,
        "mappings: {maps} before, {maps_after} after"
    );
    assert!(
        fds_after <= fds + SLACK,
        "file descriptors: {fds} before, {fds_after} after"
    );
    // All four slots can be taken at once.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let rx = Arc::new(std::sync::Mutex::new(rx));
    let holders: Vec<_> = (0..4)
        .map(|_| {
            let (d, rx) = (domain.clone(), rx.clone());
            std::thread::spawn(move || {
                let t = d.register_target();
                let ok = t.is_ok();
                let _ = rx.lock().unwrap().recv();
                ok
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    while domain.broadcast(add, 0).unwrap_or(0) < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    drop(tx);
    assert!(holders.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn a_panicking_action_on_poll_is_reported_to_the_domain_and_the_process_goes_on() {
    let domain = Domain::builder().backend(BackendKind::Poll).build();
    let (add, sum) = counting(&domain);
    let boom = domain
        .register_action(|x| panic!("action refused payload {x}"))
        .unwrap();
    let t = domain.register_target().unwrap();
    domain.notify(t.id(), add, 1).unwrap();
    domain.notify(t.id(), boom, 7).unwrap();
    domain.notify(t.id(), add, 2).unwrap();
    nemo_user::poll();
    assert_eq!(sum.load(SeqCst), 3, "the messages around the panic ran");
    let p = domain.take_action_panic().expect("the panic is recorded");
    assert_eq!((p.action, p.payload), (boom, 7));
    assert_eq!(p.message.as_deref(), Some("action refused payload 7"));
    assert_eq!(domain.take_action_panic(), None);
    // The target still works.
    domain.notify(t.id(), add, 4).unwrap();
    nemo_user::poll();
    assert_eq!(sum.load(SeqCst), 7);
}

/// Runs `case` in a child process of this test binary; returns its status and stderr.
fn in_child(case: &str) -> (std::process::ExitStatus, String) {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args(["--exact", "child_cases", "--ignored", "--nocapture"])
        .env(CHILD, case)
        .env_remove("NEMO_BACKEND")
        .output()
        .unwrap();
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Not a test of its own: the body of the child processes of the tests below.
#[test]
#[ignore = "the body of child processes, run by the tests that spawn them"]
fn child_cases() {
    match std::env::var(CHILD).as_deref() {
        Ok("panic-in-signal-handler") => {
            let domain = Domain::builder().backend(BackendKind::Signal).build();
            let _pad = domain.register_action(|_| {}).unwrap();
            let boom = domain.register_action(|_| panic!("boom")).unwrap();
            let t = domain.register_target().unwrap();
            let (d, id) = (domain.clone(), t.id());
            std::thread::spawn(move || d.notify(id, boom, 1))
                .join()
                .unwrap()
                .unwrap();
            // The signal runs the action here, which aborts the process.
            std::thread::sleep(Duration::from_secs(10));
            eprintln!("still alive");
        }
        Ok("signal-queue-full") => {
            let rx = Receiver::builder()
                .backend(BackendKind::Signal)
                .register(|_| {})
                .unwrap();
            let tx = rx.endpoint().connect(3).unwrap();
            // SAFETY: plain getrlimit/setrlimit on local structs.
            unsafe {
                let mut lim = std::mem::zeroed::<libc::rlimit>();
                assert_eq!(libc::getrlimit(libc::RLIMIT_SIGPENDING, &mut lim), 0);
                lim.rlim_cur = 0;
                assert_eq!(libc::setrlimit(libc::RLIMIT_SIGPENDING, &lim), 0);
            }
            let start = Instant::now();
            let r = std::thread::spawn(move || tx.send()).join().unwrap();
            let took = start.elapsed();
            assert_eq!(
                r.map_err(|e| (e.kind(), e.errno())),
                Err((ErrorKind::Os, libc::EAGAIN))
            );
            assert!(took >= Duration::from_millis(900), "{took:?}");
            assert!(took < Duration::from_secs(10), "{took:?}");
            // The vector stayed posted: dropping the receiver delivers it.
            assert_eq!(rx.pending(), 1 << 3);
            eprintln!("bounded: {took:?}");
        }
        other => panic!("{CHILD} is {other:?}: run by the tests that spawn it"),
    }
}

#[test]
fn a_panicking_action_in_a_signal_handler_aborts_naming_the_action() {
    let (status, stderr) = in_child("panic-in-signal-handler");
    assert!(!status.success(), "{stderr}");
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGABRT),
        "{stderr}"
    );
    assert!(
        stderr.contains("active-message action #1 of domain"),
        "the abort names the action:\n{stderr}"
    );
    assert!(!stderr.contains("still alive"), "{stderr}");
}

#[test]
fn a_send_facing_a_full_signal_queue_gives_up_after_a_bound() {
    let (status, stderr) = in_child("signal-queue-full");
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("bounded:"), "{stderr}");
}
