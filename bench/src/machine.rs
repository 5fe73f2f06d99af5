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
    /// The notification backend the library would use here.
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
    pub fn describe(clock: &Clock, topology: &Topology) -> Machine {
        let (backend, backend_reason) = backend_info();
        Machine {
            cpu: cpu_brand().unwrap_or_else(|| "unknown CPU".to_string()),
            cores: topology.cores(),
            kernel: kernel().unwrap_or_else(|| "unknown kernel".to_string()),
            backend,
            backend_reason,
            tsc_ghz: clock.tsc_ghz(),
            clock: clock.describe(),
            static_binary: crate::mechanisms::static_binary(),
        }
    }
}

/// The backend nemo's library selects here, and why. The one place that asks: it reads UINTR
/// detection directly until the library exposes its own choice.
pub fn backend_info() -> (String, String) {
    let d = uintr_sys::detect();
    let backend = if d.is_available() { "uintr" } else { "signal" };
    (backend.to_string(), d.reason().to_string())
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
        let m = Machine::describe(&Clock::monotonic(), &Topology::with_cores(3));
        assert_eq!(m.cores, 3);
        assert!(m.kernel.starts_with("Linux "), "{}", m.kernel);
        assert!(m.backend == "uintr" || m.backend == "signal");
        assert!(!m.backend_reason.is_empty());
        assert_eq!(m.tsc_ghz, None);
    }
}
