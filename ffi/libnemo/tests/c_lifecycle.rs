//! Bad input and lifecycles from C (`tests/c/lifecycle.c`): misaligned and foreign pointers,
//! targets of exited threads, ids used with another domain, every documented error value, and
//! nothing left behind by threads that exit registered.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{need, run_ok, soname_dir, strict_c11};

/// `tests/c/lifecycle.c`, compiled strictly against `libnemo.so` (once per test binary run).
fn program(cc: &Path) -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("libnemo-lifecycle");
            std::fs::create_dir_all(&dir).expect("scratch dir");
            let out = dir.join("lifecycle");
            let d = soname_dir();
            run_ok(
                strict_c11(cc, "lifecycle.c")
                    .arg(format!("-L{}", d.display()))
                    .arg(format!("-Wl,-rpath,{}", d.display()))
                    .args(["-lnemo", "-pthread", "-o"])
                    .arg(&out),
            );
            out
        })
        .clone()
}

/// Runs the program with `args`: it must succeed within two minutes (a hang is a failure).
fn run(test: &str, args: &[&str]) -> Option<String> {
    let cc = need("cc", test)?;
    let prog = program(&cc);
    let mut child = Command::new(prog)
        .env_remove("NEMO_BACKEND")
        .env_remove("NEMO_SIGNAL")
        // The `libnemo.so` just built, not a stale copy that cargo put on the library path
        // (`target/<profile>/libnemo.so` is refreshed by `cargo build`, not by `cargo test`).
        .env("LD_LIBRARY_PATH", soname_dir())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the test program");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let o = child.wait_with_output().expect("reap");
            panic!(
                "{test}: hung for 120 s:\n{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().expect("collect output");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{test} failed ({}):\n{out}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    Some(out)
}

#[test]
fn misaligned_and_foreign_pointers_are_einval_at_every_entry_point() {
    if let Some(out) = run("misaligned", &["misaligned"]) {
        assert!(out.starts_with("lifecycle misaligned: ok"), "{out}");
    }
}

#[test]
fn targets_of_exited_threads_are_gone_and_their_slots_reused() {
    if let Some(out) = run("exited", &["exited"]) {
        assert!(out.starts_with("lifecycle exited: ok"), "{out}");
    }
}

#[test]
fn ids_of_one_domain_are_einval_in_another() {
    if let Some(out) = run("crossdomain", &["crossdomain"]) {
        assert!(out.starts_with("lifecycle crossdomain: ok"), "{out}");
    }
}

#[test]
fn every_documented_error_value_is_reachable() {
    if let Some(out) = run("errors", &["errors"]) {
        assert!(out.starts_with("lifecycle errors: ok"), "{out}");
    }
}

#[test]
fn ten_thousand_threads_exiting_registered_leave_nothing_behind() {
    if let Some(out) = run("cycles", &["cycles", "10000"]) {
        assert!(out.contains("lifecycle cycles: ok"), "{out}");
    }
}
