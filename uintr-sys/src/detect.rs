//! Detection of user-interrupt support, and the [`Support`] token that gates every UINTR syscall.
//!
//! UINTR is usable only when **both** the CPU advertises it (`CPUID.(EAX=7,ECX=0):EDX[5]`) **and**
//! the running kernel is one of Intel's UINTR kernels, which print a `uintr` flag in
//! `/proc/cpuinfo`. The second check is not optional: mainline Linux never names that flag and has
//! reused the UINTR syscall numbers for other calls (UINTR-ABI.md §1; 471 is `rseq_slice_yield` on
//! new kernels and returns 0), so a blind probe of syscall 471 can "succeed" while doing something
//! else entirely.
//!
//! `UINTR_DISABLE=1` (or any value other than empty/`0`) in the environment forces "unavailable".
//!
//! ```
//! let d = uintr_sys::detect();
//! println!("UINTR available: {} ({})", d.is_available(), d.reason());
//! if let Some(support) = d.support() {
//!     // only here may UINTR syscalls be called
//!     let _ = support;
//! }
//! ```

use std::sync::OnceLock;

/// Proof that user interrupts are usable on this machine and kernel.
///
/// Only [`detect`] and [`detect_uncached`] create one, from the real CPUID and `/proc/cpuinfo`,
/// and every wrapper in [`crate::syscalls`] takes one by value, so no UINTR syscall number can be
/// executed without the detection gate having passed (safe code cannot forge one; see
/// [`crate::syscalls`] for the wrappers' side of the gate):
///
/// ```compile_fail
/// // error[E0451]: field `_private` of struct `Support` is private
/// let forged = uintr_sys::Support { _private: () };
/// ```
///
/// ```compile_fail
/// // error[E0599]: no function or associated item named `default` found for `Support`
/// let forged = uintr_sys::Support::default();
/// ```
///
/// ```compile_fail
/// // error[E0624]: associated function `decide` is private: the decision table cannot be fed
/// // made-up facts to obtain a token
/// let forged = uintr_sys::Detection::decide(true, Some("flags : uintr"), None, false).support();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Support {
    _private: (),
}

/// The outcome of detection, with a human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    /// `CPUID.(7,0):EDX[5]` is set.
    pub cpuid: bool,
    /// The `uintr` flag in `/proc/cpuinfo`: `None` if the file could not be read.
    pub cpuinfo_flag: Option<bool>,
    /// `UINTR_DISABLE` forced "unavailable".
    pub disabled_by_env: bool,
    /// The CPU has WAITPKG (`umonitor`/`umwait`/`tpause`): `CPUID.(7,0):ECX[5]`.
    pub waitpkg: bool,
    support: Option<Support>,
    reason: String,
}

impl Detection {
    /// The token, if user interrupts can be used.
    pub fn support(&self) -> Option<Support> {
        self.support
    }

    /// Whether user interrupts can be used.
    pub fn is_available(&self) -> bool {
        self.support.is_some()
    }

    /// Why they can or cannot.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Decides from already-gathered facts. Pure, so the decision table is testable on any
    /// machine; [`detect`] feeds it the real CPUID, `/proc/cpuinfo` and environment. Private:
    /// given made-up facts it would hand out a token.
    fn decide(
        cpuid: bool,
        cpuinfo: Option<&str>,
        uintr_disable: Option<&str>,
        waitpkg: bool,
    ) -> Detection {
        let disabled_by_env = matches!(uintr_disable, Some(v) if !v.is_empty() && v != "0");
        let cpuinfo_flag = cpuinfo.map(cpuinfo_has_uintr_flag);
        let reason = if disabled_by_env {
            "disabled by UINTR_DISABLE in the environment".to_string()
        } else if !cpuid {
            "the CPU does not advertise UINTR (CPUID.(EAX=7,ECX=0):EDX[5] is clear); \
             user interrupts need a Sapphire Rapids or later Intel CPU"
                .to_string()
        } else {
            match cpuinfo_flag {
                None => "the CPU advertises UINTR but /proc/cpuinfo could not be read to confirm \
                         that the kernel supports it; not calling UINTR syscalls blindly"
                    .to_string(),
                Some(false) => {
                    "the CPU advertises UINTR but the kernel does not (no `uintr` flag in \
                                /proc/cpuinfo): mainline Linux has no UINTR support and reuses its \
                                syscall numbers; Intel's UINTR kernel is needed"
                        .to_string()
                }
                Some(true) => "UINTR available: CPUID.(7,0):EDX[5] is set and the kernel reports \
                               the `uintr` flag in /proc/cpuinfo"
                    .to_string(),
            }
        };
        let available = !disabled_by_env && cpuid && cpuinfo_flag == Some(true);
        Detection {
            cpuid,
            cpuinfo_flag,
            disabled_by_env,
            waitpkg,
            support: available.then_some(Support { _private: () }),
            reason,
        }
    }
}

/// Whether a `/proc/cpuinfo` text has `uintr` among the `flags` of its first CPU.
pub fn cpuinfo_has_uintr_flag(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == "uintr"))
}

/// `CPUID.(EAX=7,ECX=0)` as `(ebx, ecx, edx)`, or zeros where leaf 7 does not exist.
#[cfg(target_arch = "x86_64")]
fn cpuid_leaf7() -> (u32, u32, u32) {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    // SAFETY: CPUID exists on every x86_64 CPU; leaf 7 is read only if the max leaf allows it.
    let max = __cpuid(0).eax;
    if max < 7 {
        return (0, 0, 0);
    }
    let r = __cpuid_count(7, 0);
    (r.ebx, r.ecx, r.edx)
}

/// `CPUID.(7,0):EDX[5]`: the CPU implements user interrupts.
pub fn cpu_has_uintr() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cpuid_leaf7().2 & (1 << 5) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `CPUID.(7,0):ECX[5]`: the CPU implements WAITPKG (`umonitor`, `umwait`, `tpause`).
pub fn cpu_has_waitpkg() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        cpuid_leaf7().1 & (1 << 5) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Detects once per process and caches the answer (the environment is read at the first call).
pub fn detect() -> &'static Detection {
    static DETECTION: OnceLock<Detection> = OnceLock::new();
    DETECTION.get_or_init(detect_uncached)
}

/// Detects without the cache (reads CPUID, `/proc/cpuinfo` and `UINTR_DISABLE` now).
pub fn detect_uncached() -> Detection {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    let disable = std::env::var("UINTR_DISABLE").ok();
    Detection::decide(
        cpu_has_uintr(),
        cpuinfo.as_deref(),
        disable.as_deref(),
        cpu_has_waitpkg(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH: &str = "processor\t: 0\nflags\t\t: fpu vme uintr avx512f\n\nprocessor\t: 1\n";
    const WITHOUT: &str = "processor\t: 0\nflags\t\t: fpu vme avx512f uintrx\n";

    #[test]
    fn flag_parsing_matches_whole_words() {
        assert!(cpuinfo_has_uintr_flag(WITH));
        assert!(!cpuinfo_has_uintr_flag(WITHOUT));
        assert!(!cpuinfo_has_uintr_flag(""));
    }

    #[test]
    fn both_cpuid_and_kernel_flag_are_required() {
        assert!(Detection::decide(true, Some(WITH), None, false).is_available());
        let no_kernel = Detection::decide(true, Some(WITHOUT), None, false);
        assert!(!no_kernel.is_available());
        assert!(
            no_kernel.reason().contains("kernel"),
            "{}",
            no_kernel.reason()
        );
        let no_cpu = Detection::decide(false, Some(WITH), None, false);
        assert!(!no_cpu.is_available());
        assert!(no_cpu.reason().contains("CPUID"), "{}", no_cpu.reason());
        let unreadable = Detection::decide(true, None, None, false);
        assert!(!unreadable.is_available());
        assert_eq!(unreadable.cpuinfo_flag, None);
    }

    #[test]
    fn uintr_disable_forces_unavailable() {
        let d = Detection::decide(true, Some(WITH), Some("1"), false);
        assert!(!d.is_available());
        assert!(d.disabled_by_env);
        assert!(d.reason().contains("UINTR_DISABLE"));
        assert!(Detection::decide(true, Some(WITH), Some("0"), false).is_available());
        assert!(Detection::decide(true, Some(WITH), Some(""), false).is_available());
    }

    #[test]
    fn this_machine_reports_a_reason() {
        let d = detect_uncached();
        assert!(!d.reason().is_empty());
        // The token exists only when both checks agree, whatever machine this runs on.
        assert_eq!(
            d.is_available(),
            d.cpuid && d.cpuinfo_flag == Some(true) && !d.disabled_by_env
        );
    }
}
