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
use std::hash::Hasher;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

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

fn io_err(what: &Path) -> impl Fn(std::io::Error) -> NotRun + '_ {
    move |e| NotRun::Failed(format!("cannot write {}: {e}", what.display()))
}

/// Deterministic, compressible text of `len` bytes.
fn text(dir: &Path, len: usize) -> Result<PathBuf, NotRun> {
    let path = dir.join(format!("text-{len}.txt"));
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len as u64) {
        return Ok(path);
    }
    let words = [
        "event",
        "notify",
        "interrupt",
        "cond",
        "wait",
        "signal",
        "futex",
        "spin",
        "park",
        "wake",
        "core",
        "cache",
        "line",
        "thread",
        "queue",
        "handoff",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(len + 16);
    while data.len() < len {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        data.extend_from_slice(words[(x >> 60) as usize].as_bytes());
        data.push(if (x >> 20).is_multiple_of(11) {
            b'\n'
        } else {
            b' '
        });
    }
    data.truncate(len);
    write_once(&path, &data)
}

/// `frames` frames of 160×120 video in YUV4MPEG2: moving gradients with some noise, so the
/// encoder has motion to search.
fn y4m(dir: &Path, frames: usize) -> Result<PathBuf, NotRun> {
    const W: usize = 160;
    const H: usize = 120;
    let path = dir.join(format!("video-{frames}.y4m"));
    let header = format!("YUV4MPEG2 W{W} H{H} F30:1 Ip A1:1 C420jpeg\n");
    let len = header.len() + frames * (6 + W * H * 3 / 2);
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == len as u64) {
        return Ok(path);
    }
    let mut data = Vec::with_capacity(len);
    data.extend_from_slice(header.as_bytes());
    let mut x: u32 = 0x1234_5678;
    for f in 0..frames {
        data.extend_from_slice(b"FRAME\n");
        for y in 0..H {
            for c in 0..W {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let v = (c + 2 * f) ^ (y + f / 3);
                data.push((v as u8).wrapping_add((x & 7) as u8));
            }
        }
        for plane in 0..2 {
            for y in 0..H / 2 {
                for c in 0..W / 2 {
                    data.push((128 + ((c + y + f + 40 * plane) % 64)) as u8);
                }
            }
        }
    }
    write_once(&path, &data)
}

/// A 160×120 H.264 clip of `frames` frames, made by ffmpeg from its own test source.
fn clip(ffmpeg: &Path, dir: &Path, frames: usize) -> Result<PathBuf, NotRun> {
    let path = dir.join(format!("clip-{frames}.mp4"));
    if path.is_file() {
        return Ok(path);
    }
    let tmp = dir.join(format!("clip-{frames}.partial.{}.mp4", std::process::id()));
    let status = Command::new(ffmpeg)
        .args(["-nostdin", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=160x120:rate=30")
        .args(["-frames:v", &frames.to_string()])
        .args(["-c:v", "libx264", "-preset", "veryfast", "-y"])
        .arg(&tmp)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .status()
        .map_err(|e| NotRun::Failed(format!("cannot run ffmpeg to make the clip: {e}")))?;
    if !status.success() {
        return Err(NotRun::Skipped(format!(
            "ffmpeg could not make an H.264 clip ({status}; needs libx264)"
        )));
    }
    std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
    Ok(path)
}

fn write_once(path: &Path, data: &[u8]) -> Result<PathBuf, NotRun> {
    let tmp = path.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&tmp, data).map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    Ok(path.to_path_buf())
}

/// One run of a program.
#[derive(Clone, Debug)]
pub struct Run {
    /// Spawn to reaped.
    pub wall: Duration,
    /// User + system time of the child and its threads.
    pub cpu: Duration,
    /// A hash of its standard output.
    pub output: u64,
    /// Its standard error, when asked for.
    pub stderr: String,
}

/// Runs `p` once, with `LD_PRELOAD=shim` if given (and `NEMO_PRELOAD_VERBOSE=2` with
/// `verbose`, whose lines come back in [`Run::stderr`]); a run that outlasts `limit` is killed.
pub fn run_once(
    p: &Program,
    shim: Option<&Path>,
    verbose: bool,
    limit: Duration,
) -> Result<Run, String> {
    let mut cmd = Command::new(&p.argv[0]);
    cmd.args(&p.argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if verbose {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    for var in [
        "LD_PRELOAD",
        "NEMO_PRELOAD",
        "NEMO_PRELOAD_SPIN_US",
        "NEMO_PRELOAD_VERBOSE",
    ] {
        cmd.env_remove(var);
    }
    if let Some(s) = shim {
        cmd.env("LD_PRELOAD", s);
        if verbose {
            cmd.env("NEMO_PRELOAD_VERBOSE", "2");
        }
    }
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", p.argv[0].to_string_lossy()))?;
    let pid = child.id() as libc::pid_t;
    let stdout = child.stdout.take();
    let hasher = std::thread::spawn(move || {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Some(mut out) = stdout {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                h.write(&buf[..n]);
            }
        }
        h.finish()
    });
    let stderr = child.stderr.take();
    let errs = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let end = Instant::now() + limit;
            while !done.load(Ordering::Acquire) {
                if Instant::now() >= end {
                    // SAFETY: kill has no memory effects; the child is not reaped until the
                    // main thread's wait4 returns, so `pid` still names it.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    return true;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            false
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = loop {
        // SAFETY: `status` and `ru` are writable; `pid` is our unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            break Err(format!("wait4: {e}"));
        }
    };
    let wall = start.elapsed();
    done.store(true, Ordering::Release);
    let killed = watchdog.join().unwrap_or(false);
    let output = hasher.join().unwrap_or(0);
    let stderr = errs.join().unwrap_or_default();
    reaped?;
    if killed {
        return Err(format!("killed after {} s", limit.as_secs()));
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        return Err(format!(
            "{} {} (status {status:#x})",
            p.id,
            if libc::WIFSIGNALED(status) {
                format!("died of signal {}", libc::WTERMSIG(status))
            } else {
                format!("exited with {}", libc::WEXITSTATUS(status))
            }
        ));
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    Ok(Run {
        wall,
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        output,
        stderr,
    })
}

/// A median and its 95 % interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interval {
    /// The median of the values.
    pub median: f64,
    /// 2.5th percentile of the bootstrap medians.
    pub low: f64,
    /// 97.5th percentile of the bootstrap medians.
    pub high: f64,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Resamples for [`interval`].
pub const BOOTSTRAP: usize = 4_000;

/// The median of `values` and a 95 % percentile-bootstrap interval for it: `BOOTSTRAP`
/// resamples of the values with replacement (a fixed seed, so a run is reproducible), the
/// median of each, and the 2.5th and 97.5th percentiles of those. `None` for no values.
pub fn interval(values: &[f64]) -> Option<Interval> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    let m = median(&mut v);
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut meds = Vec::with_capacity(BOOTSTRAP);
    let mut sample = vec![0.0; values.len()];
    for _ in 0..BOOTSTRAP {
        for s in sample.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *s = values[(x % values.len() as u64) as usize];
        }
        meds.push(median(&mut sample));
    }
    meds.sort_by(f64::total_cmp);
    let at = |q: f64| meds[((q * (BOOTSTRAP - 1) as f64).round() as usize).min(BOOTSTRAP - 1)];
    Some(Interval {
        median: m,
        low: at(0.025),
        high: at(0.975),
    })
}

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
    fn the_interval_of_a_constant_is_that_constant() {
        let i = interval(&[1.25; 9]).unwrap();
        assert_eq!((i.median, i.low, i.high), (1.25, 1.25, 1.25));
        assert!(interval(&[]).is_none());
    }

    #[test]
    fn the_interval_covers_the_median_of_a_known_distribution() {
        // Uniform on [0.9, 1.1]: median 1.0; with 200 values the 95 % interval of the sample
        // median is about ±0.012 wide on each side.
        let mut x: u64 = 7;
        let v: Vec<f64> = (0..200)
            .map(|_| {
                x = x
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                0.9 + 0.2 * ((x >> 11) as f64 / (1u64 << 53) as f64)
            })
            .collect();
        let i = interval(&v).unwrap();
        assert!(i.low <= i.median && i.median <= i.high);
        assert!(i.low < 1.0 && 1.0 < i.high, "{i:?}");
        assert!(i.high - i.low < 0.06, "{i:?}");
        // Fewer values, wider interval.
        let few = interval(&v[..10]).unwrap();
        assert!(few.high - few.low > i.high - i.low, "{few:?} vs {i:?}");
    }

    #[test]
    fn an_even_count_has_the_middle_pairs_mean_as_median() {
        assert_eq!(interval(&[1.0, 3.0, 2.0, 4.0]).unwrap().median, 2.5);
    }

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
    fn a_run_past_its_limit_is_killed() {
        let sleep = Program {
            id: "sleep".into(),
            argv: vec![which("sleep").expect("sleep on PATH").into(), "30".into()],
            deterministic: true,
        };
        let start = Instant::now();
        let r = run_once(&sleep, None, false, Duration::from_millis(200));
        assert!(r.is_err_and(|e| e.contains("killed")));
        assert!(start.elapsed() < Duration::from_secs(10));
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
