//! What the hardware and Intel's UINTR kernel do that a kind emulation would hide
//! (UINTR-ABI.md §4b), run on the emulation's kernel ([`uintr_sys::emulation::kernel`]), and the
//! library's answers to it ([`uintr_sys::target_table`], [`uintr_sys::instructions`]).

mod common;

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::{emulation_ready, serial, wait_until};
use uintr_sys::emulation::{self, kernel};
use uintr_sys::syscalls::{HandlerFlags, WaitOutcome};
use uintr_sys::target_table::{SharedIndex, VectorFdRef};
use uintr_sys::trampoline::Frame;
use uintr_sys::{Vector, uintr_entry};

static HITS: AtomicU64 = AtomicU64::new(0);
static LAST_VECTORS: AtomicU64 = AtomicU64::new(0);

extern "C" fn count(_: &mut Frame, vector: u64) {
    HITS.fetch_add(1, SeqCst);
    LAST_VECTORS.fetch_or(1 << vector, SeqCst);
}
uintr_entry!(COUNT => count);

fn v(n: u64) -> Vector {
    Vector::new(n).unwrap()
}

/// Registers the calling thread (a fresh test thread) with the emulated kernel.
fn register(flags: HandlerFlags) {
    // SAFETY: COUNT is a user-interrupt entry; its handler only touches atomics.
    unsafe { kernel::register_handler(COUNT, flags) }.unwrap();
}

#[test]
fn a_self_send_enters_the_handler_inside_senduipi() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    std::thread::spawn(|| {
        register(HandlerFlags::NONE);
        let index = kernel::register_self(v(4)).unwrap();
        emulation::stui();
        let before = HITS.load(SeqCst);
        kernel::senduipi(index).unwrap();
        assert_eq!(HITS.load(SeqCst), before + 1, "the CPU enters at once");
        // With UIF clear the notification waits for stui.
        emulation::clui();
        kernel::senduipi(index).unwrap();
        assert_eq!(HITS.load(SeqCst), before + 1);
        emulation::stui();
        assert_eq!(HITS.load(SeqCst), before + 2);
        kernel::unregister_sender(index).unwrap();
        assert_eq!(
            kernel::senduipi(index),
            Err(uintr_sys::Error::InvalidArgument),
            "a freed slot is the CPU's #GP"
        );
        kernel::unregister_handler().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn many_connections_to_one_vector_share_one_table_slot() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    std::thread::spawn(|| {
        register(HandlerFlags::NONE);
        let fd = kernel::vector_fd(v(9)).unwrap();
        // More than the 256 slots of the table.
        let key = &fd as *const _ as usize;
        let senders: Vec<SharedIndex> = (0..300)
            .map(|i| {
                SharedIndex::connect(key, v(9), VectorFdRef::Emulated(&fd))
                    .unwrap_or_else(|e| panic!("connection {i}: {e}"))
            })
            .collect();
        let index = senders[0].index();
        assert!(senders.iter().all(|s| s.index() == index));
        emulation::stui();
        let before = HITS.load(SeqCst);
        senders[299].send().unwrap();
        assert_eq!(HITS.load(SeqCst), before + 1);
        // The slot lives while one connection does.
        let last = senders.into_iter().last().unwrap();
        last.send().unwrap();
        assert_eq!(HITS.load(SeqCst), before + 2);
        drop(last);
        assert!(
            kernel::senduipi(index).is_err(),
            "the last drop frees the slot"
        );
        kernel::unregister_handler().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn concurrent_connections_never_share_a_slot() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    const THREADS: usize = 8;
    const VECTORS: u64 = 8;
    for round in 0..5 {
        let (fds_tx, fds_rx) = std::sync::mpsc::channel();
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let receiver = std::thread::spawn(move || {
            register(HandlerFlags::NONE);
            let fds: Vec<_> = (0..THREADS as u64 * VECTORS)
                .map(|n| Arc::new(kernel::vector_fd(v(n)).unwrap()))
                .collect();
            fds_tx.send(fds).unwrap();
            done_rx.recv().unwrap();
            kernel::unregister_handler().unwrap();
        });
        let fds = fds_rx.recv().unwrap();
        let barrier = Arc::new(Barrier::new(THREADS));
        let connectors: Vec<_> = (0..THREADS)
            .map(|t| {
                let fds = fds.clone();
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    barrier.wait();
                    (0..VECTORS as usize)
                        .map(|k| {
                            let fd = &fds[t * VECTORS as usize + k];
                            let key = Arc::as_ptr(fd) as usize;
                            SharedIndex::connect(key, fd.vector(), VectorFdRef::Emulated(fd))
                                .unwrap()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let all: Vec<SharedIndex> = connectors
            .into_iter()
            .flat_map(|c| c.join().unwrap())
            .collect();
        let mut indices: Vec<u64> = all.iter().map(|s| s.index().get()).collect();
        indices.sort_unstable();
        let before = indices.len();
        indices.dedup();
        assert_eq!(
            indices.len(),
            before,
            "round {round}: two connections got one slot (misrouted interrupts)"
        );
        drop(all);
        done_tx.send(()).unwrap();
        receiver.join().unwrap();
    }
}

#[test]
fn waiting_receiver_makes_any_blocking_call_fail_with_eintr() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    for (flags, interrupted) in [
        (HandlerFlags::WAITING_RECEIVER, true),
        (HandlerFlags::NONE, false),
    ] {
        let (tx, rx) = std::sync::mpsc::channel();
        let mut pipe = [0; 2];
        // SAFETY: a valid two-int array.
        assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
        let reader = std::thread::spawn(move || {
            register(flags);
            let index = kernel::register_self(v(1)).unwrap();
            emulation::stui();
            tx.send(index).unwrap();
            let mut b = [0u8; 1];
            // SAFETY: reading one byte into a valid buffer.
            let r = unsafe { libc::read(pipe[0], b.as_mut_ptr().cast(), 1) };
            let errno = std::io::Error::last_os_error().raw_os_error();
            kernel::unregister_handler().unwrap();
            (r, errno)
        });
        let index = rx.recv().unwrap();
        let before = HITS.load(SeqCst);
        // Until the reader is blocked in read and the send has been handled.
        std::thread::sleep(Duration::from_millis(50));
        kernel::senduipi(index).unwrap();
        wait_until("the handler", || HITS.load(SeqCst) > before);
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: writing one byte from a valid buffer.
        assert_eq!(unsafe { libc::write(pipe[1], b"x".as_ptr().cast(), 1) }, 1);
        let (r, errno) = reader.join().unwrap();
        if interrupted {
            assert_eq!((r, errno), (-1, Some(libc::EINTR)));
        } else {
            assert_eq!(r, 1, "without WAITING_RECEIVER the read resumes");
        }
        kernel::unregister_sender(index).unwrap();
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(pipe[0]);
            libc::close(pipe[1]);
        }
    }
}

#[test]
fn wait_on_a_thread_without_waiting_receiver_is_refused_not_slept_through() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    std::thread::spawn(|| {
        register(HandlerFlags::NONE);
        let index = kernel::register_self(v(2)).unwrap();
        emulation::stui();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            kernel::senduipi(index).unwrap();
        });
        let start = Instant::now();
        let r = kernel::wait(300_000);
        sender.join().unwrap();
        assert!(
            r.is_err(),
            "uintr_wait without WAITING_RECEIVER is never woken by an interrupt; got {r:?} \
             after {:?}",
            start.elapsed()
        );
        assert!(r.unwrap_err().to_string().contains("WAITING_RECEIVER"));
        kernel::unregister_sender(index).unwrap();
        kernel::unregister_handler().unwrap();
        // With the flag, the interrupt ends the wait.
        register(HandlerFlags::WAITING_RECEIVER);
        let index = kernel::register_self(v(2)).unwrap();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            kernel::senduipi(index).unwrap();
        });
        assert_eq!(kernel::wait(10_000_000), Ok(WaitOutcome::Interrupted));
        sender.join().unwrap();
        kernel::unregister_sender(index).unwrap();
        kernel::unregister_handler().unwrap();
    })
    .join()
    .unwrap();
}

#[test]
fn a_reregistered_thread_gets_its_old_upid_and_the_vectors_posted_to_it() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    std::thread::spawn(|| {
        register(HandlerFlags::NONE);
        let fd = kernel::vector_fd(v(7)).unwrap();
        kernel::unregister_handler().unwrap();
        // The kernel does not refuse senders of an unregistered receiver.
        let index = kernel::register_sender(&fd).unwrap();
        kernel::senduipi(index).unwrap();
        LAST_VECTORS.store(0, SeqCst);
        emulation::stui();
        assert_eq!(LAST_VECTORS.load(SeqCst), 0, "no handler, no entry");
        register(HandlerFlags::NONE);
        wait_until("the stale vector", || LAST_VECTORS.load(SeqCst) == 1 << 7);
        kernel::unregister_sender(index).unwrap();
        kernel::unregister_handler().unwrap();
    })
    .join()
    .unwrap();
}

/// `*p; clui(); *p` — if `clui` were declared `nomem`, the compiler could take the second load
/// from the first (or move either across it); a critical section guarded by `clui`/`stui`
/// needs both where they are.
#[inline(never)]
unsafe fn load_clui_load(p: *const u64) -> u64 {
    // SAFETY: forwarded to the caller (never called: only its code is read).
    unsafe {
        let a = p.read();
        uintr_sys::instructions::clui();
        a.wrapping_mul(p.read())
    }
}

#[inline(never)]
unsafe fn load_stui_load(p: *const u64) -> u64 {
    // SAFETY: as above.
    unsafe {
        let a = p.read();
        uintr_sys::instructions::stui();
        a.wrapping_mul(p.read())
    }
}

#[inline(never)]
unsafe fn load_umwait_load(p: *const u64) -> u64 {
    // SAFETY: as above.
    unsafe {
        let a = p.read();
        uintr_sys::instructions::umwait(true, 0);
        a.wrapping_mul(p.read())
    }
}

#[inline(never)]
unsafe fn load_tpause_load(p: *const u64) -> u64 {
    // SAFETY: as above.
    unsafe {
        let a = p.read();
        uintr_sys::instructions::tpause(true, 0);
        a.wrapping_mul(p.read())
    }
}

/// The code of `f` up to the padding after it.
fn code_of(f: *const ()) -> &'static [u8] {
    // SAFETY: reading the function's own code; these functions are far shorter than 128 bytes
    // and the text section goes on after them.
    let code = unsafe { core::slice::from_raw_parts(f as *const u8, 128) };
    let end = code
        .windows(2)
        .position(|w| w == [0xC3, 0xCC])
        .map_or(128, |i| i + 1);
    &code[..end]
}

/// Instructions that read `[rdi]` (REX.W, then a ModRM byte with mod = 00, rm = rdi).
fn reads_of_rdi(code: &[u8]) -> usize {
    code.windows(3)
        .filter(|w| w[0] == 0x48 && w[1] == 0x8B && w[2] & 0xC7 == 0x07)
        .count()
        + code
            .windows(4)
            .filter(|w| w[0] == 0x48 && w[1] == 0x0F && w[2] == 0xAF && w[3] & 0xC7 == 0x07)
            .count()
}

#[test]
fn no_instruction_that_orders_or_changes_interrupt_state_lets_memory_accesses_cross_it() {
    for (name, f) in [
        ("clui", load_clui_load as *const ()),
        ("stui", load_stui_load as *const ()),
        ("umwait", load_umwait_load as *const ()),
        ("tpause", load_tpause_load as *const ()),
    ] {
        let code = code_of(f);
        assert_eq!(
            reads_of_rdi(code),
            2,
            "{name}: the load after it was merged with the one before: the asm is declared \
             nomem ({code:02x?})"
        );
    }
}

std::thread_local! {
    static STASHED: std::cell::RefCell<Option<SharedIndex>> = const { std::cell::RefCell::new(None) };
}
static STASH_DROPPED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn drop_stashed(_: &mut Frame, _: u64) {
    if let Some(index) = STASHED.with(|s| s.borrow_mut().take()) {
        drop(index);
        STASH_DROPPED.store(true, SeqCst);
    }
}
uintr_entry!(DROP_STASHED => drop_stashed);

#[test]
fn a_handler_that_drops_an_index_cannot_deadlock_with_a_registration_it_interrupted() {
    let _s = serial();
    if !emulation_ready() {
        return;
    }
    STASH_DROPPED.store(false, SeqCst);
    let (index_tx, index_rx) = std::sync::mpsc::channel();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        // SAFETY: DROP_STASHED is a user-interrupt entry; its handler only drops an index.
        unsafe { kernel::register_handler(DROP_STASHED, HandlerFlags::NONE) }.unwrap();
        let stash_fd = kernel::vector_fd(v(1)).unwrap();
        let churn_fd = kernel::vector_fd(v(2)).unwrap();
        let stashed = SharedIndex::connect(1, v(1), VectorFdRef::Emulated(&stash_fd)).unwrap();
        index_tx.send(stashed.index()).unwrap();
        STASHED.with(|s| *s.borrow_mut() = Some(stashed));
        emulation::stui();
        // Registrations, which hold the lock, while another thread interrupts this one.
        let mut rounds = 0u64;
        while !STASH_DROPPED.load(SeqCst) {
            drop(SharedIndex::connect(2, v(2), VectorFdRef::Emulated(&churn_fd)).unwrap());
            rounds += 1;
        }
        emulation::clui();
        kernel::unregister_handler().unwrap();
        done_tx.send(rounds).unwrap();
    });
    let index = index_rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(20));
    // The stashed index itself is the way in; once the handler dropped it, sends fail.
    let _ = kernel::senduipi(index);
    let rounds = done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the handler waited for the registration lock its own thread held");
    assert!(rounds > 0);
}
