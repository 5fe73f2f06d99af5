/*
 * Every function of nemo.h, from C: the normal paths with exact counts, and the error returns
 * (null pointers, bad attributes, bad timespecs and clocks, a bad vector or backend, full
 * tables and mailboxes, a key that is not armed, a target unregistered from the wrong thread).
 * Compiled with -std=c11 -Wall -Wextra -Werror -pedantic, and linked both against libnemo.so
 * and libnemo.a.
 *
 * usage: capi
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CHECK, CHECK_RC, OK, in_ms, reached, sleep_ms: shared with the shim's C test programs. */
#include "../../../preload/tests/c/check.h"
#include "nemo.h"

_Static_assert(sizeof(nemo_attr_t) == 12, "nemo_attr_t layout");
_Static_assert(sizeof(nemo_am_config_t) == 20, "nemo_am_config_t layout");
_Static_assert(sizeof(nemo_backend_info_t) == 24, "nemo_backend_info_t layout");
_Static_assert(_Alignof(nemo_condvar_t) == 8, "nemo_condvar_t alignment");

/* ------------------------------------------------------------------------------ condvar */

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static nemo_condvar_t not_empty = NEMO_CONDVAR_INITIALIZER;
static nemo_condvar_t not_full;
static long ring[4];
static int head, count, finished;
static long total;

#define ITEMS 20000

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        OK(pthread_mutex_lock(&m));
        while (count == 0 && !finished)
            OK(nemo_condvar_wait(&not_empty, &m));
        if (count == 0) {
            OK(pthread_mutex_unlock(&m));
            return NULL;
        }
        total += ring[head];
        head = (head + 1) % 4;
        count--;
        OK(nemo_condvar_signal(&not_full));
        OK(pthread_mutex_unlock(&m));
    }
}

static int released;
static int inside;

static void *wait_released(void *arg)
{
    nemo_condvar_t *cv = arg;
    OK(pthread_mutex_lock(&m));
    inside++;
    while (!released)
        OK(nemo_condvar_wait(cv, &m));
    inside--;
    OK(pthread_mutex_unlock(&m));
    return NULL;
}

static void wait_inside(int n)
{
    for (;;) {
        OK(pthread_mutex_lock(&m));
        int now = inside;
        OK(pthread_mutex_unlock(&m));
        if (now == n)
            return;
        sleep_ms(1);
    }
}

static void condvars(void)
{
    nemo_attr_t attr = NEMO_ATTR_DEFAULT;
    OK(nemo_condvar_init(&not_full, &attr));

    /* Bad attributes and null pointers. */
    nemo_condvar_t cv;
    nemo_attr_t bad = attr;
    bad.clock = CLOCK_PROCESS_CPUTIME_ID;
    CHECK_RC(nemo_condvar_init(&cv, &bad), EINVAL);
    bad = attr;
    bad.pshared = 2;
    CHECK_RC(nemo_condvar_init(&cv, &bad), EINVAL);
    bad = attr;
    bad.policy = (nemo_policy_t)7;
    CHECK_RC(nemo_condvar_init(&cv, &bad), EINVAL);
    CHECK_RC(nemo_condvar_init(NULL, NULL), EINVAL);
    CHECK_RC(nemo_condvar_destroy(NULL), EINVAL);
    CHECK_RC(nemo_condvar_signal(NULL), EINVAL);
    CHECK_RC(nemo_condvar_broadcast(NULL), EINVAL);
    CHECK_RC(nemo_condvar_wait(NULL, &m), EINVAL);
    OK(nemo_condvar_init(&cv, NULL));
    CHECK_RC(nemo_condvar_wait(&cv, NULL), EINVAL);

    /* Producer and consumers: exact sum. */
    pthread_t c[2];
    for (int i = 0; i < 2; i++)
        OK(pthread_create(&c[i], NULL, consumer, NULL));
    for (long i = 1; i <= ITEMS; i++) {
        OK(pthread_mutex_lock(&m));
        while (count == 4)
            OK(nemo_condvar_wait(&not_full, &m));
        ring[(head + count) % 4] = i;
        count++;
        OK(nemo_condvar_signal(&not_empty));
        OK(pthread_mutex_unlock(&m));
    }
    OK(pthread_mutex_lock(&m));
    finished = 1;
    OK(nemo_condvar_broadcast(&not_empty));
    OK(pthread_mutex_unlock(&m));
    for (int i = 0; i < 2; i++)
        OK(pthread_join(c[i], NULL));
    CHECK(total == (long)ITEMS * (ITEMS + 1) / 2);

    /* Timeouts on both clocks, never early; bad deadlines and clocks. */
    nemo_condvar_t mono;
    nemo_attr_t ma = {CLOCK_MONOTONIC, 0, NEMO_POLICY_PARK_ONLY};
    OK(nemo_condvar_init(&mono, &ma));
    OK(pthread_mutex_lock(&m));
    for (int i = 0; i < 5; i++) {
        struct timespec r = in_ms(CLOCK_REALTIME, 2), mo = in_ms(CLOCK_MONOTONIC, 2);
        CHECK_RC(nemo_condvar_timedwait(&cv, &m, &r), ETIMEDOUT);
        CHECK(reached(CLOCK_REALTIME, &r));
        CHECK_RC(nemo_condvar_timedwait(&mono, &m, &mo), ETIMEDOUT);
        CHECK(reached(CLOCK_MONOTONIC, &mo));
        mo = in_ms(CLOCK_MONOTONIC, 2);
        CHECK_RC(nemo_condvar_clockwait(&cv, &m, CLOCK_MONOTONIC, &mo), ETIMEDOUT);
        CHECK(reached(CLOCK_MONOTONIC, &mo));
    }
    struct timespec badts = {0, 1000000000L}, neg = {0, -1};
    CHECK_RC(nemo_condvar_timedwait(&cv, &m, &badts), EINVAL);
    CHECK_RC(nemo_condvar_timedwait(&cv, &m, &neg), EINVAL);
    CHECK_RC(nemo_condvar_timedwait(&cv, &m, NULL), EINVAL);
    CHECK_RC(nemo_condvar_clockwait(&cv, &m, CLOCK_THREAD_CPUTIME_ID, &badts), EINVAL);
    CHECK_RC(pthread_mutex_trylock(&m), EBUSY); /* still held after every EINVAL */
    OK(pthread_mutex_unlock(&m));

    /* An error-checking mutex not held: EPERM, and no waiter left behind. */
    pthread_mutexattr_t a;
    pthread_mutex_t ec;
    OK(pthread_mutexattr_init(&a));
    OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
    OK(pthread_mutex_init(&ec, &a));
    CHECK_RC(nemo_condvar_wait(&cv, &ec), EPERM);

    /* Broadcast wakes all three; destroy is EBUSY while one waits unsignalled. */
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        OK(pthread_create(&w[i], NULL, wait_released, &cv));
    wait_inside(3);
    CHECK_RC(nemo_condvar_destroy(&cv), EBUSY);
    OK(pthread_mutex_lock(&m));
    released = 1;
    OK(nemo_condvar_broadcast(&cv));
    OK(pthread_mutex_unlock(&m));
    for (int i = 0; i < 3; i++)
        OK(pthread_join(w[i], NULL));
    OK(nemo_condvar_destroy(&cv));
    OK(nemo_condvar_destroy(&mono));
    OK(nemo_condvar_destroy(&not_empty));
    OK(nemo_condvar_destroy(&not_full));
}

/* -------------------------------------------------------------------------------- event */

static nemo_event_t work = NEMO_EVENT_INITIALIZER;
static atomic_long queued, done_items, stop;

static void *worker(void *arg)
{
    (void)arg;
    for (;;) {
        long q = atomic_load(&queued);
        if (q > 0 && atomic_compare_exchange_weak(&queued, &q, q - 1)) {
            atomic_fetch_add(&done_items, 1);
            continue;
        }
        if (atomic_load(&stop))
            return NULL;
        nemo_event_key_t key;
        OK(nemo_event_prepare_wait(&work, &key));
        if (atomic_load(&queued) > 0 || atomic_load(&stop)) {
            OK(nemo_event_cancel_wait(&work, &key, NULL));
            continue;
        }
        OK(nemo_event_wait(&work, &key));
    }
}

static void events(void)
{
    nemo_event_t ev, other;
    nemo_event_key_t key, zero;
    memset(&zero, 0, sizeof zero);
    OK(nemo_event_init(&ev, NULL));
    nemo_attr_t ma = {CLOCK_MONOTONIC, 0, NEMO_POLICY_DEFAULT};
    OK(nemo_event_init(&other, &ma));
    CHECK_RC(nemo_event_init(NULL, NULL), EINVAL);
    CHECK_RC(nemo_event_notify_one(NULL), EINVAL);
    CHECK_RC(nemo_event_notify_all(NULL), EINVAL);
    CHECK_RC(nemo_event_destroy(NULL), EINVAL);
    CHECK_RC(nemo_event_prepare_wait(&ev, NULL), EINVAL);
    CHECK_RC(nemo_event_prepare_wait(NULL, &key), EINVAL);

    /* Keys that are not armed for the event. */
    key = zero;
    CHECK_RC(nemo_event_wait(&ev, &key), EINVAL);
    CHECK_RC(nemo_event_cancel_wait(&ev, &key, NULL), EINVAL);
    CHECK_RC(nemo_event_wait(&ev, NULL), EINVAL);
    OK(nemo_event_prepare_wait(&ev, &key));
    CHECK_RC(nemo_event_wait(&other, &key), EINVAL);
    CHECK_RC(nemo_event_destroy(&ev), EBUSY); /* an announced, unnotified wait */
    int notified = -1;
    OK(nemo_event_cancel_wait(&ev, &key, &notified));
    CHECK(notified == 0);
    CHECK_RC(nemo_event_cancel_wait(&ev, &key, NULL), EINVAL); /* already disarmed */

    /* A notification that reached an announced worker is reported by cancel. */
    OK(nemo_event_prepare_wait(&ev, &key));
    OK(nemo_event_notify_one(&ev));
    OK(nemo_event_cancel_wait(&ev, &key, &notified));
    CHECK(notified == 1);
    OK(nemo_event_notify_all(&ev)); /* nobody announced: a no-op */

    /* Timeouts on both clocks; a bad deadline leaves the key armed. */
    struct timespec badts = {0, -5};
    OK(nemo_event_prepare_wait(&other, &key));
    CHECK_RC(nemo_event_timedwait(&other, &key, &badts), EINVAL);
    CHECK_RC(nemo_event_clockwait(&other, &key, CLOCK_PROCESS_CPUTIME_ID, &badts), EINVAL);
    struct timespec t = in_ms(CLOCK_MONOTONIC, 2);
    CHECK_RC(nemo_event_timedwait(&other, &key, &t), ETIMEDOUT);
    CHECK(reached(CLOCK_MONOTONIC, &t));
    OK(nemo_event_prepare_wait(&other, &key));
    t = in_ms(CLOCK_REALTIME, 2);
    CHECK_RC(nemo_event_clockwait(&other, &key, CLOCK_REALTIME, &t), ETIMEDOUT);
    CHECK(reached(CLOCK_REALTIME, &t));

    /* Workers drain exactly what was queued. */
    pthread_t w[3];
    for (int i = 0; i < 3; i++)
        OK(pthread_create(&w[i], NULL, worker, NULL));
    for (int i = 0; i < 20000; i++) {
        atomic_fetch_add(&queued, 1);
        OK(nemo_event_notify_one(&work));
    }
    while (atomic_load(&done_items) < 20000)
        sleep_ms(1);
    atomic_store(&stop, 1);
    OK(nemo_event_notify_all(&work));
    for (int i = 0; i < 3; i++)
        OK(pthread_join(w[i], NULL));
    CHECK(atomic_load(&done_items) == 20000);
    CHECK(atomic_load(&queued) == 0);
    OK(nemo_event_destroy(&work));
    OK(nemo_event_destroy(&ev));
    OK(nemo_event_destroy(&other));
}

/* ----------------------------------------------------------------------- active messages */

static atomic_ulong sum;

static void add(void *ctx, uint64_t payload)
{
    atomic_fetch_add((atomic_ulong *)ctx, payload);
}

static nemo_am_domain_t *sig_domain;
static uint32_t sig_action;
static atomic_uint sig_target;
static atomic_int sig_ready, sig_done;

static void *signal_target(void *arg)
{
    (void)arg;
    nemo_am_target_t *t = NULL;
    uint32_t id = 0;
    OK(nemo_am_register_target(sig_domain, &t, &id));
    atomic_store(&sig_target, id);
    atomic_store(&sig_ready, 1);
    /* No polling: the signal runs the actions while this thread spins. */
    while (atomic_load(&sum) != 5050)
        ;
    OK(nemo_am_unregister_target(t));
    atomic_store(&sig_done, 1);
    return NULL;
}

static nemo_am_target_t *foreign;

static void *unregister_foreign(void *arg)
{
    (void)arg;
    CHECK_RC(nemo_am_unregister_target(foreign), EPERM);
    return NULL;
}

static void active_messages(int uintr_available)
{
    nemo_am_config_t cfg;
    CHECK_RC(nemo_am_config_default(NULL), EINVAL);
    OK(nemo_am_config_default(&cfg));
    CHECK(cfg.actions == 256 && cfg.targets == 256 && cfg.mailbox == 1024 && cfg.vector == 0);
    CHECK(cfg.backend == NEMO_BACKEND_AUTO);

    nemo_am_domain_t *d = NULL;
    nemo_am_config_t bad = cfg;
    bad.vector = 64;
    CHECK_RC(nemo_am_domain_create(&d, &bad), EINVAL);
    bad = cfg;
    bad.backend = (nemo_backend_t)9;
    CHECK_RC(nemo_am_domain_create(&d, &bad), EINVAL);
    bad = cfg;
    bad.mailbox = 0;
    CHECK_RC(nemo_am_domain_create(&d, &bad), EINVAL);
    bad = cfg;
    bad.targets = 70000;
    CHECK_RC(nemo_am_domain_create(&d, &bad), EINVAL);
    bad = cfg;
    bad.backend = NEMO_BACKEND_UINTR;
    if (!uintr_available)
        CHECK_RC(nemo_am_domain_create(&d, &bad), ENOTSUP);
    CHECK_RC(nemo_am_domain_create(NULL, &cfg), EINVAL);
    CHECK_RC(nemo_am_domain_destroy(NULL), EINVAL);

    /* The poll backend: a full mailbox, exact delivery at safepoints. */
    cfg.backend = NEMO_BACKEND_POLL;
    cfg.mailbox = 2;
    cfg.actions = 1;
    cfg.vector = 5;
    OK(nemo_am_domain_create(&d, &cfg));
    uint32_t act = 99, act2 = 0;
    CHECK_RC(nemo_am_register_action(d, NULL, &sum, &act), EINVAL);
    CHECK_RC(nemo_am_register_action(NULL, add, &sum, &act), EINVAL);
    CHECK_RC(nemo_am_register_action(d, add, &sum, NULL), EINVAL);
    OK(nemo_am_register_action(d, add, &sum, &act));
    CHECK_RC(nemo_am_register_action(d, add, &sum, &act2), ENOSPC);

    nemo_am_target_t *t = NULL, *t2 = NULL;
    uint32_t id = 0, id2 = 0;
    CHECK_RC(nemo_am_register_target(NULL, &t, &id), EINVAL);
    CHECK_RC(nemo_am_register_target(d, NULL, &id), EINVAL);
    OK(nemo_am_register_target(d, &t, &id));
    CHECK_RC(nemo_am_register_target(d, &t2, &id2), EBUSY); /* one receiver per thread */

    OK(nemo_am_notify(d, id, act, 40));
    OK(nemo_am_notify(d, id, act, 2));
    CHECK_RC(nemo_am_notify(d, id, act, 1000), EAGAIN);
    CHECK_RC(nemo_am_notify(d, id + 1, act, 1), EINVAL);
    CHECK_RC(nemo_am_notify(d, id, act + 1, 1), EINVAL);
    CHECK_RC(nemo_am_notify(NULL, id, act, 1), EINVAL);
    CHECK(atomic_load(&sum) == 0);
    size_t handled = 0;
    OK(nemo_am_poll(&handled));
    CHECK(handled >= 1);
    CHECK(atomic_load(&sum) == 42);
    OK(nemo_am_poll(NULL));

    size_t n = 0;
    OK(nemo_am_broadcast(d, act, 8, &n));
    CHECK(n == 1);
    CHECK_RC(nemo_am_broadcast(d, act + 7, 8, &n), EINVAL);
    CHECK_RC(nemo_am_broadcast(NULL, act, 8, NULL), EINVAL);
    OK(nemo_am_broadcast(d, act, 1, NULL));
    CHECK_RC(nemo_am_broadcast(d, act, 1, &n), EAGAIN); /* the mailbox holds two */
    CHECK(n == 0);
    OK(nemo_am_poll(&handled));
    CHECK(atomic_load(&sum) == 51);

    foreign = t;
    pthread_t other;
    OK(pthread_create(&other, NULL, unregister_foreign, NULL));
    OK(pthread_join(other, NULL));
    CHECK_RC(nemo_am_unregister_target(NULL), EINVAL);
    OK(nemo_am_unregister_target(t));
    CHECK_RC(nemo_am_notify(d, id, act, 1), EINVAL); /* gone */
    OK(nemo_am_domain_destroy(d));

    /* The signal backend: actions interrupt a busy thread. */
    atomic_store(&sum, 0);
    OK(nemo_am_config_default(&cfg));
    cfg.backend = NEMO_BACKEND_SIGNAL;
    OK(nemo_am_domain_create(&sig_domain, &cfg));
    OK(nemo_am_register_action(sig_domain, add, &sum, &sig_action));
    pthread_t rx;
    OK(pthread_create(&rx, NULL, signal_target, NULL));
    while (!atomic_load(&sig_ready))
        sleep_ms(1);
    for (uint64_t x = 1; x <= 100; x++) {
        int rc;
        while ((rc = nemo_am_notify(sig_domain, atomic_load(&sig_target), sig_action, x)) ==
               EAGAIN)
            sleep_ms(1);
        OK(rc);
    }
    OK(pthread_join(rx, NULL));
    CHECK(atomic_load(&sig_done) == 1);
    CHECK(atomic_load(&sum) == 5050);
    OK(nemo_am_domain_destroy(sig_domain));
}

/* ------------------------------------------------------------------------------ info */

int main(int argc, char **argv)
{
    const char *v = nemo_version();
    CHECK(v != NULL && strcmp(v, "0.1.0") == 0);

    nemo_backend_info_t info;
    CHECK_RC(nemo_backend_info(NULL), EINVAL);
    int rc = nemo_backend_info(&info);
    CHECK(info.name != NULL && info.reason != NULL && info.reason[0] != '\0');
    if (argc > 1 && strcmp(argv[1], "misconfigured") == 0) {
        /* Run with NEMO_BACKEND=carrier-pigeon. */
        CHECK_RC(rc, EINVAL);
        CHECK(info.backend == NEMO_BACKEND_AUTO && strcmp(info.name, "none") == 0);
        CHECK(strstr(info.reason, "carrier-pigeon") != NULL);
        printf("capi: misconfigured backend reported: %s\n", info.reason);
        return 0;
    }
    OK(rc);
    CHECK(info.backend == NEMO_BACKEND_UINTR || info.backend == NEMO_BACKEND_SIGNAL ||
          info.backend == NEMO_BACKEND_POLL);

    condvars();
    events();
    active_messages(info.backend == NEMO_BACKEND_UINTR);
    printf("capi: all functions ok (backend %s: %s)\n", info.name, info.reason);
    return 0;
}
