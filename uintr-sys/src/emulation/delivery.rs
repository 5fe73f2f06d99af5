//! Delivery: the signal that carries an interrupt, and the CPU's frame built from it.
//!
//! The sender queues [`delivery_signal()`](super::delivery_signal) with `rt_tgsigqueueinfo`; the
//! receiver's handler, [`on_delivery`], rewrites the interrupted context the way the CPU's
//! delivery would, with the help of [`delivery_stub`].

use core::ffi::c_void;
use core::mem::{offset_of, size_of};
use core::sync::atomic::{AtomicU64, Ordering};

use libc::c_int;

use super::STACK_ADJUST;
use crate::error::{Error, Result};
use crate::structures::Vector;

const RFLAGS_TF: i64 = 1 << 8;
const RFLAGS_RF: i64 = 1 << 16;

/// Deliveries that reached an entry.
pub(super) static DELIVERIES: AtomicU64 = AtomicU64::new(0);

/// Queues a delivery of `vector`, entering `entry`, to thread `tid` of this process.
pub(super) fn queue(tid: libc::pid_t, entry: u64, vector: Vector) -> Result<()> {
    let value = encode(entry, vector).ok_or(Error::InvalidArgument)?;
    queue_value(tid, super::delivery_signal(), value)
}

/// Queues a notification of the emulated kernel ([`super::kernel`]) to thread `tid`, on signal
/// `sig`: the handler entered is `entry`, the vector is chosen on arrival by the thread's
/// notification processing (the highest pending one), as the CPU does.
pub(super) fn queue_notification(tid: libc::pid_t, sig: c_int, entry: u64) -> Result<()> {
    let value = encode(entry, Vector::MAX).ok_or(Error::InvalidArgument)? | FROM_UPID;
    queue_value(tid, sig, value)
}

fn queue_value(tid: libc::pid_t, sig: c_int, value: u64) -> Result<()> {
    // SAFETY: getpid/getuid have no preconditions.
    let (pid, uid) = unsafe { (libc::getpid(), libc::getuid()) };
    let info = QueuedInfo {
        signo: sig,
        errno: 0,
        code: libc::SI_QUEUE,
        _pad: 0,
        pid,
        uid,
        value,
        _rest: [0; 12],
    };
    // SAFETY: `info` is a complete siginfo_t image that outlives the call; the target is
    // restricted to this process (tgid = our pid), whose delivery handler is installed.
    let r = unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            pid,
            tid,
            sig,
            &info as *const QueuedInfo,
        )
    };
    if r == 0 {
        return Ok(());
    }
    Err(match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::ESRCH) => Error::NoSuchThread,
        Some(libc::EAGAIN) => Error::SignalQueueFull,
        Some(libc::EINVAL) => Error::InvalidArgument,
        Some(e) => Error::Os(e),
        None => Error::Os(0),
    })
}

// ---------------------------------------------------------------------------------------------
// The signal value: entry address in bits 55:0 (user addresses are below 2^56 even with 5-level
// paging), vector in bits 61:56, and bit 63 set when the vector is to be taken from the
// receiving thread's emulated UPID on arrival ([`super::kernel`]).

const VECTOR_SHIFT: u32 = 56;
const FROM_UPID: u64 = 1 << 63;

fn encode(entry: u64, vector: Vector) -> Option<u64> {
    (entry != 0 && entry >> VECTOR_SHIFT == 0).then(|| entry | (u64::from(vector) << VECTOR_SHIFT))
}

fn decode(value: u64) -> Option<(u64, Vector)> {
    let entry = value & ((1 << VECTOR_SHIFT) - 1);
    let vector = Vector::new((value & !FROM_UPID) >> VECTOR_SHIFT).ok()?;
    (entry != 0).then_some((entry, vector))
}

/// The `siginfo_t` of a queued signal (`_sifields._rt`), as x86_64 Linux lays it out.
#[repr(C)]
struct QueuedInfo {
    signo: c_int,
    errno: c_int,
    code: c_int,
    _pad: c_int,
    pid: libc::pid_t,
    uid: libc::uid_t,
    value: u64,
    _rest: [u64; 12],
}

const _: () = assert!(size_of::<QueuedInfo>() == size_of::<libc::siginfo_t>());

// ---------------------------------------------------------------------------------------------
// Hand-off from the signal handler to the stub.
//
// The signal handler cannot push the CPU's frame itself: the kernel put the signal frame (with
// the interrupted FP/AVX state) right below the red zone, exactly where the frame must go, and
// writing there would corrupt the state that `rt_sigreturn` restores. So it parks the frame's
// words and the interrupted RAX in a slot, points the context at `delivery_stub` with RAX = the
// slot, and the stub pushes the words once the signal frame is gone. A slot is busy only between
// the two (a thread holds at most one: delivery stays blocked until `uiret`).

#[repr(C, align(64))]
struct Slot {
    busy: AtomicU64,
    rax: AtomicU64,
    vector: AtomicU64,
    rip: AtomicU64,
    rflags: AtomicU64,
    rsp: AtomicU64,
    entry: AtomicU64,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            busy: AtomicU64::new(0),
            rax: AtomicU64::new(0),
            vector: AtomicU64::new(0),
            rip: AtomicU64::new(0),
            rflags: AtomicU64::new(0),
            rsp: AtomicU64::new(0),
            entry: AtomicU64::new(0),
        }
    }
}

const NUM_SLOTS: usize = 256;
static SLOTS: [Slot; NUM_SLOTS] = [const { Slot::new() }; NUM_SLOTS];

/// Claims a free slot, starting at `hint`. Async-signal-safe. Slots are held for a few
/// instructions, so all 256 are busy only with more than 256 threads in that window; then it
/// yields until another thread's stub frees one.
fn claim_slot(hint: usize) -> &'static Slot {
    loop {
        for i in 0..NUM_SLOTS {
            let slot = &SLOTS[(hint + i) % NUM_SLOTS];
            if slot
                .busy
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return slot;
            }
        }
        // SAFETY: sched_yield is async-signal-safe and has no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// Runs on the interrupted thread right after the delivery signal returns, with every register
/// of the interrupted code except RAX (= its slot), RIP (here), RSP (= the 16-aligned top of the
/// CPU frame) and RFLAGS (TF and RF cleared). Builds the frame and jumps to the entry.
///
/// ```text
///   slot                         stack (RSP = T = (tmp - 128) & !0xF on arrival)
///   +0  busy   (1)               T-8   old RSP = tmp   ┐
///   +8  rax    (interrupted)     T-16  RFLAGS          │ the CPU's frame: RSP = T-32 = F
///   +16 vector                   T-24  RIP             │ when the entry starts
///   +24 rip                      T-32  vector          ┘
///   +32 rflags                   T-40  entry address   (read by the final jmp, then dead)
///   +40 rsp                      T-48  interrupted RAX (popped)
///   +48 entry
/// ```
#[unsafe(naked)]
unsafe extern "C" fn delivery_stub() {
    core::arch::naked_asm!(
        // Pushes from memory: no register and no flag of the interrupted code is touched.
        "push qword ptr [rax + {rsp}]",
        "push qword ptr [rax + {rflags}]",
        "push qword ptr [rax + {rip}]",
        "push qword ptr [rax + {vector}]",
        "push qword ptr [rax + {entry}]",
        "push qword ptr [rax + {rax}]",
        // Free the slot after the last read of it: on x86 a store is not reordered before
        // earlier loads, so this is a release.
        "mov qword ptr [rax + {busy}], 0",
        "pop rax",
        // `lea`, not `add`: the entry starts with the live flags the CPU leaves (the
        // interrupted ones less TF and RF), although our entries only use the pushed copy.
        "lea rsp, [rsp + 8]",
        // The entry address is 8 bytes below RSP, inside the red zone that signal frames skip;
        // an indirect jmp (not ret) keeps return prediction and shadow stacks balanced.
        "jmp qword ptr [rsp - 8]",
        busy = const offset_of!(Slot, busy),
        rax = const offset_of!(Slot, rax),
        vector = const offset_of!(Slot, vector),
        rip = const offset_of!(Slot, rip),
        rflags = const offset_of!(Slot, rflags),
        rsp = const offset_of!(Slot, rsp),
        entry = const offset_of!(Slot, entry),
    )
}

/// The delivery signal's handler: the CPU's delivery, done to the saved context.
pub(super) extern "C" fn on_delivery(sig: c_int, info: *mut libc::siginfo_t, ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo (128 bytes, which QueuedInfo mirrors) and a
    // valid ucontext for an SA_SIGINFO handler; both are ours until the handler returns.
    let (q, uc) = unsafe {
        (
            &*(info as *const QueuedInfo),
            &mut *(ctx as *mut libc::ucontext_t),
        )
    };
    // Only deliveries queued by this process carry an entry; a stray `kill` is ignored.
    // SAFETY: getpid is async-signal-safe.
    if q.code != libc::SI_QUEUE || q.pid != unsafe { libc::getpid() } {
        return;
    }
    let Some((entry, vector)) = decode(q.value) else {
        return;
    };
    let vector = if q.value & FROM_UPID != 0 {
        // The CPU's notification processing; nothing pending (a notification whose vectors an
        // earlier entry already took) means no entry, as on the CPU.
        match super::kernel::notification_processing() {
            Some(v) => v,
            None => return,
        }
    } else {
        vector
    };
    let g = &mut uc.uc_mcontext.gregs;
    let old_rsp = g[libc::REG_RSP as usize] as u64;
    let top = old_rsp.wrapping_sub(STACK_ADJUST) & !0xF;
    let slot = claim_slot((old_rsp >> 12) as usize);
    slot.rax
        .store(g[libc::REG_RAX as usize] as u64, Ordering::Relaxed);
    slot.vector.store(u64::from(vector), Ordering::Relaxed);
    slot.rip
        .store(g[libc::REG_RIP as usize] as u64, Ordering::Relaxed);
    slot.rflags
        .store(g[libc::REG_EFL as usize] as u64, Ordering::Relaxed);
    slot.rsp.store(old_rsp, Ordering::Relaxed);
    slot.entry.store(entry, Ordering::Relaxed);
    g[libc::REG_RAX as usize] = slot as *const Slot as i64;
    g[libc::REG_RSP as usize] = top as i64;
    g[libc::REG_RIP as usize] = delivery_stub as *const () as i64;
    g[libc::REG_EFL as usize] &= !(RFLAGS_TF | RFLAGS_RF);
    // UIF = 0 until uiret: the mask rt_sigreturn installs keeps both delivery signals blocked.
    let _ = sig;
    for s in super::delivery_signals() {
        // SAFETY: uc_sigmask is a valid sigset_t.
        unsafe { libc::sigaddset(&mut uc.uc_sigmask, s) };
    }
    DELIVERIES.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_value_round_trips_and_rejects_bad_input() {
        let v = Vector::new(63).unwrap();
        let value = encode(0x7fff_dead_beef, v).unwrap();
        assert_eq!(decode(value), Some((0x7fff_dead_beef, v)));
        assert_eq!(encode(0, v), None, "a null entry");
        assert_eq!(
            encode(1 << 56, v),
            None,
            "an address that overlaps the vector bits"
        );
        assert_eq!(
            decode(64 << VECTOR_SHIFT | 0x1000),
            None,
            "vector out of range"
        );
        assert_eq!(decode(5 << VECTOR_SHIFT), None, "null entry");
    }
}
