/*
 * Bad input and object lifecycles through the C API:
 *
 *   misaligned   every condvar, event and active-message entry point refuses misaligned or
 *                foreign pointers with EINVAL, at once (no busy loop, no timeout);
 *   exited       a target whose thread exits without unregistering is gone: notifies to it are
 *                EINVAL, broadcast skips it (never EAGAIN), its handle is no longer valid
 *                (EINVAL, not EPERM), and its slot is free for the next registration;
 *   crossdomain  action and target ids of one domain are EINVAL in another;
 *   errors       every errno value nemo.h lists as reachable by a caller, reached;
 *   cycles N     N threads register a target and exit without unregistering; afterwards the
 *                live targets, the mappings (/proc/self/maps lines), the file descriptors and
 *                the heap in use are back to where they started.
 *
 * usage: lifecycle misaligned|exited|crossdomain|errors|cycles N
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* CHECK, CHECK_RC, OK, in_ms: shared with the shim's C test programs. */
#include "../../../preload/tests/c/check.h"
#include "nemo.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void action(void *ctx, uint64_t payload)
{
    atomic_fetch_add((atomic_ulong *)ctx, payload);
}

static atomic_ulong sum;

/* A config for the poll backend (no signals), `targets` slots, `mailbox` messages. */
static nemo_am_config_t poll_config(uint32_t targets, uint32_t mailbox)
{
    nemo_am_config_t cfg;
    OK(nemo_am_config_default(&cfg));
    cfg.backend = NEMO_BACKEND_POLL;
    cfg.targets = targets;
    cfg.mailbox = mailbox;
    return cfg;
}

/* ------------------------------------------------------------------------------------------ */

static _Alignas(64) unsigned char buf[256];

static void misaligned(void)
{
    nemo_condvar_t *cv = (nemo_condvar_t *)(void *)(buf + 1);
    nemo_event_t *ev = (nemo_event_t *)(void *)(buf + 65);
    nemo_event_key_t *key = (nemo_event_key_t *)(void *)(buf + 129);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    struct timespec soon = in_ms(CLOCK_REALTIME, 200);
    double t0 = now_s();

    CHECK_RC(nemo_condvar_init(cv, NULL), EINVAL);
    CHECK_RC(nemo_condvar_signal(cv), EINVAL);
    CHECK_RC(nemo_condvar_broadcast(cv), EINVAL);
    OK(pthread_mutex_lock(&m));
    CHECK_RC(nemo_condvar_wait(cv, &m), EINVAL);
    CHECK_RC(nemo_condvar_timedwait(cv, &m, &soon), EINVAL);
    CHECK_RC(nemo_condvar_clockwait(cv, &m, CLOCK_MONOTONIC, &soon), EINVAL);
    OK(pthread_mutex_unlock(&m));
    CHECK_RC(nemo_condvar_destroy(cv), EINVAL);

    /* An aligned condvar with a misaligned mutex, attribute or deadline. */
    nemo_condvar_t good = NEMO_CONDVAR_INITIALIZER;
    pthread_mutex_t *bad_m = (pthread_mutex_t *)(void *)(buf + 3);
    const nemo_attr_t *bad_attr = (const nemo_attr_t *)(const void *)(buf + 2);
    const struct timespec *bad_ts = (const struct timespec *)(const void *)(buf + 4);
    CHECK_RC(nemo_condvar_init(&good, bad_attr), EINVAL);
    CHECK_RC(nemo_condvar_wait(&good, bad_m), EINVAL);
    OK(pthread_mutex_lock(&m));
    CHECK_RC(nemo_condvar_timedwait(&good, &m, bad_ts), EINVAL);
    OK(pthread_mutex_unlock(&m));
    OK(nemo_condvar_destroy(&good));

    CHECK_RC(nemo_event_init(ev, NULL), EINVAL);
    CHECK_RC(nemo_event_notify_one(ev), EINVAL);
    CHECK_RC(nemo_event_notify_all(ev), EINVAL);
    CHECK_RC(nemo_event_prepare_wait(ev, key), EINVAL);
    CHECK_RC(nemo_event_timedwait(ev, key, &soon), EINVAL);
    CHECK_RC(nemo_event_destroy(ev), EINVAL);
    nemo_event_t good_ev = NEMO_EVENT_INITIALIZER;
    nemo_event_key_t k;
    CHECK_RC(nemo_event_prepare_wait(&good_ev, key), EINVAL);
    CHECK_RC(nemo_event_wait(&good_ev, key), EINVAL);
    OK(nemo_event_prepare_wait(&good_ev, &k));
    CHECK_RC(nemo_event_cancel_wait(&good_ev, &k, (int *)(void *)(buf + 5)), EINVAL);
    /* Refused before disarming: the key is still armed, and cancelling it works. */
    OK(nemo_event_cancel_wait(&good_ev, &k, NULL));
    OK(nemo_event_destroy(&good_ev));

    /* Active messages: misaligned and foreign handles and out-pointers. */
    nemo_am_config_t cfg = poll_config(4, 4);
    nemo_am_domain_t *d;
    OK(nemo_am_domain_create(&d, &cfg));
    nemo_am_domain_t *bad_d = (nemo_am_domain_t *)(void *)(buf + 9);
    static uint64_t zeros[16];
    nemo_am_domain_t *foreign_d = (nemo_am_domain_t *)(void *)zeros;
    uint32_t id, *bad_id = (uint32_t *)(void *)(buf + 1);
    nemo_am_target_t *t, *foreign_t = (nemo_am_target_t *)(void *)zeros;
    CHECK_RC(nemo_am_config_default((nemo_am_config_t *)(void *)(buf + 1)), EINVAL);
    CHECK_RC(nemo_am_domain_create((nemo_am_domain_t **)(void *)(buf + 1), NULL), EINVAL);
    CHECK_RC(nemo_am_register_action(bad_d, action, &sum, &id), EINVAL);
    CHECK_RC(nemo_am_register_action(foreign_d, action, &sum, &id), EINVAL);
    CHECK_RC(nemo_am_register_action(d, action, &sum, bad_id), EINVAL);
    OK(nemo_am_register_action(d, action, &sum, &id));
    CHECK_RC(nemo_am_register_target(foreign_d, &t, &id), EINVAL);
    CHECK_RC(nemo_am_register_target(d, (nemo_am_target_t **)(void *)(buf + 3), &id), EINVAL);
    CHECK_RC(nemo_am_notify(bad_d, 0, id, 1), EINVAL);
    CHECK_RC(nemo_am_notify(foreign_d, 0, id, 1), EINVAL);
    CHECK_RC(nemo_am_broadcast(foreign_d, id, 1, NULL), EINVAL);
    CHECK_RC(nemo_am_broadcast(d, id, 1, (size_t *)(void *)(buf + 1)), EINVAL);
    CHECK_RC(nemo_am_unregister_target(foreign_t), EINVAL);
    CHECK_RC(nemo_am_unregister_target((nemo_am_target_t *)(void *)(buf + 1)), EINVAL);
    CHECK_RC(nemo_am_poll((size_t *)(void *)(buf + 1)), EINVAL);
    CHECK_RC(nemo_am_domain_destroy(foreign_d), EINVAL);
    CHECK_RC(nemo_am_domain_destroy(bad_d), EINVAL);
    OK(nemo_am_domain_destroy(d));

    double took = now_s() - t0;
    /* Nothing waited for its deadline (200 ms) or spun. */
    CHECK(took < 0.15);
    printf("lifecycle misaligned: ok (%.3f s)\n", took);
}

/* ------------------------------------------------------------------------------------------ */

struct registration {
    nemo_am_domain_t *domain;
    nemo_am_target_t *handle;
    uint32_t id;
    int rc;
};

/* Registers as a target and exits without unregistering. */
static void *register_and_exit(void *arg)
{
    struct registration *r = arg;
    r->rc = nemo_am_register_target(r->domain, &r->handle, &r->id);
    return NULL;
}

static struct registration exit_registered(nemo_am_domain_t *d)
{
    struct registration r = {d, NULL, 0, -1};
    pthread_t th;
    OK(pthread_create(&th, NULL, register_and_exit, &r));
    OK(pthread_join(th, NULL));
    return r;
}

/* How many live targets `d` has: broadcast reaches each of them. */
static size_t live_targets(nemo_am_domain_t *d, uint32_t act)
{
    size_t n = 99;
    OK(nemo_am_broadcast(d, act, 0, &n));
    return n;
}

static void exited(void)
{
    for (int backend = NEMO_BACKEND_SIGNAL; backend <= NEMO_BACKEND_POLL; backend++) {
        nemo_am_config_t cfg = poll_config(2, 4);
        cfg.backend = backend;
        nemo_am_domain_t *d;
        uint32_t act;
        OK(nemo_am_domain_create(&d, &cfg));
        OK(nemo_am_register_action(d, action, &sum, &act));
        struct registration gone = exit_registered(d);
        OK(gone.rc);
        CHECK_RC(nemo_am_notify(d, gone.id, act, 1), EINVAL);
        CHECK(live_targets(d, act) == 0);
        CHECK_RC(nemo_am_unregister_target(gone.handle), EINVAL);
        /* Both slots are free again: two more threads register (and exit) without ENOSPC. */
        for (int i = 0; i < 4; i++)
            OK(exit_registered(d).rc);
        nemo_am_target_t *mine;
        uint32_t my_id;
        OK(nemo_am_register_target(d, &mine, &my_id));
        CHECK(live_targets(d, act) == 1);
        OK(nemo_am_poll(NULL));
        OK(nemo_am_unregister_target(mine));
        OK(nemo_am_domain_destroy(d));
    }
    printf("lifecycle exited: ok\n");
}

/* ------------------------------------------------------------------------------------------ */

static void crossdomain(void)
{
    nemo_am_config_t cfg = poll_config(4, 4);
    nemo_am_domain_t *a, *b;
    uint32_t act_a, act_b;
    atomic_ulong sum_a = 0, sum_b = 0;
    OK(nemo_am_domain_create(&a, &cfg));
    OK(nemo_am_domain_create(&b, &cfg));
    OK(nemo_am_register_action(a, action, &sum_a, &act_a));
    OK(nemo_am_register_action(b, action, &sum_b, &act_b));
    /* Both are the first action of their domain, yet different ids. */
    CHECK(act_a != act_b);
    nemo_am_target_t *t;
    uint32_t tid_a;
    OK(nemo_am_register_target(a, &t, &tid_a));
    CHECK_RC(nemo_am_notify(a, tid_a, act_b, 1), EINVAL);
    CHECK_RC(nemo_am_broadcast(a, act_b, 1, NULL), EINVAL);
    OK(nemo_am_unregister_target(t));
    uint32_t tid_b;
    OK(nemo_am_register_target(b, &t, &tid_b));
    /* The same slot (the first) of two domains: still different ids. */
    CHECK_RC(nemo_am_notify(b, tid_a, act_b, 1), EINVAL);
    CHECK_RC(nemo_am_notify(a, tid_b, act_a, 1), EINVAL);
    OK(nemo_am_notify(b, tid_b, act_b, 7));
    OK(nemo_am_poll(NULL));
    CHECK(atomic_load(&sum_b) == 7 && atomic_load(&sum_a) == 0);
    OK(nemo_am_unregister_target(t));
    OK(nemo_am_domain_destroy(a));
    OK(nemo_am_domain_destroy(b));
    printf("lifecycle crossdomain: ok\n");
}

/* ------------------------------------------------------------------------------------------ */

static nemo_condvar_t busy_cv = NEMO_CONDVAR_INITIALIZER;
static pthread_mutex_t busy_m = PTHREAD_MUTEX_INITIALIZER;
static atomic_int busy_waiting;

static void *wait_once(void *arg)
{
    (void)arg;
    OK(pthread_mutex_lock(&busy_m));
    atomic_store(&busy_waiting, 1);
    OK(nemo_condvar_wait(&busy_cv, &busy_m));
    OK(pthread_mutex_unlock(&busy_m));
    return NULL;
}

static nemo_am_target_t *main_target;

static void *unregister_main_target(void *arg)
{
    *(int *)arg = nemo_am_unregister_target(main_target);
    return NULL;
}

struct sender {
    nemo_am_domain_t *d;
    uint32_t target, act;
    int rc;
    double took;
};

static void *send_once(void *arg)
{
    struct sender *s = arg;
    double t0 = now_s();
    s->rc = nemo_am_notify(s->d, s->target, s->act, 1);
    s->took = now_s() - t0;
    return NULL;
}

static void errors(void)
{
    /* EINVAL and ETIMEDOUT. */
    nemo_condvar_t cv = NEMO_CONDVAR_INITIALIZER;
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    struct timespec past = {0, 0};
    CHECK_RC(nemo_condvar_signal(NULL), EINVAL);
    OK(pthread_mutex_lock(&m));
    CHECK_RC(nemo_condvar_timedwait(&cv, &m, &past), ETIMEDOUT);
    OK(pthread_mutex_unlock(&m));

    /* EBUSY: destroy with a waiter. */
    pthread_t w;
    OK(pthread_create(&w, NULL, wait_once, NULL));
    while (!atomic_load(&busy_waiting))
        ;
    OK(pthread_mutex_lock(&busy_m));
    CHECK_RC(nemo_condvar_destroy(&busy_cv), EBUSY);
    OK(nemo_condvar_signal(&busy_cv));
    OK(pthread_mutex_unlock(&busy_m));
    OK(pthread_join(w, NULL));
    OK(nemo_condvar_destroy(&busy_cv));

    /* EPERM: waiting with an error-checking mutex not held. */
    pthread_mutexattr_t ma;
    pthread_mutex_t em;
    OK(pthread_mutexattr_init(&ma));
    OK(pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK));
    OK(pthread_mutex_init(&em, &ma));
    CHECK_RC(nemo_condvar_wait(&cv, &em), EPERM);

    /* ENOTSUP: no UINTR on this machine (skipped where there is). */
    nemo_backend_info_t info;
    OK(nemo_backend_info(&info));
    nemo_am_config_t cfg = poll_config(1, 1);
    nemo_am_domain_t *d;
    if (info.backend != NEMO_BACKEND_UINTR) {
        cfg.backend = NEMO_BACKEND_UINTR;
        CHECK_RC(nemo_am_domain_create(&d, &cfg), ENOTSUP);
        cfg.backend = NEMO_BACKEND_POLL;
    }

    /* ENOSPC (action and target tables), EBUSY (a second target on one thread), EAGAIN (a
     * full mailbox), EPERM (another thread's target), EXDEV (from a fork child). */
    cfg.actions = 1;
    OK(nemo_am_domain_create(&d, &cfg));
    uint32_t act, tid, spare;
    OK(nemo_am_register_action(d, action, &sum, &act));
    CHECK_RC(nemo_am_register_action(d, action, &sum, &spare), ENOSPC);
    OK(nemo_am_register_target(d, &main_target, &tid));
    CHECK_RC(nemo_am_register_target(d, &main_target, &spare), EBUSY);
    struct registration other = exit_registered(d);
    CHECK_RC(other.rc, ENOSPC);
    OK(nemo_am_notify(d, tid, act, 1));
    CHECK_RC(nemo_am_notify(d, tid, act, 1), EAGAIN);
    OK(nemo_am_poll(NULL));
    OK(nemo_am_notify(d, tid, act, 1)); /* EAGAIN was "later": it succeeds now */
    int rc = -1;
    OK(pthread_create(&w, NULL, unregister_main_target, &rc));
    OK(pthread_join(w, NULL));
    CHECK_RC(rc, EPERM);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0)
        _exit(nemo_am_notify(d, tid, act, 1) == EXDEV ? 0 : 1);
    int status;
    CHECK(waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    OK(nemo_am_poll(NULL));
    OK(nemo_am_unregister_target(main_target));
    OK(nemo_am_domain_destroy(d));

    /* ENOBUFS: on the signal backend with no room for a pending real-time signal, a notify
     * queues the message, tries for a bound (a second), and says it could not interrupt. */
    cfg = poll_config(1, 4);
    cfg.backend = NEMO_BACKEND_SIGNAL;
    OK(nemo_am_domain_create(&d, &cfg));
    OK(nemo_am_register_action(d, action, &sum, &act));
    nemo_am_target_t *t;
    OK(nemo_am_register_target(d, &t, &tid));
    struct rlimit old, none;
    OK(getrlimit(RLIMIT_SIGPENDING, &old));
    none = old;
    none.rlim_cur = 0;
    OK(setrlimit(RLIMIT_SIGPENDING, &none));
    struct sender s = {d, tid, act, -1, 0};
    unsigned long before = atomic_load(&sum);
    OK(pthread_create(&w, NULL, send_once, &s));
    OK(pthread_join(w, NULL));
    OK(setrlimit(RLIMIT_SIGPENDING, &old));
    CHECK_RC(s.rc, ENOBUFS);
    CHECK(s.took >= 0.9 && s.took < 10.0);
    /* The message was queued: unregistering delivers it. */
    OK(nemo_am_unregister_target(t));
    CHECK(atomic_load(&sum) == before + 1);
    OK(nemo_am_domain_destroy(d));
    printf("lifecycle errors: ok\n");
}

/* ------------------------------------------------------------------------------------------ */

static long count_lines(const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    long n = 0;
    int c;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    long n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

static void cycles(long n)
{
    for (int backend = NEMO_BACKEND_SIGNAL; backend <= NEMO_BACKEND_POLL; backend++) {
        nemo_am_config_t cfg = poll_config(4, 16);
        cfg.backend = backend;
        nemo_am_domain_t *d;
        uint32_t act;
        OK(nemo_am_domain_create(&d, &cfg));
        OK(nemo_am_register_action(d, action, &sum, &act));
        /* Warm up: thread stacks and malloc arenas that glibc keeps for reuse. */
        for (int i = 0; i < 100; i++)
            OK(exit_registered(d).rc);
        long maps = count_lines("/proc/self/maps"), fds = count_fds();
        size_t heap = mallinfo2().uordblks;
        for (long i = 0; i < n; i++)
            OK(exit_registered(d).rc);
        long maps_after = count_lines("/proc/self/maps"), fds_after = count_fds();
        size_t heap_after = mallinfo2().uordblks;
        size_t live = live_targets(d, act);
        printf("lifecycle cycles (backend %d): %ld register/exit cycles: live targets %zu, "
               "maps %ld -> %ld, fds %ld -> %ld, heap in use %zu -> %zu bytes\n",
               backend, n, live, maps, maps_after, fds, fds_after, heap, heap_after);
        CHECK(live == 0);
        CHECK(maps_after == maps);
        CHECK(fds_after == fds);
        /* A leak of one receiver per cycle would be hundreds of kilobytes. */
        CHECK(heap_after < heap + 16384);
        OK(nemo_am_domain_destroy(d));
    }
    printf("lifecycle cycles: ok\n");
}

int main(int argc, char **argv)
{
    CHECK(argc >= 2);
    if (strcmp(argv[1], "misaligned") == 0)
        misaligned();
    else if (strcmp(argv[1], "exited") == 0)
        exited();
    else if (strcmp(argv[1], "crossdomain") == 0)
        crossdomain();
    else if (strcmp(argv[1], "errors") == 0)
        errors();
    else if (strcmp(argv[1], "cycles") == 0 && argc == 3)
        cycles(atol(argv[2]));
    else
        CHECK(!"usage: lifecycle misaligned|exited|crossdomain|errors|cycles N");
    return 0;
}
