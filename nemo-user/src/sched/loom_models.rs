//! Loom models of the parking handshake (`kick.rs`) and of a task's condvar wait word
//! (`waiter.rs`): every interleaving of a task (with its worker, which runs on the same thread),
//! and one or two unparkers, on [`ParkState`]'s and [`Inbox`]'s own code (the inbox's head and
//! each task's link are loom atomics).
//!
//! What they check: a parked task is queued in its worker's inbox exactly once per park (never
//! twice: no task run twice), a wake is never lost (a task whose worker parked it finds its id
//! in the inbox once every unparker is done), and a task that returns from its wait sees the
//! condition its unparker published.

use std::sync::atomic::Ordering::{Acquire, Release};

use loom::sync::Arc;
use loom::sync::atomic::{AtomicPtr, AtomicU8, AtomicU32};
use loom::thread;

use super::inbox::{Inbox, Linked};
use super::kick::ParkState;

/// A task's token as the model sees it: its state word, its link, and the wait word of
/// `waiter.rs` (the count of wakes its unparkers published).
struct Token {
    state: ParkState<AtomicU8>,
    link: AtomicPtr<Token>,
    word: AtomicU32,
}

impl Linked<AtomicPtr<Token>> for Token {
    fn link(&self) -> &AtomicPtr<Token> {
        &self.link
    }
}

impl Token {
    fn new() -> Token {
        Token {
            state: ParkState(AtomicU8::new(0)),
            link: AtomicPtr::new(std::ptr::null_mut()),
            word: AtomicU32::new(0),
        }
    }
}

/// One task and its worker's inbox.
struct Task {
    token: Token,
    inbox: Inbox<Token, AtomicPtr<Token>>,
}

impl Task {
    fn new() -> Arc<Task> {
        Arc::new(Task {
            token: Token::new(),
            inbox: Inbox::new(),
        })
    }

    /// An unparker (`TaskParking::wake` of the task's `TaskToken`, then `TaskToken::unpark`):
    /// publish, then notify; the one that finds the task parked pushes it.
    fn wake(&self) {
        self.token.word.fetch_add(1, Release);
        if self.token.state.notify() {
            // SAFETY: only the unparker that found it parked pushes, and `Task` outlives the
            // model's threads.
            unsafe { self.inbox.push(&self.token) };
        }
    }

    /// The worker's take: how many times the task was in the inbox.
    fn take(&self) -> u32 {
        let mut n = 0;
        // SAFETY: the task's thread is the one taker.
        unsafe {
            self.inbox.take_all(|t| {
                assert!(std::ptr::eq(t, &self.token));
                n += 1;
            })
        };
        n
    }
}

/// The task waits until `wakes` wakes were published, parking whenever the word says not yet
/// (`TaskParking::block` around `sched::park`); its worker parks it and, when its inbox is empty,
/// waits for the unparkers to finish — after which the wake must be there.
fn run_task(task: &Task, wakes: u32, mut unparkers: Vec<thread::JoinHandle<()>>) {
    let mut parks = 0u32;
    let mut pops = 0u32;
    let token = &task.token;
    while token.word.load(Acquire) < wakes {
        // `park`: a token makes it return at once.
        if token.state.take_token() {
            continue;
        }
        // Suspended; the worker's side.
        if !token.state.try_park() {
            continue; // a token came in between: requeued, not parked
        }
        parks += 1;
        let mut taken = task.take();
        if taken == 0 {
            for u in unparkers.drain(..) {
                u.join().unwrap();
            }
            taken = task.take();
            assert!(taken > 0, "a parked task was never queued: lost wakeup");
        }
        assert_eq!(taken, 1, "a task was queued twice");
        pops += 1;
        // Resumed: `park` consumes the token that woke it.
        token.state.take_token();
    }
    for u in unparkers {
        u.join().unwrap();
    }
    assert_eq!(parks, pops);
    assert_eq!(task.take(), 0, "a task was queued twice");
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

/// Two tasks of one worker, each unparked by its own thread: both pushes land (neither
/// compare-and-swap loses the other's node), each task is taken exactly once, and a take in
/// between splits them without losing either.
#[test]
fn two_pushers_into_one_inbox_each_taken_once() {
    loom::model(|| {
        struct Two {
            a: Token,
            b: Token,
            inbox: Inbox<Token, AtomicPtr<Token>>,
        }
        let two = Arc::new(Two {
            a: Token::new(),
            b: Token::new(),
            inbox: Inbox::new(),
        });
        let pushers: Vec<_> = [0, 1]
            .into_iter()
            .map(|i| {
                let two = Arc::clone(&two);
                thread::spawn(move || {
                    let t = if i == 0 { &two.a } else { &two.b };
                    // SAFETY: each token is pushed once, and `two` outlives the threads.
                    unsafe { two.inbox.push(t) };
                })
            })
            .collect();
        let (mut a, mut b) = (0, 0);
        let mut count = |t: &Token| {
            if std::ptr::eq(t, &two.a) {
                a += 1;
            } else {
                assert!(std::ptr::eq(t, &two.b));
                b += 1;
            }
        };
        // SAFETY: this thread is the one taker.
        unsafe { two.inbox.take_all(&mut count) };
        for p in pushers {
            p.join().unwrap();
        }
        unsafe { two.inbox.take_all(&mut count) };
        assert_eq!((a, b), (1, 1));
        assert!(two.inbox.is_empty());
    });
}
