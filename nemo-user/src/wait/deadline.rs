//! Absolute deadlines on a chosen clock, the way `pthread_cond_timedwait` and
//! `pthread_cond_clockwait` take them.
//!
//! A deadline is an absolute [`Timespec`] on a [`Clock`]. Relative timeouts
//! ([`Deadline::after`]) are converted once, on `CLOCK_MONOTONIC`, so a wait never restarts its
//! timeout after a spurious return. Every rung of the wait ladder compares against the deadline's
//! own clock, and the park rung hands the absolute time to the kernel, so a timed wait never
//! returns before the deadline as measured on that clock.

use std::time::Duration;

/// A clock deadlines can be measured on: the two clocks POSIX condition variables accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Clock {
    /// `CLOCK_REALTIME` (id 0): wall-clock time; the POSIX default for condition variables.
    #[default]
    Realtime,
    /// `CLOCK_MONOTONIC` (id 1): never jumps; what [`Deadline::after`] uses.
    Monotonic,
}

impl Clock {
    /// The `clockid_t` of this clock.
    pub const fn id(self) -> libc::clockid_t {
        match self {
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
        }
    }

    /// The clock with this `clockid_t`, if it is one a condition variable can use.
    pub const fn from_id(id: libc::clockid_t) -> Option<Clock> {
        match id {
            libc::CLOCK_REALTIME => Some(Clock::Realtime),
            libc::CLOCK_MONOTONIC => Some(Clock::Monotonic),
            _ => None,
        }
    }

    /// The current time on this clock.
    #[inline]
    pub fn now(self) -> Timespec {
        // Both clock ids exist on every Linux kernel, so the call cannot fail.
        let ts = crate::clock::now(self.id()).unwrap_or(libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        });
        Timespec {
            sec: ts.tv_sec,
            nsec: ts.tv_nsec as u32,
        }
    }
}

/// A `timespec` whose nanoseconds are known to be in `0..1_000_000_000`. Seconds may be negative
/// (a time before the epoch is simply in the past).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timespec {
    sec: i64,
    nsec: u32,
}

/// A `timespec` whose `tv_nsec` is outside `0..1_000_000_000` (what POSIX calls `EINVAL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid timespec: tv_nsec = {nsec} is outside 0..1_000_000_000")]
pub struct InvalidTimespec {
    /// The offending `tv_nsec`.
    pub nsec: i64,
}

impl InvalidTimespec {
    /// The errno value a C API reports for it (`EINVAL`).
    pub const fn errno(&self) -> i32 {
        libc::EINVAL
    }
}

impl Timespec {
    /// Builds a timespec, rejecting nanoseconds outside `0..1_000_000_000`.
    pub const fn new(sec: i64, nsec: i64) -> Result<Self, InvalidTimespec> {
        if nsec < 0 || nsec >= 1_000_000_000 {
            return Err(InvalidTimespec { nsec });
        }
        Ok(Timespec {
            sec,
            nsec: nsec as u32,
        })
    }

    /// Converts a C `timespec`.
    pub fn from_libc(ts: &libc::timespec) -> Result<Self, InvalidTimespec> {
        Self::new(ts.tv_sec, ts.tv_nsec)
    }

    /// The C `timespec`.
    pub const fn to_libc(self) -> libc::timespec {
        libc::timespec {
            tv_sec: self.sec,
            tv_nsec: self.nsec as libc::c_long,
        }
    }

    /// Seconds.
    pub const fn sec(self) -> i64 {
        self.sec
    }

    /// Nanoseconds, in `0..1_000_000_000`.
    pub const fn nsec(self) -> u32 {
        self.nsec
    }

    /// `self + d`, saturating at the largest representable time.
    pub fn saturating_add(self, d: Duration) -> Self {
        let mut nsec = self.nsec + d.subsec_nanos();
        let mut carry = 0;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            carry = 1;
        }
        let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
        match self
            .sec
            .checked_add(secs)
            .and_then(|s| s.checked_add(carry))
        {
            Some(sec) => Timespec { sec, nsec },
            None => Timespec {
                sec: i64::MAX,
                nsec: 999_999_999,
            },
        }
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timespec) -> Duration {
        if self <= earlier {
            return Duration::ZERO;
        }
        let (mut sec, mut nsec) = (
            self.sec.wrapping_sub(earlier.sec) as u64,
            i64::from(self.nsec) - i64::from(earlier.nsec),
        );
        if nsec < 0 {
            sec -= 1;
            nsec += 1_000_000_000;
        }
        Duration::new(sec, nsec as u32)
    }
}

/// An absolute point in time on a [`Clock`].
///
/// ```
/// use nemo_user::wait::{Clock, Deadline};
/// use std::time::Duration;
///
/// let d = Deadline::after(Duration::from_millis(5));
/// assert_eq!(d.clock(), Clock::Monotonic);
/// assert!(!d.has_passed());
/// std::thread::sleep(Duration::from_millis(6));
/// assert!(d.has_passed());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Deadline {
    clock: Clock,
    at: Timespec,
}

impl Deadline {
    /// The instant `at` on `clock` (what `pthread_cond_clockwait` takes).
    pub const fn new(clock: Clock, at: Timespec) -> Self {
        Deadline { clock, at }
    }

    /// `timeout` from now, on `CLOCK_MONOTONIC`.
    pub fn after(timeout: Duration) -> Self {
        Self::after_on(Clock::Monotonic, timeout)
    }

    /// `timeout` from now, on `clock`.
    pub fn after_on(clock: Clock, timeout: Duration) -> Self {
        Deadline {
            clock,
            at: clock.now().saturating_add(timeout),
        }
    }

    /// The clock it is measured on.
    pub const fn clock(&self) -> Clock {
        self.clock
    }

    /// The absolute time.
    pub const fn at(&self) -> Timespec {
        self.at
    }

    /// Whether the deadline has been reached on its clock.
    #[inline]
    pub fn has_passed(&self) -> bool {
        self.clock.now() >= self.at
    }

    /// Time left until the deadline on its clock (zero once it has passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespec_rejects_bad_nanoseconds() {
        assert_eq!(
            Timespec::new(1, 1_000_000_000),
            Err(InvalidTimespec {
                nsec: 1_000_000_000
            })
        );
        assert_eq!(Timespec::new(1, -1), Err(InvalidTimespec { nsec: -1 }));
        assert!(Timespec::new(-5, 0).is_ok());
        assert_eq!(InvalidTimespec { nsec: -1 }.errno(), libc::EINVAL);
    }

    #[test]
    fn timespec_arithmetic_carries_and_saturates() -> Result<(), InvalidTimespec> {
        let t = Timespec::new(10, 900_000_000)?;
        let u = t.saturating_add(Duration::from_millis(200));
        assert_eq!(u, Timespec::new(11, 100_000_000)?);
        assert_eq!(u.saturating_duration_since(t), Duration::from_millis(200));
        assert_eq!(t.saturating_duration_since(u), Duration::ZERO);
        let max = Timespec::new(i64::MAX, 0)?.saturating_add(Duration::from_secs(5));
        assert_eq!(max, Timespec::new(i64::MAX, 999_999_999)?);
        Ok(())
    }

    #[test]
    fn clock_ids_round_trip() {
        for c in [Clock::Realtime, Clock::Monotonic] {
            assert_eq!(Clock::from_id(c.id()), Some(c));
        }
        assert_eq!(Clock::from_id(libc::CLOCK_PROCESS_CPUTIME_ID), None);
        assert_eq!(Clock::default().id(), 0);
    }

    #[test]
    fn deadlines_on_both_clocks_expire() {
        for c in [Clock::Realtime, Clock::Monotonic] {
            let past = Deadline::new(c, c.now());
            assert!(past.has_passed());
            assert_eq!(past.remaining(), Duration::ZERO);
            let future = Deadline::after_on(c, Duration::from_secs(60));
            assert!(!future.has_passed());
            assert!(future.remaining() > Duration::from_secs(59));
        }
    }
}
