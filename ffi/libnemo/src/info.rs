//! `nemo_backend_info` and `nemo_version`: which user-interrupt backend this process runs, and
//! why.

use std::ffi::{CString, c_char, c_int};
use std::sync::OnceLock;

use libc::EINVAL;

use crate::am::{NemoBackend, backend_code};
use crate::guard;

/// `nemo_backend_info_t`. The strings are static: valid for the life of the process.
#[repr(C)]
#[derive(Debug)]
pub struct NemoBackendInfo {
    /// `NEMO_BACKEND_UINTR`, `_SIGNAL` or `_POLL`; `NEMO_BACKEND_AUTO` (0) if none can run.
    pub backend: NemoBackend,
    /// 1 if `NEMO_BACKEND` forced it.
    pub forced: c_int,
    /// The backend's name (`"uintr"`, `"signal"`, `"poll"`), or `"none"`.
    pub name: *const c_char,
    /// A sentence saying why it was chosen, or what is wrong with `NEMO_BACKEND`.
    pub reason: *const c_char,
}

const _: () = assert!(size_of::<NemoBackendInfo>() == 24);

/// What `nemo_backend_info` reports, computed once.
struct Decided {
    rc: c_int,
    backend: NemoBackend,
    forced: c_int,
    name: CString,
    reason: CString,
}

fn cstring(s: String) -> CString {
    // Interior NULs cannot come from these messages; drop any rather than fail.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

fn decided() -> &'static Decided {
    static D: OnceLock<Decided> = OnceLock::new();
    D.get_or_init(|| match nemo_user::backend_info() {
        Ok(i) => Decided {
            rc: 0,
            backend: backend_code(i.kind),
            forced: c_int::from(i.forced),
            name: cstring(i.kind.to_string()),
            reason: cstring(i.reason.clone()),
        },
        Err(e) => Decided {
            rc: e.errno(),
            backend: 0,
            forced: 0,
            name: cstring("none".to_string()),
            reason: cstring(e.to_string()),
        },
    })
}

/// Fills `*out` with the process's default backend and the reason for it. Returns 0, or the
/// error of a misconfigured `NEMO_BACKEND` (`EINVAL`: no such backend; `ENOTSUP`: it cannot
/// run here), with `*out` describing the problem.
///
/// # Safety
/// `out` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_backend_info(out: *mut NemoBackendInfo) -> c_int {
    guard(|| {
        if out.is_null() || !out.is_aligned() {
            return EINVAL;
        }
        let d = decided();
        let info = NemoBackendInfo {
            backend: d.backend,
            forced: d.forced,
            name: d.name.as_ptr(),
            reason: d.reason.as_ptr(),
        };
        // SAFETY: non-null and writable per the caller.
        unsafe { out.write(info) };
        d.rc
    })
}

/// The library's version, e.g. `"0.1.0"` (static).
#[unsafe(no_mangle)]
pub extern "C" fn nemo_version() -> *const c_char {
    const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
        concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
    ) {
        Ok(s) => s,
        Err(_) => c"unknown",
    };
    VERSION.as_ptr()
}
