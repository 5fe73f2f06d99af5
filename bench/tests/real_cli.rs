//! The `real` scenario through the binary: its options, its errors, and the JSON of a tiny run.
//! No timing assertions.

use std::path::Path;

mod common;

use common::{json_of, run, stderr};

#[test]
fn bad_real_options_are_usage_errors() {
    let o = run(&["real", "--programs", "python_queue,nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("unknown program 'nope'"));
    assert!(stderr(&o).contains("ffmpeg_decode"), "lists the valid ones");

    let o = run(&["unicast", "--quick", "--background-load"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("real scenario only"));

    let json = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-mixed.json");
    let o = run(&["real", "unicast", "--json", json.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("run it alone"));
}

#[test]
fn list_mentions_the_real_scenario_and_its_programs() {
    let o = run(&["--list"]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("real "))
        .expect("a real line");
    for p in [
        "python_queue",
        "ffmpeg_decode",
        "x264_encode",
        "xz",
        "pigz",
        "zstd",
    ] {
        assert!(line.contains(p), "{line}");
    }
    assert!(line.contains("not in the default run"));
}

#[test]
fn a_tiny_real_run_writes_its_json() {
    let json = Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-tiny.json");
    let _ = std::fs::remove_file(&json);
    let o = run(&[
        "real",
        "--quick",
        "--iters",
        "1",
        "--programs",
        "zstd",
        "--json",
        json.to_str().unwrap(),
    ]);
    // Measured, skipped (no zstd, no shim built) or failed: each is a row, never a crash.
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
    let doc = json_of(&json);
    assert_eq!(doc["scenario"], "real");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 1, "one program, idle only");
    let r = &rows[0];
    assert_eq!(r["program"], "zstd");
    assert_eq!(r["regime"], "idle");
    if r.get("skipped").is_none() && r.get("error").is_none() {
        assert_eq!(r["pairs"], 1);
        for key in ["wall_ratio", "cpu_ratio"] {
            let iv = &r[key];
            let (lo, m, hi) = (
                iv["ci_low"].as_f64().unwrap(),
                iv["median"].as_f64().unwrap(),
                iv["ci_high"].as_f64().unwrap(),
            );
            assert!(lo <= m && m <= hi, "{key}: {iv}");
        }
        assert!(r["meets_target"].is_boolean());
        assert!(r["shim_counters"]["parked"].is_u64());
    }
}
