//! The figures that plot one of a scenario's own columns against the number its regimes are
//! named by — a tick interval, an offered load — in the shape of xUI's Fig. 4, 5 and 7: one
//! line per mechanism and variant, one figure per kernel. This file says which figures there
//! are and gathers their points from a report; `plot.rs` draws them.
//!
//! Invariants:
//! - A regime names its x value in exactly one word, a number with a unit (`5us`, `50%`).
//!   Where the curve says so, the first of the other words names the figure (the kernel);
//!   the words left, after the mechanism, name the line (`anywhere`, `q20us`). A regime without
//!   such a word, or a row without the column, adds no point: a figure never shows a value the
//!   run did not measure.
//! - A point is the median of the column over the row's repetitions, with their least and
//!   greatest as its range (equal with one repetition). Points are in ascending x.

use super::{Report, Stat};

/// One kind of figure of one scenario.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    /// The scenario whose rows it plots.
    pub scenario: &'static str,
    /// The column it plots, a word of the file name.
    pub y: &'static str,
    /// What the figure shows, and the paper figure of the same shape.
    pub title: &'static str,
    /// The x axis.
    pub x_label: &'static str,
    /// Whether x is drawn on a log scale.
    pub x_log: bool,
    /// The y axis.
    pub y_label: &'static str,
    /// Whether y is drawn on a log scale.
    pub y_log: bool,
    /// Whether the regime's first word (after the x word is taken out) names the figure.
    pub per_kernel: bool,
}

/// Every curve figure, by scenario.
pub const CURVES: &[Curve] = &[
    Curve {
        scenario: "overhead",
        y: "slowdown_pct",
        title: "slowdown under a tick every interval — xUI Fig. 4",
        x_label: "tick interval (µs, log scale)",
        x_log: true,
        y_label: "slowdown (%)",
        y_log: false,
        per_kernel: true,
    },
    Curve {
        scenario: "preempt",
        y: "slowdown_pct",
        title: "slowdown under preemption every interval — xUI Fig. 5",
        x_label: "quantum (µs, log scale)",
        x_log: true,
        y_label: "slowdown (%)",
        y_log: false,
        per_kernel: true,
    },
    Curve {
        scenario: "hol",
        y: "get_p99",
        title: "GET p99 against offered load — xUI Fig. 7",
        x_label: "offered load (% of the worker's rate)",
        x_log: false,
        y_label: "GET p99 (ns, log scale)",
        y_log: true,
        per_kernel: false,
    },
    Curve {
        scenario: "hol",
        y: "goodput_kreq_s",
        title: "goodput against offered load — xUI Fig. 7",
        x_label: "offered load (% of the worker's rate)",
        x_log: false,
        y_label: "goodput (kreq/s)",
        y_log: false,
        per_kernel: false,
    },
];

/// One point of a line: the median over the row's repetitions and their range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// The regime's number (µs, %).
    pub x: f64,
    /// The median over the repetitions.
    pub y: f64,
    /// The least repetition.
    pub lo: f64,
    /// The greatest repetition.
    pub hi: f64,
}

/// One line: a mechanism and variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// The mechanism, then the variant.
    pub name: String,
    /// The mechanism alone.
    pub mechanism: &'static str,
    /// The variant alone (`anywhere`, `q20us`; empty for none).
    pub variant: String,
    /// In ascending x.
    pub points: Vec<Point>,
}

/// One figure: a curve of one kernel (or of the whole scenario).
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// What it plots.
    pub curve: &'static Curve,
    /// The kernel, or empty.
    pub kernel: String,
    /// In the order their first rows ran.
    pub lines: Vec<Line>,
}

impl Panel {
    /// The figure's title.
    pub fn title(&self) -> String {
        if self.kernel.is_empty() {
            format!("{}: {}", self.curve.scenario, self.curve.title)
        } else {
            format!(
                "{} {}: {}",
                self.curve.scenario, self.kernel, self.curve.title
            )
        }
    }

    /// Its file name without the extension.
    pub fn stem(&self) -> String {
        let kernel = if self.kernel.is_empty() {
            "all"
        } else {
            &self.kernel
        };
        super::file_stem(self.curve.scenario, kernel, self.curve.y)
    }
}

/// `"fib 5us anywhere"` → `(5, "fib", "anywhere")` with `per_kernel`; `"50% q20us"` →
/// `(50, "", "q20us")` without. `None` if no word, or more than one, is a number with a unit.
fn split(regime: &str, per_kernel: bool) -> Option<(f64, String, String)> {
    let words: Vec<&str> = regime.split_whitespace().collect();
    let numeric: Vec<(usize, f64)> = words
        .iter()
        .enumerate()
        .filter_map(|(i, w)| {
            let n = w.strip_suffix("us").or_else(|| w.strip_suffix('%'))?;
            n.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| (i, v))
        })
        .collect();
    let &[(at, x)] = numeric.as_slice() else {
        return None;
    };
    let mut rest = words
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != at)
        .map(|(_, w)| *w);
    let kernel = if per_kernel {
        rest.next()?.to_string()
    } else {
        String::new()
    };
    Some((x, kernel, rest.collect::<Vec<_>>().join(" ")))
}

/// The curve figures of `report`, in the order of [`CURVES`], kernels and lines in the order
/// their rows ran.
pub fn panels(report: &Report) -> Vec<Panel> {
    let mut out: Vec<Panel> = Vec::new();
    for curve in CURVES {
        let first = out.len();
        for row in report.rows.iter().filter(|r| r.scenario == curve.scenario) {
            let Some(m) = row.measured() else { continue };
            let Some((x, kernel, variant)) = split(&row.regime, curve.per_kernel) else {
                continue;
            };
            let mut ys: Vec<f64> = m
                .repetitions
                .iter()
                .filter_map(|r| r.get(Stat::Extra(curve.y)))
                .collect();
            if ys.is_empty() {
                continue;
            }
            ys.sort_by(f64::total_cmp);
            let Some(y) = crate::interval::median(&ys) else {
                continue;
            };
            let point = Point {
                x,
                y,
                lo: ys[0],
                hi: ys[ys.len() - 1],
            };
            let name = if variant.is_empty() {
                row.mechanism.to_string()
            } else {
                format!("{} {variant}", row.mechanism)
            };
            let panel = match out[first..].iter().position(|p| p.kernel == kernel) {
                Some(i) => &mut out[first + i],
                None => {
                    out.push(Panel {
                        curve,
                        kernel,
                        lines: Vec::new(),
                    });
                    out.last_mut().expect("just pushed")
                }
            };
            match panel.lines.iter_mut().find(|l| l.name == name) {
                Some(line) => line.points.push(point),
                None => panel.lines.push(Line {
                    name,
                    mechanism: row.mechanism,
                    variant,
                    points: vec![point],
                }),
            }
        }
    }
    for line in out.iter_mut().flat_map(|p| p.lines.iter_mut()) {
        line.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    out
}

/// Reports of synthetic rows, for this file's tests and `plot.rs`'s.
#[cfg(test)]
pub(super) mod fixture {
    use crate::clock::Unit;
    use crate::mechanisms::Kind;
    use crate::plan::Profile;
    use crate::report::{Measured, Outcome, Report, Row};
    use crate::samples::{Measurement, Samples};

    /// A measured row whose repetitions have `ys` as `slowdown_pct` and 10 × `ys` as
    /// `get_p99`.
    pub fn row(scenario: &'static str, mechanism: &'static str, regime: &str, ys: &[f64]) -> Row {
        let reps = ys
            .iter()
            .map(|&y| Measurement {
                unit: Unit::Ns,
                samples: Samples::Latency(vec![100; 3]),
                waiter_cpu_ns_per_event: None,
                pinned: false,
                clamped: 0,
                extra: vec![("slowdown_pct", y), ("get_p99", y * 10.0)],
            })
            .collect();
        Row {
            scenario,
            mechanism,
            kind: Kind::Interrupt,
            regime: regime.to_string(),
            unit: Unit::Ns,
            receivers: 1,
            gap_us: 0.0,
            oversubscribed: false,
            note: None,
            outcome: Outcome::Measured(Box::new(Measured::of_repetitions(reps).expect("samples"))),
        }
    }

    /// A report of `rows`.
    pub fn report(rows: Vec<Row>) -> Report {
        Report {
            machine: crate::report::fixture::machine(),
            profile: Profile::Quick,
            scenarios: Vec::new(),
            rows,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{report, row};
    use super::*;

    #[test]
    fn curves_name_registered_scenarios_whose_regimes_have_an_x() {
        use crate::plan::{Plan, Profile};
        for c in CURVES {
            let s = crate::scenarios::find(c.scenario)
                .unwrap_or_else(|| panic!("{} is not a scenario", c.scenario));
            for profile in [Profile::Full, Profile::Quick, Profile::Sim] {
                let mut plan = Plan::new(profile, 16);
                plan.named = vec![c.scenario.to_string()];
                for case in s.driver.cases(&plan) {
                    assert!(
                        split(&case.regime, c.per_kernel).is_some(),
                        "{}: regime {:?} names no x",
                        c.scenario,
                        case.regime
                    );
                }
            }
        }
    }

    #[test]
    fn regimes_split_into_x_kernel_and_variant() {
        assert_eq!(
            split("fib 5us anywhere", true),
            Some((5.0, "fib".into(), "anywhere".into()))
        );
        assert_eq!(
            split("memops 100us", true),
            Some((100.0, "memops".into(), String::new()))
        );
        assert_eq!(
            split("50% q20us", false),
            Some((50.0, String::new(), "q20us".into()))
        );
        assert_eq!(
            split("90% none", false),
            Some((90.0, String::new(), "none".into()))
        );
        // No x word, two of them, or no kernel word left: no point.
        assert_eq!(split("busy worker", false), None);
        assert_eq!(split("5us 10us", false), None);
        assert_eq!(split("5us", true), None);
    }

    #[test]
    fn points_are_medians_in_ascending_x_one_figure_per_kernel() {
        let r = report(vec![
            row("preempt", "nemo_poll", "fib 20us", &[4.0, 1.0, 2.0]),
            row("preempt", "nemo_poll", "fib 5us", &[9.0, 7.0, 8.0]),
            row("preempt", "nemo_signal", "fib 5us anywhere", &[30.0]),
            row("preempt", "nemo_poll", "linpack 5us", &[3.0]),
            // Another scenario's rows and a row of no x are not plotted here.
            row("kick", "nemo_poll", "busy worker", &[1.0]),
        ]);
        let p = panels(&r);
        let preempt: Vec<&Panel> = p.iter().filter(|p| p.curve.scenario == "preempt").collect();
        assert_eq!(preempt.len(), 2, "{p:?}");
        assert_eq!(preempt[0].kernel, "fib");
        assert_eq!(preempt[0].stem(), "preempt-fib-slowdown_pct");
        let names: Vec<&str> = preempt[0].lines.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["nemo_poll", "nemo_signal anywhere"]);
        let poll = &preempt[0].lines[0].points;
        assert_eq!(
            poll,
            &[
                Point {
                    x: 5.0,
                    y: 8.0,
                    lo: 7.0,
                    hi: 9.0
                },
                Point {
                    x: 20.0,
                    y: 2.0,
                    lo: 1.0,
                    hi: 4.0
                },
            ]
        );
        assert_eq!(preempt[1].kernel, "linpack");
        assert!(p.iter().all(|p| p.curve.scenario != "kick"));
    }

    #[test]
    fn a_scenario_without_kernels_is_one_figure_per_column() {
        let r = report(vec![
            row("hol", "nemo_poll", "50% none", &[10.0]),
            row("hol", "nemo_poll", "50% q20us", &[1.0]),
            row("hol", "nemo_poll", "20% q20us", &[0.5]),
        ]);
        let p = panels(&r);
        // get_p99 has a point per row; goodput_kreq_s is not a column of these rows.
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].curve.y, "get_p99");
        assert_eq!(p[0].stem(), "hol-all-get_p99");
        let q20 = p[0].lines.iter().find(|l| l.name == "nemo_poll q20us");
        let xs: Vec<f64> = q20.expect("line").points.iter().map(|pt| pt.x).collect();
        assert_eq!(xs, [20.0, 50.0]);
        assert_eq!(p[0].lines[0].points[0].y, 100.0);
    }
}
