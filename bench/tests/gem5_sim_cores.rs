//! `--sim` on a many-core simulated machine: every thread needs a simulated core of its own
//! (gem5's syscall emulation fails a `clone` when no core is idle), so `broadcast` and `am`
//! take as many waiters as there are cores besides the signaller's, and no more.

use clap::Parser;
use nemo_bench::cli::{BenchError, Cli};
use nemo_bench::scenarios;

fn cli(args: &[&str]) -> Cli {
    Cli::try_parse_from(std::iter::once("nemo-bench").chain(args.iter().copied()))
        .expect("a valid command line")
}

/// The receivers of every case of scenario `id` under `plan`.
fn receivers(id: &str, plan: &nemo_bench::plan::Plan) -> Vec<(String, usize)> {
    scenarios::find(id)
        .expect("a known scenario")
        .cases(plan)
        .into_iter()
        .map(|c| (c.regime, c.receivers))
        .collect()
}

#[test]
fn sim_runs_15_waiters_on_16_cores() {
    let plan = cli(&["--sim", "broadcast", "am", "--waiters", "15"])
        .plan(16)
        .expect("15 waiters and a signaller fit on 16 simulated cores");
    assert_eq!(plan.waiters(), 15);
    assert_eq!(
        receivers("broadcast", &plan),
        [("short-gap".to_string(), 15), ("long-gap".to_string(), 15)]
    );
    let am = receivers("am", &plan);
    assert!(am.contains(&("broadcast".to_string(), 15)), "{am:?}");
    assert!(am.contains(&("unicast".to_string(), 1)), "{am:?}");
}

#[test]
fn sim_defaults_to_every_core_but_the_signallers() {
    let plan = cli(&["--sim", "broadcast"])
        .plan(16)
        .expect("the default fits");
    assert_eq!(plan.waiters(), 15);
    let am = receivers("am", &plan);
    assert!(am.contains(&("broadcast".to_string(), 15)), "{am:?}");
}

#[test]
fn sim_refuses_more_waiters_than_cores_with_the_numbers() {
    for waiters in ["16", "40"] {
        let err = cli(&["--sim", "broadcast", "--waiters", waiters])
            .plan(16)
            .expect_err("more waiters than the simulated cores hold");
        let BenchError::Usage(msg) = &err else {
            panic!("expected a usage error, got {err:?}");
        };
        let need = waiters.parse::<usize>().unwrap() + 1;
        assert!(
            msg.contains(&format!("--waiters {waiters}"))
                && msg.contains(&format!("need {need} simulated cores"))
                && msg.contains("has 16")
                && msg.contains("--waiters 15 or fewer"),
            "unclear message: {msg}"
        );
    }
    let err = cli(&["--sim", "am", "--waiters", "1"])
        .plan(1)
        .expect_err("1 core");
    assert!(err.to_string().contains("need 2 simulated cores"), "{err}");
    assert!(!err.to_string().contains("or fewer"), "{err}");
}

#[test]
fn native_runs_may_oversubscribe_cores() {
    let plan = cli(&["broadcast", "--waiters", "16"])
        .plan(2)
        .expect("native threads share cores");
    assert_eq!(plan.waiters(), 16);
}
