//! `hol` (xUI Fig. 7, a synthetic RocksDB-like server): head-of-line blocking on one
//! `nemo_user::sched` worker, and how preemption at a quantum relieves it.
//!
//! Requests arrive open-loop (Poisson, at an offered load of the worker's capacity as measured
//! at the start of the run, `capacity_kreq_s`, without preemption): 99.5 % GETs
//! of [`GET_US`] of work and 0.5 % SCANs of [`SCAN_US`], both busy loops with a
//! `sched::safepoint` every [`CHUNK_NS`]. The arrival times are drawn up front, one stream per
//! load for every quantum and backend ([`request_stream`]); [`SERVERS`]
//! server tasks on the one worker take the requests whose time has come in arrival order (an
//! idle server yields until the next arrival), serve them, and record completion − arrival, so
//! a server that falls behind does not slow the arrivals (no coordinated omission). Without
//! preemption a SCAN holds the worker for its whole 580 µs and every GET behind it waits; with a
//! quantum, the SCAN's task is preempted at its next safepoint and the other servers take the
//! GETs.
//!
//! The quantum ticks come from the runtime's timer thread, spinning on a core of its own where
//! the machine has two (`Idle::Spin`), else sleeping to its deadlines (`Idle::Sleep`, with
//! minimal timer slack); the worker's real tick rate (`ticks_per_ms`) shows how far short of the
//! quantum the ticks fall; `worker_cpu_pct` is
//! how much of a core the worker thread got over the run (on a shared machine, less than 100 %
//! makes the offered load higher than its nominal value). Samples are
//! GET latencies; `get_p999`, `scan_p99`, `goodput_kreq_s` (requests served per second of the
//! run, first arrival to last completion) and `offered_kreq_s` come with them. Targets (xUI): at
//! 50 % load and a 20 µs quantum, GET p99 ≤ 0.1× and goodput ≥ 0.9× the same load without
//! preemption.

use std::sync::Arc;
use std::sync::atomic::{
    AtomicU64, AtomicUsize, Ordering::AcqRel, Ordering::Acquire, Ordering::Release,
};
use std::time::{Duration, Instant};

use nemo_user::sched::{self, Runtime};
use nemo_user::timer::Idle;

use super::Driver;
use super::sched_support::{
    Latencies, backend_of, lazy_ticks_of, spin, spins_per_us, three_sim_cores,
};
use crate::clock::{Unit, thread_cpu_ns};
use crate::harness::{Case, Context, Failure, Fanout, Gap};
use crate::mechanisms::{Instance, Setup, Skipped};
use crate::plan::{Plan, Profile};
use crate::samples::{Measurement, Samples};

/// The hol scenario.
pub struct Hol;

/// A GET's work.
pub const GET_US: f64 = 1.2;
/// A SCAN's work.
pub const SCAN_US: f64 = 580.0;
/// The share of SCANs.
pub const SCAN_SHARE: f64 = 0.005;
/// Work between two safepoints.
pub const CHUNK_NS: f64 = 100.0;
/// Server tasks on the worker.
pub const SERVERS: usize = 16;

/// The mean work per request, in µs.
fn mean_service_us() -> f64 {
    (1.0 - SCAN_SHARE) * GET_US + SCAN_SHARE * SCAN_US
}

pub(super) const FOOTER: &str = "\
samples: GET latency (arrival → completion) on one worker, open-loop Poisson arrivals; \
get_p999, scan_p99 in ns; regime: offered load (of capacity_kreq_s, the worker's measured \
rate without preemption) and quantum (none: no preemption); \
paper (xUI Fig. 7): preemption cuts the GET tail by orders of magnitude at equal goodput; \
targets: at 50 % load, 20 µs quantum, GET p99 ≤ 0.1× and goodput ≥ 0.9× '50% none'";

/// The spins of one [`CHUNK_NS`] chunk of work, calibrated once per run: every regime and
/// backend then serves requests of the same work, the work whose rate `capacity_kreq_s`
/// measured. (Calibrated afresh per regime, a machine whose speed drifts between two
/// calibrations would offer each regime a load of another work's rate: a few tenths of
/// difference made "50 %" an overload.)
fn chunk_spins() -> u32 {
    static CHUNK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *CHUNK.get_or_init(|| (spins_per_us() * CHUNK_NS / 1000.0).max(1.0) as u32)
}

/// How the runtime's timer thread waits between ticks. It spins where it can have a core of its
/// own: under gem5 (a simulated core is given to it, and sleeping is not simulated) and
/// natively where the process may run on two cores or more — `hol`'s only busy threads are the
/// worker and the timer (the requests are drawn up front, and the main thread waits in `join`).
/// On one core it sleeps to its deadlines, as a spinning timer would take turns with the worker
/// (see `bench/README.md`).
fn timer_idle(ctx: &Context) -> Idle {
    if ctx.sim || ctx.topology.cores() >= 2 {
        Idle::Spin
    } else {
        Idle::Sleep
    }
}

/// What a profile runs.
struct Form {
    loads: &'static [u32],
    quanta: &'static [u64],
    run: Duration,
}

fn form(plan: &Plan) -> Form {
    match plan.profile {
        Profile::Full if plan.is_named("hol") => Form {
            loads: &[30, 50, 70, 90],
            quanta: &[0, 5, 20, 50],
            run: Duration::from_millis(400),
        },
        Profile::Full => Form {
            loads: &[50],
            quanta: &[0, 20],
            run: Duration::from_millis(150),
        },
        Profile::Quick => Form {
            loads: &[50],
            quanta: &[0, 20],
            run: Duration::from_millis(50),
        },
        // gem5's O3 model simulates 1–2 ms per host minute on three busy cores (22 ms took
        // 11–12 min for one backend's two regimes):
        // about 600 GETs and 3 SCANs per regime.
        Profile::Sim => Form {
            loads: &[50],
            quanta: &[0, 20],
            run: Duration::from_millis(5),
        },
    }
}

fn regime(load: u32, quantum_us: u64) -> String {
    match quantum_us {
        0 => format!("{load}% none"),
        q => format!("{load}% q{q}us"),
    }
}

/// `("50% q20us")` → `(0.5, 20 µs)`; quantum zero for `none`.
fn parse(regime: &str) -> Option<(f64, Duration)> {
    let (load, q) = regime.split_once("% ")?;
    let load = load.parse::<u32>().ok()?;
    let q = match q {
        "none" => 0,
        q => q.strip_prefix('q')?.strip_suffix("us")?.parse().ok()?,
    };
    Some((f64::from(load) / 100.0, Duration::from_micros(q)))
}

impl Driver for Hol {
    fn cases(&self, plan: &Plan) -> Vec<Case> {
        let f = form(plan);
        let mut cases = Vec::new();
        for &load in f.loads {
            let interarrival_us = mean_service_us() / (f64::from(load) / 100.0);
            let requests = (f.run.as_secs_f64() * 1e6 / interarrival_us) as usize;
            for &q in f.quanta {
                cases.push(Case {
                    regime: regime(load, q),
                    gap: Gap::Spin(Duration::from_nanos((interarrival_us * 1e3) as u64)),
                    // GETs; the SCANs come on top.
                    events: plan.iters.unwrap_or(requests).max(1),
                    warmup: 0,
                    budget: Some(f.run),
                    receivers: 1,
                    fanout: Fanout::One,
                });
            }
        }
        cases
    }

    fn check(&self, setup: &Setup<'_>) -> Result<(), Skipped> {
        three_sim_cores(setup)
    }

    fn measure(
        &self,
        ctx: &Context,
        case: &Case,
        instance: &Instance,
    ) -> Result<Measurement, Failure> {
        let backend = backend_of(instance)?;
        let lazy_ticks = lazy_ticks_of(instance);
        let (load, quantum) = parse(&case.regime)
            .ok_or_else(|| Failure::Unsupported(format!("bad regime {:?}", case.regime)))?;
        let chunk = chunk_spins();
        let chunks = |us: f64| ((us * 1000.0 / CHUNK_NS).round() as u32).max(1);
        let (get_chunks, scan_chunks) = (chunks(GET_US), chunks(SCAN_US));

        // Arrivals, drawn up front: exponential gaps of mean service / load, `case.events` GETs
        // and the SCANs on top. The mean service is the one measured on a worker of this backend
        // without preemption: the nominal one leaves out the safepoints and the clock reads, and
        // on a shared machine the worker gets less than a core.
        let service_us = measured_service_us(backend, ctx.sim, chunk, get_chunks, scan_chunks)?;
        let (gaps, scans) = request_stream(case.events, load);
        let mean_gap_ns = service_us * 1000.0 / load;
        let mut t = 0.0f64;
        let arrivals: Vec<u64> = gaps
            .iter()
            .map(|g| {
                t += g * mean_gap_ns;
                t as u64
            })
            .collect();
        let n = arrivals.len();

        let rt = Runtime::builder()
            .workers(1)
            .backend(backend)
            .lazy_ticks(lazy_ticks)
            .quantum(quantum)
            .timer_idle(timer_idle(ctx))
            .build()
            .map_err(|e| Failure::Register {
                receiver: 0,
                reason: e.to_string(),
            })?;
        // The servers start within a millisecond; arrivals count from 2 ms on.
        let lead = Duration::from_millis(2);
        let shared = serve_all(&rt, lead, arrivals, scans, chunk, get_chunks, scan_chunks)?;
        let stats = rt.stats()[0];
        rt.shutdown();

        let (mut gets, mut scans) = (Latencies::new(), Latencies::new());
        let mut samples = Vec::with_capacity(n);
        let mut last_done = 0u64;
        for i in 0..n {
            let lat = shared.done[i].load(Acquire);
            last_done = last_done.max(shared.arrivals[i] + lat);
            if shared.scans[i] {
                scans.record(Duration::from_nanos(lat));
            } else {
                gets.record(Duration::from_nanos(lat));
                samples.push(lat);
            }
        }
        let span_s = |ns: u64| ns.max(1) as f64 / 1e9;
        let offered = n as f64 / span_s(shared.arrivals.last().copied().unwrap_or(0));
        let goodput = n as f64 / span_s(last_done);
        let mut extra = vec![
            ("get_p50", gets.quantile_ns(0.5)),
            ("get_p99", gets.quantile_ns(0.99)),
            ("get_p999", gets.quantile_ns(0.999)),
            ("scan_p99", scans.quantile_ns(0.99)),
            ("scans", scans.len() as f64),
            ("goodput_kreq_s", goodput / 1e3),
            ("offered_kreq_s", offered / 1e3),
            ("capacity_kreq_s", 1e3 / service_us),
            ("preemptions", stats.preemptions as f64),
            (
                "ticks_per_ms",
                stats.ticks as f64 / (last_done.max(1) as f64 / 1e6),
            ),
        ];
        // gem5's syscall emulation answers the thread CPU clock with simulated wall time
        // (`clock::SIM_NO_THREAD_CPU`): the worker's share of a core means nothing there.
        if !ctx.sim {
            let cpu = shared
                .cpu_end
                .load(Acquire)
                .saturating_sub(shared.cpu_start.load(Acquire));
            extra.push((
                "worker_cpu_pct",
                cpu as f64 / last_done.max(1) as f64 * 100.0,
            ));
        }
        // The table's unit is the run's clock: simulated cycles under gem5 (where `Instant`
        // reads the simulated clock); the named columns stay in ns.
        let (unit, samples) = if ctx.sim {
            let cycles = |ns: u64| ctx.clock.ticks(Duration::from_nanos(ns));
            (ctx.clock.unit(), samples.into_iter().map(cycles).collect())
        } else {
            (Unit::Ns, samples)
        };
        Ok(Measurement {
            unit,
            samples: Samples::Latency(samples),
            waiter_cpu_ns_per_event: None,
            pinned: false,
            clamped: 0,
            extra,
        })
    }
}

/// The request stream of a run with `gets` GETs at `load`: each request's gap after the one
/// before in units of the mean gap (exponential), and which requests are SCANs. The SCANs are
/// exactly the mix's share, at least one, at random places.
///
/// The stream depends on `gets` and `load` only (a fixed seed): every quantum and backend at
/// one load serves the same requests, so their ratios compare schedulers, not draws (with a few
/// hundred GETs under gem5, independent draws would often hold no SCAN at all).
fn request_stream(gets: usize, load: f64) -> (Vec<f64>, Vec<bool>) {
    let mut rng = fastrand::Rng::with_seed(0x686f_6c00 ^ (load * 1000.0) as u64);
    let share = SCAN_SHARE / (1.0 - SCAN_SHARE);
    let n_scans = ((gets as f64 * share).round() as usize).max(1);
    let n = gets + n_scans;
    let gaps = (0..n).map(|_| -(1.0 - rng.f64()).ln()).collect();
    let mut scans = vec![false; n];
    let mut placed = 0;
    while placed < n_scans {
        let i = rng.usize(..n);
        if !scans[i] {
            scans[i] = true;
            placed += 1;
        }
    }
    (gaps, scans)
}

/// The mean time a request of the mix takes on a one-worker runtime of `backend` without
/// preemption, served back to back by the server tasks (µs, the least disturbed of three rounds
/// of 1000; one round of 200 under gem5):
/// what "100 % load" means here. Measured once per backend and run, so every quantum of a
/// backend is offered the same arrival rate.
fn measured_service_us(
    backend: nemo_user::BackendKind,
    sim: bool,
    chunk: u32,
    get_chunks: u32,
    scan_chunks: u32,
) -> Result<f64, Failure> {
    static MEASURED: std::sync::Mutex<Vec<(nemo_user::BackendKind, f64)>> =
        std::sync::Mutex::new(Vec::new());
    let mut measured = MEASURED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&(_, us)) = measured.iter().find(|(b, _)| *b == backend) {
        return Ok(us);
    }
    // 0.5 % SCANs: 5 in 1000 requests (1 in 200, and one round, under gem5), all there at the
    // start: the servers take them back to back, through the same path as in the measured run.
    let (requests, rounds) = if sim { (200, 1) } else { (1000, 3) };
    let rt = Runtime::builder()
        .workers(1)
        .backend(backend)
        .quantum(Duration::ZERO)
        .build()
        .map_err(|e| Failure::Register {
            receiver: 0,
            reason: e.to_string(),
        })?;
    let mut best = Duration::MAX;
    // The least disturbed of three rounds: the worker's rate while it has a CPU.
    for _ in 0..rounds {
        let scans = (0..requests).map(|i| i % 200 == 199).collect();
        // No lead: every request is there when the servers start, and the clock runs from
        // the spawn, so the time counted is all of the work (with a lead, the servers would
        // work unclocked until it ends, and the rate would come out too high).
        let shared = serve_all(
            &rt,
            Duration::ZERO,
            vec![0; requests],
            scans,
            chunk,
            get_chunks,
            scan_chunks,
        )?;
        let last = shared
            .done
            .iter()
            .map(|d| d.load(Acquire))
            .max()
            .unwrap_or(0);
        best = best.min(Duration::from_nanos(last));
    }
    rt.shutdown();
    let us = (best.as_secs_f64() * 1e6 / requests as f64).max(mean_service_us());
    measured.push((backend, us));
    Ok(us)
}

/// Runs the request stream `arrivals`/`scans` (ns after now + `lead`) through [`SERVERS`]
/// server tasks on `rt` until every request is served; returns the stream with its results.
fn serve_all(
    rt: &Runtime,
    lead: Duration,
    arrivals: Vec<u64>,
    scans: Vec<bool>,
    chunk: u32,
    get_chunks: u32,
    scan_chunks: u32,
) -> Result<Arc<Shared>, Failure> {
    let n = arrivals.len();
    let shared = Arc::new(Shared {
        base: Instant::now() + lead,
        arrivals,
        scans,
        next: AtomicUsize::new(0),
        done: (0..n).map(|_| AtomicU64::new(0)).collect(),
        cpu_start: AtomicU64::new(0),
        cpu_end: AtomicU64::new(0),
    });
    let servers: Vec<_> = (0..SERVERS)
        .map(|_| {
            let shared = Arc::clone(&shared);
            rt.spawn(move || shared.serve(chunk, get_chunks, scan_chunks))
        })
        .collect();
    for s in servers {
        s.join()
            .map_err(|e| Failure::Unsupported(format!("a server task failed: {e}")))?;
    }
    Ok(shared)
}

/// The request stream and its results, shared by the server tasks.
struct Shared {
    base: Instant,
    /// Arrival times, ns after `base`, ascending.
    arrivals: Vec<u64>,
    scans: Vec<bool>,
    /// The first request not taken yet.
    next: AtomicUsize,
    /// Completion − arrival of each request, ns.
    done: Vec<AtomicU64>,
    /// The worker thread's CPU clock when the first server started and when the last one
    /// ended (ns; 0: not yet).
    cpu_start: AtomicU64,
    cpu_end: AtomicU64,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        u64::try_from(
            Instant::now()
                .saturating_duration_since(self.base)
                .as_nanos(),
        )
        .unwrap_or(u64::MAX)
    }

    /// A server task: takes the requests whose arrival has come, in order, until none is left.
    fn serve(&self, chunk: u32, get_chunks: u32, scan_chunks: u32) {
        let cpu = || thread_cpu_ns().unwrap_or(0);
        let _ = self.cpu_start.compare_exchange(0, cpu(), AcqRel, Acquire);
        self.serve_requests(chunk, get_chunks, scan_chunks);
        self.cpu_end.fetch_max(cpu(), AcqRel);
    }

    fn serve_requests(&self, chunk: u32, get_chunks: u32, scan_chunks: u32) {
        loop {
            let i = self.next.load(Acquire);
            if i >= self.arrivals.len() {
                return;
            }
            if self.arrivals[i] > self.now_ns() {
                sched::yield_now();
                continue;
            }
            if self
                .next
                .compare_exchange(i, i + 1, Release, Acquire)
                .is_err()
            {
                continue;
            }
            let chunks = if self.scans[i] {
                scan_chunks
            } else {
                get_chunks
            };
            for _ in 0..chunks {
                std::hint::black_box(spin(chunk));
                sched::safepoint();
            }
            let lat = self.now_ns().saturating_sub(self.arrivals[i]);
            self.done[i].store(lat, Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(sim: bool, cores: usize) -> Setup<'static> {
        Setup {
            scenario: "hol",
            regime: "50% none",
            receivers: 1,
            cores,
            oversubscribed: false,
            sim,
            static_binary: sim,
            uintr: false,
        }
    }

    #[test]
    fn under_gem5_it_needs_three_simulated_cores() {
        let err = Hol
            .check(&setup(true, 2))
            .expect_err("two cores are too few");
        assert!(err.0.contains("need 3 cores"), "{}", err.0);
        assert!(Hol.check(&setup(true, 3)).is_ok());
        assert!(Hol.check(&setup(false, 2)).is_ok());
    }

    #[test]
    fn the_simulated_run_is_short_but_has_its_scans() {
        let cases = Hol.cases(&Plan::new(Profile::Sim, 3));
        let regimes: Vec<_> = cases.iter().map(|c| c.regime.as_str()).collect();
        assert_eq!(regimes, ["50% none", "50% q20us"]);
        for c in &cases {
            // About 600 GETs: enough for a p99 and, at 0.5 %, a few SCANs; far fewer than
            // the default run's.
            assert!((300..=2000).contains(&c.events), "{}", c.events);
        }
        let full = Hol.cases(&Plan::new(Profile::Full, 2));
        assert!(full.iter().all(|c| c.events > cases[0].events * 5));
    }

    #[test]
    fn every_quantum_at_one_load_serves_the_same_stream_with_its_scans() {
        let (gaps, scans) = request_stream(600, 0.5);
        assert_eq!(request_stream(600, 0.5), (gaps.clone(), scans.clone()));
        assert_eq!(scans.iter().filter(|&&s| s).count(), 3);
        assert_eq!(scans.len(), 603);
        assert!(gaps.iter().all(|g| g.is_finite() && *g >= 0.0));
        // Mean gap about one (exponential of mean 1).
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        assert!((0.8..1.2).contains(&mean), "{mean}");
        // At least one SCAN even in a tiny run; another load, another stream.
        assert_eq!(request_stream(10, 0.5).1.iter().filter(|&&s| s).count(), 1);
        assert_ne!(request_stream(600, 0.7).0, gaps);
    }

    #[test]
    fn regimes_parse_back() {
        assert_eq!(parse("50% q20us"), Some((0.5, Duration::from_micros(20))));
        assert_eq!(parse("90% none"), Some((0.9, Duration::ZERO)));
        assert_eq!(parse("50%q20"), None);
    }
}
