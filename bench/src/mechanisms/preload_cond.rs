//! `preload_cond`: the `pthread_cond` benchmark, unchanged — glibc mutex, a predicate, the
//! `pthread_cond_*` calls a C program makes — but with those functions taken from
//! `libnemo_preload.so`, i.e. what an unmodified program gets under
//! `LD_PRELOAD=libnemo_preload.so`.
//!
//! The shared object is loaded with `dlopen` (libloading) from, in order: `NEMO_PRELOAD_LIB`;
//! the `deps/` directory beside the running binary, where cargo puts the cdylib it builds
//! because nemo-bench depends on the shim's crate (so `cargo run --release -p nemo-bench` builds
//! it, fresh, with the binary); the binary's directory; the `release` and `debug` directories of
//! the `target/` the binary lives in. Without it — or in a statically linked binary, which
//! cannot `dlopen` — the rows are skipped with the reason and the command that builds it. A
//! measured row names the file it loaded.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::pthread_cond::{CondApi, CondEvent};
use super::{Driver, Instance, Setup, Skipped};

/// The environment variable naming the shared object to load.
pub const LIB_ENV: &str = "NEMO_PRELOAD_LIB";
pub(crate) const LIB_NAME: &str = "libnemo_preload.so";

/// glibc's condvar API, implemented by `libnemo_preload.so`.
pub struct PreloadCond;

impl Driver for PreloadCond {
    fn check(&self, _: &Setup<'_>) -> Result<(), Skipped> {
        shim().map(|_| ())
    }

    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        Ok(Instance::Blocking(Box::new(CondEvent::new(shim()?)?)))
    }

    fn note(&self) -> Option<String> {
        LOADED_FROM.get().map(|path| {
            format!(
                "pthread_cond_* of {} (loaded in-process with dlopen: the functions \
                 LD_PRELOAD would interpose), called by the pthread_cond benchmark",
                path.display()
            )
        })
    }
}

/// Where the shim was loaded from, once it was.
static LOADED_FROM: OnceLock<PathBuf> = OnceLock::new();

/// The shim's functions. The library stays loaded for the life of the process (unloading a
/// Rust shared object that other threads may still be inside is not worth the risk).
type Shim = CondApi;

/// The shim, loaded once.
fn shim() -> Result<&'static Shim, Skipped> {
    static SHIM: OnceLock<Result<Shim, String>> = OnceLock::new();
    SHIM.get_or_init(load)
        .as_ref()
        .map_err(|e| Skipped::new(e.clone()))
}

/// Where to look for the shared object.
pub(crate) fn candidates() -> Vec<PathBuf> {
    let mut c = Vec::new();
    if let Some(p) = std::env::var_os(LIB_ENV) {
        c.push(PathBuf::from(p));
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(Path::parent)
    {
        c.push(dir.join("deps").join(LIB_NAME));
        c.push(dir.join(LIB_NAME));
        if let Some(target) = dir.ancestors().find(|a| a.ends_with("target")) {
            for profile in ["release", "debug"] {
                c.push(target.join(profile).join(LIB_NAME));
                c.push(target.join(profile).join("deps").join(LIB_NAME));
            }
        }
    }
    c
}

fn load() -> Result<Shim, String> {
    load_from(&candidates())
}

/// Loads the first of `places` that exists.
fn load_from(places: &[PathBuf]) -> Result<Shim, String> {
    let Some(path) = places.iter().find(|p| p.is_file()) else {
        let looked: Vec<String> = places.iter().map(|p| p.display().to_string()).collect();
        return Err(format!(
            "{LIB_NAME} not found (looked in {}); build it with \
             `cargo build --release -p libnemo-preload` or set {LIB_ENV}",
            looked.join(", ")
        ));
    };
    // SAFETY: loading runs the shim's constructor, which only reads the environment; the shim
    // defines the glibc functions below with their glibc signatures.
    let lib = unsafe { libloading::Library::new(path) }
        .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    let _ = LOADED_FROM.set(path.clone());
    /// The default version of `name` in the shim, as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` must be the function's signature.
    unsafe fn get<F: Copy>(lib: &'static libloading::Library, name: &[u8]) -> Result<F, String> {
        // SAFETY: the type is the caller's promise; the library is never unloaded.
        unsafe { lib.get::<F>(name) }
            .map(|s| *s)
            .map_err(|e| format!("{LIB_NAME} lacks {}: {e}", String::from_utf8_lossy(name)))
    }
    // SAFETY: each type is the glibc prototype of the function the shim replaces.
    unsafe {
        Ok(Shim {
            init: get(lib, b"pthread_cond_init\0")?,
            destroy: get(lib, b"pthread_cond_destroy\0")?,
            signal: get(lib, b"pthread_cond_signal\0")?,
            broadcast: get(lib, b"pthread_cond_broadcast\0")?,
            wait: get(lib, b"pthread_cond_wait\0")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;

    /// The shim, or a loud skip (a failure under `NEMO_REQUIRE_ALL_TESTS=1`, as in CI, where
    /// `cargo test --workspace` has built it).
    fn shim_or_skip() -> Option<&'static Shim> {
        match shim() {
            Ok(s) => Some(s),
            Err(e) if std::env::var("NEMO_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1") => {
                panic!("preload_cond: {e}, and NEMO_REQUIRE_ALL_TESTS=1 forbids skipping")
            }
            Err(e) => {
                eprintln!("\n!!!!!!!! SKIPPED preload_cond tests: {e} !!!!!!!!\n");
                None
            }
        }
    }

    #[test]
    fn every_event_wakes_the_waiter_exactly_once() {
        let Some(s) = shim_or_skip() else { return };
        let ev = CondEvent::new(s).expect("init");
        handshake_exact(&ev, 1, 2000);
    }

    #[test]
    fn every_broadcast_wakes_every_waiter_exactly_once() {
        let Some(s) = shim_or_skip() else { return };
        let ev = CondEvent::new(s).expect("init");
        handshake_exact(&ev, 3, 500);
    }

    #[test]
    fn a_missing_library_is_a_reason_that_says_how_to_build_it() {
        let nowhere = [PathBuf::from("/nonexistent/dir").join(LIB_NAME)];
        let e = load_from(&nowhere).err().expect("nothing to load");
        assert!(e.contains("/nonexistent/dir"), "{e}");
        assert!(
            e.contains("cargo build --release -p libnemo-preload"),
            "{e}"
        );
        assert!(e.contains(LIB_ENV), "{e}");
    }

    #[test]
    fn a_static_binary_skips() {
        let setup = Setup {
            scenario: "unicast",
            regime: "short-gap",
            receivers: 1,
            cores: 2,
            oversubscribed: false,
            sim: false,
            static_binary: true,
            uintr: false,
        };
        let preload = crate::mechanisms::find("preload_cond").expect("registered");
        let e = preload.check(&setup).expect_err("cannot dlopen");
        assert!(e.0.contains("statically linked"), "{e}");
    }
}
