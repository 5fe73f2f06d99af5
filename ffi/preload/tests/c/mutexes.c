/*
 * The caller's glibc mutex, of every kind: an error-checking mutex the caller does not own is
 * EPERM (and leaves no waiter behind); a recursive one works when locked once; a robust one
 * whose owner died while the waiter slept comes back as EOWNERDEAD from the wait, locked.
 *
 * usage: mutexes
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "mutex_kind.h"

static pthread_mutex_t m;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int go;
static atomic_int waiting;

static void errorcheck_not_owned(void)
{
    init_mutex(&m, "errorcheck", 0);
    struct timespec t = in_ms(CLOCK_REALTIME, 1000);
    CHECK_RC(pthread_cond_wait(&cv, &m), EPERM);
    CHECK_RC(pthread_cond_timedwait(&cv, &m, &t), EPERM);
    CHECK_RC(pthread_cond_clockwait(&cv, &m, CLOCK_REALTIME, &t), EPERM);
    OK(pthread_mutex_destroy(&m));
}

static void *wait_for_go(void *arg)
{
    int *result = arg;
    OK(pthread_mutex_lock(&m));
    atomic_store(&waiting, 1);
    int rc = 0;
    while (!go && rc == 0)
        rc = pthread_cond_wait(&cv, &m);
    *result = rc;
    if (rc == EOWNERDEAD)
        OK(pthread_mutex_consistent(&m));
    OK(pthread_mutex_unlock(&m));
    return NULL;
}

static void recursive_once(void)
{
    init_mutex(&m, "recursive", 0);
    go = 0;
    atomic_store(&waiting, 0);
    int result = -1;
    pthread_t t;
    OK(pthread_create(&t, NULL, wait_for_go, &result));
    while (!atomic_load(&waiting))
        sleep_ms(1);
    OK(pthread_mutex_lock(&m));
    OK(pthread_mutex_lock(&m)); /* recursively, then back to one level */
    go = 1;
    OK(pthread_cond_signal(&cv));
    OK(pthread_mutex_unlock(&m));
    OK(pthread_mutex_unlock(&m));
    OK(pthread_join(t, NULL));
    CHECK(result == 0);
    OK(pthread_mutex_destroy(&m));
}

static void *lock_and_die(void *arg)
{
    (void)arg;
    OK(pthread_mutex_lock(&m));
    go = 1;
    return NULL; /* exits holding the robust mutex */
}

static void robust_owner_died(void)
{
    init_mutex(&m, "robust", 0);
    go = 0;
    atomic_store(&waiting, 0);
    int result = -1;
    pthread_t w, d;
    OK(pthread_create(&w, NULL, wait_for_go, &result));
    while (!atomic_load(&waiting))
        sleep_ms(1);
    /* The waiter released the mutex when it started waiting, so the dying thread gets it. */
    OK(pthread_create(&d, NULL, lock_and_die, NULL));
    OK(pthread_join(d, NULL));
    OK(pthread_cond_signal(&cv));
    OK(pthread_join(w, NULL));
    CHECK_RC(result, EOWNERDEAD);
    OK(pthread_mutex_lock(&m));
    OK(pthread_mutex_unlock(&m));
    OK(pthread_mutex_destroy(&m));
}

int main(void)
{
    errorcheck_not_owned();
    recursive_once();
    robust_owner_died();
    OK(pthread_cond_destroy(&cv));
    printf("mutexes: errorcheck, recursive, robust\n");
    return 0;
}
