//! The spin hint: one byte per condvar that remembers whether spinning has been paying off
//! there, so an adaptive policy spins where spins catch their wakeups and stops burning a CPU
//! where they do not.
//!
//! ```text
//!  bits 0-2  level    the window is the policy's bound >> level; SKIP (4) = no window
//!  bits 3-5  backoff  a probe comes with probability 2^-(4 + backoff) per wait
//!  bit  6    caught   the last spin caught its wakeup
//! ```
//!
//! All-zero is "full window", the behaviour of a fixed policy, so a fresh condvar spins.
//!
//! # Rules, and why they bound the waste
//!
//! Only a spin is evidence about spinning. After each wait:
//!
//! - **A spin caught its wakeup**: one level down (the window doubles), and the backoff
//!   resets. A **probe** that catches reopens the full window at once.
//! - **A spin missed** (it spun its window and parked): one level up — the window halves, and
//!   after four misses in a row it is skipped. A missed probe doubles the time to the next
//!   probe (backoff + 1, at most [`MAX_BACKOFF`]).
//! - **Anything else** — no window offered, admission refused, woken at the first poll, timed
//!   out, parked but woken soon — changes nothing. In particular a parked wait that ended soon
//!   after its start does not restore the window: when the spinner itself holds the CPU its
//!   notifier needs (two threads handing work back and forth on a busy machine), every wait
//!   ends soon *after* the spin gives up, and treating that as "a window would have caught it"
//!   kept the window open forever.
//!
//! So the level takes one step down per catch and one step up per miss: the window stays open
//! only where at least about half of its spins catch their wakeup, and each catch saves a park,
//! which costs about as much as a full window W (the window is calibrated to a park's cost):
//! the spinning wasted is at most about what it saved. After a probe's catch at most
//! `W + W/2 + W/4 + W/8 < 2 W` is spun in vain before the window is skipped again. With no
//! catches at all the expected spin per wait falls to `W / 16` after four misses and halves
//! with every missed probe, to `W / 2048` (10 ns for the 20 µs default).
//! Probes are drawn at random rather than every n-th wait, so no periodic wait pattern can
//! make every probe miss while the other waits would have been caught.
//!
//! # A busy machine
//!
//! While the machine has more runnable threads than CPUs (`wait/load.rs`), a spinner may hold
//! the CPU that its notifier — or any other process's thread — is queued for, and a spin that
//! misses has taken that CPU for nothing. So on a busy machine a condvar spins only while its
//! spins are catching: if its last spin caught its wakeup, with at most a quarter of the
//! window ([`BUSY_LEVEL`]); otherwise only on probes (same rate and backoff as above, a
//! quarter window). A spin that catches took less CPU than the park and wake it replaced, for
//! everybody; a condvar whose spins miss costs at most a quarter window per 16 waits, and
//! that rate halves with each missed probe. A short-gap handoff keeps spinning; a CPython
//! interpreter-lock handoff next to a CPU hog, whose spins almost never catch, stops at once.
//!
//! Which waiters may take a CPU to spin on at all is the admission's job
//! (`wait/admission.rs`).
//!
//! # A partner that is waking
//!
//! Two threads that hand work back and forth (a pool's ping-pong, an interpreter lock) spin and
//! catch while both spin. But once one of them has parked, the other's notify has to wake it
//! from the futex, and the reply cannot come before that thread is running again: a wait that
//! follows its own thread's wake of a parked waiter is judged against the partner's wake-up as
//! well as the reply. Judged with the plain window, such spins missed, the misses skipped the
//! window for both, and every later probe missed the same way — a strict handoff that had once
//! parked never spun again and ran at park speed.
//!
//! So a wait whose thread woke a parked waiter since its last adaptive wait (noted by the
//! condvar's futex wake, [`note_woke_parked`]) spins **twice** its planned window, probes
//! included; it learns like any other wait. The waste bound above holds with `2 W` in place of
//! `W` for such waits: a miss still halves the window and a missed probe still backs off.

/// Levels above this skip the window.
const SKIP: u8 = 4;
const LEVEL_MASK: u8 = 0b111;
const BACKOFF_SHIFT: u8 = 3;
const BACKOFF_MASK: u8 = 0b111;

/// Fewest waits between probes, on average (backoff 0).
pub(crate) const PROBE_EVERY: u32 = 16;
/// The largest backoff: a probe every `PROBE_EVERY << MAX_BACKOFF` waits on average.
pub(crate) const MAX_BACKOFF: u8 = 7;
/// The last spin caught its wakeup.
const CAUGHT: u8 = 1 << 6;
/// On a busy machine the window is at most the bound >> this.
pub(crate) const BUSY_LEVEL: u8 = 2;

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
    /// Woken before parking; `spun`: while spinning (not at a poll before the spin).
    Unparked { spun: bool },
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

    fn backoff(self) -> u8 {
        (self.0 >> BACKOFF_SHIFT) & BACKOFF_MASK
    }

    const fn with(level: u8, backoff: u8) -> Self {
        SpinHint(level | (backoff << BACKOFF_SHIFT))
    }

    fn caught(self) -> bool {
        self.0 & CAUGHT != 0
    }

    /// The plan for the next wait. `coin` is a uniformly random word that decides whether a
    /// wait without a window probes; `busy`: the machine has more runnable threads than CPUs.
    pub(crate) fn plan(self, coin: u32, busy: bool) -> Plan {
        let level = self.level();
        let (window, probe_shift) = if busy {
            (self.caught() && level < SKIP, BUSY_LEVEL)
        } else {
            (level < SKIP, 0)
        };
        if window {
            let shift = if busy { level.max(BUSY_LEVEL) } else { level };
            return Plan {
                shift: Some(shift),
                probe: false,
            };
        }
        if coin.is_multiple_of(PROBE_EVERY << self.backoff()) {
            Plan {
                shift: Some(probe_shift),
                probe: true,
            }
        } else {
            Plan {
                shift: None,
                probe: false,
            }
        }
    }

    /// The hint after a wait planned with `plan` ended as `ended`.
    pub(crate) fn learn(self, plan: Plan, ended: Ended) -> SpinHint {
        match ended {
            Ended::Unparked { spun: true } if plan.probe => SpinHint(CAUGHT),
            Ended::Unparked { spun: true } => {
                SpinHint(SpinHint::with(self.level().min(SKIP - 1).saturating_sub(1), 0).0 | CAUGHT)
            }
            Ended::Parked { spun: true, .. } if plan.probe => {
                SpinHint::with(self.level(), (self.backoff() + 1).min(MAX_BACKOFF))
            }
            Ended::Parked { spun: true, .. } if plan.shift.is_some() => {
                SpinHint::with((self.level() + 1).min(SKIP), self.backoff())
            }
            _ => self,
        }
    }
}

/// The window a policy bound of `ns` gives under a plan's `shift`: doubled when the waiting
/// thread has just woken its parked partner (see "A partner that is waking").
#[inline]
pub(crate) const fn window_ns(ns: u64, shift: u8, partner_waking: bool) -> u64 {
    (ns >> shift) << (partner_waking as u8)
}

/// Notes that this thread's notify just woke a parked waiter (a `FUTEX_WAKE` that woke at least
/// one thread), so that its own next adaptive wait spins twice its window: see "A partner that
/// is waking" in the module docs.
#[inline]
pub(crate) fn note_woke_parked() {
    let _ = WOKE_PARKED.try_with(|w| w.set(true));
}

/// Whether this thread woke a parked waiter since its last adaptive wait, clearing the mark.
#[inline]
pub(crate) fn take_woke_parked() -> bool {
    WOKE_PARKED.try_with(|w| w.replace(false)).unwrap_or(false)
}

thread_local! {
    static WOKE_PARKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// A uniformly random word for [`SpinHint::plan`], from a per-thread xorshift generator.
#[inline]
pub(crate) fn coin() -> u32 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u32> = const { Cell::new(0) };
    }
    STATE
        .try_with(|s| {
            let mut x = s.get();
            if x == 0 {
                // Seeded from the thread's stack address: distinct per live thread, never 0.
                x = (std::ptr::from_ref(s) as usize as u32) | 1;
            }
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            s.set(x);
            x
        })
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: u64 = 20_000;

    fn miss(h: SpinHint, coin: u32) -> SpinHint {
        let plan = h.plan(coin, false);
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
        let plan = SpinHint::default().plan(1, false);
        assert_eq!(
            plan,
            Plan {
                shift: Some(0),
                probe: false
            }
        );
    }

    #[test]
    fn misses_halve_the_window_then_skip_it() {
        let mut h = SpinHint::default();
        for want in 1..=3u8 {
            h = miss(h, 1);
            assert_eq!(h.plan(1, false).shift, Some(want));
        }
        h = miss(h, 1);
        assert_eq!(h.plan(1, false).shift, None);
        assert_eq!(h.level(), SKIP);
    }

    #[test]
    fn missed_probes_back_off_exponentially() {
        let mut h = SpinHint::default();
        for _ in 0..4 {
            h = miss(h, 1);
        }
        for b in 0..MAX_BACKOFF {
            assert_eq!(h.backoff(), b);
            let every = PROBE_EVERY << b;
            // Only coins that are multiples of the period probe.
            assert!(!h.plan(every / 2, false).probe);
            assert!(h.plan(every, false).probe);
            h = miss(h, every);
        }
        assert_eq!(h.backoff(), MAX_BACKOFF);
        h = miss(h, 0);
        assert_eq!(h.backoff(), MAX_BACKOFF, "saturates");
        assert_eq!(h.level(), SKIP);
    }

    #[test]
    fn the_spin_per_wait_with_no_catches_is_bounded() {
        // The expected spin per wait, in units of the full window, over a long run of waits
        // that never end inside any window.
        let mut h = SpinHint::default();
        let mut spun = 0u64;
        let n = 200_000u32;
        let mut rng = 0x1234_5678u32;
        for _ in 0..n {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            let plan = h.plan(rng, false);
            if let Some(s) = plan.shift {
                spun += W >> s;
            }
            h = h.learn(
                plan,
                Ended::Parked {
                    in_window: false,
                    spun: plan.shift.is_some(),
                },
            );
        }
        let per_wait = spun as f64 / f64::from(n) / W as f64;
        // The four misses that reach SKIP, the probes while backing off, then 1/2048.
        assert!(per_wait < 0.002, "{per_wait}");
        assert_eq!(h.backoff(), MAX_BACKOFF);
    }

    #[test]
    fn a_catch_doubles_the_window_and_misses_halve_it() {
        let caught = |h: SpinHint| h.learn(h.plan(1, false), Ended::Unparked { spun: true });
        let mut h = SpinHint::with(3, 2);
        h = caught(h);
        assert_eq!((h.level(), h.backoff()), (2, 0));
        h = caught(caught(h));
        assert_eq!(h.level(), 0);
        assert_eq!(caught(h).level(), 0, "never beyond the full window");
        // Catching half the spins keeps the window where it is.
        let h2 = miss(caught(SpinHint::with(2, 0)), 1);
        assert_eq!(h2.level(), 2);
    }

    /// A deterministic stream of random words (xorshift32) for the simulated waits.
    fn xorshift(mut state: u32) -> impl FnMut() -> u32 {
        move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        }
    }

    /// The share of waits that spin when each spin catches with probability `p_catch`.
    fn share_spinning(p_catch: f64) -> f64 {
        let mut h = SpinHint::default();
        let mut next = xorshift(0x9e37_79b9);
        let n = 100_000;
        let mut spun = 0;
        for _ in 0..n {
            let plan = h.plan(next(), false);
            let ended = if plan.shift.is_none() {
                Ended::Parked {
                    in_window: false,
                    spun: false,
                }
            } else if f64::from(next()) / f64::from(u32::MAX) < p_catch {
                spun += 1;
                Ended::Unparked { spun: true }
            } else {
                spun += 1;
                Ended::Parked {
                    in_window: false,
                    spun: true,
                }
            };
            h = h.learn(plan, ended);
        }
        f64::from(spun) / f64::from(n)
    }

    #[test]
    fn the_window_stays_open_only_where_most_spins_catch() {
        assert!(share_spinning(0.9) > 0.95);
        assert!(share_spinning(0.7) > 0.6);
        assert!(share_spinning(0.3) < 0.05);
        assert!(share_spinning(0.05) < 0.01);
    }

    /// Two threads hand work back and forth through one condvar (one hint), starting from
    /// the state where both have parked and the window is skipped with the largest backoff. A
    /// reply comes `quick_ns` after the notify if the partner was spinning, `wake_ns` if it had
    /// parked. Returns the share of the last half of the waits that caught their reply, and
    /// the mean spin per wait over that half.
    fn handoff(wake_ns: u64, quick_ns: u64, stretch: bool) -> (f64, f64) {
        let mut h = SpinHint::with(SKIP, MAX_BACKOFF);
        let mut parked = [true, true];
        let mut next = xorshift(0x2545_f491);
        let n = 200_000;
        let (mut caught, mut spun_ns) = (0u32, 0u64);
        for i in 0..n {
            let (me, partner) = (i % 2, 1 - i % 2);
            let delay = if parked[partner] { wake_ns } else { quick_ns };
            let plan = h.plan(next(), false);
            let window = plan
                .shift
                .map(|s| window_ns(W, s, stretch && parked[partner]));
            let ended = match window {
                Some(w) if w >= delay => {
                    parked[me] = false;
                    if i >= n / 2 {
                        caught += 1;
                        spun_ns += delay;
                    }
                    Ended::Unparked { spun: true }
                }
                w => {
                    parked[me] = true;
                    if i >= n / 2 {
                        spun_ns += w.unwrap_or(0);
                    }
                    Ended::Parked {
                        in_window: false,
                        spun: w.is_some(),
                    }
                }
            };
            h = h.learn(plan, ended);
        }
        let half = (n / 2) as f64;
        (f64::from(caught) / half, spun_ns as f64 / half)
    }

    #[test]
    fn a_handoff_that_parked_spins_again_once_its_partner_is_awake() {
        // The partner's wake-up takes longer than a window but less than two.
        let (with, _) = handoff(W * 3 / 2, 500, true);
        let (without, _) = handoff(W * 3 / 2, 500, false);
        assert!(with > 0.95, "{with}");
        assert!(without < 0.05, "{without}");
    }

    #[test]
    fn a_partner_slower_than_two_windows_costs_little_spinning() {
        // Replies that never come within two windows: the stretch must not keep anyone spinning.
        let (caught, mean_spin) = handoff(W * 3, W * 3, true);
        assert_eq!(caught, 0.0);
        assert!(mean_spin < (2 * W) as f64 / 64.0, "{mean_spin} ns per wait");
    }

    #[test]
    fn a_busy_machine_spins_a_quarter_window_only_after_a_catch() {
        // A fresh condvar: no catch yet, so only probes, with a quarter window.
        let fresh = SpinHint::default();
        assert_eq!(fresh.plan(1, true).shift, None);
        let probe = fresh.plan(0, true);
        assert_eq!((probe.shift, probe.probe), (Some(BUSY_LEVEL), true));
        // The probe catches: the next waits spin, at most a quarter window.
        let h = fresh.learn(probe, Ended::Unparked { spun: true });
        assert_eq!(h.plan(1, true).shift, Some(BUSY_LEVEL));
        assert_eq!(h.plan(1, false).shift, Some(0), "idle: the full window");
        // One miss and it is back to probes only.
        let plan = h.plan(1, true);
        let missed = h.learn(
            plan,
            Ended::Parked {
                in_window: false,
                spun: true,
            },
        );
        assert_eq!(missed.plan(1, true).shift, None);
        // A missed busy probe backs off without touching the idle window.
        let p = missed.plan(0, true);
        let after = missed.learn(
            p,
            Ended::Parked {
                in_window: false,
                spun: true,
            },
        );
        assert_eq!(after.backoff(), missed.backoff() + 1);
        assert_eq!(after.level(), missed.level());
    }

    /// As `share_spinning`, on a busy machine: the spin per wait, in windows.
    fn busy_spin_per_wait(p_catch: f64) -> f64 {
        let mut h = SpinHint::default();
        let mut next = xorshift(0x2545_f491);
        let n = 100_000;
        let mut spun = 0u64;
        for _ in 0..n {
            let plan = h.plan(next(), true);
            let ended = match plan.shift {
                None => Ended::Parked {
                    in_window: false,
                    spun: false,
                },
                Some(s) => {
                    spun += W >> s;
                    if f64::from(next()) / f64::from(u32::MAX) < p_catch {
                        Ended::Unparked { spun: true }
                    } else {
                        Ended::Parked {
                            in_window: false,
                            spun: true,
                        }
                    }
                }
            };
            h = h.learn(plan, ended);
        }
        spun as f64 / f64::from(n) / W as f64
    }

    #[test]
    fn a_busy_machine_spins_where_spins_catch_and_hardly_elsewhere() {
        // Short gaps that every spin catches: a quarter window on nearly every wait.
        assert!(busy_spin_per_wait(1.0) > 0.24);
        // The CPython case: hardly any spin catches.
        assert!(busy_spin_per_wait(0.002) < 0.001);
        assert!(busy_spin_per_wait(0.3) < 0.01);
    }

    #[test]
    fn a_probe_that_catches_restores_the_full_window() {
        let mut h = SpinHint::default();
        for _ in 0..6 {
            h = miss(h, PROBE_EVERY);
        }
        assert_eq!(h.level(), SKIP);
        assert!(h.backoff() > 0);
        let plan = h.plan(0, false);
        assert!(plan.probe);
        let caught = h.learn(plan, Ended::Unparked { spun: true });
        assert_eq!(caught.level(), 0);
        assert_eq!(caught.backoff(), 0);
    }

    #[test]
    fn a_short_park_a_refusal_or_a_timeout_changes_nothing() {
        for h in [SpinHint::with(2, 0), SpinHint::with(SKIP, 3)] {
            let plan = h.plan(1, false);
            for ended in [
                Ended::Parked {
                    in_window: true,
                    spun: false,
                },
                Ended::Parked {
                    in_window: false,
                    spun: false,
                },
                Ended::Unparked { spun: false },
                Ended::Other,
            ] {
                assert_eq!(h.learn(plan, ended), h, "{ended:?}");
            }
        }
    }

    #[test]
    fn every_plan_survives_its_byte() {
        for b in 0..=u8::MAX {
            for coin in [0, 1, 16, 2048] {
                let plan = SpinHint::from_bits(b).plan(coin, false);
                assert_eq!(Plan::from_byte(plan.to_byte()), plan);
            }
        }
    }

    #[test]
    fn every_byte_is_a_valid_hint() {
        for b in 0..=u8::MAX {
            let h = SpinHint::from_bits(b);
            let plan = h.plan(0, false);
            assert!(plan.shift.is_none_or(|s| s < SKIP));
            for ended in [
                Ended::Unparked { spun: true },
                Ended::Parked {
                    in_window: false,
                    spun: true,
                },
            ] {
                let next = h.learn(plan, ended);
                assert!(next.level() <= SKIP);
                assert!(next.bits() < 0x80);
            }
        }
    }

    #[test]
    fn coins_vary() {
        let a: Vec<u32> = (0..8).map(|_| coin()).collect();
        assert!(a.windows(2).all(|w| w[0] != w[1]));
    }
}
