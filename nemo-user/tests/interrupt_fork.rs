//! Fork: a child never receives its parent's interrupts (nor crashes), sends from a child reach
//! only process-shared receivers.
//!
//! After `fork` in a multi-threaded process the child may only use async-signal-safe calls, so
//! the children here use atomics, the library's (allocation-free) paths, and `_exit` with a code
//! that says what they saw.

mod interrupt_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use interrupt_support::{Flavor, SOFTWARE, wait_for, wait_until};
use nemo_user::ErrorKind;
use nemo_user::interrupt::{Guard, Receiver};

/// Forks; runs `child` in the child and `_exit`s with its code; returns the child's exit code
/// once `parent` has run.
fn fork_and_wait(child: impl FnOnce() -> i32, parent: impl FnOnce()) -> i32 {
    // SAFETY: the child runs only async-signal-safe code and leaves with `_exit`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = child();
        // SAFETY: `_exit` is async-signal-safe and never returns.
        unsafe { libc::_exit(code) };
    }
    parent();
    let mut status = 0;
    // SAFETY: waiting for our own child with a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid);
    assert!(
        libc::WIFEXITED(status),
        "the child crashed: status {status:#x}"
    );
    libc::WEXITSTATUS(status)
}

#[test]
fn a_fork_child_does_not_receive_the_parents_interrupts() {
    for flavor in Flavor::ALL {
        let hits = Arc::new(AtomicU64::new(0));
        let h = hits.clone();
        let rx = flavor
            .builder()
            .register(move |_| {
                h.fetch_add(1, SeqCst);
            })
            .unwrap();
        let tx = Arc::new(rx.endpoint().connect(3).unwrap());
        let guard = std::cell::RefCell::new(Some(Guard::new()));
        let t = tx.clone();
        std::thread::spawn(move || t.send().unwrap())
            .join()
            .unwrap();
        // Vector 3 is pending (deferred by the guard) at the fork.
        let code = fork_and_wait(
            || {
                drop(guard.borrow_mut().take()); // must not deliver the parent's pending vector
                let polled = nemo_user::poll();
                // SAFETY: usleep is async-signal-safe.
                unsafe { libc::usleep(20_000) }; // the parent keeps sending meanwhile
                let foreign = tx.send().map_err(|e| e.kind()) == Err(ErrorKind::ForeignProcess);
                let again = nemo_user::interrupt::current_backend().is_none();
                (hits.load(SeqCst) != 0) as i32
                    | ((polled != 0) as i32) << 1
                    | (!foreign as i32) << 2
                    | (!again as i32) << 3
            },
            || {
                for _ in 0..100 {
                    let t = tx.clone();
                    std::thread::spawn(move || t.send().unwrap())
                        .join()
                        .unwrap();
                }
            },
        );
        assert_eq!(code, 0, "{flavor}: child saw bits {code:#b}");
        assert_eq!(
            hits.load(SeqCst),
            0,
            "{flavor}: the parent is still guarded"
        );
        drop(guard.borrow_mut().take());
        wait_for(flavor, "parent delivery", || hits.load(SeqCst) >= 1);
        drop(rx);
    }
}

#[test]
fn a_fork_child_can_send_to_a_process_shared_receiver() {
    for kind in SOFTWARE {
        let seen = Arc::new(AtomicU64::new(0));
        let s = seen.clone();
        let rx = Receiver::builder()
            .backend(kind)
            .process_shared(true)
            .register(move |v| {
                s.fetch_or(v.bit(), SeqCst);
            })
            .unwrap();
        let ep = rx.endpoint();
        assert!(format!("{ep:?}").contains("process_shared: true"), "{ep:?}");
        let code = fork_and_wait(
            || match ep.connect(33).and_then(|tx| tx.send()) {
                Ok(()) => 0,
                Err(_) => 1,
            },
            || {},
        );
        assert_eq!(code, 0, "{kind}: the child's send failed");
        wait_until(kind, "the child's interrupt", || {
            seen.load(SeqCst) == 1 << 33
        });
        drop(rx);
        // A child forked after the receiver is gone is told so.
        let code = fork_and_wait(
            || match ep.connect(33) {
                Err(e) if e.kind() == ErrorKind::ReceiverGone => 0,
                _ => 1,
            },
            || {},
        );
        assert_eq!(code, 0, "{kind}");
    }
}
