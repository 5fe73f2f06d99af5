//! The run queues: one shared queue of tasks not started yet, and one local queue per worker of
//! tasks that have started.
//!
//! Invariants:
//! - A task is in exactly one place at a time: the shared queue (a boxed closure), one worker's
//!   round robin (that closure, admitted but not started, or a suspended coroutine), or running
//!   on that worker.
//!   Only the worker moves a task between these, so no task runs twice and none is lost.
//! - A task admitted to a worker's round robin never leaves that worker. Its coroutine stays on the thread that created it,
//!   so thread-locals a task sees stay the same across its suspensions, and a coroutine (which is
//!   not `Send`) never crosses threads.
//! - The shared queue is popped by any worker, pushed by `Runtime::spawn`. A push is published
//!   before the idle workers' event is notified, and an idle worker announces its wait before
//!   it re-checks the queue (the eventcount protocol of [`Event`]), so a spawn never leaves a
//!   task queued while every worker sleeps.
//! - `closing` is set once, by the runtime's shutdown, after the last spawn (shutdown takes the
//!   runtime by value); a worker exits only when `closing` is set, both queues it can see are
//!   empty and it has no parked task (see `kick.rs`), so every spawned task runs to completion
//!   before the workers are joined.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst};

use crossbeam_queue::SegQueue;

use crate::event::Event;

use super::kick::IdleWorkers;
use super::switch::{Spawned, Started};

/// The tasks not started yet, shared by all workers, and how idle workers wait for them.
pub(crate) struct SharedQueue {
    unstarted: SegQueue<Box<dyn Spawned>>,
    work_ready: Event,
    closing: AtomicBool,
    /// Workers inside `wait_for_work` (a hint: read without ordering against the queue).
    idle_workers: AtomicUsize,
}

impl SharedQueue {
    pub(crate) fn new() -> SharedQueue {
        SharedQueue {
            unstarted: SegQueue::new(),
            work_ready: Event::new(),
            closing: AtomicBool::new(false),
            idle_workers: AtomicUsize::new(0),
        }
    }

    /// Queues a task and wakes one idle worker (if any is idle).
    pub(crate) fn push(&self, task: Box<dyn Spawned>) {
        self.unstarted.push(task);
        self.work_ready.notify_one();
    }

    pub(crate) fn pop(&self) -> Option<Box<dyn Spawned>> {
        self.unstarted.pop()
    }

    /// Lets the workers exit once the queue is empty, and wakes every idle one to see it.
    pub(crate) fn close(&self) {
        self.closing.store(true, SeqCst);
        self.work_ready.notify_all();
    }

    /// Whether a worker with an empty local queue may exit: closing and nothing left to start.
    pub(crate) fn is_drained(&self) -> bool {
        self.closing.load(SeqCst) && self.unstarted.is_empty()
    }

    /// Wakes every idle worker to re-check its inbox (an unparked task names its worker, and the
    /// event cannot wake one worker in particular).
    pub(crate) fn wake_idle_workers(&self) {
        self.work_ready.notify_all();
    }

    /// Blocks an idle worker until there is a task to start, `has_own_work()`, or the runtime
    /// is closing.
    pub(crate) fn wait_for_work(&self, has_own_work: impl Fn() -> bool) {
        self.idle_workers.fetch_add(1, SeqCst);
        self.work_ready.wait_while(|| {
            self.unstarted.is_empty() && !has_own_work() && !self.closing.load(SeqCst)
        });
        self.idle_workers.fetch_sub(1, SeqCst);
    }

    /// Whether some worker is idle, and so better placed to start a queued task.
    fn has_idle_worker(&self) -> bool {
        self.idle_workers.load(Relaxed) != 0
    }
}

/// How many tasks a worker's round robin holds before it stops admitting unstarted ones: tasks
/// in a round robin are out of reach of the other workers, so a bounded number keeps an idle
/// worker from watching a busy one hoard the queue.
pub(crate) const ROUND_ROBIN_LIMIT: usize = 64;

/// A task in a worker's round robin.
pub(crate) enum Runnable {
    /// Admitted from the shared queue, not started yet.
    Unstarted(Box<dyn Spawned>),
    /// Started and suspended.
    Started(Started),
}

/// One worker's round robin. Owned by the worker thread alone.
pub(crate) struct LocalQueue {
    tasks: VecDeque<Runnable>,
}

impl LocalQueue {
    pub(crate) fn new() -> LocalQueue {
        LocalQueue {
            tasks: VecDeque::new(),
        }
    }

    /// Puts a suspended task at the back of the round robin — after admitting one unstarted
    /// task, if there is one, room for it, and no idle worker to take it, so that a yield or a
    /// preemption lets a newly spawned task run before the task that gave up the worker runs
    /// again.
    pub(crate) fn requeue(&mut self, task: Started, shared: &SharedQueue) {
        if self.tasks.len() + 1 < ROUND_ROBIN_LIMIT
            && !shared.has_idle_worker()
            && let Some(t) = shared.pop()
        {
            self.tasks.push_back(Runnable::Unstarted(t));
        }
        self.tasks.push_back(Runnable::Started(task));
    }

    /// Puts a task that a kick preempted at the back of the round robin and admits nothing: the
    /// kick's switch (see `worker.rs`) skips the shared queue; the next requeue admits.
    pub(crate) fn requeue_without_admitting(&mut self, task: Started) {
        self.tasks.push_back(Runnable::Started(task));
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Puts an unparked task in the round robin: first if it is latency-critical, last if not.
    pub(crate) fn unparked(&mut self, task: Started, latency_critical: bool) {
        if latency_critical {
            self.tasks.push_front(Runnable::Started(task));
        } else {
            self.tasks.push_back(Runnable::Started(task));
        }
    }

    /// The next task: the round robin's front, or else an unstarted task from the shared queue.
    pub(crate) fn next(&mut self, shared: &SharedQueue) -> Option<Runnable> {
        self.tasks
            .pop_front()
            .or_else(|| shared.pop().map(Runnable::Unstarted))
    }
}

impl IdleWorkers for SharedQueue {
    fn wake_idle_workers(&self) {
        SharedQueue::wake_idle_workers(self);
    }
}
