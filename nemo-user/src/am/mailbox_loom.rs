//! Loom models of the mailbox with its doorbell: every interleaving (within a preemption bound)
//! of senders pushing and posting against a receiver that takes the doorbell and drains, on the
//! very code of [`super::mailbox`].
//!
//! The doorbell is modelled as the UPID's PIR reduced to one vector: a sender posts (a SeqCst
//! RMW) after its push, the receiver takes it lazily (a load, then a swap only if it is set) and
//! drains after each take, as the delivery loop does. What the models check is what the AM layer
//! promises: every accepted message runs exactly once, one sender's messages in order, and none
//! is left behind once the doorbell is empty — the drain that stops at a message still being
//! written relies on that message's own post to come back for it.

use std::sync::atomic::Ordering::SeqCst;

use loom::sync::Arc;
use loom::sync::atomic::AtomicU64;
use loom::thread;

use super::mailbox::{Line, Mailbox};

struct Target {
    words: [AtomicU64; 3],
    doorbell: AtomicU64,
    mailbox: Mailbox<AtomicU64>,
}

impl Target {
    fn new(capacity: usize) -> Arc<Target> {
        Arc::new(Target {
            words: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            doorbell: AtomicU64::new(0),
            mailbox: Mailbox::new(capacity),
        })
    }

    fn line(&self) -> Line<'_, AtomicU64> {
        Line {
            state: &self.words[0],
            inline_head: &self.words[1],
            inline_payload: &self.words[2],
        }
    }

    /// Push, then post (only if the push was accepted, as `Domain::post` does).
    fn notify(&self, sender: u32, seq: u64) -> bool {
        let ok = self.mailbox.push(self.line(), sender, seq).is_ok();
        if ok {
            self.doorbell.fetch_or(1, SeqCst);
        }
        ok
    }

    /// One delivery: take the doorbell lazily; if it was rung, drain.
    fn deliver(&self, out: &mut Vec<(u32, u64)>) {
        if self.doorbell.load(SeqCst) != 0 && self.doorbell.swap(0, SeqCst) != 0 {
            self.mailbox.drain(self.line(), |a, p| out.push((a, p)));
        }
    }
}

fn check(f: impl Fn() + Sync + Send + 'static) {
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(2);
    }
    b.check(f);
}

/// Runs `per_sender[i]` messages from sender `i` against a receiver that delivers `deliveries`
/// times concurrently, then once more after the senders are done (the receiver's last drain),
/// and checks exactly-once, per-sender order and that nothing accepted is left.
fn model(capacity: usize, per_sender: &'static [u64], deliveries: usize) {
    check(move || {
        let t = Target::new(capacity);
        let senders: Vec<_> = per_sender
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let t = t.clone();
                thread::spawn(move || {
                    (0..n)
                        .filter(|&seq| t.notify(i as u32, seq))
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        let receiver = {
            let t = t.clone();
            thread::spawn(move || {
                let mut out = Vec::new();
                for _ in 0..deliveries {
                    t.deliver(&mut out);
                }
                out
            })
        };
        let accepted: Vec<Vec<u64>> = senders.into_iter().map(|s| s.join().unwrap()).collect();
        let mut out = receiver.join().unwrap();
        t.deliver(&mut out);
        for (i, acc) in accepted.iter().enumerate() {
            let got: Vec<u64> = out
                .iter()
                .filter(|&&(a, _)| a == i as u32)
                .map(|&(_, p)| p)
                .collect();
            assert_eq!(
                &got, acc,
                "sender {i}: exactly its accepted messages, in order"
            );
        }
        assert_eq!(out.len(), accepted.iter().map(Vec::len).sum::<usize>());
        assert_eq!(t.mailbox.queued(t.line()), 0, "nothing left queued");
    });
}

#[test]
fn two_senders_inline_then_ring() {
    // Room for all: the first message goes inline, the rest to the ring; drains race both.
    model(3, &[2, 1], 2);
}

#[test]
fn full_mailbox_rejects_and_loses_nothing() {
    // A mailbox of one is the inline slot alone: concurrent senders see it full, and what they
    // did get in must still arrive.
    model(1, &[2, 1], 1);
}

#[test]
fn ring_empties_and_tickets_restart_under_a_sender() {
    // One sender streaming through a small ring while the receiver empties it: the receiver's
    // reset of the tickets races the sender's next reservation.
    model(2, &[3], 2);
}
