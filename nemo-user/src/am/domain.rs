//! [`Domain`]: an action table and the targets it can reach.

use crate::error::Repr;
use core::fmt;
use std::sync::Arc;

use super::action::{ActionPanic, ActionTable, HandlerContext};
use super::ids::{ActionId, TargetId};
use super::mailbox::{MAX_CAPACITY, Mailbox};
use super::target::{Entry, TargetTable};
use crate::backend::BackendKind;
use crate::error::Result;
use crate::interrupt::process::current_pid;
use crate::interrupt::{Receiver, ReceiverBuilder, Sender, Vector};

pub(crate) struct Inner {
    actions: ActionTable,
    pub(crate) targets: TargetTable,
    mailbox_capacity: usize,
    vector: Vector,
    backend: Option<BackendKind>,
}

/// Sizes and defaults of a [`Domain`].
#[derive(Debug, Clone)]
#[must_use]
pub struct DomainBuilder {
    actions: usize,
    targets: usize,
    mailbox: usize,
    vector: Vector,
    backend: Option<BackendKind>,
}

impl Default for DomainBuilder {
    fn default() -> Self {
        DomainBuilder {
            actions: 256,
            targets: 256,
            mailbox: 1024,
            vector: Domain::DEFAULT_VECTOR,
            backend: None,
        }
    }
}

impl DomainBuilder {
    /// Capacity of the action table (default 256, at most [`ActionId::MAX_ACTIONS`]).
    pub fn actions(mut self, n: usize) -> Self {
        self.actions = n.min(ActionId::MAX_ACTIONS);
        self
    }

    /// Capacity of the target table (default 256, at most [`TargetId::MAX_TARGETS`]).
    pub fn targets(mut self, n: usize) -> Self {
        self.targets = n.min(TargetId::MAX_TARGETS);
        self
    }

    /// Messages each target's mailbox holds before notifies fail with
    /// [`ErrorKind::MailboxFull`](crate::ErrorKind::MailboxFull) (default 1024, at least 1, at most 2^30).
    pub fn mailbox(mut self, n: usize) -> Self {
        self.mailbox = n.clamp(1, MAX_CAPACITY);
        self
    }

    /// The user-interrupt vector that says "look in the mailbox" (default 0). A target's
    /// receiver may use the other vectors for itself.
    pub fn vector(mut self, vector: Vector) -> Self {
        self.vector = vector;
        self
    }

    /// The backend of targets registered with [`Domain::register_target`] (default: the
    /// process default, see [`crate::backend_info`]).
    pub fn backend(mut self, kind: BackendKind) -> Self {
        self.backend = Some(kind);
        self
    }

    /// Builds the domain.
    pub fn build(self) -> Domain {
        Domain {
            inner: Arc::new(Inner {
                actions: ActionTable::new(self.actions),
                targets: TargetTable::new(self.targets),
                mailbox_capacity: self.mailbox,
                vector: self.vector,
                backend: self.backend,
            }),
        }
    }
}

/// Active messages (Nemo §4.2): an Action Descriptor Table and the targets it can reach.
///
/// Register actions (handlers) once; register each receiving thread as a [`Target`]; then any
/// thread can [`notify`](Domain::notify) a target, or [`broadcast`](Domain::broadcast) to all, to
/// run an action with a payload on the target's thread. The message travels in the target's
/// bounded lock-free mailbox and the user interrupt only says "look", so interrupts that coalesce
/// never lose a message; messages from one sender to one target run in the order sent; a full
/// mailbox is an error that hands the payload back. Actions run in the target's interrupt
/// handler, under that backend's rules (see [`crate::interrupt`]); the handler path does not
/// allocate. One delivery runs every queued message, so a target flooded without pause stays in
/// its handler, as a CPU does under an interrupt storm.
///
/// `Domain` is cheap to clone and `Send + Sync`.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use nemo_user::am::Domain;
/// use nemo_user::BackendKind;
///
/// let domain = Domain::builder().backend(BackendKind::Poll).build();
/// let sum = Arc::new(AtomicU64::new(0));
/// let s = sum.clone();
/// let add = domain.register_action(move |x| { s.fetch_add(x, Ordering::Relaxed); })?;
///
/// let target = domain.register_target()?; // this thread receives
/// let id = target.id();
/// let d = domain.clone();
/// std::thread::spawn(move || -> Result<(), nemo_user::Error> {
///     for x in 1..=10 { d.notify(id, add, x)?; }
///     Ok(())
/// }).join().unwrap()?;
/// nemo_user::poll(); // the poll backend runs actions at safepoints
/// assert_eq!(sum.load(Ordering::Relaxed), 55);
/// # Ok::<(), nemo_user::Error>(())
/// ```
#[derive(Clone)]
pub struct Domain {
    inner: Arc<Inner>,
}

impl Default for Domain {
    fn default() -> Self {
        DomainBuilder::default().build()
    }
}

impl fmt::Debug for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Domain")
            .field("vector", &self.inner.vector.get())
            .field("targets", &self.inner.targets.capacity())
            .field("mailbox", &self.inner.mailbox_capacity)
            .finish()
    }
}

impl Domain {
    /// The vector active messages use unless told otherwise: 0, the lowest priority, so that a
    /// target's own vectors (a preemption tick, say) overtake message processing.
    pub(crate) const DEFAULT_VECTOR: Vector = match Vector::new(0) {
        Ok(v) => v,
        Err(_) => Vector::MAX,
    };

    /// Sizes and defaults.
    pub fn builder() -> DomainBuilder {
        DomainBuilder::default()
    }

    /// Adds an action; it lives as long as the domain. The handler runs on target threads,
    /// inside their interrupt handler. Its id belongs to this domain: other domains refuse it
    /// with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (unknown action).
    ///
    /// # Panics in actions
    ///
    /// On the `poll` backend, where actions run at the target's safepoints
    /// ([`crate::poll`]), a panicking action is caught: the rest of the mailbox is still
    /// handled, the process goes on, and the panic is kept for
    /// [`Domain::take_action_panic`]. On `signal` and `uintr` the action runs inside a signal
    /// or user-interrupt handler, which cannot be unwound: the process aborts, after a line on
    /// stderr that names the action.
    ///
    /// Errors: [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted) (action table full).
    pub fn register_action<F>(&self, handler: F) -> Result<ActionId>
    where
        F: Fn(u64) + Send + Sync + 'static,
    {
        self.inner.actions.register(Box::new(handler))
    }

    /// Registers the calling thread as a target, on the domain's backend.
    ///
    /// Errors: [`ErrorKind::AlreadyRegistered`](crate::ErrorKind::AlreadyRegistered) if the thread has a receiver,
    /// [`ErrorKind::ResourceExhausted`](crate::ErrorKind::ResourceExhausted) (target table full), and the receiver's registration errors.
    pub fn register_target(&self) -> Result<Target> {
        let mut b = ReceiverBuilder::default();
        if let Some(kind) = self.inner.backend {
            b = b.backend(kind);
        }
        self.register_target_with(b, |_| {})
    }

    /// Registers the calling thread as a target with its own receiver options; vectors other
    /// than the domain's go to `other` (so one thread can take active messages and its own
    /// interrupts). The domain's vector is enabled whatever `builder` says.
    pub fn register_target_with<F>(&self, builder: ReceiverBuilder, mut other: F) -> Result<Target>
    where
        F: FnMut(Vector) + 'static,
    {
        let inner = &self.inner;
        let am = inner.vector;
        let mailbox = Mailbox::new(inner.mailbox_capacity);
        // The entry needs the receiver's endpoint and the receiver's handler needs the entry:
        // the handler gets it through a cell filled right after registration, before any
        // sender can exist.
        let cell: Arc<std::sync::OnceLock<Arc<Entry>>> = Arc::new(std::sync::OnceLock::new());
        let (c, d) = (cell.clone(), inner.clone());
        let receiver = builder.enable_vector(am).register(move |v| {
            if v != am {
                other(v);
            } else if let Some(entry) = c.get() {
                let context = if entry.sender.doorbell().kind() == BackendKind::Poll {
                    HandlerContext::Safepoint
                } else {
                    HandlerContext::Interrupt
                };
                entry.mailbox.drain(entry.line(), |action, payload| {
                    d.actions.run(ActionId::from(action), payload, context)
                });
            }
        })?;
        let sender = Sender::connect(&receiver.endpoint(), am.get() as u64)?;
        let entry = Arc::new(Entry { mailbox, sender });
        let _ = cell.set(entry.clone());
        let id = inner.targets.insert(entry.clone())?;
        exit_hook::record(inner, id);
        Ok(Target {
            id,
            domain: inner.clone(),
            entry,
            receiver,
        })
    }

    /// Queues `(action, payload)` for `target` and interrupts it. Async-signal-safe (callable
    /// from handlers), no allocation.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (unknown action) (not an action of this domain),
    /// [`ErrorKind::UnknownTarget`](crate::ErrorKind::UnknownTarget) (not a target of this domain: never registered, unregistered,
    /// or its thread exited), [`ErrorKind::MailboxFull`](crate::ErrorKind::MailboxFull) with the payload handed back in its
    /// `payload` field — the only error that a later retry can cure —,
    /// [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess) from a fork child, and, on `signal`, `Error::Os(ENOBUFS)` when
    /// the kernel's real-time signal queue stayed full for a second (the sender yields, then
    /// sleeps 10 µs to 10 ms between tries): the message
    /// *is* queued (do not resend it) and runs at the target's next delivery.
    #[inline]
    pub fn notify(&self, target: TargetId, action: ActionId, payload: u64) -> Result<()> {
        if !self.inner.actions.contains(action) {
            return Err(Repr::UnknownAction(action).into());
        }
        let access = self
            .inner
            .targets
            .get(target)
            .ok_or(Repr::UnknownTarget(target))?;
        Self::post(access.entry(), target, action, payload)
    }

    #[inline]
    fn post(entry: &Entry, target: TargetId, action: ActionId, payload: u64) -> Result<()> {
        let doorbell = entry.sender.doorbell();
        // The mailbox is this process's memory (even when the doorbell is process-shared).
        if doorbell.pid != current_pid() {
            return Err(Repr::ForeignProcess.into());
        }
        if !doorbell.is_alive() {
            // The thread exited with the target registered: it is gone like an unregistered
            // one, and its slot is reclaimed by its exit hook or the next registration.
            return Err(Repr::UnknownTarget(target).into());
        }
        entry
            .mailbox
            .push(entry.line(), u32::from(action), payload)
            .map_err(|()| Repr::MailboxFull {
                target,
                action,
                payload,
            })?;
        // The target slot keeps the receiver from its final drain: `Target`'s drop waits for
        // notifiers in flight before its receiver drains for the last time. (A target whose
        // thread exited without dropping it is caught by the liveness check above, or its
        // message is discarded with everything else that was pending at the exit.)
        entry.sender.post_held().map_err(|e| match e.repr() {
            // The thread exited after the liveness check above.
            Repr::ReceiverGone => Repr::UnknownTarget(target).into(),
            // The real-time signal queue stayed full: the message is queued, the interrupt
            // was not sent; a resend would queue it twice, so this is not `EAGAIN`.
            Repr::Os(libc::EAGAIN) => Repr::Os(libc::ENOBUFS).into(),
            _ => e,
        })
    }

    /// Sends `(action, payload)` to every registered target (the caller's own included, if it
    /// is one). Returns how many were notified.
    ///
    /// Targets whose threads have exited are not registered any more and are skipped.
    ///
    /// Errors: [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) (unknown action); [`ErrorKind::ForeignProcess`](crate::ErrorKind::ForeignProcess) from a fork child;
    /// another error of [`notify`](Domain::notify) that a target's send met (the first; the
    /// other targets got the message); [`ErrorKind::BroadcastIncomplete`](crate::ErrorKind::BroadcastIncomplete) if some targets'
    /// mailboxes were full — the others got the message, and a retry can reach the rest once
    /// they have drained.
    pub fn broadcast(&self, action: ActionId, payload: u64) -> Result<usize> {
        if !self.inner.actions.contains(action) {
            return Err(Repr::UnknownAction(action).into());
        }
        let (mut notified, mut failed, mut other) = (0, 0, None);
        for access in self.inner.targets.live() {
            match Self::post(access.entry(), access.id(), action, payload) {
                Ok(()) => notified += 1,
                Err(e) => match e.repr() {
                    Repr::MailboxFull { .. } => failed += 1,
                    Repr::UnknownTarget(_) => {}
                    // Every target of a domain lives in the process that registered it.
                    Repr::ForeignProcess => return Err(e),
                    // Queued, not interrupted (see `notify`): the others still get theirs.
                    r => {
                        notified += usize::from(*r == Repr::Os(libc::ENOBUFS));
                        other.get_or_insert(e);
                    }
                },
            }
        }
        if let Some(e) = other {
            return Err(e);
        }
        if failed == 0 {
            Ok(notified)
        } else {
            Err(Repr::BroadcastIncomplete { notified, failed }.into())
        }
    }

    /// The oldest panic of an action run at a safepoint (`poll` backend) that has not been
    /// taken yet; see [`Domain::register_action`]. The domain keeps up to 64.
    pub fn take_action_panic(&self) -> Option<ActionPanic> {
        self.inner.actions.take_panic()
    }

    /// The vector this domain's interrupts use.
    pub fn vector(&self) -> Vector {
        self.inner.vector
    }
}

/// Unregisters the thread's target when the thread exits with it still registered (its
/// [`Target`] leaked), so the slot, the mailbox and the table's reference to the receiver are
/// reclaimed. A thread has one receiver, so one target at most.
mod exit_hook {
    use std::cell::RefCell;
    use std::sync::{Arc, Weak};

    use super::{Inner, TargetId};

    struct Registered(RefCell<Option<(Weak<Inner>, TargetId)>>);

    impl Drop for Registered {
        fn drop(&mut self) {
            if let Some((domain, id)) = self.0.get_mut().take()
                && let Some(domain) = domain.upgrade()
            {
                domain.targets.remove(id);
            }
        }
    }

    thread_local! {
        static REGISTERED: Registered = const { Registered(RefCell::new(None)) };
    }

    /// Remembers the calling thread's new target.
    pub(super) fn record(domain: &Arc<Inner>, id: TargetId) {
        let _ = REGISTERED.try_with(|r| *r.0.borrow_mut() = Some((Arc::downgrade(domain), id)));
    }

    /// Forgets it: the target was unregistered.
    pub(crate) fn clear(id: TargetId) {
        let _ = REGISTERED.try_with(|r| {
            let mut r = r.0.borrow_mut();
            if r.as_ref().is_some_and(|(_, i)| *i == id) {
                *r = None;
            }
        });
    }
}

pub(crate) use exit_hook::clear as forget_exit_hook;

/// A thread registered to receive a domain's active messages.
///
/// Dropping it unregisters the thread: messages queued before are delivered by the drop (on the
/// `signal` and `poll` backends), later notifies fail with [`ErrorKind::UnknownTarget`](crate::ErrorKind::UnknownTarget). Not `Send`:
/// it belongs to its thread.
#[must_use = "dropping a target unregisters the thread: keep it for as long as it receives"]
pub struct Target {
    pub(crate) id: TargetId,
    pub(crate) domain: Arc<Inner>,
    pub(crate) entry: Arc<Entry>,
    pub(crate) receiver: Receiver,
}

impl Target {
    /// This target's id, for [`Domain::notify`](super::Domain::notify).
    pub fn id(&self) -> TargetId {
        self.id
    }

    /// The receiver that delivers this target's messages (for its endpoint or backend).
    pub fn receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// Messages queued and not yet handled.
    pub fn queued(&self) -> usize {
        self.entry.mailbox.queued(self.entry.line())
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("id", &self.id)
            .field("backend", &self.receiver.endpoint().backend())
            .field("queued", &self.queued())
            .finish()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        forget_exit_hook(self.id);
        // First no new messages, then (when the `receiver` field drops) the final drain.
        self.domain.targets.remove(self.id);
    }
}
