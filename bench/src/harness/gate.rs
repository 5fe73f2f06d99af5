//! Starting a case's threads together, and giving up cleanly when one cannot be started.
//!
//! `std::sync::Barrier` cannot be called off: if the third of four receivers fails to spawn,
//! the two already waiting at the barrier wait forever, and the scope that owns them never
//! ends. A machine (or gem5, whose SE mode has a thread context per simulated core) that
//! refuses a thread must give an error row, not a hung benchmark.

use std::sync::{Condvar, Mutex, PoisonError};
use std::thread::{Builder, Scope, ScopedJoinHandle};

use super::Failure;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Gathering(usize),
    Open,
    CalledOff,
}

/// A start line for a fixed number of parties that opens when all have arrived, or is called
/// off, releasing whoever is waiting with the news that the case will not run.
#[derive(Debug)]
pub struct StartGate {
    parties: usize,
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl StartGate {
    /// A gate for `parties` threads (the sender included).
    pub fn new(parties: usize) -> Self {
        Self {
            parties,
            phase: Mutex::new(Phase::Gathering(0)),
            changed: Condvar::new(),
        }
    }

    /// Arrives and waits until every party has (`true`: go) or the gate is called off
    /// (`false`: do not run the case; return at once).
    pub fn wait(&self) -> bool {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if let Phase::Gathering(n) = *phase {
            if n + 1 >= self.parties {
                *phase = Phase::Open;
                self.changed.notify_all();
            } else {
                *phase = Phase::Gathering(n + 1);
            }
        }
        loop {
            match *phase {
                Phase::Open => return true,
                Phase::CalledOff => return false,
                Phase::Gathering(_) => {
                    phase = self
                        .changed
                        .wait(phase)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// Releases every waiter, present and future, with `false`. No effect once open.
    pub fn call_off(&self) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        if *phase != Phase::Open {
            *phase = Phase::CalledOff;
            self.changed.notify_all();
        }
    }
}

/// Spawns `what` (e.g. "receiver 3") in scope `s`, turning a refusal into
/// [`Failure::Spawn`] instead of `Scope::spawn`'s panic.
pub fn spawn_in<'s, 'e, T: Send + 's>(
    s: &'s Scope<'s, 'e>,
    what: impl std::fmt::Display,
    f: impl FnOnce() -> T + Send + 's,
) -> Result<ScopedJoinHandle<'s, T>, Failure> {
    spawn_with(s, Builder::new(), what, f)
}

fn spawn_with<'s, 'e, T: Send + 's>(
    s: &'s Scope<'s, 'e>,
    builder: Builder,
    what: impl std::fmt::Display,
    f: impl FnOnce() -> T + Send + 's,
) -> Result<ScopedJoinHandle<'s, T>, Failure> {
    builder.spawn_scoped(s, f).map_err(|e| Failure::Spawn {
        thread: what.to_string(),
        reason: e.to_string(),
    })
}

/// Spawns `n` threads running `f(i)` in scope `s`, each of which must pass `gate` (shared with
/// the caller) before it runs the case. If thread `i` cannot be spawned, the gate is called
/// off, so threads `0..i` return from [`StartGate::wait`] with `false` and end, and the error
/// comes back.
pub fn spawn_gated<'s, 'e, T: Send + 's, F>(
    s: &'s Scope<'s, 'e>,
    gate: &StartGate,
    n: usize,
    what: &str,
    f: impl FnMut(usize) -> F,
) -> Result<Vec<ScopedJoinHandle<'s, T>>, Failure>
where
    F: FnOnce() -> T + Send + 's,
{
    gated_with(s, gate, n, what, f, |_| Builder::new())
}

fn gated_with<'s, 'e, T: Send + 's, F>(
    s: &'s Scope<'s, 'e>,
    gate: &StartGate,
    n: usize,
    what: &str,
    mut f: impl FnMut(usize) -> F,
    builder: impl Fn(usize) -> Builder,
) -> Result<Vec<ScopedJoinHandle<'s, T>>, Failure>
where
    F: FnOnce() -> T + Send + 's,
{
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        match spawn_with(s, builder(i), format_args!("{what} {i}"), f(i)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                gate.call_off();
                return Err(e);
            }
        }
    }
    Ok(handles)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn opens_when_the_last_party_arrives() {
        let gate = StartGate::new(4);
        let passed = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    assert!(gate.wait());
                    passed.fetch_add(1, Ordering::SeqCst);
                });
            }
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(
                passed.load(Ordering::SeqCst),
                0,
                "opened before the 4th party"
            );
            assert!(gate.wait());
        });
        assert_eq!(passed.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn calling_off_releases_the_waiters_and_later_arrivals() {
        let gate = StartGate::new(5);
        std::thread::scope(|s| {
            let waiting: Vec<_> = (0..2).map(|_| s.spawn(|| gate.wait())).collect();
            std::thread::sleep(Duration::from_millis(20));
            gate.call_off();
            for h in waiting {
                assert!(!h.join().unwrap());
            }
        });
        assert!(!gate.wait(), "an arrival after the call-off must not run");
    }

    #[test]
    fn calling_off_an_open_gate_changes_nothing() {
        let gate = StartGate::new(1);
        assert!(gate.wait());
        gate.call_off();
        assert!(gate.wait());
    }

    #[test]
    fn spawn_gated_runs_every_thread_through_the_gate() {
        let gate = StartGate::new(4);
        let sum = std::thread::scope(|s| {
            let hs = spawn_gated(s, &gate, 3, "receiver", |i| {
                let gate = &gate;
                move || if gate.wait() { i + 1 } else { 0 }
            })
            .expect("spawned");
            assert!(gate.wait());
            hs.into_iter().map(|h| h.join().unwrap()).sum::<usize>()
        });
        assert_eq!(sum, 6);
    }

    /// A thread the system refuses (a stack no machine can map) calls the gate off: the
    /// receivers already waiting end, and the error names the one that failed.
    #[test]
    fn a_refused_thread_releases_the_ones_already_waiting() {
        let gate = StartGate::new(5);
        let released = AtomicUsize::new(0);
        let result = std::thread::scope(|s| {
            let (gate, released) = (&gate, &released);
            let spawned = gated_with(
                s,
                gate,
                4,
                "receiver",
                |_| {
                    move || {
                        if !gate.wait() {
                            released.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                },
                |i| match i {
                    2 => Builder::new().stack_size(1 << 46),
                    _ => Builder::new(),
                },
            );
            spawned.map(|hs| hs.len())
        });
        match result {
            Err(Failure::Spawn { thread, reason }) => {
                assert_eq!(thread, "receiver 2");
                assert!(!reason.is_empty());
            }
            other => panic!("expected a spawn failure, got {other:?}"),
        }
        assert_eq!(released.load(Ordering::SeqCst), 2);
    }
}
