//! `broadcast`: one signaller, N waiters. Latency to the first and the last waiter, and σ of the
//! wake times per broadcast, as a distribution (Nemo Fig. 4–6, 10–13, 17–19).

use super::Scenario;
use crate::harness::{Case, Context, Failure, Fanout, rounds};
use crate::mechanisms::{Instance, Kind};
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// One event to every waiter.
pub struct Broadcast;

const SHORT: Counts = Counts {
    full: 5_000,
    quick: 300,
    sim: 20,
};
const LONG: Counts = Counts {
    full: 500,
    quick: 30,
    sim: 3,
};

impl Scenario for Broadcast {
    fn id(&self) -> &'static str {
        "broadcast"
    }

    fn about(&self) -> &'static str {
        "one signaller, N waiters: first/last waiter latency and σ of wake times per broadcast"
    }

    fn figures(&self) -> &'static str {
        "Nemo Fig. 4–6, 10–13, 17–19"
    }

    fn baseline(&self) -> &'static str {
        "pthread_cond"
    }

    fn accepts(&self, _: Kind) -> bool {
        true
    }

    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let waiters = plan.waiters();
        let case = |regime: &str, gap, counts| {
            let events = plan.events(counts);
            Case {
                regime: regime.to_string(),
                gap,
                events,
                warmup: plan.warmup(events),
                budget: plan.budget(),
                receivers: waiters,
                fanout: Fanout::All,
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
        let r = rounds(ctx, case, instance)?;
        let (lat, clamped) = r.latencies(&ctx.clock);
        Ok(Measurement {
            unit: ctx.clock.unit(),
            samples: Samples::Broadcast(lat),
            waiter_cpu_ns_per_event: r.cpu_ns_per_event(),
            pinned: r.pinned,
            clamped,
            extra: super::unicast::notify_extra(ctx, &r),
        })
    }
}
