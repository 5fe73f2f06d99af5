//! The scenarios: the papers' figures, each a table of every applicable mechanism.
//!
//! A scenario says which mechanism kinds it compares, against which baseline, in which regimes
//! ([`Case`]s built from the run's [`Plan`]), and turns one measurement into samples. The timing
//! loop itself is [`crate::harness`]'s. Adding one is one file here (its [`Driver`]) and one
//! entry in [`SCENARIOS`]: see `src/mechanisms/README.md`.

use crate::harness::{Case, Context, Failure, SharedFailure};
use crate::mechanisms::{BlockingEvent, Instance, Kind, Mechanism, Setup, Skipped};
use crate::plan::{Counts, Plan};
use crate::samples::Measurement;

mod am;
mod broadcast;
mod coherence;
mod hol;
mod kick;
mod overhead;
mod pool;
mod preempt;
pub mod real;
mod sched_support;
mod timer;
mod unicast;

/// Every scenario, in run order: what each is, as data. Adding one is one entry here and its
/// [`Driver`] in a file of this folder.
pub static SCENARIOS: &[Scenario] = &[
    Scenario {
        id: "unicast",
        about: "signal → waiter running, one waiter on another core",
        figures: "Nemo Fig. 3, 8, 9, 15",
        repeat: unicast::REPEAT,
        ..Scenario::new(&unicast::Unicast)
    },
    Scenario {
        id: "broadcast",
        about: "one signaller, N waiters: first/last waiter latency and σ of wake times per \
                broadcast",
        figures: "Nemo Fig. 4–6, 10–13, 17–19",
        ..Scenario::new(&broadcast::Broadcast)
    },
    Scenario {
        id: "coherence",
        about: "cache-line ping-pong vs the cheapest asynchronous notification to a running \
                receiver",
        figures: "Nemo Fig. 20",
        baseline: "spin",
        // Polling (the coherence network) against interrupts; sleeping waiters are another
        // question (unicast's).
        accepts: &[Kind::Polling, Kind::Interrupt],
        ..Scenario::new(&coherence::Coherence)
    },
    Scenario {
        id: "pool",
        about: "idle pool workers woken for tiny jobs: a ping-pong and a burst of spawns (the \
                shape of Tokio's multi-threaded runtime benchmarks)",
        figures: "Tokio rt_multi_threaded",
        baseline: "std_condvar",
        // Idle workers give their core back: spinning and interrupted receivers are another
        // question (coherence's, am's).
        accepts: &[Kind::Blocking],
        repeat: pool::REPEAT,
        footer: pool::FOOTER,
        ..Scenario::new(&pool::Pool)
    },
    Scenario {
        id: "am",
        about: "active-message notify → action latency (one target, all targets) and throughput \
                to one target",
        figures: "Nemo Fig. 15–19",
        baseline: "signal",
        pairs: &[("am_poll", "spin"), ("am_uintr", "uintr")],
        // Running receivers (interrupted, or polling a mailbox) and the polled cache line that
        // `am_poll` is compared with.
        accepts: &[Kind::Polling, Kind::Interrupt],
        ..Scenario::new(&am::Am)
    },
    Scenario {
        id: "overhead",
        about: "slowdown of fib / linpack / memops under a tick every 1–100 µs, and cost per tick",
        figures: "xUI Fig. 4",
        baseline: "signal",
        accepts: &[Kind::Interrupt],
        footer: overhead::FOOTER,
        ..Scenario::new(&overhead::Overhead)
    },
    Scenario {
        id: "timer",
        about: "CPU of the timer core (setitimer, nanosleep, spinning TSC) as receivers grow",
        figures: "xUI Fig. 6",
        baseline: "signal",
        accepts: &[Kind::Interrupt],
        footer: timer::FOOTER,
        ..Scenario::new(&timer::Timer)
    },
    Scenario {
        id: "kick",
        about: "wake → running of a latency-critical sched task on a busy worker, kick on/off, \
                next to the raw active message of the same backend",
        figures: "Nemo §4.1 (kick)",
        baseline: "nemo_signal",
        accepts: &[Kind::Interrupt],
        rows: SCHED_ROWS,
        footer: kick::FOOTER,
        ..Scenario::new(&kick::Kick)
    },
    Scenario {
        id: "hol",
        about: "one sched worker, Poisson GETs (1.2 µs) and SCANs (580 µs): GET tail latency and \
                goodput, no preemption vs quanta of 5, 20, 50 µs",
        figures: "xUI Fig. 7",
        baseline: "nemo_signal",
        accepts: &[Kind::Interrupt],
        rows: SCHED_ROWS,
        footer: hol::FOOTER,
        ..Scenario::new(&hol::Hol)
    },
    Scenario {
        id: "preempt",
        about: "slowdown of fib / linpack / memops in a sched task preempted every 5–100 µs \
                (a switch back to the same task)",
        figures: "xUI Fig. 5",
        baseline: "nemo_signal",
        accepts: &[Kind::Interrupt],
        rows: SCHED_ROWS,
        footer: preempt::FOOTER,
        ..Scenario::new(&preempt::Preempt)
    },
];

/// The rows of the `nemo_user::sched` scenarios: one per backend their runtime runs on.
const SCHED_ROWS: &[&str] = &["nemo_signal", "nemo_signal_lazy", "nemo_poll", "nemo_uintr"];

/// Looks a scenario up by id.
pub fn find(id: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.id == id)
}

/// The ids of all scenarios.
pub fn ids() -> Vec<&'static str> {
    SCENARIOS.iter().map(|s| s.id).collect()
}

/// One comparison from the papers: a table. What it is, its baseline and the kinds of
/// mechanism it compares are data; its regimes and its measurement are its [`Driver`].
pub struct Scenario {
    /// The id on the command line and in JSON.
    pub id: &'static str,
    /// One line: what is measured.
    pub about: &'static str,
    /// Which paper figures (or benchmarks) it reproduces.
    pub figures: &'static str,
    /// The mechanism every ratio in its table is taken against.
    pub baseline: &'static str,
    /// Mechanisms compared with the raw path they are built on rather than with `baseline`:
    /// `(mechanism, its baseline)` (`am`: `am_poll` against `spin`).
    pub pairs: &'static [(&'static str, &'static str)],
    /// The mechanism kinds that take part.
    pub accepts: &'static [Kind],
    /// The only mechanisms that take part, if not empty (scenarios that build their own
    /// receivers on the backend a row names).
    pub rows: &'static [&'static str],
    /// Lines printed under the scenario's table (the paper's numbers to compare with).
    pub footer: &'static str,
    /// How many times each case runs by default ([`Plan::repetitions`]), per profile.
    pub repeat: Counts,
    /// Its regimes and measurement.
    pub driver: &'static dyn Driver,
}

/// One repetition in every profile.
pub const ONCE: Counts = Counts {
    full: 1,
    quick: 1,
    sim: 1,
};

impl Scenario {
    /// A scenario against `pthread_cond` that takes every kind, runs once, and has no footer
    /// (fill the rest in with `..Scenario::new(driver)`).
    pub const fn new(driver: &'static dyn Driver) -> Scenario {
        Scenario {
            id: "",
            about: "",
            figures: "",
            baseline: "pthread_cond",
            pairs: &[],
            accepts: &[Kind::Blocking, Kind::Polling, Kind::Interrupt],
            rows: &[],
            footer: "",
            repeat: ONCE,
            driver,
        }
    }

    /// The id.
    pub fn id(&self) -> &'static str {
        self.id
    }

    /// What is measured.
    pub fn about(&self) -> &'static str {
        self.about
    }

    /// Which figures it reproduces.
    pub fn figures(&self) -> &'static str {
        self.figures
    }

    /// The table's baseline.
    pub fn baseline(&self) -> &'static str {
        self.baseline
    }

    /// The mechanism `mechanism`'s ratios are taken against.
    pub fn baseline_of(&self, mechanism: &str) -> &'static str {
        self.pairs
            .iter()
            .find(|(m, _)| *m == mechanism)
            .map_or(self.baseline, |(_, b)| *b)
    }

    /// Whether mechanisms of this kind take part.
    pub fn accepts(&self, kind: Kind) -> bool {
        self.accepts.contains(&kind)
    }

    /// Whether `m` is a row of this scenario: its kind takes part, it applies here by design,
    /// and the scenario does not restrict its rows to others.
    pub fn takes(&self, m: &Mechanism) -> bool {
        self.accepts(m.kind)
            && m.supports(self.id)
            && (self.rows.is_empty() || self.rows.contains(&m.id))
    }

    /// The footer.
    pub fn footer(&self) -> &'static str {
        self.footer
    }

    /// The regimes to run, with their event counts and receivers.
    pub fn cases(&self, plan: &Plan) -> Vec<Case> {
        self.driver.cases(plan)
    }

    /// Whether a case can run here at all, whatever the mechanism.
    pub fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        self.driver.check(setup)
    }

    /// Measures one mechanism instance in one case.
    pub fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        self.driver.measure(ctx, case, instance)
    }

    /// Whether `case`'s blocking mechanisms are measured together, event by event.
    pub fn interleaves(&self, ctx: &Context, case: &Case) -> bool {
        self.driver.interleaves(ctx, case)
    }

    /// Measures blocking instances side by side, event by event.
    pub fn measure_interleaved(
        &self,
        ctx: &Context,
        case: &Case,
        evs: &[&dyn BlockingEvent],
    ) -> Result<Vec<Measurement>, SharedFailure> {
        self.driver.measure_interleaved(ctx, case, evs)
    }
}

/// The code half of a [`Scenario`].
pub trait Driver: Sync {
    /// The regimes to run, with their event counts and receivers.
    fn cases(&self, plan: &Plan) -> Vec<Case>;

    /// Whether a case can run here at all, whatever the mechanism (a regime that needs what this
    /// machine or simulator lacks); its rows are skipped with the reason otherwise.
    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        let _ = setup;
        Ok(())
    }

    /// Measures one mechanism instance in one case.
    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure>;

    /// Whether the blocking mechanisms of `case` are measured together, their events
    /// interleaved one by one ([`measure_interleaved`](Self::measure_interleaved)), rather
    /// than one after another.
    fn interleaves(&self, ctx: &Context, case: &Case) -> bool {
        let _ = (ctx, case);
        false
    }

    /// Measures blocking instances side by side, event by event, in one case; one measurement
    /// per instance, in order. Only called where [`interleaves`](Self::interleaves) says so.
    fn measure_interleaved(
        &self,
        ctx: &Context,
        case: &Case,
        evs: &[&dyn BlockingEvent],
    ) -> Result<Vec<Measurement>, SharedFailure> {
        let _ = (ctx, case, evs);
        Err(Failure::Unsupported("this scenario measures one mechanism at a time".into()).into())
    }
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
