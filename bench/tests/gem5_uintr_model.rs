//! Runs the tests of the gem5 UINTR model that need no gem5: the unit tests
//! of its simulator-free C++ core (`gem5/uintr/tests/test_core.cc`, built
//! here with g++) and the Python tests of its configs
//! (`gem5/configs/uintr/tests`), and the native checks of the benchmarks'
//! pointer chase (`make -C gem5/uintr/bench check`). A missing g++, gcc,
//! make or python3 skips its test with a message, unless
//! `NEMO_REQUIRE_ALL_TESTS=1`, which makes it fail.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every `.cc` in these directories is compiled into one test program.
const CORE_DIRS: [&str; 2] = ["gem5/uintr/core", "gem5/uintr/tests"];
/// How many tests `test_core` must report: a test file that is not
/// registered in its `main` would otherwise go unnoticed.
const CORE_TEST_COUNT: usize = 26;
const CONFIG_TESTS: &str = "gem5/configs/uintr/tests";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the bench crate lives one level below the repository root")
        .to_path_buf()
}

fn require_all() -> bool {
    std::env::var("NEMO_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1")
}

/// Whether `tool --version` runs; otherwise skips (or fails if required).
fn tool_available(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            !require_all(),
            "{tool} is required (NEMO_REQUIRE_ALL_TESTS=1) but not found"
        );
        eprintln!(
            "\n*** SKIPPED: {tool} not found; the gem5 UINTR model tests that need it \
             did not run (set NEMO_REQUIRE_ALL_TESTS=1 to make this a failure) ***\n"
        );
    }
    ok
}

fn show(output: &Output) -> String {
    format!(
        "--- stdout ---\n{}\n--- stderr ---\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn uintr_model_core_unit_tests_pass() {
    if !tool_available("g++") {
        return;
    }
    let root = repo_root();
    let dir = std::env::temp_dir().join(format!("nemo-gem5-uintr-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    let exe = dir.join("test_core");

    let mut build = Command::new("g++");
    build
        .args(["-std=c++17", "-O1", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(root.join("gem5/uintr/core"));
    for dir in CORE_DIRS {
        let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("read a model source directory")
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "cc"))
            .collect();
        sources.sort();
        build.args(sources);
    }
    let built = build.arg("-o").arg(&exe).output().expect("run g++");
    assert!(
        built.status.success(),
        "g++ could not build the UINTR core tests\n{}",
        show(&built)
    );

    let run = Command::new(&exe).output().expect("run test_core");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "UINTR core unit tests failed\n{}",
        show(&run)
    );
    assert!(
        stdout.contains(" 0 failures") && stdout.contains(&format!("\n{CORE_TEST_COUNT} tests")),
        "unexpected summary from test_core:\n{stdout}"
    );
}

#[test]
fn uintr_config_python_tests_pass() {
    if !tool_available("python3") {
        return;
    }
    let output = Command::new("python3")
        .args(["-m", "unittest", "discover", "-v", "-s", CONFIG_TESTS])
        .current_dir(repo_root())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("run python3");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("\nOK"),
        "gem5 UINTR config tests failed; rerun with \
         `python3 -m unittest discover -v -s {CONFIG_TESTS}`\n{}",
        show(&output)
    );
}

/// The pointer chase behind the xUI §3.5 and §6.1 runs
/// (`gem5/uintr/bench/chase.h`), checked natively by `make check`.
#[test]
fn uintr_bench_pointer_chase_checks_pass() {
    if !tool_available("gcc") || !tool_available("make") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("nemo-gem5-chase-{}", std::process::id()));
    let output = Command::new("make")
        .args(["-s", "-C", "gem5/uintr/bench", "check"])
        .arg(format!("OUT={}", dir.display()))
        .current_dir(repo_root())
        .output()
        .expect("run make");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("test_chase: 0 failures"),
        "the pointer-chase checks failed\n{}",
        show(&output)
    );
}
