/* A pthread mutex of a kind named on the command line. */
#ifndef NEMO_TEST_MUTEX_KIND_H
#define NEMO_TEST_MUTEX_KIND_H

#include <pthread.h>
#include <string.h>

#include "check.h"

static inline void init_mutex(pthread_mutex_t *m, const char *kind, int pshared)
{
    pthread_mutexattr_t a;
    OK(pthread_mutexattr_init(&a));
    if (strcmp(kind, "recursive") == 0) {
        OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE));
    } else if (strcmp(kind, "errorcheck") == 0) {
        OK(pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK));
    } else if (strcmp(kind, "robust") == 0) {
        OK(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    } else if (strcmp(kind, "pi") == 0) {
        OK(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
    } else {
        CHECK(strcmp(kind, "normal") == 0);
    }
    if (pshared)
        OK(pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    OK(pthread_mutex_init(m, &a));
    OK(pthread_mutexattr_destroy(&a));
}

#endif
