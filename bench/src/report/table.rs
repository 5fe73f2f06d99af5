//! The human table: one per scenario, a block per regime, every mechanism's ratio to the
//! scenario's baseline next to its absolute numbers and its waiter CPU per event.

use std::fmt::Write;

use super::targets::{self, Verdict};
use super::{Measured, Outcome, Ratio, Report, Row, Stat};
use crate::clock::Unit;

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let _ = writeln!(
        out,
        "nemo-bench ({}): {}, {} cores, {}",
        report.profile.as_str(),
        m.cpu,
        m.cores,
        m.kernel
    );
    let _ = writeln!(out, "clock: {}", m.clock);
    let _ = writeln!(out, "backend: {} ({})", m.backend, m.backend_reason);
    if let Some(why) = report.waiter_cpu_unavailable() {
        let _ = writeln!(out, "waiter CPU: n/a ({why})");
    }
    for s in &report.scenarios {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.scenario == s.id).collect();
        let _ = writeln!(out);
        let _ = writeln!(out, "== {}: {} [{}]", s.id, s.about, s.figures);
        if rows.is_empty() {
            let _ = writeln!(out, "   (no mechanism applies)");
            continue;
        }
        let pairs: String = s
            .pairs
            .iter()
            .filter(|(m, _)| rows.iter().any(|r| r.mechanism == *m))
            .map(|(m, b)| format!(", {m} to {b}"))
            .collect();
        let _ = writeln!(
            out,
            "   ×: ratio to {}{pairs} in the same regime (lower is better); waiter CPU: CPU time \
             of each receiver thread per event",
            s.baseline
        );
        if s.repetitions > 1 {
            let _ = writeln!(
                out,
                "   {} interleaved repetitions: × is the median of the paired per-repetition \
                 ratios, [low, high] its 95 % percentile-bootstrap interval; ≈: not \
                 distinguishable from 1× (the interval contains 1)",
                s.repetitions
            );
        }
        // Broadcast regimes have their own columns: a scenario with both gets two tables.
        // A regime is a broadcast one if its measured rows have broadcast samples (not every
        // many-receiver regime does: `pool`'s bursts); without any, if it has many receivers.
        let broadcast_regime = |regime: &str| {
            let mut regime_rows = rows.iter().filter(|r| r.regime == regime);
            match regime_rows.clone().find_map(|r| r.measured()) {
                Some(m) => m.broadcast.is_some(),
                None => regime_rows.any(|r| r.receivers > 1),
            }
        };
        let (broadcast, single): (Vec<&Row>, Vec<&Row>) = rows
            .iter()
            .copied()
            .partition(|r| broadcast_regime(&r.regime));
        if !single.is_empty() {
            out.push_str(&scenario_table(report, &single, false));
        }
        if !broadcast.is_empty() {
            if !single.is_empty() {
                out.push('\n');
            }
            out.push_str(&scenario_table(report, &broadcast, true));
        }
        out.push_str(&footnotes(&rows));
        for line in s.footer.lines() {
            let _ = writeln!(out, "   {line}");
        }
        out.push_str(&verdicts(report, s.id));
    }
    out
}

fn scenario_table(report: &Report, rows: &[&Row], broadcast: bool) -> String {
    let mut header: Vec<String> = if broadcast {
        [
            "regime",
            "mechanism",
            "waiters",
            "first p50",
            "last p50",
            "×last",
            "95% CI",
            "σ p50",
            "×σ",
            "all p50",
            "all p99",
            "waiter CPU",
            "n",
        ]
        .map(String::from)
        .to_vec()
    } else {
        [
            "regime",
            "mechanism",
            "p50",
            "×p50",
            "95% CI",
            "p90",
            "p99",
            "×p99",
            "min",
            "max",
            "mean ± σ",
            "waiter CPU",
            "n",
        ]
        .map(String::from)
        .to_vec()
    };
    let mut extra_keys: Vec<&'static str> = Vec::new();
    for r in rows {
        if let Some(m) = r.measured() {
            for (k, _) in &m.measurement.extra {
                if !extra_keys.contains(k) {
                    extra_keys.push(k);
                }
            }
        }
    }
    header.extend(extra_keys.iter().map(|k| k.to_string()));

    let mut lines: Vec<Line> = Vec::new();
    let mut last_regime = None;
    // A reason shared by many rows (no UINTR here) is printed in full once per table.
    let mut reasons: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        let regime = if last_regime == Some(&r.regime) {
            String::new()
        } else {
            r.regime.clone()
        };
        last_regime = Some(&r.regime);
        let name = format!("{}{}", r.mechanism, marks(r));
        match &r.outcome {
            Outcome::Measured(m) => {
                let base = report.baseline_for(r);
                let mut cells = vec![regime, name];
                cells.extend(if broadcast {
                    broadcast_cells(r, m, base)
                } else {
                    latency_cells(r, m, base)
                });
                for k in &extra_keys {
                    let v = m.measurement.extra.iter().find(|(x, _)| x == k);
                    cells.push(v.map_or(String::new(), |(_, v)| extra(*v)));
                }
                lines.push(Line::Cells(cells));
            }
            Outcome::Skipped(why) => {
                let text = match reasons.iter().find(|(w, _)| *w == why.as_str()) {
                    Some((_, first)) => format!("skipped: as {first} above"),
                    None => {
                        reasons.push((why.as_str(), r.mechanism));
                        format!("skipped: {why}")
                    }
                };
                lines.push(Line::Note(regime, name, text))
            }
            Outcome::Failed(why) => lines.push(Line::Note(regime, name, format!("FAILED: {why}"))),
        }
    }
    layout(&header, &lines)
}

enum Line {
    Cells(Vec<String>),
    /// Regime, mechanism, then free text across the other columns.
    Note(String, String, String),
}

fn layout(header: &[String], lines: &[Line]) -> String {
    let width = |s: &str| s.chars().count();
    let mut w: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for l in lines {
        match l {
            Line::Cells(c) => {
                for (i, cell) in c.iter().enumerate() {
                    if let Some(wi) = w.get_mut(i) {
                        *wi = (*wi).max(width(cell));
                    }
                }
            }
            Line::Note(r, m, _) => {
                w[0] = w[0].max(width(r));
                w[1] = w[1].max(width(m));
            }
        }
    }
    let pad = |s: &str, n: usize, left: bool| {
        let fill = " ".repeat(n.saturating_sub(width(s)));
        if left {
            format!("{s}{fill}")
        } else {
            format!("{fill}{s}")
        }
    };
    let row = |cells: &[String]| {
        let mut s = String::from("   ");
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            s.push_str(&pad(c, w[i], i < 2));
        }
        s.trim_end().to_string()
    };
    let mut out = row(header);
    out.push('\n');
    for l in lines {
        match l {
            Line::Cells(c) => out.push_str(&row(c)),
            Line::Note(r, m, text) => out.push_str(&format!(
                "   {}  {}  {}",
                pad(r, w[0], true),
                pad(m, w[1], true),
                text
            )),
        }
        out.push('\n');
    }
    out
}

/// The ratio of `stat` to the baseline, and its interval (empty with one repetition, and for
/// the baseline's own row, which is 1 by construction, not by measurement).
fn ratio_cells(m: &Measured, base: Option<&Measured>, stat: Stat) -> [String; 2] {
    let own = base.is_some_and(|b| std::ptr::eq(m, b));
    match base.and_then(|b| Ratio::of(m, b, stat)) {
        Some(r) if own => [times(r.median), String::new()],
        Some(r) => [
            format!(
                "{}{}",
                times(r.median),
                if r.indistinguishable_from(1.0) {
                    " ≈"
                } else {
                    ""
                }
            ),
            r.interval
                .map_or(String::new(), |i| format!("[{:.2}, {:.2}]", i.low, i.high)),
        ],
        None => ["—".to_string(), String::new()],
    }
}

fn latency_cells(r: &Row, m: &Measured, base: Option<&Measured>) -> Vec<String> {
    let s = &m.summary;
    let u = r.unit;
    let [p50, ci] = ratio_cells(m, base, Stat::P50);
    let [p99, _] = ratio_cells(m, base, Stat::P99);
    vec![
        fmt(s.p50 as f64, u),
        p50,
        ci,
        fmt(s.p90 as f64, u),
        fmt(s.p99 as f64, u),
        p99,
        fmt(s.min as f64, u),
        fmt(s.max as f64, u),
        format!("{} ± {}", fmt(s.mean, u), fmt(s.stddev, u)),
        cpu(m),
        s.n.to_string(),
    ]
}

fn broadcast_cells(r: &Row, m: &Measured, base: Option<&Measured>) -> Vec<String> {
    let u = r.unit;
    let Some(b) = &m.broadcast else {
        return latency_cells(r, m, base);
    };
    let [last, ci] = ratio_cells(m, base, Stat::LastP50);
    let [sigma, _] = ratio_cells(m, base, Stat::SigmaP50);
    vec![
        b.waiters.to_string(),
        fmt(b.first.p50 as f64, u),
        fmt(b.last.p50 as f64, u),
        last,
        ci,
        fmt(b.sigma.p50 as f64, u),
        sigma,
        fmt(m.summary.p50 as f64, u),
        fmt(m.summary.p99 as f64, u),
        cpu(m),
        b.last.n.to_string(),
    ]
}

fn cpu(m: &Measured) -> String {
    m.measurement
        .waiter_cpu_ns_per_event
        .map_or("n/a".to_string(), |ns| fmt(ns, Unit::Ns))
}

fn marks(r: &Row) -> String {
    let mut s = String::new();
    if r.oversubscribed {
        s.push_str(" †");
    }
    if r.measured().is_some_and(|m| !m.measurement.pinned) {
        s.push_str(" ‡");
    }
    s
}

fn footnotes(rows: &[&Row]) -> String {
    let mut out = String::new();
    if let Some(r) = rows.iter().find(|r| r.oversubscribed) {
        let _ = writeln!(
            out,
            "   † oversubscribed: {} receivers + the signaller on fewer cores; blocking waiters \
             share cores",
            r.receivers
        );
    }
    if rows
        .iter()
        .any(|r| r.measured().is_some_and(|m| !m.measurement.pinned))
    {
        let _ = writeln!(
            out,
            "   ‡ not pinned: the affinity call failed or is unavailable"
        );
    }
    if rows.iter().any(|r| {
        r.kind.burns_core()
            && r.measured()
                .is_some_and(|m| m.measurement.waiter_cpu_ns_per_event.is_some())
    }) {
        let _ = writeln!(
            out,
            "   polling and interrupt receivers run between events: their CPU per event includes \
             the gap"
        );
    }
    let mut notes: Vec<(&str, &str)> = Vec::new();
    for r in rows {
        if let Some(n) = &r.note
            && !notes.contains(&(r.mechanism, n.as_str()))
        {
            notes.push((r.mechanism, n));
            let _ = writeln!(out, "   {}: {n}", r.mechanism);
        }
    }
    let clamped: usize = rows
        .iter()
        .filter_map(|r| r.measured())
        .map(|m| m.measurement.clamped)
        .sum();
    if clamped > 0 {
        let _ = writeln!(
            out,
            "   {clamped} samples had the receiver's stamp before the sender's (TSC skew) and \
             count as 0"
        );
    }
    out
}

/// A number in the unit, scaled for reading: `812ns`, `12.3µs`, `1.05ms`, `1360cy`, `12.4kcy`.
pub fn fmt(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Ns => {
            if v < 1e3 {
                format!("{v:.0}ns")
            } else if v < 1e4 {
                format!("{:.2}µs", v / 1e3)
            } else if v < 1e6 {
                format!("{:.1}µs", v / 1e3)
            } else if v < 1e9 {
                format!("{:.2}ms", v / 1e6)
            } else {
                format!("{:.2}s", v / 1e9)
            }
        }
        Unit::Cycles => {
            if v < 1e4 {
                format!("{v:.0}cy")
            } else if v < 1e6 {
                format!("{:.1}kcy", v / 1e3)
            } else {
                format!("{:.2}Mcy", v / 1e6)
            }
        }
    }
}

/// A scenario-specific number: large ones (a rate in msgs/s) in millions or thousands.
pub fn extra(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else {
        format!("{v:.3}")
    }
}

/// A ratio as `0.42×`.
pub fn times(r: f64) -> String {
    if r < 0.01 {
        format!("{r:.4}×")
    } else {
        format!("{r:.2}×")
    }
}

/// `value / base` as `0.42×`; a dash without a usable baseline.
pub fn ratio(value: u64, base: Option<u64>) -> String {
    match base {
        Some(b) if b > 0 => times(value as f64 / b as f64),
        _ => "—".to_string(),
    }
}

/// The scenario's targets and how each fared.
fn verdicts(report: &Report, scenario: &str) -> String {
    let judged: Vec<_> = targets::judge(report)
        .into_iter()
        .filter(|j| j.target.scenario == scenario)
        .collect();
    if judged.is_empty() {
        return String::new();
    }
    let mut out = String::from("   targets:\n");
    for j in judged {
        let t = j.target;
        let what = t.describe();
        let _ = match j.outcome {
            Some((r, v)) => {
                let interval = r.interval.map_or(String::new(), |i| {
                    format!(" [{:.2}, {:.2}] width {:.2}", i.low, i.high, i.width())
                });
                let shown = match v {
                    Verdict::NotDistinguishable => {
                        format!("not distinguishable from {}×", t.bound)
                    }
                    v => v.as_str().to_string(),
                };
                let over = if r.repetitions > 1 {
                    format!(" over {} repetitions", r.repetitions)
                } else {
                    String::new()
                };
                writeln!(
                    out,
                    "     {what}: {}{interval}{over}: {shown}",
                    times(r.median)
                )
            }
            None => writeln!(out, "     {what}: not measured in this run"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_scale_for_reading() {
        assert_eq!(fmt(812.0, Unit::Ns), "812ns");
        assert_eq!(fmt(1_234.0, Unit::Ns), "1.23µs");
        assert_eq!(fmt(12_345.0, Unit::Ns), "12.3µs");
        assert_eq!(fmt(1_050_000.0, Unit::Ns), "1.05ms");
        assert_eq!(fmt(1360.0, Unit::Cycles), "1360cy");
        assert_eq!(fmt(12_400.0, Unit::Cycles), "12.4kcy");
        assert_eq!(fmt(3_081_000.0, Unit::Cycles), "3.08Mcy");
    }

    use crate::mechanisms::Kind;
    use crate::plan::Profile;
    use crate::report::{Measured, ScenarioInfo};
    use crate::samples::{Measurement, Samples};

    use crate::report::fixture::machine;

    fn row(regime: &str, mechanism: &'static str, samples: Samples) -> Row {
        let receivers = match &samples {
            Samples::Latency(_) => 1,
            Samples::Broadcast(w) => w.len(),
        };
        let extra = if mechanism.starts_with("am_") && matches!(samples, Samples::Latency(_)) {
            vec![("msgs_per_s", 2.5e6)]
        } else {
            Vec::new()
        };
        let m = Measured::new(Measurement {
            unit: Unit::Ns,
            samples,
            waiter_cpu_ns_per_event: None,
            pinned: true,
            clamped: 0,
            extra,
        })
        .expect("samples");
        Row {
            scenario: "am",
            mechanism,
            kind: Kind::Interrupt,
            regime: regime.to_string(),
            unit: Unit::Ns,
            receivers,
            gap_us: 2.0,
            oversubscribed: false,
            note: None,
            outcome: Outcome::Measured(Box::new(m)),
        }
    }

    #[test]
    fn paired_baselines_and_a_broadcast_regime_of_one_waiter() {
        let report = Report {
            machine: machine(),
            profile: Profile::Quick,
            scenarios: vec![ScenarioInfo {
                id: "am",
                about: "about",
                figures: "figures",
                baseline: "signal",
                pairs: vec![("am_poll", "spin")],
                footer: "",
                repetitions: 1,
            }],
            rows: vec![
                row("unicast", "spin", Samples::Latency(vec![100; 3])),
                row("unicast", "signal", Samples::Latency(vec![1000; 3])),
                row("unicast", "am_poll", Samples::Latency(vec![300; 3])),
                row("unicast", "am_signal", Samples::Latency(vec![1100; 3])),
                row(
                    "broadcast",
                    "signal",
                    Samples::Broadcast(vec![vec![1000; 3]]),
                ),
                row(
                    "broadcast",
                    "am_poll",
                    Samples::Broadcast(vec![vec![250; 3]]),
                ),
            ],
        };
        let out = render(&report);
        assert!(out.contains("ratio to signal, am_poll to spin"), "{out}");
        let line = |m: &str, regime_first: bool| {
            out.lines()
                .filter(|l| !l.contains("×:") && l.split_whitespace().any(|w| w == m))
                .nth(usize::from(!regime_first))
                .unwrap_or_else(|| panic!("no {m} line in\n{out}"))
                .to_string()
        };
        // am_poll against spin (3×), am_signal against signal (1.1×).
        assert!(line("am_poll", true).contains("3.00×"), "{out}");
        assert!(line("am_signal", true).contains("1.10×"), "{out}");
        assert!(line("am_poll", true).contains("2.50M"), "{out}");
        // The one-waiter broadcast regime gets its own table, with broadcast columns only.
        assert_eq!(out.matches("msgs_per_s").count(), 1, "{out}");
        assert_eq!(out.matches("last p50").count(), 1, "{out}");
        let tables: Vec<&str> = out.split("\n\n").collect();
        let last = tables.last().expect("tables");
        assert!(
            last.contains("last p50") && last.contains("   broadcast  signal"),
            "{out}"
        );
        // No spin row in the broadcast regime: am_poll has no ratio there.
        let b = line("am_poll", false);
        assert!(b.contains("250ns") && b.contains('—'), "{out}");
    }

    #[test]
    fn a_shared_skip_reason_is_printed_once_per_table() {
        let skipped = |mechanism: &'static str, why: &str| Row {
            outcome: Outcome::Skipped(why.to_string()),
            ..row("unicast", mechanism, Samples::Latency(vec![1; 3]))
        };
        let report = Report {
            machine: machine(),
            profile: Profile::Quick,
            scenarios: vec![ScenarioInfo {
                id: "am",
                about: "about",
                figures: "figures",
                baseline: "signal",
                pairs: vec![],
                footer: "",
                repetitions: 1,
            }],
            rows: vec![
                row("unicast", "signal", Samples::Latency(vec![1000; 3])),
                skipped("uintr", "no user interrupts here"),
                skipped("am_poll", "needs 3 cores"),
                skipped("am_uintr", "no user interrupts here"),
            ],
        };
        let out = render(&report);
        assert_eq!(out.matches("no user interrupts here").count(), 1, "{out}");
        assert!(out.contains("skipped: needs 3 cores"), "{out}");
        let am_uintr = out.lines().find(|l| l.contains("am_uintr")).expect("row");
        assert!(am_uintr.contains("skipped: as uintr above"), "{out}");
    }

    /// A unicast row measured in repetitions with these medians (three samples each).
    fn repeated(mechanism: &'static str, p50s: &[u64]) -> Row {
        let reps = p50s
            .iter()
            .map(|&p| Measurement {
                unit: Unit::Ns,
                samples: Samples::Latency(vec![p; 3]),
                waiter_cpu_ns_per_event: None,
                pinned: true,
                clamped: 0,
                extra: Vec::new(),
            })
            .collect();
        Row {
            scenario: "unicast",
            kind: Kind::Blocking,
            outcome: Outcome::Measured(Box::new(Measured::of_repetitions(reps).expect("reps"))),
            ..row("long-gap", mechanism, Samples::Latency(vec![1]))
        }
    }

    #[test]
    fn repeated_ratios_show_their_interval_and_whether_it_holds_one() {
        let report = Report {
            machine: machine(),
            profile: Profile::Full,
            scenarios: vec![ScenarioInfo {
                id: "unicast",
                about: "about",
                figures: "figures",
                baseline: "pthread_cond",
                pairs: vec![],
                footer: "",
                repetitions: 5,
            }],
            rows: vec![
                repeated("pthread_cond", &[100, 100, 100, 100, 100]),
                // Ratios 0.9 … 1.2: the interval [0.9, 1.2] holds 1.
                repeated("futex", &[90, 120, 100, 95, 110]),
                // Ratios 0.5 … 0.6: clearly below.
                repeated("nemo_condvar_park", &[50, 60, 55, 52, 58]),
            ],
        };
        let out = render(&report);
        let line = |m: &str| {
            out.lines()
                .find(|l| l.split_whitespace().any(|w| w == m))
                .unwrap_or_else(|| panic!("no {m} line in\n{out}"))
        };
        assert!(out.contains("5 interleaved repetitions"), "{out}");
        assert!(line("futex").contains("1.00× ≈"), "{out}");
        assert!(line("futex").contains("[0.90, 1.20]"), "{out}");
        assert!(line("nemo_condvar_park").contains("0.55×"), "{out}");
        assert!(line("nemo_condvar_park").contains("[0.50, 0.60]"), "{out}");
        assert!(!line("nemo_condvar_park").contains('≈'), "{out}");
        // The baseline against itself: 1 by construction, no interval, no mark.
        assert!(!line("pthread_cond").contains('≈') && !line("pthread_cond").contains('['));
        // The long-gap target is judged on the interval: 0.55× [0.50, 0.60] ≤ 1.05×.
        // The long-gap target, judged on the paired ratios 0.50 … 0.56 (all below 1.05).
        let target = out
            .lines()
            .find(|l| l.contains("nemo_condvar_park / futex"))
            .expect("the long-gap target is judged");
        assert!(
            target.contains("nemo_condvar_park / futex p50 ≤ 1.05×: 0.55×"),
            "{out}"
        );
        assert!(target.ends_with("over 5 repetitions: met"), "{out}");
    }

    #[test]
    fn large_extras_in_millions_or_thousands() {
        assert_eq!(extra(12_345_678.0), "12.35M");
        assert_eq!(extra(45_600.0), "45.6k");
        assert_eq!(extra(12.5), "12.500");
    }

    #[test]
    fn ratios_need_a_baseline() {
        assert_eq!(ratio(50, Some(100)), "0.50×");
        assert_eq!(ratio(1, Some(1000)), "0.0010×");
        assert_eq!(ratio(5, None), "—");
        assert_eq!(ratio(5, Some(0)), "—");
    }
}
