//! Real multithreaded programs from Debian packages under the shim: their output must be
//! byte-identical with and without it (and decompress back to the input), and their
//! `pthread_cond_*` calls must really reach the shim (`LD_DEBUG=bindings`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::OnceLock;
use std::time::Duration;

use common::{Shim, command, need, run, scratch};

const LIMIT: Duration = Duration::from_secs(180);

/// 16 MiB of deterministic, compressible text: enough for several jobs of each compressor's
/// thread pool. Written once per test process (the tests run in parallel and share it).
fn input() -> PathBuf {
    static INPUT: OnceLock<PathBuf> = OnceLock::new();
    INPUT.get_or_init(write_input).clone()
}

fn write_input() -> PathBuf {
    const SIZE: usize = 16 << 20;
    let path = scratch().join("real-programs-input.txt");
    if std::fs::metadata(&path).is_ok_and(|m| m.len() == SIZE as u64) {
        return path;
    }
    let words = [
        "event",
        "notification",
        "interrupt",
        "condition",
        "variable",
        "waiter",
        "signal",
        "broadcast",
        "futex",
        "spin",
        "park",
        "wake",
        "core",
        "cache",
        "line",
        "thread",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(SIZE + 16);
    while data.len() < SIZE {
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
    data.truncate(SIZE);
    // A name of this process's own: another test binary may be writing the same file.
    let tmp = path.with_extension(format!("partial.{}", std::process::id()));
    std::fs::write(&tmp, &data).expect("write input");
    std::fs::rename(&tmp, &path).expect("rename input");
    path
}

/// Runs `tool args… input`, which writes its result to stdout, and returns the bytes.
fn output_of(tool: &Path, args: &[&str], file: &Path, shim: Shim, env: &[(&str, &str)]) -> Vec<u8> {
    let mut cmd = command(tool, shim);
    cmd.args(args).arg(file).stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let desc = format!("{cmd:?}");
    let o = run(cmd, LIMIT);
    assert!(
        o.status.success(),
        "{desc} failed ({}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    if env.iter().any(|(k, _)| *k == "LD_DEBUG") {
        o.stderr
    } else {
        o.stdout
    }
}

/// Compresses with and without the shim (identical bytes), decompresses under the shim (the
/// input back), and checks that `pthread_cond_wait` and `_signal` were bound to the shim.
fn identical_with_and_without(name: &str, compress: &[&str], decompress: &[&str]) {
    let test = format!("{name}_gives_identical_output_under_the_shim");
    let Some(tool) = need(name, &test) else {
        return;
    };
    let src = input();
    let original = std::fs::read(&src).expect("read input");
    let plain = output_of(&tool, compress, &src, Shim::None, &[]);
    let shimmed = output_of(&tool, compress, &src, Shim::On, &[]);
    assert!(
        plain == shimmed,
        "{name}: output differs under the shim ({} vs {} bytes)",
        plain.len(),
        shimmed.len()
    );
    assert!(plain.len() < original.len() / 2, "{name} did not compress");

    let packed = scratch().join(format!("real-programs.{name}"));
    std::fs::write(&packed, &shimmed).expect("write compressed");
    let back = output_of(&tool, decompress, &packed, Shim::On, &[]);
    assert!(
        back == original,
        "{name}: round trip under the shim differs"
    );

    // Bound at load (`LD_BIND_NOW`; most distribution binaries are `BIND_NOW` anyway, and lazily
    // bound first calls on several threads interleave ld.so's lines): the bindings say where
    // calls go, and the count of parked waits says that calls went there.
    let log = output_of(
        &tool,
        compress,
        &src,
        Shim::On,
        &[
            ("LD_DEBUG", "bindings"),
            ("LD_BIND_NOW", "1"),
            ("NEMO_PRELOAD_VERBOSE", "2"),
        ],
    );
    let log = String::from_utf8_lossy(&log);
    let bound = log.lines().any(|l| {
        l.contains("libnemo_preload.so [0]: normal symbol") && l.contains("`pthread_cond_wait'")
    });
    assert!(bound, "{name}: pthread_cond_wait not bound to the shim");
    let parks = log
        .lines()
        .find_map(|l| l.strip_prefix("nemo_preload: exit: "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        parks.is_some_and(|n| n > 0),
        "{name}: no wait parked in the shim ({parks:?})"
    );
}

#[test]
fn pigz_gives_identical_output_under_the_shim() {
    identical_with_and_without("pigz", &["-p", "4", "-b", "256", "-c"], &["-d", "-c"]);
}

#[test]
fn zstd_gives_identical_output_under_the_shim() {
    identical_with_and_without(
        "zstd",
        &["-q", "-3", "-T4", "-B1MiB", "-c"],
        &["-q", "-d", "-c"],
    );
}

#[test]
fn xz_gives_identical_output_under_the_shim() {
    identical_with_and_without(
        "xz",
        &["-1", "-T4", "--block-size=2MiB", "-c"],
        &["-d", "-T4", "-c"],
    );
}
