//! [`WaitPolicy`]: how far up the wait ladder a waiter climbs, and how long it stays on each rung.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a waiter waits: spin on the cache line for a while, then monitor-wait (`umwait`) for a
/// while where the CPU has WAITPKG, then park in the kernel (or, for a policy that never parks,
/// keep monitor-waiting or spinning).
///
/// Bounds are wall time, not iterations, so they mean the same on every CPU (a `pause` costs a few
/// cycles on some cores and ~140 on others). A finite spin bound of 4.29 s or more, or a finite
/// `umwait` bound of 1.07 s or more, saturates to "unbounded".
///
/// An **adaptive** policy ([`with_adaptive`](Self::with_adaptive); the built-in default is one)
/// treats its spin and `umwait` bounds as the longest window it may use: each condvar remembers
/// whether its recent waits ended inside the window and shortens or skips the window when they
/// do not, and a waiter spins only if the process has a CPU to spare for it (see the
/// [`wait`](crate::wait) module docs). A fixed policy always uses its bounds as given.
///
/// The default bounds come from measurements on the development machine, reproduced by
/// `cargo run --release -p nemo-user --example wait_calibrate` (see the `wait` module docs for the
/// numbers and the reasoning). [`WaitPolicy::default()`] is the process-wide default, which
/// [`set_default_policy`] changes.
///
/// ```
/// use nemo_user::wait::WaitPolicy;
/// use std::time::Duration;
///
/// let p = WaitPolicy::park_only();
/// assert_eq!(p.spin(), Some(Duration::ZERO));
/// assert!(p.parks());
///
/// let s = WaitPolicy::spin_only();
/// assert_eq!(s.spin(), None); // unbounded
/// assert!(!s.parks());
///
/// let custom = WaitPolicy::spin_then_park(Duration::from_micros(20));
/// assert_eq!(custom.spin(), Some(Duration::from_micros(20)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WaitPolicy {
    /// Spin bound in ns; `SPIN_UNBOUNDED` = no bound.
    spin_ns: u32,
    /// `umwait` bound in ns; `UMWAIT_UNBOUNDED` = no bound.
    umwait_ns: u32,
    park: bool,
    adaptive: bool,
}

/// Default spin bound. Parking costs the waiter the futex wake-up latency minus the spin
/// handoff latency (measured ≈ 15 µs here) and the notifier a `FUTEX_WAKE` (≈ 7.7 µs); spinning
/// for about as long as parking costs — the classic 2-competitive rule — keeps any wait within
/// twice the cost of the better choice in hindsight. See the [`wait`](crate::wait) module docs
/// for the measurement.
const BUILTIN_SPIN: Duration = Duration::from_micros(20);

/// Default `umwait` bound, used only where the CPU has WAITPKG. A monitor-wait wakes almost as
/// fast as a spin (on the store to the line) while the core idles in C0.1, so the low-latency
/// window can extend well past the spin bound for little power. Not calibrated on the
/// development machine, which has no WAITPKG; the OS also caps each `umwait`
/// (`IA32_UMWAIT_CONTROL`, 100 000 TSC ticks by default).
const BUILTIN_UMWAIT: Duration = Duration::from_micros(100);

const SPIN_UNBOUNDED: u32 = u32::MAX;
/// 30 bits, so that a policy packs into one word with its two flags.
const UMWAIT_UNBOUNDED: u32 = (1 << 30) - 1;

const fn sat_ns(d: Duration, unbounded: u32) -> u32 {
    let ns = d.as_nanos();
    if ns >= unbounded as u128 {
        unbounded
    } else {
        ns as u32
    }
}

impl WaitPolicy {
    /// The built-in default: spin at most 20 µs, then `umwait` for at most 100 µs where the CPU
    /// has WAITPKG, then park; adaptive, so the windows shrink where waits outlast them and
    /// nobody spins on a CPU the process cannot spare. `BUILTIN.spin()` and `BUILTIN.umwait()`
    /// are its bounds (where they come from: the [`wait`](crate::wait) module docs).
    ///
    /// ```
    /// use nemo_user::wait::WaitPolicy;
    /// use std::time::Duration;
    ///
    /// assert_eq!(WaitPolicy::BUILTIN.spin(), Some(Duration::from_micros(20)));
    /// assert_eq!(WaitPolicy::BUILTIN.umwait(), Some(Duration::from_micros(100)));
    /// assert!(WaitPolicy::BUILTIN.parks() && WaitPolicy::BUILTIN.is_adaptive());
    /// ```
    pub const BUILTIN: WaitPolicy = WaitPolicy::spin_then_park(BUILTIN_SPIN)
        .with_umwait(BUILTIN_UMWAIT)
        .with_adaptive(true);

    /// Spin for `spin`, then park (no `umwait` rung). Fixed, not adaptive.
    pub const fn spin_then_park(spin: Duration) -> Self {
        WaitPolicy {
            spin_ns: sat_ns(spin, SPIN_UNBOUNDED),
            umwait_ns: 0,
            park: true,
            adaptive: false,
        }
    }

    /// Park at once: spinning disabled (the `nemo_condvar_park` benchmark mechanism).
    pub const fn park_only() -> Self {
        Self::spin_then_park(Duration::ZERO)
    }

    /// Never park: spin on the cache line until woken or the deadline passes. Burns a core; meant
    /// for threads that own one. Notifiers never need a system call for such waiters. Given a
    /// spin bound and an `umwait` rung (`spin_only().with_spin(s).with_umwait(u)`), it spins
    /// for `s` and then monitor-waits, where the CPU has WAITPKG, until woken.
    pub const fn spin_only() -> Self {
        WaitPolicy {
            spin_ns: SPIN_UNBOUNDED,
            umwait_ns: 0,
            park: false,
            adaptive: false,
        }
    }

    /// The same policy with a different spin bound.
    pub const fn with_spin(self, spin: Duration) -> Self {
        WaitPolicy {
            spin_ns: sat_ns(spin, SPIN_UNBOUNDED),
            ..self
        }
    }

    /// The same policy with an `umwait` rung of at most `umwait` (ignored on CPUs without
    /// WAITPKG).
    pub const fn with_umwait(self, umwait: Duration) -> Self {
        WaitPolicy {
            umwait_ns: sat_ns(umwait, UMWAIT_UNBOUNDED),
            ..self
        }
    }

    /// The same policy, adaptive (`true`) or fixed (`false`). Adaptivity applies only to a
    /// policy that parks and whose bounds are finite; a policy that never parks always spins.
    ///
    /// ```
    /// use nemo_user::wait::WaitPolicy;
    /// use std::time::Duration;
    ///
    /// let fixed = WaitPolicy::spin_then_park(Duration::from_micros(20));
    /// assert!(!fixed.is_adaptive());
    /// assert!(fixed.with_adaptive(true).is_adaptive());
    /// assert!(WaitPolicy::BUILTIN.is_adaptive());
    /// assert!(!WaitPolicy::spin_only().with_adaptive(true).is_adaptive());
    /// ```
    pub const fn with_adaptive(self, adaptive: bool) -> Self {
        WaitPolicy { adaptive, ..self }
    }

    /// Whether the windows adapt to the waits and to the CPUs available (see
    /// [`with_adaptive`](Self::with_adaptive)).
    pub const fn is_adaptive(&self) -> bool {
        self.adaptive && self.park && !self.spin_unbounded() && !self.umwait_unbounded()
    }

    /// The spin bound; `None` means unbounded.
    pub const fn spin(&self) -> Option<Duration> {
        if self.spin_ns == SPIN_UNBOUNDED {
            None
        } else {
            Some(Duration::from_nanos(self.spin_ns as u64))
        }
    }

    /// The `umwait` bound; `None` means unbounded.
    pub const fn umwait(&self) -> Option<Duration> {
        if self.umwait_ns == UMWAIT_UNBOUNDED {
            None
        } else {
            Some(Duration::from_nanos(self.umwait_ns as u64))
        }
    }

    /// Whether the last rung is the kernel (`true`) or the last unparked rung, repeated (`false`).
    pub const fn parks(&self) -> bool {
        self.park
    }

    pub(crate) const fn spin_ns(&self) -> u32 {
        self.spin_ns
    }

    pub(crate) const fn umwait_ns(&self) -> u32 {
        self.umwait_ns
    }

    pub(crate) const fn spin_unbounded(&self) -> bool {
        self.spin_ns == SPIN_UNBOUNDED
    }

    pub(crate) const fn umwait_unbounded(&self) -> bool {
        self.umwait_ns == UMWAIT_UNBOUNDED
    }

    /// One word, so the global default is read and replaced atomically (no torn policy).
    const fn pack(self) -> u64 {
        self.spin_ns as u64
            | ((self.umwait_ns as u64) << 32)
            | ((self.adaptive as u64) << 62)
            | ((self.park as u64) << 63)
    }

    const fn unpack(w: u64) -> Self {
        WaitPolicy {
            spin_ns: w as u32,
            umwait_ns: ((w >> 32) as u32) & UMWAIT_UNBOUNDED,
            park: w >> 63 != 0,
            adaptive: (w >> 62) & 1 != 0,
        }
    }
}

impl Default for WaitPolicy {
    /// The process-wide default policy: what a condvar or event without its own policy uses
    /// ([`set_default_policy`] replaces it; it starts as [`WaitPolicy::BUILTIN`]).
    fn default() -> Self {
        default_policy()
    }
}

static DEFAULT: AtomicU64 = AtomicU64::new(WaitPolicy::BUILTIN.pack());

/// The process-wide default policy: what a condvar or event without its own policy uses
/// (public as `WaitPolicy::default()`).
#[inline]
fn default_policy() -> WaitPolicy {
    WaitPolicy::unpack(DEFAULT.load(Ordering::Relaxed))
}

/// Replaces the process-wide default policy; waits that start afterwards use it. Returns the
/// previous one.
///
/// ```
/// use nemo_user::wait::{set_default_policy, WaitPolicy};
///
/// let before = set_default_policy(WaitPolicy::park_only());
/// assert_eq!(WaitPolicy::default(), WaitPolicy::park_only());
/// set_default_policy(before);
/// ```
pub fn set_default_policy(policy: WaitPolicy) -> WaitPolicy {
    WaitPolicy::unpack(DEFAULT.swap(policy.pack(), Ordering::Relaxed))
}

/// A policy choice small enough to live inside a [`RawCondvar`](crate::condvar::RawCondvar)'s 48
/// bytes, so a C shim can set one per `pthread_cond_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum PolicyClass {
    /// Use the process-wide default policy ([`WaitPolicy::default()`]).
    #[default]
    Default,
    /// [`WaitPolicy::park_only`].
    ParkOnly,
    /// [`WaitPolicy::spin_only`].
    SpinOnly,
}

/// The policy a class stands for, now (`Default`: the process-wide default at the time of the
/// call).
impl From<PolicyClass> for WaitPolicy {
    fn from(class: PolicyClass) -> WaitPolicy {
        match class {
            PolicyClass::Default => default_policy(),
            PolicyClass::ParkOnly => WaitPolicy::park_only(),
            PolicyClass::SpinOnly => WaitPolicy::spin_only(),
        }
    }
}

impl PolicyClass {
    pub(crate) const fn bits(self) -> u32 {
        match self {
            PolicyClass::Default => 0,
            PolicyClass::ParkOnly => 1,
            PolicyClass::SpinOnly => 2,
        }
    }

    pub(crate) const fn from_bits(b: u32) -> Self {
        match b & 3 {
            1 => PolicyClass::ParkOnly,
            2 => PolicyClass::SpinOnly,
            _ => PolicyClass::Default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_round_trips_and_saturates() {
        for p in [
            WaitPolicy::BUILTIN,
            WaitPolicy::park_only(),
            WaitPolicy::spin_only(),
            WaitPolicy::spin_then_park(Duration::from_nanos(1234)).with_umwait(Duration::MAX),
            WaitPolicy::spin_only().with_spin(Duration::from_micros(3)),
            WaitPolicy::park_only().with_adaptive(true),
            WaitPolicy::spin_then_park(Duration::from_nanos(99))
                .with_umwait(Duration::from_secs(9)),
        ] {
            assert_eq!(WaitPolicy::unpack(p.pack()), p);
        }
        let big = WaitPolicy::spin_then_park(Duration::from_secs(5));
        assert_eq!(big.spin(), None);
        assert_eq!(
            WaitPolicy::park_only()
                .with_umwait(Duration::from_secs(3))
                .umwait(),
            None
        );
        assert_eq!(
            WaitPolicy::park_only()
                .with_umwait(Duration::from_millis(1_073))
                .umwait(),
            Some(Duration::from_millis(1_073))
        );
        assert_eq!(
            WaitPolicy::park_only()
                .with_umwait(Duration::from_micros(7))
                .umwait(),
            Some(Duration::from_micros(7))
        );
    }

    #[test]
    fn classes_round_trip() {
        for c in [
            PolicyClass::Default,
            PolicyClass::ParkOnly,
            PolicyClass::SpinOnly,
        ] {
            assert_eq!(PolicyClass::from_bits(c.bits()), c);
        }
        assert_eq!(
            WaitPolicy::from(PolicyClass::ParkOnly),
            WaitPolicy::park_only()
        );
        assert_eq!(
            WaitPolicy::from(PolicyClass::SpinOnly),
            WaitPolicy::spin_only()
        );
    }
}
