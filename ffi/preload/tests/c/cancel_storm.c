/*
 * Waiters cancelled while a signaller keeps signalling, on a priority-inheritance mutex (the
 * scenario of glibc's nptl/tst-cond25). Each round starts WAITERS threads that wait in an endless
 * loop (plain or timed, with a deadline 20 s away) and one signaller that signals in an endless
 * loop, then cancels and joins every waiter, then the signaller. Checked: every thread ends
 * cancelled (never by a timeout or an error); the waiters' one cancellation point is the wait,
 * so each waiter runs its cleanup handler exactly once, and finds the mutex held by itself.
 * The time the rounds take, and the longest a waiter took from pthread_cancel to the end of
 * pthread_join, are printed, not checked.
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
    for (;;) {
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
}

static void *signaller(void *arg)
{
    (void)arg;
    for (;;) {
        OK(pthread_mutex_lock(&m));
        OK(pthread_cond_signal(&cv));
        OK(pthread_mutex_unlock(&m));
        pthread_testcancel();
    }
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    timed = strcmp(argv[1], "timed") == 0;
    int rounds = atoi(argv[2]);
    struct timespec t0, t1;
    double slowest_cancel = 0;
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
            struct timespec c0, c1;
            clock_gettime(CLOCK_MONOTONIC, &c0);
            OK(pthread_cancel(w[i]));
            OK(pthread_join(w[i], &ret));
            clock_gettime(CLOCK_MONOTONIC, &c1);
            double took = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
            if (took > slowest_cancel)
                slowest_cancel = took;
            CHECK(ret == PTHREAD_CANCELED);
        }
        void *ret;
        OK(pthread_cancel(s));
        OK(pthread_join(s, &ret));
        CHECK(ret == PTHREAD_CANCELED);
        OK(pthread_mutex_destroy(&m));
        OK(pthread_cond_destroy(&cv));
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK(atomic_load(&cleanups) == rounds * WAITERS);
    CHECK(atomic_load(&cleanups_without_mutex) == 0);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("cancel_storm: %d rounds, %d cleanups, all with the mutex held, %.3f s, slowest "
           "cancel %.1f ms\n",
           rounds, atomic_load(&cleanups), s, slowest_cancel * 1e3);
    return 0;
}
