//! Loom models of the parking handshake (`kick.rs`) and of a task's condvar wait word
//! (`waiter.rs`): every interleaving of a task (with its worker, which runs on the same thread),
//! and one or two unparkers, on [`ParkState`]'s own code. The inbox is a loom mutex around a
//! vector (the runtime's is a lock-free `SegQueue`: a linearizable queue either way).
//!
//! What they check: a parked task is queued in its worker's inbox exactly once per park (never
//! twice: no task run twice), a wake is never lost (a task whose worker parked it finds its id
//! in the inbox once every unparker is done), and a task that returns from its wait sees the
//! condition its unparker published.

use std::sync::atomic::Ordering::{self, Acquire, Release};

use loom::sync::atomic::{AtomicU8, AtomicU32};
use loom::sync::{Arc, Mutex};
use loom::thread;

use super::kick::{ParkState, StateWord};

impl StateWord for AtomicU8 {
    fn swap(&self, v: u8, o: Ordering) -> u8 {
        AtomicU8::swap(self, v, o)
    }

    fn compare_exchange(&self, cur: u8, new: u8, s: Ordering, f: Ordering) -> Result<u8, u8> {
        AtomicU8::compare_exchange(self, cur, new, s, f)
    }
}

/// One task: its state word, its worker's inbox, and the wait word of `waiter.rs` (the count
/// of wakes its unparkers published).
struct Task {
    state: ParkState<AtomicU8>,
    inbox: Mutex<Vec<u64>>,
    word: AtomicU32,
}

impl Task {
    fn new() -> Arc<Task> {
        Arc::new(Task {
            state: ParkState(AtomicU8::new(0)),
            inbox: Mutex::new(Vec::new()),
            word: AtomicU32::new(0),
        })
    }

    /// An unparker (`TaskParking::wake` of the task's `TaskToken`, then `TaskToken::unpark`): publish, then notify; the one
    /// that finds the task parked queues it.
    fn wake(&self) {
        self.word.fetch_add(1, Release);
        if self.state.notify() {
            self.inbox.lock().unwrap().push(7);
        }
    }
}

/// The task waits until `wakes` wakes were published, parking whenever the word says not yet
/// (`TaskParking::block` around `sched::park`); its worker parks it and, when its inbox is empty,
/// waits for the unparkers to finish — after which the wake must be there.
fn run_task(task: &Task, wakes: u32, mut unparkers: Vec<thread::JoinHandle<()>>) {
    let mut parks = 0u32;
    let mut pops = 0u32;
    while task.word.load(Acquire) < wakes {
        // `park`: a token makes it return at once.
        if task.state.take_token() {
            continue;
        }
        // Suspended; the worker's side.
        if !task.state.try_park() {
            continue; // a token came in between: requeued, not parked
        }
        parks += 1;
        let mut popped = task.inbox.lock().unwrap().pop();
        if popped.is_none() {
            for u in unparkers.drain(..) {
                u.join().unwrap();
            }
            popped = task.inbox.lock().unwrap().pop();
            assert!(
                popped.is_some(),
                "a parked task was never queued: lost wakeup"
            );
        }
        pops += 1;
        // Resumed: `park` consumes the token that woke it.
        task.state.take_token();
    }
    for u in unparkers {
        u.join().unwrap();
    }
    assert_eq!(parks, pops);
    assert!(
        task.inbox.lock().unwrap().is_empty(),
        "a task was queued twice"
    );
}

#[test]
fn one_unparker_wakes_a_parking_task_once() {
    loom::model(|| {
        let task = Task::new();
        let u = {
            let task = Arc::clone(&task);
            thread::spawn(move || task.wake())
        };
        run_task(&task, 1, vec![u]);
    });
}

#[test]
fn two_unparkers_queue_a_parked_task_once_and_lose_neither_wake() {
    loom::model(|| {
        let task = Task::new();
        let us = (0..2)
            .map(|_| {
                let task = Arc::clone(&task);
                thread::spawn(move || task.wake())
            })
            .collect();
        run_task(&task, 2, us);
    });
}

#[test]
fn one_unparker_waking_twice_across_two_parks() {
    loom::model(|| {
        let task = Task::new();
        let u = {
            let task = Arc::clone(&task);
            thread::spawn(move || {
                task.wake();
                task.wake();
            })
        };
        run_task(&task, 2, vec![u]);
    });
}
