//! Running the `nemo-bench` binary from its integration tests: a run and its output as text, a
//! fresh scratch directory per test, and the JSON document a run wrote.
#![allow(dead_code)] // each test file uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_nemo-bench");

/// Runs the binary with `args` to completion.
pub fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("the binary runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A fresh directory for one test, named after the test file and `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}-{name}", env!("CARGO_CRATE_NAME")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The JSON document at `path`.
pub fn json_of(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).expect("JSON written");
    serde_json::from_str(&text).expect("valid JSON")
}

/// Runs `run(args + --json <scratch(name)>/out.json)`, which must succeed, and returns the
/// document's result rows and the run's stdout.
pub fn results_of_run(
    run: impl Fn(&[&str]) -> Output,
    name: &str,
    args: &[&str],
) -> (Vec<Value>, String) {
    let path = scratch(name).join("out.json");
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--json", path.to_str().expect("utf-8 path")]);
    let o = run(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = json_of(&path)["results"]
        .as_array()
        .expect("results")
        .clone();
    (rows, stdout(&o))
}
