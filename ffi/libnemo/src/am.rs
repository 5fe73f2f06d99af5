//! `nemo_am_*`: active messages (Nemo §4.2) — a domain holds an action table and the targets
//! (threads) that receive; `nemo_am_notify(domain, target, action, payload)` queues a message
//! in the target's mailbox and interrupts it, and the target runs `action(ctx, payload)` on its
//! own thread. See [`nemo_user::am`].
//!
//! Where the action runs depends on the backend: inside a signal handler on `signal` (the
//! default without UINTR: async-signal-safe code only), at `nemo_am_poll()` safepoints on
//! `poll`, in a user-interrupt handler on `uintr`. An action must not unwind (no C++ exception,
//! no `longjmp` out of it).
//!
//! Domains and targets are opaque handles owned by the library. A target belongs to the thread
//! that registered it: only that thread may unregister it (`EPERM` otherwise). A thread that
//! exits with its target registered has it unregistered at its exit, by the library.
//!
//! # Invariants
//!
//! - A domain handle is a `Box<NemoAmDomain>` whose `magic` is `DOMAIN_MAGIC` from
//!   `nemo_am_domain_create` until `nemo_am_domain_destroy` clears it: a null, misaligned or
//!   foreign pointer (readable memory without the magic) is `EINVAL`.
//! - A target handle is live exactly while its address is in `TARGETS`; the handle is also
//!   held by its thread's `ThreadTarget`, which frees it at thread exit if nobody
//!   unregistered it. Only the set decides, so a stale or foreign target handle is `EINVAL`
//!   without being read.
//! - Action and target ids carry their domain (see [`nemo_user::am::ActionId`],
//!   [`nemo_user::am::TargetId`]): another domain refuses them with `EINVAL`.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::ffi::{c_int, c_void};
use std::sync::Mutex;

use libc::{EINVAL, EPERM};
use nemo_user::BackendKind;
use nemo_user::am::{ActionId, Domain, Target, TargetId};
use nemo_user::interrupt::Vector;

use crate::condvar::usable;
use crate::{guard, guard_errno, optional_out};

/// `nemo_backend_t`.
pub type NemoBackend = c_int;
/// The process default (UINTR where available, else signal; `NEMO_BACKEND` forces one).
pub const NEMO_BACKEND_AUTO: NemoBackend = 0;
/// Intel user interrupts.
pub const NEMO_BACKEND_UINTR: NemoBackend = 1;
/// A real-time signal per notification.
pub const NEMO_BACKEND_SIGNAL: NemoBackend = 2;
/// Delivery at `nemo_am_poll()` safepoints.
pub const NEMO_BACKEND_POLL: NemoBackend = 3;

/// The C value of a backend.
pub(crate) fn backend_code(kind: BackendKind) -> NemoBackend {
    match kind {
        BackendKind::Uintr => NEMO_BACKEND_UINTR,
        BackendKind::Signal => NEMO_BACKEND_SIGNAL,
        BackendKind::Poll => NEMO_BACKEND_POLL,
        // A backend this C ABI has no value for yet: reported as "none" rather than guessed.
        _ => NEMO_BACKEND_AUTO,
    }
}

/// `nemo_am_config_t`: the sizes of a domain (`nemo_am_config_default` fills in the defaults).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NemoAmConfig {
    /// Capacity of the action table (≥ 1).
    pub actions: u32,
    /// Capacity of the target table (1 ..= 65536).
    pub targets: u32,
    /// Messages each target's mailbox holds before `nemo_am_notify` returns `EAGAIN` (≥ 1).
    pub mailbox: u32,
    /// The user-interrupt vector the domain's messages use (0 ..= 63).
    pub vector: u32,
    /// One of the `NEMO_BACKEND_*` values.
    pub backend: NemoBackend,
}

const _: () = assert!(size_of::<NemoAmConfig>() == 20);

impl NemoAmConfig {
    /// The defaults: 256 actions, 256 targets, 1024-message mailboxes, vector 0, the process's
    /// backend.
    pub const DEFAULT: NemoAmConfig = NemoAmConfig {
        actions: 256,
        targets: 256,
        mailbox: 1024,
        vector: 0,
        backend: NEMO_BACKEND_AUTO,
    };

    fn build(&self) -> Result<Domain, c_int> {
        let vector = Vector::new(u64::from(self.vector)).map_err(|_| EINVAL)?;
        let (actions, targets) = (self.actions as usize, self.targets as usize);
        if !(1..=ActionId::MAX_ACTIONS).contains(&actions)
            || !(1..=TargetId::MAX_TARGETS).contains(&targets)
            || self.mailbox == 0
        {
            return Err(EINVAL);
        }
        let mut b = Domain::builder()
            .actions(self.actions as usize)
            .targets(targets)
            .mailbox(self.mailbox as usize)
            .vector(vector);
        let kind = match self.backend {
            NEMO_BACKEND_AUTO => None,
            NEMO_BACKEND_UINTR => Some(BackendKind::Uintr),
            NEMO_BACKEND_SIGNAL => Some(BackendKind::Signal),
            NEMO_BACKEND_POLL => Some(BackendKind::Poll),
            _ => return Err(EINVAL),
        };
        if let Some(kind) = kind {
            // A backend this machine cannot run is refused now, not at the first target.
            kind.availability().map_err(|e| e.errno())?;
            b = b.backend(kind);
        }
        Ok(b.build())
    }
}

/// What a live domain handle starts with.
const DOMAIN_MAGIC: u64 = 0x6e65_6d6f_646f_6d21;

/// `nemo_am_domain_t`.
#[derive(Debug)]
#[repr(C)]
pub struct NemoAmDomain {
    magic: u64,
    domain: Domain,
}

/// `nemo_am_target_t`: a registered thread.
#[derive(Debug)]
pub struct NemoAmTarget {
    /// Held for its drop, which unregisters the thread.
    _registration: Target,
    /// The registering thread, the only one that may drop it.
    tid: libc::pid_t,
}

/// The live target handles (their addresses).
static TARGETS: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());

fn live_targets() -> std::sync::MutexGuard<'static, BTreeSet<usize>> {
    TARGETS.lock().unwrap_or_else(|e| e.into_inner())
}

/// The calling thread's target handle (a thread has one at most); freed at thread exit if it
/// is still registered then.
struct ThreadTarget(Cell<*mut NemoAmTarget>);

impl Drop for ThreadTarget {
    fn drop(&mut self) {
        let handle = self.0.replace(std::ptr::null_mut());
        if !handle.is_null() && live_targets().remove(&(handle as usize)) {
            // SAFETY: from `Box::into_raw` in `nemo_am_register_target` on this thread, and
            // still in the set, so nobody freed it; removed from the set, so nobody will.
            drop(unsafe { Box::from_raw(handle) });
        }
    }
}

thread_local! {
    static THREAD_TARGET: ThreadTarget = const { ThreadTarget(Cell::new(std::ptr::null_mut())) };
}

/// A C action handler: called with the context given at registration and the message payload.
pub type CActionFn = unsafe extern "C" fn(ctx: *mut c_void, payload: u64);

/// `nemo_am_action_fn`: `void (*)(void *ctx, uint64_t payload)`.
pub type NemoAmActionFn = Option<CActionFn>;

/// A C action as the domain runs it: its function and the context it was registered with.
struct CAction {
    f: CActionFn,
    ctx: *mut c_void,
}

// SAFETY: whoever registers a C action vouches that `f` may be called with `ctx` from any
// target thread, concurrently (the contract of `nemo_am_register_action`).
unsafe impl Send for CAction {}
// SAFETY: as above.
unsafe impl Sync for CAction {}

impl CAction {
    fn run(&self, payload: u64) {
        // SAFETY: the registration contract of `nemo_am_register_action`.
        unsafe { (self.f)(self.ctx, payload) }
    }
}

/// Fills `*cfg` with the defaults.
///
/// # Safety
/// `cfg` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_config_default(cfg: *mut NemoAmConfig) -> c_int {
    if !usable::<NemoAmConfig, NemoAmConfig>(cfg) {
        return EINVAL;
    }
    // SAFETY: non-null and writable per the caller.
    unsafe { cfg.write(NemoAmConfig::DEFAULT) };
    0
}

/// Creates a domain (`cfg` null for the defaults) and stores its handle in `*out`. `EINVAL` for
/// a bad size, vector (≥ 64) or backend value; `ENOTSUP` for a backend this machine cannot run.
///
/// # Safety
/// `out` is null or writable; `cfg` is null or readable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_domain_create(
    out: *mut *mut NemoAmDomain,
    cfg: *const NemoAmConfig,
) -> c_int {
    guard(|| {
        if out.is_null() {
            return EINVAL;
        }
        if !out.is_aligned() || !(cfg.is_null() || cfg.is_aligned()) {
            return EINVAL;
        }
        let cfg = if cfg.is_null() {
            NemoAmConfig::DEFAULT
        } else {
            // SAFETY: non-null, aligned (checked) and readable per the caller.
            unsafe { cfg.read() }
        };
        match cfg.build() {
            Ok(domain) => {
                let handle = Box::into_raw(Box::new(NemoAmDomain {
                    magic: DOMAIN_MAGIC,
                    domain,
                }));
                // SAFETY: non-null and writable per the caller.
                unsafe { out.write(handle) };
                0
            }
            Err(e) => e,
        }
    })
}

/// Destroys a domain handle. Registered targets stay registered (and keep their messages)
/// until their threads unregister them; no other thread may use the handle afterwards.
///
/// # Safety
/// `domain` is null or a handle from `nemo_am_domain_create`, not yet destroyed, and no other
/// thread uses it any more.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_domain_destroy(domain: *mut NemoAmDomain) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        if unsafe { domain_ref(domain) }.is_none() {
            return EINVAL;
        }
        // SAFETY: a live handle (checked): made by `Box::into_raw` in `nemo_am_domain_create`.
        let mut handle = unsafe { Box::from_raw(domain) };
        handle.magic = 0;
        drop(handle);
        0
    })
}

/// The domain behind a handle; `None` for a null or misaligned pointer, or one to memory that
/// does not hold a live handle.
///
/// # Safety
/// `domain` is null, misaligned, or points to at least 8 readable bytes.
unsafe fn domain_ref<'a>(domain: *const NemoAmDomain) -> Option<&'a Domain> {
    if !usable::<NemoAmDomain, NemoAmDomain>(domain) {
        return None;
    }
    // SAFETY: non-null, aligned and readable per the caller; a foreign object is only read as
    // an integer here.
    let magic = unsafe { std::ptr::addr_of!((*domain).magic).read_volatile() };
    // SAFETY: the magic says it is a live handle.
    (magic == DOMAIN_MAGIC).then(|| unsafe { &(*domain).domain })
}

/// Adds an action `fn(ctx, payload)`; its id goes to `*action`. `ENOSPC` when the table is
/// full.
///
/// # Safety
/// `domain` is null or a live handle; `action` null or writable; `fn` must be safe to call
/// with `ctx` from any target thread, concurrently, in the backend's handler context, for as
/// long as the domain or any of its targets lives, and must not unwind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_register_action(
    domain: *mut NemoAmDomain,
    r#fn: NemoAmActionFn,
    ctx: *mut c_void,
    action: *mut u32,
) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        let (Some(d), Some(f)) = (unsafe { domain_ref(domain) }, r#fn) else {
            return EINVAL;
        };
        if !usable::<u32, u32>(action) {
            return EINVAL;
        }
        let c = CAction { f, ctx };
        match d.register_action(move |payload| c.run(payload)) {
            Ok(id) => {
                // SAFETY: non-null and writable per the caller.
                unsafe { action.write(u32::from(id)) };
                0
            }
            Err(e) => e.errno(),
        }
    })
}

/// Registers the calling thread as a target; its handle goes to `*out` and its id (for
/// `nemo_am_notify`) to `*target`. `EBUSY` if the thread already receives user interrupts,
/// `ENOSPC` when the target table is full.
///
/// # Safety
/// `domain` is null or a live handle; `out` and `target` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_register_target(
    domain: *mut NemoAmDomain,
    out: *mut *mut NemoAmTarget,
    target: *mut u32,
) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        let Some(d) = (unsafe { domain_ref(domain) }) else {
            return EINVAL;
        };
        if !usable::<*mut NemoAmTarget, *mut NemoAmTarget>(out) || !usable::<u32, u32>(target) {
            return EINVAL;
        }
        match d.register_target() {
            Ok(t) => {
                let id = u32::from(t.id());
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                let handle = Box::into_raw(Box::new(NemoAmTarget {
                    _registration: t,
                    tid,
                }));
                live_targets().insert(handle as usize);
                // The thread has no other target: registering one gave it its receiver.
                let _ = THREAD_TARGET.try_with(|t| t.0.set(handle));
                // SAFETY: both non-null, aligned (checked) and writable per the caller.
                unsafe {
                    out.write(handle);
                    target.write(id);
                }
                0
            }
            Err(e) => e.errno(),
        }
    })
}

/// Unregisters a target: messages queued before are handled first, later notifies fail with
/// `EINVAL`. Only the thread that registered it may call this (`EPERM` otherwise, and the
/// target stays registered); a handle that is not a live target (never one, already
/// unregistered, or its thread exited) is `EINVAL`.
///
/// # Safety
/// None: the handle is looked up, never read unless live.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_unregister_target(target: *mut NemoAmTarget) -> c_int {
    guard(|| {
        let mut live = live_targets();
        if !live.contains(&(target as usize)) {
            return EINVAL;
        }
        // SAFETY: in the set, so a live handle; gettid has no preconditions.
        if unsafe { (*target).tid != libc::gettid() } {
            return EPERM;
        }
        live.remove(&(target as usize));
        drop(live);
        let _ = THREAD_TARGET.try_with(|t| {
            if t.0.get() == target {
                t.0.set(std::ptr::null_mut());
            }
        });
        // SAFETY: made by `Box::into_raw` in `nemo_am_register_target` on this thread, and
        // removed from the set above, so freed only here.
        drop(unsafe { Box::from_raw(target) });
        0
    })
}

/// Sends `payload` to `target`, to be handled by `action` on the target's thread. `EINVAL`: a
/// bad domain handle, or a target or action that is not one of this domain's (never registered,
/// another domain's, unregistered, or its thread exited); `EAGAIN`: the target's mailbox is
/// full (nothing was queued; a retry succeeds once the target has drained it); `EXDEV`: called
/// in a fork child (the targets live in the parent); `ENOBUFS` (signal backend): queued, but the
/// kernel's real-time signal queue stayed full for a second, so the target handles it at its
/// next delivery — do not resend. Async-signal-safe.
///
/// # Safety
/// `domain` is null or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_notify(
    domain: *mut NemoAmDomain,
    target: u32,
    action: u32,
    payload: u64,
) -> c_int {
    guard(|| {
        // SAFETY: per the caller.
        let Some(d) = (unsafe { domain_ref(domain) }) else {
            return EINVAL;
        };
        let r = d.notify(TargetId::from(target), ActionId::from(action), payload);
        r.map_or_else(|e| e.errno(), |()| 0)
    })
}

/// Sends `payload` to every registered target (targets whose threads exited are not
/// registered any more). `*notified` (if not null) gets how many were reached; `EAGAIN` if
/// some were not because their mailboxes were full (a retry can reach them once drained);
/// `EINVAL` for a bad handle or pointer or an action not of this domain; `EXDEV` in a fork
/// child; `ENOBUFS` as for `nemo_am_notify`.
///
/// # Safety
/// `domain` is null or a live handle; `notified` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_broadcast(
    domain: *mut NemoAmDomain,
    action: u32,
    payload: u64,
    notified: *mut usize,
) -> c_int {
    guard_errno(|| {
        // SAFETY: per the caller.
        let d = unsafe { domain_ref(domain) }.ok_or(EINVAL)?;
        optional_out(notified)?;
        let (n, rc) = match d.broadcast(ActionId::from(action), payload) {
            Ok(n) => (n, 0),
            Err(e) => (e.notified().unwrap_or(0), e.errno()),
        };
        if !notified.is_null() {
            // SAFETY: non-null and aligned (checked above), writable per the caller.
            unsafe { notified.write(n) };
        }
        Ok(rc)
    })
}

/// A safepoint: runs the handlers of the calling thread's pending messages (all of them on the
/// `poll` backend; on the others, what a guard deferred). `*handled` (if not null) gets how
/// many interrupt vectors were delivered.
///
/// # Safety
/// `handled` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_poll(handled: *mut usize) -> c_int {
    guard(|| {
        if !(handled.is_null() || handled.is_aligned()) {
            return EINVAL;
        }
        let n = nemo_user::poll();
        if !handled.is_null() {
            // SAFETY: non-null and writable per the caller.
            unsafe { handled.write(n) };
        }
        0
    })
}
