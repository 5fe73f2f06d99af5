//! The scenarios: the papers' figures, each a table of every applicable mechanism.
//!
//! A scenario says which mechanism kinds it compares, against which baseline, in which regimes
//! ([`Case`]s built from the run's [`Plan`]), and turns one measurement into samples. The timing
//! loop itself is [`crate::harness`]'s. Adding one is one file here and one line in
//! [`SCENARIOS`]: see `src/mechanisms/README.md`.

use crate::harness::{Case, Context, Failure};
use crate::mechanisms::{Instance, Kind, Setup, Skipped};
use crate::plan::Plan;
use crate::samples::Measurement;

mod am;
mod broadcast;
mod coherence;
mod overhead;
pub mod real;
mod timer;
mod unicast;

/// Every scenario, in run order.
pub static SCENARIOS: &[&dyn Scenario] = &[
    &unicast::Unicast,
    &broadcast::Broadcast,
    &coherence::Coherence,
    &am::Am,
    &overhead::Overhead,
    &timer::Timer,
];

/// Looks a scenario up by id.
pub fn find(id: &str) -> Option<&'static dyn Scenario> {
    SCENARIOS.iter().copied().find(|s| s.id() == id)
}

/// The ids of all scenarios.
pub fn ids() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.id()).collect()
}

/// One comparison from the papers.
pub trait Scenario: Sync {
    /// The id on the command line and in JSON.
    fn id(&self) -> &'static str;

    /// One line: what is measured.
    fn about(&self) -> &'static str;

    /// Which paper figures it reproduces.
    fn figures(&self) -> &'static str;

    /// The mechanism every ratio in its table is taken against.
    fn baseline(&self) -> &'static str;

    /// The mechanism `mechanism`'s ratios are taken against: [`baseline`](Scenario::baseline)
    /// unless the scenario pairs a mechanism with the raw path it is built on (`am`: `am_poll`
    /// against `spin`).
    fn baseline_of(&self, mechanism: &str) -> &'static str {
        let _ = mechanism;
        self.baseline()
    }

    /// Whether mechanisms of this kind take part.
    fn accepts(&self, kind: Kind) -> bool;

    /// The regimes to run, with their event counts and receivers.
    fn cases(&self, plan: &Plan) -> Vec<Case>;

    /// Whether a case can run here at all, whatever the mechanism (a regime that needs what this
    /// machine or simulator lacks); its rows are skipped with the reason otherwise.
    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        let _ = setup;
        Ok(())
    }

    /// Lines printed under the scenario's table (the paper's numbers to compare with).
    fn footer(&self) -> &'static str {
        ""
    }

    /// Measures one mechanism instance in one case.
    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms;

    #[test]
    fn ids_unique_and_baselines_exist() {
        let ids = ids();
        for (i, id) in ids.iter().enumerate() {
            assert!(!ids[..i].contains(id), "duplicate scenario {id}");
            let s = find(id).expect("registered");
            let base = mechanisms::find(s.baseline()).expect("baseline is a mechanism");
            assert!(
                s.accepts(base.kind()),
                "{id} does not accept its own baseline"
            );
            for m in mechanisms::ids() {
                let b = mechanisms::find(s.baseline_of(m)).expect("pair baseline is a mechanism");
                assert!(s.accepts(b.kind()), "{id} does not accept {m}'s baseline");
            }
        }
    }

    #[test]
    fn every_profile_yields_cases_with_events() {
        use crate::plan::Profile;
        for p in [Profile::Full, Profile::Quick, Profile::Sim] {
            let plan = Plan::new(p, 4);
            for s in SCENARIOS {
                let cases = s.cases(&plan);
                assert!(!cases.is_empty(), "{} has no cases", s.id());
                for c in cases {
                    assert!(c.events >= 1 && c.receivers >= 1, "{} {c:?}", s.id());
                }
            }
        }
    }
}
