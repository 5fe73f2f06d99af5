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
//! that registered it: only that thread may unregister it (`EPERM` otherwise).

use std::ffi::{c_int, c_void};

use libc::{EINVAL, EPERM};
use nemo_user::BackendKind;
use nemo_user::am::{ActionId, CActionFn, Domain, Target, TargetId};
use nemo_user::interrupt::Vector;

use crate::guard;

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
        let targets = self.targets as usize;
        if self.actions == 0 || self.mailbox == 0 || targets == 0 || targets > TargetId::MAX_TARGETS
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

/// `nemo_am_domain_t`.
#[derive(Debug)]
pub struct NemoAmDomain(Domain);

/// `nemo_am_target_t`: a registered thread.
#[derive(Debug)]
pub struct NemoAmTarget {
    /// Held for its drop, which unregisters the thread.
    _registration: Target,
    /// The registering thread, the only one that may drop it.
    tid: libc::pid_t,
}

/// `nemo_am_action_fn`: `void (*)(void *ctx, uint64_t payload)`.
pub type NemoAmActionFn = Option<CActionFn>;

/// Fills `*cfg` with the defaults.
///
/// # Safety
/// `cfg` is null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_config_default(cfg: *mut NemoAmConfig) -> c_int {
    if cfg.is_null() {
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
        let cfg = if cfg.is_null() {
            NemoAmConfig::DEFAULT
        } else {
            // SAFETY: non-null and readable per the caller.
            unsafe { cfg.read() }
        };
        match cfg.build() {
            Ok(d) => {
                let handle = Box::into_raw(Box::new(NemoAmDomain(d)));
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
        if domain.is_null() {
            return EINVAL;
        }
        // SAFETY: created by `Box::into_raw` in `nemo_am_domain_create`, destroyed once.
        drop(unsafe { Box::from_raw(domain) });
        0
    })
}

/// The domain behind a handle.
///
/// # Safety
/// `domain` is null or a live handle.
unsafe fn domain_ref<'a>(domain: *const NemoAmDomain) -> Option<&'a Domain> {
    // SAFETY: per the caller.
    (!domain.is_null()).then(|| unsafe { &(*domain).0 })
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
        if action.is_null() {
            return EINVAL;
        }
        // SAFETY: the caller vouches for `f` and `ctx` as `register_c_action` requires.
        match unsafe { d.register_c_action(f, ctx) } {
            Ok(id) => {
                // SAFETY: non-null and writable per the caller.
                unsafe { action.write(id.as_u32()) };
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
        if out.is_null() || target.is_null() {
            return EINVAL;
        }
        match d.register_target() {
            Ok(t) => {
                let id = t.id().as_u32();
                // SAFETY: gettid has no preconditions.
                let tid = unsafe { libc::gettid() };
                let handle = Box::into_raw(Box::new(NemoAmTarget {
                    _registration: t,
                    tid,
                }));
                // SAFETY: both non-null and writable per the caller.
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
/// target stays registered).
///
/// # Safety
/// `target` is null or a live handle from `nemo_am_register_target`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nemo_am_unregister_target(target: *mut NemoAmTarget) -> c_int {
    guard(|| {
        if target.is_null() {
            return EINVAL;
        }
        // SAFETY: a live handle per the caller; gettid has no preconditions.
        if unsafe { (*target).tid != libc::gettid() } {
            return EPERM;
        }
        // SAFETY: created by `Box::into_raw` in `nemo_am_register_target`, on this thread.
        drop(unsafe { Box::from_raw(target) });
        0
    })
}

/// Sends `payload` to `target`, to be handled by `action` on the target's thread. `EINVAL`:
/// unknown target or action; `EAGAIN`: the target's mailbox is full (nothing was queued).
/// Async-signal-safe.
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
        let r = d.notify(
            TargetId::from_u32(target),
            ActionId::from_u32(action),
            payload,
        );
        r.map_or_else(|e| e.errno(), |()| 0)
    })
}

/// Sends `payload` to every registered target. `*notified` (if not null) gets how many were
/// reached; `EAGAIN` if some were not (their mailboxes were full), `EINVAL` for an unknown
/// action.
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
    guard(|| {
        // SAFETY: per the caller.
        let Some(d) = (unsafe { domain_ref(domain) }) else {
            return EINVAL;
        };
        let (n, rc) = match d.broadcast(ActionId::from_u32(action), payload) {
            Ok(n) => (n, 0),
            Err(nemo_user::Error::BroadcastIncomplete { notified, .. }) => (notified, libc::EAGAIN),
            Err(e) => (0, e.errno()),
        };
        if !notified.is_null() {
            // SAFETY: non-null and writable per the caller.
            unsafe { notified.write(n) };
        }
        rc
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
        let n = nemo_user::poll();
        if !handled.is_null() {
            // SAFETY: non-null and writable per the caller.
            unsafe { handled.write(n) };
        }
        0
    })
}
