//! `overhead` and `timer` through the binary, with tiny counts: their JSON keys, skipped rows
//! with reasons, and the simulation profile. No timing assertions.

use std::process::Output;
use std::sync::Mutex;

use serde_json::Value;

mod common;

/// One run at a time: each keeps a timer thread and a receiver busy, and two at once on a small
/// machine would starve each other's timer threads.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(args: &[&str]) -> Output {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    common::run(args)
}

/// Runs `args` with `--json` and returns the rows.
fn rows_of(name: &str, args: &[&str]) -> (Vec<Value>, String) {
    common::results_of_run(run, name, args)
}

fn of<'a>(rows: &'a [Value], scenario: &str, mechanism: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| r["scenario"] == scenario && r["mechanism"] == mechanism)
        .collect()
}

#[test]
fn quick_overhead_and_timer_rows_have_their_keys() {
    let (rows, table) = rows_of("quick", &["overhead", "timer", "--quick", "--iters", "3"]);
    for r in &rows {
        assert!(r.get("error").is_none(), "a row failed: {r}");
        if let Some(why) = r.get("skipped") {
            assert!(why.as_str().is_some_and(|s| !s.is_empty()), "{r}");
        }
    }
    // overhead: the three kernels at 5 µs, for the signal baseline and nemo's backends.
    for m in ["signal", "nemo_signal", "nemo_posix", "nemo_poll"] {
        let mine = of(&rows, "overhead", m);
        assert_eq!(mine.len(), 3, "overhead {m}: {mine:?}");
        for r in mine {
            for k in ["interval_us", "slowdown_pct", "events_per_run"] {
                assert!(r[k].is_number(), "overhead {m} lacks {k}: {r}");
            }
            // A cost per event whenever the median run had events. (The cost is the median
            // over the runs that had events, so on a loaded machine, where a few short runs
            // see no tick at all, it may also be there with a median of zero events.)
            let events = r["events_per_run"].as_f64().unwrap_or(0.0);
            if events > 0.0 {
                assert!(
                    r["ns_per_event"].is_number(),
                    "overhead {m}: events but no ns_per_event: {r}"
                );
            }
            assert_eq!(r["interval_us"], 5.0);
            assert_eq!(r["n"], 3, "one sample per repetition: {r}");
            assert!(r["regime"].as_str().is_some_and(|s| s.ends_with(" 5us")));
        }
    }
    // Safepoint mechanisms have their checks priced; the others have no checks.
    assert!(
        of(&rows, "overhead", "nemo_poll")
            .iter()
            .all(|r| r["checks_pct"].is_number())
    );
    assert!(
        of(&rows, "overhead", "signal")
            .iter()
            .all(|r| r.get("checks_pct").is_none())
    );
    // Without UINTR, its row says why.
    if let Some(u) = of(&rows, "overhead", "nemo_uintr").first()
        && let Some(why) = u.get("skipped")
    {
        assert!(
            why.as_str().is_some_and(|s| s.contains("user interrupts")),
            "{u}"
        );
    }
    // timer: every source, measured for each mechanism that runs here.
    for source in ["setitimer", "nanosleep", "spin"] {
        for m in ["signal", "nemo_signal", "nemo_poll"] {
            let r = of(&rows, "timer", m)
                .into_iter()
                .find(|r| r["regime"].as_str().is_some_and(|s| s.starts_with(source)))
                .unwrap_or_else(|| panic!("timer {source} {m} missing"));
            for k in ["interval_us", "timer_cpu_pct", "ticks_per_s", "rate_pct"] {
                assert!(r[k].is_number(), "timer {source} {m} lacks {k}: {r}");
            }
            assert_eq!(r["n"], 3, "{r}");
        }
    }
    assert!(
        of(&rows, "timer", "nemo_posix").is_empty(),
        "no timer thread to measure"
    );
    assert!(table.contains("== overhead") && table.contains("645"));
    assert!(table.contains("== timer"));
}

#[test]
fn simulation_runs_what_gem5_can() {
    let (rows, _) = rows_of("sim", &["--sim", "overhead", "timer", "--iters", "2"]);
    for r in of(&rows, "overhead", "signal")
        .into_iter()
        .chain(of(&rows, "overhead", "nemo_signal"))
    {
        assert!(
            r["skipped"].as_str().is_some_and(|s| s.contains("signals")),
            "{r}"
        );
    }
    let poll = of(&rows, "overhead", "nemo_poll");
    assert!(!poll.is_empty());
    for r in poll {
        assert!(
            r.get("skipped").is_none() && r.get("error").is_none(),
            "{r}"
        );
        assert_eq!(r["unit"], "cycles");
        // The --sim runs are a few microseconds long (gem5 is slow): on a loaded machine the
        // timer thread may not tick during one, and a cost per event of no events is absent.
        let events = r["events_per_run"].as_f64().expect("events_per_run");
        assert_eq!(
            r["cycles_per_event"].is_number(),
            events > 0.0,
            "cycles per event iff events: {r}"
        );
    }
    // Under --sim every thread needs a core: the timer thread, the measuring thread and at
    // least one receiver.
    let cores = core_affinity::get_core_ids().map_or(1, |c| c.len());
    for r in of(&rows, "timer", "nemo_poll") {
        let regime = r["regime"].as_str().expect("regime");
        if regime.starts_with("spin") && cores < 3 {
            assert!(
                r["skipped"]
                    .as_str()
                    .is_some_and(|s| s.contains("one thread per core")),
                "{r}"
            );
        } else if regime.starts_with("spin") {
            assert!(
                r.get("skipped").is_none() && r.get("error").is_none(),
                "{r}"
            );
            assert!(r["ticks_per_s"].is_number(), "{r}");
            assert!(
                r.get("timer_cpu_pct").is_none(),
                "no thread CPU clock in gem5: {r}"
            );
        } else {
            assert!(
                r["skipped"].as_str().is_some_and(|s| s.contains("gem5")),
                "{r}"
            );
        }
    }
}
