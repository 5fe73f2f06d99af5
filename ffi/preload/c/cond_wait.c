/*
 * The blocking entry points of the shim: pthread_cond_wait, pthread_cond_timedwait and
 * pthread_cond_clockwait, written in C because they are cancellation points.
 *
 * glibc cancels a thread blocked in a cancellation point by unwinding its stack
 * (_Unwind_ForcedUnwind) from the SIGCANCEL handler. A forced unwind through a Rust frame
 * aborts the process (an extern "C" Rust function may not be unwound), so while the thread can
 * be cancelled no Rust frame is live: the Rust side (src/wait.rs) does each non-blocking step —
 * join the condvar and release the mutex, spin, prepare a park, account for a wakeup, finish
 * and relock — and returns; this file makes the one blocking call, the futex wait, in its own
 * frame, exactly as glibc does:
 *
 *   - a cleanup handler is registered around the blocking loop with pthread_cleanup_push (the
 *     setjmp-based variant, because this file is compiled without -fexceptions: the unwinder
 *     finds it by stack address, whatever instruction the cancellation interrupted);
 *   - asynchronous cancellation is enabled only around the futex system call
 *     (pthread_setcanceltype is async-cancel-safe, and acts at once on a cancellation that was
 *     already pending, so a waiter cancelled before it blocks is cancelled here too);
 *   - the handler (nemo_preload_rs_wait_cancel) withdraws the waiter, passes on a signal it may
 *     have consumed, and re-acquires the mutex, so the caller's own cleanup handlers run with
 *     the mutex held, as POSIX requires;
 *   - a cancellation already pending when a wait starts is acted on there, with the mutex
 *     still held (act_on_pending_cancel). Otherwise a waiter that is woken during every spin
 *     never parks, so never reaches the asynchronous window, and a signaller that keeps
 *     signalling delays its cancellation for as long as it keeps on (with a long spin bound,
 *     forever: see ffi/README.md).
 *
 * The symbol versions of these entry points are set here, next to their definitions (.symver
 * must sit in the object that defines the symbol); the others are in src/exports.rs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define HIDDEN __attribute__((visibility("hidden")))
#define EXPORT __attribute__((visibility("default")))

/* Must match STATE_SIZE / STATE_ALIGN in src/wait.rs (checked there at compile time). */
#define NEMO_WAIT_STATE_SIZE 96

/* What nemo_preload_rs_wait_begin returns besides an errno value. */
enum { STEP_DONE = -1, STEP_PARK = -2 };

/* Which deadline a wait has. */
enum { WAIT_PLAIN = 0, WAIT_TIMED = 1, WAIT_CLOCK = 2 };

/* One waiter's state, owned by the Rust side; it lives in this frame. */
struct nemo_wait_state {
    _Alignas(16) unsigned char bytes[NEMO_WAIT_STATE_SIZE];
};

/* One FUTEX_WAIT_BITSET call, as the Rust side prepared it. */
struct nemo_park_args {
    const uint32_t *word;
    uint32_t expected;
    int op;
    int has_deadline;
    struct timespec deadline;
};

typedef int (*init_fn)(pthread_cond_t *, const pthread_condattr_t *);
typedef int (*cond_fn)(pthread_cond_t *);
typedef int (*wait_fn)(pthread_cond_t *, pthread_mutex_t *);
typedef int (*timedwait_fn)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
typedef int (*clockwait_fn)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                            const struct timespec *);

/* glibc's functions to forward to (struct Forward in src/mode.rs); a null pointer is a
 * function glibc does not have. */
struct nemo_forward {
    init_fn init;
    cond_fn destroy, signal, broadcast;
    wait_fn wait;
    timedwait_fn timedwait;
    clockwait_fn clockwait;
};

/* The Rust side (src/wait.rs, src/mode.rs). Hidden references keep them out of the dynamic
 * symbol table. */
HIDDEN int nemo_preload_rs_wait_begin(struct nemo_wait_state *st, pthread_cond_t *cond,
                                      pthread_mutex_t *mutex, int kind, clockid_t clock,
                                      const struct timespec *abstime);
HIDDEN int nemo_preload_rs_wait_prepare(struct nemo_wait_state *st, struct nemo_park_args *args);
HIDDEN int nemo_preload_rs_wait_parked(struct nemo_wait_state *st, int err);
HIDDEN int nemo_preload_rs_wait_finish(struct nemo_wait_state *st);
HIDDEN void nemo_preload_rs_wait_cancel(void *st);
HIDDEN const struct nemo_forward *nemo_preload_rs_forward(void);
HIDDEN const struct nemo_forward *nemo_preload_rs_compat(void);

/* A cancellation point at the entry of a wait: the caller holds the mutex, so its cleanup
 * handlers run with it held, as they must. */
static void act_on_pending_cancel(void)
{
    pthread_testcancel();
}

static int wait_common(pthread_cond_t *cond, pthread_mutex_t *mutex, int kind, clockid_t clock,
                       const struct timespec *abstime)
{
    act_on_pending_cancel();
    struct nemo_wait_state st;
    int r = nemo_preload_rs_wait_begin(&st, cond, mutex, kind, clock, abstime);
    if (r == STEP_PARK) {
        pthread_cleanup_push(nemo_preload_rs_wait_cancel, &st);
        struct nemo_park_args a;
        while (nemo_preload_rs_wait_prepare(&st, &a)) {
            int oldtype;
            pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &oldtype);
            long rc = syscall(SYS_futex, a.word, a.op, a.expected,
                              a.has_deadline ? &a.deadline : NULL, NULL,
                              FUTEX_BITSET_MATCH_ANY);
            int err = rc == -1 ? errno : 0;
            pthread_setcanceltype(oldtype, NULL);
            if (nemo_preload_rs_wait_parked(&st, err))
                break;
        }
        pthread_cleanup_pop(0);
    } else if (r != STEP_DONE) {
        /* Rejected before the mutex was released (or its unlock failed): nothing to finish. */
        return r;
    }
    return nemo_preload_rs_wait_finish(&st);
}

EXPORT int nemo_preload_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    const struct nemo_forward *off = nemo_preload_rs_forward();
    if (off)
        return off->wait ? off->wait(cond, mutex) : ENOSYS;
    return wait_common(cond, mutex, WAIT_PLAIN, CLOCK_REALTIME, NULL);
}

EXPORT int nemo_preload_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                                       const struct timespec *abstime)
{
    const struct nemo_forward *off = nemo_preload_rs_forward();
    if (off)
        return off->timedwait ? off->timedwait(cond, mutex, abstime) : ENOSYS;
    return wait_common(cond, mutex, WAIT_TIMED, CLOCK_REALTIME, abstime);
}

EXPORT int nemo_preload_cond_clockwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                                       clockid_t clock, const struct timespec *abstime)
{
    const struct nemo_forward *off = nemo_preload_rs_forward();
    if (off)
        return off->clockwait ? off->clockwait(cond, mutex, clock, abstime) : ENOSYS;
    return wait_common(cond, mutex, WAIT_CLOCK, clock, abstime);
}

/* The pre-2.3.2 ABI (a pthread_cond_t that points to a separately allocated condvar) stays
 * glibc's: these forward to its compatibility functions. */
EXPORT int nemo_preload_compat_cond_wait(pthread_cond_t *cond, pthread_mutex_t *mutex)
{
    const struct nemo_forward *old = nemo_preload_rs_compat();
    return old->wait ? old->wait(cond, mutex) : ENOSYS;
}

EXPORT int nemo_preload_compat_cond_timedwait(pthread_cond_t *cond, pthread_mutex_t *mutex,
                                              const struct timespec *abstime)
{
    const struct nemo_forward *old = nemo_preload_rs_compat();
    return old->timedwait ? old->timedwait(cond, mutex, abstime) : ENOSYS;
}

__asm__(".symver nemo_preload_cond_wait, pthread_cond_wait@@GLIBC_2.3.2");
__asm__(".symver nemo_preload_cond_timedwait, pthread_cond_timedwait@@GLIBC_2.3.2");
__asm__(".symver nemo_preload_cond_clockwait, pthread_cond_clockwait@@GLIBC_2.34");
__asm__(".symver nemo_preload_cond_clockwait, pthread_cond_clockwait@GLIBC_2.30");
__asm__(".symver nemo_preload_compat_cond_wait, pthread_cond_wait@GLIBC_2.2.5");
__asm__(".symver nemo_preload_compat_cond_timedwait, pthread_cond_timedwait@GLIBC_2.2.5");
