//! The interrupt rung of the wait ladder: the waiter's half of the handshake documented in
//! [`crate::wake`], generic over the platform so that the loom models run it.
//!
//! # Invariants
//!
//! - The waiter's registry slot exists only between `register` and `withdraw` of one iteration;
//!   every iteration withdraws before it polls the outcome, so a wait never returns (nor
//!   unwinds: nothing between the two can panic) with a slot left behind.
//! - The waiter is counted in the condvar's `parked[]` never: notifiers reach it through the
//!   registry, not through `FUTEX_WAKE`.

use std::sync::atomic::Ordering::SeqCst;

use super::platform::{Atom32, Native, Platform};
use super::protocol::{Core, Ticket};
use crate::park::ParkResult;
use crate::wait::{Deadline, WaitOutcome};
use crate::wake::registry::{BucketLock, Registry};
use crate::wake::{InterruptPark, ParkedWaker, native};

/// Parks on interrupts until the wait ends; `None` if the calling thread cannot (the caller then
/// parks on the futex).
pub(super) fn park(
    core: &Core<Native>,
    t: &mut Ticket,
    rung: &InterruptPark,
    deadline: Option<&Deadline>,
) -> Option<WaitOutcome> {
    if core.shared() {
        // Waiters and notifiers in other processes do not share this process's registry.
        return None;
    }
    let waker = native::thread_waker(rung)?;
    Some(park_registered(
        core,
        t,
        native::registry(),
        &waker,
        deadline,
    ))
}

/// Parks the calling `sched` task (not its worker thread) until the wait ends; `None` outside a
/// task, inside a guard, or on a process-shared condvar (the caller then blocks the thread).
#[cfg(feature = "sched")]
pub(super) fn park_task(
    core: &Core<Native>,
    t: &mut Ticket,
    deadline: Option<&Deadline>,
) -> Option<WaitOutcome> {
    if core.shared() {
        return None;
    }
    let waker = native::NativeWaker::Task(crate::wake::task::current()?);
    Some(park_registered(
        core,
        t,
        native::registry(),
        &waker,
        deadline,
    ))
}

/// The waiter's loop: register, re-check, sleep, withdraw, re-check; pass a claimed wake on if
/// it returns on another token (see [`crate::wake`]).
pub(crate) fn park_registered<P, W, L, C>(
    core: &Core<P>,
    t: &mut Ticket,
    registry: &Registry<W, L, C>,
    me: &W,
    deadline: Option<&Deadline>,
) -> WaitOutcome
where
    P: Platform,
    W: ParkedWaker,
    L: BucketLock<W>,
    C: Atom32,
{
    let cv = core.address();
    let generation = t.generation();
    loop {
        if let Some(o) = core.poll(t) {
            return o;
        }
        me.arm(cv);
        registry.register(cv, generation, me);
        core.plat.fence(SeqCst);
        let slept = match core.poll(t) {
            Some(_) => ParkResult::Woken,
            None => me.block(deadline),
        };
        let claimed = registry.withdraw(cv, me);
        me.disarm();
        let outcome = match core.poll(t) {
            Some(o) => Some(o),
            None if slept == ParkResult::TimedOut
                || deadline.is_some_and(|d| core.plat.expired(d)) =>
            {
                Some(core.cancel(t))
            }
            None => None,
        };
        if let Some(o) = outcome {
            if claimed {
                core.pass_on(generation);
            }
            return o;
        }
    }
}
