//! The `signal` backend: a software UPID, notified by a real-time signal.
//!
//! A sender posts its vector with [`uintr_sys::Upid::post`], exactly the sender's half of
//! `SENDUIPI`; only when that says [`PostOutcome::Notify`] (no
//! notification outstanding) does it `tgkill` the receiver's thread. The signal handler is the
//! receiver's half: [`uintr_sys::Upid::take`] and the handler for each vector, highest first. So
//! at most one signal is in flight per receiver however many vectors are sent, and the
//! coalescing is the CPU's.
//!
//! The handler is installed with `SA_RESTART`: a receiver blocked in a system call runs its
//! handler and the call resumes (`nanosleep` and a few others return `EINTR` instead, as
//! `signal(7)` lists). It preserves `errno`.
//!
//! # Which signal
//!
//! One real-time signal per process, chosen at the first registration on this backend:
//! `NEMO_SIGNAL` if set (`RTMIN+k`, `SIGRTMIN+k`, or a number between `SIGRTMIN()` and
//! `SIGRTMAX()`), else the first of `SIGRTMIN()+4`, `SIGRTMIN()+5`, …, then `SIGRTMIN()+0..4`,
//! whose disposition is still the default and that the UINTR emulation of `uintr-sys` does not
//! use. [`signal_number()`] tells which. The handler is never uninstalled: a late signal after a
//! receiver is dropped finds nothing to do.

use crate::error::Repr;
use core::sync::atomic::Ordering::Relaxed;
use std::sync::OnceLock;

use libc::c_int;
use uintr_sys::{PostOutcome, Vector};

use crate::error::{Error, Result};
use crate::interrupt::delivery::drain;
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::process::current_pid;
use crate::interrupt::resume;
use crate::interrupt::seam::{Backend, Route, Sent};
use crate::interrupt::thread;

/// The receiver-side half: the doorbell says whom to signal, with which signal.
pub(crate) struct Signalled;

impl Backend for Signalled {
    fn connect(&self, _: &Doorbell, _: Vector) -> Result<Box<dyn Route>> {
        Ok(Box::new(Signal))
    }
}

/// A sender's half: post, and signal the receiver's thread when the UPID asks for a
/// notification.
struct Signal;

impl Route for Signal {
    #[inline]
    fn send(&self, doorbell: &Doorbell, vector: Vector) -> Result<Sent> {
        if doorbell.upid.post(vector) != PostOutcome::Notify {
            return Ok(Sent::Done);
        }
        if doorbell.pid == current_pid() && doorbell.tid == thread::with(|t| t.tid()) {
            return Ok(Sent::NotifySelf);
        }
        notify(doorbell).map(|()| Sent::Done)
    }

    fn notify_self(&self, _: Vector) {
        notify_self();
    }
}

/// What the handler does with a signal from a per-thread POSIX timer (`si_code == SI_TIMER`)
/// before it delivers: set once by whoever creates such timers (the timer module), so that
/// this backend knows nothing about timers.
static TIMER_HOOK: OnceLock<fn(&libc::siginfo_t)> = OnceLock::new();

/// Registers the hook for `SI_TIMER` signals (the first registration wins; later ones must
/// pass the same function). Call before creating a timer that sends this backend's signal.
pub(crate) fn on_timer_signal(hook: fn(&libc::siginfo_t)) {
    let _ = TIMER_HOOK.set(hook);
}

/// The environment variable that overrides the signal.
pub(crate) const SIGNAL_ENV: &str = "NEMO_SIGNAL";

/// The default signal is `SIGRTMIN() + DEFAULT_OFFSET` (the first free one from there).
pub(crate) const DEFAULT_OFFSET: c_int = 4;

/// Signals this backend must not take: the delivery signals of `uintr-sys`'s UINTR emulation
/// ([`uintr_sys::emulation::delivery_signals`], counted down from `SIGRTMAX()`; its other signal
/// is `SIGILL`, not a real-time one).
pub(crate) fn reserved_signals() -> [c_int; 2] {
    uintr_sys::emulation::delivery_signals()
}

/// Parses a `NEMO_SIGNAL` value: `RTMIN+k`, `SIGRTMIN+k`, `RTMIN`, or a signal number, which
/// must lie in `rtmin..=rtmax`.
pub(crate) fn parse_signal(value: &str, rtmin: c_int, rtmax: c_int) -> Result<c_int> {
    let invalid = |reason: String| {
        Error::from(Repr::InvalidSignal {
            value: value.to_string(),
            reason,
        })
    };
    let v = value.trim();
    let upper = v.to_ascii_uppercase();
    let rest = upper.strip_prefix("SIG").unwrap_or(&upper);
    let signo = if let Some(off) = rest.strip_prefix("RTMIN") {
        let k = match off.trim() {
            "" => 0,
            o => o
                .strip_prefix('+')
                .and_then(|n| n.trim().parse::<c_int>().ok())
                .ok_or_else(|| invalid("expected RTMIN+k with a number k".into()))?,
        };
        rtmin
            .checked_add(k)
            .ok_or_else(|| invalid("offset too large".into()))?
    } else {
        v.parse::<c_int>()
            .map_err(|_| invalid("expected a signal number, or RTMIN+k / SIGRTMIN+k".into()))?
    };
    if !(rtmin..=rtmax).contains(&signo) {
        return Err(invalid(format!(
            "signal {signo} is not a real-time signal (valid: {rtmin}..={rtmax})"
        )));
    }
    Ok(signo)
}

/// Chooses the signal: the `NEMO_SIGNAL` value if given (it must not be `reserved`), else the
/// first of `rtmin + DEFAULT_OFFSET ..= rtmax`, then `rtmin .. rtmin + DEFAULT_OFFSET`, that is
/// not `reserved` and for which `is_free` holds. Pure, for testing; [`signal_number()`] feeds it
/// the process's real state.
pub(crate) fn choose_signal(
    env: Option<&str>,
    rtmin: c_int,
    rtmax: c_int,
    reserved: &[c_int],
    is_free: impl Fn(c_int) -> bool,
) -> Result<c_int> {
    if let Some(value) = env.filter(|v| !v.trim().is_empty()) {
        let signo = parse_signal(value, rtmin, rtmax)?;
        if reserved.contains(&signo) {
            return Err(Repr::InvalidSignal {
                value: value.to_string(),
                reason: format!("signal {signo} is used by the UINTR emulation"),
            }
            .into());
        }
        return Ok(signo);
    }
    let first = (rtmin + DEFAULT_OFFSET).min(rtmax);
    (first..=rtmax)
        .chain(rtmin..first)
        .find(|s| !reserved.contains(s) && is_free(*s))
        .ok_or(Repr::NoFreeSignal.into())
}

fn disposition_is_default(signo: c_int) -> bool {
    let mut old = core::mem::MaybeUninit::<libc::sigaction>::zeroed();
    // SAFETY: a query only (no new action); `old` is a valid out-pointer.
    let r = unsafe { libc::sigaction(signo, core::ptr::null(), old.as_mut_ptr()) };
    // SAFETY: zero-initialised and filled by the kernel on success.
    r == 0 && unsafe { old.assume_init() }.sa_sigaction == libc::SIG_DFL
}

fn install(signo: c_int) -> Result<()> {
    // SAFETY: a zeroed `sigaction` is a valid empty one; the handler has the SA_SIGINFO
    // signature; the mask is initialised with sigemptyset before use.
    unsafe {
        let mut sa: libc::sigaction = core::mem::zeroed();
        sa.sa_sigaction = on_signal as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        if libc::sigaction(signo, &sa, core::ptr::null_mut()) != 0 {
            return Err(Error::last_os_error());
        }
    }
    Ok(())
}

/// The real-time signal of this backend, chosen and its handler installed at the first call.
///
/// Errors: [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) (bad signal) for a bad `NEMO_SIGNAL`, [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted) (no free signal).
///
/// ```
/// let signo = nemo_user::embed::signal_number()?;
/// assert!((libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&signo));
/// # Ok::<(), nemo_user::Error>(())
/// ```
pub fn signal_number() -> Result<c_int> {
    static SIGNO: OnceLock<Result<c_int>> = OnceLock::new();
    SIGNO
        .get_or_init(|| {
            let env = std::env::var(SIGNAL_ENV).ok();
            let signo = choose_signal(
                env.as_deref(),
                libc::SIGRTMIN(),
                libc::SIGRTMAX(),
                &reserved_signals(),
                disposition_is_default,
            )?;
            install(signo)?;
            Ok(signo)
        })
        .clone()
}

/// How long a sender keeps trying while the kernel's queue of pending real-time signals is
/// full (`tgkill` fails with `EAGAIN`) before it gives up: yields first, then sleeps that double
/// from 10 µs to 10 ms each.
pub(crate) const SIGNAL_QUEUE_FULL_BOUND: std::time::Duration = std::time::Duration::from_secs(1);

/// Sends the notification signal to the receiver of `doorbell`. Async-signal-safe.
///
/// Called between [`Doorbell::enter`] and [`Doorbell::leave`], so the receiver's thread cannot
/// have exited (and its id cannot have been reused) while the signal is sent.
///
/// Errors: [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone); `Error::Os(EAGAIN)` if the queue of pending real-time
/// signals (`RLIMIT_SIGPENDING`) stayed full for [`SIGNAL_QUEUE_FULL_BOUND`]: the vector stays
/// posted, and is delivered at the receiver's next delivery (another notification, a safepoint,
/// or its unregistration), not by this send.
pub(crate) fn notify(doorbell: &Doorbell) -> Result<()> {
    let mut waited = std::time::Duration::ZERO;
    let mut pause = std::time::Duration::from_micros(10);
    let mut yields = 0;
    // From another process, through the receiver's thread pidfd where it has one: the
    // receiver's drain waits for such senders a bounded time only (see `interrupt::doorbell`).
    let by_pidfd = doorbell.thread_pidfd >= 0 && doorbell.pid != current_pid();
    loop {
        let r = if by_pidfd {
            // SAFETY: a descriptor number and plain integers; a pidfd names the receiver's
            // thread only (ESRCH once it has exited).
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    doorbell.thread_pidfd as libc::c_long,
                    doorbell.signo as libc::c_long,
                    core::ptr::null::<libc::siginfo_t>(),
                    0 as libc::c_long,
                )
            }
        } else {
            // SAFETY: tgkill takes plain integers; the target is alive per the bracket above.
            unsafe {
                libc::syscall(
                    libc::SYS_tgkill,
                    doorbell.pid as libc::c_long,
                    doorbell.tid as libc::c_long,
                    doorbell.signo as libc::c_long,
                )
            }
        };
        if r == 0 {
            return Ok(());
        }
        match std::io::Error::last_os_error().raw_os_error() {
            // The queue of pending real-time signals is full. ON is set, so no other sender
            // will notify: this one keeps trying, within a bound.
            Some(libc::EAGAIN) if yields < 16 => {
                yields += 1;
                // SAFETY: sched_yield has no preconditions.
                unsafe { libc::sched_yield() };
            }
            Some(libc::EAGAIN) if waited < SIGNAL_QUEUE_FULL_BOUND => {
                let ts = libc::timespec {
                    tv_sec: 0,
                    tv_nsec: pause.as_nanos() as libc::c_long,
                };
                // SAFETY: a valid timespec; nanosleep is async-signal-safe. An early return
                // (EINTR) only makes this try sooner.
                unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
                waited += pause;
                pause = (pause * 2).min(std::time::Duration::from_millis(10));
            }
            Some(libc::ESRCH) => return Err(Repr::ReceiverGone.into()),
            Some(e) => return Err(Repr::Os(e).into()),
            None => return Err(Repr::Os(libc::EIO).into()),
        }
    }
}

/// What the signal handler does, for a notification a thread sends itself (no syscall).
fn notify_self() {
    thread::with(|ts| {
        let local = ts.receiver.load(Relaxed);
        if local.is_null() {
            return;
        }
        if ts.depth.load(Relaxed) != 0 {
            ts.deferred.store(true, Relaxed);
            return;
        }
        // SAFETY: the thread's registered receiver, on its own thread.
        unsafe { drain(ts, local, true) };
    });
}

extern "C" fn on_signal(_: c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
    // SAFETY: __errno_location returns this thread's errno slot; always valid.
    let errno = unsafe { libc::__errno_location() };
    // SAFETY: as above.
    let saved = unsafe { *errno };
    // SAFETY: the kernel passes an SA_SIGINFO handler a valid siginfo (or null).
    if let Some(info) = unsafe { info.as_ref() }
        && info.si_code == libc::SI_TIMER
        && let Some(hook) = TIMER_HOOK.get()
    {
        // A per-thread POSIX timer's tick: the hook posts its vector, delivered by the drain
        // below.
        hook(info);
    }
    notify_self();
    // A task runtime may have the thread resume elsewhere (a sched task in a preemptible
    // region: the preemption stub); the context `rt_sigreturn` restores is the one to rewrite.
    // SAFETY: the kernel passes an SA_SIGINFO handler the interrupted thread's ucontext, ours
    // until the handler returns.
    if let Some(uc) = unsafe { context.cast::<libc::ucontext_t>().as_mut() } {
        let rip = &mut uc.uc_mcontext.gregs[libc::REG_RIP as usize];
        if let Some(to) = resume::redirect(*rip as u64) {
            *rip = to as i64;
        }
    }
    // SAFETY: as above.
    unsafe { *errno = saved };
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTMIN: c_int = 34;
    const RTMAX: c_int = 64;

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(parse_signal("RTMIN+3", RTMIN, RTMAX), Ok(37));
        assert_eq!(parse_signal("sigrtmin + 2", RTMIN, RTMAX), Ok(36));
        assert_eq!(parse_signal("SIGRTMIN", RTMIN, RTMAX), Ok(34));
        assert_eq!(parse_signal(" 50 ", RTMIN, RTMAX), Ok(50));
    }

    #[test]
    fn rejects_what_is_not_a_realtime_signal() {
        for bad in ["10", "RTMIN+31", "RTMIN-1", "USR1", "RTMIN+x", ""] {
            match parse_signal(bad, RTMIN, RTMAX).map_err(|e| e.repr().clone()) {
                Err(Repr::InvalidSignal { value, .. }) => assert_eq!(value, bad),
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn default_skips_taken_and_reserved_signals() {
        assert_eq!(
            choose_signal(None, RTMIN, RTMAX, &[], |_| true),
            Ok(RTMIN + DEFAULT_OFFSET)
        );
        let taken = RTMIN + DEFAULT_OFFSET;
        let reserved = [RTMIN + DEFAULT_OFFSET + 1];
        assert_eq!(
            choose_signal(None, RTMIN, RTMAX, &reserved, |s| s != taken),
            Ok(RTMIN + DEFAULT_OFFSET + 2)
        );
        // Wraps around to the low offsets, then gives up.
        assert_eq!(
            choose_signal(None, RTMIN, RTMAX, &[], |s| s < RTMIN + 2),
            Ok(RTMIN)
        );
        assert_eq!(
            choose_signal(None, RTMIN, RTMAX, &[], |_| false),
            Err(Repr::NoFreeSignal.into())
        );
    }

    #[test]
    fn the_emulations_signal_is_never_chosen() {
        let reserved = reserved_signals();
        let rtmin = libc::SIGRTMIN();
        let rtmax = libc::SIGRTMAX();
        let chosen = choose_signal(None, rtmin, rtmax, &reserved, |_| true).unwrap();
        assert!(!reserved.contains(&chosen));
        // Even when it is the only one left.
        let only = |s| s == reserved[0];
        assert_eq!(
            choose_signal(None, rtmin, rtmax, &reserved, only),
            Err(Repr::NoFreeSignal.into())
        );
        let forced = format!("{}", reserved[0]);
        assert!(matches!(
            choose_signal(Some(&forced), rtmin, rtmax, &reserved, |_| true)
                .map_err(|e| e.repr().clone()),
            Err(Repr::InvalidSignal { .. })
        ));
    }

    #[test]
    fn override_is_taken_as_given_unless_reserved() {
        assert_eq!(
            choose_signal(Some("RTMIN+1"), RTMIN, RTMAX, &[], |_| false),
            Ok(RTMIN + 1)
        );
        assert!(matches!(
            choose_signal(Some("RTMIN+1"), RTMIN, RTMAX, &[RTMIN + 1], |_| true)
                .map_err(|e| e.repr().clone()),
            Err(Repr::InvalidSignal { .. })
        ));
        assert_eq!(
            choose_signal(Some("  "), RTMIN, RTMAX, &[], |_| true),
            Ok(RTMIN + DEFAULT_OFFSET)
        );
    }

    /// The window the pidfd closes: a sender of another process that reaches the receiver
    /// after its thread has exited (the drain stopped waiting for it). Through the thread's
    /// pidfd the send fails with `ReceiverGone`, whatever thread now has that id; a `tgkill`
    /// would have signalled it.
    #[test]
    fn a_fork_child_sending_after_the_receiving_thread_exited_gets_receiver_gone() {
        // The fork handler that refreshes the cached pid in the child.
        crate::interrupt::thread::init_process();
        let signo = signal_number().unwrap();
        let doorbell = std::thread::spawn(move || {
            let tid = crate::interrupt::thread::with(|t| t.tid());
            Doorbell::new(
                crate::backend::BackendKind::Signal,
                current_pid(),
                tid,
                signo,
                !0,
                true,
            )
        })
        .join()
        .unwrap();
        assert!(doorbell.thread_pidfd >= 0, "Linux 6.9+ makes thread pidfds");
        // SAFETY: the child only calls async-signal-safe code (the send, a raw syscall) and
        // `_exit`.
        let child = unsafe { libc::fork() };
        assert!(child >= 0);
        if child == 0 {
            // Another process: the send goes through the pidfd, not `tgkill`.
            let ok = doorbell.pid != current_pid()
                && notify(&doorbell) == Err(Repr::ReceiverGone.into());
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        // SAFETY: opened by `Doorbell::new` above; nobody else closes this bare doorbell's fd.
        unsafe { libc::close(doorbell.thread_pidfd) };
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "{status:#x}"
        );
    }
}
