//! `signal`: raw `tgkill` to a running receiver thread whose `SA_SIGINFO` handler stamps the
//! arrival — the xUI paper's baseline for user-level notification without UINTR.

use std::cell::Cell;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::{Driver, Instance, InterruptLink, Setup, Skipped};
use crate::arrival::Arrivals;

/// `tgkill` + signal handler.
pub struct Signal;

impl Driver for Signal {
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Interrupt(Box::new(SignalLink::new(
            setup.receivers,
        )?)))
    }
}

/// The signal this mechanism uses: a real-time one high in the range, clear of the low ones
/// glibc and runtimes usually take.
fn bench_signal() -> i32 {
    libc::SIGRTMAX() - 1
}

thread_local! {
    /// The arrivals the handler stamps on this thread (null: not a registered receiver).
    /// Const-initialised and without a destructor, so reading it from a handler touches no lazy
    /// initialisation or allocation.
    static RECEIVER: Cell<*const Arrivals> = const { Cell::new(std::ptr::null()) };
}

extern "C" fn on_signal(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    let arrivals = RECEIVER.with(Cell::get);
    if !arrivals.is_null() {
        // SAFETY: `register` stores a pointer into an `Arc` the link keeps alive until
        // `unregister` clears this slot, which runs on this same thread, so the handler cannot
        // observe the pointer after the `Arc` is released.
        unsafe { (*arrivals).stamp() };
    }
}

/// Installs the handler once per process (it stays: a late signal then finds no receiver and
/// is ignored, rather than killing the process with the default action).
fn install_handler() -> Result<i32, Skipped> {
    static INSTALLED: OnceLock<Result<i32, String>> = OnceLock::new();
    INSTALLED
        .get_or_init(|| {
            let signo = bench_signal();
            // SAFETY: an all-zero sigaction is a valid starting value; the fields set below make
            // it an SA_SIGINFO handler with an empty mask.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            act.sa_sigaction = on_signal as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            // SAFETY: `act.sa_mask` is a valid sigset to initialise.
            unsafe { libc::sigemptyset(&mut act.sa_mask) };
            // SAFETY: `act` is fully initialised; the handler only does async-signal-safe work
            // (a clock read and two atomic stores).
            let rc = unsafe { libc::sigaction(signo, &act, std::ptr::null_mut()) };
            if rc == 0 {
                Ok(signo)
            } else {
                Err(format!(
                    "sigaction({signo}) failed: {}",
                    std::io::Error::last_os_error()
                ))
            }
        })
        .clone()
        .map_err(Skipped)
}

struct SignalLink {
    signo: i32,
    pid: i32,
    /// Thread id of each receiver (0 until registered).
    tids: Box<[AtomicI32]>,
    /// Keeps each receiver's arrivals alive while the handler may stamp them.
    arrivals: Mutex<Vec<Option<Arc<Arrivals>>>>,
}

impl SignalLink {
    fn new(receivers: usize) -> Result<SignalLink, Skipped> {
        Ok(SignalLink {
            signo: install_handler()?,
            pid: std::process::id() as i32,
            tids: (0..receivers).map(|_| AtomicI32::new(0)).collect(),
            arrivals: Mutex::new(vec![None; receivers]),
        })
    }
}

impl InterruptLink for SignalLink {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        let slot = self
            .tids
            .get(index)
            .ok_or_else(|| Skipped::new(format!("receiver {index} out of range")))?;
        RECEIVER.with(|r| r.set(Arc::as_ptr(&arrivals)));
        self.arrivals
            .lock()
            .map_err(|_| Skipped::new("receiver table poisoned"))?[index] = Some(arrivals);
        // The receiver may have inherited a mask that blocks the signal.
        // SAFETY: a valid, initialised sigset containing only our signal.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, self.signo);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() };
        slot.store(tid, Ordering::Release);
        Ok(())
    }

    fn send(&self, index: usize) {
        let tid = self.tids[index].load(Ordering::Acquire);
        // SAFETY: tgkill takes plain integers; a stale tid makes it fail with ESRCH, and the
        // measurement loop reports an event that never arrives.
        unsafe {
            libc::syscall(libc::SYS_tgkill, self.pid, tid, self.signo);
        }
    }

    fn unregister(&self, index: usize) {
        RECEIVER.with(|r| r.set(std::ptr::null()));
        if let Ok(mut a) = self.arrivals.lock() {
            a[index] = None;
        }
        self.tids[index].store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use std::sync::Barrier;
    use std::sync::atomic::AtomicBool;
    use std::time::{Duration, Instant};

    fn setup(sim: bool) -> Setup<'static> {
        Setup {
            scenario: "unicast",
            regime: "short-gap",
            receivers: 1,
            cores: 2,
            oversubscribed: false,
            sim,
            static_binary: false,
            uintr: false,
        }
    }

    #[test]
    fn skipped_under_simulation() {
        let signal = crate::mechanisms::find("signal").expect("registered");
        assert!(signal.check(&setup(true)).is_err());
        assert!(signal.check(&setup(false)).is_ok());
    }

    #[test]
    fn each_signal_stamps_exactly_once() {
        let link = SignalLink::new(1).expect("signal handler installs natively");
        const EVENTS: usize = 200;
        let arrivals = Arc::new(Arrivals::new(Clock::monotonic(), EVENTS));
        let stop = AtomicBool::new(false);
        let registered = Barrier::new(2);
        std::thread::scope(|s| {
            let receiver = s.spawn(|| {
                link.register(0, arrivals.clone()).expect("register");
                registered.wait();
                while !stop.load(Ordering::Acquire) {
                    std::hint::spin_loop();
                }
                link.unregister(0);
            });
            registered.wait();
            for e in 1..=EVENTS {
                link.send(0);
                let deadline = Instant::now() + Duration::from_secs(10);
                while arrivals.count() < e && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                assert_eq!(arrivals.count(), e, "signal {e} not delivered exactly once");
            }
            stop.store(true, Ordering::Release);
            receiver.join().expect("receiver");
        });
        assert_eq!(arrivals.count(), EVENTS);
        assert_eq!(link.tids[0].load(Ordering::Acquire), 0, "unregistered");
    }
}
