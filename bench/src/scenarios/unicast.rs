//! `unicast`: signal → waiter running, one waiter on another core (Nemo Fig. 3, 8, 9, 15), in
//! two regimes: a short gap that finds the waiter still in its spin window, and a long one that
//! finds it parked.

use super::Driver;
use crate::harness::{Case, Context, Failure, Fanout, rounds};
use crate::mechanisms::Instance;
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// One waiter, one event at a time.
pub struct Unicast;

/// Repetitions in a default run: enough paired long-gap repetitions (each a twentieth of the
/// case's budget, about 50 events 1 ms apart) for a narrow interval on the `nemo_condvar_park` /
/// `futex` ratio, whose single runs move by ±30 % on a shared machine. Twenty short repetitions
/// gave narrower intervals than ten longer ones on a loaded 2-core VM (0.10 and 0.10 against
/// 0.12 and 0.34, for that pair alone).
pub(super) const REPEAT: Counts = Counts {
    full: 20,
    quick: 1,
    sim: 1,
};

const SHORT: Counts = Counts {
    full: 20_000,
    quick: 1_000,
    sim: 50,
};
const LONG: Counts = Counts {
    full: 1_000,
    quick: 50,
    sim: 5,
};

impl Driver for Unicast {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        vec![
            plan.case("short-gap", plan.short_gap(), SHORT, 1, Fanout::One),
            plan.case("long-gap", plan.long_gap(), LONG, 1, Fanout::One),
        ]
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        one_receiver(ctx, case, instance)
    }
}

/// The notifier's own cost per notify (median, in the clock's unit) as an extra column, for
/// blocking mechanisms.
pub(super) fn notify_extra(ctx: &Context, r: &crate::harness::Rounds) -> Vec<(&'static str, f64)> {
    r.notify_median(&ctx.clock)
        .map(|m| vec![("notify_p50", m)])
        .unwrap_or_default()
}

/// Runs the rounds of a one-receiver case and keeps its latencies.
pub(super) fn one_receiver(
    ctx: &Context,
    case: &Case,
    instance: &Instance,
) -> Result<Measurement, Failure> {
    let r = rounds(ctx, case, instance)?;
    let (mut lat, clamped) = r.latencies(&ctx.clock);
    Ok(Measurement {
        unit: ctx.clock.unit(),
        samples: Samples::Latency(lat.pop().unwrap_or_default()),
        waiter_cpu_ns_per_event: r.cpu_ns_per_event(),
        pinned: r.pinned,
        clamped,
        extra: notify_extra(ctx, &r),
    })
}
