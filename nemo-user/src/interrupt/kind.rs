//! [`BackendKind`]: which of the three backends a receiver runs on.
//!
//! A leaf: the doorbell records its receiver's kind and errors name it, so it depends on nothing
//! else in the crate. Parsing and availability (which need [`Error`](crate::Error)) live with the
//! backends, in [`crate::backend`].

use core::fmt;

/// One of the three backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BackendKind {
    /// Intel user interrupts: `SENDUIPI` and a hardware-delivered handler.
    Uintr,
    /// A software UPID notified by a real-time signal (`tgkill`).
    Signal,
    /// A software UPID drained at explicit [`poll()`](crate::poll) safepoints.
    Poll,
}

impl BackendKind {
    /// All backends, in order of preference.
    pub const ALL: [BackendKind; 3] = [BackendKind::Uintr, BackendKind::Signal, BackendKind::Poll];

    /// The lowercase name used by `NEMO_BACKEND`: what `Display` prints and `FromStr` parses.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            BackendKind::Uintr => "uintr",
            BackendKind::Signal => "signal",
            BackendKind::Poll => "poll",
        }
    }

    pub(crate) const fn to_u8(self) -> u8 {
        match self {
            BackendKind::Uintr => 0,
            BackendKind::Signal => 1,
            BackendKind::Poll => 2,
        }
    }

    pub(crate) const fn from_u8(v: u8) -> BackendKind {
        match v {
            0 => BackendKind::Uintr,
            1 => BackendKind::Signal,
            _ => BackendKind::Poll,
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
