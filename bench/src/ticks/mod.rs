//! The pieces of the tick scenarios (`overhead`, `timer`) that are not a measurement loop:
//! compute kernels with safepoints, the operating system's timer interfaces as timer-thread
//! loops, and the statistics of paired runs.

pub mod kernels;
pub mod sources;
pub mod stats;
