//! # nemo-bench
//!
//! The Nemo and xUI papers' event-notification comparisons, side by side on whatever machine it
//! runs on: every mechanism measured in the same run, as ratios to the baseline users have today
//! (`pthread_cond`), with absolute times and the receiver's CPU cost next to each.
//!
//! The pieces, each in its own module:
//!
//! - [`mechanisms`]: the rows — a [`mechanisms::Mechanism`] registry of blocking waiters
//!   ([`mechanisms::BlockingEvent`]) and interrupted running receivers
//!   ([`mechanisms::InterruptLink`]).
//! - [`scenarios`]: the tables — a [`scenarios::Scenario`] registry (`unicast`, `broadcast`,
//!   `coherence`, `am`, ...), each a list of [`harness::Case`]s.
//! - [`harness`]: the one measurement loop (pinned threads, [`clock`], handshake, gaps, warm-up,
//!   receiver CPU time), producing raw [`samples`].
//! - [`stats`], [`interval`] and [`report`]: statistics (ratios over repetitions with bootstrap
//!   intervals) and outputs (table, JSON, CSV, SVG/PNG), which only read kept samples.
//!
//! Measuring one mechanism in one case, as the binary does for every row:
//!
//! ```
//! use std::time::Duration;
//! use nemo_bench::{clock::Clock, harness::Context, placement::Topology};
//! use nemo_bench::plan::{Plan, Profile};
//! use nemo_bench::{mechanisms, scenarios, runner, stats::Summary};
//!
//! let ctx = Context {
//!     clock: Clock::native(Duration::from_millis(5)),
//!     topology: Topology::detect(),
//!     sim: false,
//!     timeout: Duration::from_secs(5),
//! };
//! let mut plan = Plan::new(Profile::Quick, ctx.topology.cores());
//! plan.iters = Some(20);
//! let unicast = scenarios::find("unicast").unwrap();
//! let futex = mechanisms::find("futex").unwrap();
//! let case = &unicast.cases(&plan)[0]; // short-gap
//! let setup = runner::setup(&ctx, unicast.id(), case);
//! let instance = futex.instantiate(&setup).unwrap();
//! let m = unicast.measure(&ctx, case, &instance).unwrap();
//! let s = Summary::of(&m.samples.all()).unwrap();
//! assert_eq!(s.n, 20);
//! assert!(s.min <= s.p50 && s.p50 <= s.max);
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

pub mod arrival;
pub mod cli;
pub mod clock;
pub mod harness;
pub mod interval;
pub mod machine;
pub mod mechanisms;
pub mod placement;
pub mod plan;
pub mod report;
pub mod runner;
pub mod samples;
pub mod scenarios;
pub mod stats;
pub mod ticks;
