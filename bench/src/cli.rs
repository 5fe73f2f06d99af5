//! The command line, and turning it into a run.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use crate::clock::Clock;
use crate::harness::Context;
use crate::machine::Machine;
use crate::placement::Topology;
use crate::plan::{DEFAULT_SHORT_GAP, Plan, Profile};
use crate::report::{self, Report};
use crate::runner::{self, Selection};
use crate::scenarios::real;
use crate::{mechanisms, scenarios};

const AFTER_HELP: &str = "\
With no arguments: a quick run of every scenario that can run here, one table per scenario with \
each mechanism's ratio to the scenario's baseline, absolute times, and the waiter CPU per event.

Regimes: short-gap (the next event comes --short-gap-us after the waiter is ready: a waiter with \
a spin window is still spinning) and long-gap (--gap-us: every waiter has parked).
Use --list for the scenarios and mechanisms and whether each can run here.";

/// The papers' event-notification comparisons, side by side on this machine.
#[derive(Debug, Parser)]
#[command(name = "nemo-bench", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Scenarios to run (default: all). See --list.
    #[arg(value_name = "SCENARIO", value_parser = scenario_name)]
    pub scenarios: Vec<String>,

    /// A short run (a few seconds) for CI and checks; no progress bar.
    #[arg(long, conflicts_with = "sim")]
    pub quick: bool,

    /// The gem5 syscall-emulation profile: few events, raw TSC cycles, no signals, no sleeping,
    /// pinning failures tolerated.
    #[arg(long)]
    pub sim: bool,

    /// Measured events per case (overrides the profile's counts).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub iters: Option<usize>,

    /// Runs each case N times, the mechanisms interleaved (A B C A B C …; in unicast's long gap
    /// the parking ones take turns event by event), and reports every ratio as the median of
    /// the N paired ratios with a 95 % bootstrap interval (default: the scenario's own count,
    /// see --list; 1 with --quick and --sim).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub repeat: Option<usize>,

    /// Waiters in multi-waiter scenarios (default: every core but the signaller's, at least 2;
    /// at least 1 with --sim, where every thread needs a simulated core).
    #[arg(long, value_name = "N", value_parser = at_least_one)]
    pub waiters: Option<usize>,

    /// The long gap between events, in µs (long-gap regime; default 1000, 100 with --sim).
    #[arg(long = "gap-us", value_name = "N", value_parser = at_least_one)]
    pub gap_us: Option<usize>,

    /// The short gap between events, in µs (short-gap regime; default 2).
    #[arg(long = "short-gap-us", value_name = "N")]
    pub short_gap_us: Option<usize>,

    /// Comma-separated mechanisms to compare (default: every one that applies).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = mechanism_name)]
    pub mechanisms: Option<Vec<String>>,

    /// Write the results as JSON (BENCHMARKS.md's schema) to PATH.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// Write raw samples as CSV files into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub csv: Option<PathBuf>,

    /// Write CDF figures as SVG and PNG into DIR (created if missing).
    #[arg(long, value_name = "DIR")]
    pub plot: Option<PathBuf>,

    /// List the scenarios and mechanisms, and whether each can run here, then exit.
    #[arg(long)]
    pub list: bool,

    /// `real` only: also run every program next to one CPU-hog thread per CPU.
    #[arg(long)]
    pub background_load: bool,

    /// `real` only: comma-separated programs (default: all). See --list.
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = real_program)]
    pub programs: Option<Vec<String>>,
}

/// Errors that end a run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad option values the parser could not catch alone.
    #[error("{0}")]
    Usage(String),
    /// An output path cannot be written.
    #[error("cannot write {path}: {source}")]
    Output {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Drawing a figure failed.
    #[error("cannot draw figures: {0}")]
    Plot(String),
    /// The library cannot choose its notification backend (a bad `NEMO_BACKEND`).
    #[error("{0}")]
    Backend(#[from] crate::machine::BackendError),
}

fn scenario_name(s: &str) -> Result<String, String> {
    match scenarios::find(s) {
        Some(_) => Ok(s.to_string()),
        None if s == real::ID => Ok(s.to_string()),
        None => Err(format!(
            "unknown scenario '{s}'; valid: {}, {}",
            scenarios::ids().join(", "),
            real::ID
        )),
    }
}

fn real_program(s: &str) -> Result<String, String> {
    if real::PROGRAMS.contains(&s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "unknown program '{s}'; valid: {}",
            real::PROGRAMS.join(", ")
        ))
    }
}

fn mechanism_name(s: &str) -> Result<String, String> {
    match mechanisms::find(s) {
        Some(_) => Ok(s.to_string()),
        None => Err(format!(
            "unknown mechanism '{s}'; valid: {}",
            mechanisms::ids().join(", ")
        )),
    }
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number: {e}")),
    }
}

impl Cli {
    fn profile(&self) -> Profile {
        if self.sim {
            Profile::Sim
        } else if self.quick {
            Profile::Quick
        } else {
            Profile::Full
        }
    }

    /// The scenarios and mechanisms named (in order, duplicates removed).
    pub fn selection(&self) -> Selection {
        let mut s = Selection::all();
        if !self.scenarios.is_empty() {
            s.scenarios.clear();
            for id in &self.scenarios {
                if let Some(sc) = scenarios::find(id)
                    && !s.scenarios.iter().any(|x| x.id() == sc.id())
                {
                    s.scenarios.push(sc);
                }
            }
        }
        if let Some(ids) = &self.mechanisms {
            let mut ms: Vec<&'static mechanisms::Mechanism> = Vec::new();
            for id in ids {
                if let Some(m) = mechanisms::find(id)
                    && !ms.iter().any(|x| x.id() == m.id())
                {
                    ms.push(m);
                }
            }
            s.mechanisms = Some(ms);
        }
        s
    }

    /// The plan for `cores` cores.
    pub fn plan(&self, cores: usize) -> Result<Plan, BenchError> {
        let mut p = Plan::new(self.profile(), cores);
        // gem5's syscall emulation runs one thread per core and fails a `clone` with no idle
        // core, so under --sim the signaller and every waiter need a simulated core each.
        if p.profile == Profile::Sim
            && let Some(w) = self.waiters
            && w >= cores
        {
            let fewer = match cores.saturating_sub(1) {
                0 => String::new(),
                most => format!(" or use --waiters {most} or fewer"),
            };
            return Err(BenchError::Usage(format!(
                "--sim --waiters {w}: 1 signaller + {w} waiters need {} simulated cores, but \
                 the machine has {cores}; give gem5 --cores {}{fewer}",
                w + 1,
                w + 1,
            )));
        }
        p.iters = self.iters;
        p.waiters = self.waiters;
        p.named = self.scenarios.clone();
        p.repeat = self.repeat;
        p.long_gap = self
            .gap_us
            .map_or(p.long_gap, |us| Duration::from_micros(us as u64));
        p.short_gap = self
            .short_gap_us
            .map_or(DEFAULT_SHORT_GAP, |us| Duration::from_micros(us as u64));
        if p.short_gap >= p.long_gap {
            return Err(BenchError::Usage(format!(
                "the short gap ({} µs) must be shorter than the long gap ({} µs)",
                p.short_gap.as_micros(),
                p.long_gap.as_micros()
            )));
        }
        Ok(p)
    }
}

/// Opened outputs, checked before any measurement so a bad path fails in a second, not after
/// the run.
struct Outputs {
    json: Option<(PathBuf, File)>,
    csv: Option<PathBuf>,
    plot: Option<PathBuf>,
}

fn writable_dir(dir: &Path) -> Result<PathBuf, BenchError> {
    let out = |source| BenchError::Output {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(out)?;
    let probe = dir.join(".nemo-bench-write-test");
    File::create(&probe).map_err(out)?;
    std::fs::remove_file(&probe).map_err(out)?;
    Ok(dir.to_path_buf())
}

/// The file `--json` names, created (or truncated), with its path for error messages.
fn create_json(cli: &Cli) -> Result<Option<(PathBuf, File)>, BenchError> {
    cli.json
        .as_ref()
        .map(|p| {
            File::create(p)
                .map(|f| (p.clone(), f))
                .map_err(|source| BenchError::Output {
                    path: p.clone(),
                    source,
                })
        })
        .transpose()
}

impl Outputs {
    fn open(cli: &Cli) -> Result<Outputs, BenchError> {
        Ok(Outputs {
            json: create_json(cli)?,
            csv: cli.csv.as_deref().map(writable_dir).transpose()?,
            plot: cli.plot.as_deref().map(writable_dir).transpose()?,
        })
    }

    fn write(self, report: &Report) -> Result<(), BenchError> {
        if let Some((path, mut f)) = self.json {
            let text = report::json::to_string(report);
            f.write_all(text.as_bytes())
                .and_then(|_| f.write_all(b"\n"))
                .map_err(|source| BenchError::Output { path, source })?;
        }
        if let Some(dir) = self.csv {
            let files = report::csv::write(report, &dir).map_err(|source| BenchError::Output {
                path: dir.clone(),
                source,
            })?;
            eprintln!("wrote {} CSV files to {}", files.len(), dir.display());
        }
        if let Some(dir) = self.plot {
            let files = report::plot::write(report, &dir).map_err(BenchError::Plot)?;
            eprintln!("wrote {} figures to {}", files.len(), dir.display());
        }
        Ok(())
    }
}

/// What a finished run says: whether every row completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// Every row was measured or skipped.
    Ok,
    /// Some row failed (its error is in the table and JSON).
    SomeFailed,
}

/// Runs the command line: prints tables (or the list) to stdout, writes the outputs.
pub fn run(cli: &Cli) -> Result<Completion, BenchError> {
    if cli.list {
        print!("{}", list(cli.sim));
        return Ok(Completion::Ok);
    }
    let wants_real = cli.scenarios.iter().any(|s| s == real::ID);
    if !wants_real && (cli.background_load || cli.programs.is_some()) {
        return Err(BenchError::Usage(
            "--background-load and --programs apply to the real scenario only".to_string(),
        ));
    }
    let only_real = wants_real && cli.scenarios.iter().all(|s| s == real::ID);
    if wants_real && !only_real && cli.json.is_some() {
        return Err(BenchError::Usage(
            "the real scenario writes its own JSON: run it alone with --json".to_string(),
        ));
    }
    if wants_real {
        let failed = run_real(cli)?;
        if only_real {
            return Ok(if failed {
                Completion::SomeFailed
            } else {
                Completion::Ok
            });
        }
    }
    // A misconfigured backend fails before anything is measured or written.
    crate::machine::backend_info()?;
    let topology = Topology::detect();
    let plan = cli.plan(topology.cores())?;
    let outputs = Outputs::open(cli)?;
    let clock = match plan.profile {
        Profile::Sim => Clock::cycles(Duration::from_micros(200)),
        Profile::Quick => Clock::native(Duration::from_millis(10)),
        Profile::Full => Clock::native(Duration::from_millis(50)),
    };
    let ctx = Context {
        clock,
        topology: topology.clone(),
        sim: plan.profile == Profile::Sim,
        timeout: Duration::from_secs(5),
    };
    let machine = Machine::describe(&clock, &topology)?;
    let progress = plan.profile == Profile::Full && std::io::stderr().is_terminal();
    let report = runner::run(&ctx, &plan, &cli.selection(), machine, progress);
    print!("{}", report::table::render(&report));
    outputs.write(&report)?;
    Ok(if report.any_failed() {
        Completion::SomeFailed
    } else {
        Completion::Ok
    })
}

/// The real scenario, as the command line asks; returns whether some row failed.
fn run_real(cli: &Cli) -> Result<bool, BenchError> {
    let quick = cli.quick || cli.sim;
    let shim = mechanisms::preload_cond::candidates()
        .into_iter()
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{} not found; build it with `cargo build --release -p libnemo-preload` or set {}",
                mechanisms::preload_cond::LIB_NAME,
                mechanisms::preload_cond::LIB_ENV
            )
        });
    let opts = real::Options {
        programs: cli
            .programs
            .clone()
            .unwrap_or_else(|| real::PROGRAMS.map(String::from).to_vec()),
        pairs: cli.iters.unwrap_or(if quick { 2 } else { 10 }),
        size: if quick {
            real::Size::Quick
        } else {
            real::Size::Full
        },
        background_load: cli.background_load,
        shim,
        dir: std::env::temp_dir().join("nemo-bench-real"),
        limit: Duration::from_secs(300),
    };
    let json = create_json(cli)?;
    if let Ok(shim) = &opts.shim {
        eprintln!(
            "real: {} pair(s) per program and regime, shim {}, inputs in {}",
            opts.pairs,
            shim.display(),
            opts.dir.display()
        );
    }
    let rows = real::run(&opts);
    print!("{}", real::render(&rows));
    if let Some((path, mut f)) = json {
        let text = real::to_json(&rows).to_string();
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .map_err(|source| BenchError::Output { path, source })?;
    }
    Ok(rows
        .iter()
        .any(|r| matches!(r.result, Err(real::NotRun::Failed(_)))))
}

/// `--list`: scenarios and mechanisms, with availability on this machine.
pub fn list(sim: bool) -> String {
    use std::fmt::Write as _;
    let topology = Topology::detect();
    let plan = Plan::new(
        if sim { Profile::Sim } else { Profile::Quick },
        topology.cores(),
    );
    let ctx = Context {
        clock: Clock::monotonic(),
        topology,
        sim,
        timeout: Duration::from_secs(1),
    };
    let mut out = String::from("scenarios:\n");
    for s in scenarios::SCENARIOS {
        let regimes: Vec<String> = s.cases(&plan).into_iter().map(|c| c.regime).collect();
        let _ = writeln!(
            out,
            "  {:<12} {} [{}]; baseline {}; regimes {}; repeat {}",
            s.id,
            s.about,
            s.figures,
            s.baseline,
            regimes.join(", "),
            s.repeat.full
        );
    }
    let _ = writeln!(
        out,
        "  {:<12} {}; programs {}; not in the default run",
        real::ID,
        real::ABOUT,
        real::PROGRAMS.join(", ")
    );
    let _ = writeln!(
        out,
        "\nmechanisms ({} cores here{}):",
        ctx.topology.cores(),
        if sim { ", --sim" } else { "" }
    );
    for m in mechanisms::MECHANISMS {
        let takes = |s: &&scenarios::Scenario| s.takes(m);
        let applies: Vec<&str> = scenarios::SCENARIOS
            .iter()
            .filter(takes)
            .map(|s| s.id)
            .collect();
        // Available if some case of the first scenario that takes the mechanism can run it
        // (a mechanism may apply to one regime only); otherwise the reason its simplest case
        // (fewest receivers) gives.
        let state = scenarios::SCENARIOS
            .iter()
            .find(takes)
            .and_then(|s| {
                let mut cases = s.cases(&plan);
                cases.sort_by_key(|c| c.receivers);
                let mut first_reason = None;
                for case in &cases {
                    match runner::availability(m, &runner::setup(&ctx, s.id, case)) {
                        Ok(()) => return Some("available".to_string()),
                        Err(why) => {
                            first_reason.get_or_insert(why);
                        }
                    }
                }
                first_reason.map(|why| format!("skipped: {why}"))
            })
            .unwrap_or_else(|| "no scenario takes it".to_string());
        let _ = writeln!(
            out,
            "  {:<14} {:<9} {}\n  {:<14} {:<9} applies to: {}; {}",
            m.id(),
            m.kind().as_str(),
            m.about(),
            "",
            "",
            applies.join(", "),
            state
        );
    }
    out
}
