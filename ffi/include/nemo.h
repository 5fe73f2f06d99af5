/*
 * nemo.h — the C API of nemo (libnemo.so / libnemo.a).
 *
 * Fast event notification for user-space runtimes: a condition variable and a mutex-free event
 * whose waiters spin on the object's cache line before they park, so a notification that finds
 * its waiter still spinning arrives at cache-coherence speed; and active messages over user
 * interrupts (Intel UINTR where the machine has it, a real-time signal or polling elsewhere).
 *
 * Conventions:
 *   - every function returns 0 or an errno value, as documented at each function; errno
 *     itself is never set. The values, in all:
 *       EINVAL     a null pointer where one is required, a pointer not aligned for its type
 *                  (8 bytes for condvars, events, keys, mutexes and timespecs), a domain or
 *                  target handle that is not live, an id of another domain, or a bad value;
 *       ETIMEDOUT  a timed wait's deadline passed;
 *       EBUSY      destroy with a waiter not yet woken; a thread that already receives user
 *                  interrupts; no free real-time signal for the signal backend;
 *       EAGAIN     only "full now, try again later": a mailbox that is full (nothing queued);
 *       EPERM      unregistering another thread's target; unlocking a mutex not held;
 *       ENOSPC     an action or target table that is full;
 *       ENOTSUP    a backend this machine cannot run;
 *       EXDEV      active messages sent from a fork child to the parent's targets;
 *       ENOBUFS    a message queued whose interrupt the kernel could not queue (see
 *                  nemo_am_notify);
 *       the mutex's own errors from the condvar waits (EOWNERDEAD, ...), and the kernel's
 *       from nemo_am_register_target on uintr (e.g. ENOMEM);
 *       ENOTRECOVERABLE  a bug in the library (it never unwinds into the caller);
 *   - condition variables and events live in caller memory (48 bytes, 8-byte aligned; all
 *     zeros is a valid object with the default attributes, so static ones need no init);
 *     active-message domains and targets are opaque handles owned by the library;
 *   - no function blocks except the waits, nemo_condvar_destroy and nemo_event_destroy (which
 *     wait for woken waiters to leave), and nemo_am_unregister_target (which delivers what is
 *     queued).
 *
 * Building: `pkg-config --cflags --libs nemo` (add --static for libnemo.a) once the library is
 * installed (ffi/README.md). The header needs no feature-test macro: it compiles as strict C11
 * (-std=c11 -Wpedantic) and as C++; clocks are named by NEMO_CLOCK_* (the values of Linux's
 * CLOCK_REALTIME and CLOCK_MONOTONIC, so those work too where <time.h> declares them).
 *
 * Kept in sync with the library by its tests: every exported nemo_* function is declared here
 * and every declaration is exported; NEMO_VERSION_* equal the library's version; a program using
 * every function compiles with -std=c11 -Wall -Wextra -Wpedantic -Werror and as C++17.
 */
#ifndef NEMO_H
#define NEMO_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* The version of this header; nemo_version() returns the library's, as a string. The ABI is
 * stable within a minor version while the major version is 0 (the SONAME is libnemo.so.0.MINOR). */
#define NEMO_VERSION_MAJOR 0
#define NEMO_VERSION_MINOR 1
#define NEMO_VERSION_PATCH 0
#define NEMO_VERSION_STRING "0.1.0"
/* One number for comparisons: NEMO_VERSION >= NEMO_MAKE_VERSION(0, 1, 0). */
#define NEMO_MAKE_VERSION(major, minor, patch) (((major) * 1000000L) + ((minor) * 1000L) + (patch))
#define NEMO_VERSION NEMO_MAKE_VERSION(NEMO_VERSION_MAJOR, NEMO_VERSION_MINOR, NEMO_VERSION_PATCH)

#ifdef __cplusplus
extern "C" {
#endif

/* Clocks of deadlines (a clockid_t value: Linux's CLOCK_REALTIME and CLOCK_MONOTONIC). */
#define NEMO_CLOCK_REALTIME 0
#define NEMO_CLOCK_MONOTONIC 1

/* ------------------------------------------------------------------------------------------ */
/* Attributes of condition variables and events                                               */
/* ------------------------------------------------------------------------------------------ */

/* How waiters wait. */
typedef enum nemo_policy {
    NEMO_POLICY_DEFAULT = 0,   /* the process default: spin a while (20 us), then park */
    NEMO_POLICY_PARK_ONLY = 1, /* park at once: no spinning */
    NEMO_POLICY_SPIN_ONLY = 2  /* never park: spin until woken or the deadline (burns a core) */
} nemo_policy_t;

/* Attributes; a null pointer means NEMO_ATTR_DEFAULT. */
typedef struct nemo_attr {
    int clock;            /* clock of *_timedwait deadlines: one of NEMO_CLOCK_* */
    int pshared;          /* 1: shared between processes (in shared memory); 0: this process */
    nemo_policy_t policy; /* one of NEMO_POLICY_* */
} nemo_attr_t;

#define NEMO_ATTR_DEFAULT { NEMO_CLOCK_REALTIME, 0, NEMO_POLICY_DEFAULT }

/* ------------------------------------------------------------------------------------------ */
/* Condition variables                                                                        */
/* ------------------------------------------------------------------------------------------ */

/*
 * A condition variable used with the caller's pthread mutex, like pthread_cond_t, except that:
 * there are no spurious wakeups; nemo_condvar_signal wakes exactly one waiter; destroy returns
 * EBUSY while a waiter has not been signalled; the waits are not cancellation points.
 */
typedef union nemo_condvar {
    unsigned char opaque[48];
    uint64_t align;
} nemo_condvar_t;

#define NEMO_CONDVAR_INITIALIZER { { 0 } }

/* Initialises *cv with *attr (null: defaults). EINVAL: null or misaligned cv or attr, or a
 * bad attribute. */
int nemo_condvar_init(nemo_condvar_t *cv, const nemo_attr_t *attr);

/* EBUSY (nothing changed) while a waiter has not been signalled; otherwise waits until woken
 * waiters have left the object, then 0: the memory may be reused. EINVAL: null or misaligned. */
int nemo_condvar_destroy(nemo_condvar_t *cv);

/* Wakes exactly one waiter, if any (no system call unless it is parked). EINVAL: null or
 * misaligned cv. */
int nemo_condvar_signal(nemo_condvar_t *cv);

/* Wakes every waiter. EINVAL: null or misaligned cv. */
int nemo_condvar_broadcast(nemo_condvar_t *cv);

/* Releases *mutex (held by the caller), waits for a signal, re-acquires *mutex. Returns 0;
 * EINVAL (nothing waited): null or misaligned cv or mutex; the unlock's error (EPERM: an
 * error-checking mutex not held; nothing waited); or the relock's (EOWNERDEAD: a robust mutex
 * whose owner died, now held). */
int nemo_condvar_wait(nemo_condvar_t *cv, pthread_mutex_t *mutex);

/* nemo_condvar_wait until *abstime on the condvar's clock: ETIMEDOUT (mutex re-acquired) once
 * it has passed, never earlier; EINVAL (mutex still held) for a null or misaligned abstime or
 * tv_nsec outside [0, 1e9); otherwise as nemo_condvar_wait. */
int nemo_condvar_timedwait(nemo_condvar_t *cv, pthread_mutex_t *mutex,
                           const struct timespec *abstime);

/* nemo_condvar_timedwait on `clock` (NEMO_CLOCK_REALTIME or NEMO_CLOCK_MONOTONIC, else
 * EINVAL). */
int nemo_condvar_clockwait(nemo_condvar_t *cv, pthread_mutex_t *mutex, int clock,
                           const struct timespec *abstime);

/* ------------------------------------------------------------------------------------------ */
/* Events                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/*
 * A mutex-free "there is work" event for idle workers (an eventcount):
 *
 *     nemo_event_key_t key;
 *     while (queue_empty(q)) {
 *         nemo_event_prepare_wait(&ev, &key);      // announce
 *         if (!queue_empty(q)) {                   // re-check
 *             nemo_event_cancel_wait(&ev, &key, NULL);
 *             break;
 *         }
 *         nemo_event_wait(&ev, &key);              // commit
 *     }
 *
 * and producers push, then call nemo_event_notify_one (or _all). A notification sent after the
 * announcement is never lost; one sent before it is seen by the re-check.
 */
typedef union nemo_event {
    unsigned char opaque[48];
    uint64_t align;
} nemo_event_t;

#define NEMO_EVENT_INITIALIZER { { 0 } }

/* One announced wait. Caller-allocated; must not be copied while armed; every armed key ends in
 * exactly one nemo_event_wait / _timedwait / _clockwait / _cancel_wait, which disarm it. Using
 * a key that is not armed for that event is EINVAL. */
typedef struct nemo_event_key {
    uint64_t opaque[4];
} nemo_event_key_t;

/* Initialises *ev with *attr (null: defaults). EINVAL: null or misaligned ev or attr, or a bad
 * attribute. */
int nemo_event_init(nemo_event_t *ev, const nemo_attr_t *attr);

/* EBUSY while a worker's announced wait has not been notified; otherwise 0 once woken workers
 * have left it. EINVAL: null or misaligned ev. */
int nemo_event_destroy(nemo_event_t *ev);

/* Wakes one announced worker, if any. Call after publishing the work. EINVAL: null or
 * misaligned ev. */
int nemo_event_notify_one(nemo_event_t *ev);

/* Wakes every announced worker. EINVAL: null or misaligned ev. */
int nemo_event_notify_all(nemo_event_t *ev);

/* Announces a wait, arming *key. EINVAL: null or misaligned ev or key. */
int nemo_event_prepare_wait(nemo_event_t *ev, nemo_event_key_t *key);

/* Waits for a notification sent after the announcement. EINVAL: null or misaligned ev or key,
 * or a key not armed for ev. */
int nemo_event_wait(nemo_event_t *ev, nemo_event_key_t *key);

/* nemo_event_wait until *abstime on the event's clock: ETIMEDOUT once it has passed (key
 * disarmed either way); EINVAL for a malformed abstime (key still armed). */
int nemo_event_timedwait(nemo_event_t *ev, nemo_event_key_t *key,
                         const struct timespec *abstime);

/* nemo_event_timedwait on `clock` (NEMO_CLOCK_REALTIME or NEMO_CLOCK_MONOTONIC; EINVAL
 * otherwise). */
int nemo_event_clockwait(nemo_event_t *ev, nemo_event_key_t *key, int clock,
                         const struct timespec *abstime);

/* Withdraws the announcement. *was_notified (if not null): 1 if a notification had already
 * been directed at this worker (it is consumed), else 0. EINVAL (key still armed if it was):
 * null or misaligned ev or key, a misaligned was_notified, or a key not armed for ev. */
int nemo_event_cancel_wait(nemo_event_t *ev, nemo_event_key_t *key, int *was_notified);

/* ------------------------------------------------------------------------------------------ */
/* Active messages                                                                            */
/* ------------------------------------------------------------------------------------------ */

/* User-interrupt backends. */
typedef enum nemo_backend {
    NEMO_BACKEND_AUTO = 0,   /* the process default (NEMO_BACKEND forces one) */
    NEMO_BACKEND_UINTR = 1,  /* Intel user interrupts (senduipi) */
    NEMO_BACKEND_SIGNAL = 2, /* a real-time signal per notification; actions run in a signal
                                handler: async-signal-safe code only */
    NEMO_BACKEND_POLL = 3    /* actions run at nemo_am_poll() safepoints */
} nemo_backend_t;

/* Sizes of a domain. */
typedef struct nemo_am_config {
    uint32_t actions;       /* action table capacity (>= 1); default 256 */
    uint32_t targets;       /* target table capacity (1..65536); default 256 */
    uint32_t mailbox;       /* messages queued per target before EAGAIN (>= 1); default 1024 */
    uint32_t vector;        /* user-interrupt vector of the domain (0..63); default 0 */
    nemo_backend_t backend; /* default NEMO_BACKEND_AUTO */
} nemo_am_config_t;

typedef struct nemo_am_domain nemo_am_domain_t;
typedef struct nemo_am_target nemo_am_target_t;

/* An action, run on the target's thread with its context and the message's payload. It must
 * not unwind (no C++ exception, no longjmp out of it). */
typedef void (*nemo_am_action_fn)(void *ctx, uint64_t payload);

/* Fills *cfg with the defaults. EINVAL: null or misaligned cfg. */
int nemo_am_config_default(nemo_am_config_t *cfg);

/* Creates a domain (cfg null: defaults) into *out. EINVAL: null or misaligned out, misaligned
 * cfg, a bad size (actions and targets 1..65536), vector or backend value, or a bad NEMO_SIGNAL
 * for the signal backend; ENOTSUP: a backend this machine cannot run; EBUSY: no free real-time
 * signal for the signal backend. */
int nemo_am_domain_create(nemo_am_domain_t **out, const nemo_am_config_t *cfg);

/* Destroys the handle (no other thread may use it any more). Registered targets stay
 * registered until their threads unregister them or exit. EINVAL: not a live domain handle
 * (null, misaligned, or memory that does not hold one). */
int nemo_am_domain_destroy(nemo_am_domain_t *domain);

/* Adds an action; its id goes to *action (an id of this domain only: other domains refuse it
 * with EINVAL). ENOSPC: the table is full; EINVAL: a bad domain handle, a null fn, or a null or
 * misaligned action. `fn` must be safe to call with `ctx` from any target thread, concurrently,
 * while the domain or a target lives. */
int nemo_am_register_action(nemo_am_domain_t *domain, nemo_am_action_fn fn, void *ctx,
                            uint32_t *action);

/* Registers the calling thread as a target: its handle goes to *out, its id to *target. EBUSY:
 * the thread already receives user interrupts (or no real-time signal is free); ENOSPC: the
 * target table is full (targets of exited threads do not count: they are reclaimed); EINVAL:
 * a bad domain handle, null or misaligned out or target, or a bad NEMO_BACKEND/NEMO_SIGNAL;
 * ENOTSUP: the backend cannot run; on uintr, the kernel's errors (ENOMEM, ...). A thread that
 * exits with its target registered has it unregistered at exit: the handle is then no longer
 * valid. */
int nemo_am_register_target(nemo_am_domain_t *domain, nemo_am_target_t **out,
                            uint32_t *target);

/* Unregisters a target after handling what is queued. Only its own thread may (EPERM
 * otherwise). EINVAL: not a live target handle (never one, already unregistered, or its thread
 * exited). Later notifies to its id are EINVAL. */
int nemo_am_unregister_target(nemo_am_target_t *target);

/* Queues `payload` for `action` on `target` and interrupts it. EINVAL: a bad domain handle, or
 * a target or action that is not this domain's (never registered, another domain's id,
 * unregistered, or its thread exited); EAGAIN: the target's mailbox is full (nothing queued; a
 * retry succeeds once the target drains it); EXDEV: called in a fork child; ENOBUFS (signal
 * backend): queued, but the kernel's real-time signal queue stayed full for a second, so the
 * target handles it at its next delivery (do not resend). Async-signal-safe. */
int nemo_am_notify(nemo_am_domain_t *domain, uint32_t target, uint32_t action,
                   uint64_t payload);

/* nemo_am_notify to every registered target; *notified (if not null) gets how many were
 * reached. EAGAIN if some mailboxes were full (the others got it); EINVAL: a bad domain handle,
 * a misaligned notified, or an action not of this domain; EXDEV: in a fork child; ENOBUFS: as
 * nemo_am_notify. */
int nemo_am_broadcast(nemo_am_domain_t *domain, uint32_t action, uint64_t payload,
                      size_t *notified);

/* A safepoint of the calling thread: runs the handlers of its pending messages (all of them on
 * NEMO_BACKEND_POLL). *handled (if not null) gets how many interrupt vectors were delivered.
 * EINVAL: a misaligned handled. */
int nemo_am_poll(size_t *handled);

/* ------------------------------------------------------------------------------------------ */
/* Information                                                                                */
/* ------------------------------------------------------------------------------------------ */

typedef struct nemo_backend_info {
    nemo_backend_t backend; /* the process default; NEMO_BACKEND_AUTO (0) if none can run */
    int forced;             /* 1 if NEMO_BACKEND chose it */
    const char *name;       /* "uintr", "signal", "poll", or "none"; static */
    const char *reason;     /* why it was chosen, or what is wrong with NEMO_BACKEND; static */
} nemo_backend_info_t;

/* Fills *out. Returns 0, or the error of a misconfigured NEMO_BACKEND (EINVAL: no such backend;
 * ENOTSUP: it cannot run here) with *out describing it. EINVAL: a null or misaligned out. */
int nemo_backend_info(nemo_backend_info_t *out);

/* The library's version, e.g. "0.1.0" (static); compare NEMO_VERSION_STRING, the header's. */
const char *nemo_version(void);

#ifdef __cplusplus
}
#endif

#if !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
_Static_assert(sizeof(nemo_condvar_t) == 48, "nemo_condvar_t is 48 bytes");
_Static_assert(sizeof(nemo_event_t) == 48, "nemo_event_t is 48 bytes");
_Static_assert(sizeof(nemo_event_key_t) == 32, "nemo_event_key_t is 32 bytes");
#endif

#endif /* NEMO_H */
