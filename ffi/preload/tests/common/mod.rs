//! Helpers for the shim's integration tests: find the freshly built `libnemo_preload.so`,
//! compile the C and C++ test programs, run programs with and without the shim, and skip loudly
//! (or fail, under `NEMO_REQUIRE_ALL_TESTS=1`) when a tool is missing.
#![allow(dead_code)] // each test file uses its own subset

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The directory cargo builds into for this profile (`target/debug`): the test binary lives in
/// its `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary in <profile>/deps")
        .to_path_buf()
}

/// The shim that `cargo test` built for this test: the package's library is a dependency of
/// its integration tests (that is what its `rlib` crate type is for), so cargo compiles it —
/// shared object included — into `<profile>/deps/`, next to the test binary, before the tests
/// run. (Only `cargo build` copies it up to `<profile>/`.)
pub fn shim() -> PathBuf {
    let so = profile_dir().join("deps").join("libnemo_preload.so");
    assert!(
        so.is_file(),
        "{} is missing: cargo builds it before the package's integration tests",
        so.display()
    );
    so
}

/// Where compiled test programs and scratch files go.
pub fn scratch() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("nemo-preload-tests");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The C/C++ test sources.
pub fn sources() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Whether CI asked for every test to really run.
pub fn require_all() -> bool {
    std::env::var("NEMO_REQUIRE_ALL_TESTS").is_ok_and(|v| v == "1")
}

/// A tool on `PATH`, or `None`.
pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// The tool if present; otherwise a loud skip (returns `None`), or a failure when
/// `NEMO_REQUIRE_ALL_TESTS=1`.
pub fn need(tool: &str, test: &str) -> Option<PathBuf> {
    match which(tool) {
        Some(p) => Some(p),
        None => {
            skip(
                test,
                &format!("`{tool}` is not installed (see .ci/install-deps)"),
            );
            None
        }
    }
}

/// Reports a skipped test: loudly, or as a failure under `NEMO_REQUIRE_ALL_TESTS=1`.
pub fn skip(test: &str, why: &str) {
    if require_all() {
        panic!("{test}: {why}, and NEMO_REQUIRE_ALL_TESTS=1 forbids skipping");
    }
    eprintln!("\n!!!!!!!! SKIPPED {test}: {why} !!!!!!!!\n");
}

/// Compiles test sources (under `tests/`) into an executable named `name`, with `compiler`
/// (`cc` or `g++`). Warnings are errors.
pub fn compile(compiler: &Path, name: &str, srcs: &[&str], extra: &[&str]) -> PathBuf {
    let out = scratch().join(name);
    let mut cmd = Command::new(compiler);
    cmd.args(["-O2", "-g", "-Wall", "-Wextra", "-Werror", "-pthread"])
        .args(srcs.iter().map(|s| sources().join(s)))
        .args(extra)
        .arg("-o")
        .arg(&out);
    let o = cmd.output().expect("run the compiler");
    assert!(
        o.status.success(),
        "compiling {name} failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// Compiles a C test program from `tests/c/`, or skips if there is no C compiler.
pub fn c_program(name: &str) -> Option<PathBuf> {
    let cc = need("cc", name)?;
    Some(compile(&cc, name, &[&format!("c/{name}.c")], &["-ldl"]))
}

/// How to run a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shim {
    /// Without the shim: glibc's own condvar.
    None,
    /// `LD_PRELOAD` of the shim.
    On,
    /// `LD_PRELOAD` of the shim with `NEMO_PRELOAD=off`.
    Off,
}

impl Shim {
    pub const ALL: [Shim; 3] = [Shim::On, Shim::Off, Shim::None];
}

/// A command for `program` with the shim set up as asked (and no stray settings inherited).
pub fn command(program: impl AsRef<OsStr>, shim: Shim) -> Command {
    let mut cmd = Command::new(program);
    for v in [
        "LD_PRELOAD",
        "LD_DEBUG",
        "NEMO_PRELOAD",
        "NEMO_PRELOAD_VERBOSE",
        "NEMO_PRELOAD_SPIN_US",
    ] {
        cmd.env_remove(v);
    }
    match shim {
        Shim::None => {}
        Shim::On => {
            cmd.env("LD_PRELOAD", shim_path());
        }
        Shim::Off => {
            cmd.env("LD_PRELOAD", shim_path())
                .env("NEMO_PRELOAD", "off");
        }
    }
    cmd
}

fn shim_path() -> PathBuf {
    shim()
}

/// Runs `cmd` to completion, killing it after `limit` (a hang is a lost wakeup: fail, don't
/// wait forever). Stdin is closed unless the command set it.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    let desc = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {desc}: {e}"));
    let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
    let readers = [
        std::thread::spawn(move || drain(out.as_mut())),
        std::thread::spawn(move || drain(err.as_mut())),
    ];
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for child") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let [o, e] = readers.map(|r| r.join().unwrap_or_default());
            panic!(
                "{desc} did not finish in {limit:?} (a lost wakeup?)\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&o),
                String::from_utf8_lossy(&e)
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let [stdout, stderr] = readers.map(|r| r.join().unwrap_or_default());
    Output {
        status,
        stdout,
        stderr,
    }
}

fn drain(r: Option<&mut impl Read>) -> Vec<u8> {
    let mut v = Vec::new();
    if let Some(r) = r {
        let _ = r.read_to_end(&mut v);
    }
    v
}

/// Runs a program and asserts it succeeded; returns its stdout.
pub fn run_ok(cmd: Command, limit: Duration) -> String {
    let desc = format!("{cmd:?}");
    let o = run(cmd, limit);
    assert!(
        o.status.success(),
        "{desc} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}
