//! `real`: unmodified multithreaded programs from Debian, with and without
//! `LD_PRELOAD=libnemo_preload.so` — whether the shim makes a real program faster, slower, or
//! hotter.
//!
//! Not one of the papers' figures, and not in the default run (it needs packages and takes
//! minutes): `nemo-bench real`. It does not fit the [`Scenario`](super::Scenario) shape (no
//! in-process mechanism, no event latency), so the command line runs it on its own.
//!
//! Invariants:
//! - Runs come in **pairs**, one without and one with the shim, their order alternating from
//!   pair to pair, so that drift in the machine's load hits both sides alike. Every ratio is
//!   shim ÷ plain *within a pair*; the reported value is the median over pairs and its 95 %
//!   interval is a percentile bootstrap over pairs ([`interval`]).
//! - Wall time is measured around `spawn` … `wait4`; CPU time is the child's user + system time
//!   from `wait4`'s `rusage` (its threads included, the bench's own threads not).
//! - The output of every run is hashed; a shim run whose output differs from its plain run is a
//!   failed row, never a ratio — except for x264, whose frame-threaded output varies from run
//!   to run with glibc alone.
//! - A program or input tool that is missing makes a skipped row with the reason.
//! - `--background-load` adds a second regime with one CPU-hog thread per online CPU, started
//!   before and stopped after that regime's pairs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod child;
mod inputs;
mod interval;
mod report;

pub use child::{Run, run_once};
pub use interval::{BOOTSTRAP, Interval, interval};
pub use report::{ShimCounters, parse_counters, render, to_json};

use inputs::{clip, text, y4m};
use interval::median;

/// The id on the command line.
pub const ID: &str = "real";

/// One line: what is measured.
pub const ABOUT: &str = "wall and CPU time of real programs (CPython, ffmpeg, x264, xz, pigz, zstd) \
     with LD_PRELOAD=libnemo_preload.so ÷ without, interleaved pairs (opt-in)";

/// The issue-21 target: wall ratio median and interval upper end, CPU ratio median.
pub const TARGET_WALL: f64 = 1.02;
/// The upper end of the wall interval the target allows.
pub const TARGET_WALL_HIGH: f64 = 1.05;
/// The CPU ratio the target allows.
pub const TARGET_CPU: f64 = 1.05;

/// The CPython program: two threads passing items through `queue.Queue`, so every handoff
/// goes through the interpreter lock's condition variable.
const PYTHON_QUEUE: &str = "\
import queue, sys, threading
n = int(sys.argv[1])
to_worker, to_main = queue.Queue(), queue.Queue()
def worker():
    while True:
        x = to_worker.get()
        if x is None:
            return
        to_main.put(x + 1)
t = threading.Thread(target=worker)
t.start()
total = 0
for i in range(n):
    to_worker.put(i)
    total += to_main.get()
to_worker.put(None)
t.join()
print(total)
";

/// How big a run's inputs are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// About a second per program run.
    Full,
    /// A tenth of that, for checks.
    Quick,
}

/// One program and how to run it.
#[derive(Clone, Debug)]
pub struct Program {
    /// Row id.
    pub id: String,
    /// The command; `argv[0]` is an absolute path.
    pub argv: Vec<OsString>,
    /// Whether its output is the same on every run, so that a shim run's output must equal
    /// its plain run's.
    pub deterministic: bool,
}

/// Why a program has no row of numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum NotRun {
    /// It cannot run here (missing program or input tool).
    Skipped(String),
    /// A run failed, or outputs differed.
    Failed(String),
}

/// The rows' ids, in run order.
pub const PROGRAMS: [&str; 6] = [
    "python_queue",
    "ffmpeg_decode",
    "x264_encode",
    "xz",
    "pigz",
    "zstd",
];

/// Finds `name` on `PATH` (or takes an absolute path as it is).
fn which(name: &str) -> Option<PathBuf> {
    let p = Path::new(name);
    if p.is_absolute() {
        return p.is_file().then(|| p.to_path_buf());
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|c| c.is_file())
}

fn need(name: &str, package: &str) -> Result<PathBuf, NotRun> {
    which(name).ok_or_else(|| {
        NotRun::Skipped(format!(
            "{name} not found (Debian package {package}; .ci/install-deps installs it)"
        ))
    })
}

/// The program `id`, with its inputs made in `dir` (once; reused by later runs).
pub fn program(id: &str, dir: &Path, size: Size) -> Result<Program, NotRun> {
    let scale = |full: usize| match size {
        Size::Full => full,
        Size::Quick => (full / 10).max(1),
    };
    let argv: Vec<OsString> = match id {
        "python_queue" => {
            // Debian's interpreter, not a version manager's shim in front of it.
            let py = need("/usr/bin/python3", "python3")?;
            vec![
                py.into(),
                "-c".into(),
                PYTHON_QUEUE.into(),
                scale(50_000).to_string().into(),
            ]
        }
        "ffmpeg_decode" => {
            let ffmpeg = need("ffmpeg", "ffmpeg")?;
            let clip = clip(&ffmpeg, dir, scale(5_000))?;
            let mut a: Vec<OsString> = ["-nostdin", "-loglevel", "error", "-threads", "2", "-i"]
                .map(OsString::from)
                .to_vec();
            a.insert(0, ffmpeg.into());
            a.push(clip.into());
            a.extend(["-f", "md5", "-"].map(OsString::from));
            a
        }
        "x264_encode" => {
            let x264 = need("x264", "x264")?;
            let y4m = y4m(dir, scale(1_500))?;
            let mut a: Vec<OsString> = vec![x264.into()];
            a.extend(
                [
                    "--threads",
                    "2",
                    "--preset",
                    "veryfast",
                    "--quiet",
                    "-o",
                    "-",
                ]
                .map(OsString::from),
            );
            a.push(y4m.into());
            a
        }
        "xz" | "pigz" | "zstd" => {
            let (package, args): (&str, &[&str]) = match id {
                "xz" => ("xz-utils", &["-1", "-T2", "--block-size=1MiB", "-c"]),
                "pigz" => ("pigz", &["-p", "2", "-b", "128", "-c"]),
                _ => ("zstd", &["-q", "-3", "-T2", "-B1MiB", "-c"]),
            };
            let tool = need(id, package)?;
            let input = text(dir, scale(24) << 20)?;
            let mut a: Vec<OsString> = vec![tool.into()];
            a.extend(args.iter().map(OsString::from));
            a.push(input.into());
            a
        }
        other => return Err(NotRun::Skipped(format!("unknown program {other}"))),
    };
    Ok(Program {
        id: id.to_string(),
        argv,
        // x264's frame-threaded output differs between runs with glibc's own condvar too (1 run
        // in 12 next to two CPU hogs on the development machine).
        deterministic: id != "x264_encode",
    })
}

/// One program in one regime.
#[derive(Clone, Debug)]
pub struct Row {
    /// The program.
    pub program: String,
    /// `idle` or `background-load`.
    pub regime: &'static str,
    /// The numbers, or why there are none.
    pub result: Result<Measured, NotRun>,
}

/// A program's pairs, summarised.
#[derive(Clone, Debug)]
pub struct Measured {
    /// Pairs run.
    pub pairs: usize,
    /// Median wall time without the shim, s.
    pub plain_wall_s: f64,
    /// Median CPU time without the shim, s.
    pub plain_cpu_s: f64,
    /// Wall time, shim ÷ plain.
    pub wall: Interval,
    /// CPU time, shim ÷ plain.
    pub cpu: Interval,
    /// From one more shim run with `NEMO_PRELOAD_VERBOSE=2`.
    pub counters: ShimCounters,
}

impl Measured {
    /// Whether the issue-21 target holds.
    pub fn meets_target(&self) -> bool {
        self.wall.median <= TARGET_WALL
            && self.wall.high <= TARGET_WALL_HIGH
            && self.cpu.median <= TARGET_CPU
    }
}

/// Runs `pairs` interleaved pairs of `p` (plain and with `shim`) and one diagnostic shim run.
pub fn measure(
    p: &Program,
    shim: &Path,
    pairs: usize,
    limit: Duration,
) -> Result<Measured, NotRun> {
    let fail = |e: String| NotRun::Failed(e);
    let mut walls = Vec::with_capacity(pairs);
    let mut cpus = Vec::with_capacity(pairs);
    let mut plain_wall = Vec::with_capacity(pairs);
    let mut plain_cpu = Vec::with_capacity(pairs);
    // One unmeasured run warms the page cache and the inputs.
    run_once(p, None, false, limit).map_err(fail)?;
    for i in 0..pairs {
        let (plain, with) = if i % 2 == 0 {
            let a = run_once(p, None, false, limit).map_err(fail)?;
            (a, run_once(p, Some(shim), false, limit).map_err(fail)?)
        } else {
            let b = run_once(p, Some(shim), false, limit).map_err(fail)?;
            (run_once(p, None, false, limit).map_err(fail)?, b)
        };
        if p.deterministic && plain.output != with.output {
            return Err(NotRun::Failed(format!(
                "pair {i}: the output with the shim differs from the output without it"
            )));
        }
        walls.push(with.wall.as_secs_f64() / plain.wall.as_secs_f64().max(1e-9));
        cpus.push(with.cpu.as_secs_f64() / plain.cpu.as_secs_f64().max(1e-6));
        plain_wall.push(plain.wall.as_secs_f64());
        plain_cpu.push(plain.cpu.as_secs_f64());
    }
    let diag = run_once(p, Some(shim), true, limit).map_err(fail)?;
    let none = || NotRun::Failed("no pairs".to_string());
    Ok(Measured {
        pairs,
        plain_wall_s: median(&mut plain_wall),
        plain_cpu_s: median(&mut plain_cpu),
        wall: interval(&walls).ok_or_else(none)?,
        cpu: interval(&cpus).ok_or_else(none)?,
        counters: parse_counters(&diag.stderr),
    })
}

/// One CPU-hog thread per online CPU until dropped.
pub struct BackgroundLoad {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl BackgroundLoad {
    /// Starts `n` hog threads.
    pub fn start(n: usize) -> BackgroundLoad {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut x = 1u64;
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..10_000 {
                            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005));
                        }
                    }
                })
            })
            .collect();
        BackgroundLoad { stop, threads }
    }
}

impl Drop for BackgroundLoad {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Program ids ([`PROGRAMS`] by default).
    pub programs: Vec<String>,
    /// Pairs per program and regime.
    pub pairs: usize,
    /// Input sizes.
    pub size: Size,
    /// Also run every program next to one CPU hog per CPU.
    pub background_load: bool,
    /// The shim; `Err`: why there is none (every row is skipped with it).
    pub shim: Result<PathBuf, String>,
    /// Where inputs are made.
    pub dir: PathBuf,
    /// A run that takes longer is killed (a failed row).
    pub limit: Duration,
}

/// Runs every program in every regime.
pub fn run(opts: &Options) -> Vec<Row> {
    let mut regimes = vec![("idle", false)];
    if opts.background_load {
        regimes.push(("background-load", true));
    }
    let _ = std::fs::create_dir_all(&opts.dir);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut rows = Vec::new();
    for (regime, hog) in regimes {
        let load = hog.then(|| BackgroundLoad::start(cpus));
        for id in &opts.programs {
            let result = match &opts.shim {
                Err(why) => Err(NotRun::Skipped(why.clone())),
                Ok(shim) => program(id, &opts.dir, opts.size)
                    .and_then(|p| measure(&p, shim, opts.pairs, opts.limit)),
            };
            rows.push(Row {
                program: id.clone(),
                regime,
                result,
            });
        }
        drop(load);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn true_program() -> Program {
        Program {
            id: "true".into(),
            argv: vec![which("true").expect("true on PATH").into()],
            deterministic: true,
        }
    }

    #[test]
    fn a_tiny_run_of_a_trivial_program_gives_ratios() {
        // A path that does not exist: the dynamic loader ignores it (with a warning on stderr)
        // and the program runs as it would without.
        let m = measure(
            &true_program(),
            Path::new("/nonexistent/libnemo_preload.so"),
            3,
            Duration::from_secs(30),
        )
        .expect("measured");
        assert_eq!(m.pairs, 3);
        assert!(m.wall.median > 0.0 && m.wall.low <= m.wall.high);
        assert!(m.plain_wall_s > 0.0);
        assert_eq!(m.counters, ShimCounters::default());
    }

    #[test]
    fn differing_outputs_and_failing_programs_are_failed_rows() {
        let date = Program {
            id: "date".into(),
            argv: vec![which("date").expect("date on PATH").into(), "+%N".into()],
            deterministic: true,
        };
        let r = measure(
            &date,
            Path::new("/nonexistent.so"),
            2,
            Duration::from_secs(30),
        );
        assert!(
            matches!(&r, Err(NotRun::Failed(why)) if why.contains("differs")),
            "{r:?}"
        );
        let varies = Program {
            deterministic: false,
            ..date
        };
        assert!(
            measure(
                &varies,
                Path::new("/nonexistent.so"),
                2,
                Duration::from_secs(30)
            )
            .is_ok()
        );
        let f = Program {
            id: "false".into(),
            argv: vec![which("false").expect("false on PATH").into()],
            deterministic: true,
        };
        let r = run_once(&f, None, false, Duration::from_secs(30));
        assert!(r.is_err_and(|e| e.contains("exited with 1")));
    }

    #[test]
    fn missing_programs_and_a_missing_shim_are_skipped_rows() {
        assert!(matches!(
            need("nemo-no-such-program", "nothing"),
            Err(NotRun::Skipped(why)) if why.contains("nemo-no-such-program")
        ));
        let dir = std::env::temp_dir().join(format!("nemo-real-test-{}", std::process::id()));
        let rows = run(&Options {
            programs: vec!["xz".into(), "no_such_program".into()],
            pairs: 1,
            size: Size::Quick,
            background_load: true,
            shim: Err("no shim here".into()),
            dir: dir.clone(),
            limit: Duration::from_secs(30),
        });
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(rows.len(), 4, "two programs, two regimes");
        for r in &rows {
            assert!(matches!(&r.result, Err(NotRun::Skipped(w)) if w == "no shim here"));
        }
        assert!(render(&rows).contains("skipped: no shim here"));
        let j = to_json(&rows);
        assert_eq!(j["rows"][3]["regime"], "background-load");
        assert_eq!(j["rows"][0]["skipped"], "no shim here");
    }

    #[test]
    fn every_program_has_a_command_or_a_reason() {
        let dir = std::env::temp_dir().join(format!("nemo-real-prog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for id in PROGRAMS {
            // ffmpeg would make a clip; leave that to real runs.
            if id == "ffmpeg_decode" {
                continue;
            }
            match program(id, &dir, Size::Quick) {
                Ok(p) => assert!(Path::new(&p.argv[0]).is_absolute(), "{p:?}"),
                Err(NotRun::Skipped(why)) => assert!(why.contains("not found"), "{why}"),
                Err(e) => panic!("{id}: {e:?}"),
            }
        }
        assert!(matches!(
            program("nope", &dir, Size::Quick),
            Err(NotRun::Skipped(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
