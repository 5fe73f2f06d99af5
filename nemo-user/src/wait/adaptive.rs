//! The spin hint: one byte per condvar that remembers whether spinning has been paying off
//! there, so an adaptive policy spins where waits end inside its window and stops burning a CPU
//! where they do not.
//!
//! ```text
//!  bits 0-2  level   the window is the policy's bound >> level; SKIP (4) = no window
//!  bits 3-6  skipped waits that parked without spinning since the last probe
//! ```
//!
//! All-zero is "full window", the behaviour of a fixed policy, so a fresh condvar spins.
//!
//! After each wait:
//!
//! - **Woken while spinning** (or at the first poll): a hit, back to level 0.
//! - **Parked, but woken within the full bound of its start**: spinning the full window would
//!   have caught it (the time measured even includes the wake-up latency, so this errs towards
//!   parking), so back to level 0 too. This is what brings a condvar back to spinning when its
//!   gaps shorten again, usually before any probe.
//! - **Spun its window and parked, and the wait outlasted the full bound**: a miss, one level
//!   up (the window halves; after four misses in a row it is skipped).
//! - Timed out: no information, no change.
//!
//! At level SKIP every [`PROBE_EVERY`]-th wait spins the full window again (a **probe**), so a
//! switch back to short gaps is found even where parked wake-ups are too slow for the rule
//! above to see it. A missed probe costs one full window per [`PROBE_EVERY`] waits.
//!
//! The numbers come from `nemo-bench unicast` on the development machine (2-core AMD EPYC VM;
//! see the [`wait`](super) module docs for the calibration of the bound itself): with the
//! fixed 20 µs window, a waiter whose events come 1 ms apart burnt ≈ 50 µs of CPU per event
//! against ≈ 34 µs for a parked futex waiter (the window, plus the clock reads of spinning).
//! With the hint, the window is skipped after four misses and probed once every 16 waits, so
//! the expected extra cost is the probe's 20 µs / 16 ≈ 1.25 µs per event; and a short-gap
//! regime, which hits every time, never leaves level 0.

/// Levels above this skip the window.
const SKIP: u8 = 4;
const LEVEL_MASK: u8 = 0b111;
const COUNT_SHIFT: u8 = 3;
const COUNT_MASK: u8 = 0b1111;

/// At level SKIP, every this many waits probe with the full window.
pub(crate) const PROBE_EVERY: u8 = 16;

/// The hint byte.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpinHint(u8);

/// What one wait will do, from the hint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Right shift applied to the policy's bounds; `None` = no window.
    pub(crate) shift: Option<u8>,
    /// A full-window wait at level SKIP.
    pub(crate) probe: bool,
}

/// How one wait ended, for [`SpinHint::learn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// Woken before parking.
    Unparked,
    /// Parked. `in_window`: woken no later than the policy's full window after the wait
    /// started; `spun`: it spun a window first.
    Parked { in_window: bool, spun: bool },
    /// Timed out (or anything else that says nothing about the gaps).
    Other,
}

impl Plan {
    /// One byte for a plan kept in a split-phase ticket: bits 0–2 the shift (7 = none),
    /// bit 3 the probe.
    pub(crate) const fn to_byte(self) -> u8 {
        let shift = match self.shift {
            Some(s) => s & 0b111,
            None => 0b111,
        };
        shift | if self.probe { 0b1000 } else { 0 }
    }

    /// The inverse of [`to_byte`](Self::to_byte).
    pub(crate) const fn from_byte(b: u8) -> Plan {
        let shift = b & 0b111;
        Plan {
            shift: if shift == 0b111 { None } else { Some(shift) },
            probe: b & 0b1000 != 0,
        }
    }
}

impl SpinHint {
    pub(crate) const fn from_bits(b: u8) -> Self {
        SpinHint(b)
    }

    pub(crate) const fn bits(self) -> u8 {
        self.0
    }

    fn level(self) -> u8 {
        (self.0 & LEVEL_MASK).min(SKIP)
    }

    fn skipped(self) -> u8 {
        (self.0 >> COUNT_SHIFT) & COUNT_MASK
    }

    const fn with(level: u8, skipped: u8) -> Self {
        SpinHint(level | (skipped << COUNT_SHIFT))
    }

    /// The plan for the next wait, and the hint to store for it (the probe countdown advances
    /// at level SKIP).
    pub(crate) fn plan(self) -> (Plan, SpinHint) {
        let level = self.level();
        if level < SKIP {
            let plan = Plan {
                shift: Some(level),
                probe: false,
            };
            // The countdown only runs at SKIP; anything else in the byte is cleared.
            return (plan, SpinHint::with(level, 0));
        }
        let skipped = self.skipped() + 1;
        if skipped >= PROBE_EVERY {
            let plan = Plan {
                shift: Some(0),
                probe: true,
            };
            (plan, SpinHint::with(SKIP, 0))
        } else {
            let plan = Plan {
                shift: None,
                probe: false,
            };
            (plan, SpinHint::with(SKIP, skipped))
        }
    }

    /// The hint after a wait planned with `plan` ended as `ended`.
    pub(crate) fn learn(self, plan: Plan, ended: Ended) -> SpinHint {
        match ended {
            Ended::Unparked => SpinHint(0),
            Ended::Parked {
                in_window: true, ..
            } => SpinHint(0),
            Ended::Parked { spun: true, .. } if !plan.probe => {
                SpinHint::with((self.level() + 1).min(SKIP), 0)
            }
            Ended::Parked { .. } | Ended::Other => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn miss(h: SpinHint) -> SpinHint {
        let (plan, h) = h.plan();
        h.learn(
            plan,
            Ended::Parked {
                in_window: false,
                spun: plan.shift.is_some(),
            },
        )
    }

    #[test]
    fn all_zero_is_the_full_window() {
        let (plan, next) = SpinHint::default().plan();
        assert_eq!(
            plan,
            Plan {
                shift: Some(0),
                probe: false
            }
        );
        assert_eq!(next, SpinHint::default());
    }

    #[test]
    fn misses_halve_the_window_then_skip_it() {
        let mut h = SpinHint::default();
        for want in 1..=3u8 {
            h = miss(h);
            assert_eq!(h.plan().0.shift, Some(want));
        }
        h = miss(h);
        assert_eq!(h.plan().0.shift, None);
    }

    #[test]
    fn long_gaps_probe_once_every_probe_every_waits() {
        let mut h = SpinHint::default();
        for _ in 0..4 {
            h = miss(h);
        }
        let mut probes = 0;
        for _ in 0..10 * u32::from(PROBE_EVERY) {
            let (plan, _) = h.plan();
            probes += u32::from(plan.probe);
            h = miss(h);
        }
        assert_eq!(probes, 10);
        assert_eq!(h.level(), SKIP);
    }

    #[test]
    fn a_hit_while_spinning_or_a_short_park_restores_the_full_window() {
        let mut h = SpinHint::default();
        for _ in 0..6 {
            h = miss(h);
        }
        let (plan, h2) = h.plan();
        assert_eq!(h2.learn(plan, Ended::Unparked), SpinHint(0));
        let short = Ended::Parked {
            in_window: true,
            spun: false,
        };
        assert_eq!(h2.learn(plan, short), SpinHint(0));
    }

    #[test]
    fn a_long_park_without_spinning_or_a_timeout_changes_nothing() {
        let h = SpinHint::with(2, 0);
        let plan = Plan {
            shift: Some(2),
            probe: false,
        };
        let parked = Ended::Parked {
            in_window: false,
            spun: false,
        };
        assert_eq!(h.learn(plan, parked), h);
        assert_eq!(h.learn(plan, Ended::Other), h);
    }

    #[test]
    fn every_plan_survives_its_byte() {
        for b in 0..=u8::MAX {
            let (plan, _) = SpinHint::from_bits(b).plan();
            assert_eq!(Plan::from_byte(plan.to_byte()), plan);
        }
    }

    #[test]
    fn every_byte_is_a_valid_hint() {
        for b in 0..=u8::MAX {
            let (plan, next) = SpinHint::from_bits(b).plan();
            assert!(plan.shift.is_none_or(|s| s < SKIP));
            assert!(next.level() <= SKIP);
            assert!(next.bits() < 0x80);
        }
    }
}
