//! `am`: active messages (Nemo §4.2, Fig. 15–19). Notify → action-handler latency to one
//! target and to every target, and throughput: a sender streaming notifies to one target as
//! fast as its mailbox takes them (`msgs_per_s`, from the first send to the last message
//! handled, the median of a few bursts).
//!
//! Each `am_*` row is compared with the raw notification it is built on, measured in the same
//! run: `am_signal` with `signal`, `am_uintr` with `uintr`, and `am_poll` (polled at safepoints)
//! with `spin` (a polled cache line). So the `×` columns read as what the active-message path —
//! action lookup, mailbox, dispatch — costs on top of its backend.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use super::Driver;
use crate::arrival::Arrivals;
use crate::harness::{Case, Context, Failure, Fanout, rounds, spawn_in};
use crate::mechanisms::{Instance, InterruptLink};
use crate::placement::{pin_current, pin_for_now};
use crate::plan::{Counts, Plan};
use crate::samples::{Measurement, Samples};

/// Active-message latency and throughput.
pub struct Am;

// Fewer events than `unicast`'s: its rows repeat some of that table's, and the whole default
// run stays well under a minute.
const UNICAST: Counts = Counts {
    full: 10_000,
    quick: 1_000,
    sim: 50,
};
const BROADCAST: Counts = Counts {
    full: 2_000,
    quick: 300,
    sim: 20,
};

/// Messages streamed for throughput per latency event of the unicast case (the case carries
/// only its event count): 50 000 in a default run, 5 000 with `--quick`.
pub const STREAM_PER_EVENT: usize = 5;

impl Driver for Am {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        // Running receivers each need a core: by default as many targets as there are cores
        // besides the sender's.
        let targets = plan
            .waiters
            .unwrap_or_else(|| plan.cores.saturating_sub(1))
            .max(1);
        let gap = plan.short_gap();
        vec![
            plan.case("unicast", gap, UNICAST, 1, Fanout::One),
            plan.case("broadcast", gap, BROADCAST, targets, Fanout::All),
        ]
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let r = rounds(ctx, case, instance)?;
        let (mut lat, clamped) = r.latencies(&ctx.clock);
        let mut extra = Vec::new();
        let samples = match case.fanout {
            Fanout::All => Samples::Broadcast(lat),
            Fanout::One => {
                if let Instance::Interrupt(link) = instance
                    && link.queues_messages()
                {
                    let messages = case.events.saturating_mul(STREAM_PER_EVENT);
                    extra.push(("msgs_per_s", stream(ctx, messages, &**link)?.round()));
                }
                Samples::Latency(lat.pop().unwrap_or_default())
            }
        };
        Ok(Measurement {
            unit: ctx.clock.unit(),
            samples,
            waiter_cpu_ns_per_event: r.cpu_ns_per_event(),
            pinned: r.pinned,
            clamped,
            extra,
        })
    }
}

/// Bursts a stream is cut into: its rate is the median burst's, so one preemption of the sender
/// or the receiver on a shared machine does not decide the number.
pub const STREAM_BURSTS: usize = 5;

/// Streams about `messages` sends to receiver 0 of `link`, in [`STREAM_BURSTS`] bursts sent back
/// to back (a send to a full mailbox waits for room), each burst timed from its first send to
/// the handler's stamp of its last message. Returns the median burst's messages per second.
/// Every message must be handled exactly once.
pub fn stream(ctx: &Context, messages: usize, link: &dyn InterruptLink) -> Result<f64, Failure> {
    let burst = (messages / STREAM_BURSTS).max(1);
    let total = burst * STREAM_BURSTS;
    let clock = ctx.clock;
    let ticks_per_s = clock.ticks(Duration::from_secs(1)) as f64;
    let arrivals = Arc::new(Arrivals::new(clock, total));
    let stop = AtomicBool::new(false);
    // Nothing calls this start off: if the receiver cannot be spawned, nobody waits at it.
    let start = Barrier::new(2);

    std::thread::scope(|s| {
        let receiver = spawn_in(s, "receiver 0", || {
            pin_current(ctx.topology.receiver_core(0));
            let registered = link.register(0, arrivals.clone());
            if registered.is_err() {
                stop.store(true, Ordering::Release);
            }
            start.wait();
            if registered.is_ok() {
                while arrivals.count() < total && !stop.load(Ordering::Acquire) {
                    link.poll(0);
                    std::hint::spin_loop();
                }
                // The final drain of a receiver still hands over what was queued.
                link.unregister(0);
            }
            registered
        })?;
        // The sender is the calling thread: under gem5 every thread needs a core of its own.
        let mut rates = {
            let _pin = pin_for_now(ctx.topology.signaller_core());
            start.wait();
            let mut rates = Vec::with_capacity(STREAM_BURSTS);
            for b in 1..=STREAM_BURSTS {
                if stop.load(Ordering::Acquire) {
                    break;
                }
                let t0 = clock.now();
                for _ in 0..burst {
                    link.send(0);
                }
                let end = b * burst;
                if !wait_for(ctx.timeout, || arrivals.count() >= end) {
                    break;
                }
                let elapsed = arrivals.get(end - 1).saturating_sub(t0).max(1);
                rates.push(burst as f64 * ticks_per_s / elapsed as f64);
            }
            stop.store(true, Ordering::Release);
            rates
        };
        let registered = receiver.join().expect("receiver thread panicked");
        if let Err(why) = registered {
            return Err(Failure::Register {
                receiver: 0,
                reason: why.0,
            });
        }
        let got = arrivals.count();
        if rates.len() < STREAM_BURSTS {
            return Err(Failure::Lost {
                event: got,
                timeout: ctx.timeout,
            });
        }
        if got != total {
            return Err(Failure::Spurious {
                receiver: 0,
                got,
                sent: total,
            });
        }
        rates.sort_by(f64::total_cmp);
        Ok(rates[STREAM_BURSTS / 2])
    })
}

/// Spins until `done()`, at most `timeout`.
fn wait_for(timeout: Duration, done: impl Fn() -> bool) -> bool {
    let mut spins = 0u32;
    let mut deadline = None;
    while !done() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            let now = Instant::now();
            match deadline {
                None => deadline = Some(now + timeout),
                Some(d) if now > d => return false,
                Some(_) => {}
            }
        }
        std::hint::spin_loop();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::mechanisms::{self, Setup};
    use crate::placement::Topology;
    use crate::plan::Profile;

    fn ctx() -> Context {
        Context {
            clock: Clock::native(Duration::from_millis(2)),
            topology: Topology::detect(),
            sim: false,
            timeout: Duration::from_secs(10),
        }
    }

    fn instance(id: &str, case: &Case) -> Instance {
        let c = ctx();
        let setup = Setup {
            scenario: "am",
            regime: &case.regime,
            receivers: case.receivers,
            cores: c.topology.cores(),
            oversubscribed: false,
            sim: false,
            static_binary: false,
            uintr: false,
        };
        match mechanisms::find(id).map(|m| m.instantiate(&setup)) {
            Some(Ok(i)) => i,
            _ => panic!("{id} must instantiate here"),
        }
    }

    #[test]
    fn cases_are_one_target_then_every_free_core() {
        let cases = Am.cases(&Plan::new(Profile::Quick, 8));
        assert_eq!(cases.len(), 2);
        assert_eq!((cases[0].receivers, cases[0].fanout), (1, Fanout::One));
        assert_eq!((cases[1].receivers, cases[1].fanout), (7, Fanout::All));
        let mut p = Plan::new(Profile::Quick, 2);
        assert_eq!(Am.cases(&p)[1].receivers, 1);
        p.waiters = Some(3);
        assert_eq!(Am.cases(&p)[1].receivers, 3);
    }

    #[test]
    fn each_am_row_has_its_own_raw_baseline() {
        let am = super::super::find("am").expect("registered");
        assert_eq!(am.baseline_of("am_signal"), "signal");
        assert_eq!(am.baseline_of("am_poll"), "spin");
        assert_eq!(am.baseline_of("am_uintr"), "uintr");
        assert_eq!(am.baseline_of("spin"), "signal");
    }

    #[test]
    fn unicast_am_rows_carry_their_throughput() {
        let mut plan = Plan::new(Profile::Quick, 2);
        plan.iters = Some(40);
        let case = &Am.cases(&plan)[0];
        let m = Am
            .measure(&ctx(), case, &instance("am_poll", case))
            .expect("am_poll measures");
        assert!(matches!(&m.samples, Samples::Latency(v) if v.len() == 40));
        let rate = m.extra.iter().find(|(k, _)| *k == "msgs_per_s");
        assert!(
            rate.is_some_and(|(_, r)| r.is_finite() && *r > 0.0),
            "{m:?}"
        );
        // A raw notification coalesces: no throughput to report.
        let spin = Am
            .measure(&ctx(), case, &instance("spin", case))
            .expect("spin measures");
        assert!(spin.extra.is_empty());
    }

    #[test]
    fn a_stream_counts_every_message_once() {
        let case = &Am.cases(&Plan::new(Profile::Quick, 2))[0];
        let Instance::Interrupt(link) = instance("am_signal", case) else {
            panic!("am_signal is an interrupt link");
        };
        // Bursts of several mailboxes' worth: the sender has to wait for room.
        let messages = 3 * 1024 * STREAM_BURSTS; // am links' mailboxes hold 1024
        let rate = stream(&ctx(), messages, &*link).expect("every message handled");
        assert!(rate.is_finite() && rate > 0.0);
    }

    #[test]
    fn broadcast_samples_every_target() {
        let mut plan = Plan::new(Profile::Quick, 2);
        plan.iters = Some(10);
        plan.waiters = Some(1);
        let case = &Am.cases(&plan)[1];
        let m = Am
            .measure(&ctx(), case, &instance("am_signal", case))
            .expect("am_signal broadcasts");
        assert!(matches!(&m.samples, Samples::Broadcast(w) if w.len() == 1 && w[0].len() == 10));
    }
}
