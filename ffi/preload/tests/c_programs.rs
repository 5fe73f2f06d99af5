//! The C test programs of `tests/c/` under the shim. Each also runs with `NEMO_PRELOAD=off` and
//! without the shim: the programs check POSIX/glibc behaviour, so glibc must pass them too.

mod common;

use std::time::Duration;

use common::{Shim, c_program, command, run_ok};

const LIMIT: Duration = Duration::from_secs(120);

/// Runs `name` with `args` in every mode; `nemo_only` args are added under the shim only.
fn in_every_mode(name: &str, args: &[&str], nemo_only: &[&str]) {
    let Some(prog) = c_program(name) else { return };
    for shim in Shim::ALL {
        let mut cmd = command(&prog, shim);
        cmd.args(args);
        if shim == Shim::On {
            cmd.args(nemo_only);
        }
        let out = run_ok(cmd, LIMIT);
        assert!(out.starts_with(name), "{shim:?}: {out}");
    }
}

#[test]
fn producers_and_consumers_get_exact_sums_with_every_mutex_kind() {
    let Some(prog) = c_program("prodcons") else {
        return;
    };
    for kind in ["normal", "recursive", "errorcheck", "robust", "pi"] {
        for (p, c, n, timed) in [("2", "2", "20000", ""), ("3", "1", "5000", "timed")] {
            for shim in Shim::ALL {
                let mut cmd = command(&prog, shim);
                cmd.args([kind, p, c, n]);
                if !timed.is_empty() {
                    cmd.arg(timed);
                }
                let out = run_ok(cmd, LIMIT);
                let items: u64 = p.parse::<u64>().unwrap_or(0) * n.parse::<u64>().unwrap_or(0);
                assert!(out.contains(&format!("{items} items")), "{shim:?}: {out}");
            }
        }
    }
}

#[test]
fn every_waiter_sees_every_broadcast_generation() {
    in_every_mode("broadcast", &["6", "2000"], &[]);
}

#[test]
fn timeouts_on_both_clocks_are_never_early_and_bad_timespecs_are_einval() {
    in_every_mode("timeouts", &["30"], &[]);
}

#[test]
fn process_shared_condvars_work_across_fork() {
    in_every_mode("pshared", &["2", "2000"], &[]);
}

#[test]
fn cancelled_waiters_run_cleanup_with_the_mutex_held_and_lose_no_signal() {
    in_every_mode("cancel", &["10"], &[]);
}

#[test]
fn waiters_cancelled_amid_signals_on_a_pi_mutex_all_end_cancelled_with_the_mutex_held() {
    // The scenario of glibc's tst-cond25, as many rounds; the time is printed, not checked.
    in_every_mode("cancel_storm", &["plain", "100"], &[]);
    in_every_mode("cancel_storm", &["timed", "100"], &[]);
}

#[test]
fn a_waiter_woken_during_every_spin_is_still_cancelled() {
    // Waiters that spin for up to 100 ms are woken by the endless signaller before they ever
    // park: a cancellation must be acted on anyway, at the next wait's entry.
    let Some(prog) = c_program("cancel_storm") else {
        return;
    };
    for how in ["plain", "timed"] {
        let mut cmd = command(&prog, Shim::On);
        cmd.env("NEMO_PRELOAD_SPIN_US", "100000").args([how, "20"]);
        let out = run_ok(cmd, LIMIT);
        assert!(out.starts_with("cancel_storm"), "{how}: {out}");
    }
}

#[test]
fn errorcheck_recursive_and_robust_mutexes_behave_as_with_glibc() {
    in_every_mode("mutexes", &[], &[]);
}

#[test]
fn broadcast_then_destroy_is_safe_and_destroy_with_waiters_is_ebusy() {
    // `busy` checks the shim's documented EBUSY; glibc would block there instead.
    in_every_mode("destroy", &["200"], &["busy"]);
}
