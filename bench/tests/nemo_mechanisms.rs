//! The project's own condvar and event rows, through the real binary with tiny iteration counts:
//! each is measured (not skipped, not failed) in both unicast regimes and in broadcast, also
//! under the `--sim` profile. No timing assertions.

use serde_json::Value;

mod common;

const OURS: [&str; 3] = ["nemo_condvar", "nemo_condvar_park", "nemo_event"];

/// Runs the binary with `args` plus `--json`, and returns the document's result rows.
fn rows_of_run(name: &str, args: &[&str]) -> Vec<Value> {
    common::results_of_run(common::run, name, args).0
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
