/*
 * Cancellation of waiters. pthread_cond_wait, _timedwait and _clockwait are cancellation
 * points: a cancelled waiter runs its cleanup handlers with the mutex re-acquired, the condvar
 * is left with no waiter behind (destroy succeeds), and a signal the cancelled waiter may have
 * consumed still reaches another waiter.
 *
 * usage: cancel ROUNDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "mutex_kind.h"

static pthread_mutex_t m;
static pthread_cond_t cv;
static int never;

enum how { PLAIN, TIMED, CLOCKED, PENDING };

struct waiter {
    enum how how;
    atomic_int waiting;
    int cleanup_ran;
    int cleanup_owned_mutex;
};

static void cleanup(void *arg)
{
    struct waiter *w = arg;
    w->cleanup_ran = 1;
    /* An error-checking mutex: unlocking succeeds only for its owner. */
    w->cleanup_owned_mutex = pthread_mutex_unlock(&m) == 0;
}

static void *wait_forever(void *arg)
{
    struct waiter *w = arg;
    if (w->how == PENDING)
        OK(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL));
    OK(pthread_mutex_lock(&m));
    pthread_cleanup_push(cleanup, w);
    atomic_store(&w->waiting, 1);
    if (w->how == PENDING) {
        /* The cancellation arrives while it is disabled; the wait must act on it. */
        while (atomic_load(&w->waiting) != 2)
            sleep_ms(1);
        OK(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL));
    }
    while (!never) {
        struct timespec t;
        switch (w->how) {
        case TIMED:
            t = in_ms(CLOCK_REALTIME, 600000);
            OK(pthread_cond_timedwait(&cv, &m, &t));
            break;
        case CLOCKED:
            t = in_ms(CLOCK_MONOTONIC, 600000);
            OK(pthread_cond_clockwait(&cv, &m, CLOCK_MONOTONIC, &t));
            break;
        default:
            OK(pthread_cond_wait(&cv, &m));
        }
    }
    pthread_cleanup_pop(1);
    return NULL;
}

static void cancel_one(enum how how, long settle_ms)
{
    struct waiter w = {.how = how};
    pthread_t t;
    OK(pthread_create(&t, NULL, wait_forever, &w));
    while (!atomic_load(&w.waiting))
        sleep_ms(1);
    if (settle_ms)
        sleep_ms(settle_ms); /* long enough to be parked, not just spinning */
    OK(pthread_cancel(t));
    if (how == PENDING)
        atomic_store(&w.waiting, 2);
    void *res = NULL;
    OK(pthread_join(t, &res));
    CHECK(res == PTHREAD_CANCELED);
    CHECK(w.cleanup_ran);
    CHECK(w.cleanup_owned_mutex);
    /* Nobody is left waiting, and the mutex was released by the handler. */
    OK(pthread_mutex_trylock(&m));
    OK(pthread_mutex_unlock(&m));
}

/* Two waiters on a counted resource; one of them is cancelled as a token is signalled. */
static int tokens, taken_by_b;
static pthread_cond_t tok = PTHREAD_COND_INITIALIZER;
static pthread_mutex_t tm = PTHREAD_MUTEX_INITIALIZER;
static atomic_int ready;

static void unlock_tm(void *arg)
{
    (void)arg;
    OK(pthread_mutex_unlock(&tm));
}

static void *take_token(void *arg)
{
    int is_b = arg != NULL;
    OK(pthread_mutex_lock(&tm));
    pthread_cleanup_push(unlock_tm, NULL);
    atomic_fetch_add(&ready, 1);
    while (tokens == 0)
        OK(pthread_cond_wait(&tok, &tm));
    tokens--;
    if (is_b)
        taken_by_b = 1;
    pthread_cleanup_pop(1);
    if (!is_b) {
        /* A took the token: park until cancelled, so B waits for a second one. */
        for (;;)
            pthread_testcancel();
    }
    return NULL;
}

static void signal_not_swallowed(int round)
{
    pthread_t a, b;
    tokens = 0;
    taken_by_b = 0;
    atomic_store(&ready, 0);
    OK(pthread_create(&a, NULL, take_token, NULL));
    OK(pthread_create(&b, NULL, take_token, (void *)1));
    while (atomic_load(&ready) < 2)
        sleep_ms(1);
    if (round % 2)
        sleep_ms(1);
    OK(pthread_mutex_lock(&tm));
    tokens = 1;
    OK(pthread_cond_signal(&tok));
    OK(pthread_mutex_unlock(&tm));
    OK(pthread_cancel(a));
    OK(pthread_join(a, NULL));
    /* If A was cancelled before it took the token, B must get it: the signal is not lost. */
    OK(pthread_mutex_lock(&tm));
    int left = tokens;
    if (left == 0 && !taken_by_b) {
        /* A took it; give B one of its own. */
        tokens = 1;
        OK(pthread_cond_signal(&tok));
    }
    OK(pthread_mutex_unlock(&tm));
    OK(pthread_join(b, NULL));
    CHECK(taken_by_b == 1);
    CHECK(tokens == 0);
}

int main(int argc, char **argv)
{
    CHECK(argc == 2);
    int rounds = atoi(argv[1]);
    init_mutex(&m, "errorcheck", 0);
    OK(pthread_cond_init(&cv, NULL));
    for (int i = 0; i < rounds; i++) {
        long settle = i % 2 ? 20 : 0;
        cancel_one(PLAIN, settle);
        cancel_one(TIMED, settle);
        cancel_one(CLOCKED, settle);
        cancel_one(PENDING, 0);
    }
    for (int i = 0; i < rounds * 10; i++)
        signal_not_swallowed(i);
    OK(pthread_cond_destroy(&cv));
    OK(pthread_cond_destroy(&tok));
    printf("cancel: %d rounds\n", rounds);
    return 0;
}
