//! `coherence`: a cache-line ping-pong — the waiter spins on a line, the signaller writes it —
//! against the cheapest asynchronous notifications to a running receiver (Nemo Fig. 20: what the
//! coherence network delivers compared with an interrupt).

use super::Scenario;
use super::unicast::one_receiver;
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::{Instance, Kind};
use crate::plan::{Counts, Plan};
use crate::samples::Measurement;

/// Back-to-back one-way notifications, no gap.
pub struct Coherence;

const PING_PONG: Counts = Counts {
    full: 20_000,
    quick: 2_000,
    sim: 100,
};

impl Scenario for Coherence {
    fn id(&self) -> &'static str {
        "coherence"
    }

    fn about(&self) -> &'static str {
        "cache-line ping-pong vs the cheapest asynchronous notification to a running receiver"
    }

    fn figures(&self) -> &'static str {
        "Nemo Fig. 20"
    }

    fn baseline(&self) -> &'static str {
        "spin"
    }

    /// Polling (the coherence network) against interrupts; sleeping waiters are another
    /// question (unicast's).
    fn accepts(&self, kind: Kind) -> bool {
        matches!(kind, Kind::Polling | Kind::Interrupt)
    }

    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let events = plan.events(PING_PONG);
        vec![Case {
            regime: "ping-pong".to_string(),
            gap: Gap::None,
            events,
            warmup: plan.warmup(events),
            budget: plan.budget(),
            receivers: 1,
            fanout: Fanout::One,
        }]
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
