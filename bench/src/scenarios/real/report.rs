//! The shim's counters from its exit lines, the table and the JSON.

use super::{ABOUT, ID, Interval, NotRun, Row, TARGET_CPU, TARGET_WALL, TARGET_WALL_HIGH};

/// What the shim's counters said in one run with `NEMO_PRELOAD_VERBOSE=2` (the busiest
/// condvars the shim lists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShimCounters {
    /// Waits that blocked in the kernel.
    pub parked: u64,
    /// Adaptive waits.
    pub waits: u64,
    /// Spins started.
    pub spins: u64,
    /// Spins that caught their wakeup.
    pub caught: u64,
    /// Waits refused a spin because the machine was busy.
    pub refused_busy: u64,
    /// Microseconds spun without catching.
    pub wasted_us: u64,
}

/// Sums the lines `NEMO_PRELOAD_VERBOSE=2` prints at exit (`ffi/preload/src/mode.rs`).
pub fn parse_counters(stderr: &str) -> ShimCounters {
    let mut c = ShimCounters::default();
    for line in stderr.lines() {
        let Some(rest) = line.strip_prefix("nemo_preload: ") else {
            continue;
        };
        if let Some(n) = rest.strip_prefix("exit: ") {
            c.parked += numbers(n).first().copied().unwrap_or(0);
        } else if let Some((_, counts)) = rest.split_once(": ") {
            let n = numbers(counts);
            if n.len() >= 11 {
                // waits, windows, refused, busy, spins, caught, pct (2 numbers), spun, wasted, ..
                c.waits += n[0];
                c.refused_busy += n[3];
                c.spins += n[4];
                c.caught += n[5];
                c.wasted_us += n[9];
            }
        }
    }
    c
}

fn numbers(s: &str) -> Vec<u64> {
    s.split(|ch: char| !ch.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .filter_map(|t| t.parse().ok())
        .collect()
}

/// The table.
pub fn render(rows: &[Row]) -> String {
    use std::fmt::Write as _;
    let mut out = format!(
        "== real: {ABOUT}\n   ratios: shim ÷ plain per pair; median [95 % bootstrap interval over pairs]; \
         target ≤ {TARGET_WALL}× wall (interval ≤ {TARGET_WALL_HIGH}), ≤ {TARGET_CPU}× CPU\n"
    );
    let _ = writeln!(
        out,
        "{:<15} {:<16} {:>5} {:>9} {:>24} {:>24} {:<7} shim counters (one run)",
        "program", "regime", "pairs", "plain s", "wall ratio", "CPU ratio", "target"
    );
    for r in rows {
        match &r.result {
            Ok(m) => {
                let iv = |i: &Interval| format!("{:.3} [{:.3}, {:.3}]", i.median, i.low, i.high);
                let c = &m.counters;
                let _ = writeln!(
                    out,
                    "{:<15} {:<16} {:>5} {:>9.3} {:>24} {:>24} {:<7} {} parked; {} waits, {} spins, {} caught, {} refused (busy), {} ms spun in vain",
                    r.program,
                    r.regime,
                    m.pairs,
                    m.plain_wall_s,
                    iv(&m.wall),
                    iv(&m.cpu),
                    if m.meets_target() { "met" } else { "MISSED" },
                    c.parked,
                    c.waits,
                    c.spins,
                    c.caught,
                    c.refused_busy,
                    c.wasted_us / 1_000,
                );
            }
            Err(NotRun::Skipped(why)) => {
                let _ = writeln!(out, "{:<15} {:<16} skipped: {why}", r.program, r.regime);
            }
            Err(NotRun::Failed(why)) => {
                let _ = writeln!(out, "{:<15} {:<16} FAILED: {why}", r.program, r.regime);
            }
        }
    }
    out
}

/// The rows as JSON: `{"scenario": "real", "rows": [...]}`.
pub fn to_json(rows: &[Row]) -> serde_json::Value {
    use serde_json::json;
    let iv = |i: &Interval| json!({"median": i.median, "ci_low": i.low, "ci_high": i.high});
    let rows: Vec<_> = rows
        .iter()
        .map(|r| match &r.result {
            Ok(m) => json!({
                "program": r.program,
                "regime": r.regime,
                "pairs": m.pairs,
                "plain_wall_s": m.plain_wall_s,
                "plain_cpu_s": m.plain_cpu_s,
                "wall_ratio": iv(&m.wall),
                "cpu_ratio": iv(&m.cpu),
                "meets_target": m.meets_target(),
                "shim_counters": {
                    "parked": m.counters.parked,
                    "waits": m.counters.waits,
                    "spins": m.counters.spins,
                    "caught": m.counters.caught,
                    "refused_busy": m.counters.refused_busy,
                    "wasted_us": m.counters.wasted_us,
                },
            }),
            Err(NotRun::Skipped(why)) => {
                json!({"program": r.program, "regime": r.regime, "skipped": why})
            }
            Err(NotRun::Failed(why)) => {
                json!({"program": r.program, "regime": r.regime, "error": why})
            }
        })
        .collect();
    json!({
        "scenario": ID,
        "interval": "95 % percentile bootstrap of the median over pairs",
        "target": {"wall": TARGET_WALL, "wall_ci_high": TARGET_WALL_HIGH, "cpu": TARGET_CPU},
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_are_summed_from_the_exit_lines() {
        let text = "\
some program output
nemo_preload 0.1.0: mode on; backend signal; policy spin 20 us, then park (adaptive)
nemo_preload: exit: 42 waits parked
nemo_preload: condvar 0x5f3a8c8: 100 waits, 90 offered a window, 10 refused (4 machine busy), 80 spins, 8 caught (10.0 %), spun 1500 us of which 1400 us wasted, 92 parked (3 woken within the window)
nemo_preload: other condvars: 1 waits, 1 offered a window, 0 refused (0 machine busy), 1 spins, 1 caught (100.0 %), spun 2 us of which 0 us wasted, 0 parked (0 woken within the window)
nemo_preload: exit: 0 waits parked
";
        let c = parse_counters(text);
        assert_eq!(
            c,
            ShimCounters {
                parked: 42,
                waits: 101,
                spins: 81,
                caught: 9,
                refused_busy: 4,
                wasted_us: 1400,
            }
        );
    }
}
