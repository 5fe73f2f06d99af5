//! The shim's mode, fixed once per process: `NEMO_PRELOAD=off` forwards every call to glibc's
//! own `pthread_cond_*`; anything else runs nemo's condvar. Also glibc's pre-2.3.2 functions
//! (always forwarded), the wait policy from `NEMO_PRELOAD_SPIN_US`, and the lines
//! `NEMO_PRELOAD_VERBOSE=1` (or `2`) prints.
//!
//! The two modes keep different bytes in a `pthread_cond_t`, so a condvar must never see both:
//! the mode is decided at load time (the constructor in `lib.rs`) — or at the first call, if some
//! other library's constructor calls `pthread_cond_*` before ours has run — and never changes.

use std::ffi::{CStr, CString, c_char, c_int};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

use libc::{clockid_t, pthread_cond_t, pthread_condattr_t, pthread_mutex_t, timespec};
use nemo_user::wait::{CondvarSpinStats, WaitPolicy, set_default_policy};
use uintr_sys::detect::cpu_has_waitpkg;

/// Set to `off` (or `0`, `false`, `no`) to forward everything to glibc.
pub(crate) const MODE_ENV: &str = "NEMO_PRELOAD";
/// Set to `1` to print one line describing the shim when it loads (`2`: and a count at exit).
pub(crate) const VERBOSE_ENV: &str = "NEMO_PRELOAD_VERBOSE";
/// Microseconds a waiter spins before it parks (`0`: park at once).
pub(crate) const SPIN_ENV: &str = "NEMO_PRELOAD_SPIN_US";

type InitFn = unsafe extern "C" fn(*mut pthread_cond_t, *const pthread_condattr_t) -> c_int;
pub(crate) type CondFn = unsafe extern "C" fn(*mut pthread_cond_t) -> c_int;
type WaitFn = unsafe extern "C" fn(*mut pthread_cond_t, *mut pthread_mutex_t) -> c_int;
type TimedWaitFn =
    unsafe extern "C" fn(*mut pthread_cond_t, *mut pthread_mutex_t, *const timespec) -> c_int;
type ClockWaitFn = unsafe extern "C" fn(
    *mut pthread_cond_t,
    *mut pthread_mutex_t,
    clockid_t,
    *const timespec,
) -> c_int;

/// glibc's implementations of one ABI version (`struct nemo_forward` in `c/cond_wait.c`); `None`
/// where glibc has no such function.
#[repr(C)]
#[derive(Debug, Default)]
pub(crate) struct Forward {
    pub(crate) init: Option<InitFn>,
    pub(crate) destroy: Option<CondFn>,
    pub(crate) signal: Option<CondFn>,
    pub(crate) broadcast: Option<CondFn>,
    pub(crate) wait: Option<WaitFn>,
    pub(crate) timedwait: Option<TimedWaitFn>,
    pub(crate) clockwait: Option<ClockWaitFn>,
}

impl Forward {
    /// The functions of `version` in the objects loaded after this one (glibc).
    fn resolve(version: &CStr) -> Forward {
        /// `dlvsym(RTLD_NEXT, name, version)`, as a function pointer of type `F`.
        ///
        /// # Safety
        /// `F` must be the type of the function `name` has at `version` (a plain `fn` pointer).
        unsafe fn next<F: Copy>(name: &CStr, version: &CStr) -> Option<F> {
            const { assert!(size_of::<F>() == size_of::<*mut libc::c_void>()) };
            // SAFETY: both strings are NUL-terminated; dlvsym only looks the name up.
            let p = unsafe { libc::dlvsym(libc::RTLD_NEXT, name.as_ptr(), version.as_ptr()) };
            // SAFETY: a non-null result is the address of that function, whose type the caller
            // vouches for; `F` is pointer-sized (checked above).
            (!p.is_null()).then(|| unsafe { std::mem::transmute_copy::<*mut libc::c_void, F>(&p) })
        }
        // SAFETY: each type is the glibc prototype of the named function, identical in the
        // GLIBC_2.2.5 and GLIBC_2.3.2 ABIs (only the object a `pthread_cond_t` holds differs).
        unsafe {
            Forward {
                init: next(c"pthread_cond_init", version),
                destroy: next(c"pthread_cond_destroy", version),
                signal: next(c"pthread_cond_signal", version),
                broadcast: next(c"pthread_cond_broadcast", version),
                wait: next(c"pthread_cond_wait", version),
                timedwait: next(c"pthread_cond_timedwait", version),
                // Not in the old ABI; in the current one, 2.34 is where it moved into libc.
                clockwait: if version == c"GLIBC_2.3.2" {
                    next(c"pthread_cond_clockwait", c"GLIBC_2.34")
                        .or_else(|| next(c"pthread_cond_clockwait", c"GLIBC_2.30"))
                } else {
                    None
                },
            }
        }
    }
}

/// What was decided at load time.
#[derive(Debug)]
struct Loaded {
    /// `Some` when `NEMO_PRELOAD=off`: glibc's current functions.
    off: Option<Forward>,
    /// A problem with the environment worth telling the user about.
    warning: Option<String>,
}

static LOADED: OnceLock<Loaded> = OnceLock::new();
static COMPAT: OnceLock<Forward> = OnceLock::new();
static INFO: OnceLock<CString> = OnceLock::new();

fn loaded() -> &'static Loaded {
    LOADED.get_or_init(|| {
        let off = std::env::var(MODE_ENV).is_ok_and(|v| is_off(&v));
        let (policy, warning) = policy_from(std::env::var(SPIN_ENV).ok().as_deref());
        if let Some(p) = policy {
            set_default_policy(p);
        }
        Loaded {
            off: off.then(|| Forward::resolve(c"GLIBC_2.3.2")),
            warning,
        }
    })
}

/// Fixes the mode now and prints the verbose line (or a warning) if asked to. Runs from the
/// shared object's constructor. `NEMO_PRELOAD_VERBOSE=2` also prints, at exit, how many waits
/// parked in the kernel — evidence that a program's waits really went through the shim — and
/// the spin counters of the busiest condvars (`nemo_user::wait::spin_stats`): whether spinning
/// paid there.
pub(crate) fn on_load() {
    let l = loaded();
    let level = std::env::var(VERBOSE_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if let Some(w) = &l.warning {
        write_stderr(&format!("nemo_preload: {w}\n"));
    }
    if level >= 1 {
        write_stderr(&format!("{}\n", info().to_string_lossy()));
    }
    if level >= 2 && l.off.is_none() {
        crate::wait::count_parks();
        // Programs may close stderr before they exit (xz does): keep a descriptor of our own.
        static FD: AtomicI32 = AtomicI32::new(2);
        // SAFETY: duplicates fd 2 (close-on-exec), if it is open; no memory is involved.
        let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
        if fd >= 0 {
            FD.store(fd, Ordering::Relaxed);
        }
        extern "C" fn at_exit() {
            let parks = crate::wait::parks();
            let mut text = format!("nemo_preload: exit: {parks} waits parked\n");
            for row in nemo_user::wait::spin_stats().iter().take(STATS_ROWS) {
                text.push_str(&stats_line(row));
            }
            write_fd(FD.load(Ordering::Relaxed), &text);
        }
        // SAFETY: registers a function that only formats and writes; if registration fails the
        // line is simply not printed.
        unsafe { libc::atexit(at_exit) };
    }
}

/// Condvars listed at exit by `NEMO_PRELOAD_VERBOSE=2` (the busiest).
const STATS_ROWS: usize = 8;

/// One condvar's spin counters, as `NEMO_PRELOAD_VERBOSE=2` prints them at exit.
fn stats_line(row: &CondvarSpinStats) -> String {
    let s = &row.stats;
    let who = if row.addr == 0 {
        "other condvars".to_string()
    } else {
        format!("condvar {:#x}", row.addr)
    };
    format!(
        "nemo_preload: {who}: {} waits, {} offered a window, {} refused ({} machine busy), \
         {} spins, {} caught ({:.1} %), spun {} us of which {} us wasted, {} parked \
         ({} woken within the window)\n",
        s.waits,
        s.windows,
        s.refused,
        s.refused_busy,
        s.spins,
        s.caught,
        100.0 * s.caught as f64 / s.spins.max(1) as f64,
        s.spin_ns / 1_000,
        s.wasted_ns / 1_000,
        s.parks,
        s.parked_in_window,
    )
}

/// glibc's functions when `NEMO_PRELOAD=off`, `None` when nemo is in charge.
#[inline]
pub(crate) fn forward() -> Option<&'static Forward> {
    loaded().off.as_ref()
}

/// glibc's `GLIBC_2.2.5` functions (the old ABI, always forwarded).
pub(crate) fn compat() -> &'static Forward {
    COMPAT.get_or_init(|| Forward::resolve(c"GLIBC_2.2.5"))
}

/// One line: version, mode, backend, policy.
pub(crate) fn info() -> &'static CStr {
    INFO.get_or_init(|| {
        let version = env!("CARGO_PKG_VERSION");
        let line = if forward().is_some() {
            format!("nemo_preload {version}: mode off (forwarding pthread_cond_* to glibc)")
        } else {
            let backend = match nemo_user::backend_info() {
                Ok(b) => b.kind.to_string(),
                Err(e) => format!("none ({e})"),
            };
            format!(
                "nemo_preload {version}: mode on; backend {backend}; policy {}",
                describe(&WaitPolicy::default()),
            )
        };
        // No interior NUL can come from these pieces; fall back to a fixed text if one did.
        CString::new(line).unwrap_or_else(|_| c"nemo_preload".to_owned())
    })
}

fn is_off(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "off" | "0" | "false" | "no"
    )
}

/// The policy `NEMO_PRELOAD_SPIN_US` asks for (`None`: keep the default), and a warning if the
/// value is not a number of microseconds.
fn policy_from(spin_us: Option<&str>) -> (Option<WaitPolicy>, Option<String>) {
    let Some(v) = spin_us.map(str::trim).filter(|v| !v.is_empty()) else {
        return (None, None);
    };
    match v.parse::<u64>() {
        Ok(0) => (Some(WaitPolicy::park_only()), None),
        Ok(us) => (
            Some(WaitPolicy::BUILTIN.with_spin(Duration::from_micros(us))),
            None,
        ),
        Err(_) => (
            None,
            Some(format!(
                "ignoring {SPIN_ENV}={v:?}: not a whole number of microseconds"
            )),
        ),
    }
}

fn describe(p: &WaitPolicy) -> String {
    let spin = match p.spin() {
        None => "spin".to_string(),
        Some(d) if d.is_zero() => "no spin".to_string(),
        Some(d) => format!("spin {} us", d.as_micros()),
    };
    let umwait = match p.umwait() {
        _ if !cpu_has_waitpkg() => String::new(),
        Some(d) if d.is_zero() => String::new(),
        Some(d) => format!(", umwait {} us", d.as_micros()),
        None => ", umwait".to_string(),
    };
    let end = if p.parks() { ", then park" } else { "" };
    let adapts = if p.is_adaptive() { "adaptive" } else { "fixed" };
    format!("{spin}{umwait}{end} ({adapts})")
}

/// Writes to fd 2 directly: no stdio buffers or locks in a constructor of somebody else's
/// process, and a closed stderr is simply ignored.
fn write_stderr(s: &str) {
    write_fd(2, s);
}

fn write_fd(fd: c_int, s: &str) {
    let mut bytes = s.as_bytes();
    while !bytes.is_empty() {
        // SAFETY: the pointer and length describe a live byte slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// `const char *nemo_preload_info(void)`: the line `NEMO_PRELOAD_VERBOSE=1` prints, so a
/// program (or a test) can ask the shim it is bound to what it is doing.
#[unsafe(no_mangle)]
pub extern "C" fn nemo_preload_info() -> *const c_char {
    match std::panic::catch_unwind(info) {
        Ok(s) => s.as_ptr(),
        Err(_) => c"nemo_preload".as_ptr(),
    }
}

/// For `c/cond_wait.c`: glibc's functions when the shim is off, else null.
#[unsafe(no_mangle)]
extern "C" fn nemo_preload_rs_forward() -> *const Forward {
    match std::panic::catch_unwind(forward) {
        Ok(Some(f)) => f,
        _ => std::ptr::null(),
    }
}

/// For `c/cond_wait.c`: glibc's `GLIBC_2.2.5` functions (never null; missing ones are null
/// fields).
#[unsafe(no_mangle)]
extern "C" fn nemo_preload_rs_compat() -> *const Forward {
    static NONE: Forward = Forward {
        init: None,
        destroy: None,
        signal: None,
        broadcast: None,
        wait: None,
        timedwait: None,
        clockwait: None,
    };
    std::panic::catch_unwind(compat).unwrap_or(&NONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_values() {
        for v in ["off", "OFF", " 0 ", "false", "no"] {
            assert!(is_off(v), "{v}");
        }
        for v in ["on", "1", "", "yes", "offish"] {
            assert!(!is_off(v), "{v}");
        }
    }

    #[test]
    fn spin_env_sets_or_keeps_the_policy() {
        assert_eq!(policy_from(None), (None, None));
        assert_eq!(policy_from(Some("  ")), (None, None));
        assert_eq!(
            policy_from(Some("0")).0,
            Some(WaitPolicy::park_only()),
            "0 parks at once"
        );
        let p = policy_from(Some("7")).0.expect("a policy");
        assert_eq!(p.spin(), Some(Duration::from_micros(7)));
        assert!(p.parks());
        let (p, w) = policy_from(Some("lots"));
        assert!(p.is_none());
        assert!(w.is_some_and(|w| w.contains(SPIN_ENV)));
    }

    #[test]
    fn policies_read_as_text() {
        assert_eq!(
            describe(&WaitPolicy::park_only()),
            "no spin, then park (fixed)"
        );
        assert!(describe(&WaitPolicy::spin_only()).starts_with("spin"));
        assert!(!describe(&WaitPolicy::spin_only()).contains("park"));
        let p = WaitPolicy::spin_then_park(Duration::from_micros(20));
        assert_eq!(describe(&p), "spin 20 us, then park (fixed)");
        let p = WaitPolicy::BUILTIN.with_spin(Duration::from_micros(20));
        assert_eq!(describe(&p), "spin 20 us, then park (adaptive)");
    }

    #[test]
    fn glibc_has_both_abis() {
        let now = Forward::resolve(c"GLIBC_2.3.2");
        assert!(now.wait.is_some() && now.signal.is_some() && now.clockwait.is_some());
        let old = Forward::resolve(c"GLIBC_2.2.5");
        assert!(old.wait.is_some() && old.init.is_some());
        assert!(old.clockwait.is_none());
    }
}
