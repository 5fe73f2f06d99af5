/*
 * Producers and consumers over a bounded ring, with two condition variables (not empty, not
 * full) and a mutex of the kind named on the command line. Every item is consumed exactly
 * once: the count and the sum must come out exact.
 *
 * usage: prodcons MUTEX_KIND PRODUCERS CONSUMERS ITEMS_PER_PRODUCER [timed]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>

#include "check.h"
#include "mutex_kind.h"

#define RING 8

static pthread_mutex_t m;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full;
static uint64_t ring[RING];
static unsigned head, count, producers_left;
static uint64_t consumed_sum, consumed_count;
static long items;
static int timed;

static void wait_on(pthread_cond_t *c)
{
    if (timed) {
        /* Far enough away never to expire: exercises the timed path of every wakeup. */
        struct timespec t = in_ms(CLOCK_REALTIME, 60000);
        OK(pthread_cond_timedwait(c, &m, &t));
    } else {
        OK(pthread_cond_wait(c, &m));
    }
}

static void *producer(void *arg)
{
    uint64_t base = (uint64_t)(uintptr_t)arg * (uint64_t)items;
    for (long i = 1; i <= items; i++) {
        OK(pthread_mutex_lock(&m));
        while (count == RING)
            wait_on(&not_full);
        ring[(head + count) % RING] = base + (uint64_t)i;
        count++;
        OK(pthread_cond_signal(&not_empty));
        OK(pthread_mutex_unlock(&m));
    }
    OK(pthread_mutex_lock(&m));
    if (--producers_left == 0)
        OK(pthread_cond_broadcast(&not_empty));
    OK(pthread_mutex_unlock(&m));
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    for (;;) {
        OK(pthread_mutex_lock(&m));
        while (count == 0 && producers_left > 0)
            wait_on(&not_empty);
        if (count == 0) {
            OK(pthread_mutex_unlock(&m));
            return NULL;
        }
        consumed_sum += ring[head];
        consumed_count++;
        head = (head + 1) % RING;
        count--;
        OK(pthread_cond_signal(&not_full));
        OK(pthread_mutex_unlock(&m));
    }
}

int main(int argc, char **argv)
{
    CHECK(argc >= 5);
    int np = atoi(argv[2]), nc = atoi(argv[3]);
    items = atol(argv[4]);
    timed = argc > 5 && strcmp(argv[5], "timed") == 0;
    CHECK(np > 0 && np <= 64 && nc > 0 && nc <= 64 && items > 0);
    init_mutex(&m, argv[1], 0);
    OK(pthread_cond_init(&not_full, NULL));
    producers_left = (unsigned)np;

    pthread_t p[64], c[64];
    for (int i = 0; i < nc; i++)
        OK(pthread_create(&c[i], NULL, consumer, NULL));
    for (int i = 0; i < np; i++)
        OK(pthread_create(&p[i], NULL, producer, (void *)(uintptr_t)i));
    for (int i = 0; i < np; i++)
        OK(pthread_join(p[i], NULL));
    for (int i = 0; i < nc; i++)
        OK(pthread_join(c[i], NULL));

    /* Producer i sent i*items + 1 ..= i*items + items. */
    uint64_t n = (uint64_t)items, want = 0;
    for (int i = 0; i < np; i++)
        want += (uint64_t)i * n * n + n * (n + 1) / 2;
    CHECK(consumed_count == (uint64_t)np * n);
    CHECK(consumed_sum == want);
    OK(pthread_cond_destroy(&not_empty));
    OK(pthread_cond_destroy(&not_full));
    OK(pthread_mutex_destroy(&m));
    printf("prodcons %s: %llu items, sum %llu\n", argv[1], (unsigned long long)consumed_count,
           (unsigned long long)consumed_sum);
    return 0;
}
