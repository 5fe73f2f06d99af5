/* Assertions for the C API test programs: a failed check prints where and why, and exits with 1. */
#ifndef NEMO_CAPI_TEST_CHECK_H
#define NEMO_CAPI_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
