//! The operating system's timer interfaces as the `timer` scenario drives them (xUI Fig. 6): a
//! thread woken by `setitimer`'s signal, and a thread sleeping with `clock_nanosleep`. (The
//! spinning and sleeping timer cores are `nemo_user::timer::TimerCore`'s.)
//!
//! Both loops run on the calling thread until `stop` is set, call `tick(late_ns)` at each
//! expiration — `late_ns`: how long after its deadline the thread got to run — and return the
//! number of expirations, periods they slept through included.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::stats::phase_late;
use crate::clock::monotonic_ns;

/// Where a timer thread gets its time from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerSource {
    /// `setitimer(ITIMER_REAL)`: the kernel signals the process every interval; the timer
    /// thread takes `SIGALRM` with `sigwaitinfo`.
    Setitimer,
    /// `clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)` to each deadline.
    Nanosleep,
    /// `nemo_user`'s timer core spinning on TSC deadlines.
    Spin,
    /// `nemo_user`'s timer core sleeping in the kernel to each deadline.
    Sleep,
}

impl TimerSource {
    /// The name in regimes.
    pub fn name(self) -> &'static str {
        match self {
            TimerSource::Setitimer => "setitimer",
            TimerSource::Nanosleep => "nanosleep",
            TimerSource::Spin => "spin",
            TimerSource::Sleep => "nemo-sleep",
        }
    }

    /// The source named `name`.
    pub fn parse(name: &str) -> Option<TimerSource> {
        [
            TimerSource::Setitimer,
            TimerSource::Nanosleep,
            TimerSource::Spin,
            TimerSource::Sleep,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether it needs the kernel to sleep or signal (which gem5's syscall emulation cannot).
    pub fn needs_kernel_timers(self) -> bool {
        !matches!(self, TimerSource::Spin)
    }
}

fn timespec(ns: u64) -> libc::timespec {
    libc::timespec {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    }
}

fn timeval(d: Duration) -> libc::timeval {
    libc::timeval {
        tv_sec: d.as_secs() as libc::time_t,
        tv_usec: d.subsec_micros() as libc::suseconds_t,
    }
}

fn alarm_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise a sigset_t on this stack.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGALRM);
        set
    }
}

/// `SIGALRM` blocked on the calling thread (and so in every thread it creates meanwhile), with
/// a handler that does nothing in place of the default action (which ends the process), until
/// dropped. `setitimer` signals the *process*: the kernel gives the signal to any thread that
/// does not block it, so every thread of the case must block it for the timer thread's
/// `sigwaitinfo` to receive each one.
pub struct AlarmBlocked {
    old_mask: libc::sigset_t,
    old_action: libc::sigaction,
}

extern "C" fn ignore_alarm(_: libc::c_int) {}

impl AlarmBlocked {
    /// Blocks `SIGALRM` here and installs the no-op handler.
    pub fn new() -> AlarmBlocked {
        let set = alarm_set();
        // SAFETY: valid sigsets and sigactions on this stack; the handler is async-signal-safe
        // (it does nothing). A handler, not SIG_IGN: an ignored signal is discarded, and
        // `sigwaitinfo` would never see it.
        unsafe {
            let mut old_mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask);
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = ignore_alarm as *const () as usize;
            libc::sigemptyset(&mut act.sa_mask);
            let mut old_action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGALRM, &act, &mut old_action);
            AlarmBlocked {
                old_mask,
                old_action,
            }
        }
    }
}

impl Default for AlarmBlocked {
    fn default() -> Self {
        AlarmBlocked::new()
    }
}

impl Drop for AlarmBlocked {
    fn drop(&mut self) {
        // SAFETY: restores what `new` saved, on the same thread.
        unsafe {
            libc::sigaction(libc::SIGALRM, &self.old_action, std::ptr::null_mut());
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut());
        }
    }
}

/// The `setitimer` loop. `SIGALRM` must be blocked in every thread of the process
/// ([`AlarmBlocked`], taken before the threads were created).
pub fn setitimer_loop(interval: Duration, stop: &AtomicBool, mut tick: impl FnMut(u64)) -> u64 {
    let set = alarm_set();
    let it = libc::itimerval {
        it_interval: timeval(interval),
        it_value: timeval(interval),
    };
    let period = interval.as_nanos().max(1) as u64;
    // SAFETY: a valid itimerval; ITIMER_REAL only sends SIGALRM, which is blocked everywhere.
    unsafe { libc::setitimer(libc::ITIMER_REAL, &it, std::ptr::null_mut()) };
    let origin = monotonic_ns();
    let mut served = 0u64;
    let mut expirations = 0u64;
    while !stop.load(Ordering::Acquire) {
        // SAFETY: a valid sigset; no siginfo wanted.
        let r = unsafe { libc::sigwaitinfo(&set, std::ptr::null_mut()) };
        if r != libc::SIGALRM {
            continue;
        }
        let now = monotonic_ns();
        // Pending SIGALRMs merge: count the periods that passed since the last one served.
        let due = now.saturating_sub(origin) / period;
        expirations += due.saturating_sub(served).max(1);
        served = due;
        tick(phase_late(now, origin, period));
    }
    let off = libc::itimerval {
        it_interval: timeval(Duration::ZERO),
        it_value: timeval(Duration::ZERO),
    };
    let zero = timespec(0);
    // SAFETY: disarms the timer, then takes a SIGALRM still pending, if any, so none is left
    // for the next case.
    unsafe {
        libc::setitimer(libc::ITIMER_REAL, &off, std::ptr::null_mut());
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) == libc::SIGALRM {}
    }
    expirations
}

/// The `clock_nanosleep` loop, with the thread's timer slack at 1 ns (the default 50 µs would
/// round every sleep up by that much).
pub fn nanosleep_loop(interval: Duration, stop: &AtomicBool, mut tick: impl FnMut(u64)) -> u64 {
    let period = interval.as_nanos().max(1) as u64;
    // SAFETY: PR_GET/SET_TIMERSLACK affect only the calling thread.
    let old_slack = unsafe { libc::prctl(libc::PR_GET_TIMERSLACK, 0, 0, 0, 0) };
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0) };
    let mut deadline = monotonic_ns() + period;
    let mut expirations = 0u64;
    while !stop.load(Ordering::Acquire) {
        let ts = timespec(deadline);
        // SAFETY: a valid absolute timespec; EINTR just loops.
        let r = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        let now = monotonic_ns();
        if r != 0 && now < deadline {
            continue;
        }
        let late = now - deadline;
        let missed = late / period;
        expirations += 1 + missed;
        deadline += (1 + missed) * period;
        tick(late - missed * period);
    }
    // SAFETY: restores the slack read above.
    unsafe {
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            old_slack.max(0) as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    expirations
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn drive(run: impl FnOnce(&AtomicBool, &AtomicU64) -> u64 + Send) -> (u64, u64) {
        let stop = AtomicBool::new(false);
        let ticks = AtomicU64::new(0);
        std::thread::scope(|s| {
            let h = s.spawn(|| run(&stop, &ticks));
            let start = std::time::Instant::now();
            while ticks.load(Ordering::Relaxed) < 5 {
                assert!(start.elapsed() < Duration::from_secs(60), "no ticks");
                std::thread::sleep(Duration::from_millis(1));
            }
            stop.store(true, Ordering::Release);
            (
                h.join().expect("source thread"),
                ticks.load(Ordering::Relaxed),
            )
        })
    }

    #[test]
    fn sources_parse_and_say_what_they_need() {
        for s in [
            TimerSource::Setitimer,
            TimerSource::Nanosleep,
            TimerSource::Spin,
            TimerSource::Sleep,
        ] {
            assert_eq!(TimerSource::parse(s.name()), Some(s));
        }
        assert!(!TimerSource::Spin.needs_kernel_timers());
        assert!(TimerSource::Setitimer.needs_kernel_timers());
    }

    #[test]
    fn nanosleep_ticks_and_counts_every_period() {
        let (expirations, ticks) = drive(|stop, ticks| {
            nanosleep_loop(Duration::from_micros(500), stop, |_| {
                ticks.fetch_add(1, Ordering::Relaxed);
            })
        });
        assert!(ticks >= 5 && expirations >= ticks);
    }

    // The setitimer loop runs through the binary (tests/ticks_cli.rs): `SIGALRM` goes to the
    // process, and the test harness's own threads do not block it.
}
