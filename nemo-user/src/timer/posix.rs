//! Per-thread POSIX timers on the `signal` backend: no timer thread at all.
//!
//! `timer_create(CLOCK_MONOTONIC)` with `SIGEV_THREAD_ID` has the kernel send the backend's own
//! real-time signal to the receiver's thread at each expiration. The backend's signal handler
//! recognises a timer's signal (`si_code == SI_TIMER`) and hands it to [`expired`], which posts
//! the timer's vector to the receiver's UPID, exactly as a sender would; the handler then drains
//! the UPID as for any notification. So a tick is just a posted vector: it coalesces with a
//! pending one, a guard defers it, and it is delivered highest vector first.
//!
//! # Finding the timer from the signal
//!
//! The signal carries a token (`sigev_value`): a tag, the index of a slot in a static table,
//! and the slot's generation. The handler counts itself in the slot's `busy` before it compares
//! the token and reads the slot; retiring a slot changes its token first, then waits for `busy`
//! to drain (both `SeqCst`), so a handler either sees the old token and is waited for, or sees
//! the new one and leaves. A signal still queued when its timer was deleted (older kernels
//! deliver it) finds a different token and does nothing.

use crate::error::Repr;
use core::sync::atomic::{AtomicBool, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::time::Duration;

use uintr_sys::Vector;

use crate::backend::{self, BackendKind};
use crate::clock::monotonic_ns;
use crate::error::{Error, Result};
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::process::current_pid;
use crate::interrupt::{Endpoint, Sender};

use super::destination::Counts;
use super::{Arm, TickStats};

/// POSIX timers that may exist at once in a process (the kernel has its own, larger limit).
pub(crate) const MAX_POSIX_TIMERS: usize = 256;

const TAG: u64 = 0x6e;
const TAG_SHIFT: u32 = 56;
const GEN_SHIFT: u32 = 16;
const GEN_MASK: u64 = (1 << (TAG_SHIFT - GEN_SHIFT)) - 1;
const INDEX_MASK: u64 = (1 << GEN_SHIFT) - 1;
/// Token of a free slot.
const FREE: u64 = 0;
/// Token of a slot being set up or torn down: matches no signal.
const CLAIMED: u64 = 1;

struct Slot {
    token: AtomicU64,
    generation: AtomicU64,
    /// Expirations are to be posted (cleared by cancel, and by a one-shot's expiration).
    armed: AtomicBool,
    one_shot: AtomicBool,
    /// Signal handlers inside this slot.
    busy: AtomicU32,
    /// The receiver's doorbell; kept alive by the timer's endpoint while the token is set.
    doorbell: AtomicPtr<Doorbell>,
    vector: AtomicU8,
    counts: Counts,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            token: AtomicU64::new(FREE),
            generation: AtomicU64::new(0),
            armed: AtomicBool::new(false),
            one_shot: AtomicBool::new(false),
            busy: AtomicU32::new(0),
            doorbell: AtomicPtr::new(core::ptr::null_mut()),
            vector: AtomicU8::new(0),
            counts: Counts::new(),
        }
    }

    fn settle(&self) {
        let backoff = crossbeam_utils::Backoff::new();
        while self.busy.load(SeqCst) != 0 {
            backoff.snooze();
        }
    }
}

static SLOTS: [Slot; MAX_POSIX_TIMERS] = [const { Slot::new() }; MAX_POSIX_TIMERS];

/// The kernel's `siginfo_t` for `SI_TIMER` on Linux: the union starts at offset 16 on 64-bit
/// targets (it holds pointers), and its `_timer` member is `{ int tid; int overrun; sigval_t
/// value; }`.
#[repr(C)]
struct TimerInfo {
    signo: libc::c_int,
    errno: libc::c_int,
    code: libc::c_int,
    #[cfg(target_pointer_width = "64")]
    _pad: libc::c_int,
    tid: libc::c_int,
    overrun: libc::c_int,
    value: libc::sigval,
}

const _: () = assert!(core::mem::size_of::<TimerInfo>() <= core::mem::size_of::<libc::siginfo_t>());

/// The signal backend's hook for a signal with `si_code == SI_TIMER`, called by its handler on
/// the receiver's thread: posts the timer's vector (the handler drains the UPID right after).
/// Async-signal-safe: atomics only.
fn expired(info: &libc::siginfo_t) {
    // SAFETY: `TimerInfo` is a prefix of the kernel's siginfo layout for SI_TIMER, no larger
    // than `siginfo_t`, and all its fields are plain integers.
    let t = unsafe { &*(info as *const libc::siginfo_t).cast::<TimerInfo>() };
    let token = t.value.sival_ptr as u64;
    let index = (token & INDEX_MASK) as usize;
    if token >> TAG_SHIFT != TAG || index >= MAX_POSIX_TIMERS {
        return;
    }
    let slot = &SLOTS[index];
    slot.busy.fetch_add(1, SeqCst);
    if slot.token.load(SeqCst) == token && slot.armed.load(SeqCst) {
        slot.counts.coalesced(t.overrun.max(0) as u64);
        if slot.one_shot.load(SeqCst) {
            slot.armed.store(false, SeqCst);
        }
        let doorbell = slot.doorbell.load(SeqCst);
        // SAFETY: the timer's endpoint keeps the doorbell alive while the token is set and
        // `busy` is raised (see the module docs).
        let doorbell = unsafe { &*doorbell };
        match Vector::new(slot.vector.load(SeqCst) as u64) {
            Ok(v) if doorbell.is_alive() && doorbell.pending() & v.bit() == 0 => {
                doorbell.post_without_notifying(v);
                slot.counts.delivered(1);
            }
            // Still pending (coalesced), or the receiver is gone.
            _ => slot.counts.coalesced(1),
        }
    }
    slot.busy.fetch_sub(1, SeqCst);
}

fn claim() -> Result<usize> {
    SLOTS
        .iter()
        .position(|s| {
            s.token
                .compare_exchange(FREE, CLAIMED, SeqCst, SeqCst)
                .is_ok()
        })
        .ok_or(Repr::Os(libc::EAGAIN).into())
}

fn timespec(d: Duration) -> Result<libc::timespec> {
    let tv_sec = libc::time_t::try_from(d.as_secs()).map_err(|_| Repr::InvalidPeriod(d))?;
    Ok(libc::timespec {
        tv_sec,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    })
}

/// A per-thread POSIX timer posting a vector.
pub(crate) struct PosixTimer {
    index: usize,
    id: libc::timer_t,
    endpoint: Endpoint,
    /// The current period in ns (0: one-shot or disarmed), and when the current period (or
    /// one-shot delay) started: what `set_period` counts from.
    period_ns: AtomicU64,
    armed_at_ns: AtomicU64,
}

// SAFETY: a timer id is a process-wide handle that any thread may pass to timer_settime /
// timer_gettime / timer_delete; everything else is atomics and an `Endpoint` (Send + Sync).
unsafe impl Send for PosixTimer {}
// SAFETY: as above; every method takes `&self` and the kernel serialises calls on one timer.
unsafe impl Sync for PosixTimer {}

impl PosixTimer {
    pub fn create(endpoint: &Endpoint, vector: u64, arm: Arm) -> Result<PosixTimer> {
        let v = Vector::new(vector).map_err(|_| Repr::VectorOutOfRange(vector))?;
        if endpoint.backend() != BackendKind::Signal {
            return Err(Repr::TimerUnsupported(format!(
                "per-thread POSIX timers send the signal backend's signal; this receiver runs on \
                 the {} backend (use a TimerThread)",
                endpoint.backend()
            ))
            .into());
        }
        if endpoint.pid() != current_pid() {
            return Err(Repr::ForeignProcess.into());
        }
        // Checks the vector is enabled and the receiver alive.
        drop(Sender::connect(endpoint, vector)?);
        check(arm)?;
        backend::signal::on_timer_signal(expired);
        let doorbell = endpoint.shared().doorbell();
        let index = claim()?;
        let slot = &SLOTS[index];
        let generation = slot.generation.fetch_add(1, SeqCst).wrapping_add(1) & GEN_MASK;
        let token = (TAG << TAG_SHIFT) | (generation << GEN_SHIFT) | index as u64;
        slot.doorbell
            .store(doorbell as *const Doorbell as *mut Doorbell, SeqCst);
        slot.vector.store(v.get(), SeqCst);
        slot.armed.store(false, SeqCst);
        slot.counts.reset();
        slot.token.store(token, SeqCst);

        // SAFETY: a zeroed sigevent is valid; the fields set below make it SIGEV_THREAD_ID.
        let mut sev: libc::sigevent = unsafe { core::mem::zeroed() };
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = doorbell.signo;
        sev.sigev_notify_thread_id = doorbell.tid;
        sev.sigev_value = libc::sigval {
            sival_ptr: token as *mut libc::c_void,
        };
        let mut id: libc::timer_t = core::ptr::null_mut();
        // SAFETY: valid sigevent and out-pointer. The target thread is in this process (checked
        // above) and alive (its receiver is).
        if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut sev, &mut id) } != 0 {
            let e = Error::last_os_error();
            release(slot);
            return Err(e);
        }
        let t = PosixTimer {
            index,
            id,
            endpoint: endpoint.clone(),
            period_ns: AtomicU64::new(0),
            armed_at_ns: AtomicU64::new(0),
        };
        t.settime(arm)?;
        Ok(t)
    }

    fn slot(&self) -> &'static Slot {
        &SLOTS[self.index]
    }

    /// Programs the kernel timer. `value` zero would disarm it: a zero delay is 1 ns.
    fn program(&self, value: Duration, interval: Duration) -> Result<()> {
        let its = libc::itimerspec {
            it_interval: timespec(interval)?,
            it_value: timespec(value.max(Duration::from_nanos(1)))?,
        };
        self.armed_at_ns.store(monotonic_ns(), SeqCst);
        self.period_ns.store(interval.as_nanos() as u64, SeqCst);
        // SAFETY: `self.id` is a live timer of this process; `its` is valid.
        if unsafe { libc::timer_settime(self.id, 0, &its, core::ptr::null_mut()) } != 0 {
            self.slot().armed.store(false, SeqCst);
            return Err(Error::last_os_error());
        }
        Ok(())
    }

    fn settime(&self, arm: Arm) -> Result<()> {
        let (value, interval) = check(arm)?;
        if !self.endpoint.is_alive() {
            return Err(Repr::ReceiverGone.into());
        }
        let slot = self.slot();
        slot.one_shot.store(interval.is_zero(), SeqCst);
        slot.armed.store(true, SeqCst);
        self.program(value, interval)
    }

    pub fn rearm(&self, arm: Arm) -> Result<()> {
        self.settime(arm)
    }

    pub fn set_period(&self, period: Duration) -> Result<()> {
        check(Arm::Periodic(period))?;
        if !self.endpoint.is_alive() {
            return Err(Repr::ReceiverGone.into());
        }
        let slot = self.slot();
        let now = monotonic_ns();
        let first = if slot.armed.load(SeqCst) {
            // The next expiration comes one new period after the last one (or after arming).
            let mut cur: libc::itimerspec = zero_itimerspec();
            // SAFETY: live timer, valid out-pointer.
            if unsafe { libc::timer_gettime(self.id, &mut cur) } != 0 {
                return Err(Error::last_os_error());
            }
            let remaining = Duration::new(cur.it_value.tv_sec as u64, cur.it_value.tv_nsec as u32);
            let old = Duration::from_nanos(self.period_ns.load(SeqCst));
            let since = if old.is_zero() {
                Duration::from_nanos(now.saturating_sub(self.armed_at_ns.load(SeqCst)))
            } else {
                old.saturating_sub(remaining)
            };
            period.saturating_sub(since)
        } else {
            period
        };
        slot.one_shot.store(false, SeqCst);
        slot.armed.store(true, SeqCst);
        self.program(first, period)
    }

    pub fn cancel(&self) {
        let slot = self.slot();
        slot.armed.store(false, SeqCst);
        let its = zero_itimerspec();
        // SAFETY: live timer; a zero it_value disarms it.
        unsafe { libc::timer_settime(self.id, 0, &its, core::ptr::null_mut()) };
        self.period_ns.store(0, SeqCst);
        slot.settle();
    }

    pub fn is_armed(&self) -> bool {
        self.slot().armed.load(SeqCst) && self.endpoint.is_alive()
    }

    pub fn stats(&self) -> TickStats {
        self.slot().counts.snapshot()
    }
}

fn zero_itimerspec() -> libc::itimerspec {
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    libc::itimerspec {
        it_interval: zero,
        it_value: zero,
    }
}

/// `arm` as (first expiration, interval), validated.
fn check(arm: Arm) -> Result<(Duration, Duration)> {
    let r = match arm {
        Arm::Periodic(p) if p.is_zero() => return Err(Repr::InvalidPeriod(p).into()),
        Arm::Periodic(p) => (p, p),
        Arm::OneShot(d) => (d, Duration::ZERO),
    };
    timespec(r.0)?;
    Ok(r)
}

fn release(slot: &Slot) {
    slot.armed.store(false, SeqCst);
    slot.token.store(CLAIMED, SeqCst);
    slot.settle();
    slot.doorbell.store(core::ptr::null_mut(), SeqCst);
    slot.token.store(FREE, SeqCst);
}

impl Drop for PosixTimer {
    fn drop(&mut self) {
        // SAFETY: the timer was created by this handle and is deleted once, here.
        unsafe { libc::timer_delete(self.id) };
        // A signal still queued for it now finds a retired token.
        release(self.slot());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_tag_generation_and_index() {
        let token = (TAG << TAG_SHIFT) | (GEN_MASK << GEN_SHIFT) | 255;
        assert_eq!(token >> TAG_SHIFT, TAG);
        assert_eq!((token >> GEN_SHIFT) & GEN_MASK, GEN_MASK);
        assert_eq!(token & INDEX_MASK, 255);
        assert!(token != FREE && token != CLAIMED);
        assert!(MAX_POSIX_TIMERS as u64 <= INDEX_MASK + 1);
    }

    #[test]
    fn arms_are_checked() {
        assert_eq!(
            check(Arm::Periodic(Duration::ZERO)),
            Err(Repr::InvalidPeriod(Duration::ZERO).into())
        );
        assert_eq!(
            check(Arm::OneShot(Duration::MAX)),
            Err(Repr::InvalidPeriod(Duration::MAX).into())
        );
        let p = Duration::from_micros(50);
        assert_eq!(check(Arm::Periodic(p)), Ok((p, p)));
        assert_eq!(check(Arm::OneShot(p)), Ok((p, Duration::ZERO)));
    }
}
