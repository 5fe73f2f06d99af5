//! Detection of user-interrupt support, and the [`Support`] token that gates every UINTR syscall.
//!
//! UINTR is usable only when **both** the CPU advertises it (`CPUID.(EAX=7,ECX=0):EDX[5]`) **and**
//! the running kernel is one of Intel's UINTR kernels, which print a `uintr` flag in
//! `/proc/cpuinfo`. The second check is not optional: mainline Linux never names that flag and has
//! reused the UINTR syscall numbers for other calls (UINTR-ABI.md §1; 471 is `rseq_slice_yield` on
//! new kernels and returns 0), so a blind probe of syscall 471 can "succeed" while doing something
//! else entirely.
//!
//! A third check names the kernel's **ABI revision** before any UINTR syscall is made for real:
//! CPUID and the `uintr` flag look the same under RFC v1 (syscalls 449–454), an intermediate
//! revision (471–476, `uintr_create_fd` at 473) and Intel's current one (471–479), but their
//! numbers mean different calls (UINTR-ABI.md §4b). The probe, [`AbiRevision`], makes calls that
//! every one of those revisions refuses with `EINVAL` *before doing anything* (a nonzero
//! `flags` argument), so it changes nothing, and tells them apart by which numbers exist. Only
//! 471–479 hands out a token; the others are refused with a reason that names them.
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
/// let forged = uintr_sys::Detection::decide(true, Some("flags : uintr"), None, false, &|_, _| 22)
///     .support();
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
    /// The kernel's UINTR ABI revision, probed only once CPUID and `/proc/cpuinfo` agree (and
    /// `UINTR_DISABLE` is not set): `None` when not probed.
    pub abi: Option<AbiRevision>,
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
    /// machine; [`detect`] feeds it the real CPUID, `/proc/cpuinfo`, environment and ABI probe
    /// (`probe(nr, arg)` makes syscall `nr` with one argument and returns its errno, 0 on
    /// success; it is called only when the CPU and the kernel flag both say UINTR). Private:
    /// given made-up facts it would hand out a token.
    fn decide(
        cpuid: bool,
        cpuinfo: Option<&str>,
        uintr_disable: Option<&str>,
        waitpkg: bool,
        probe: &dyn Fn(i64, u64) -> i32,
    ) -> Detection {
        let disabled_by_env = matches!(uintr_disable, Some(v) if !v.is_empty() && v != "0");
        let cpuinfo_flag = cpuinfo.map(cpuinfo_has_uintr_flag);
        let gate = !disabled_by_env && cpuid && cpuinfo_flag == Some(true);
        let probed = gate.then(|| AbiRevision::probe(probe));
        let abi = probed.as_ref().and_then(|p| p.as_ref().ok().copied());
        let reason = if disabled_by_env {
            "disabled by UINTR_DISABLE in the environment".to_string()
        } else if !cpuid {
            "the CPU does not advertise UINTR (CPUID.(EAX=7,ECX=0):EDX[5] is clear); \
             user interrupts need a Sapphire Rapids or later Intel CPU"
                .to_string()
        } else {
            match (cpuinfo_flag, probed) {
                (None, _) => "the CPU advertises UINTR but /proc/cpuinfo could not be read to \
                              confirm that the kernel supports it; not calling UINTR syscalls \
                              blindly"
                    .to_string(),
                (Some(false), _) => "the CPU advertises UINTR but the kernel does not (no \
                                     `uintr` flag in /proc/cpuinfo): mainline Linux has no UINTR \
                                     support and reuses its syscall numbers; Intel's UINTR kernel \
                                     is needed"
                    .to_string(),
                (Some(true), Some(Ok(AbiRevision::Intel471To479))) => format!(
                    "UINTR available: CPUID.(7,0):EDX[5] is set, the kernel reports the `uintr` \
                     flag in /proc/cpuinfo, and it speaks {}",
                    AbiRevision::Intel471To479.name()
                ),
                (Some(true), Some(Ok(other))) => format!(
                    "the kernel supports UINTR but speaks {}, which this library does not \
                     support (it needs {}); its syscall numbers mean other calls here",
                    other.name(),
                    AbiRevision::Intel471To479.name()
                ),
                (Some(true), Some(Err(answers))) => format!(
                    "the kernel reports the `uintr` flag but its UINTR ABI revision is unknown \
                     ({answers}); not calling UINTR syscalls it may not have"
                ),
                (Some(true), None) => unreachable!("the gate passed, so the ABI was probed"),
            }
        };
        let available = gate && abi == Some(AbiRevision::Intel471To479);
        Detection {
            cpuid,
            cpuinfo_flag,
            disabled_by_env,
            waitpkg,
            abi,
            support: available.then_some(Support { _private: () }),
            reason,
        }
    }
}

/// The UINTR system-call ABI revisions of Intel's kernels (UINTR-ABI.md §2, §4b).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiRevision {
    /// The RFC v1 patches (2021): `uintr_register_handler` … `uintr_wait` at 449–454,
    /// `uintr_create_fd`, `uintr_unregister_sender` taking the fd, per-thread tables.
    RfcV1,
    /// An intermediate revision: 471–476, `uintr_create_fd` at 473, a one-argument
    /// `uintr_wait`; no `uintr_register_self`, `uintr_alt_stack`, `uintr_ipi_fd`.
    Intel471To476,
    /// Intel's current `uintr-linux-kernel`: 471–479 ([`crate::syscalls::ABI`]).
    Intel471To479,
}

impl AbiRevision {
    /// A short name for messages.
    pub const fn name(self) -> &'static str {
        match self {
            AbiRevision::RfcV1 => "the RFC v1 UINTR ABI (syscalls 449-454, uintr_create_fd)",
            AbiRevision::Intel471To476 => {
                "the intermediate UINTR ABI (syscalls 471-476, uintr_create_fd at 473)"
            }
            AbiRevision::Intel471To479 => "Intel's UINTR ABI 471-479 (uintr_vector_fd at 473)",
        }
    }

    /// Identifies the revision with calls that change nothing: each is
    /// `uintr_unregister_handler(flags = 1)` or `uintr_ipi_fd(flags = 1)`, which the revisions
    /// that have them refuse with `EINVAL` before doing anything (`if (flags) return -EINVAL;`
    /// right after the CPU-feature check in `arch/x86/kernel/uintr.c` of
    /// `intel/uintr-linux-kernel`, in RFC v1 and in the 471–479 tree alike), and a kernel without
    /// them answers `ENOSYS`:
    ///
    /// | call | RFC v1 | 471–476 | 471–479 |
    /// |---|---|---|---|
    /// | 472 `uintr_unregister_handler(1)` | `ENOSYS` | `EINVAL` | `EINVAL` |
    /// | 479 `uintr_ipi_fd(1)` | – | `ENOSYS` | `EINVAL` |
    /// | 450 `uintr_unregister_handler(1)` (RFC v1) | `EINVAL` | – | – |
    ///
    /// Call only on a kernel that reports the `uintr` flag: on mainline these numbers are other
    /// calls (450 is `set_mempolicy_home_node` there). `probe(nr, arg)` returns the errno of
    /// syscall `nr` with the one argument `arg` (0 on success). On an answer no revision gives,
    /// returns what was seen.
    pub fn probe(probe: &dyn Fn(i64, u64) -> i32) -> Result<AbiRevision, String> {
        const BAD_FLAGS: u64 = 1;
        let unregister_471 = probe(472, BAD_FLAGS);
        if unregister_471 == libc::EINVAL {
            return match probe(479, BAD_FLAGS) {
                libc::EINVAL => Ok(AbiRevision::Intel471To479),
                libc::ENOSYS => Ok(AbiRevision::Intel471To476),
                e => Err(format!(
                    "syscall 472 answered EINVAL as uintr_unregister_handler, 479 errno {e}"
                )),
            };
        }
        if unregister_471 == libc::ENOSYS {
            return match probe(450, BAD_FLAGS) {
                libc::EINVAL => Ok(AbiRevision::RfcV1),
                e => Err(format!("syscall 472 answered ENOSYS, 450 errno {e}")),
            };
        }
        Err(format!("syscall 472 answered errno {unregister_471}"))
    }
}

/// The errno of syscall `nr` with one argument (0 on success): the real probe.
fn syscall_errno(nr: i64, arg: u64) -> i32 {
    // SAFETY: only called by `Detection::decide` once CPUID and the kernel's `uintr` flag say
    // this is a UINTR kernel, with the calls of `AbiRevision::probe`, which every UINTR revision
    // refuses before acting (bad flags) or does not have (ENOSYS); none takes a pointer.
    let r = unsafe { libc::syscall(nr as libc::c_long, arg) };
    if r < 0 {
        std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
    } else {
        0
    }
}

/// Whether a `/proc/cpuinfo` text has `uintr` among the `flags` of its first CPU.
pub fn cpuinfo_has_uintr_flag(cpuinfo: &str) -> bool {
    cpuinfo_has_flag(cpuinfo, "uintr")
}

/// Whether a `/proc/cpuinfo` text has `flag` (a whole word) among the `flags` of its first CPU.
pub fn cpuinfo_has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .is_some_and(|(_, flags)| flags.split_whitespace().any(|f| f == flag))
}

/// Whether this machine announces xUI's KB timer (`xui_kbtimer` in `/proc/cpuinfo`), which only
/// the gem5 UINTR model does: the condition for
/// [`xui_set_timer`](crate::instructions::xui_set_timer). Read once per process.
pub fn xui_kb_timer_announced() -> bool {
    static ANNOUNCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ANNOUNCED.get_or_init(|| {
        std::fs::read_to_string("/proc/cpuinfo")
            .is_ok_and(|text| cpuinfo_has_flag(&text, "xui_kbtimer"))
    })
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

/// Detects without the cache (reads CPUID, `/proc/cpuinfo` and `UINTR_DISABLE` now, and probes
/// the ABI revision if those pass).
pub fn detect_uncached() -> Detection {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok();
    let disable = std::env::var("UINTR_DISABLE").ok();
    Detection::decide(
        cpu_has_uintr(),
        cpuinfo.as_deref(),
        disable.as_deref(),
        cpu_has_waitpkg(),
        &syscall_errno,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH: &str = "processor\t: 0\nflags\t\t: fpu vme uintr avx512f\n\nprocessor\t: 1\n";

    /// A kernel of revision `abi`, as the probe sees it (`None`: neither answers as expected).
    fn kernel(abi: Option<AbiRevision>) -> impl Fn(i64, u64) -> i32 {
        move |nr, flags| {
            assert_eq!(flags, 1, "every probe passes invalid flags");
            match (abi, nr) {
                (Some(AbiRevision::Intel471To479), 472 | 479) => libc::EINVAL,
                (Some(AbiRevision::Intel471To476), 472) => libc::EINVAL,
                (Some(AbiRevision::RfcV1), 450) => libc::EINVAL,
                (None, _) => libc::EPERM,
                _ => libc::ENOSYS,
            }
        }
    }

    fn decide(cpuid: bool, cpuinfo: Option<&str>, disable: Option<&str>) -> Detection {
        Detection::decide(
            cpuid,
            cpuinfo,
            disable,
            false,
            &kernel(Some(AbiRevision::Intel471To479)),
        )
    }
    const WITHOUT: &str = "processor\t: 0\nflags\t\t: fpu vme avx512f uintrx\n";

    #[test]
    fn flag_parsing_matches_whole_words() {
        assert!(cpuinfo_has_uintr_flag(WITH));
        assert!(!cpuinfo_has_uintr_flag(WITHOUT));
        assert!(!cpuinfo_has_uintr_flag(""));
        let model = "processor\t: 0\nflags\t\t: fpu uintr xui_kbtimer\nprocessor\t: 1\n";
        assert!(cpuinfo_has_flag(model, "xui_kbtimer"));
        assert!(!cpuinfo_has_flag(WITH, "xui_kbtimer"));
        assert!(!cpuinfo_has_flag(model, "xui_kb"));
    }

    #[test]
    fn no_real_machine_announces_the_kb_timer() {
        // Only gem5's model serves the flag; this test never runs inside gem5.
        assert!(!xui_kb_timer_announced());
    }

    #[test]
    fn both_cpuid_and_kernel_flag_are_required() {
        assert!(decide(true, Some(WITH), None).is_available());
        let no_kernel = decide(true, Some(WITHOUT), None);
        assert!(!no_kernel.is_available());
        assert!(
            no_kernel.reason().contains("kernel"),
            "{}",
            no_kernel.reason()
        );
        let no_cpu = decide(false, Some(WITH), None);
        assert!(!no_cpu.is_available());
        assert!(no_cpu.reason().contains("CPUID"), "{}", no_cpu.reason());
        let unreadable = decide(true, None, None);
        assert!(!unreadable.is_available());
        assert_eq!(unreadable.cpuinfo_flag, None);
    }

    #[test]
    fn uintr_disable_forces_unavailable() {
        let d = decide(true, Some(WITH), Some("1"));
        assert!(!d.is_available());
        assert!(d.disabled_by_env);
        assert!(d.reason().contains("UINTR_DISABLE"));
        assert!(decide(true, Some(WITH), Some("0")).is_available());
        assert!(decide(true, Some(WITH), Some("")).is_available());
    }

    #[test]
    fn each_abi_revision_is_named_and_only_471_to_479_gets_a_token() {
        for (abi, available, named) in [
            (AbiRevision::Intel471To479, true, "471-479"),
            (AbiRevision::Intel471To476, false, "471-476"),
            (AbiRevision::RfcV1, false, "RFC v1"),
        ] {
            let d = Detection::decide(true, Some(WITH), None, false, &kernel(Some(abi)));
            assert_eq!(d.abi, Some(abi));
            assert_eq!(d.is_available(), available, "{}", d.reason());
            assert!(d.reason().contains(named), "{}", d.reason());
        }
        let unknown = Detection::decide(true, Some(WITH), None, false, &kernel(None));
        assert_eq!(unknown.abi, None);
        assert!(!unknown.is_available());
        assert!(unknown.reason().contains("unknown"), "{}", unknown.reason());
    }

    #[test]
    fn no_probe_before_cpuid_and_the_kernel_flag_agree() {
        let never = |nr: i64, _: u64| -> i32 { panic!("probed syscall {nr} behind a closed gate") };
        for (cpuid, cpuinfo, disable) in [
            (false, Some(WITH), None),
            (true, Some(WITHOUT), None),
            (true, None, None),
            (true, Some(WITH), Some("1")),
        ] {
            let d = Detection::decide(cpuid, cpuinfo, disable, false, &never);
            assert_eq!(d.abi, None);
            assert!(!d.is_available());
        }
    }

    #[test]
    fn this_machine_reports_a_reason() {
        let d = detect_uncached();
        assert!(!d.reason().is_empty());
        // The token exists only when both checks agree, whatever machine this runs on.
        assert_eq!(
            d.is_available(),
            d.cpuid
                && d.cpuinfo_flag == Some(true)
                && !d.disabled_by_env
                && d.abi == Some(AbiRevision::Intel471To479)
        );
    }
}
