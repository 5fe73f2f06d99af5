//! The emulation next to other users of its signals: it refuses a delivery signal that already
//! has a handler, and passes every SIGILL that is not a `uiret` to the SIGILL handler installed
//! before it. One test, because installation happens once per process.

use std::arch::asm;
use std::ffi::c_void;
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

use uintr_sys::emulation;
use uintr_sys::trampoline::Frame;
use uintr_sys::{Error, Vector, uintr_entry};

static EARLIER_SIGILLS: AtomicU64 = AtomicU64::new(0);
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// Another library's SIGILL handler: counts, and steps over a `ud2`.
extern "C" fn earlier_sigill(_: i32, _: *mut libc::siginfo_t, ctx: *mut c_void) {
    EARLIER_SIGILLS.fetch_add(1, SeqCst);
    // SAFETY: the kernel's ucontext for this SA_SIGINFO handler.
    let uc = unsafe { &mut *(ctx as *mut libc::ucontext_t) };
    let rip = uc.uc_mcontext.gregs[libc::REG_RIP as usize];
    // SAFETY: RIP is where the SIGILL was raised, a mapped instruction.
    let ud2 = unsafe { core::ptr::read_volatile(rip as *const [u8; 2]) } == [0x0f, 0x0b];
    if ud2 {
        uc.uc_mcontext.gregs[libc::REG_RIP as usize] = rip + 2;
    }
}

extern "C" fn noop(_: i32) {}

fn install(sig: i32, action: usize, flags: i32) {
    // SAFETY: a zeroed sigaction with an empty mask and a handler of the matching signature.
    unsafe {
        let mut act: libc::sigaction = core::mem::zeroed();
        act.sa_sigaction = action;
        act.sa_flags = flags;
        libc::sigemptyset(&mut act.sa_mask);
        assert_eq!(libc::sigaction(sig, &act, core::ptr::null_mut()), 0);
    }
}

extern "C" fn record(_: &mut Frame, _: u64) {
    HANDLED.fetch_add(1, SeqCst);
}
uintr_entry!(RECORD => record);

#[test]
fn the_emulation_coexists_with_other_signal_users() {
    // In a child (before this process installs anything): a taken delivery signal is refused.
    // SAFETY: the child calls only sigaction-level functions and _exit.
    let status = unsafe {
        match libc::fork() {
            0 => {
                install(emulation::delivery_signal(), noop as *const () as usize, 0);
                let ok =
                    emulation::install() == Err(Error::SignalInUse(emulation::delivery_signal()));
                libc::_exit(if ok { 0 } else { 1 })
            }
            pid => {
                let mut status = 0;
                assert_eq!(libc::waitpid(pid, &mut status, 0), pid);
                status
            }
        }
    };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "install() must refuse a delivery signal that has a handler (status {status:#x})"
    );

    install(
        libc::SIGILL,
        earlier_sigill as *const () as usize,
        libc::SA_SIGINFO,
    );
    match emulation::install() {
        Ok(()) => {}
        Err(Error::EmulationUnavailable) => return, // a UINTR kernel: nothing to emulate
        Err(e) => panic!("install: {e}"),
    }
    let before = EARLIER_SIGILLS.load(SeqCst);
    assert_eq!(
        before, 0,
        "install's probing uiret was emulated, not passed on"
    );

    // A #UD that is not uiret reaches the earlier handler, which steps over it.
    // SAFETY: the earlier handler skips the ud2.
    unsafe { asm!("ud2") };
    assert_eq!(EARLIER_SIGILLS.load(SeqCst), before + 1);

    // uiret is still emulated, without bothering the earlier handler.
    // SAFETY: RECORD is an entry; its handler only uses an atomic.
    unsafe { emulation::deliver(RECORD, Vector::new(4).unwrap()) }.unwrap();
    assert_eq!(HANDLED.load(SeqCst), 1);
    assert_eq!(EARLIER_SIGILLS.load(SeqCst), before + 1);

    // A sent SIGILL goes there too.
    // SAFETY: raise has no preconditions; the earlier handler returns.
    unsafe { libc::raise(libc::SIGILL) };
    assert_eq!(EARLIER_SIGILLS.load(SeqCst), before + 2);
}
