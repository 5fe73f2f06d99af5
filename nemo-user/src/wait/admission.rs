//! Which waiters may spin: a spinner must never hold a CPU that the thread it waits for, or a
//! woken waiter, needs.
//!
//! Spinning only pays while the spinner has a CPU to itself. When threads outnumber CPUs, a
//! spinner makes the thread that would notify it, or a waiter that was just woken on the same
//! CPU, wait until the spin window ends or the scheduler preempts it — the very latency spinning
//! was meant to save. Three process-wide rules, for adaptive policies
//! ([`WaitPolicy::is_adaptive`](super::WaitPolicy::is_adaptive)), keep that from happening:
//!
//! (A fourth condition is machine-wide and lives with the spin hint, `wait/adaptive.rs`: on a
//! machine with more runnable threads than CPUs, only condvars whose last spin caught its
//! wakeup spin, for at most a quarter of the window.)
//!
//! 1. **One spinner per CPU.** A waiter that finds another waiter of this process spinning on
//!    its CPU parks at once: two spinners on one CPU only take turns, and the one that is not
//!    running cannot see its notification anyway.
//! 2. **At most `cpus − 1` spinners** in the process, where `cpus` counts the CPUs the process
//!    may run on, so at least one CPU is always free for notifiers and woken waiters even when
//!    the threads are not pinned. On a single CPU nobody spins.
//!    A waiter that finds every slot taken keeps asking for up to [`ADMISSION_GRACE_NS`]
//!    (1 µs) before it parks, watching its own notification meanwhile: in a handoff between
//!    two threads on two CPUs, the spinner holding the only slot is usually the partner that
//!    this thread's notify has just released, and it leaves within a cache-line transfer.
//!    Parking instead cost the partner's next spin a futex wake-up, and the handoff its speed.
//! 3. **No spinning next to a parked peer.** A waiter that parks registers the CPU it parks
//!    on. A waiter does not spin, and a spinner stops, while a waiter of this process is
//!    parked on its CPU *and* the condvar it waits on has parked waiters: that is almost always
//!    a peer on the same condvar, which a broadcast wakes together with the spinner (or a
//!    signal instead of it) and which then needs this CPU. Only the woken waiters that share
//!    a CPU park, so a broadcast to waiters on CPUs of their own still finds them all spinning,
//!    and an idle thread parked on some other condvar does not stop spinning on its CPU.
//!
//! On the development machine (2 CPUs, a signaller on one and two waiters pinned to the other),
//! the fixed 20 µs window made the last waiter of a broadcast 1.3–1.5 × later than with
//! `pthread_cond` and σ of the wake times 5–9 × wider; a spinner that only yielded its CPU to
//! the woken peer every 2 µs was still 1.5 × later, because with the notification sent under
//! the mutex the spinner then blocks on the mutex behind the notifier's `FUTEX_WAKE`. With
//! rule 3 both waiters park, which measured 0.74–1.0 × `pthread_cond` on the last waiter.
//! The `LD_PRELOAD` shim, whose split-phase waits kept a per-thread spin budget outside these
//! rules, measured 1.14–1.40 × on the last waiter and σ 7–10 × wider in the same benchmark;
//! following them (below), 0.75–0.98 × and σ 1.0 ×.
//!
//! `cpus` is the number of CPUs in the union of the affinity masks (`sched_getaffinity`) of the
//! process (its main thread) and of every thread that has asked: each thread adds its own at
//! its first admission and again every [`REFRESH_EVERY`] admissions. A process whose threads
//! are pinned one per CPU — the main thread included — thus counts all of those CPUs, whichever
//! thread asked first. (Counting only the asking thread's and the main thread's once made a
//! benchmark whose main thread asked first, pinned to one CPU, spin nowhere for the rest of the
//! run.) The union only grows; [`refresh_spin_capacity`] starts it afresh — call it after
//! narrowing the process's affinity or CPU set.
//!
//! The state is per process: waiters of a process-shared condvar in another process are not
//! counted (each process keeps its own spinners within its own share). Waiters are registered as
//! parked by the ladder ([`RawCondvar::wait_raw`](crate::condvar::RawCondvar::wait_raw),
//! [`RawCondvar::wait_ticket`](crate::embed::SplitWait::wait_ticket), `Condvar`, `Event`).
//! A split-phase waiter that makes the blocking call itself (after
//! [`RawCondvar::prepare_park`](crate::embed::SplitWait::prepare_park)) holds a
//! [`ParkedHere`] across that call, and its spinning phase
//! ([`RawCondvar::spin_wait`](crate::embed::SplitWait::spin_wait)) is admitted by the same
//! rules.

use std::cell::Cell;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

/// How long a waiter refused by rule 2 alone keeps asking before it parks (see the module docs).
pub(crate) const ADMISSION_GRACE_NS: u64 = 1_000;

/// CPUs with per-CPU state. Waiters on CPUs numbered higher are governed by rule 2 only.
const MAX_CPUS: usize = 512;

/// Each thread re-reads the CPU count after this many of its admissions (a refresh costs two
/// `sched_getaffinity` calls, about a microsecond, so this amortises to nothing).
pub(crate) const REFRESH_EVERY: u32 = 1 << 16;

/// One CPU's entry: bit 31 = a waiter of this process spins here; bits 0–30 = waiters of this
/// process parked here.
#[repr(align(64))]
struct CpuSlot(AtomicU32);

const SPINNING_HERE: u32 = 1 << 31;
const PARKED_HERE: u32 = SPINNING_HERE - 1;

#[allow(clippy::declare_interior_mutable_const)]
const FREE: CpuSlot = CpuSlot(AtomicU32::new(0));
static CPUS: [CpuSlot; MAX_CPUS] = [FREE; MAX_CPUS];

/// Spinners in the process.
#[repr(align(64))]
struct Count(AtomicU32);
static SPINNING: Count = Count(AtomicU32::new(0));

/// `cpus - 1` plus one; 0 = not read yet.
static CAPACITY_PLUS_ONE: AtomicU32 = AtomicU32::new(0);

thread_local! {
    static ADMISSIONS: Cell<u32> = const { Cell::new(0) };
}

/// How many waiters of this process may spin at once (`cpus − 1`), after re-reading the CPU
/// affinity of the process and of the calling thread and forgetting the CPUs other threads
/// brought in. Call it after narrowing the process's affinity or CPU set; otherwise the count is
/// kept up to date on its own (see the [`wait`](super) module docs).
///
/// ```
/// let n = nemo_user::embed::refresh_spin_capacity();
/// let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
/// assert!(n < cpus.max(2));
/// ```
pub fn refresh_spin_capacity() -> usize {
    for w in &SEEN {
        w.store(0, Relaxed);
    }
    note_affinity() as usize
}

/// The CPUs the process's threads may run on, as far as seen: the union of the affinity masks
/// of the process (its main thread) and of every thread that asked, since the last
/// [`refresh_spin_capacity`]. A process that pins its main thread to one CPU and each worker to
/// another may still use all of them.
static SEEN: [AtomicU64; MASK_WORDS] = [const { AtomicU64::new(0) }; MASK_WORDS];
const MASK_WORDS: usize = std::mem::size_of::<libc::cpu_set_t>() / 8;

/// Adds the process's and the calling thread's affinity to [`SEEN`] and stores the capacity
/// that follows; returns it.
fn note_affinity() -> u32 {
    let cpus = match (affinity(std::process::id() as libc::pid_t), affinity(0)) {
        (None, None) => {
            // Affinity unreadable (some sandboxes and simulators): the online CPUs.
            // SAFETY: sysconf has no preconditions.
            u32::try_from(unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }).unwrap_or(1)
        }
        (p, t) => {
            for set in [p, t].into_iter().flatten() {
                for (w, bits) in SEEN.iter().zip(words(&set)) {
                    if bits & !w.load(Relaxed) != 0 {
                        w.fetch_or(bits, Relaxed);
                    }
                }
            }
            SEEN.iter().map(|w| w.load(Relaxed).count_ones()).sum()
        }
    };
    let cap = cpus.max(1) - 1;
    CAPACITY_PLUS_ONE.store(cap + 1, Relaxed);
    cap
}

/// A CPU set as 64-bit words, CPU `i` at bit `i % 64` of word `i / 64`.
fn words(set: &libc::cpu_set_t) -> [u64; MASK_WORDS] {
    let mut out = [0u64; MASK_WORDS];
    for (i, w) in out.iter_mut().enumerate() {
        for b in 0..64 {
            // SAFETY: CPU_ISSET only reads the set, and the index is below its capacity.
            if unsafe { libc::CPU_ISSET(i * 64 + b, set) } {
                *w |= 1 << b;
            }
        }
    }
    out
}

/// A snapshot of the spinner bookkeeping of this process (for diagnostics and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpinCensus {
    /// Waiters spinning now.
    pub spinning: usize,
    /// Waiters registered as parked, on the CPUs that have per-CPU state.
    pub parked: usize,
    /// How many may spin at once (`cpus − 1`), as last read.
    pub capacity: usize,
}

/// Counts the spinning and parked waiters of this process now. Racy by nature: a snapshot.
///
/// ```
/// use nemo_user::embed::spin_census;
///
/// let census = spin_census();
/// assert!(census.spinning <= census.capacity.max(1));
/// ```
pub fn spin_census() -> SpinCensus {
    let parked = CPUS
        .iter()
        .map(|c| (c.0.load(Relaxed) & PARKED_HERE) as usize)
        .sum();
    SpinCensus {
        spinning: SPINNING.0.load(Relaxed) as usize,
        parked,
        capacity: capacity() as usize,
    }
}

fn capacity() -> u32 {
    match CAPACITY_PLUS_ONE.load(Relaxed) {
        0 => note_affinity(),
        c => c - 1,
    }
}

fn affinity(pid: libc::pid_t) -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(pid, std::mem::size_of_val(&set), &mut set) };
    (r == 0).then_some(set)
}

#[inline]
fn current_cpu() -> Option<usize> {
    // SAFETY: sched_getcpu has no preconditions (glibc reads it from rseq or the vDSO).
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).ok().filter(|&c| c < MAX_CPUS)
}

/// The right to spin, held for one climb of the unparked rungs. Dropping it gives it back.
#[derive(Debug)]
pub(crate) struct SpinPermit {
    /// The CPU whose spinner bit it holds.
    cpu: Option<usize>,
}

impl SpinPermit {
    /// Admits the calling thread as a spinner, or `None` if it should park at once.
    /// `peers_parked` says whether the condvar it waits on has parked waiters (rule 3).
    #[inline]
    pub(crate) fn acquire(
        peers_parked: impl Fn() -> bool,
        mut ready: impl FnMut() -> bool,
    ) -> Option<SpinPermit> {
        let refresh = ADMISSIONS.with(|n| {
            let k = n.get().wrapping_add(1);
            n.set(k);
            k == 1 || k % REFRESH_EVERY == 0
        });
        let cap = if refresh { note_affinity() } else { capacity() };
        let cpu = current_cpu();
        if cpu.is_some_and(|c| parked_on(c) && peers_parked()) {
            return None;
        }
        let mut n = SPINNING.0.load(Relaxed);
        let mut grace_ends = None;
        loop {
            if n >= cap {
                // Rule 2's grace: the spinner holding the last slot may be the partner that is
                // about to see this thread's notify and leave.
                let now = crate::clock::monotonic_ns();
                let ends = *grace_ends.get_or_insert(now + ADMISSION_GRACE_NS);
                if now >= ends || ready() {
                    return None;
                }
                core::hint::spin_loop();
                n = SPINNING.0.load(Relaxed);
                continue;
            }
            match SPINNING.0.compare_exchange_weak(n, n + 1, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(x) => n = x,
            }
        }
        // From here on, dropping `permit` undoes the count (and the CPU bit once set).
        let mut permit = SpinPermit { cpu: None };
        if let Some(c) = cpu {
            if CPUS[c].0.fetch_or(SPINNING_HERE, Relaxed) & SPINNING_HERE != 0 {
                return None;
            }
            permit.cpu = Some(c);
        }
        Some(permit)
    }

    /// Called between polls while spinning: whether to go on (rule 3 may have come into force
    /// since the spin started).
    #[inline]
    pub(crate) fn keep_spinning(&self, peers_parked: impl Fn() -> bool) -> bool {
        !self.cpu.is_some_and(|c| parked_on(c) && peers_parked())
    }
}

/// Whether a waiter of this process is registered as parked on `cpu`.
#[inline]
fn parked_on(cpu: usize) -> bool {
    CPUS[cpu].0.load(Relaxed) & PARKED_HERE != 0
}

impl Drop for SpinPermit {
    fn drop(&mut self) {
        if let Some(c) = self.cpu {
            CPUS[c].0.fetch_and(!SPINNING_HERE, Relaxed);
        }
        SPINNING.0.fetch_sub(1, Relaxed);
    }
}

/// The calling thread registered as a parked waiter on the CPU it runs on, for admission
/// rule 3 (see the [`wait`](super) module docs): while it lives, waiters of a condvar with
/// parked waiters do not spin on that CPU. Dropping it unregisters.
///
/// The ladder registers its own parks. Hold one across a blocking call you make yourself in
/// the split-phase API: register right after
/// [`RawCondvar::prepare_park`](crate::embed::SplitWait::prepare_park) returned the call to
/// make, and drop it when the call returns — and on every other way out of it (a cancelled
/// thread's cleanup handler included), or that CPU stays closed to spinners for good.
///
/// ```
/// use nemo_user::condvar::RawCondvar;
/// use nemo_user::embed::{FutexPark, Park, ParkedHere, SplitWait};
/// use nemo_user::wait::{Deadline, WaitOutcome};
/// use std::time::Duration;
///
/// let cv = RawCondvar::new();
/// let mut t = cv.begin_wait();
/// let deadline = Deadline::from(Duration::from_millis(1));
/// if let Ok(req) = cv.prepare_park(&mut t, Some(&deadline)) {
///     let registered = ParkedHere::register();
///     FutexPark.park(&req); // a shim makes its own (cancellable) call here
///     drop(registered);
///     cv.end_park(&mut t);
/// }
/// assert_eq!(cv.abandon(&mut t), WaitOutcome::TimedOut);
/// cv.finish_wait(t);
/// ```
#[derive(Debug)]
#[must_use = "the registration ends when the guard is dropped"]
pub struct ParkedHere {
    cpu: Option<usize>,
}

impl ParkedHere {
    /// Registers the calling thread as parked on the CPU it runs on now (threads on CPUs
    /// beyond the per-CPU table are not registered; rule 3 does not apply there).
    #[inline]
    pub fn register() -> ParkedHere {
        let cpu = current_cpu();
        if let Some(c) = cpu {
            CPUS[c].0.fetch_add(1, Relaxed);
        }
        ParkedHere { cpu }
    }
}

impl Drop for ParkedHere {
    #[inline]
    fn drop(&mut self) {
        if let Some(c) = self.cpu {
            CPUS[c].0.fetch_sub(1, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // These tests share the process-wide state with every other test of the crate, so they
    // assert only what concurrent waiters elsewhere cannot change; the exact bookkeeping is
    // checked by the `condvar_admission` integration test, which runs alone in its process.

    /// Runs `f` with the calling thread pinned to `cpu`, then restores its affinity.
    fn pinned_to<R>(cpu: usize, f: impl FnOnce() -> R) -> R {
        let old = affinity(0);
        // SAFETY: an all-zero cpu_set_t is a valid empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` is below MAX_CPUS, far below the set's capacity.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        // SAFETY: a valid set of the size passed; 0 = the calling thread.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
        let r = f();
        if let Some(old) = old {
            // SAFETY: as above, the mask read before.
            unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&old), &old) };
        }
        r
    }

    /// The tests that start the union afresh, one at a time.
    static REFRESHING: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn capacity_is_cpus_minus_one() {
        let _one = REFRESHING.lock().unwrap_or_else(|e| e.into_inner());
        let cap = refresh_spin_capacity();
        let cpus = affinity(std::process::id() as libc::pid_t)
            .map_or(1, |s| words(&s).iter().map(|w| w.count_ones()).sum::<u32>());
        assert!(cap + 1 >= cpus as usize, "{cap} vs {cpus}");
        assert_eq!(spin_census().capacity, cap);
    }

    #[test]
    fn a_thread_pinned_elsewhere_adds_its_cpus() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            return;
        }
        let _one = REFRESHING.lock().unwrap_or_else(|e| e.into_inner());
        let before = refresh_spin_capacity();
        // A thread pinned to the last CPU asks: the count never falls below what it brings.
        let last = cpus - 1;
        let after = std::thread::spawn(move || {
            pinned_to(last, || {
                let _ = SpinPermit::acquire(|| false, || false);
                capacity() as usize
            })
        })
        .join()
        .unwrap();
        assert!(after >= before, "{after} < {before}");
        let mut one = 0u64;
        one |= 1 << (last % 64);
        assert!(
            SEEN[last / 64].load(Relaxed) & one != 0,
            "CPU {last} not seen"
        );
    }

    #[test]
    fn words_are_the_set() {
        // SAFETY: an all-zero cpu_set_t is a valid empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        for cpu in [0, 5, 64, 130] {
            // SAFETY: below the set's capacity.
            unsafe { libc::CPU_SET(cpu, &mut set) };
        }
        let w = words(&set);
        assert_eq!(w[0], 1 | 1 << 5);
        assert_eq!(w[1], 1);
        assert_eq!(w[2], 1 << 2);
        assert!(w[3..].iter().all(|&x| x == 0));
    }

    #[test]
    fn a_second_spinner_on_the_same_cpu_is_refused() {
        let Some(cpu) = current_cpu() else { return };
        pinned_to(cpu, || {
            // Another test may hold the process's only spinner slot; then there is nothing to
            // check here.
            if let Some(first) = SpinPermit::acquire(|| false, || false) {
                assert_eq!(first.cpu, Some(cpu));
                assert!(CPUS[cpu].0.load(Relaxed) & SPINNING_HERE != 0);
                assert!(SpinPermit::acquire(|| false, || false).is_none());
                drop(first);
            }
        });
    }

    #[test]
    fn a_full_process_keeps_asking_for_the_grace_only() {
        // Fill every slot this test can; other tests may hold some, which only helps.
        let mut held = Vec::new();
        while spin_census().spinning < capacity() as usize {
            match SpinPermit::acquire(|| false, || false) {
                Some(p) => held.push(p),
                None => break,
            }
        }
        if spin_census().spinning < capacity() as usize {
            return;
        }
        // Refused after the grace when nothing changes...
        let t0 = crate::clock::monotonic_ns();
        assert!(SpinPermit::acquire(|| false, || false).is_none());
        assert!(crate::clock::monotonic_ns() - t0 >= ADMISSION_GRACE_NS);
        // ...and at once when the wait is over meanwhile.
        let mut asked = 0;
        let r = SpinPermit::acquire(
            || false,
            || {
                asked += 1;
                true
            },
        );
        assert!(r.is_none());
        assert_eq!(asked, 1);
        drop(held);
    }

    #[test]
    fn a_slot_freed_within_the_grace_is_taken() {
        if capacity() != 1 {
            return;
        }
        let Some(first) = SpinPermit::acquire(|| false, || false) else {
            return;
        };
        // The "partner" leaves its slot while this waiter is still in its grace.
        let mut first = Some(first);
        let second = SpinPermit::acquire(
            || false,
            || {
                first.take();
                false
            },
        );
        assert!(first.is_none(), "the grace never looked at the wait again");
        // Admitted, unless another test took the freed slot first.
        if second.is_none() {
            assert!(spin_census().spinning >= 1, "refused with a free slot");
        }
    }

    #[test]
    fn a_parked_registration_counts_on_its_cpu() {
        let Some(cpu) = current_cpu() else { return };
        pinned_to(cpu, || {
            let reg = ParkedHere::register();
            assert_eq!(reg.cpu, Some(cpu));
            assert!(parked_on(cpu));
            // A peer of the same condvar parked here: no spinning, by rule 3.
            assert!(SpinPermit::acquire(|| true, || false).is_none());
            drop(reg);
        });
    }
}
