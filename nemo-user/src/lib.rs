//! # nemo-user
//!
//! Nemo's asynchronous event primitives at user level.
#![deny(unsafe_op_in_unsafe_fn)]
