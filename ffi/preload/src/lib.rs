//! `libnemo_preload.so`: an `LD_PRELOAD` replacement for glibc's `pthread_cond_*`.
//!
//! ```sh
//! cargo build --release -p libnemo-preload
//! LD_PRELOAD=$PWD/target/release/libnemo_preload.so NEMO_PRELOAD_VERBOSE=1 pigz -p 4 big.tar
//! ```
//!
//! Every condition variable of an unmodified, dynamically linked program becomes a
//! [`RawCondvar`](nemo_user::condvar::RawCondvar), kept inside the program's own 48-byte
//! `pthread_cond_t` (all-zero bytes, `PTHREAD_COND_INITIALIZER`, are a valid condvar), driven
//! with the program's own glibc mutex. Waiters spin on the condvar's cache line for a while
//! before they park on a futex, so a signal that finds its waiter still spinning reaches it at
//! cache-coherence speed; `pthread_cond_signal` makes no system call unless its waiter is
//! parked. The default policy is nemo's adaptive one, as for Rust waiters: each condvar
//! remembers whether spinning has been paying off on it, so waiters of condvars whose waits are
//! long stop burning CPU, and a waiter spins only where the process can spare the CPU (see
//! [`nemo_user::wait`]). See `ffi/README.md` for what it changes and what it does not.
//!
//! # Symbols
//!
//! The shared object defines glibc's version nodes (`nemo_preload.map`) and exports
//! `pthread_cond_init`, `_destroy`, `_signal`, `_broadcast`, `_wait` and `_timedwait` at
//! `@@GLIBC_2.3.2` (what programs linked against glibc ask for), `pthread_cond_clockwait` at
//! `@@GLIBC_2.34` and `@GLIBC_2.30`, and the `GLIBC_2.2.5` versions of the first six, which
//! forward to glibc's own compatibility functions (`dlvsym(RTLD_NEXT, name, "GLIBC_2.2.5")`):
//! that ABI keeps a pointer to a separately allocated condvar in the `pthread_cond_t`, which
//! only glibc understands. [`mode::nemo_preload_info`] is exported too.
//!
//! # Cancellation
//!
//! `pthread_cond_wait` and friends are cancellation points: glibc cancels a blocked waiter from
//! a signal handler by unwinding its stack (`_Unwind_ForcedUnwind`), running cleanup handlers on
//! the way, with the mutex re-acquired before the caller's handlers run. A forced unwind through
//! a Rust frame aborts the process, so the waits are split:
//!
//! - `c/cond_wait.c` defines the three wait entry points. It calls the non-blocking steps in
//!   [`wait`] (check the arguments, join the condvar and release the mutex, spin; prepare a
//!   park; account for a wakeup; finish and relock), each of which returns before anything can
//!   cancel the thread, and makes the one blocking call, `FUTEX_WAIT_BITSET`, itself.
//! - Around that call — and only there — it switches to asynchronous cancellation, as glibc
//!   does around its own futex wait. A cleanup handler registered with `pthread_cleanup_push`
//!   (the setjmp-based variant, found by stack address wherever the cancellation stopped the
//!   thread) withdraws the waiter, passes on a signal it had consumed, and re-acquires the
//!   mutex.
//! - A request already pending when a wait starts is acted on at its entry, where the caller
//!   still holds the mutex (`pthread_testcancel`).
//! - While a waiter spins (in Rust, with deferred cancellation) a cancellation request stays
//!   pending; it is acted on when the waiter parks (`pthread_setcanceltype` acts on a pending
//!   request at once) or at the entry of its next wait, if a signal came first. Without the
//!   entry check, a waiter woken during every spin would never be cancelled while signals keep
//!   coming (see `ffi/README.md`).
//!
//! # Destroy
//!
//! `pthread_cond_destroy` returns `EBUSY` while a waiter has not been signalled (POSIX leaves
//! destroying a condvar with blocked waiters undefined; glibc blocks until they are woken),
//! and otherwise waits until the waiters already woken have stopped touching the object, so the
//! common "broadcast, then destroy" is safe, as in glibc.
//!
//! # Mode
//!
//! `NEMO_PRELOAD=off` keeps the shim loaded but forwards every call to glibc; the mode is fixed
//! when the shim loads ([`mode`]). `NEMO_PRELOAD_VERBOSE=1` prints one line at load, and
//! `NEMO_PRELOAD_SPIN_US` sets how long waiters spin before they park (`0`: not at all).
#![deny(unsafe_op_in_unsafe_fn)]

pub mod exports;
pub mod mode;
mod pthread;
pub mod wait;

/// Runs when the shared object is loaded: fixes the mode and prints the verbose line.
extern "C" fn on_load() {
    // A panic must not escape into the dynamic loader.
    let _ = std::panic::catch_unwind(mode::on_load);
}

// The loader runs every function pointer in `.init_array` after the object's dependencies
// (glibc) are initialised.
#[used]
#[unsafe(link_section = ".init_array")]
static ON_LOAD: extern "C" fn() = on_load;
