/*
 * Timed waits: on the realtime and the monotonic clock (condattr clock, and the clock argument
 * of pthread_cond_clockwait), a wait nobody signals returns ETIMEDOUT no earlier than its
 * deadline, with the mutex held; a deadline in the past times out at once; a bad timespec or
 * clock is EINVAL with the mutex still held; a signal before the deadline returns 0.
 *
 * usage: timeouts ROUNDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>

#include "check.h"

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c_real = PTHREAD_COND_INITIALIZER;
static pthread_cond_t c_mono;

static void held(void)
{
    CHECK_RC(pthread_mutex_trylock(&m), EBUSY);
}

/* A timed wait of `ms` that nobody signals: ETIMEDOUT, not early, mutex held. */
static void times_out(pthread_cond_t *c, int use_clockwait, clockid_t clock, long ms)
{
    struct timespec t = in_ms(clock, ms);
    OK(pthread_mutex_lock(&m));
    int rc = use_clockwait ? pthread_cond_clockwait(c, &m, clock, &t)
                           : pthread_cond_timedwait(c, &m, &t);
    CHECK_RC(rc, ETIMEDOUT);
    CHECK(reached(clock, &t));
    held();
    OK(pthread_mutex_unlock(&m));
}

static void rejected(pthread_cond_t *c, struct timespec t, clockid_t clock, int use_clockwait)
{
    OK(pthread_mutex_lock(&m));
    int rc = use_clockwait ? pthread_cond_clockwait(c, &m, clock, &t)
                           : pthread_cond_timedwait(c, &m, &t);
    CHECK_RC(rc, EINVAL);
    held();
    OK(pthread_mutex_unlock(&m));
}

static int flag;

static void *signaller(void *arg)
{
    pthread_cond_t *c = arg;
    sleep_ms(5);
    OK(pthread_mutex_lock(&m));
    flag = 1;
    OK(pthread_cond_signal(c));
    OK(pthread_mutex_unlock(&m));
    return NULL;
}

static void signalled_in_time(pthread_cond_t *c, clockid_t clock)
{
    pthread_t t;
    flag = 0;
    OK(pthread_create(&t, NULL, signaller, c));
    struct timespec deadline = in_ms(clock, 60000);
    OK(pthread_mutex_lock(&m));
    while (!flag)
        OK(pthread_cond_timedwait(c, &m, &deadline));
    OK(pthread_mutex_unlock(&m));
    OK(pthread_join(t, NULL));
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    int rounds = atoi(argv[1]);
    pthread_condattr_t a;
    OK(pthread_condattr_init(&a));
    OK(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    OK(pthread_cond_init(&c_mono, &a));
    OK(pthread_condattr_destroy(&a));

    for (int i = 0; i < rounds; i++) {
        long ms = 1 + i % 3;
        times_out(&c_real, 0, CLOCK_REALTIME, ms);
        times_out(&c_mono, 0, CLOCK_MONOTONIC, ms);
        times_out(&c_real, 1, CLOCK_MONOTONIC, ms);
        times_out(&c_mono, 1, CLOCK_REALTIME, ms);
    }

    /* Deadlines already past, including before the epoch. */
    struct timespec past[] = {{0, 0}, {-5, 0}, {1, 999999999}};
    for (unsigned i = 0; i < sizeof past / sizeof past[0]; i++) {
        OK(pthread_mutex_lock(&m));
        CHECK_RC(pthread_cond_timedwait(&c_real, &m, &past[i]), ETIMEDOUT);
        CHECK_RC(pthread_cond_clockwait(&c_real, &m, CLOCK_MONOTONIC, &past[i]), ETIMEDOUT);
        held();
        OK(pthread_mutex_unlock(&m));
    }

    /* Bad nanoseconds and bad clocks. */
    struct timespec bad[] = {{0, -1}, {0, 1000000000}, {0, 2000000000}};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct timespec t = in_ms(CLOCK_REALTIME, 1000);
        t.tv_nsec = bad[i].tv_nsec;
        rejected(&c_real, t, CLOCK_REALTIME, 0);
        rejected(&c_mono, t, CLOCK_MONOTONIC, 0);
        rejected(&c_real, t, CLOCK_MONOTONIC, 1);
    }
    rejected(&c_real, in_ms(CLOCK_MONOTONIC, 1), CLOCK_PROCESS_CPUTIME_ID, 1);
    rejected(&c_real, in_ms(CLOCK_MONOTONIC, 1), CLOCK_THREAD_CPUTIME_ID, 1);

    signalled_in_time(&c_real, CLOCK_REALTIME);
    signalled_in_time(&c_mono, CLOCK_MONOTONIC);

    /* No waiter was left behind by any of it. */
    OK(pthread_cond_destroy(&c_real));
    OK(pthread_cond_destroy(&c_mono));
    printf("timeouts: %d rounds on both clocks\n", rounds);
    return 0;
}
