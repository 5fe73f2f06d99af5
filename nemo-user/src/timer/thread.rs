//! [`TimerThread`]: a [`TimerCore`] on a thread of its own.

use crate::error::Repr;
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::error::{Error, Result};
use crate::interrupt::Endpoint;

use super::timer_core::{TimerCore, TimerCoreBuilder};
use super::{Arm, Timer};

/// A thread that serves timers: the "timer core" of user-level runtimes, which sends each
/// worker its preemption ticks. Dropping it stops and joins the thread; its timers then stay
/// disarmed (re-arming them fails with [`ErrorKind::TimerStopped`](crate::ErrorKind::TimerStopped)).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::Duration;
/// use nemo_user::BackendKind;
/// use nemo_user::interrupt::Receiver;
/// use nemo_user::timer::{Arm, Idle, TimerCore};
///
/// const TICK: u64 = 7;
/// let ticks = Arc::new(AtomicU64::new(0));
/// let t = ticks.clone();
/// let rx = Receiver::builder()
///     .backend(BackendKind::Signal)
///     .register(move |v| if v.get() == TICK as u8 { t.fetch_add(1, Ordering::Relaxed); })?;
/// let timer_thread = TimerCore::builder().wait(Idle::Sleep).spawn()?;
/// let timer = timer_thread.core().arm(&rx.endpoint(), TICK, Arm::Periodic(Duration::from_millis(1)))?;
/// while ticks.load(Ordering::Relaxed) < 5 {
///     std::hint::spin_loop(); // the ticks interrupt this loop
/// }
/// timer.cancel();
/// let s = timer.stats();
/// assert!(s.delivered >= 5);
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "dropping a timer thread stops it and every timer it serves"]
pub struct TimerThread {
    core: Arc<TimerCore<'static>>,
    thread: Option<JoinHandle<()>>,
}

impl TimerCoreBuilder {
    /// The core, running on a thread of its own (named `nemo-timer`, pinned to
    /// [`cpu`](Self::cpu) if one was given).
    ///
    /// Errors: [`ErrorKind::Os`](crate::ErrorKind::Os) if the thread cannot be created or pinned.
    pub fn spawn(self) -> Result<TimerThread> {
        let cpu = self.cpu;
        let core = Arc::new(self.build());
        let served = core.clone();
        let (started_tx, started) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("nemo-timer".into())
            .spawn(move || {
                let pinned = cpu.map_or(Ok(()), pin_current);
                let ok = pinned.is_ok();
                let _ = started_tx.send(pinned);
                if ok {
                    // Only `TimerStopped` (a stop before the loop started) can come back.
                    let _ = served.run();
                }
            })
            .map_err(|e| Repr::Os(e.raw_os_error().unwrap_or(libc::EAGAIN)))?;
        match started.recv() {
            Ok(Ok(())) => Ok(TimerThread {
                core,
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Repr::Os(libc::EAGAIN).into())
            }
        }
    }
}

fn pin_current(cpu: usize) -> Result<()> {
    if cpu >= 8 * core::mem::size_of::<libc::cpu_set_t>() {
        return Err(Repr::Os(libc::EINVAL).into());
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes the bit of `cpu`, which is
    // within the set (checked above).
    let set = unsafe {
        let mut set: libc::cpu_set_t = core::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        set
    };
    // SAFETY: pid 0 is the calling thread; `set` is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, core::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 {
        return Err(Error::last_os_error());
    }
    Ok(())
}

impl TimerThread {
    /// Arms a timer that posts `vector` to the receiver behind `endpoint` (see
    /// [`TimerCore::arm`]).
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    pub(crate) fn arm(&self, endpoint: &Endpoint, vector: u64, arm: Arm) -> Result<Timer<'static>> {
        self.core.arm(endpoint, vector, arm)
    }

    /// As [`arm`](TimerThread::arm), interrupting only a receiver that did not take the
    /// previous tick (see [`TimerCore::arm_lazy`]).
    #[cfg_attr(not(feature = "sched"), allow(dead_code))]
    pub(crate) fn arm_lazy(
        &self,
        endpoint: &Endpoint,
        vector: u64,
        arm: Arm,
    ) -> Result<Timer<'static>> {
        self.core.arm_lazy(endpoint, vector, arm)
    }

    /// The core the thread runs: arm timers on it ([`TimerCore::arm`], [`TimerCore::arm_fn`]).
    pub fn core(&self) -> &Arc<TimerCore<'static>> {
        &self.core
    }
}

impl Drop for TimerThread {
    fn drop(&mut self) {
        self.core.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
