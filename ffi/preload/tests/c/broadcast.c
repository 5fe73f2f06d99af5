/*
 * Broadcast generations: the main thread publishes generation 1, 2, ..., G with
 * pthread_cond_broadcast and waits until every waiter has acknowledged it before publishing the
 * next one. Every waiter must see every generation, in order, exactly once.
 *
 * usage: broadcast WAITERS GENERATIONS
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>

#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t published = PTHREAD_COND_INITIALIZER;
static pthread_cond_t acked = PTHREAD_COND_INITIALIZER;
static long generation, generations;
static int acks, waiters;
static long seen_total;

static void *waiter(void *arg)
{
    (void)arg;
    long seen = 0;
    OK(pthread_mutex_lock(&m));
    while (seen < generations) {
        while (generation == seen)
            OK(pthread_cond_wait(&published, &m));
        CHECK(generation == seen + 1);
        seen = generation;
        seen_total++;
        if (++acks == waiters)
            OK(pthread_cond_signal(&acked));
    }
    OK(pthread_mutex_unlock(&m));
    return NULL;
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    waiters = atoi(argv[1]);
    generations = atol(argv[2]);
    CHECK(waiters > 0 && waiters <= 64 && generations > 0);
    pthread_t t[64];
    for (int i = 0; i < waiters; i++)
        OK(pthread_create(&t[i], NULL, waiter, NULL));
    OK(pthread_mutex_lock(&m));
    for (long g = 1; g <= generations; g++) {
        generation = g;
        acks = 0;
        OK(pthread_cond_broadcast(&published));
        while (acks < waiters)
            OK(pthread_cond_wait(&acked, &m));
    }
    OK(pthread_mutex_unlock(&m));
    for (int i = 0; i < waiters; i++)
        OK(pthread_join(t[i], NULL));
    CHECK(seen_total == (long)waiters * generations);
    OK(pthread_cond_destroy(&published));
    OK(pthread_cond_destroy(&acked));
    printf("broadcast: %d waiters saw %ld generations each\n", waiters, generations);
    return 0;
}
