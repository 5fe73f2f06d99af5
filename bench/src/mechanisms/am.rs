//! `am_signal`, `am_poll`, `am_uintr`: a notify through a `nemo-user` active-message
//! [`Domain`] whose action stamps the arrival on the target thread — the active-message path
//! (action table, per-target mailbox, the interrupt that says "look", dispatch) on top of each
//! backend's raw notification (`signal`, `spin`'s polling, `uintr`).
//!
//! One [`ActiveMessages`] per backend; the three differ only in the receiver's backend and in
//! how the receiver is reached: `am_signal` and `am_uintr` interrupt its busy loop, `am_poll`
//! targets run their actions at the [`nemo_user::poll()`] safepoint the harness calls in that
//! loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::ErrorKind;
use nemo_user::am::{ActionId, Domain, TargetId};
use nemo_user::interrupt::{Receiver, ReceiverBuilder};

use super::{Driver, Instance, InterruptLink, Setup, Skipped, thread_receiver};
use crate::arrival::Arrivals;

/// Active messages over one backend.
pub struct ActiveMessages {
    backend: BackendKind,
}

/// `am_signal`: targets on the `signal` backend.
pub static AM_SIGNAL: ActiveMessages = ActiveMessages {
    backend: BackendKind::Signal,
};
/// `am_poll`: targets on the `poll` backend.
pub static AM_POLL: ActiveMessages = ActiveMessages {
    backend: BackendKind::Poll,
};
/// `am_uintr`: targets on the `uintr` backend (only where user interrupts are detected).
pub static AM_UINTR: ActiveMessages = ActiveMessages {
    backend: BackendKind::Uintr,
};

/// Messages a target's mailbox holds (the library's default): a streaming sender waits for room
/// beyond this.
pub const MAILBOX: usize = 1024;

impl Driver for ActiveMessages {
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        let targets = Receiver::builder().backend(self.backend).vectors(0);
        Ok(Instance::Interrupt(Box::new(AmLink::new(
            targets,
            self.backend == BackendKind::Poll,
            setup.receivers,
        )?)))
    }
}

/// How long a sender keeps retrying a notify to a full mailbox before giving the message up
/// (the measurement loop then reports it lost).
const FULL_MAILBOX_PATIENCE: Duration = Duration::from_secs(5);

/// One domain, one action (stamp the arrival), one target per receiver.
pub(super) struct AmLink {
    domain: Domain,
    action: ActionId,
    /// How each receiver registers as a target.
    targets: ReceiverBuilder,
    /// Whether receivers deliver at `nemo_user::poll()` safepoints.
    polled: bool,
    /// Each receiver's [`TargetId`] with [`REGISTERED`] set, 0 while it has none.
    ids: Box<[AtomicU64]>,
}

const REGISTERED: u64 = 1 << 32;

impl AmLink {
    /// A link whose receivers register with `targets` (a builder for the backend; its vectors
    /// other than the domain's are never connected to).
    pub(super) fn new(
        targets: ReceiverBuilder,
        polled: bool,
        receivers: usize,
    ) -> Result<AmLink, Skipped> {
        let domain = Domain::builder()
            .targets(receivers.max(1))
            .mailbox(MAILBOX)
            .build();
        let action = domain
            .register_action(|_| thread_receiver::stamp())
            .map_err(|e| Skipped::new(format!("cannot register the action: {e}")))?;
        Ok(AmLink {
            domain,
            action,
            targets,
            polled,
            ids: (0..receivers).map(|_| AtomicU64::new(0)).collect(),
        })
    }

    fn target(&self, index: usize) -> Option<TargetId> {
        let v = self.ids.get(index)?.load(Ordering::Acquire);
        (v & REGISTERED != 0).then(|| TargetId::from(v as u32))
    }
}

impl InterruptLink for AmLink {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        let slot = self
            .ids
            .get(index)
            .ok_or_else(|| Skipped::new(format!("receiver {index} out of range")))?;
        thread_receiver::register(arrivals, || {
            let target = self
                .domain
                .register_target_with(self.targets.clone(), |_| {})
                .map_err(|e| format!("cannot register an active-message target: {e}"))?;
            slot.store(
                REGISTERED | u64::from(u32::from(target.id())),
                Ordering::Release,
            );
            Ok(target)
        })
        .map_err(Skipped)
    }

    /// Notifies receiver `index`, waiting for room while its mailbox is full (a stream runs as
    /// fast as the mailbox allows; single events never find it full).
    fn send(&self, index: usize) {
        let Some(target) = self.target(index) else {
            return;
        };
        let mut spins = 0u32;
        let mut deadline = None;
        loop {
            match self.domain.notify(target, self.action, index as u64) {
                Err(e) if e.kind() == ErrorKind::MailboxFull => {}
                // Sent, or undeliverable (the target went away): the loop that measures sees
                // which from the arrivals.
                Ok(()) | Err(_) => return,
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(4096) {
                let now = Instant::now();
                match deadline {
                    None => deadline = Some(now + FULL_MAILBOX_PATIENCE),
                    Some(d) if now > d => return,
                    Some(_) => {}
                }
            }
        }
    }

    /// One broadcast to every target of the domain (its own loop over the target table).
    fn send_all(&self, _receivers: usize) {
        // An incomplete broadcast (a full mailbox, a target gone) shows up as a lost event.
        let _ = self.domain.broadcast(self.action, 0);
    }

    fn poll(&self, _index: usize) {
        if self.polled {
            nemo_user::poll();
        }
    }

    fn delivers_at_safepoints(&self) -> bool {
        self.polled
    }

    fn unregister(&self, index: usize) {
        if let Some(slot) = self.ids.get(index) {
            slot.store(0, Ordering::Release);
        }
        thread_receiver::unregister();
    }

    fn queues_messages(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::{interrupt_exact, stream_exact};

    fn setup(sim: bool, uintr: bool) -> Setup<'static> {
        Setup {
            scenario: "am",
            regime: "unicast",
            receivers: 1,
            cores: 2,
            oversubscribed: false,
            sim,
            static_binary: false,
            uintr,
        }
    }

    fn link(backend: BackendKind, receivers: usize) -> AmLink {
        let targets = Receiver::builder().backend(backend).vectors(0);
        AmLink::new(targets, backend == BackendKind::Poll, receivers).expect("link")
    }

    #[test]
    fn ids_and_availability() {
        let m = |id| crate::mechanisms::find(id).expect("registered");
        let (am_signal, am_poll, am_uintr) = (m("am_signal"), m("am_poll"), m("am_uintr"));
        // Simulation: no signals, but polling works.
        assert!(am_signal.check(&setup(true, false)).is_err());
        assert!(am_poll.check(&setup(true, false)).is_ok());
        assert!(am_signal.check(&setup(false, false)).is_ok());
        let why = am_uintr
            .check(&setup(false, false))
            .expect_err("needs UINTR");
        assert!(why.0.contains(uintr_sys::detect().reason()), "{why}");
        assert!(am_uintr.check(&setup(false, true)).is_ok());
    }

    #[test]
    fn am_signal_stamps_each_event_exactly_once() {
        interrupt_exact(&link(BackendKind::Signal, 1), 1, 300, false);
    }

    #[test]
    fn am_poll_stamps_each_event_exactly_once() {
        interrupt_exact(&link(BackendKind::Poll, 1), 1, 300, false);
    }

    #[test]
    fn broadcasts_reach_every_target_exactly_once() {
        // More targets than cores is fine for correctness: the receivers yield while they wait.
        interrupt_exact(&link(BackendKind::Poll, 3), 3, 100, true);
        interrupt_exact(&link(BackendKind::Signal, 2), 2, 100, true);
    }

    #[test]
    fn streams_lose_nothing_past_a_full_mailbox() {
        // Several mailboxes' worth, sent without waiting: the sender waits for room.
        for backend in [BackendKind::Signal, BackendKind::Poll] {
            let l = link(backend, 1);
            assert!(l.queues_messages());
            stream_exact(&l, 3 * MAILBOX + 17);
        }
    }

    #[test]
    fn am_uintr_path_is_exact_on_the_emulation() {
        // The uintr backend's own path (trampoline, uiret) through uintr-sys's emulation: not
        // its speed, but what am_uintr runs where the CPU has user interrupts.
        let targets = Receiver::builder().uintr_emulated(true).vectors(0);
        let l = AmLink::new(targets, false, 1).expect("link");
        interrupt_exact(&l, 1, 100, false);
        stream_exact(&l, MAILBOX + 5);
    }

    #[test]
    fn sends_to_an_unregistered_receiver_do_nothing() {
        let l = link(BackendKind::Poll, 1);
        l.send(0);
        l.send(7);
        l.send_all(1);
        assert_eq!(l.target(0), None);
    }
}
