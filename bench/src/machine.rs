//! What the numbers were measured on. Everything here comes from CPUID and syscalls (no `/proc`
//! or `/sys` reads of its own), so it also works under gem5's syscall emulation.

use crate::clock::Clock;
use crate::placement::Topology;

/// The machine section of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Machine {
    /// CPU brand string (CPUID leaves 0x80000002–4).
    pub cpu: String,
    /// Usable cores.
    pub cores: usize,
    /// `uname`: system name and release.
    pub kernel: String,
    /// The notification backend the library uses by default here (`uintr`, `signal`, `poll`).
    pub backend: String,
    /// Why that backend.
    pub backend_reason: String,
    /// The TSC rate, for TSC-based clocks.
    pub tsc_ghz: Option<f64>,
    /// The timestamp source, in words.
    pub clock: String,
    /// Statically linked binary.
    pub static_binary: bool,
}

impl Machine {
    /// Describes this machine, with the run's clock and topology.
    ///
    /// Errors: the library cannot choose its backend (see [`backend_info`]).
    pub fn describe(clock: &Clock, topology: &Topology) -> Result<Machine, BackendError> {
        let (backend, backend_reason) = backend_info()?;
        Ok(Machine {
            cpu: cpu_brand().unwrap_or_else(|| "unknown CPU".to_string()),
            cores: topology.cores(),
            kernel: kernel().unwrap_or_else(|| "unknown kernel".to_string()),
            backend,
            backend_reason,
            tsc_ghz: clock.tsc_ghz(),
            clock: clock.describe(),
            static_binary: crate::mechanisms::static_binary(),
        })
    }
}

/// The library could not choose its default backend: `NEMO_BACKEND` names no backend, or forces
/// one this machine cannot run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting}: {error}")]
pub struct BackendError {
    /// The setting at fault, as `NEMO_BACKEND=value`.
    pub setting: String,
    /// The library's reason.
    pub error: nemo_user::Error,
}

/// The backend nemo's library uses by default in this process, and why
/// ([`nemo_user::backend_info()`]: `NEMO_BACKEND`, else UINTR detection).
pub fn backend_info() -> Result<(String, String), BackendError> {
    match nemo_user::backend_info() {
        Ok(info) => Ok((info.kind.to_string(), info.reason.clone())),
        Err(error) => Err(BackendError {
            setting: format!(
                "NEMO_BACKEND={}",
                std::env::var("NEMO_BACKEND").unwrap_or_default()
            ),
            error,
        }),
    }
}

/// Whether user interrupts are usable here.
pub fn uintr_available() -> bool {
    uintr_sys::detect().is_available()
}

/// The CPUID brand string, trimmed.
pub fn cpu_brand() -> Option<String> {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::__cpuid;
        if __cpuid(0x8000_0000).eax < 0x8000_0004 {
            return None;
        }
        let mut bytes = Vec::with_capacity(48);
        for leaf in 0x8000_0002u32..=0x8000_0004 {
            let r = __cpuid(leaf);
            for reg in [r.eax, r.ebx, r.ecx, r.edx] {
                bytes.extend_from_slice(&reg.to_le_bytes());
            }
        }
        let s = String::from_utf8_lossy(&bytes)
            .trim_matches(char::from(0))
            .trim()
            .to_string();
        (!s.is_empty()).then_some(s)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        None
    }
}

/// `uname -sr`.
pub fn kernel() -> Option<String> {
    // SAFETY: an all-zero utsname is valid storage for uname to fill.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is valid and writable.
    if unsafe { libc::uname(&mut u) } != 0 {
        return None;
    }
    let field = |f: &[libc::c_char]| {
        let bytes: Vec<u8> = f
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    };
    Some(format!("{} {}", field(&u.sysname), field(&u.release)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_this_machine() {
        let m = Machine::describe(&Clock::monotonic(), &Topology::with_cores(3))
            .expect("the test environment leaves NEMO_BACKEND valid");
        assert_eq!(m.cores, 3);
        assert!(m.kernel.starts_with("Linux "), "{}", m.kernel);
        let info = nemo_user::backend_info().expect("valid");
        assert_eq!(m.backend, info.kind.to_string());
        assert_eq!(m.backend_reason, info.reason);
        assert!(["uintr", "signal", "poll"].contains(&m.backend.as_str()));
        assert!(!m.backend_reason.is_empty());
        assert_eq!(m.tsc_ghz, None);
    }
}
