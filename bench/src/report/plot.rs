//! `--plot DIR`: figures in the papers' style — latency CDFs per scenario and regime on a log x
//! axis (Nemo Fig. 3, 20), the CDF of σ per broadcast (Nemo Fig. 5/6), and a scenario's column
//! against the interval or load its regimes are named by (xUI Fig. 4, 5, 7; see `curves.rs`) —
//! each as SVG and PNG.
//!
//! Text is drawn with DejaVu Sans embedded in the binary, so PNGs have legible labels on a
//! machine without any fonts installed (and in a static binary, where fontconfig is absent).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::combinators::BindKeyPoints;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::curves::{self, Panel};
use super::{Report, file_stem};
use crate::clock::Unit;
use crate::samples::Samples;
use crate::stats::per_broadcast;

const SIZE: (u32, u32) = (960, 600);
/// The legend column of a curve figure, in pixels of [`SIZE`]'s width.
const LEGEND_WIDTH: u32 = 200;
const FONT: &str = "sans-serif";
/// Points per CDF line: enough for a smooth curve, few enough for a small SVG.
const CDF_POINTS: usize = 800;

/// One line of a figure.
struct Series {
    name: String,
    values: Vec<u64>,
}

/// One figure.
struct Figure {
    stem: String,
    title: String,
    x_label: String,
    y_label: &'static str,
    series: Vec<Series>,
}

/// Writes every figure of `report` into `dir`; returns the files written.
pub fn write(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, String> {
    register_font()?;
    let mut written = Vec::new();
    for fig in figures(report) {
        let svg = dir.join(format!("{}.svg", fig.stem));
        draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), &fig)?;
        written.push(svg);
        let png = dir.join(format!("{}.png", fig.stem));
        draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), &fig)?;
        written.push(png);
    }
    for panel in curves::panels(report) {
        let svg = dir.join(format!("{}.svg", panel.stem()));
        draw_panel(SVGBackend::new(&svg, SIZE).into_drawing_area(), &panel)?;
        written.push(svg);
        let png = dir.join(format!("{}.png", panel.stem()));
        draw_panel(BitMapBackend::new(&png, SIZE).into_drawing_area(), &panel)?;
        written.push(png);
    }
    Ok(written)
}

fn register_font() -> Result<(), String> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "the embedded DejaVu Sans font could not be loaded".to_string())
    })
    .clone()
}

/// The figures a report yields: per scenario and regime, a latency CDF of every measured
/// mechanism; for broadcast also the σ CDF.
fn figures(report: &Report) -> Vec<Figure> {
    let mut out = Vec::new();
    for s in &report.scenarios {
        let mut regimes: Vec<&str> = Vec::new();
        for r in report.rows.iter().filter(|r| r.scenario == s.id) {
            if !regimes.contains(&r.regime.as_str()) {
                regimes.push(&r.regime);
            }
        }
        for regime in regimes {
            let rows: Vec<_> = report
                .rows
                .iter()
                .filter(|r| r.scenario == s.id && r.regime == regime)
                .filter_map(|r| r.measured().map(|m| (r, m)))
                .collect();
            let Some((first, _)) = rows.first() else {
                continue;
            };
            let unit = unit_label(first.unit);
            out.push(Figure {
                stem: format!("{}-cdf", file_stem(s.id, regime, "latency")),
                title: format!("{} ({regime}): latency CDF — {}", s.id, s.figures),
                x_label: format!("latency ({unit}, log scale)"),
                y_label: "fraction of events",
                series: rows
                    .iter()
                    .map(|(r, m)| Series {
                        name: r.mechanism.to_string(),
                        values: m.measurement.samples.all(),
                    })
                    .collect(),
            });
            let sigmas: Vec<Series> = rows
                .iter()
                .filter_map(|(r, m)| match &m.measurement.samples {
                    Samples::Broadcast(w) => Some(Series {
                        name: r.mechanism.to_string(),
                        values: per_broadcast(w).sigma,
                    }),
                    Samples::Latency(_) => None,
                })
                .collect();
            if !sigmas.is_empty() {
                out.push(Figure {
                    stem: format!("{}-cdf", file_stem(s.id, regime, "sigma")),
                    title: format!(
                        "{} ({regime}): σ of wake times per broadcast — Nemo Fig. 5/6",
                        s.id
                    ),
                    x_label: format!("σ of wake times ({unit}, log scale)"),
                    y_label: "fraction of broadcasts",
                    series: sigmas,
                });
            }
        }
    }
    out
}

fn unit_label(u: Unit) -> &'static str {
    match u {
        Unit::Ns => "ns",
        Unit::Cycles => "cycles",
    }
}

/// `(x, fraction ≤ x)` points of the empirical CDF, thinned to about [`CDF_POINTS`]. Zero
/// values sit at `floor` (a log axis has no 0).
fn cdf_points(values: &[u64], floor: f64) -> Vec<(f64, f64)> {
    let mut v = values.to_vec();
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(CDF_POINTS).max(1);
    let mut pts: Vec<(f64, f64)> = (0..n)
        .step_by(step)
        .map(|i| ((v[i] as f64).max(floor), (i + 1) as f64 / n as f64))
        .collect();
    pts.push(((v[n - 1] as f64).max(floor), 1.0));
    pts
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> Result<(), String> {
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{}: {e}", fig.stem);
    root.fill(&WHITE).map_err(err)?;
    let all = fig.series.iter().flat_map(|s| s.values.iter().copied());
    let (lo, hi) = all.fold((u64::MAX, 0u64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Log axis: start one notch below the smallest positive sample.
    let floor = (lo.max(1) as f64) / 1.5;
    let top = (hi.max(2) as f64) * 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(&fig.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(64)
        .build_cartesian_2d((floor..top).log_scale(), 0f64..1.0f64)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(fig.y_label)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|x| human(*x))
        .y_label_formatter(&|y| format!("{y:.1}"))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    for (i, s) in fig.series.iter().enumerate() {
        let color = color(i);
        chart
            .draw_series(LineSeries::new(
                cdf_points(&s.values, floor),
                color.stroke_width(2),
            ))
            .map_err(err)?
            .label(&s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .label_font((FONT, 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Draws one curve figure, each axis linear or logarithmic as its curve says.
fn draw_panel<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    panel: &Panel,
) -> Result<(), String> {
    let points = || panel.lines.iter().flat_map(|l| l.points.iter());
    let (x_lo, x_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.x), hi.max(p.x))
    });
    let (y_lo, y_hi) = points().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.lo), hi.max(p.hi))
    });
    if x_lo > x_hi {
        return Err(format!("{}: no points", panel.stem()));
    }
    let c = panel.curve;
    // A log axis spans at least a decade and a notch more than its values, with a tick at 1,
    // 2 and 5 times each power of ten (plotters' own choice can leave a short span with one
    // tick, or none); a linear one starts at 0 or below.
    let log_axis = |lo: f64, hi: f64| {
        let (lo, hi) = (lo.max(1e-3), hi.max(lo.max(1e-3)));
        let widen = (10.0 / (hi / lo)).max(1.0).sqrt();
        let range = (lo / widen / 1.5)..(hi * widen * 1.5);
        let ticks = one_two_five(range.start, range.end);
        range.log_scale().with_key_points(ticks)
    };
    let linear_range = |lo: f64, hi: f64| {
        let pad = ((hi - lo.min(0.0)) * 0.08).max(1e-3);
        (lo.min(0.0) - if lo < 0.0 { pad } else { 0.0 })..(hi + pad)
    };
    match (c.x_log, c.y_log) {
        (true, true) => draw_panel_on(root, panel, log_axis(x_lo, x_hi), log_axis(y_lo, y_hi)),
        (true, false) => draw_panel_on(root, panel, log_axis(x_lo, x_hi), linear_range(y_lo, y_hi)),
        (false, true) => draw_panel_on(root, panel, linear_range(x_lo, x_hi), log_axis(y_lo, y_hi)),
        (false, false) => draw_panel_on(
            root,
            panel,
            linear_range(x_lo, x_hi),
            linear_range(y_lo, y_hi),
        ),
    }
}

/// The dash patterns of a curve figure's variants, in pixels drawn and skipped (`None`: solid).
const DASHES: [Option<(i32, i32)>; 4] = [None, Some((10, 6)), Some((3, 4)), Some((16, 4))];

/// 1, 2 and 5 times the powers of ten within `[lo, hi]` (both positive).
fn one_two_five(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    for e in first..=last {
        for m in [1.0, 2.0, 5.0] {
            let t = m * 10f64.powi(e);
            if (lo..=hi).contains(&t) {
                ticks.push(t);
            }
        }
    }
    ticks
}

fn draw_panel_on<DB, X, Y>(
    root: DrawingArea<DB, Shift>,
    panel: &Panel,
    x: X,
    y: Y,
) -> Result<(), String>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let stem = panel.stem();
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{stem}: {e}");
    root.fill(&WHITE).map_err(err)?;
    // The legend gets a column of its own: a curve figure has up to a line per mechanism and
    // variant, more than fit over the data.
    let (plot_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&plot_area)
        .caption(panel.title(), (FONT, 20))
        .margin(16)
        .x_label_area_size(52)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(panel.curve.x_label)
        .y_desc(panel.curve.y_label)
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .x_label_formatter(&|x| axis_number(*x))
        .y_label_formatter(&|y| axis_number(*y))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    // A colour per mechanism and a dash pattern per variant, so that a figure of a dozen
    // lines (mechanisms × quanta) stays readable.
    let mut mechanisms: Vec<&str> = Vec::new();
    let mut variants: Vec<&str> = Vec::new();
    for line in &panel.lines {
        if !mechanisms.contains(&line.mechanism) {
            mechanisms.push(line.mechanism);
        }
        if !variants.contains(&line.variant.as_str()) {
            variants.push(&line.variant);
        }
    }
    let index = |list: &[&str], item: &str| list.iter().position(|x| *x == item).unwrap_or(0);
    for (i, line) in panel.lines.iter().enumerate() {
        let color = color(index(&mechanisms, line.mechanism));
        let dash = DASHES[index(&variants, &line.variant) % DASHES.len()];
        let xy = |p: &curves::Point| (p.x, p.y);
        match dash {
            None => chart
                .draw_series(LineSeries::new(
                    line.points.iter().map(xy),
                    color.stroke_width(2),
                ))
                .map_err(err)?,
            Some((on, off)) => chart
                .draw_series(DashedLineSeries::new(
                    line.points.iter().map(xy),
                    on,
                    off,
                    color.stroke_width(2),
                ))
                .map_err(err)?,
        };
        chart
            .draw_series(
                line.points
                    .iter()
                    .map(|p| Circle::new(xy(p), 4, color.filled())),
            )
            .map_err(err)?;
        // The range over the repetitions, where there is one.
        chart
            .draw_series(
                line.points.iter().filter(|p| p.hi > p.lo).map(|p| {
                    ErrorBar::new_vertical(p.x, p.lo, p.y, p.hi, color.stroke_width(1), 8)
                }),
            )
            .map_err(err)?;
        let y = 60 + 24 * i as i32;
        let (on, off) = dash.unwrap_or((24, 0));
        let mut x = 4;
        while x < 28 {
            legend_area
                .draw(&PathElement::new(
                    vec![(x, y), ((x + on).min(28), y)],
                    color.stroke_width(3),
                ))
                .map_err(err)?;
            x += on + off;
        }
        legend_area
            .draw(&Text::new(line.name.as_str(), (34, y - 8), (FONT, 14)))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

/// Distinct, print-safe line colours (Tableau 10), cycling.
fn color(i: usize) -> RGBAColor {
    const TABLEAU: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (214, 39, 40),
        (44, 160, 44),
        (255, 127, 14),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (23, 190, 207),
        (127, 127, 127),
        (188, 189, 34),
    ];
    let (r, g, b) = TABLEAU[i % TABLEAU.len()];
    RGBColor(r, g, b).to_rgba()
}

/// Axis tick text: 1, 10, 100, 1k, 10k, 1M.
fn human(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.0}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.0}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// Tick text of a curve's axes: [`human`] from 1000 on, fewer digits the larger the number.
fn axis_number(x: f64) -> String {
    let a = x.abs();
    if a >= 1e3 {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{sign}{}", human(a))
    } else if a >= 10.0 || x == x.round() {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_reaches_one_and_is_monotone() {
        let v: Vec<u64> = (0..5000).rev().collect();
        let pts = cdf_points(&v, 0.5);
        assert!(pts.len() <= CDF_POINTS + 2);
        assert_eq!(pts.last().map(|p| p.1), Some(1.0));
        assert_eq!(pts[0].0, 0.5, "zero sits at the floor");
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
    }

    #[test]
    fn curve_figures_are_written_as_svg_and_png() {
        use super::super::curves::fixture::{report, row};
        let dir = std::env::temp_dir().join(format!("nemo-bench-curves-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let r = report(vec![
            row("preempt", "nemo_poll", "fib 5us", &[9.0, 7.0, 8.0]),
            row("preempt", "nemo_poll", "fib 20us", &[2.0]),
            row("preempt", "nemo_signal", "fib 20us anywhere", &[-1.0]),
            row("hol", "nemo_poll", "50% q20us", &[1000.0]),
            row("hol", "nemo_poll", "90% q20us", &[30_000.0, 20_000.0]),
        ]);
        let written = write(&r, &dir).expect("figures");
        for stem in ["preempt-fib-slowdown_pct", "hol-all-get_p99"] {
            let svg = std::fs::read_to_string(dir.join(format!("{stem}.svg"))).expect("SVG");
            assert!(
                svg.contains("<svg") && svg.contains("nemo_poll"),
                "{stem}.svg"
            );
            let png = std::fs::read(dir.join(format!("{stem}.png"))).expect("PNG");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{stem}.png");
            assert!(written.contains(&dir.join(format!("{stem}.png"))));
        }
        let svg = std::fs::read_to_string(dir.join("preempt-fib-slowdown_pct.svg")).expect("SVG");
        assert!(svg.contains("nemo_signal anywhere") && svg.contains("xUI Fig. 5"));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }

    #[test]
    fn tick_labels() {
        assert_eq!(human(100.0), "100");
        assert_eq!(human(10_000.0), "10k");
        assert_eq!(human(2_000_000.0), "2M");
        assert_eq!(axis_number(0.25), "0.25");
        assert_eq!(axis_number(2.5), "2.5");
        assert_eq!(axis_number(-40.0), "-40");
        assert_eq!(axis_number(0.0), "0");
        assert_eq!(axis_number(5.0), "5");
        assert_eq!(one_two_five(3.3, 150.0), [5.0, 10.0, 20.0, 50.0, 100.0]);
        assert_eq!(one_two_five(0.9, 1.1), [1.0]);
        assert_eq!(axis_number(20_000.0), "20k");
    }
}
