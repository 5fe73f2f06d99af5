//! `unicast`: signal → waiter running, one waiter on another core (Nemo Fig. 3, 8, 9, 15), in
//! two regimes: a short gap that finds the waiter still in its spin window, and a long one that
//! finds it parked.

use super::Driver;
use crate::harness::{
    Case, Context, Failure, Fanout, Gap, Rounds, SharedFailure, interleaved_blocking_rounds, rounds,
};
use crate::mechanisms::{BlockingEvent, Instance};
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// One waiter, one event at a time.
pub struct Unicast;

/// Repetitions in a default run: enough paired long-gap repetitions (each a twentieth of the
/// case's budget, about 50 events 1 ms apart per mechanism, the mechanisms taking turns event
/// by event) for a narrow interval on the `nemo_condvar_park` / `futex` ratio, whose single
/// runs move by ±30 % on a shared machine.
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

    /// The long gap, natively: every waiter is parked, so the mechanisms' waiters can share
    /// their core and take turns event by event. Not under `--sim`, where every thread needs a
    /// simulated core of its own and the gap is spun.
    fn interleaves(&self, ctx: &Context, case: &Case) -> bool {
        !ctx.sim && matches!(case.gap, Gap::Sleep(_))
    }

    fn measure_interleaved(
        &self,
        ctx: &Context,
        case: &Case,
        evs: &[&dyn BlockingEvent],
    ) -> Result<Vec<Measurement>, SharedFailure> {
        Ok(interleaved_blocking_rounds(ctx, case, evs)?
            .into_iter()
            .map(|r| measurement(ctx, &r))
            .collect())
    }
}

/// The notifier's own cost per notify (median, in the clock's unit) as an extra column, for
/// blocking mechanisms.
pub(super) fn notify_extra(ctx: &Context, r: &Rounds) -> Vec<(&'static str, f64)> {
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
    Ok(measurement(ctx, &r))
}

/// The measurement of one receiver's rounds: its latencies, CPU and notify cost.
fn measurement(ctx: &Context, r: &Rounds) -> Measurement {
    let (mut lat, clamped) = r.latencies(&ctx.clock);
    Measurement {
        unit: ctx.clock.unit(),
        samples: Samples::Latency(lat.pop().unwrap_or_default()),
        waiter_cpu_ns_per_event: r.cpu_ns_per_event(),
        pinned: r.pinned,
        clamped,
        extra: notify_extra(ctx, r),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::Clock;
    use crate::placement::Topology;

    fn ctx(sim: bool) -> Context {
        Context {
            clock: Clock::native(Duration::from_millis(2)),
            topology: Topology::detect(),
            sim,
            timeout: Duration::from_secs(10),
        }
    }

    #[test]
    fn only_the_native_long_gap_takes_turns_event_by_event() {
        let plan = Plan::new(crate::plan::Profile::Quick, 2);
        let cases = Unicast.cases(&plan);
        let long = cases
            .iter()
            .find(|c| c.regime == "long-gap")
            .expect("long gap");
        let short = cases
            .iter()
            .find(|c| c.regime == "short-gap")
            .expect("short gap");
        assert!(Unicast.interleaves(&ctx(false), long));
        assert!(!Unicast.interleaves(&ctx(false), short));
        assert!(!Unicast.interleaves(&ctx(true), long));
    }

    #[test]
    fn interleaved_measurements_come_back_one_per_instance_in_order() {
        let ctx = ctx(false);
        let case = Case {
            regime: "long-gap".into(),
            gap: Gap::Sleep(Duration::from_micros(200)),
            events: 8,
            budget: None,
            warmup: 1,
            receivers: 1,
            fanout: Fanout::One,
        };
        let setup = crate::runner::setup(&ctx, "unicast", &case);
        let evs: Vec<Box<dyn BlockingEvent>> = ["futex", "nemo_condvar_park"]
            .iter()
            .map(
                |id| match crate::mechanisms::find(id).map(|m| m.instantiate(&setup)) {
                    Some(Ok(Instance::Blocking(ev))) => ev,
                    _ => panic!("{id} is a blocking mechanism that runs here"),
                },
            )
            .collect();
        let refs: Vec<&dyn BlockingEvent> = evs.iter().map(|e| &**e).collect();
        let ms = Unicast
            .measure_interleaved(&ctx, &case, &refs)
            .expect("completes");
        assert_eq!(ms.len(), 2);
        for m in &ms {
            assert!(matches!(&m.samples, Samples::Latency(l) if l.len() == 8));
            assert!(m.extra.iter().any(|(k, _)| *k == "notify_p50"));
        }
    }
}
