//! [`TimerCore`]: the loop of a timer thread — the runtimes' "timer core" — serving any number
//! of timers from one thread.
//!
//! # Protocol
//!
//! The timers live in `entries`, behind a mutex that the loop holds while it serves expired
//! timers and that arming and re-arming take; so a schedule never changes under the loop's feet,
//! and the loop never allocates. Every change bumps `version`, the word the loop waits on:
//! spinning and `umwait` see the store, a sleeping loop is woken through the futex (`parked`
//! says whether one may be asleep, so that arming a timer on a spinning core costs no syscall).
//!
//! Cancelling does not take the mutex (a callback may cancel its own timer): it moves the timer's
//! [`Slot`] out of `ARMED`, then waits while the loop is inside that timer's expiration
//! (`firing`). The loop sets `firing` before it checks the state, so either it sees the cancel
//! and skips the timer, or the cancel sees it firing and waits (both sides `SeqCst`): after
//! `cancel` returns, nothing more is sent or called for the timer.

use crate::error::Repr;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::error::Result;
use crate::interrupt::{Endpoint, Sender, thread};

use super::clock::{DeadlineClock, MinimalSlack, Ticks, futex_wait, futex_wake};
use super::destination::{Destination, Fired, Firing, Notify, Slot, state};
use super::{Arm, Expiry, Timer};

/// How a timer core waits between deadlines: the trade between precision and CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Idle {
    /// Spins on the clock (the TSC where it is invariant). The most precise — a tick is sent
    /// tens of nanoseconds after its deadline — and the core is 100 % busy, as in the runtimes
    /// that dedicate a core to timing.
    Spin,
    /// Waits in `umwait` (WAITPKG) on the schedule word until the deadline: as precise as
    /// spinning, in a light power state that frees execution resources for a hyper-thread
    /// sibling. Without WAITPKG (or an invariant TSC) it is [`Idle::Spin`].
    Pause,
    /// Sleeps in the kernel until the deadline (the hrtimer sleep of `clock_nanosleep` with
    /// `TIMER_ABSTIME`, with the thread's timer slack at 1 ns). The core is free between ticks;
    /// each tick costs a kernel wakeup (a few µs late, a few µs of CPU).
    Sleep,
}

/// Options for a [`TimerCore`], served on a thread of the caller's ([`build`](Self::build),
/// then [`TimerCore::run`]) or on a thread of its own ([`spawn`](Self::spawn), a
/// [`TimerThread`](super::TimerThread)).
#[derive(Debug, Clone, Copy, PartialEq)]
#[must_use]
pub struct TimerCoreBuilder {
    wait: Idle,
    tsc_ghz: Option<f64>,
    /// The CPU a spawned thread pins itself to.
    pub(super) cpu: Option<usize>,
}

impl TimerCoreBuilder {
    /// How the core waits between deadlines (default [`Idle::Spin`]).
    pub fn wait(mut self, wait: Idle) -> Self {
        self.wait = wait;
        self
    }

    /// The TSC rate, if the caller knows it (a simulator, a program that calibrated already);
    /// otherwise it is measured once per process (about 2 ms, at the first core built). Ignored
    /// by [`Idle::Sleep`], which keeps its deadlines in `CLOCK_MONOTONIC`.
    pub fn tsc_ghz(mut self, ghz: f64) -> Self {
        self.tsc_ghz = Some(ghz);
        self
    }

    /// For [`spawn`](Self::spawn): pins the timer thread to this CPU (an index in the kernel's
    /// CPU numbering). A core that is [built](Self::build) runs wherever its caller runs.
    pub fn cpu(mut self, cpu: usize) -> Self {
        self.cpu = Some(cpu);
        self
    }

    /// The core, not yet running: call [`TimerCore::run`] on the thread that is to serve it.
    pub fn build<'a>(self) -> TimerCore<'a> {
        let clock = match self.wait {
            Idle::Sleep => DeadlineClock::Monotonic,
            Idle::Spin | Idle::Pause => DeadlineClock::best(self.tsc_ghz),
        };
        let wait = match self.wait {
            Idle::Pause if !(clock.is_tsc() && waitpkg()) => Idle::Spin,
            w => w,
        };
        TimerCore {
            entries: Mutex::new(Vec::new()),
            version: AtomicU32::new(0),
            parked: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            running: AtomicBool::new(false),
            runner: AtomicI32::new(0),
            wait,
            clock,
        }
    }
}

fn waitpkg() -> bool {
    cfg!(target_arch = "x86_64") && uintr_sys::detect().waitpkg
}

/// One timer as the core sees it.
struct Entry<'a> {
    slot: Arc<Slot>,
    target: Destination<'a>,
    /// Ticks between expirations; 0 for a one-shot timer.
    period: Ticks,
    /// The next deadline.
    next: Ticks,
    /// The last deadline served, or when the timer was armed: where a new period counts from.
    anchor: Ticks,
}

/// The loop of a timer thread, serving many timers: at each deadline it posts the timer's vector
/// to its receiver (or calls its function), then waits for the next deadline as its [`Idle`]
/// says.
///
/// [`TimerThread`](super::TimerThread) runs one on a thread of its own; build one yourself to
/// run it on a thread you manage ([`TimerCore::run`]), for instance in a scope, where timer
/// functions may borrow (the core's lifetime `'a` bounds what they borrow).
///
/// A core with no armed timer sleeps in the kernel whatever its [`Idle`], and wakes when one is
/// armed. A late core (descheduled, or serving many timers) does not fire missed periods one by
/// one: the next expiration counts them as [`missed`](Expiry::missed), and they appear in
/// [`TickStats::coalesced`](super::TickStats::coalesced).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use nemo_user::timer::{Arm, TimerCore, Idle};
///
/// let ticks = AtomicU64::new(0);
/// let core = Arc::new(TimerCore::builder().wait(Idle::Sleep).build());
/// std::thread::scope(|s| {
///     s.spawn(|| core.run());
///     // The function borrows `ticks`: the scope outlives the core's thread.
///     let timer = core.arm_fn(Arm::Periodic(Duration::from_millis(1)), |_| {
///         ticks.fetch_add(1, Ordering::Relaxed);
///     })?;
///     while ticks.load(Ordering::Relaxed) < 3 {
///         std::thread::yield_now();
///     }
///     timer.cancel();
///     let n = ticks.load(Ordering::Relaxed);
///     assert_eq!(timer.stats().delivered, n); // nothing runs after cancel returns
///     core.stop();
///     Ok::<(), nemo_user::Error>(())
/// })?;
/// # Ok::<(), nemo_user::Error>(())
/// ```
pub struct TimerCore<'a> {
    entries: Mutex<Vec<Entry<'a>>>,
    /// Bumped at every change of the schedule; the loop waits on it.
    version: AtomicU32,
    /// The loop may be asleep on `version`.
    parked: AtomicBool,
    stopped: AtomicBool,
    running: AtomicBool,
    /// Thread id of the thread in `run`, 0 when none.
    runner: AtomicI32,
    wait: Idle,
    clock: DeadlineClock,
}

impl core::fmt::Debug for TimerCore<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimerCore")
            .field("wait", &self.wait)
            .field("tsc", &self.clock.is_tsc())
            .field("running", &self.running.load(SeqCst))
            .field("stopped", &self.stopped.load(SeqCst))
            .finish()
    }
}

impl<'a> TimerCore<'a> {
    /// Options: how the core waits, the TSC rate, and for a core on a thread of its own the
    /// CPU it runs on.
    pub fn builder() -> TimerCoreBuilder {
        TimerCoreBuilder {
            wait: Idle::Spin,
            tsc_ghz: None,
            cpu: None,
        }
    }

    /// How this core waits: the requested [`Idle`], or [`Idle::Spin`] where [`Idle::Pause`]
    /// cannot run (its `Debug` output shows it too).
    #[cfg(test)]
    fn wait(&self) -> Idle {
        self.wait
    }

    /// Whether its deadlines are TSC values (else `CLOCK_MONOTONIC`).
    #[cfg(test)]
    fn uses_tsc(&self) -> bool {
        self.clock.is_tsc()
    }

    /// Serves the timers on the calling thread until [`stop`](TimerCore::stop). With
    /// [`Idle::Sleep`] it lowers the thread's timer slack to 1 ns meanwhile.
    ///
    /// Errors: [`ErrorKind::TimerStopped`](crate::ErrorKind::TimerStopped) after `stop`; [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) if the core
    /// already runs on another thread. A timer function that panics stops the core, and the
    /// panic propagates out of `run`.
    pub fn run(&self) -> Result<()> {
        if self.stopped.load(SeqCst) {
            return Err(Repr::TimerStopped.into());
        }
        if self.running.swap(true, SeqCst) {
            return Err(Repr::TimerUnsupported(
                "this timer core is already running on another thread".into(),
            )
            .into());
        }
        let _running = Running(self);
        self.runner.store(thread::with(|t| t.tid()), SeqCst);
        let _slack = (self.wait == Idle::Sleep).then(MinimalSlack::set);
        loop {
            // `version` before `stopped`: a stop that comes after this check bumps the version
            // after this read, so the wait below sees a change and does not sleep through it.
            let seen = self.version.load(SeqCst);
            if self.stopped.load(SeqCst) {
                return Ok(());
            }
            let next = self.serve();
            self.wait_for(next, seen);
        }
    }

    /// Ends [`run`](TimerCore::run) (at once, or after the expiration it is serving). Final:
    /// the core cannot run again, and arming on it fails with [`ErrorKind::TimerStopped`](crate::ErrorKind::TimerStopped).
    pub fn stop(&self) {
        self.stopped.store(true, SeqCst);
        self.changed();
    }

    /// Whether [`stop`](TimerCore::stop) was called (or a timer function panicked).
    #[cfg(test)]
    fn is_stopped(&self) -> bool {
        self.stopped.load(SeqCst)
    }

    /// Arms a timer that posts `vector` to the receiver behind `endpoint` at every expiration.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (bad period) for a zero period (or one too long for the clock),
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (vector out of range), [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (vector not enabled), [`ErrorKind::ReceiverGone`](crate::ErrorKind::ReceiverGone),
    /// [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess) (as [`Endpoint::connect`](crate::interrupt::Endpoint::connect)), [`ErrorKind::TimerStopped`](crate::ErrorKind::TimerStopped), and
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) when called from a timer function of this very core.
    pub fn arm(self: &Arc<Self>, endpoint: &Endpoint, vector: u64, arm: Arm) -> Result<Timer<'a>> {
        self.arm_vector(endpoint, vector, arm, Notify::EveryTick)
    }

    /// As [`arm`](TimerCore::arm), but a tick interrupts the receiver only if it did not take
    /// the tick before: each tick is posted without a notification, and the receiver takes it
    /// at its next [`crate::poll`] (a safepoint), as on `poll`; a tick that finds the previous
    /// one still pending — the receiver polled nowhere for a whole period — notifies it (a
    /// signal on `signal`). A receiver that polls at least once a period is never interrupted
    /// and pays what `poll` pays; one that does not is interrupted one period late, so it takes
    /// a tick every other period. Where a backend does not show pending vectors (`uintr`,
    /// where an interrupt is cheap) every tick notifies, as with `arm`; on `poll` the two are
    /// the same.
    ///
    /// For a scheduler on the `signal` backend whose tasks mostly reach safepoints, where a
    /// signal costs microseconds (tens in a virtual machine) and the safepoint's check costs a
    /// load. [`TickStats::coalesced`](super::TickStats::coalesced) counts the ticks that found their predecessor pending,
    /// among them every one that interrupted.
    ///
    /// Errors: as [`arm`](TimerCore::arm).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::time::Duration;
    /// use nemo_user::BackendKind;
    /// use nemo_user::interrupt::Receiver;
    /// use nemo_user::timer::{Arm, Idle, TimerCore};
    ///
    /// let ticks = Arc::new(AtomicU64::new(0));
    /// let t = ticks.clone();
    /// let rx = Receiver::builder()
    ///     .backend(BackendKind::Signal)
    ///     .register(move |_| { t.fetch_add(1, Ordering::Relaxed); })?;
    /// let timers = TimerCore::builder().wait(Idle::Sleep).spawn()?;
    /// let quantum = timers.core().arm_lazy(&rx.endpoint(), 1, Arm::Periodic(Duration::from_millis(1)))?;
    /// while ticks.load(Ordering::Relaxed) < 3 {
    ///     nemo_user::poll(); // a safepoint: takes the tick without a signal
    /// }
    /// quantum.cancel();
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn arm_lazy(
        self: &Arc<Self>,
        endpoint: &Endpoint,
        vector: u64,
        arm: Arm,
    ) -> Result<Timer<'a>> {
        self.arm_vector(endpoint, vector, arm, Notify::Laggards)
    }

    fn arm_vector(
        self: &Arc<Self>,
        endpoint: &Endpoint,
        vector: u64,
        arm: Arm,
        notify: Notify,
    ) -> Result<Timer<'a>> {
        let schedule = self.schedule(arm)?;
        let sender = Sender::connect(endpoint, vector)?;
        let alive = Some(sender.endpoint());
        self.insert(Destination::vector(sender, notify), schedule, alive)
    }

    /// Arms a timer that calls `f` on the core's thread at every expiration. `f` must not arm,
    /// re-arm or wait for this core (it runs inside the core's loop); it may cancel timers.
    ///
    /// Errors: as [`TimerCore::arm`], less those about receivers.
    pub fn arm_fn<F>(self: &Arc<Self>, arm: Arm, f: F) -> Result<Timer<'a>>
    where
        F: FnMut(Expiry) + Send + 'a,
    {
        let schedule = self.schedule(arm)?;
        self.insert(Destination::Call(Box::new(f)), schedule, None)
    }

    fn insert(
        self: &Arc<Self>,
        target: Destination<'a>,
        (period, delay): (Ticks, Ticks),
        alive: Option<Endpoint>,
    ) -> Result<Timer<'a>> {
        self.usable()?;
        let slot = Arc::new(Slot::new());
        {
            let mut entries = self.lock();
            let now = self.clock.now();
            entries.push(Entry {
                slot: slot.clone(),
                target,
                period,
                next: now + delay,
                anchor: now,
            });
        }
        self.changed();
        Ok(Timer::on_core(CoreTimer {
            core: self.clone(),
            slot,
            endpoint: alive,
        }))
    }

    /// `arm` as (period, delay to the first expiration) in ticks.
    fn schedule(&self, arm: Arm) -> Result<(Ticks, Ticks)> {
        match arm {
            Arm::Periodic(p) => {
                let t = self.period_ticks(p)?;
                Ok((t, t))
            }
            Arm::OneShot(d) => Ok((0, self.clock.ticks(d).ok_or(Repr::InvalidPeriod(d))?)),
        }
    }

    fn period_ticks(&self, p: Duration) -> Result<Ticks> {
        match self.clock.ticks(p) {
            Some(t) if t > 0 => Ok(t),
            _ => Err(Repr::InvalidPeriod(p).into()),
        }
    }

    /// Whether the calling thread is the one running the loop (so it is inside a timer
    /// function).
    fn on_runner(&self) -> bool {
        let r = self.runner.load(SeqCst);
        r != 0 && r == thread::with(|t| t.tid())
    }

    /// Checks that the schedule may be changed from here, now.
    fn usable(&self) -> Result<()> {
        if self.on_runner() {
            return Err(Repr::TimerUnsupported(
                "a timer function cannot arm or re-arm timers of its own timer core".into(),
            )
            .into());
        }
        if self.stopped.load(SeqCst) {
            return Err(Repr::TimerStopped.into());
        }
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Entry<'a>>> {
        // A panicking timer function poisons the lock; the schedule itself is still consistent.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Tells the loop the schedule changed.
    fn changed(&self) {
        self.version.fetch_add(1, SeqCst);
        if self.parked.load(SeqCst) {
            futex_wake(&self.version);
        }
    }

    /// Fires every expired timer; returns the earliest deadline still armed.
    fn serve(&self) -> Option<Ticks> {
        let mut entries = self.lock();
        entries.retain(|e| e.slot.state() != state::RELEASED);
        let now = self.clock.now();
        let mut earliest: Option<Ticks> = None;
        for e in entries.iter_mut() {
            if e.slot.state() != state::ARMED {
                continue;
            }
            if now >= e.next {
                let behind = now - e.next;
                let missed = behind.checked_div(e.period).unwrap_or(0);
                e.anchor = e.next.saturating_add(missed.saturating_mul(e.period));
                let expiry = Expiry {
                    missed,
                    late: self.clock.duration(now - e.anchor),
                };
                if let Some(_firing) = Firing::begin(&e.slot) {
                    match e.target.fire(&e.slot.counts, expiry) {
                        Fired::Ok if e.period == 0 => {
                            e.slot.disarm(state::DONE);
                        }
                        Fired::Ok => {}
                        Fired::Gone => {
                            e.slot.disarm(state::DEAD);
                        }
                    }
                }
                e.next = e.anchor.saturating_add(e.period);
            }
            if e.slot.state() == state::ARMED {
                earliest = Some(earliest.map_or(e.next, |n| n.min(e.next)));
            }
        }
        earliest
    }

    /// Waits until `deadline`, a change of the schedule, or `stop`.
    fn wait_for(&self, deadline: Option<Ticks>, seen: u32) {
        let changed = || self.version.load(SeqCst) != seen;
        let Some(deadline) = deadline else {
            self.park(seen, None);
            return;
        };
        match self.wait {
            Idle::Spin => {
                while !changed() && self.clock.now() < deadline {
                    core::hint::spin_loop();
                }
            }
            Idle::Pause => self.pause(deadline, changed),
            Idle::Sleep => {
                // The clock is CLOCK_MONOTONIC here, the futex's deadline clock.
                while !changed() && self.clock.now() < deadline {
                    self.park(seen, Some(deadline));
                }
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    fn pause(&self, deadline: Ticks, changed: impl Fn() -> bool) {
        loop {
            // SAFETY: `Idle::Pause` is only kept when `waitpkg()` holds; `version` is readable.
            unsafe { uintr_sys::instructions::umonitor(self.version.as_ptr().cast()) };
            // Checked after arming the monitor: a change from here on ends the wait.
            if changed() || self.clock.now() >= deadline {
                return;
            }
            // SAFETY: as above. The OS caps the wait (IA32_UMWAIT_CONTROL); the loop goes on.
            unsafe { uintr_sys::instructions::umwait(false, deadline) };
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn pause(&self, deadline: Ticks, changed: impl Fn() -> bool) {
        while !changed() && self.clock.now() < deadline {
            core::hint::spin_loop();
        }
    }

    /// Sleeps on `version` (until `deadline_ns` of `CLOCK_MONOTONIC`, if given).
    fn park(&self, seen: u32, deadline_ns: Option<u64>) {
        self.parked.store(true, SeqCst);
        if self.version.load(SeqCst) == seen {
            futex_wait(&self.version, seen, deadline_ns);
        }
        self.parked.store(false, SeqCst);
    }
}

/// Resets the running state when `run` ends, and stops the core if a timer function panicked.
struct Running<'c, 'a>(&'c TimerCore<'a>);

impl Drop for Running<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stopped.store(true, SeqCst);
        }
        self.0.runner.store(0, SeqCst);
        self.0.running.store(false, SeqCst);
    }
}

/// A [`Timer`] served by a [`TimerCore`].
pub(crate) struct CoreTimer<'a> {
    core: Arc<TimerCore<'a>>,
    slot: Arc<Slot>,
    /// The receiver of a vector timer.
    endpoint: Option<Endpoint>,
}

impl<'a> CoreTimer<'a> {
    fn receiver_alive(&self) -> bool {
        self.endpoint.as_ref().is_none_or(Endpoint::is_alive)
    }

    pub fn is_armed(&self) -> bool {
        self.slot.state() == state::ARMED && self.receiver_alive()
    }

    pub fn stats(&self) -> super::TickStats {
        self.slot.counts.snapshot()
    }

    pub fn cancel(&self) {
        self.slot.disarm(state::CANCELLED);
        self.settle();
    }

    /// Waits until the core is out of this timer's expiration (unless this is the core's own
    /// thread, inside that very expiration).
    fn settle(&self) {
        if self.core.on_runner() {
            return;
        }
        let backoff = crossbeam_utils::Backoff::new();
        while self.slot.firing.load(SeqCst) {
            backoff.snooze();
        }
    }

    /// Runs `f` on this timer's entry, under the core's lock, after the checks every re-arm
    /// makes; then tells the loop.
    fn update(&self, f: impl FnOnce(&mut Entry<'a>, Ticks)) -> Result<()> {
        self.core.usable()?;
        if self.slot.state() == state::DEAD || !self.receiver_alive() {
            self.slot.disarm(state::DEAD);
            return Err(Repr::ReceiverGone.into());
        }
        {
            let mut entries = self.core.lock();
            let e = entries
                .iter_mut()
                .find(|e| Arc::ptr_eq(&e.slot, &self.slot))
                .ok_or(Repr::TimerStopped)?;
            let now = self.core.clock.now();
            f(e, now);
            // Under the lock: the loop sees the new schedule and the state together.
            self.slot.state.store(state::ARMED, SeqCst);
        }
        self.core.changed();
        Ok(())
    }

    pub fn rearm(&self, arm: Arm) -> Result<()> {
        let (period, delay) = self.core.schedule(arm)?;
        self.update(|e, now| {
            e.period = period;
            e.anchor = now;
            e.next = now + delay;
        })
    }

    pub fn set_period(&self, period: Duration) -> Result<()> {
        let p = self.core.period_ticks(period)?;
        let armed = self.slot.state() == state::ARMED;
        self.update(|e, now| {
            if !armed {
                e.anchor = now;
            }
            e.period = p;
            e.next = e.anchor.saturating_add(p).max(now);
        })
    }
}

impl Drop for CoreTimer<'_> {
    fn drop(&mut self) {
        self.slot.state.store(state::RELEASED, SeqCst);
        self.settle();
        self.core.changed();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_falls_back_to_spin_without_waitpkg() {
        let c: TimerCore<'_> = TimerCore::builder().wait(Idle::Pause).build();
        if !waitpkg() || !c.uses_tsc() {
            assert_eq!(c.wait(), Idle::Spin);
        }
        let s: TimerCore<'_> = TimerCore::builder().wait(Idle::Sleep).build();
        assert_eq!(s.wait(), Idle::Sleep);
        assert!(!s.uses_tsc(), "sleeping deadlines are CLOCK_MONOTONIC");
    }

    #[test]
    fn schedules_validate_periods() {
        let c: TimerCore<'_> = TimerCore::builder().wait(Idle::Sleep).build();
        assert_eq!(
            c.schedule(Arm::Periodic(Duration::ZERO)),
            Err(Repr::InvalidPeriod(Duration::ZERO).into())
        );
        assert_eq!(
            c.schedule(Arm::Periodic(Duration::MAX)),
            Err(Repr::InvalidPeriod(Duration::MAX).into())
        );
        assert_eq!(
            c.schedule(Arm::Periodic(Duration::from_micros(5))),
            Ok((5000, 5000))
        );
        assert_eq!(c.schedule(Arm::OneShot(Duration::ZERO)), Ok((0, 0)));
    }

    #[test]
    fn a_stopped_core_refuses_to_run_or_arm() {
        let c = Arc::new(TimerCore::builder().wait(Idle::Spin).build());
        c.stop();
        assert!(c.is_stopped());
        assert_eq!(c.run(), Err(Repr::TimerStopped.into()));
        let r = c.arm_fn(Arm::OneShot(Duration::ZERO), |_| {});
        assert_eq!(r.err(), Some(Repr::TimerStopped.into()));
    }
}
