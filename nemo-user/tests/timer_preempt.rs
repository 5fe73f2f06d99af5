//! The preemption example's scheduler, as a function: ticks switch two busy loops that never
//! yield on their own, round-robin, on every tick path.

#[allow(dead_code)] // the example's `main`
#[path = "../examples/preempt.rs"]
mod preempt;

use std::time::Duration;

use preempt::{TickPath, run};

#[test]
fn ticks_switch_both_loops_round_robin() {
    for path in [
        TickPath::SignalThread,
        TickPath::PollThread,
        TickPath::SignalPosix,
    ] {
        let r = run(path, Duration::from_micros(500), 8, Duration::from_secs(60))
            .expect("scheduler runs");
        // Hang guard reached, or every loop got its slices.
        assert!(r.slices.iter().all(|&s| s >= 8), "{path:?}: {r:?}");
        // Round-robin: the scheduler resumes them in turn.
        assert!(r.slices[0].abs_diff(r.slices[1]) <= 1, "{path:?}: {r:?}");
        // Loops yield only on a tick, and each tick sets the flag at most once.
        assert_eq!(r.yields_without_tick, 0, "{path:?}");
        assert!(
            r.ticks.delivered >= r.slices[0] + r.slices[1],
            "{path:?}: {r:?}"
        );
        assert!(r.work.iter().all(|&w| w > 0), "{path:?}: {r:?}");
    }
}
