//! `--json PATH`: the document BENCHMARKS.md specifies.
//!
//! Every row has the schema's keys; a skipped row has `"skipped": reason` and a failed one
//! `"error": reason`, with `null` statistics, so no mechanism silently disappears. Beyond the
//! schema each row says `kind`, `gap_us`, `oversubscribed` and `pinned`.

use serde_json::{Map, Value, json};

use super::targets::{self, Judged};
use super::{Outcome, Report, Row};

/// The report as a JSON value.
pub fn to_value(report: &Report) -> Value {
    let m = &report.machine;
    json!({
        "machine": {
            "cpu": m.cpu,
            "cores": m.cores,
            "kernel": m.kernel,
            "backend": m.backend,
            "backend_reason": m.backend_reason,
            "tsc_ghz": m.tsc_ghz,
            "clock": m.clock,
            "static_binary": m.static_binary,
        },
        "profile": report.profile.as_str(),
        "waiter_cpu_unavailable": report.waiter_cpu_unavailable(),
        "repetitions": report
            .scenarios
            .iter()
            .map(|s| (s.id.to_string(), json!(s.repetitions)))
            .collect::<Map<_, _>>(),
        "interval_method": crate::interval::METHOD,
        "results": report.rows.iter().map(|r| row(report, r)).collect::<Vec<_>>(),
        "targets": targets::judge(report).iter().map(target).collect::<Vec<_>>(),
    })
}

/// The keys every row carries about its ratio to its baseline.
pub const RATIO_KEYS: [&str; 6] = [
    "baseline",
    "ratio_of",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
    "repetitions",
];

fn target(j: &Judged) -> Value {
    let t = &j.target;
    let (ratio, low, high, reps, verdict) = match &j.outcome {
        Some((r, v)) => (
            json!(round3(r.median)),
            json!(r.interval.map(|i| round3(i.low))),
            json!(r.interval.map(|i| round3(i.high))),
            json!(r.repetitions),
            json!(v.as_str()),
        ),
        None => (
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
            json!("not measured"),
        ),
    };
    json!({
        "scenario": t.scenario,
        "regime": t.regime,
        "mechanism": t.mechanism,
        "versus": t.versus,
        "versus_regime": t.versus_regime,
        "statistic": t.stat.as_str(),
        "versus_statistic": t.versus_stat.as_str(),
        "bound": t.bound,
        "bound_is": if t.at_least { "at_least" } else { "at_most" },
        "ratio": ratio,
        "ratio_ci_low": low,
        "ratio_ci_high": high,
        "repetitions": reps,
        "verdict": verdict,
    })
}

/// The report as pretty JSON text.
pub fn to_string(report: &Report) -> String {
    // Serialising a `Value` cannot fail (all keys are strings).
    serde_json::to_string_pretty(&to_value(report)).unwrap_or_default()
}

/// The statistics keys every row carries.
pub const STAT_KEYS: [&str; 9] = [
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

/// The keys broadcast rows add.
pub const BROADCAST_KEYS: [&str; 4] = ["waiters", "first_p50", "last_p50", "sigma_p50"];

/// Three decimals: sub-picosecond digits of a nanosecond mean are noise, not information.
fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn row(report: &Report, r: &Row) -> Value {
    let mut o = Map::new();
    o.insert("scenario".into(), r.scenario.into());
    o.insert("mechanism".into(), r.mechanism.into());
    o.insert("kind".into(), r.kind.as_str().into());
    o.insert("unit".into(), r.unit.as_str().into());
    o.insert("regime".into(), r.regime.clone().into());
    o.insert("gap_us".into(), json!(r.gap_us));
    o.insert("oversubscribed".into(), r.oversubscribed.into());
    if let Some(n) = &r.note {
        o.insert("note".into(), n.clone().into());
    }
    // `am` has a `broadcast` regime, which may have a single target on a small machine.
    let broadcast_case = r.scenario == "broadcast" || r.regime == "broadcast" || r.receivers > 1;
    match &r.outcome {
        Outcome::Measured(m) => {
            let s = &m.summary;
            o.insert("pinned".into(), m.measurement.pinned.into());
            o.insert("n".into(), s.n.into());
            o.insert("min".into(), s.min.into());
            o.insert("p50".into(), s.p50.into());
            o.insert("p90".into(), s.p90.into());
            o.insert("p99".into(), s.p99.into());
            o.insert("max".into(), s.max.into());
            o.insert("mean".into(), json!(round3(s.mean)));
            o.insert("stddev".into(), json!(round3(s.stddev)));
            o.insert(
                "waiter_cpu_ns_per_event".into(),
                json!(m.measurement.waiter_cpu_ns_per_event.map(round3)),
            );
            if let Some(b) = &m.broadcast {
                o.insert("waiters".into(), b.waiters.into());
                o.insert("broadcasts".into(), b.last.n.into());
                o.insert("first_p50".into(), b.first.p50.into());
                o.insert("last_p50".into(), b.last.p50.into());
                o.insert("sigma_p50".into(), b.sigma.p50.into());
                o.insert("first_p99".into(), b.first.p99.into());
                o.insert("last_p99".into(), b.last.p99.into());
                o.insert("sigma_p99".into(), b.sigma.p99.into());
            }
            o.insert("repetitions".into(), m.repetitions.len().into());
            let base = report.baseline_for(r);
            let ratio = report.ratio(r, m.headline());
            o.insert(
                "baseline".into(),
                json!(base.map(|_| report_baseline(report, r))),
            );
            o.insert("ratio_of".into(), m.headline().as_str().into());
            o.insert("ratio".into(), json!(ratio.map(|x| round3(x.median))));
            let interval = ratio.and_then(|x| x.interval);
            o.insert(
                "ratio_ci_low".into(),
                json!(interval.map(|i| round3(i.low))),
            );
            o.insert(
                "ratio_ci_high".into(),
                json!(interval.map(|i| round3(i.high))),
            );
            if m.measurement.clamped > 0 {
                o.insert("clamped".into(), m.measurement.clamped.into());
            }
            for (k, v) in &m.measurement.extra {
                o.insert((*k).into(), json!(v));
            }
        }
        Outcome::Skipped(why) | Outcome::Failed(why) => {
            for k in STAT_KEYS.iter().chain(&RATIO_KEYS) {
                o.insert((*k).into(), Value::Null);
            }
            if broadcast_case {
                o.insert("waiters".into(), r.receivers.into());
                for k in &BROADCAST_KEYS[1..] {
                    o.insert((*k).into(), Value::Null);
                }
            }
            let key = if matches!(r.outcome, Outcome::Skipped(_)) {
                "skipped"
            } else {
                "error"
            };
            o.insert(key.into(), why.clone().into());
        }
    }
    Value::Object(o)
}

fn report_baseline(report: &Report, r: &Row) -> &'static str {
    report
        .scenarios
        .iter()
        .find(|s| s.id == r.scenario)
        .map_or("", |s| s.baseline_of(r.mechanism))
}
