//! `nemo_signal`, `nemo_poll`, `nemo_uintr`: this project's user interrupts on one backend — a
//! `nemo_user` receiver per receiver thread and a `Sender` to it, the path every
//! `nemo_user::timer` tick takes — and `nemo_posix`: `nemo_signal` ticked by a per-thread POSIX
//! timer (`nemo_user::timer::Timer::posix`) instead of sends from a timer thread.
//!
//! They take part in the tick scenarios (`overhead`, `timer`); the handler stamps the arrival,
//! and on `poll` the receiver's safepoint is `nemo_user::poll()`.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use nemo_user::BackendKind;
use nemo_user::interrupt::{Receiver, Sender};
use nemo_user::timer::{Arm, Timer};

use super::{Driver, Instance, InterruptLink, OwnTicks, Setup, Skipped};
use crate::arrival::Arrivals;

/// The vector the benchmark's ticks use.
const VECTOR: u64 = 1;

/// Scenarios these mechanisms take part in.
pub(super) const TICK_SCENARIOS: &[&str] = &["overhead", "timer", "kick", "hol", "preempt"];

/// Scenarios of a `nemo_user::sched` runtime, where lazy ticks are a runtime's choice.
pub(super) const SCHED_SCENARIOS: &[&str] = &["kick", "hol", "preempt"];

/// A `nemo_user` interrupt mechanism.
pub struct NemoInterrupt {
    backend: BackendKind,
    /// Ticks come from a per-thread POSIX timer.
    posix: bool,
    /// A sched runtime's quantum ticks interrupt only a task that took the previous one at no
    /// safepoint (`sched::Builder::lazy_ticks`).
    lazy_ticks: bool,
}

/// `nemo_user` interrupts on the `signal` backend.
pub static NEMO_SIGNAL: NemoInterrupt = NemoInterrupt {
    backend: BackendKind::Signal,
    posix: false,
    lazy_ticks: false,
};

/// `nemo_user` interrupts on the `signal` backend, ticked by per-thread POSIX timers.
pub static NEMO_POSIX: NemoInterrupt = NemoInterrupt {
    backend: BackendKind::Signal,
    posix: true,
    lazy_ticks: false,
};

/// `nemo_user` interrupts on the `signal` backend, a sched runtime's ticks lazy: taken at the
/// task's safepoints, a signal only for a task that reached none for a quantum.
pub static NEMO_SIGNAL_LAZY: NemoInterrupt = NemoInterrupt {
    backend: BackendKind::Signal,
    posix: false,
    lazy_ticks: true,
};

/// `nemo_user` interrupts on the `poll` backend.
pub static NEMO_POLL: NemoInterrupt = NemoInterrupt {
    backend: BackendKind::Poll,
    posix: false,
    lazy_ticks: false,
};

/// `nemo_user` interrupts on the `uintr` backend.
pub static NEMO_UINTR: NemoInterrupt = NemoInterrupt {
    backend: BackendKind::Uintr,
    posix: false,
    lazy_ticks: false,
};

impl Driver for NemoInterrupt {
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        // `preempt`'s "… anywhere" rows need a handler that can rewrite the interrupted context.
        if setup.scenario == "preempt"
            && setup.regime.ends_with(" anywhere")
            && self.backend == BackendKind::Poll
        {
            return Err(Skipped::new(
                "poll preempts only at safepoints: sched::preemptible changes nothing there",
            ));
        }
        // Its "… kbtimer" rows need xUI's KB timer, which only the gem5 model has, and user
        // interrupts to deliver its ticks.
        if setup.scenario == "preempt" && setup.regime.ends_with(" kbtimer") {
            if self.backend != BackendKind::Uintr {
                return Err(Skipped::new(
                    "the KB timer posts a user interrupt: uintr backend only",
                ));
            }
            if !uintr_sys::detect::xui_kb_timer_announced() {
                return Err(Skipped::new(
                    "xUI's KB timer exists only in the gem5 UINTR model (no xui_kbtimer flag in \
                     /proc/cpuinfo)",
                ));
            }
        }
        Ok(Instance::Interrupt(Box::new(NemoLink {
            backend: self.backend,
            posix: self.posix,
            lazy_ticks: self.lazy_ticks,
            senders: (0..setup.receivers).map(|_| OnceLock::new()).collect(),
        })))
    }
}

thread_local! {
    /// The receiver registered on this thread by `register` (a receiver belongs to its thread).
    static RECEIVER: RefCell<Option<Receiver>> = const { RefCell::new(None) };
}

struct NemoLink {
    backend: BackendKind,
    posix: bool,
    lazy_ticks: bool,
    senders: Box<[OnceLock<Sender>]>,
}

impl InterruptLink for NemoLink {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        let slot = self
            .senders
            .get(index)
            .ok_or_else(|| Skipped::new(format!("receiver {index} out of range")))?;
        let rx = Receiver::builder()
            .backend(self.backend)
            .register(move |_| arrivals.stamp())
            .map_err(|e| Skipped::new(format!("cannot register a receiver: {e}")))?;
        let sender = rx
            .endpoint()
            .connect(VECTOR)
            .map_err(|e| Skipped::new(format!("cannot connect: {e}")))?;
        let _ = slot.set(sender);
        RECEIVER.with(|r| *r.borrow_mut() = Some(rx));
        Ok(())
    }

    fn send(&self, index: usize) {
        if let Some(s) = self.senders.get(index).and_then(OnceLock::get) {
            // A receiver that has gone shows up as an event that never arrives.
            let _ = s.send();
        }
    }

    fn poll(&self, _index: usize) {
        nemo_user::poll();
    }

    fn delivers_at_safepoints(&self) -> bool {
        self.backend == BackendKind::Poll
    }

    fn nemo_backend(&self) -> Option<BackendKind> {
        Some(self.backend)
    }

    fn nemo_lazy_ticks(&self) -> bool {
        self.lazy_ticks
    }

    fn own_ticks(
        &self,
        _index: usize,
        period: Duration,
    ) -> Option<Result<Box<dyn OwnTicks>, Skipped>> {
        if !self.posix {
            return None;
        }
        let timer = RECEIVER.with(|r| {
            let r = r.borrow();
            let rx = r
                .as_ref()
                .ok_or_else(|| Skipped::new("no receiver registered on this thread"))?;
            // Created disarmed: `start` arms it.
            let t = Timer::posix(
                &rx.endpoint(),
                VECTOR,
                Arm::OneShot(Duration::from_secs(3600)),
            )
            .map_err(|e| Skipped::new(format!("cannot create a POSIX timer: {e}")))?;
            t.cancel();
            Ok(t)
        });
        Some(timer.map(|timer| Box::new(PosixTicks { timer, period }) as Box<dyn OwnTicks>))
    }

    fn unregister(&self, _index: usize) {
        RECEIVER.with(|r| drop(r.borrow_mut().take()));
    }
}

struct PosixTicks {
    timer: Timer<'static>,
    period: Duration,
}

impl OwnTicks for PosixTicks {
    fn start(&self) -> Result<(), Skipped> {
        self.timer
            .rearm(Arm::Periodic(self.period))
            .map_err(|e| Skipped::new(format!("cannot arm the POSIX timer: {e}")))
    }

    fn counts(&self) -> (u64, u64) {
        let s = self.timer.stats();
        (s.delivered + s.coalesced, s.delivered)
    }

    fn stop(&self) {
        self.timer.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;

    fn setup(scenario: &'static str, sim: bool) -> Setup<'static> {
        Setup {
            scenario,
            regime: "fib 5us",
            receivers: 1,
            cores: 2,
            oversubscribed: false,
            sim,
            static_binary: false,
            uintr: false,
        }
    }

    #[test]
    fn applies_to_the_tick_scenarios_and_skips_what_cannot_run() {
        let m = |id| crate::mechanisms::find(id).expect("registered");
        assert!(m("nemo_signal").supports("overhead"));
        assert!(m("nemo_signal").supports("timer"));
        assert!(!m("nemo_signal").supports("unicast"));
        assert!(m("nemo_posix").supports("overhead"));
        assert!(!m("nemo_posix").supports("timer"));
        assert!(m("nemo_signal").check(&setup("overhead", true)).is_err());
        assert!(m("nemo_poll").check(&setup("overhead", true)).is_ok());
        assert!(m("nemo_uintr").check(&setup("overhead", false)).is_err());
    }

    /// Exactly the links on the `poll` backend say they deliver only at safepoints: the
    /// `overhead` scenario instruments the kernel's back-edges for those, and only those.
    #[test]
    fn only_poll_links_deliver_at_safepoints() {
        let mut seen = 0;
        for m in crate::mechanisms::MECHANISMS {
            let Ok(Instance::Interrupt(link)) = m.instantiate(&setup("overhead", false)) else {
                continue;
            };
            let polled = m.id().ends_with("_poll");
            assert_eq!(link.delivers_at_safepoints(), polled, "{}", m.id());
            seen += 1;
        }
        // signal, nemo_signal, nemo_posix, nemo_poll, am_signal, am_poll at least.
        assert!(seen >= 6, "{seen} interrupt links");
    }

    /// Every send is stamped exactly once, on each backend that runs here; on `poll`, at the
    /// receiver's safepoint.
    #[test]
    fn each_send_arrives_once() {
        for id in ["nemo_signal", "nemo_poll"] {
            let m = crate::mechanisms::find(id).expect("registered");
            let Ok(Instance::Interrupt(link)) = m.instantiate(&setup("overhead", false)) else {
                panic!("{} instantiates", m.id());
            };
            let arrivals = Arc::new(Arrivals::new(Clock::monotonic(), 64));
            let stop = AtomicBool::new(false);
            std::thread::scope(|s| {
                let (link, arrivals, stop) = (&link, &arrivals, &stop);
                let (tx, rx) = std::sync::mpsc::channel();
                s.spawn(move || {
                    link.register(0, arrivals.clone()).expect("register");
                    tx.send(()).expect("main waits");
                    while !stop.load(Ordering::Acquire) {
                        link.poll(0);
                    }
                    link.unregister(0);
                });
                rx.recv().expect("registered");
                for e in 1..=50 {
                    link.send(0);
                    let start = Instant::now();
                    while arrivals.count() < e {
                        assert!(start.elapsed() < Duration::from_secs(30), "{}", m.id());
                        std::thread::yield_now();
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
                assert_eq!(arrivals.count(), 50, "{}", m.id());
                stop.store(true, Ordering::Release);
            });
        }
    }

    #[test]
    fn posix_ticks_arrive_on_their_own() {
        let Ok(Instance::Interrupt(link)) = NEMO_POSIX.instantiate(&setup("overhead", false))
        else {
            panic!("nemo_posix instantiates");
        };
        let arrivals = Arc::new(Arrivals::new(Clock::monotonic(), 1));
        link.register(0, arrivals.clone()).expect("register");
        let ticks = link
            .own_ticks(0, Duration::from_micros(200))
            .expect("nemo_posix has its own ticks")
            .expect("timer created");
        ticks.start().expect("timer armed");
        let start = Instant::now();
        while arrivals.count() < 5 {
            assert!(start.elapsed() < Duration::from_secs(30));
            std::hint::spin_loop();
        }
        drop(ticks);
        link.unregister(0);
        assert!(NEMO_SIGNAL.instantiate(&setup("overhead", false)).is_ok());
    }
}
