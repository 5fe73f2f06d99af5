//! # Many tasks on a few workers, preempted by timer ticks
//!
//! Spawns long busy tasks and short ones on `nemo_user::sched`. The long ones never yield: they
//! only pass a safepoint at each iteration, where a quantum tick switches them out, so the short
//! tasks spawned after them finish long before them instead of waiting behind them.
//!
//! ```text
//! cargo run --release -p nemo-user --features sched --example sched -- [signal|signal-lazy|poll] [workers] [quantum_us]
//! ```
//!
//! `signal-lazy` runs the `signal` backend with lazy ticks (`Builder::lazy_ticks`): the long
//! tasks take their ticks at their safepoints without a signal, so they finish sooner than with
//! `signal`, at about what `poll` costs.

use std::time::{Duration, Instant};

use nemo_user::BackendKind;
use nemo_user::sched::{self, Runtime};

/// A busy loop of `n` iterations with a safepoint in each.
fn busy(n: u64) -> u64 {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..n {
        for _ in 0..64 {
            x = std::hint::black_box(x.rotate_left(7) ^ x.wrapping_mul(31));
        }
        sched::safepoint();
    }
    x
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (backend, lazy) = match args.next().as_deref() {
        None | Some("signal") => (BackendKind::Signal, false),
        Some("signal-lazy") => (BackendKind::Signal, true),
        Some("poll") => (BackendKind::Poll, false),
        Some(other) => {
            return Err(format!("unknown backend {other:?}: signal, signal-lazy or poll").into());
        }
    };
    let workers: usize = args.next().map_or(Ok(2), |a| a.parse())?;
    let quantum_us: u64 = args.next().map_or(Ok(100), |a| a.parse())?;

    let rt = Runtime::builder()
        .workers(workers)
        .backend(backend)
        .lazy_ticks(lazy)
        .quantum(Duration::from_micros(quantum_us))
        .build()?;
    let start = Instant::now();
    let long: Vec<_> = (0..workers)
        .map(|_| rt.spawn(move || (busy(2_000_000), start.elapsed())))
        .collect();
    let short: Vec<_> = (0..4 * workers)
        .map(|_| rt.spawn(move || (busy(1_000), start.elapsed())))
        .collect();
    let short_done = short
        .into_iter()
        .map(|t| t.join().map(|(_, at)| at))
        .collect::<Result<Vec<_>, _>>()?;
    let long_done = long
        .into_iter()
        .map(|t| t.join().map(|(_, at)| at))
        .collect::<Result<Vec<_>, _>>()?;
    let stats = rt.stats();
    let ticks = if lazy { ", lazy ticks" } else { "" };
    println!("{backend:?}{ticks}, {workers} workers, quantum {quantum_us} µs:");
    println!(
        "  short tasks finished by {:?}, long ones by {:?}",
        short_done.iter().max().unwrap_or(&Duration::ZERO),
        long_done.iter().max().unwrap_or(&Duration::ZERO)
    );
    for (i, s) in stats.iter().enumerate() {
        println!(
            "  worker {i}: {} tasks started, {} ticks, {} preemptions, {} yields",
            s.started, s.ticks, s.preemptions, s.yields
        );
    }
    rt.shutdown();
    Ok(())
}
