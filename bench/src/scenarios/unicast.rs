//! `unicast`: signal → waiter running, one waiter on another core (Nemo Fig. 3, 8, 9, 15), in
//! two regimes: a short gap that finds the waiter still in its spin window, and a long one that
//! finds it parked.

use super::Scenario;
use crate::harness::{Case, Context, Failure, Fanout, rounds};
use crate::mechanisms::{Instance, Kind};
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// One waiter, one event at a time.
pub struct Unicast;

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

impl Scenario for Unicast {
    fn id(&self) -> &'static str {
        "unicast"
    }

    fn about(&self) -> &'static str {
        "signal → waiter running, one waiter on another core"
    }

    fn figures(&self) -> &'static str {
        "Nemo Fig. 3, 8, 9, 15"
    }

    fn baseline(&self) -> &'static str {
        "pthread_cond"
    }

    fn accepts(&self, _: Kind) -> bool {
        true
    }

    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let case = |regime: &str, gap, counts| {
            let events = plan.events(counts);
            Case {
                regime: regime.to_string(),
                gap,
                events,
                warmup: plan.warmup(events),
                budget: plan.budget(),
                receivers: 1,
                fanout: Fanout::One,
            }
        };
        vec![
            case("short-gap", plan.short_gap(), SHORT),
            case("long-gap", plan.long_gap(), LONG),
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
