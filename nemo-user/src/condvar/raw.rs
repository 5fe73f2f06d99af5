//! [`RawCondvar`]: the 48-byte, pointer-free condition variable a C shim keeps inside a
//! `pthread_cond_t`, usable with any mutex.

use super::lockword::{ATTR_MONOTONIC, ATTR_POLICY_MASK, ATTR_POLICY_SHIFT, ATTR_SHARED};
use super::platform::Native;
use super::protocol::{Core, Ticket};
use super::waiting::{learn, spin_adaptive, wait_ticket};
use crate::error::Error;
use crate::error::Repr;
use crate::park::{FutexPark, Park, ParkRequest};
use crate::wait::adaptive::{Ended, Plan};
use crate::wait::ladder::{Climb, climb};
use crate::wait::{Clock, Deadline, PolicyClass, WaitOutcome, WaitPolicy};

/// A condition variable in 48 bytes (align 8) with no pointers, so it fits inside a glibc
/// `pthread_cond_t` and works in memory shared between processes. **All-zero bytes are a valid,
/// idle condvar** (clock `CLOCK_REALTIME`, process-private, default policy) — the same bytes as
/// `PTHREAD_COND_INITIALIZER`.
///
/// It works with any mutex: [`wait_raw`](Self::wait_raw) takes the unlock and relock steps as
/// closures, and hands back whatever the relock returned (for a robust pthread mutex, that is
/// where `EOWNERDEAD` comes back). For `std::sync::Mutex` use [`Condvar`](super::Condvar).
///
/// The protocol (who touches which word when) is documented in the crate's `condvar::protocol`
/// source; the behaviour is summarised in the [module docs](super).
///
/// ```
/// use nemo_user::condvar::RawCondvar;
/// use nemo_user::wait::{Deadline, WaitOutcome};
/// use std::sync::Mutex;
/// use std::time::Duration;
///
/// static CV: RawCondvar = RawCondvar::new();
/// let m = Mutex::new(());
///
/// // Nobody notifies: the wait times out, and the relock's result comes back.
/// let guard = m.lock().unwrap();
/// let deadline = Deadline::from(Duration::from_millis(1));
/// let (outcome, relocked) = CV
///     .wait_raw(|| { drop(guard); Ok::<(), ()>(()) }, || m.lock(), Some(&deadline))
///     .unwrap();
/// assert_eq!(outcome, WaitOutcome::TimedOut);
/// assert!(relocked.is_ok());
/// assert!(!CV.notify_one()); // nobody waiting: no system call, nothing signalled
/// ```
#[repr(transparent)]
pub struct RawCondvar {
    core: Core<Native>,
}

/// One waiter's in-progress wait on a [`RawCondvar`], for the split-phase API
/// ([`SplitWait::begin_wait`] … [`SplitWait::finish_wait`]). Plain data: it borrows nothing, so
/// a C shim can keep it in a cancellation cleanup buffer.
///
/// Every ticket must end in [`SplitWait::finish_wait`] on the condvar that issued it (after
/// its outcome is known: [`SplitWait::poll`] returned `Some`, or [`SplitWait::abandon`] was
/// called); otherwise the condvar keeps counting the waiter, and `destroy` waits for it forever.
#[must_use = "a wait ticket must be finished with SplitWait::finish_wait"]
#[derive(Debug)]
pub struct WaitTicket(Ticket, SplitSpin);

/// What an adaptive [`SplitWait::spin_wait`] that ended in "park" leaves for
/// [`SplitWait::finish_wait`], which teaches the condvar's spin hint how the wait ended (the
/// ladder does that itself, but a split-phase waiter parks outside it). Compact, so that a
/// ticket still fits the 32-byte key of the C event API.
#[derive(Clone, Copy, Debug, Default)]
struct SplitSpin {
    /// When the policy's full window ended, in µs of `CLOCK_MONOTONIC`, wrapping: comparisons
    /// are right for waits up to 35 minutes, and a longer one can only make the hint try the
    /// full window again.
    window_end_us: u32,
    /// The hint's plan for this wait (`Plan::to_byte`).
    plan: u8,
    flags: u8,
}

/// The hint has not learnt from this wait yet.
const SPLIT_PENDING: u8 = 1;
/// It spun a window before parking.
const SPLIT_SPUN: u8 = 2;

/// `CLOCK_MONOTONIC` in µs, wrapping.
fn now_us() -> u32 {
    let t = Clock::Monotonic.now();
    (t.sec() as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(u64::from(t.nsec() / 1_000)) as u32
}

const _: () = assert!(std::mem::size_of::<RawCondvar>() == 48);
const _: () = assert!(std::mem::align_of::<RawCondvar>() <= 8);

impl Default for RawCondvar {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RawCondvar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = self.core.unsignalled();
        f.debug_struct("RawCondvar")
            .field("clock", &self.clock())
            .field("process_shared", &self.is_process_shared())
            .field("policy", &self.policy_class())
            .field("unsignalled_waiters", &(a + b))
            .finish()
    }
}

impl RawCondvar {
    /// A new condvar: `CLOCK_REALTIME`, process-private, default policy; all-zero bytes (the
    /// analog of `PTHREAD_COND_INITIALIZER`, usable in a `static`).
    pub const fn new() -> Self {
        RawCondvar {
            core: Core::<Native>::new(),
        }
    }

    /// A new condvar with these attributes (what `pthread_cond_init` reads from a
    /// `pthread_condattr_t`): the `clock` its `pthread_cond_timedwait` deadlines are measured
    /// on (`pthread_condattr_setclock`); whether it is `process_shared`
    /// (`pthread_condattr_setpshared`: its futex operations then omit `FUTEX_PRIVATE_FLAG`, so
    /// it works in `MAP_SHARED` memory across `fork` and between unrelated processes); and the
    /// `policy` [`wait_raw`](Self::wait_raw) uses. `with_attributes(Clock::Realtime, false,
    /// PolicyClass::Default)` is [`new`](Self::new).
    ///
    /// ```
    /// use nemo_user::condvar::RawCondvar;
    /// use nemo_user::wait::{Clock, PolicyClass};
    ///
    /// let cv = RawCondvar::with_attributes(Clock::Monotonic, true, PolicyClass::ParkOnly);
    /// assert_eq!(cv.clock(), Clock::Monotonic);
    /// assert!(cv.is_process_shared());
    /// assert_eq!(cv.policy_class(), PolicyClass::ParkOnly);
    /// ```
    pub fn with_attributes(clock: Clock, process_shared: bool, policy: PolicyClass) -> Self {
        let cv = RawCondvar::new();
        let monotonic = if clock == Clock::Monotonic {
            ATTR_MONOTONIC
        } else {
            0
        };
        let shared = if process_shared { ATTR_SHARED } else { 0 };
        cv.core.set_attr_bits(ATTR_MONOTONIC, monotonic);
        cv.core.set_attr_bits(ATTR_SHARED, shared);
        cv.core
            .set_attr_bits(ATTR_POLICY_MASK, policy.bits() << ATTR_POLICY_SHIFT);
        cv
    }

    /// The clock that `pthread_cond_timedwait` deadlines of this condvar are measured on.
    pub fn clock(&self) -> Clock {
        if self.core.attr_bits() & ATTR_MONOTONIC != 0 {
            Clock::Monotonic
        } else {
            Clock::Realtime
        }
    }

    /// Whether the condvar works across processes (`PTHREAD_PROCESS_SHARED`).
    pub fn is_process_shared(&self) -> bool {
        self.core.attr_bits() & ATTR_SHARED != 0
    }

    /// The per-condvar policy choice.
    pub fn policy_class(&self) -> PolicyClass {
        PolicyClass::from_bits((self.core.attr_bits() & ATTR_POLICY_MASK) >> ATTR_POLICY_SHIFT)
    }

    /// What the adaptive waits on this condvar did with their spin windows (sums over all
    /// threads; see [`spin_stats`](crate::wait::spin_stats)).
    pub fn spin_stats(&self) -> crate::wait::SpinStats {
        crate::wait::stats::stats_of(super::waiting::core_addr(&self.core))
    }

    /// Wakes one waiter that has not been signalled yet; returns whether there was one. Exactly
    /// one waiter returns because of it. No system call unless that waiter is parked; with
    /// nobody waiting, one load.
    ///
    /// Like `pthread_cond_signal`, it relies on the waiters' mutex: the condition it announces
    /// must have been changed while holding the mutex that waiters hold when they start waiting
    /// (notifying before or after unlocking it are both fine). For a condition checked without
    /// a mutex, use [`notify_one_fenced`](Self::notify_one_fenced).
    #[inline]
    pub fn notify_one(&self) -> bool {
        self.core.notify_one()
    }

    /// Wakes every waiter; returns how many had not been signalled yet. Spinning waiters are
    /// released by one store per group; parked ones by a fan-out tree. The same mutex rule as
    /// [`notify_one`](Self::notify_one) applies.
    #[inline]
    pub fn notify_all(&self) -> usize {
        self.core.notify_all() as usize
    }

    /// [`notify_one`](Self::notify_one) for waiters that check their condition without a mutex
    /// (an eventcount, like [`Event`](crate::event::Event)): a `SeqCst` fence orders the
    /// caller's publication of the condition before the check for waiters. The waiters must
    /// issue a `SeqCst` fence between [`begin_wait`](Self::begin_wait) and their re-check of the
    /// condition.
    #[inline]
    pub fn notify_one_fenced(&self) -> bool {
        self.core.notify_one_fenced()
    }

    /// [`notify_all`](Self::notify_all) with the fence of
    /// [`notify_one_fenced`](Self::notify_one_fenced).
    #[inline]
    pub fn notify_all_fenced(&self) -> usize {
        self.core.notify_all_fenced() as usize
    }

    /// Waiters that no notification has been sent for yet (a snapshot).
    pub fn unsignalled_waiters(&self) -> usize {
        let (a, b) = self.core.unsignalled();
        a as usize + b as usize
    }

    /// Waits with any mutex, using this condvar's policy class and the futex park.
    ///
    /// The caller holds its mutex. `unlock` releases it (if it fails — an error-checking mutex
    /// not owned by the caller — the wait is abandoned and its error returned, the mutex still
    /// not relocked); after the wait, `relock` re-acquires it and its result is returned with the
    /// outcome. `deadline` is absolute on its own clock (`pthread_cond_timedwait`'s is
    /// `Deadline::new(cv.clock(), abstime)`).
    ///
    /// A panic in `unlock` (or in a custom park) unwinds with the condvar's state intact.
    pub fn wait_raw<E, R>(
        &self,
        unlock: impl FnOnce() -> Result<(), E>,
        relock: impl FnOnce() -> R,
        deadline: Option<&Deadline>,
    ) -> Result<(WaitOutcome, R), E> {
        let policy = WaitPolicy::from(self.policy_class());
        self.wait_raw_with(&policy, &FutexPark, unlock, relock, deadline)
    }

    /// [`wait_raw`](Self::wait_raw) with an explicit policy and park.
    pub fn wait_raw_with<E, R>(
        &self,
        policy: &WaitPolicy,
        parker: &impl Park,
        unlock: impl FnOnce() -> Result<(), E>,
        relock: impl FnOnce() -> R,
        deadline: Option<&Deadline>,
    ) -> Result<(WaitOutcome, R), E> {
        let mut wait = InWait {
            cv: self,
            ticket: Some(self.core.join()),
        };
        if let Err(e) = unlock() {
            if let Some(mut t) = wait.ticket.take() {
                if self.core.cancel(&mut t) == WaitOutcome::Woken {
                    // We consumed a notification that was meant for a waiter: pass it on.
                    self.core.notify_one();
                }
                self.core.leave(t);
            }
            return Err(e);
        }
        let outcome = match wait.ticket.as_mut() {
            Some(t) => wait_ticket(&self.core, t, policy, parker, deadline),
            None => WaitOutcome::Woken,
        };
        if let Some(t) = wait.ticket.take() {
            self.core.leave(t);
        }
        Ok((outcome, relock()))
    }

    /// Prepares the condvar for destruction (`pthread_cond_destroy`): fails with
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) if some waiter has not been notified (it would block forever), otherwise
    /// waits until every notified waiter has stopped touching the object — so destroying right
    /// after `notify_all` is safe even though the woken waiters are still on their way out. After
    /// `Ok`, the memory may be freed or re-initialized (e.g. with [`RawCondvar::new`]).
    pub fn destroy(&self) -> Result<(), Error> {
        self.core
            .destroy()
            .map_err(|waiters| Repr::Busy { waiters }.into())
    }
}

/// Keeps a joined ticket from leaking if `unlock` or a park panics.
struct InWait<'a> {
    cv: &'a RawCondvar,
    ticket: Option<Ticket>,
}

impl Drop for InWait<'_> {
    fn drop(&mut self) {
        if let Some(mut t) = self.ticket.take() {
            self.cv.core.cancel(&mut t);
            self.cv.core.leave(t);
        }
    }
}

/// The split-phase wait: what an embedding that makes the blocking call itself drives by hand
/// (re-exported as [`nemo_user::embed::SplitWait`](crate::embed::SplitWait)). Everything else
/// waits with [`RawCondvar::wait_raw`], [`Condvar`](super::Condvar) or
/// [`Event`](crate::event::Event), which climb the same ladder.
///
/// A wait is [`begin_wait`](Self::begin_wait) with the mutex held, then the mutex released,
/// then [`wait_ticket`](Self::wait_ticket) or the lower-level steps
/// ([`spin_wait`](Self::spin_wait), [`poll`](Self::poll), [`prepare_park`](Self::prepare_park)
/// / [`end_park`](Self::end_park), [`abandon`](Self::abandon)), then
/// [`finish_wait`](Self::finish_wait), then the relock.
pub trait SplitWait {
    /// Starts a wait: registers the caller as a waiter. Call with the mutex held, then release
    /// the mutex, then drive the wait with [`wait_ticket`](Self::wait_ticket) or the
    /// lower-level [`poll`](Self::poll) / [`prepare_park`](Self::prepare_park) /
    /// [`end_park`](Self::end_park) / [`abandon`](Self::abandon), then
    /// [`finish_wait`](Self::finish_wait), then relock.
    ///
    /// This is for embeddings that must control the blocking call themselves — a
    /// `pthread_cond_wait` replacement whose wait is a cancellation point runs the futex call in
    /// its own frame, with a cleanup handler that calls `abandon` and `finish_wait`.
    ///
    /// ```
    /// use nemo_user::condvar::RawCondvar;
    /// use nemo_user::embed::{FutexPark, Park, SplitWait};
    /// use nemo_user::wait::{Deadline, WaitOutcome};
    /// use std::time::Duration;
    ///
    /// let cv = RawCondvar::new();
    /// let mut t = cv.begin_wait();
    /// let deadline = Deadline::from(Duration::from_millis(1));
    /// let outcome = loop {
    ///     match cv.prepare_park(&mut t, Some(&deadline)) {
    ///         Err(done) => break done,
    ///         Ok(req) => {
    ///             FutexPark.park(&req); // here a shim would make its cancellable call
    ///             cv.end_park(&mut t);
    ///             if let Some(done) = cv.poll(&mut t) { break done; }
    ///             if deadline.has_passed() { break cv.abandon(&mut t); }
    ///         }
    ///     }
    /// };
    /// assert_eq!(outcome, WaitOutcome::TimedOut);
    /// cv.finish_wait(t);
    /// ```
    fn begin_wait(&self) -> WaitTicket;

    /// Runs the wait ladder for a ticket until it is woken or `deadline` passes.
    fn wait_ticket(
        &self,
        ticket: &mut WaitTicket,
        policy: &WaitPolicy,
        parker: &impl Park,
        deadline: Option<&Deadline>,
    ) -> WaitOutcome;

    /// Climbs the unparked rungs of `policy` for a ticket (spin on the cache line, `umwait` where
    /// the CPU has WAITPKG): `Some` once the wait is over — woken, or `deadline` passed and the
    /// waiter withdrew — and `None` when the policy says to park. The caller then blocks in its
    /// own frame with [`prepare_park`](Self::prepare_park) / [`end_park`](Self::end_park), so an
    /// embedding that must own the blocking call (a cancellation point) keeps the fast rungs of
    /// [`wait_ticket`](Self::wait_ticket).
    ///
    /// An adaptive policy ([`WaitPolicy::is_adaptive`]) is applied as the ladder applies it:
    /// the spin window is the one the condvar's spin hint allows, and only if the process's
    /// spinner admission grants this thread a CPU (one spinner per CPU, at most `cpus − 1`
    /// spinners, none next to a registered parked waiter of a condvar with parked waiters; see
    /// the [`wait`](crate::wait) module docs). Refused, it returns `None` at once. When it
    /// returns `None`, [`finish_wait`](Self::finish_wait) teaches the hint how the wait ended;
    /// hold a [`ParkedHere`](crate::embed::ParkedHere) across the blocking call, as the ladder
    /// does, so that other waiters do not spin on the CPU this one will need once woken.
    ///
    /// ```
    /// use nemo_user::condvar::RawCondvar;
    /// use nemo_user::embed::SplitWait;
    /// use nemo_user::wait::{Deadline, WaitOutcome, WaitPolicy};
    /// use std::time::Duration;
    ///
    /// let cv = RawCondvar::new();
    /// let mut t = cv.begin_wait();
    /// // Nobody notifies: a parking policy says "park" once its spin bound is spent.
    /// let policy = WaitPolicy::spin_then_park(Duration::from_micros(5));
    /// assert_eq!(cv.spin_wait(&mut t, &policy, None), None);
    /// // A deadline that passes while spinning ends the wait.
    /// let d = Deadline::from(Duration::from_micros(50));
    /// let spin = WaitPolicy::spin_only();
    /// assert_eq!(cv.spin_wait(&mut t, &spin, Some(&d)), Some(WaitOutcome::TimedOut));
    /// cv.finish_wait(t);
    /// ```
    fn spin_wait(
        &self,
        ticket: &mut WaitTicket,
        policy: &WaitPolicy,
        deadline: Option<&Deadline>,
    ) -> Option<WaitOutcome>;

    /// Checks without blocking: `Some` once the wait is over (taking a notification if one is
    /// there for this waiter).
    fn poll(&self, ticket: &mut WaitTicket) -> Option<WaitOutcome>;

    /// Registers the waiter as about to block and returns what to block on; `Err` with the
    /// outcome if the wait ended meanwhile. The caller blocks (e.g. with [`FutexPark`]) and then
    /// must call [`end_park`](Self::end_park) before anything else on this ticket.
    fn prepare_park<'a>(
        &'a self,
        ticket: &mut WaitTicket,
        deadline: Option<&'a Deadline>,
    ) -> Result<ParkRequest<'a>, WaitOutcome>;

    /// Ends a block started by [`prepare_park`](Self::prepare_park) (whatever ended it).
    fn end_park(&self, ticket: &mut WaitTicket);

    /// Ends the wait now (deadline, cancellation): `Woken` if a notification was consumed —
    /// the caller should then behave as woken — or `TimedOut` if the waiter withdrew without one.
    /// Safe to call at any point after `begin_wait`, also after a `prepare_park` without
    /// `end_park`, and more than once.
    fn abandon(&self, ticket: &mut WaitTicket) -> WaitOutcome;

    /// Releases the ticket: the waiter's last touch of the condvar. Abandons it first if its
    /// outcome is not known yet.
    fn finish_wait(&self, ticket: WaitTicket);
}

impl SplitWait for RawCondvar {
    #[inline]
    fn begin_wait(&self) -> WaitTicket {
        WaitTicket(self.core.join(), SplitSpin::default())
    }

    fn wait_ticket(
        &self,
        ticket: &mut WaitTicket,
        policy: &WaitPolicy,
        parker: &impl Park,
        deadline: Option<&Deadline>,
    ) -> WaitOutcome {
        // The ladder teaches the hint itself.
        ticket.1 = SplitSpin::default();
        wait_ticket(&self.core, &mut ticket.0, policy, parker, deadline)
    }

    fn spin_wait(
        &self,
        ticket: &mut WaitTicket,
        policy: &WaitPolicy,
        deadline: Option<&Deadline>,
    ) -> Option<WaitOutcome> {
        let t = &mut ticket.0;
        if let Some(o) = t.outcome() {
            return Some(o);
        }
        if policy.is_adaptive() {
            let start_us = now_us();
            let spin = spin_adaptive(&self.core, t, policy, deadline);
            return match spin.climb {
                Climb::Done(o) => {
                    learn(&self.core, spin.plan, Ended::Unparked { spun: spin.spun });
                    Some(o)
                }
                Climb::Expired => Some(self.core.cancel(t)),
                Climb::Park => {
                    let bound_us = u32::try_from(spin.bound_ns / 1_000).unwrap_or(u32::MAX);
                    ticket.1 = SplitSpin {
                        window_end_us: start_us.wrapping_add(bound_us),
                        plan: spin.plan.to_byte(),
                        flags: SPLIT_PENDING | if spin.spun { SPLIT_SPUN } else { 0 },
                    };
                    None
                }
            };
        }
        let line = self.core.spin_word(t).as_ptr() as *const u8;
        match climb(policy, deadline, line, || true, || self.core.poll(t)) {
            Climb::Done(o) => Some(o),
            Climb::Expired => Some(self.core.cancel(t)),
            Climb::Park => None,
        }
    }

    #[inline]
    fn poll(&self, ticket: &mut WaitTicket) -> Option<WaitOutcome> {
        self.core.poll(&mut ticket.0)
    }

    #[inline]
    fn prepare_park<'a>(
        &'a self,
        ticket: &mut WaitTicket,
        deadline: Option<&'a Deadline>,
    ) -> Result<ParkRequest<'a>, WaitOutcome> {
        let shared = self.core.shared();
        self.core
            .prepare_park(&mut ticket.0)
            .map(|(word, expected)| ParkRequest {
                word,
                expected,
                deadline,
                shared,
            })
    }

    #[inline]
    fn end_park(&self, ticket: &mut WaitTicket) {
        self.core.end_park(&mut ticket.0)
    }

    fn abandon(&self, ticket: &mut WaitTicket) -> WaitOutcome {
        // A wait cut short by a deadline or a cancellation says nothing about the gaps.
        ticket.1.flags &= !SPLIT_PENDING;
        self.core.cancel(&mut ticket.0)
    }

    fn finish_wait(&self, mut ticket: WaitTicket) {
        let split = ticket.1;
        if split.flags & SPLIT_PENDING != 0 && ticket.0.outcome() == Some(WaitOutcome::Woken) {
            // Wrapping difference read as signed: not past the window's end.
            let in_window = now_us().wrapping_sub(split.window_end_us) as i32 <= 0;
            let ended = Ended::Parked {
                in_window,
                spun: split.flags & SPLIT_SPUN != 0,
            };
            learn(&self.core, Plan::from_byte(split.plan), ended);
        }
        if ticket.0.outcome().is_none() || ticket.0.is_parked() {
            self.core.cancel(&mut ticket.0);
        }
        self.core.leave(ticket.0)
    }
}
