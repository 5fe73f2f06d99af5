//! The run's parameters, resolved from the command line: how many events each case runs, the
//! gaps, the number of waiters. Scenarios read them to build their cases.

use std::time::Duration;

use crate::harness::{Case, Fanout, Gap, default_warmup};

/// How thorough a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The default: every scenario, enough events for stable tails, each case repeated as its
    /// scenario says.
    Full,
    /// `--quick`: a few seconds, for CI and checks.
    Quick,
    /// `--sim`: gem5 syscall emulation — few events, cycle timestamps, no signals.
    Sim,
}

impl Profile {
    /// The long gap when `--gap-us` does not set one.
    pub fn default_long_gap(self) -> Duration {
        match self {
            Profile::Full | Profile::Quick => DEFAULT_LONG_GAP,
            Profile::Sim => SIM_LONG_GAP,
        }
    }

    /// The profile's name in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Full => "full",
            Profile::Quick => "quick",
            Profile::Sim => "sim",
        }
    }
}

/// Event counts of one regime for each profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Default run.
    pub full: usize,
    /// `--quick`.
    pub quick: usize,
    /// `--sim`.
    pub sim: usize,
}

/// The default short gap: a waiter with a spin window of a few µs is still spinning.
pub const DEFAULT_SHORT_GAP: Duration = Duration::from_micros(2);
/// The default long gap: every spinning policy has given up and parked.
pub const DEFAULT_LONG_GAP: Duration = Duration::from_millis(1);
/// The long gap under `--sim`: still five times the library's built-in 20 µs spin window, so
/// waiters have parked, but a tenth of the native one, because every simulated microsecond of
/// the sender's spin costs host time (gem5 cannot sleep through it).
pub const SIM_LONG_GAP: Duration = Duration::from_micros(100);

/// Everything scenarios need to build their cases.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The profile.
    pub profile: Profile,
    /// `--iters`: measured events per case, overriding the profile's counts.
    pub iters: Option<usize>,
    /// `--waiters`: receivers of multi-receiver scenarios.
    pub waiters: Option<usize>,
    /// `--short-gap-us`.
    pub short_gap: Duration,
    /// `--gap-us`: the long gap.
    pub long_gap: Duration,
    /// Usable cores.
    pub cores: usize,
    /// Scenarios named on the command line (empty: the default run of every scenario).
    pub named: Vec<String>,
    /// `--repeat`: how many times each case runs, overriding the scenarios' defaults.
    pub repeat: Option<usize>,
}

impl Plan {
    /// A plan with the profile's default gaps.
    pub fn new(profile: Profile, cores: usize) -> Plan {
        Plan {
            profile,
            iters: None,
            waiters: None,
            short_gap: DEFAULT_SHORT_GAP,
            long_gap: profile.default_long_gap(),
            cores,
            named: Vec::new(),
            repeat: None,
        }
    }

    /// Whether scenario `id` was named on the command line (scenarios with a reduced form in
    /// the default run then run their full form).
    pub fn is_named(&self, id: &str) -> bool {
        self.named.iter().any(|n| n == id)
    }

    /// Measured events for a regime with these default counts.
    pub fn events(&self, counts: Counts) -> usize {
        self.iters.unwrap_or(match self.profile {
            Profile::Full => counts.full,
            Profile::Quick => counts.quick,
            Profile::Sim => counts.sim,
        })
    }

    /// A notify → wake case: the profile's events for `counts`, their warm-up and budget.
    pub fn case(
        &self,
        regime: &str,
        gap: Gap,
        counts: Counts,
        receivers: usize,
        fanout: Fanout,
    ) -> Case {
        let events = self.events(counts);
        Case {
            regime: regime.to_string(),
            gap,
            events,
            warmup: self.warmup(events),
            budget: self.budget(),
            receivers,
            fanout,
        }
    }

    /// How many times each case of a scenario with these default repetitions runs: `--repeat`,
    /// else the profile's count.
    pub fn repetitions(&self, default: Counts) -> usize {
        self.repeat
            .unwrap_or(match self.profile {
                Profile::Full => default.full,
                Profile::Quick => default.quick,
                Profile::Sim => default.sim,
            })
            .max(1)
    }

    /// Warm-up events before `events` measured ones.
    pub fn warmup(&self, events: usize) -> usize {
        default_warmup(events)
    }

    /// The short gap, spun (precise at the µs scale).
    pub fn short_gap(&self) -> Gap {
        Gap::Spin(self.short_gap)
    }

    /// The long gap, slept (the sender's core is free meanwhile; spun under `--sim`).
    pub fn long_gap(&self) -> Gap {
        Gap::Sleep(self.long_gap)
    }

    /// How long one case's measured events may take: bounded by default so a loaded machine
    /// does not stretch the run, unbounded when `--iters` asks for an exact count.
    pub fn budget(&self) -> Option<Duration> {
        if self.iters.is_some() {
            return None;
        }
        match self.profile {
            // Split over the scenario's repetitions (`runner`); 1.2 s rather than 1.5 s since the
            // Rust baselines and the `pool` scenario added rows.
            Profile::Full => Some(Duration::from_millis(1200)),
            Profile::Quick => Some(Duration::from_millis(300)),
            Profile::Sim => None,
        }
    }

    /// Receivers for a multi-receiver scenario: `--waiters`, else every core but the
    /// signaller's, and at least two (one waiter has no spread to measure) — except under
    /// `--sim`, where a thread needs a core of its own and a 2-core simulation gets one waiter.
    pub fn waiters(&self) -> usize {
        let least = if self.profile == Profile::Sim { 1 } else { 2 };
        self.waiters
            .unwrap_or_else(|| self.cores.saturating_sub(1).max(least))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const C: Counts = Counts {
        full: 1000,
        quick: 100,
        sim: 10,
    };

    #[test]
    fn the_simulated_long_gap_is_shorter_but_still_parks() {
        assert_eq!(Plan::new(Profile::Full, 2).long_gap, DEFAULT_LONG_GAP);
        assert_eq!(Plan::new(Profile::Quick, 2).long_gap, DEFAULT_LONG_GAP);
        let sim = Plan::new(Profile::Sim, 2);
        assert_eq!(sim.long_gap, SIM_LONG_GAP);
        assert!(sim.long_gap < DEFAULT_LONG_GAP);
        // Longer than the default policy's spin window, or the "long" gap would catch the
        // waiter still spinning.
        let spin = nemo_user::wait::WaitPolicy::BUILTIN.spin().unwrap();
        assert!(sim.long_gap >= 2 * spin, "{:?} vs {spin:?}", sim.long_gap);
        assert!(sim.short_gap < spin);
    }

    #[test]
    fn profile_picks_counts_and_iters_overrides() {
        assert_eq!(Plan::new(Profile::Full, 8).events(C), 1000);
        assert_eq!(Plan::new(Profile::Quick, 8).events(C), 100);
        assert_eq!(Plan::new(Profile::Sim, 8).events(C), 10);
        let mut p = Plan::new(Profile::Full, 8);
        p.iters = Some(7);
        assert_eq!(p.events(C), 7);
    }

    #[test]
    fn repeat_overrides_the_scenario_default() {
        assert_eq!(Plan::new(Profile::Full, 2).repetitions(C), 1000);
        assert_eq!(Plan::new(Profile::Quick, 2).repetitions(C), 100);
        let mut p = Plan::new(Profile::Full, 2);
        p.repeat = Some(3);
        assert_eq!(p.repetitions(C), 3);
        p.repeat = Some(0);
        assert_eq!(p.repetitions(C), 1);
    }

    #[test]
    fn waiters_default_to_the_other_cores() {
        assert_eq!(Plan::new(Profile::Full, 8).waiters(), 7);
        assert_eq!(Plan::new(Profile::Full, 2).waiters(), 2);
        // Simulated: one thread per core, the signaller's included.
        assert_eq!(Plan::new(Profile::Sim, 4).waiters(), 3);
        assert_eq!(Plan::new(Profile::Sim, 2).waiters(), 1);
        assert_eq!(Plan::new(Profile::Sim, 1).waiters(), 1);
        let mut p = Plan::new(Profile::Full, 2);
        p.waiters = Some(5);
        assert_eq!(p.waiters(), 5);
    }
}
