//! Absolute deadlines on a chosen clock, the way `pthread_cond_timedwait` and
//! `pthread_cond_clockwait` take them.
//!
//! A deadline is an absolute `timespec` on a [`Clock`] (checked once, when it is made: a
//! `tv_nsec` outside `0..1e9` is refused). Relative timeouts (`Deadline::from(duration)`) are converted
//! once, on `CLOCK_MONOTONIC`, so a wait never restarts its timeout after a spurious return. Every rung of the wait ladder compares against the deadline's
//! own clock, and the park rung hands the absolute time to the kernel, so a timed wait never
//! returns before the deadline as measured on that clock.

use std::time::Duration;

use crate::error::{Repr, Result};

/// A clock deadlines can be measured on: the two clocks POSIX condition variables accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Clock {
    /// `CLOCK_REALTIME` (id 0): wall-clock time; the POSIX default for condition variables.
    #[default]
    Realtime,
    /// `CLOCK_MONOTONIC` (id 1): never jumps; what `Deadline::from(duration)` uses.
    Monotonic,
}

impl Clock {
    /// The `clockid_t` of this clock (`libc::clockid_t::from(clock)` outside the crate).
    pub(crate) const fn id(self) -> libc::clockid_t {
        match self {
            Clock::Realtime => libc::CLOCK_REALTIME,
            Clock::Monotonic => libc::CLOCK_MONOTONIC,
        }
    }

    /// The current time on this clock.
    #[inline]
    pub(crate) fn now(self) -> Timespec {
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

/// The `clockid_t` of the clock (`CLOCK_REALTIME` or `CLOCK_MONOTONIC`).
impl From<Clock> for libc::clockid_t {
    fn from(clock: Clock) -> libc::clockid_t {
        clock.id()
    }
}

/// The clock with this `clockid_t`, if it is one a condition variable can use; any other id is
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (`EINVAL`, as
/// `pthread_condattr_setclock` answers).
impl TryFrom<libc::clockid_t> for Clock {
    type Error = crate::Error;

    fn try_from(id: libc::clockid_t) -> Result<Clock> {
        match id {
            libc::CLOCK_REALTIME => Ok(Clock::Realtime),
            libc::CLOCK_MONOTONIC => Ok(Clock::Monotonic),
            _ => Err(Repr::InvalidClock(id).into()),
        }
    }
}

/// A `timespec` whose nanoseconds are known to be in `0..1_000_000_000`. Seconds may be negative
/// (a time before the epoch is simply in the past). Ordered by time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Timespec {
    sec: i64,
    nsec: u32,
}

impl Timespec {
    /// Checks a C `timespec`: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)
    /// (`EINVAL`, as POSIX says) for nanoseconds outside `0..1_000_000_000`.
    pub(crate) fn from_libc(ts: &libc::timespec) -> Result<Self> {
        let nsec = ts.tv_nsec;
        if !(0..1_000_000_000).contains(&nsec) {
            return Err(Repr::InvalidTimespec { nsec }.into());
        }
        Ok(Timespec {
            sec: ts.tv_sec,
            nsec: nsec as u32,
        })
    }

    /// The C `timespec`.
    pub(crate) const fn to_libc(self) -> libc::timespec {
        libc::timespec {
            tv_sec: self.sec,
            tv_nsec: self.nsec as libc::c_long,
        }
    }

    /// Seconds.
    pub(crate) const fn sec(self) -> i64 {
        self.sec
    }

    /// Nanoseconds, in `0..1_000_000_000`.
    pub(crate) const fn nsec(self) -> u32 {
        self.nsec
    }

    /// `self + d`, saturating at the largest representable time.
    pub(crate) fn saturating_add(self, d: Duration) -> Self {
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
    pub(crate) fn saturating_duration_since(self, earlier: Timespec) -> Duration {
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
/// let d = Deadline::from(Duration::from_millis(5));
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
    /// The instant `at` on `clock` (what `pthread_cond_clockwait` takes). Fails with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (`EINVAL`) if
    /// `at.tv_nsec` is outside `0..1_000_000_000`.
    ///
    /// ```
    /// use nemo_user::wait::{Clock, Deadline};
    ///
    /// let epoch = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    /// assert!(Deadline::new(Clock::Realtime, epoch)?.has_passed());
    /// let bad = libc::timespec { tv_sec: 1, tv_nsec: 1_000_000_000 };
    /// assert_eq!(Deadline::new(Clock::Realtime, bad).unwrap_err().errno(), libc::EINVAL);
    /// # Ok::<(), nemo_user::Error>(())
    /// ```
    pub fn new(clock: Clock, at: libc::timespec) -> Result<Self> {
        Ok(Deadline {
            clock,
            at: Timespec::from_libc(&at)?,
        })
    }

    /// `timeout` from now, on `CLOCK_MONOTONIC` (`Deadline::from(timeout)` outside the crate).
    pub(crate) fn after(timeout: Duration) -> Self {
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

    /// The absolute time, as a C `timespec` (`tv_nsec` in `0..1_000_000_000`).
    pub const fn at(&self) -> libc::timespec {
        self.at.to_libc()
    }

    /// Whether the deadline has been reached on its clock.
    #[inline]
    pub fn has_passed(&self) -> bool {
        self.clock.now() >= self.at
    }

    /// Time left until the deadline on its clock (zero once it has passed).
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(self.clock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn ts(tv_sec: i64, tv_nsec: i64) -> libc::timespec {
        libc::timespec { tv_sec, tv_nsec }
    }

    #[test]
    fn timespec_rejects_bad_nanoseconds() {
        for bad in [1_000_000_000, -1] {
            let e = Timespec::from_libc(&ts(1, bad)).unwrap_err();
            assert_eq!(
                (e.kind(), e.errno()),
                (ErrorKind::InvalidArgument, libc::EINVAL)
            );
            assert_eq!(
                e.to_string(),
                format!("invalid timespec: tv_nsec = {bad} is outside 0..1_000_000_000")
            );
            assert_eq!(Deadline::new(Clock::Realtime, ts(1, bad)), Err(e));
        }
        assert!(Timespec::from_libc(&ts(-5, 0)).is_ok());
    }

    #[test]
    fn timespec_arithmetic_carries_and_saturates() -> Result<()> {
        let t = Timespec::from_libc(&ts(10, 900_000_000))?;
        let u = t.saturating_add(Duration::from_millis(200));
        assert_eq!(u, Timespec::from_libc(&ts(11, 100_000_000))?);
        assert_eq!(u.saturating_duration_since(t), Duration::from_millis(200));
        assert_eq!(t.saturating_duration_since(u), Duration::ZERO);
        let max = Timespec::from_libc(&ts(i64::MAX, 0))?.saturating_add(Duration::from_secs(5));
        assert_eq!(max, Timespec::from_libc(&ts(i64::MAX, 999_999_999))?);
        let back = max.to_libc();
        assert_eq!((back.tv_sec, back.tv_nsec), (i64::MAX, 999_999_999));
        Ok(())
    }

    #[test]
    fn clock_ids_round_trip() {
        for c in [Clock::Realtime, Clock::Monotonic] {
            assert_eq!(Clock::try_from(libc::clockid_t::from(c)), Ok(c));
        }
        let e = Clock::try_from(libc::CLOCK_PROCESS_CPUTIME_ID).unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::InvalidArgument, libc::EINVAL)
        );
        assert_eq!(libc::clockid_t::from(Clock::default()), 0);
    }

    #[test]
    fn deadlines_on_both_clocks_expire() -> Result<()> {
        for c in [Clock::Realtime, Clock::Monotonic] {
            let past = Deadline::new(c, c.now().to_libc())?;
            assert!(past.has_passed());
            assert_eq!(past.remaining(), Duration::ZERO);
            let future = Deadline::after_on(c, Duration::from_secs(60));
            assert!(!future.has_passed());
            assert!(future.remaining() > Duration::from_secs(59));
            let at = future.at();
            assert_eq!(Deadline::new(c, at)?, future);
        }
        Ok(())
    }
}
