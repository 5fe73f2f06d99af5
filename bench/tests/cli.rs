//! The real binary, end to end, with tiny iteration counts: JSON schema, CSV and figure files,
//! skipped rows, and errors for bad input. No timing assertions.

use std::process::Command;

use serde_json::Value;

mod common;

use common::{BIN, json_of, run, scratch, stderr, stdout};

fn rows(doc: &Value) -> &Vec<Value> {
    doc["results"].as_array().expect("results is an array")
}

const ROW_KEYS: [&str; 13] = [
    "scenario",
    "mechanism",
    "unit",
    "regime",
    "n",
    "min",
    "p50",
    "p90",
    "p99",
    "max",
    "mean",
    "stddev",
    "waiter_cpu_ns_per_event",
];
const BROADCAST_KEYS: [&str; 4] = ["waiters", "first_p50", "last_p50", "sigma_p50"];

#[test]
fn quick_json_has_every_schema_key_for_every_scenario() {
    let dir = scratch("json");
    let path = dir.join("out.json");
    let o = run(&[
        "--quick",
        "--iters",
        "3",
        "--gap-us",
        "200",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    for k in [
        "cpu",
        "cores",
        "kernel",
        "backend",
        "backend_reason",
        "tsc_ghz",
    ] {
        assert!(doc["machine"].get(k).is_some(), "machine.{k} missing");
    }
    assert!(doc["machine"]["cores"].as_u64().is_some_and(|c| c >= 1));
    let rows = rows(&doc);
    for scenario in ["unicast", "broadcast", "coherence"] {
        let mine: Vec<&Value> = rows.iter().filter(|r| r["scenario"] == scenario).collect();
        assert!(!mine.is_empty(), "no rows for {scenario}");
        assert!(
            mine.iter().any(|r| r.get("skipped").is_none()),
            "{scenario}: nothing measured"
        );
    }
    for r in rows {
        for k in ROW_KEYS {
            assert!(r.get(k).is_some(), "row {r} lacks {k}");
        }
        assert!(
            r["oversubscribed"].is_boolean(),
            "row {r} lacks oversubscribed"
        );
        if r["scenario"] == "broadcast" {
            for k in BROADCAST_KEYS {
                assert!(r.get(k).is_some(), "broadcast row {r} lacks {k}");
            }
        }
        match r.get("skipped") {
            Some(why) => assert!(why.as_str().is_some_and(|s| !s.is_empty())),
            None => {
                assert!(r.get("error").is_none(), "a row failed: {r}");
                // n counts latency samples: one per event, or per waiter per broadcast.
                let per_event = r["waiters"].as_u64().unwrap_or(1);
                assert_eq!(r["n"].as_u64(), Some(3 * per_event), "row {r}");
                if r["scenario"] == "broadcast" {
                    assert_eq!(r["broadcasts"].as_u64(), Some(3), "row {r}");
                }
                let (min, p50, max) = (&r["min"], &r["p50"], &r["max"]);
                assert!(min.as_u64() <= p50.as_u64() && p50.as_u64() <= max.as_u64());
                assert_eq!(r["unit"], "ns");
            }
        }
    }
    // Both unicast regimes, every baseline mechanism: a row each, measured or skipped.
    for regime in ["short-gap", "long-gap"] {
        for m in ["pthread_cond", "futex", "spin", "signal"] {
            assert!(
                rows.iter().any(|r| r["scenario"] == "unicast"
                    && r["regime"] == regime
                    && r["mechanism"] == m),
                "unicast {regime} {m} missing"
            );
        }
    }
    // The table went to stdout.
    assert!(stdout(&o).contains("== unicast"));
}

#[test]
fn csv_and_plot_write_their_files() {
    let dir = scratch("files");
    let (csv, plot) = (dir.join("csv"), dir.join("plot"));
    let o = run(&[
        "unicast",
        "broadcast",
        "--quick",
        "--iters",
        "5",
        "--waiters",
        "2",
        "--gap-us",
        "200",
        "--mechanisms",
        "futex,pthread_cond",
        "--csv",
        csv.to_str().expect("utf-8"),
        "--plot",
        plot.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let unicast =
        std::fs::read_to_string(csv.join("unicast-short-gap-futex.csv")).expect("unicast CSV");
    let lines: Vec<&str> = unicast.lines().collect();
    assert_eq!(lines[0], "event,latency_ns");
    assert_eq!(lines.len(), 1 + 5);
    let bcast = std::fs::read_to_string(csv.join("broadcast-long-gap-pthread_cond.csv"))
        .expect("broadcast CSV");
    assert_eq!(bcast.lines().count(), 1 + 5 * 2, "5 broadcasts × 2 waiters");
    let sigma = std::fs::read_to_string(csv.join("broadcast-long-gap-pthread_cond-sigma.csv"))
        .expect("sigma CSV");
    assert_eq!(
        sigma.lines().next(),
        Some("broadcast,first_ns,last_ns,sigma_ns")
    );
    assert_eq!(sigma.lines().count(), 1 + 5);

    for stem in [
        "unicast-short-gap-latency-cdf",
        "unicast-long-gap-latency-cdf",
        "broadcast-short-gap-latency-cdf",
        "broadcast-short-gap-sigma-cdf",
    ] {
        let svg = std::fs::read_to_string(plot.join(format!("{stem}.svg"))).expect("SVG");
        assert!(svg.contains("<svg") && svg.contains("futex"), "{stem}.svg");
        let png = std::fs::read(plot.join(format!("{stem}.png"))).expect("PNG");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
    }
}

#[test]
fn a_mechanism_that_cannot_run_is_a_skipped_row() {
    let dir = scratch("skipped");
    let path = dir.join("sim.json");
    // Under --sim, signals are not delivered (gem5 syscall emulation): `signal` must be
    // reported as skipped, not dropped.
    let o = run(&[
        "--sim",
        "coherence",
        "--iters",
        "4",
        "--mechanisms",
        "spin,signal",
        "--json",
        path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    let rows = rows(&doc);
    assert_eq!(rows.len(), 2);
    let signal = rows
        .iter()
        .find(|r| r["mechanism"] == "signal")
        .expect("signal row kept");
    assert!(
        signal["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("signals")),
        "{signal}"
    );
    assert!(signal["p50"].is_null());
    let spin = rows
        .iter()
        .find(|r| r["mechanism"] == "spin")
        .expect("spin row");
    assert_eq!(spin["unit"], "cycles");
    assert_eq!(spin["n"].as_u64(), Some(4));
    assert!(stdout(&o).contains("skipped: gem5"));
}

#[test]
fn a_named_mechanism_that_does_not_apply_is_listed_as_such() {
    let dir = scratch("inapplicable");
    let path = dir.join("c.json");
    let o = run(&[
        "coherence",
        "--quick",
        "--iters",
        "3",
        "--mechanisms",
        "futex,spin",
        "--json",
        path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    let futex = rows(&doc)
        .iter()
        .find(|r| r["mechanism"] == "futex")
        .expect("futex row");
    assert!(
        futex["skipped"]
            .as_str()
            .is_some_and(|s| s.contains("does not apply"))
    );
}

#[test]
fn list_names_every_scenario_and_mechanism() {
    let o = run(&["--list"]);
    assert!(o.status.success());
    let out = stdout(&o);
    for name in [
        "unicast",
        "broadcast",
        "coherence",
        "pthread_cond",
        "futex",
        "spin",
        "signal",
        "am",
        "uintr",
        "am_signal",
        "am_poll",
        "am_uintr",
        "pool",
        "std_condvar",
        "parking_lot_condvar",
        "thread_park",
    ] {
        assert!(out.contains(name), "--list lacks {name}");
    }
    assert!(run(&["--sim", "--list"]).status.success());
}

/// Runs with bad input: must fail (not run a benchmark) and say what is wrong.
fn rejects(args: &[&str], says: &[&str]) {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} was accepted");
    assert!(
        !stdout(&o).contains("=="),
        "{args:?} ran a benchmark before failing"
    );
    let err = stderr(&o);
    for s in says {
        assert!(err.contains(s), "{args:?}: stderr lacks {s:?}:\n{err}");
    }
}

#[test]
fn bad_input_is_rejected_with_the_valid_choices() {
    rejects(
        &["nosuch"],
        &["unknown scenario 'nosuch'", "unicast, broadcast, coherence"],
    );
    rejects(
        &["--mechanisms", "futex,nope"],
        &["unknown mechanism 'nope'", "pthread_cond", "signal"],
    );
    rejects(&["--iters", "0"], &["must be at least 1"]);
    rejects(&["--iters", "many"], &["not a number"]);
    rejects(&["--waiters", "0"], &["must be at least 1"]);
    rejects(
        &["--short-gap-us", "5000", "--gap-us", "1000"],
        &["short gap"],
    );
    rejects(&["--quick", "--sim"], &["cannot be used with"]);
    rejects(&["--no-such-flag"], &["--no-such-flag"]);
}

#[test]
fn unwritable_outputs_fail_before_measuring() {
    rejects(
        &["--quick", "--json", "/proc/nemo-bench/out.json"],
        &["cannot write", "/proc/nemo-bench/out.json"],
    );
    rejects(
        &["--quick", "--csv", "/proc/nemo-bench-csv"],
        &["cannot write"],
    );
    let dir = scratch("file-as-dir");
    let file = dir.join("plain");
    std::fs::write(&file, "x").expect("file");
    rejects(
        &["--quick", "--plot", file.to_str().expect("utf-8")],
        &["cannot write"],
    );
}

fn row<'a>(rows: &'a [Value], scenario: &str, regime: &str, mechanism: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["scenario"] == scenario && r["regime"] == regime && r["mechanism"] == mechanism)
        .unwrap_or_else(|| panic!("no {scenario} {regime} {mechanism} row"))
}

#[test]
fn am_rows_report_throughput_and_skip_uintr_with_the_detection_reason() {
    let dir = scratch("am");
    let path = dir.join("am.json");
    let o = run(&[
        "am",
        "--quick",
        "--iters",
        "5",
        "--json",
        path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    let rows = rows(&doc);
    assert!(rows.iter().all(|r| r["scenario"] == "am"));
    let uintr_here = uintr_sys::detect().is_available();
    for m in ["am_signal", "am_poll"] {
        let r = row(rows, "am", "unicast", m);
        assert!(
            r.get("error").is_none() && r.get("skipped").is_none(),
            "{r}"
        );
        assert_eq!(r["n"].as_u64(), Some(5), "{r}");
        assert!(
            r["msgs_per_s"].as_f64().is_some_and(|x| x > 0.0),
            "{m} lacks msgs_per_s: {r}"
        );
        let b = row(rows, "am", "broadcast", m);
        assert!(b["waiters"].as_u64().is_some_and(|w| w >= 1), "{b}");
        assert!(b["last_p50"].as_u64().is_some(), "{b}");
    }
    // The raw baselines coalesce: latency only.
    for m in ["signal", "spin"] {
        let r = row(rows, "am", "unicast", m);
        assert!(r["p50"].as_u64().is_some(), "{r}");
        assert!(r.get("msgs_per_s").is_none(), "{r}");
    }
    for m in ["uintr", "am_uintr"] {
        for regime in ["unicast", "broadcast"] {
            let r = row(rows, "am", regime, m);
            if uintr_here {
                assert!(r.get("skipped").is_none(), "{r}");
            } else {
                let why = r["skipped"].as_str().unwrap_or_default();
                assert!(why.contains(uintr_sys::detect().reason()), "{r}");
                assert!(r["p50"].is_null());
            }
            if regime == "broadcast" {
                for k in BROADCAST_KEYS {
                    assert!(r.get(k).is_some(), "broadcast row {r} lacks {k}");
                }
            }
        }
    }
    let table = stdout(&o);
    assert!(table.contains("== am"), "{table}");
    assert!(table.contains("am_poll to spin"), "{table}");
    assert!(table.contains("msgs_per_s"), "{table}");
}

#[test]
fn am_under_sim_polls_and_skips_signals() {
    let dir = scratch("am-sim");
    let path = dir.join("sim.json");
    let o = run(&[
        "--sim",
        "am",
        "--iters",
        "3",
        "--json",
        path.to_str().expect("utf-8"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    let rows = rows(&doc);
    let poll = row(rows, "am", "unicast", "am_poll");
    assert_eq!(poll["unit"], "cycles", "{poll}");
    assert_eq!(poll["n"].as_u64(), Some(3), "{poll}");
    assert!(
        poll["msgs_per_s"].as_f64().is_some_and(|x| x > 0.0),
        "{poll}"
    );
    for m in ["am_signal", "signal"] {
        let r = row(rows, "am", "unicast", m);
        assert!(
            r["skipped"].as_str().is_some_and(|s| s.contains("signals")),
            "{r}"
        );
    }
}

#[test]
fn the_backend_comes_from_the_library_and_a_bad_one_is_an_error() {
    let dir = scratch("backend");
    let path = dir.join("b.json");
    let o = Command::new(BIN)
        .env("NEMO_BACKEND", "poll")
        .args([
            "coherence",
            "--quick",
            "--iters",
            "2",
            "--mechanisms",
            "spin",
            "--json",
            path.to_str().expect("utf-8"),
        ])
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    assert_eq!(doc["machine"]["backend"], "poll");
    assert!(
        doc["machine"]["backend_reason"]
            .as_str()
            .is_some_and(|s| s.contains("NEMO_BACKEND")),
        "{}",
        doc["machine"]
    );
    assert!(stdout(&o).contains("backend: poll"));

    let bad = Command::new(BIN)
        .env("NEMO_BACKEND", "carrier-pigeon")
        .args(["--quick", "--iters", "2"])
        .output()
        .expect("runs");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(!stdout(&bad).contains("=="), "measured before failing");
    let err = stderr(&bad);
    for s in [
        "NEMO_BACKEND=carrier-pigeon",
        "invalid backend",
        "signal",
        "poll",
    ] {
        assert!(err.contains(s), "stderr lacks {s:?}:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A receiver thread the system refuses gives the case an error row naming it, and the run
/// ends: the receivers already started are released, not left waiting for a start that never
/// comes. The refusal is `RLIMIT_NPROC` (threads count as processes) for a user with no other
/// processes: as root, the child drops to `nobody`, whom the limit binds. (A memory limit
/// would be no good: a thread that starts can then fail in its own allocations and abort.)
#[test]
fn a_thread_that_cannot_be_started_is_an_error_row_not_a_hang() {
    use std::os::unix::process::CommandExt;
    use std::time::{Duration, Instant};

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        let why = "needs root to run nemo-bench as a user with a thread limit";
        let required = std::env::var("NEMO_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{why}, and NEMO_REQUIRE_ALL_TESTS=1 forbids skipping"
        );
        eprintln!("\n*** SKIPPED: {why} ***\n");
        return;
    }
    const NOBODY: libc::uid_t = 65534;
    const THREADS: libc::rlim_t = 8;
    // A copy where `nobody` may run it (the build directory may be under a private home).
    let dir = std::env::temp_dir().join(format!("nemo-bench-nproc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let bin = dir.join("nemo-bench");
    std::fs::copy(BIN, &bin).expect("copy the binary");
    for p in [&dir, &bin] {
        std::fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
    }
    let mut cmd = Command::new(&bin);
    cmd.current_dir(&dir)
        .args(["broadcast", "--quick", "--waiters", "24"])
        .args(["--mechanisms", "futex"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    // SAFETY: setrlimit, setgroups, setgid and setuid are async-signal-safe and touch only the
    // child.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: THREADS,
                rlim_max: THREADS,
            };
            if libc::setrlimit(libc::RLIMIT_NPROC, &lim) != 0
                || libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(NOBODY) != 0
                || libc::setuid(NOBODY) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("the binary runs");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut out).map(|_| out)
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("nemo-bench hung after a refused thread");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let table = reader.join().expect("reader").expect("stdout");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        status.code(),
        Some(1),
        "failed measurements exit 1: {status}\n{table}"
    );
    let failed: Vec<&str> = table
        .lines()
        .filter(|l| l.contains("futex"))
        .filter_map(|l| l.split_once("FAILED: ").map(|(_, e)| e))
        .collect();
    assert_eq!(failed.len(), 2, "both regimes fail:\n{table}");
    for e in failed {
        // Some receivers start (the main thread and any helper count against the limit too),
        // then one is refused.
        let receiver: u64 = e
            .strip_prefix("could not start the receiver ")
            .and_then(|r| r.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("not a refused receiver: {e}"));
        assert!((1..THREADS).contains(&receiver), "{e}");
    }
}

/// The keys every row has about its ratio to its baseline (null where it has none).
const RATIO_KEYS: [&str; 6] = [
    "baseline",
    "ratio_of",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "repetitions",
];

#[test]
fn repeat_gives_every_ratio_an_interval_and_judges_the_targets() {
    let dir = scratch("repeat");
    let path = dir.join("repeat.json");
    let o = run(&[
        "unicast",
        "--quick",
        "--repeat",
        "4",
        "--iters",
        "20",
        "--gap-us",
        "100",
        "--mechanisms",
        "futex,nemo_condvar_park,nemo_condvar",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    assert_eq!(doc["repetitions"]["unicast"], 4, "{doc}");
    assert!(
        doc["interval_method"]
            .as_str()
            .is_some_and(|m| m.contains("bootstrap"))
    );
    let rows = rows(&doc);
    for regime in ["short-gap", "long-gap"] {
        for m in ["pthread_cond", "futex", "nemo_condvar_park", "nemo_condvar"] {
            let r = row(rows, "unicast", regime, m);
            for k in RATIO_KEYS {
                assert!(r.get(k).is_some(), "row {r} lacks {k}");
            }
            assert_eq!(r["repetitions"], 4, "{r}");
            // Four repetitions of --iters 20 events each, pooled.
            assert_eq!(r["n"], 80, "{r}");
            assert_eq!(r["baseline"], "pthread_cond", "{r}");
            assert_eq!(r["ratio_of"], "p50", "{r}");
            let (low, mid, high) = (
                r["ratio_ci_low"].as_f64().expect("low"),
                r["ratio"].as_f64().expect("ratio"),
                r["ratio_ci_high"].as_f64().expect("high"),
            );
            assert!(0.0 < low && low <= mid && mid <= high, "{r}");
        }
        // The baseline against itself: exactly 1.
        let base = row(rows, "unicast", regime, "pthread_cond");
        assert_eq!(
            (
                &base["ratio_ci_low"],
                &base["ratio"],
                &base["ratio_ci_high"]
            ),
            (&1.0.into(), &1.0.into(), &1.0.into())
        );
    }
    let targets = doc["targets"].as_array().expect("targets");
    let long = targets
        .iter()
        .find(|t| t["mechanism"] == "nemo_condvar_park" && t["versus"] == "futex")
        .expect("the long-gap target is judged");
    assert_eq!(long["regime"], "long-gap");
    assert_eq!(long["versus_regime"], "long-gap");
    assert_eq!(long["statistic"], long["versus_statistic"]);
    assert_eq!(long["bound"], 1.05);
    assert_eq!(long["bound_is"], "at_most");
    assert!(
        ["met", "missed", "not distinguishable"].contains(&long["verdict"].as_str().unwrap_or("")),
        "{long}"
    );
    assert!(long["ratio_ci_low"].as_f64() <= long["ratio_ci_high"].as_f64());
    // Targets whose rows did not run are not listed.
    assert!(
        targets.iter().all(|t| t["versus"] != "std_condvar"),
        "{targets:?}"
    );
    let out = stdout(&o);
    assert!(out.contains("4 interleaved repetitions"), "{out}");
    assert!(out.contains("95% CI"), "{out}");
    assert!(
        out.contains("long-gap nemo_condvar_park / futex p50 ≤ 1.05×"),
        "{out}"
    );
}

#[test]
fn one_repetition_has_ratios_without_intervals() {
    let dir = scratch("once");
    let path = dir.join("once.json");
    let o = run(&[
        "unicast",
        "--quick",
        "--iters",
        "5",
        "--mechanisms",
        "futex",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    assert_eq!(doc["repetitions"]["unicast"], 1);
    let r = row(rows(&doc), "unicast", "short-gap", "futex");
    assert_eq!(r["repetitions"], 1);
    assert!(r["ratio"].as_f64().is_some_and(|x| x > 0.0), "{r}");
    assert!(
        r["ratio_ci_low"].is_null() && r["ratio_ci_high"].is_null(),
        "{r}"
    );
    let long = doc["targets"].as_array().expect("targets");
    assert!(
        long.is_empty(),
        "no target pairs futex with pthread_cond: {long:?}"
    );
}

#[test]
fn repeat_must_be_a_positive_count() {
    rejects(&["--repeat", "0"], &["--repeat", "at least 1"]);
    rejects(&["--repeat", "many"], &["--repeat", "not a number"]);
}

#[test]
fn skipped_rows_carry_null_ratio_keys() {
    let dir = scratch("skipped-ratio");
    let path = dir.join("s.json");
    let o = run(&[
        "unicast",
        "--quick",
        "--iters",
        "3",
        "--mechanisms",
        "uintr",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    for r in rows(&doc) {
        if r.get("skipped").is_some() {
            for k in RATIO_KEYS {
                assert!(r[k].is_null(), "skipped row {r}: {k} not null");
            }
        }
    }
}

#[test]
fn pool_compares_the_rust_baselines_with_nemo() {
    let dir = scratch("pool");
    let path = dir.join("pool.json");
    let o = run(&[
        "pool",
        "--quick",
        "--iters",
        "20",
        "--gap-us",
        "100",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    let rows = rows(&doc);
    for regime in ["ping-pong", "spawn-burst"] {
        for m in [
            "std_condvar",
            "parking_lot_condvar",
            "thread_park",
            "pthread_cond",
            "futex",
            "nemo_condvar",
            "nemo_event",
        ] {
            let r = row(rows, "pool", regime, m);
            assert!(
                r.get("error").is_none() && r.get("skipped").is_none(),
                "{r}"
            );
            assert_eq!(r["n"], 20, "{r}");
            assert_eq!(r["baseline"], "std_condvar", "{r}");
        }
        // Spinning waiters do not take part: a pool's idle workers must give their core back.
        assert!(
            !rows
                .iter()
                .any(|r| r["scenario"] == "pool" && r["mechanism"] == "spin"),
            "spin in pool"
        );
    }
    assert_eq!(
        row(rows, "pool", "spawn-burst", "futex")["jobs_per_burst"],
        64.0
    );
    assert!(stdout(&o).contains("ping-pong nemo_event / std_condvar p50 ≤ 0.5×"));
}

#[test]
fn the_main_command_builds_and_measures_the_preload_shim() {
    // `cargo test` builds this binary the way `cargo run -p nemo-bench` does, and with it the
    // shim's cdylib (nemo-bench depends on its crate): the row must find it without help.
    let dir = scratch("preload");
    let path = dir.join("preload.json");
    let o = Command::new(BIN)
        .args([
            "unicast",
            "--quick",
            "--iters",
            "20",
            "--mechanisms",
            "preload_cond",
            "--json",
            path.to_str().expect("utf-8 path"),
        ])
        .env_remove("NEMO_PRELOAD_LIB")
        .output()
        .expect("the binary runs");
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    for regime in ["short-gap", "long-gap"] {
        let r = row(rows(&doc), "unicast", regime, "preload_cond");
        assert!(
            r.get("skipped").is_none() && r.get("error").is_none(),
            "{r}"
        );
        assert_eq!(r["n"], 20, "{r}");
        let note = r["note"].as_str().expect("the row says what it loaded");
        assert!(note.contains("libnemo_preload.so"), "{note}");
    }
    assert!(stdout(&o).contains("preload_cond: pthread_cond_* of "));
}

#[test]
fn pool_runs_under_sim_without_its_watchdog() {
    // gem5's syscall emulation has a core per thread and cannot sleep: the pool runs its client
    // (or spawner) and workers only.
    let dir = scratch("pool-sim");
    let path = dir.join("pool.json");
    let o = run(&[
        "pool",
        "--sim",
        "--iters",
        "5",
        "--mechanisms",
        "nemo_event",
        "--json",
        path.to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json_of(&path);
    for regime in ["ping-pong", "spawn-burst"] {
        for m in ["std_condvar", "nemo_event"] {
            let r = row(rows(&doc), "pool", regime, m);
            assert!(r.get("error").is_none(), "{r}");
            if r.get("skipped").is_none() {
                assert_eq!((&r["n"], &r["unit"]), (&5.into(), &"cycles".into()), "{r}");
            }
        }
    }
}
