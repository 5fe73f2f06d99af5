//! `nemo_condvar_irq`, `nemo_event_irq` (and their `_uintr` rows): the project's condvar and
//! event with the interrupt rung ([`nemo_user::wake::InterruptPark`]) — a parked waiter sleeps
//! as a user-interrupt receiver and its notifier interrupts it instead of a `FUTEX_WAKE`; a
//! broadcast is the notifier's fan-out of interrupts. Same predicate and usage as the
//! `nemo_condvar` / `nemo_event` rows (default wait policy), so only the park rung differs.
//!
//! The plain rows run the rung on the `signal` backend (a real-time signal ends the waiter's
//! futex sleep), which works everywhere but gem5's syscall emulation; the `_uintr` rows need
//! UINTR hardware (`senduipi` → `uintr_wait`) and are skipped, saying so, elsewhere. Both apply
//! to the long-gap `unicast` case (a parked waiter) and to `broadcast`.

use nemo_user::BackendKind;
use nemo_user::condvar::Condvar;
use nemo_user::event::Event;
use nemo_user::wait::WaitPolicy;
use nemo_user::wake::InterruptPark;

use super::nemo_condvar::CondvarEvent;
use super::nemo_event::EventCount;
use super::{Driver, Instance, Setup, Skipped};

/// The condvar or the event, on one backend's interrupt rung.
pub struct InterruptParked {
    event: bool,
    backend: BackendKind,
}

/// The condvar, interrupt rung on `signal`.
pub static NEMO_CONDVAR_IRQ: InterruptParked = InterruptParked {
    event: false,
    backend: BackendKind::Signal,
};

/// The event, interrupt rung on `signal`.
pub static NEMO_EVENT_IRQ: InterruptParked = InterruptParked {
    event: true,
    backend: BackendKind::Signal,
};

/// The condvar, interrupt rung on UINTR hardware.
pub static NEMO_CONDVAR_IRQ_UINTR: InterruptParked = InterruptParked {
    event: false,
    backend: BackendKind::Uintr,
};

/// The event, interrupt rung on UINTR hardware.
pub static NEMO_EVENT_IRQ_UINTR: InterruptParked = InterruptParked {
    event: true,
    backend: BackendKind::Uintr,
};

/// The scenarios the rows take part in: the rung is about parked waiters.
pub const IRQ_SCENARIOS: &[&str] = &["unicast", "broadcast"];

impl Driver for InterruptParked {
    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        if setup.scenario == "unicast" && setup.regime != "long-gap" {
            return Err(Skipped::new(
                "the interrupt rung is for parked waiters; a short gap finds the waiter spinning \
                 (that path is the nemo_condvar / nemo_event row)",
            ));
        }
        Ok(())
    }

    fn instantiate(&self, _: &Setup<'_>) -> Result<Instance, Skipped> {
        let rung = InterruptPark::with_backend(self.backend);
        let policy = WaitPolicy::default();
        Ok(Instance::Blocking(if self.event {
            Box::new(EventCount::from_event(
                Event::new().with_policy(policy).with_interrupt_park(rung),
            ))
        } else {
            Box::new(CondvarEvent::from_condvar(
                Condvar::new().with_policy(policy).with_interrupt_park(rung),
            ))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::handshake_exact;
    use crate::mechanisms::{BlockingEvent, find};

    fn setup(uintr: bool) -> Setup<'static> {
        Setup {
            scenario: "broadcast",
            regime: "long-gap",
            receivers: 3,
            cores: 2,
            oversubscribed: true,
            sim: false,
            static_binary: false,
            uintr,
        }
    }

    fn instance(m: &InterruptParked) -> Box<dyn BlockingEvent> {
        match m.instantiate(&setup(false)).unwrap() {
            Instance::Blocking(ev) => ev,
            Instance::Interrupt(_) => unreachable!("a blocking mechanism"),
        }
    }

    #[test]
    fn registered_for_unicast_long_gap_and_broadcast_only() {
        for id in [
            "nemo_condvar_irq",
            "nemo_event_irq",
            "nemo_condvar_irq_uintr",
            "nemo_event_irq_uintr",
        ] {
            let m = find(id).unwrap();
            assert!(m.supports("unicast"));
            assert!(m.supports("broadcast"));
            assert!(!m.supports("coherence"));
            let short = Setup {
                scenario: "unicast",
                regime: "short-gap",
                ..setup(true)
            };
            assert!(m.check(&short).is_err(), "{id} in unicast short-gap");
        }
    }

    #[test]
    fn uintr_rows_say_they_need_the_hardware() {
        let m = find("nemo_condvar_irq_uintr").unwrap();
        let e = m.check(&setup(false)).unwrap_err();
        assert!(e.0.contains("no user interrupts"), "{e}");
        assert!(
            find("nemo_event_irq_uintr")
                .unwrap()
                .instantiate(&setup(false))
                .is_err()
        );
        let sim = Setup {
            sim: true,
            ..setup(false)
        };
        assert!(find("nemo_condvar_irq").unwrap().check(&sim).is_err());
    }

    #[test]
    fn condvar_unicast_events_are_each_seen_once() {
        handshake_exact(&*instance(&NEMO_CONDVAR_IRQ), 1, 1000);
    }

    #[test]
    fn condvar_broadcast_events_reach_every_waiter() {
        handshake_exact(&*instance(&NEMO_CONDVAR_IRQ), 3, 300);
    }

    #[test]
    fn event_unicast_events_are_each_seen_once() {
        handshake_exact(&*instance(&NEMO_EVENT_IRQ), 1, 1000);
    }

    #[test]
    fn event_broadcast_events_reach_every_waiter() {
        handshake_exact(&*instance(&NEMO_EVENT_IRQ), 3, 300);
    }
}
