//! Finding and running the tools the C-side tests need (`cc`, `nm`, `readelf`, `pkg-config`):
//! a missing tool is a loud skip, or a failure under `NEMO_REQUIRE_ALL_TESTS=1`. Shared by the
//! `libnemo` tests (through `common`) and, by path, by the `nemo-install` tests, so it uses
//! nothing but `std` and no build-script variable of either package.

use std::path::PathBuf;
use std::process::Command;

/// `tool` as found on `PATH`.
pub fn which(tool: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// The tool, or a loud skip — a failure under `NEMO_REQUIRE_ALL_TESTS=1`.
pub fn need(tool: &str, test: &str) -> Option<PathBuf> {
    let found = which(tool);
    if found.is_none() {
        let why = format!("`{tool}` is not installed (see .ci/install-deps)");
        if std::env::var("NEMO_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1") {
            panic!("{test}: {why}, and NEMO_REQUIRE_ALL_TESTS=1 forbids skipping");
        }
        eprintln!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
    }
    found
}

/// Runs `cmd`, asserts it succeeded, and returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
