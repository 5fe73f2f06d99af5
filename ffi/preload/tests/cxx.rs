//! A C++ program using `std::condition_variable` under the shim. libstdc++ (GCC ≥ 10, glibc ≥
//! 2.30) turns waits on `steady_clock` into `pthread_cond_clockwait`, so this also checks that
//! the program really references that function and that it is bound to the shim.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Shim, command, compile, need, run, run_ok};

const LIMIT: Duration = Duration::from_secs(120);
const TEST: &str = "std_condition_variable_runs_on_the_shim_through_clockwait";

#[test]
fn std_condition_variable_runs_on_the_shim_through_clockwait() {
    let Some(gxx) = need("g++", TEST) else {
        return;
    };
    let prog = compile(&gxx, "condvar_cpp", &["cpp/condvar.cpp"], &["-std=c++17"]);

    // The inline wait_until of <condition_variable> calls pthread_cond_clockwait from the
    // program itself (the other functions are called from libstdc++.so).
    if let Some(nm) = need("nm", TEST) {
        let mut cmd = Command::new(nm);
        cmd.arg("-D").arg(&prog);
        let syms = run_ok(cmd, LIMIT);
        assert!(
            syms.lines()
                .any(|l| l.contains(" U pthread_cond_clockwait@GLIBC_2.3")),
            "the program does not call pthread_cond_clockwait:\n{syms}"
        );
    }

    for s in Shim::ALL {
        let mut cmd = command(&prog, s);
        cmd.args(["2", "3", "5000"]);
        let out = run_ok(cmd, LIMIT);
        assert!(out.starts_with("condvar: 10000 items"), "{s:?}: {out}");
    }

    let mut cmd = command(&prog, Shim::On);
    // Bound at load by the main thread: lazily bound first calls on several threads interleave
    // ld.so's lines.
    cmd.args(["1", "3", "200"])
        .env("LD_DEBUG", "bindings")
        .env("LD_BIND_NOW", "1");
    let o = run(cmd, LIMIT);
    assert!(o.status.success());
    let log = String::from_utf8_lossy(&o.stderr);
    let bound = |who: &str, f: &str| {
        log.lines().any(|l| {
            l.contains("binding file")
                && l.contains(who)
                && l.contains("libnemo_preload.so [0]: normal symbol")
                && l.contains(&format!("`{f}'"))
        })
    };
    assert!(bound("condvar_cpp", "pthread_cond_clockwait"), "{log}");
    assert!(bound("libstdc++", "pthread_cond_wait"), "{log}");
    assert!(bound("libstdc++", "pthread_cond_signal"), "{log}");
    assert!(bound("libstdc++", "pthread_cond_broadcast"), "{log}");
}
