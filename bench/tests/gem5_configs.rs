//! Runs the gem5 configuration tests (`gem5/configs/tests`, plain Python 3.8+)
//! so that `cargo test --workspace` covers them. They need neither gem5 nor
//! any Python package: gem5 is replaced by a small stand-in module tree.

use std::path::Path;
use std::process::Command;

/// Relative to the repository root, as in gem5/README.md.
const TESTS_DIR: &str = "gem5/configs/tests";

#[test]
fn gem5_config_python_tests_pass() {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate lives one level below the repository root");
    assert!(
        repo_root.join(TESTS_DIR).is_dir(),
        "gem5 config tests not found at {}",
        repo_root.join(TESTS_DIR).display()
    );

    let output = Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s", TESTS_DIR])
        .current_dir(repo_root)
        // Keep the source tree free of __pycache__ directories.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("could not run python3 (3.8 or newer runs the gem5 config tests): {e}")
        });

    // unittest reports on stderr; show both streams when it fails.
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "gem5 config tests failed ({}); rerun them from the repository root with \
         `python3 -m unittest discover -v -s {TESTS_DIR}`\n\
         --- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        output.status
    );
    assert!(
        stderr.contains("\nOK"),
        "python3 exited successfully but unittest did not report OK:\n{stderr}"
    );
}
