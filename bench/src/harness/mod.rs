//! The measurement core: pinned threads, the one clock, the event/acknowledge handshake, gaps,
//! warm-up and receiver CPU time. Scenarios describe *what* to measure as [`Case`]s and call
//! [`rounds`]; they never write their own timing loop for the notify → wake pattern.
//!
//! One round (one event), for every receiver kind:
//!
//! ```text
//!   sender (signaller core)                      receiver r (its own core)
//!   wait until every receiver is ready  <─────── ready for event i
//!   wait the gap (spin, or sleep)                 blocks in wait() / runs its busy loop
//!   sent[i] = now()
//!   notify_one / notify_all / send  ───────────> woke[r][i] = now()   (after wait returns,
//!                                                                       or in the handler)
//! ```
//!
//! Latency = `woke − sent`. The gap starts when the sender sees the receivers ready, so a
//! short gap catches a waiter still in its spin window and a long one finds it parked.

mod gate;
mod rounds;

use std::time::Duration;

pub use gate::{StartGate, spawn_gated, spawn_in};
pub use rounds::{Rounds, interleaved_blocking_rounds, rounds, wait_gap};

use crate::clock::Clock;
use crate::placement::Topology;

/// How long the sender waits between a receiver being ready and the next event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// Back to back: the next event as soon as the receiver is ready (ping-pong).
    None,
    /// Spin on the clock for this long (precise; keeps the sender's core busy).
    Spin(Duration),
    /// Sleep this long (frees the sender's core; for gaps of a millisecond and more).
    Sleep(Duration),
}

impl Gap {
    /// The gap's length.
    pub fn duration(&self) -> Duration {
        match *self {
            Gap::None => Duration::ZERO,
            Gap::Spin(d) | Gap::Sleep(d) => d,
        }
    }
}

/// Whom an event goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fanout {
    /// `notify_one` / one interrupt to receiver 0.
    One,
    /// `notify_all` / an interrupt to every receiver.
    All,
}

/// One regime of one scenario: everything the loop needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The regime's name in tables and JSON (`short-gap`, `long-gap`, `ping-pong`, `5us`).
    pub regime: String,
    /// Time between a receiver being ready and the next event.
    pub gap: Gap,
    /// Measured events.
    pub events: usize,
    /// Stop the measured events early once they have taken this long (keeps a run's length
    /// bounded on a loaded machine); `None`: run them all.
    pub budget: Option<Duration>,
    /// Events run first and discarded (caches, branch predictors, page faults, frequency).
    pub warmup: usize,
    /// Receiver threads.
    pub receivers: usize,
    /// Whom each event goes to.
    pub fanout: Fanout,
}

/// What stays the same for every case of a run.
#[derive(Debug, Clone)]
pub struct Context {
    /// The run's timestamp source.
    pub clock: Clock,
    /// Cores and placement.
    pub topology: Topology,
    /// The `--sim` profile: never sleep (simulated syscalls may not), tolerate everything.
    pub sim: bool,
    /// How long the sender waits for one event to arrive before declaring it lost.
    pub timeout: Duration,
}

/// Why a measurement could not complete. It becomes a row with an `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// An event was not received in time: a lost wakeup or an undelivered interrupt.
    #[error("event {event} did not reach every receiver within {timeout:?} (lost wakeup?)")]
    Lost {
        /// The event's index (warm-up included).
        event: usize,
        /// The timeout.
        timeout: Duration,
    },
    /// A receiver could not register with an interrupt mechanism.
    #[error("receiver {receiver} could not register: {reason}")]
    Register {
        /// Receiver index.
        receiver: usize,
        /// The mechanism's reason.
        reason: String,
    },
    /// A receiver got more deliveries than events were sent.
    #[error("receiver {receiver} got {got} deliveries for {sent} events")]
    Spurious {
        /// Receiver index.
        receiver: usize,
        /// Deliveries counted.
        got: usize,
        /// Events sent.
        sent: usize,
    },
    /// A thread of the case could not be started (the machine, or gem5's simulated cores, has
    /// no room for it).
    #[error("could not start the {thread} thread: {reason}")]
    Spawn {
        /// Which thread ("receiver 3", "timer").
        thread: String,
        /// The system's reason.
        reason: String,
    },
    /// The instance is of a kind this scenario cannot drive.
    #[error("{0}")]
    Unsupported(String),
}

/// A failed measurement of instances measured side by side ([`interleaved_blocking_rounds`]):
/// the failure, and the instance it belongs to where one can be named (the one whose receiver
/// never got its event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFailure {
    /// Index into the instances measured, if the failure is one instance's.
    pub instance: Option<usize>,
    /// What failed.
    pub failure: Failure,
}

impl From<Failure> for SharedFailure {
    fn from(failure: Failure) -> SharedFailure {
        SharedFailure {
            instance: None,
            failure,
        }
    }
}

/// The default warm-up for `events` measured events: a tenth, at least one, at most 200.
pub fn default_warmup(events: usize) -> usize {
    (events / 10).clamp(1, 200)
}

#[cfg(test)]
mod tests;
