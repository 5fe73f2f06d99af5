//! `broadcast`: one signaller, N waiters. Latency to the first and the last waiter, and σ of the
//! wake times per broadcast, as a distribution (Nemo Fig. 4–6, 10–13, 17–19).

use super::Driver;
use crate::harness::{Case, Context, Failure, Fanout, rounds};
use crate::mechanisms::Instance;
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

impl Driver for Broadcast {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let waiters = plan.waiters();
        vec![
            plan.case("short-gap", plan.short_gap(), SHORT, waiters, Fanout::All),
            plan.case("long-gap", plan.long_gap(), LONG, waiters, Fanout::All),
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
