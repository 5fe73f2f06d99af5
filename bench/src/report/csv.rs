//! `--csv DIR`: the raw samples behind every CDF, one file per scenario, regime and mechanism
//! (`unicast-short-gap-futex.csv`), plus the per-broadcast first/last/σ for broadcast rows
//! (`broadcast-short-gap-futex-sigma.csv`).

use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use super::{Report, file_stem};
use crate::samples::Samples;
use crate::stats::per_broadcast;

/// Writes every measured row's samples into `dir`; returns the files written.
pub fn write(report: &Report, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for r in &report.rows {
        let Some(m) = r.measured() else { continue };
        let unit = r.unit.as_str();
        let stem = file_stem(r.scenario, &r.regime, r.mechanism);
        let mut text = String::new();
        match &m.measurement.samples {
            Samples::Latency(v) => {
                let _ = writeln!(text, "event,latency_{unit}");
                for (i, x) in v.iter().enumerate() {
                    let _ = writeln!(text, "{i},{x}");
                }
            }
            Samples::Broadcast(w) => {
                let _ = writeln!(text, "broadcast,waiter,latency_{unit}");
                let n = w.iter().map(Vec::len).min().unwrap_or(0);
                for b in 0..n {
                    for (i, lat) in w.iter().enumerate() {
                        let _ = writeln!(text, "{b},{i},{}", lat[b]);
                    }
                }
                let per = per_broadcast(w);
                let mut sigma = format!("broadcast,first_{unit},last_{unit},sigma_{unit}\n");
                for b in 0..per.first.len() {
                    let _ = writeln!(
                        sigma,
                        "{b},{},{},{}",
                        per.first[b], per.last[b], per.sigma[b]
                    );
                }
                let path = dir.join(format!("{stem}-sigma.csv"));
                std::fs::write(&path, sigma)?;
                written.push(path);
            }
        }
        let path = dir.join(format!("{stem}.csv"));
        std::fs::write(&path, text)?;
        written.push(path);
    }
    Ok(written)
}
