/*
 * Waiters cancelled while a signaller keeps signalling, on a priority-inheritance mutex (the
 * scenario of glibc's nptl/tst-cond25). Each round starts WAITERS threads that wait in a loop
 * (plain or timed, with a deadline far away) and one signaller that signals in a loop, then
 * cancels and joins every waiter, then the signaller. Checked: every waiter ends cancelled
 * (never by a timeout or an error), and each cleanup handler that runs finds the mutex held
 * by its thread. The time a round takes is printed, not checked.
 *
 * usage: cancel_storm plain|timed ROUNDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "check.h"

#define WAITERS 5
#define LOOPS 2000

static pthread_mutex_t m;
static pthread_cond_t cv;
static int timed;
static atomic_int cleanups, cleanups_without_mutex;

static void cleanup(void *arg)
{
    (void)arg;
    atomic_fetch_add(&cleanups, 1);
    /* A PI mutex held by this thread: trylock reports EDEADLK or EBUSY, never 0. */
    int r = pthread_mutex_trylock(&m);
    if (r != EDEADLK && r != EBUSY)
        atomic_fetch_add(&cleanups_without_mutex, 1);
    if (r == 0 || r == EDEADLK || r == EBUSY)
        OK(pthread_mutex_unlock(&m));
}

static void *waiter(void *arg)
{
    (void)arg;
    for (int i = 0; i < LOOPS; i++) {
        OK(pthread_mutex_lock(&m));
        pthread_cleanup_push(cleanup, NULL);
        if (timed) {
            struct timespec t = in_ms(CLOCK_REALTIME, 20000);
            OK(pthread_cond_timedwait(&cv, &m, &t));
        } else {
            OK(pthread_cond_wait(&cv, &m));
        }
        pthread_cleanup_pop(0);
        OK(pthread_mutex_unlock(&m));
    }
    return NULL;
}

static void *signaller(void *arg)
{
    (void)arg;
    for (int i = 0; i < WAITERS * LOOPS; i++) {
        OK(pthread_mutex_lock(&m));
        OK(pthread_cond_signal(&cv));
        OK(pthread_mutex_unlock(&m));
        pthread_testcancel();
    }
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    timed = strcmp(argv[1], "timed") == 0;
    int rounds = atoi(argv[2]);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int round = 0; round < rounds; round++) {
        pthread_mutexattr_t a;
        OK(pthread_mutexattr_init(&a));
        OK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
        OK(pthread_mutex_init(&m, &a));
        OK(pthread_mutexattr_destroy(&a));
        OK(pthread_cond_init(&cv, NULL));
        pthread_t w[WAITERS], s;
        for (int i = 0; i < WAITERS; i++)
            OK(pthread_create(&w[i], NULL, waiter, NULL));
        OK(pthread_create(&s, NULL, signaller, NULL));
        for (int i = 0; i < WAITERS; i++) {
            void *ret;
            OK(pthread_cancel(w[i]));
            OK(pthread_join(w[i], &ret));
            /* A waiter that runs out of loops returns NULL; it must not time out or fail. */
            CHECK(ret == PTHREAD_CANCELED || ret == NULL);
        }
        pthread_cancel(s); /* may have finished already (ESRCH is fine) */
        void *ret;
        OK(pthread_join(s, &ret));
        CHECK(ret == PTHREAD_CANCELED || ret == NULL);
        OK(pthread_mutex_destroy(&m));
        OK(pthread_cond_destroy(&cv));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(atomic_load(&cleanups_without_mutex) == 0);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("cancel_storm: %d rounds, %d cleanups, all with the mutex held, %.3f s\n", rounds,
           atomic_load(&cleanups), s);
    return 0;
}
