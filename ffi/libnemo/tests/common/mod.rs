//! Helpers for `libnemo`'s C-side integration tests: where cargo built the library, a directory
//! that answers to its SONAME, and the strict C11 compile every test program goes through.
#![allow(dead_code)] // each test file uses its own subset

mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

#[allow(unused_imports)] // as above: not every test file needs every tool helper
pub use tools::{need, run_ok, which};

/// `<profile>/deps`, where cargo built this package's `libnemo.so` and `libnemo.a` before its
/// integration tests (the library is their dependency).
pub fn deps() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent().expect("test binary in deps/").to_path_buf()
}

pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A directory where `libnemo.so.<ABI>` (the SONAME a program records and looks for at run
/// time) and `libnemo.so` both name the library just built in `deps()`; one per test binary.
pub fn soname_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(concat!(
            "libnemo-",
            env!("CARGO_CRATE_NAME"),
            "-soname"
        ));
        std::fs::create_dir_all(&dir).expect("soname dir");
        let lib = deps().join("libnemo.so");
        for name in [
            "libnemo.so",
            concat!("libnemo.so.", env!("NEMO_ABI_VERSION")),
        ] {
            let link = dir.join(name);
            let _ = std::fs::remove_file(&link);
            std::os::unix::fs::symlink(&lib, &link).expect("library link");
        }
        dir
    })
    .clone()
}

/// `cc` set up to compile `tests/c/<source>` as strict, warning-free C11 against `nemo.h`; the
/// caller adds what it links and `-o`.
pub fn strict_c11(cc: &Path, source: &str) -> Command {
    let mut cmd = Command::new(cc);
    cmd.args([
        "-std=c11",
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
        "-O1",
    ])
    .arg("-I")
    .arg(manifest().join("../include"))
    .arg(manifest().join("tests/c").join(source));
    cmd
}
