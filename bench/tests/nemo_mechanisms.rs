//! The project's own condvar and event rows, through the real binary with tiny iteration counts:
//! each is measured (not skipped, not failed) in both unicast regimes and in broadcast, also
//! under the `--sim` profile. No timing assertions.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_nemo-bench");
const OURS: [&str; 3] = ["nemo_condvar", "nemo_condvar_park", "nemo_event"];

/// Runs the binary with `args` plus `--json`, and returns the document's result rows.
fn rows_of_run(name: &str, args: &[&str]) -> Vec<Value> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("nemo-rows-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path: PathBuf = dir.join("out.json");
    let o = Command::new(BIN)
        .args(args)
        .args(["--json", path.to_str().expect("utf-8 path")])
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&path).expect("JSON written");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    doc["results"].as_array().expect("results").clone()
}

/// The measured row of `mechanism` in `scenario`/`regime`, checked for `events` samples per
/// waiter.
fn measured<'a>(
    rows: &'a [Value],
    scenario: &str,
    regime: &str,
    mechanism: &str,
    events: u64,
) -> &'a Value {
    let r = rows
        .iter()
        .find(|r| r["scenario"] == scenario && r["regime"] == regime && r["mechanism"] == mechanism)
        .unwrap_or_else(|| panic!("{scenario} {regime} {mechanism}: no row"));
    assert!(r.get("skipped").is_none(), "skipped: {r}");
    assert!(r.get("error").is_none(), "failed: {r}");
    let waiters = r["waiters"].as_u64().unwrap_or(1);
    assert_eq!(r["n"].as_u64(), Some(events * waiters), "{r}");
    assert!(r["min"].as_u64() <= r["p50"].as_u64() && r["p50"].as_u64() <= r["max"].as_u64());
    r
}

#[test]
fn each_is_a_measured_row_in_unicast_and_broadcast() {
    let mechanisms = format!("pthread_cond,{}", OURS.join(","));
    let rows = rows_of_run(
        "quick",
        &[
            "unicast",
            "broadcast",
            "--quick",
            "--iters",
            "3",
            "--waiters",
            "2",
            "--gap-us",
            "200",
            "--mechanisms",
            &mechanisms,
        ],
    );
    for m in OURS {
        for regime in ["short-gap", "long-gap"] {
            let u = measured(&rows, "unicast", regime, m, 3);
            assert_eq!(u["unit"], "ns");
            assert!(u["waiter_cpu_ns_per_event"].is_number(), "{u}");
            let b = measured(&rows, "broadcast", regime, m, 3);
            assert_eq!(b["waiters"].as_u64(), Some(2), "{b}");
            assert_eq!(b["broadcasts"].as_u64(), Some(3), "{b}");
            for k in ["first_p50", "last_p50", "sigma_p50"] {
                assert!(b[k].is_number(), "{k}: {b}");
            }
        }
    }
}

#[test]
fn each_runs_under_the_sim_profile() {
    // gem5 syscall emulation has no futex timeouts and no sleeping: the untimed wait path must
    // not need either, so these rows are measured there, never skipped.
    let rows = rows_of_run(
        "sim",
        &[
            "--sim",
            "unicast",
            "broadcast",
            "--iters",
            "2",
            "--gap-us",
            "200",
            "--mechanisms",
            &OURS.join(","),
        ],
    );
    for m in OURS {
        for regime in ["short-gap", "long-gap"] {
            for scenario in ["unicast", "broadcast"] {
                let r = measured(&rows, scenario, regime, m, 2);
                assert_eq!(r["unit"], "cycles", "{r}");
            }
        }
    }
}
