//! Active messages over user interrupts (Nemo §4.2, Fig. 14).
//!
//! Nemo's kernel-mode design: one IDT vector enters a common handler, which looks up the
//! target's pending action in an Action Lookup Table and runs it from the Action Descriptor Table.
//! Here the IDT vector is a user-interrupt vector of the target thread's
//! [`Receiver`](crate::interrupt::Receiver), the lookup is the target's mailbox (a bounded
//! lock-free queue of `(action, payload)`), and the descriptor table maps [`ActionId`]s to
//! handlers — Rust closures or C callbacks `fn(ctx, payload)`.
//!
//! Because the interrupt carries no payload and coalesces, messages never ride in it: a sender
//! queues first, then interrupts. Every message queued is handled exactly once, messages from one
//! sender to one target in order; a full mailbox is an error the sender sees, with its payload
//! returned. See [`Domain`].
//!
//! **Pace the senders.** As with any interrupt, a target that is notified again before each of its
//! handlers returns runs nothing but handlers: on the `signal` and `uintr` backends, senders that
//! together post faster than one thread runs the actions starve that thread's own code (its
//! messages are still all handled). The full mailbox is the back-pressure; a sender that retries
//! at once on [`ErrorKind::MailboxFull`](crate::ErrorKind::MailboxFull) keeps the storm going, so back off
//! (sleep, or do other work) before retrying.
//!
//! Ids carry their domain: an [`ActionId`] or [`TargetId`] of one domain is refused by every
//! other. A target whose thread exits while it is registered is unregistered at the exit.
//! A panicking action is caught on the `poll` backend ([`Domain::take_action_panic`]) and aborts
//! the process, naming the action, on the others (see [`Domain::register_action`]).
//!
//! On the `signal` backend actions run in a signal handler:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//! use nemo_user::am::Domain;
//! use nemo_user::BackendKind;
//!
//! let domain = Domain::builder().backend(BackendKind::Signal).mailbox(64).build();
//! let last = Arc::new(AtomicU64::new(0));
//! let l = last.clone();
//! let set = domain.register_action(move |x| l.store(x, Ordering::SeqCst))?;
//! let target = domain.register_target()?;
//! let (d, id) = (domain.clone(), target.id());
//! std::thread::spawn(move || d.broadcast(set, 42)).join().unwrap()?;
//! while last.load(Ordering::SeqCst) != 42 {
//!     std::hint::spin_loop(); // interrupted by the signal, which runs the action
//! }
//! drop(target);
//! let gone = domain.notify(id, set, 1).unwrap_err();
//! assert_eq!(gone.kind(), nemo_user::ErrorKind::UnknownTarget);
//! # Ok::<(), nemo_user::Error>(())
//! ```

mod action;
mod domain;
pub(crate) mod ids;
mod mailbox;
#[cfg(test)]
mod mailbox_loom;
mod target;

pub use action::ActionPanic;
pub use domain::{Domain, DomainBuilder, Target};
pub use ids::{ActionId, TargetId};
