/* Assertions for the test programs: a failed check prints where and why, and exits with 1. */
#ifndef NEMO_TEST_CHECK_H
#define NEMO_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);           \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* An expression that returns an errno value must return `want`. */
#define CHECK_RC(expr, want)                                                                   \
    do {                                                                                       \
        int rc_ = (expr);                                                                      \
        if (rc_ != (want)) {                                                                   \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d (%s)\n", __FILE__,       \
                    __LINE__, #expr, rc_, strerror(rc_), (want), strerror(want));             \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

#define OK(expr) CHECK_RC(expr, 0)

/* `ms` milliseconds from now on `clock`. */
static inline struct timespec in_ms(clockid_t clock, long ms)
{
    struct timespec t;
    clock_gettime(clock, &t);
    t.tv_sec += ms / 1000;
    t.tv_nsec += (ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec += 1;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

/* Whether `clock` has reached `t`. */
static inline int reached(clockid_t clock, const struct timespec *t)
{
    struct timespec now;
    clock_gettime(clock, &now);
    return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static inline void sleep_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&d, &d) != 0) {
    }
}

#endif
