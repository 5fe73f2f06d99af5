//! The three ways a user interrupt reaches its receiver, behind one semantics.
//!
//! | backend | notification | delivery point | handler may |
//! |---|---|---|---|
//! | `uintr` | `SENDUIPI` → the CPU | any instruction while UIF = 1 | async-signal-safe work only, no indefinitely blocking syscalls (the kernel does not interrupt them without a `WAITING` flag) |
//! | `signal` | software UPID + `tgkill` of a real-time signal | any instruction, also inside blocking syscalls (they restart) | async-signal-safe work only: no allocation, no locks the interrupted code may hold |
//! | `poll` | software UPID, no notification | [`poll()`](crate::poll) safepoints (and a guard's drop) | anything |
//!
//! Whatever the backend: 64 vectors per receiver, a pending vector coalesces (sending it again
//! adds nothing until it is delivered), the highest pending vector is delivered first, delivery
//! runs on the receiver's thread, a [`Guard`](crate::interrupt::Guard) defers delivery until it is
//! dropped, and no posted vector is lost.
//!
//! # Choosing a backend
//!
//! At run time, the default is `uintr` if [`uintr_sys::detect()`] hands out a support token, else
//! `signal`. `NEMO_BACKEND=uintr|signal|poll` (or `auto`) in the environment forces one; forcing a
//! backend this machine cannot run is an error, never a silent fallback. [`backend_info()`] says
//! which backend runs and why. A receiver can also name its backend in code
//! ([`ReceiverBuilder::backend`](crate::interrupt::ReceiverBuilder::backend)), so one process can
//! run receivers on different backends.
//!
//! The decision itself is a pure function of the environment value and UINTR's availability
//! ([`BackendInfo::decide`]), so every row of it is tested here without the hardware.

pub(crate) mod poll;
pub(crate) mod signal;
pub(crate) mod uintr;

use crate::error::Repr;
use core::fmt;
use core::str::FromStr;
use std::sync::OnceLock;

use uintr_sys::Detection;

use crate::error::{Error, Result};
use crate::interrupt::doorbell::Doorbell;
use crate::interrupt::seam::Backend;

pub use crate::interrupt::kind::BackendKind;

/// The environment variable that forces a backend.
pub(crate) const BACKEND_ENV: &str = "NEMO_BACKEND";

impl BackendKind {
    /// Whether this backend can run here; `Err` carries the reason it cannot.
    pub fn availability(self) -> Result<()> {
        let d = uintr_sys::detect();
        availability(self, d.is_available(), d.reason())
    }
}

impl FromStr for BackendKind {
    type Err = Error;

    /// Parses `uintr`, `signal` or `poll` (case-insensitive, surrounding blanks ignored).
    fn from_str(s: &str) -> Result<BackendKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "uintr" => Ok(BackendKind::Uintr),
            "signal" => Ok(BackendKind::Signal),
            "poll" => Ok(BackendKind::Poll),
            _ => Err(Repr::InvalidBackend {
                value: s.to_string(),
            }
            .into()),
        }
    }
}

/// Which backend runs by default, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// The backend.
    pub kind: BackendKind,
    /// Whether `NEMO_BACKEND` forced it.
    pub forced: bool,
    /// A sentence saying why this backend was chosen.
    pub reason: String,
}

impl BackendInfo {
    /// Decides from the value of `NEMO_BACKEND` and a UINTR detection; see
    /// [`BackendInfo::decide`].
    pub(crate) fn select(nemo_backend: Option<&str>, detection: &Detection) -> Result<BackendInfo> {
        BackendInfo::decide(nemo_backend, detection.is_available(), detection.reason())
    }

    /// Decides from the value of `NEMO_BACKEND` (`None` or `Some("")` or `Some("auto")`: not
    /// forced) and whether UINTR is available (with the detection's reason). Pure, so every row
    /// of the decision is testable anywhere.
    ///
    /// Errors: [`ErrorKind::InvalidConfig`](crate::ErrorKind::InvalidConfig) (bad backend name) for a value that names no backend,
    /// [`ErrorKind::Unsupported`](crate::ErrorKind::Unsupported) (backend unavailable) for a forced backend that cannot run.
    pub(crate) fn decide(
        nemo_backend: Option<&str>,
        uintr_available: bool,
        uintr_reason: &str,
    ) -> Result<BackendInfo> {
        let forced = match nemo_backend.map(str::trim) {
            None | Some("") => None,
            Some(v) if v.eq_ignore_ascii_case("auto") => None,
            Some(v) => Some(v.parse::<BackendKind>().map_err(|_| Repr::InvalidBackend {
                value: v.to_string(),
            })?),
        };
        match forced {
            Some(kind) => {
                availability(kind, uintr_available, uintr_reason)?;
                Ok(BackendInfo {
                    kind,
                    forced: true,
                    reason: format!("forced by {BACKEND_ENV}={kind}"),
                })
            }
            None if uintr_available => Ok(BackendInfo {
                kind: BackendKind::Uintr,
                forced: false,
                reason: format!("user interrupts detected: {uintr_reason}"),
            }),
            None => Ok(BackendInfo {
                kind: BackendKind::Signal,
                forced: false,
                reason: format!(
                    "no user interrupts ({uintr_reason}); emulating them with a real-time signal"
                ),
            }),
        }
    }
}

impl fmt::Display for BackendInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.kind, self.reason)
    }
}

/// The backend a receiver registers on: `requested`, or the process default; an error if it
/// cannot run here.
pub(crate) fn choose(
    requested: Option<BackendKind>,
    uintr: &uintr::Options,
) -> Result<BackendKind> {
    match requested {
        Some(BackendKind::Uintr) => {
            uintr::availability(uintr)?;
            Ok(BackendKind::Uintr)
        }
        Some(kind) => {
            kind.availability()?;
            Ok(kind)
        }
        None => Ok(backend_info()?.kind),
    }
}

/// The signal a receiver on `kind` is notified with (0: none).
pub(crate) fn notification_signal(kind: BackendKind) -> Result<libc::c_int> {
    match kind {
        BackendKind::Signal => signal::signal_number(),
        BackendKind::Uintr | BackendKind::Poll => Ok(0),
    }
}

/// Sets up `kind`'s receiver-side half for the calling thread, with these `vectors` enabled,
/// around its freshly placed `doorbell`.
pub(crate) fn open(
    kind: BackendKind,
    uintr: &uintr::Options,
    vectors: u64,
    doorbell: &Doorbell,
) -> Result<Box<dyn Backend>> {
    Ok(match kind {
        BackendKind::Uintr => Box::new(uintr::register(uintr, vectors)?),
        BackendKind::Signal => Box::new(signal::Signalled),
        BackendKind::Poll => {
            // Nobody is ever notified.
            doorbell.suppress_notifications();
            Box::new(poll::Polled)
        }
    })
}

fn availability(kind: BackendKind, uintr_available: bool, uintr_reason: &str) -> Result<()> {
    match kind {
        BackendKind::Uintr if !uintr_available => Err(Repr::BackendUnavailable {
            kind,
            reason: uintr_reason.to_string(),
        }
        .into()),
        BackendKind::Uintr | BackendKind::Signal | BackendKind::Poll => Ok(()),
    }
}

/// The process's default backend and why, decided once from `NEMO_BACKEND` and
/// [`uintr_sys::detect()`] at the first call.
///
/// Errors (returned at every call, so a misconfiguration cannot be missed): an invalid
/// `NEMO_BACKEND` value, or a forced backend that cannot run here.
///
/// ```
/// match nemo_user::backend_info() {
///     Ok(info) => println!("backend: {info}"),
///     Err(e) => println!("misconfigured: {e}"),
/// }
/// ```
pub fn backend_info() -> Result<&'static BackendInfo> {
    static INFO: OnceLock<Result<BackendInfo>> = OnceLock::new();
    INFO.get_or_init(|| {
        let env = std::env::var(BACKEND_ENV).ok();
        BackendInfo::select(env.as_deref(), uintr_sys::detect())
    })
    .as_ref()
    .map_err(Clone::clone)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_CPUID: &str = "the CPU does not advertise UINTR (CPUID.(EAX=7,ECX=0):EDX[5] is clear)";

    fn without_uintr(env: Option<&str>) -> Result<BackendInfo> {
        BackendInfo::decide(env, false, NO_CPUID)
    }

    fn with_uintr(env: Option<&str>) -> Result<BackendInfo> {
        BackendInfo::decide(env, true, "UINTR available")
    }

    #[test]
    fn default_is_uintr_where_detected_else_signal() {
        let a = with_uintr(None).unwrap();
        assert_eq!(a.kind, BackendKind::Uintr);
        assert!(!a.forced);
        let b = without_uintr(Some("")).unwrap();
        assert_eq!(b.kind, BackendKind::Signal);
        assert!(b.reason.contains("CPUID"), "{}", b.reason);
        let c = without_uintr(Some(" Auto ")).unwrap();
        assert_eq!(c.kind, BackendKind::Signal);
    }

    #[test]
    fn forcing_works_for_every_available_backend() {
        for kind in [BackendKind::Signal, BackendKind::Poll] {
            let info = without_uintr(Some(kind.name())).unwrap();
            assert_eq!(info.kind, kind);
            assert!(info.forced);
            assert!(info.to_string().contains("NEMO_BACKEND"));
        }
        let hw = with_uintr(Some("UINTR")).unwrap();
        assert_eq!(hw.kind, BackendKind::Uintr);
        assert!(hw.forced);
    }

    #[test]
    fn forcing_an_unavailable_backend_is_an_error() {
        let e = without_uintr(Some("uintr")).unwrap_err();
        match e.repr() {
            Repr::BackendUnavailable { kind, reason } => {
                assert_eq!(*kind, BackendKind::Uintr);
                assert!(reason.contains("CPUID"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(e.errno(), libc::ENOTSUP);
    }

    #[test]
    fn a_bad_value_names_the_valid_ones() {
        let e = with_uintr(Some("futex")).unwrap_err();
        assert_eq!(
            e,
            Repr::InvalidBackend {
                value: "futex".into()
            }
            .into()
        );
        let msg = e.to_string();
        for valid in ["uintr", "signal", "poll"] {
            assert!(msg.contains(valid), "{msg}");
        }
    }

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in BackendKind::ALL {
            assert_eq!(kind.name().parse::<BackendKind>().unwrap(), kind);
            assert_eq!(BackendKind::from_u8(kind.to_u8()), kind);
        }
    }
}
