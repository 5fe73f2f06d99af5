//! That the shim is really the object a program's `pthread_cond_*` calls reach: its exported
//! symbol versions, `dladdr` from inside a program, `LD_DEBUG=bindings`, the verbose line, and
//! `NEMO_PRELOAD=off`.

mod common;

use std::time::Duration;

use common::{Shim, c_program, command, need, run, run_ok, shim};

const LIMIT: Duration = Duration::from_secs(60);

const FUNCTIONS: [&str; 7] = [
    "pthread_cond_init",
    "pthread_cond_destroy",
    "pthread_cond_signal",
    "pthread_cond_broadcast",
    "pthread_cond_wait",
    "pthread_cond_timedwait",
    "pthread_cond_clockwait",
];

#[test]
fn exports_exactly_the_glibc_symbol_versions() {
    let Some(objdump) = need("objdump", "exports_exactly_the_glibc_symbol_versions") else {
        return;
    };
    let mut cmd = std::process::Command::new(objdump);
    cmd.arg("-T").arg(shim());
    let table = run_ok(cmd, LIMIT);
    // Defined dynamic symbols: "<addr> g DF .text <size> <version> <name>".
    let mut exported: Vec<String> = table
        .lines()
        .filter(|l| l.contains(" DF .text"))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 2).then(|| format!("{} {}", f[f.len() - 1], f[f.len() - 2]))
        })
        .collect();
    exported.sort();
    let mut want: Vec<String> = Vec::new();
    for f in &FUNCTIONS[..6] {
        want.push(format!("{f} GLIBC_2.3.2"));
        want.push(format!("{f} (GLIBC_2.2.5)"));
    }
    want.push("pthread_cond_clockwait GLIBC_2.34".into());
    want.push("pthread_cond_clockwait (GLIBC_2.30)".into());
    want.push("nemo_preload_info Base".into());
    want.sort();
    assert_eq!(exported, want, "objdump -T:\n{table}");
}

#[test]
fn a_program_binds_every_function_to_the_shim_and_only_under_preload() {
    let Some(prog) = c_program("bound") else {
        return;
    };
    let so = shim().to_string_lossy().into_owned();
    for s in Shim::ALL {
        let out = run_ok(command(&prog, s), LIMIT);
        for f in FUNCTIONS {
            let line = out
                .lines()
                .find(|l| l.starts_with(&format!("bound {f} ")))
                .unwrap_or_else(|| panic!("{f} not reported:\n{out}"));
            let in_shim = line.ends_with(&so);
            assert_eq!(in_shim, s != Shim::None, "{s:?}: {line}");
        }
        let info = out.lines().find(|l| l.starts_with("info "));
        match s {
            Shim::On => assert!(info.is_some_and(|l| l.contains("mode on")), "{out}"),
            Shim::Off => assert!(info.is_some_and(|l| l.contains("mode off")), "{out}"),
            Shim::None => assert!(info.is_none(), "{out}"),
        }
    }
}

#[test]
fn ld_debug_shows_the_bindings_to_the_shim() {
    let Some(prog) = c_program("prodcons") else {
        return;
    };
    let mut cmd = command(&prog, Shim::On);
    // `LD_BIND_NOW`: every symbol is bound by the main thread at load. Bound lazily, the first
    // calls happen on several threads at once and ld.so's lines interleave mid-line.
    cmd.args(["normal", "2", "2", "100"])
        .env("LD_DEBUG", "bindings")
        .env("LD_BIND_NOW", "1");
    let o = run(cmd, LIMIT);
    assert!(o.status.success());
    let log = String::from_utf8_lossy(&o.stderr);
    for (f, v) in [
        ("pthread_cond_wait", "GLIBC_2.3.2"),
        ("pthread_cond_signal", "GLIBC_2.3.2"),
        ("pthread_cond_broadcast", "GLIBC_2.3.2"),
    ] {
        let bound = log.lines().any(|l| {
            l.contains("binding file")
                && l.contains("libnemo_preload.so [0]: normal symbol")
                && l.contains(&format!("`{f}' [{v}]"))
                && l.contains("prodcons")
        });
        assert!(bound, "no binding of {f} to the shim in:\n{log}");
    }
}

#[test]
fn verbose_prints_one_line_at_load_in_both_modes() {
    let Some(prog) = c_program("broadcast") else {
        return;
    };
    for (s, mode) in [(Shim::On, "mode on"), (Shim::Off, "mode off")] {
        let mut cmd = command(&prog, s);
        cmd.args(["2", "10"]).env("NEMO_PRELOAD_VERBOSE", "1");
        let o = run(cmd, LIMIT);
        assert!(o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 1, "{err}");
        assert!(lines[0].starts_with("nemo_preload "), "{err}");
        assert!(lines[0].contains(mode), "{err}");
        if s == Shim::On {
            assert!(lines[0].contains("backend ") && lines[0].contains("policy "));
        }
    }
    // Quiet by default.
    let mut cmd = command(&prog, Shim::On);
    cmd.args(["2", "10"]);
    let o = run(cmd, LIMIT);
    assert!(o.status.success() && o.stderr.is_empty());
}

#[test]
fn spin_setting_shows_in_the_policy_and_a_bad_one_is_reported() {
    let Some(prog) = c_program("bound") else {
        return;
    };
    let mut cmd = command(&prog, Shim::On);
    cmd.env("NEMO_PRELOAD_SPIN_US", "0");
    assert!(run_ok(cmd, LIMIT).contains("policy no spin, then park (fixed)"));
    let mut cmd = command(&prog, Shim::On);
    cmd.env("NEMO_PRELOAD_SPIN_US", "forever");
    let o = run(cmd, LIMIT);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("NEMO_PRELOAD_SPIN_US"));
}
