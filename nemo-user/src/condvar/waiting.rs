//! Driving one wait down the ladder: the unparked rungs of the policy, then the park — and, for
//! adaptive policies, the spin hint and the spinner admission around them.

use std::time::{Duration, Instant};

use super::platform::Native;
use super::protocol::{Core, Ticket};
use crate::park::{Park, ParkRequest};
use crate::wait::adaptive::{Ended, Plan, SpinHint, coin, take_woke_parked, window_ns};
use crate::wait::admission::{ParkedHere, SpinPermit};
use crate::wait::ladder::{Climb, climb, waitpkg};
use crate::wait::load::machine_busy;
use crate::wait::stats::{self, Event};
use crate::wait::{Deadline, WaitOutcome, WaitPolicy};

/// The ladder for one ticket: the unparked rungs of `policy`, then `parker`.
#[inline]
pub(super) fn wait_ticket(
    core: &Core<Native>,
    t: &mut Ticket,
    policy: &WaitPolicy,
    parker: &impl Park,
    deadline: Option<&Deadline>,
) -> WaitOutcome {
    if let Some(o) = t.outcome() {
        return o;
    }
    // Inside a `sched` task: no spinning (it would hold the worker that may run the notifier);
    // the task suspends until the notify wakes it.
    #[cfg(feature = "sched")]
    if let Some(o) = super::interrupt_park::park_task(core, t, deadline) {
        return o;
    }
    if policy.is_adaptive() {
        return wait_adaptive(core, t, policy, parker, deadline);
    }
    let line = core.spin_word(t).as_ptr() as *const u8;
    match climb(policy, deadline, line, || true, || core.poll(t)) {
        Climb::Done(o) => return o,
        Climb::Expired => return core.cancel(t),
        Climb::Park => {}
    }
    park(core, t, parker, deadline)
}

/// The spinning half of an adaptive wait, and what the hint needs to learn from the rest.
pub(super) struct AdaptiveSpin {
    pub(super) climb: Climb<WaitOutcome>,
    pub(super) plan: Plan,
    /// The policy's full low-latency window (spin plus `umwait`), which the hint scales down.
    pub(super) bound_ns: u64,
    /// Whether it was admitted as a spinner and spun a window.
    pub(super) spun: bool,
}

/// The unparked rungs of an adaptive policy: the window the condvar's spin hint allows (given
/// whether the machine is busy, `wait::load`), if the process has a CPU to spare for spinning
/// (the admission rules of `wait::admission`), else none. Counts what it did in the condvar's
/// spin counters (`wait::stats`). The caller withdraws on `Climb::Expired`, parks on `Climb::Park`, and then calls
/// [`learn`].
pub(super) fn spin_adaptive(
    core: &Core<Native>,
    t: &mut Ticket,
    policy: &WaitPolicy,
    deadline: Option<&Deadline>,
) -> AdaptiveSpin {
    let hint = SpinHint::from_bits(core.spin_hint());
    let coin = coin();
    let busy = machine_busy();
    let plan = hint.plan(coin, busy);
    // The partner this thread just woke must be running again before it can reply
    // (`wait::adaptive`, "A partner that is waking").
    let partner_waking = take_woke_parked();
    let umwait = if waitpkg() { policy.umwait_ns() } else { 0 };
    let bound_ns = window_ns(
        u64::from(policy.spin_ns()) + u64::from(umwait),
        0,
        partner_waking,
    );
    let shift = plan.shift.filter(|&s| bound_ns >> s > 0);
    let addr = core_addr(core);
    // Whether an idle machine would have offered a window, for the counters.
    let offered = if busy {
        hint.plan(coin, false).shift.is_some()
    } else {
        plan.shift.is_some()
    };
    let began = |refused: bool, spun: bool| Event::Began {
        window: shift.is_some() || offered,
        refused: refused || (shift.is_none() && offered && busy),
        refused_busy: shift.is_none() && offered && busy,
        spun,
    };
    // A notification that is already there needs no CPU to be caught, and says nothing about
    // whether spinning pays.
    if let Some(o) = core.poll(t) {
        stats::record(addr, began(false, false));
        return AdaptiveSpin {
            climb: Climb::Done(o),
            plan,
            bound_ns,
            spun: false,
        };
    }
    let permit =
        shift.and_then(|_| SpinPermit::acquire(|| core.has_parked(), || core.poll(t).is_some()));
    let spun = permit.is_some();
    // A waiter whose notification came during the admission grace was not refused.
    let refused = shift.is_some() && !spun && t.outcome().is_none();
    stats::record(addr, began(refused, spun));
    let scale = |ns: u32| match shift {
        Some(s) if spun => Duration::from_nanos(window_ns(u64::from(ns), s, partner_waking)),
        _ => Duration::ZERO,
    };
    let windowed = policy
        .with_spin(scale(policy.spin_ns()))
        .with_umwait(scale(policy.umwait_ns()));
    let line = core.spin_word(t).as_ptr() as *const u8;
    let gate = || {
        permit
            .as_ref()
            .is_none_or(|p| p.keep_spinning(|| core.has_parked()))
    };
    let spin_start = spun.then(Instant::now);
    let climb = climb(&windowed, deadline, line, gate, || core.poll(t));
    if let Some(t0) = spin_start {
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let caught = matches!(climb, Climb::Done(_));
        stats::record(addr, Event::Spun { ns, caught });
    }
    if matches!(climb, Climb::Park) {
        stats::record(addr, Event::Parks);
    }
    AdaptiveSpin {
        climb,
        plan,
        bound_ns,
        spun,
    }
}

/// Teaches the condvar's spin hint how a wait planned with `plan` ended.
pub(super) fn learn(core: &Core<Native>, plan: Plan, ended: Ended) {
    if let Ended::Parked {
        in_window: true, ..
    } = ended
    {
        stats::record(core_addr(core), Event::ParkedInWindow);
    }
    let now = core.spin_hint();
    let learnt = SpinHint::from_bits(now).learn(plan, ended);
    if learnt.bits() != now {
        core.replace_spin_hint(now, learnt.bits());
    }
}

/// The key of a condvar's spin counters: its address (a `RawCondvar` is its `Core`).
pub(super) fn core_addr(core: &Core<Native>) -> usize {
    std::ptr::from_ref(core) as usize
}

/// The ladder of an adaptive policy: [`spin_adaptive`], then `parker`; the hint learns from
/// how the wait ended.
fn wait_adaptive(
    core: &Core<Native>,
    t: &mut Ticket,
    policy: &WaitPolicy,
    parker: &impl Park,
    deadline: Option<&Deadline>,
) -> WaitOutcome {
    let start = Instant::now();
    let spin = spin_adaptive(core, t, policy, deadline);
    let (outcome, ended) = match spin.climb {
        Climb::Done(o) => (o, Ended::Unparked { spun: spin.spun }),
        Climb::Expired => (core.cancel(t), Ended::Other),
        Climb::Park => {
            let o = park(core, t, parker, deadline);
            let elapsed_ns = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let ended = match o {
                WaitOutcome::Woken => Ended::Parked {
                    in_window: elapsed_ns <= spin.bound_ns,
                    spun: spin.spun,
                },
                WaitOutcome::TimedOut => Ended::Other,
            };
            (o, ended)
        }
    };
    learn(core, spin.plan, ended);
    outcome
}

/// The park rung, registered on this CPU so that no waiter of the same condvar spins here
/// meanwhile (admission rule 3 in `wait::admission`).
fn park(
    core: &Core<Native>,
    t: &mut Ticket,
    parker: &impl Park,
    deadline: Option<&Deadline>,
) -> WaitOutcome {
    let shared = core.shared();
    let _registered = ParkedHere::register();
    if let Some(rung) = parker.interrupt_rung()
        && let Some(o) = super::interrupt_park::park(core, t, rung, deadline)
    {
        return o;
    }
    core.park_until(t, deadline, |word, expected| {
        parker.park(&ParkRequest {
            word,
            expected,
            deadline,
            shared,
        })
    })
}
