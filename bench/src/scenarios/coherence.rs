//! `coherence`: a cache-line ping-pong — the waiter spins on a line, the signaller writes it —
//! against the cheapest asynchronous notifications to a running receiver (Nemo Fig. 20: what the
//! coherence network delivers compared with an interrupt).

use super::Driver;
use super::unicast::one_receiver;
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::Instance;
use crate::plan::{Counts, Plan};
use crate::samples::Measurement;

/// Back-to-back one-way notifications, no gap.
pub struct Coherence;

const PING_PONG: Counts = Counts {
    full: 20_000,
    quick: 2_000,
    sim: 100,
};

impl Driver for Coherence {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        vec![plan.case("ping-pong", Gap::None, PING_PONG, 1, Fanout::One)]
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
