//! [`Local`]: a receiver's own state, reachable from its handlers through the thread's state.

use core::cell::UnsafeCell;
use core::sync::atomic::{
    AtomicBool, AtomicU32, Ordering::Relaxed, Ordering::SeqCst, compiler_fence,
};
use std::sync::Arc;

use uintr_sys::Vector;

use super::shared::Shared;

/// The receiver-side state, owned by a `Receiver` and reachable from handlers through the
/// thread-local `receiver` pointer.
pub(crate) struct Local {
    pub shared: Arc<Shared>,
    pub handler: UnsafeCell<Box<dyn FnMut(Vector)>>,
    /// Handler activations of this receiver currently on the stack.
    pub active: AtomicU32,
    /// The receiver was dropped while its handler ran; the outermost activation frees it.
    pub orphaned: AtomicBool,
}

impl Local {
    pub fn new(shared: Arc<Shared>, handler: Box<dyn FnMut(Vector)>) -> Local {
        Local {
            shared,
            handler: UnsafeCell::new(handler),
            active: AtomicU32::new(0),
            orphaned: AtomicBool::new(false),
        }
    }

    /// Whether a handler activation of this receiver is on the stack.
    pub fn is_active(&self) -> bool {
        // A signal fence (see `thread::signal_fence`): the count is written by handlers that
        // run on this very thread.
        compiler_fence(SeqCst);
        self.active.load(Relaxed) != 0
    }
}
