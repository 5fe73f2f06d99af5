//! Sender-side costs: what a notify costs the thread that sends it, with nobody to wake.
//!
//! Each benchmark is one function listed in `criterion_group!` at the bottom. The `registry/*`
//! ones run every registered mechanism, so a new mechanism is measured here without touching
//! this file (`registry/send_self/am_*` is an active message's whole path to the benchmarking
//! thread); the `raw/*` ones measure the bare primitives underneath.
//!
//! `cargo bench -p nemo-bench --bench sender`

use std::cell::UnsafeCell;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam_utils::CachePadded;
use nemo_bench::arrival::Arrivals;
use nemo_bench::clock::Clock;
use nemo_bench::machine::uintr_available;
use nemo_bench::mechanisms::{self, Instance, Kind, Setup, static_binary};
use nemo_user::BackendKind;
use nemo_user::am::Domain;

fn setup() -> Setup<'static> {
    Setup {
        scenario: "unicast",
        regime: "short-gap",
        receivers: 1,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        oversubscribed: false,
        sim: false,
        static_binary: static_binary(),
        uintr: uintr_available(),
    }
}

/// `pthread_cond_signal` on a condvar nobody waits on.
fn raw_pthread_cond_signal(c: &mut Criterion) {
    struct Cond(UnsafeCell<libc::pthread_cond_t>);
    let cond = Box::new(Cond(UnsafeCell::new(libc::PTHREAD_COND_INITIALIZER)));
    c.bench_function("raw/pthread_cond_signal/no_waiter", |b| {
        b.iter(|| {
            // SAFETY: a statically initialised condvar that outlives the benchmark; signalling
            // one without waiters is defined and does nothing.
            black_box(unsafe { libc::pthread_cond_signal(cond.0.get()) })
        })
    });
    // SAFETY: nobody uses it any more.
    unsafe { libc::pthread_cond_destroy(cond.0.get()) };
}

/// `FUTEX_WAKE` on a private word nobody waits on.
fn raw_futex_wake(c: &mut Criterion) {
    let word = CachePadded::new(AtomicU32::new(0));
    c.bench_function("raw/futex_wake/no_waiter", |b| {
        b.iter(|| {
            // SAFETY: FUTEX_WAKE only looks the address up; the word lives through the call.
            black_box(unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    word.as_ptr(),
                    libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
                    1,
                )
            })
        })
    });
}

/// A release store to a line nobody reads (the spin notifier's whole cost).
fn raw_spin_store(c: &mut Criterion) {
    let line = CachePadded::new(AtomicU64::new(0));
    let mut n = 0u64;
    c.bench_function("raw/spin_store", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            line.store(black_box(n), Ordering::Release);
        })
    });
}

extern "C" fn empty_handler(_: libc::c_int) {}

/// `tgkill` to the calling thread with an empty handler: syscall, delivery and return.
fn raw_tgkill_self(c: &mut Criterion) {
    let signo = libc::SIGRTMAX() - 2;
    // SAFETY: an all-zero sigaction is valid; it gets an empty, async-signal-safe handler.
    let installed = unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = empty_handler as *const () as usize;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(signo, &act, std::ptr::null_mut()) == 0
    };
    if !installed {
        eprintln!("raw/tgkill_self: sigaction failed, skipped");
        return;
    }
    let pid = std::process::id() as libc::pid_t;
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() };
    c.bench_function("raw/tgkill_self/empty_handler", |b| {
        b.iter(|| {
            // SAFETY: plain integers; the handler for `signo` is installed above.
            black_box(unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, signo) })
        })
    });
}

/// An active-message notify as its sender pays for it: action check, target lookup, mailbox
/// push and the UPID post, to a `poll`-backend target (no signal) that drains, untimed, after
/// each mailbox-full batch.
fn raw_am_notify(c: &mut Criterion) {
    const MAILBOX: usize = 1024;
    let domain = Domain::builder()
        .backend(BackendKind::Poll)
        .mailbox(MAILBOX)
        .build();
    let (action, target) = match domain
        .register_action(|x| {
            black_box(x);
        })
        .and_then(|a| Ok((a, domain.register_target()?)))
    {
        Ok(v) => v,
        Err(e) => {
            eprintln!("raw/am_notify: cannot set up a domain ({e}), skipped");
            return;
        }
    };
    let id = target.id();
    let batch = MAILBOX as u64;
    c.bench_function("raw/am_notify/poll_target", |b| {
        b.iter_custom(|iters| {
            let mut timed = Duration::ZERO;
            let mut left = iters;
            while left > 0 {
                let n = left.min(batch);
                let t = Instant::now();
                for i in 0..n {
                    let _ = black_box(domain.notify(id, action, i));
                }
                timed += t.elapsed();
                nemo_user::poll();
                left -= n;
            }
            timed
        })
    });
    drop(target);
}

/// `notify_one` of every registered blocking and polling mechanism, with no waiter.
fn registry_notify_one(c: &mut Criterion) {
    let setup = setup();
    for m in mechanisms::MECHANISMS {
        if m.kind() == Kind::Interrupt {
            continue;
        }
        let Ok(Instance::Blocking(ev)) = m.instantiate(&setup) else {
            eprintln!("registry/notify_one/{}: cannot run here, skipped", m.id());
            continue;
        };
        c.bench_function(&format!("registry/notify_one/no_waiter/{}", m.id()), |b| {
            b.iter(|| ev.notify_one())
        });
    }
}

/// `send` of every registered interrupt mechanism to the benchmarking thread itself.
fn registry_send_self(c: &mut Criterion) {
    let setup = setup();
    let clock = Clock::monotonic();
    for m in mechanisms::MECHANISMS {
        if m.kind() != Kind::Interrupt {
            continue;
        }
        let Ok(Instance::Interrupt(link)) = m.check(&setup).and_then(|_| m.instantiate(&setup))
        else {
            eprintln!("registry/send_self/{}: cannot run here, skipped", m.id());
            continue;
        };
        // No room for stamps: arrivals are only counted.
        let arrivals = Arc::new(Arrivals::new(clock, 0));
        if link.register(0, arrivals.clone()).is_err() {
            eprintln!("registry/send_self/{}: cannot register, skipped", m.id());
            continue;
        }
        c.bench_function(&format!("registry/send_self/{}", m.id()), |b| {
            b.iter(|| {
                link.send(0);
                link.poll(0);
            })
        });
        link.unregister(0);
    }
}

criterion_group!(
    sender,
    raw_pthread_cond_signal,
    raw_futex_wake,
    raw_spin_store,
    raw_tgkill_self,
    raw_am_notify,
    registry_notify_one,
    registry_send_self
);
criterion_main!(sender);
