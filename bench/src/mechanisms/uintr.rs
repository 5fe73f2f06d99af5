//! `uintr`: raw `SENDUIPI` → handler — a `nemo-user` receiver on the `uintr` backend whose
//! handler stamps the arrival, without active messages. The hardware floor that `am_uintr` is
//! measured against; it runs only where user interrupts are detected.

use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::{Arc, Mutex};

use nemo_user::BackendKind;
use nemo_user::interrupt::{Receiver, ReceiverBuilder, Sender};

use super::{Driver, Instance, InterruptLink, Setup, Skipped, thread_receiver};
use crate::arrival::Arrivals;

/// Raw user interrupts.
pub struct Uintr;

impl Driver for Uintr {
    fn instantiate(&self, setup: &Setup<'_>) -> Result<Instance, Skipped> {
        let receivers = Receiver::builder().backend(BackendKind::Uintr);
        Ok(Instance::Interrupt(Box::new(UintrLink::new(
            receivers,
            setup.receivers,
        ))))
    }
}

/// The vector every receiver takes (the one active messages use by default, so `uintr` and
/// `am_uintr` deliver the same way).
const VECTOR: u64 = 0;

/// One receiver per index, reached through a [`Sender`] connected on its thread.
pub(super) struct UintrLink {
    /// How each receiver registers (its backend; only [`VECTOR`] is enabled).
    receivers: ReceiverBuilder,
    /// Each receiver's sender, null while it has none. Points into `connected`.
    senders: Box<[AtomicPtr<Sender>]>,
    /// Every sender ever connected, kept until the link is dropped, so a `send` racing an
    /// `unregister` still holds a live `Sender` (whose send then fails cleanly with
    /// `ReceiverGone`).
    connected: Mutex<Vec<Arc<Sender>>>,
}

impl UintrLink {
    pub(super) fn new(receivers: ReceiverBuilder, count: usize) -> UintrLink {
        UintrLink {
            receivers: receivers.vectors(1 << VECTOR),
            senders: (0..count)
                .map(|_| AtomicPtr::new(std::ptr::null_mut()))
                .collect(),
            connected: Mutex::new(Vec::new()),
        }
    }
}

impl InterruptLink for UintrLink {
    fn register(&self, index: usize, arrivals: Arc<Arrivals>) -> Result<(), Skipped> {
        let slot = self
            .senders
            .get(index)
            .ok_or_else(|| Skipped::new(format!("receiver {index} out of range")))?;
        thread_receiver::register(arrivals, || {
            let rx: Receiver = self
                .receivers
                .clone()
                .register(|_| thread_receiver::stamp())
                .map_err(|e| format!("cannot register a user-interrupt receiver: {e}"))?;
            let tx = Arc::new(
                rx.endpoint()
                    .connect(VECTOR)
                    .map_err(|e| format!("cannot connect a sender: {e}"))?,
            );
            let mut connected = self
                .connected
                .lock()
                .map_err(|_| "sender table poisoned".to_string())?;
            slot.store(Arc::as_ptr(&tx).cast_mut(), Ordering::Release);
            connected.push(tx);
            Ok(rx)
        })
        .map_err(Skipped)
    }

    fn send(&self, index: usize) {
        let tx = self.senders[index].load(Ordering::Acquire);
        if !tx.is_null() {
            // SAFETY: non-null pointers in `senders` come from `Arc`s held by `connected`,
            // which are only released when the link is dropped (no `send` can run then).
            // A failed send (the receiver went away) shows up as a lost event.
            let _ = unsafe { &*tx }.send();
        }
    }

    fn unregister(&self, index: usize) {
        if let Some(slot) = self.senders.get(index) {
            slot.store(std::ptr::null_mut(), Ordering::Release);
        }
        thread_receiver::unregister();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanisms::tests_support::interrupt_exact;

    fn setup(uintr: bool) -> Setup<'static> {
        Setup {
            scenario: "unicast",
            regime: "short-gap",
            receivers: 1,
            cores: 2,
            oversubscribed: false,
            sim: false,
            static_binary: false,
            uintr,
        }
    }

    #[test]
    fn runs_only_where_detected() {
        let uintr = crate::mechanisms::find("uintr").expect("registered");
        let why = uintr.check(&setup(false)).expect_err("needs UINTR");
        assert!(why.0.contains(uintr_sys::detect().reason()), "{why}");
        assert!(uintr.check(&setup(true)).is_ok());
        assert!(uintr.instantiate(&setup(false)).is_err());
    }

    #[test]
    fn path_is_exact_on_the_emulation() {
        // The backend's own path (trampoline, uiret) through uintr-sys's emulation.
        let link = UintrLink::new(Receiver::builder().uintr_emulated(true), 1);
        interrupt_exact(&link, 1, 150, false);
        interrupt_exact(
            &UintrLink::new(Receiver::builder().uintr_emulated(true), 2),
            2,
            50,
            true,
        );
    }
}
