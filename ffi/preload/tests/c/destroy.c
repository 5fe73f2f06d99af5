/*
 * Destroying condvars. "Broadcast, then destroy and free" with waiters still on their way out
 * is safe; a condvar nobody waits on (also a PTHREAD_COND_INITIALIZER one never initialised)
 * destroys at once. With "busy", also checks this shim's documented choice: destroy returns
 * EBUSY while a waiter has not been signalled (glibc blocks instead).
 *
 * usage: destroy ROUNDS [busy]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "check.h"

#define WAITERS 4

struct object {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int released;
    int inside;
};

static void *waiter(void *arg)
{
    struct object *o = arg;
    OK(pthread_mutex_lock(&o->m));
    o->inside++;
    while (!o->released)
        OK(pthread_cond_wait(&o->cv, &o->m));
    OK(pthread_mutex_unlock(&o->m));
    return NULL;
}

static void broadcast_then_destroy(void)
{
    struct object *o = calloc(1, sizeof *o);
    CHECK(o != NULL);
    OK(pthread_mutex_init(&o->m, NULL));
    OK(pthread_cond_init(&o->cv, NULL));
    pthread_t t[WAITERS];
    for (int i = 0; i < WAITERS; i++)
        OK(pthread_create(&t[i], NULL, waiter, o));
    for (;;) {
        OK(pthread_mutex_lock(&o->m));
        int all = o->inside == WAITERS;
        if (all) {
            o->released = 1;
            OK(pthread_cond_broadcast(&o->cv));
            /* Woken waiters may still be inside pthread_cond_wait. */
            OK(pthread_cond_destroy(&o->cv));
            memset(&o->cv, 0xa5, sizeof o->cv);
        }
        OK(pthread_mutex_unlock(&o->m));
        if (all)
            break;
        sleep_ms(1);
    }
    for (int i = 0; i < WAITERS; i++)
        OK(pthread_join(t[i], NULL));
    OK(pthread_mutex_destroy(&o->m));
    free(o);
}

static void busy_while_unsignalled(void)
{
    struct object o = {.m = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    pthread_t t;
    OK(pthread_create(&t, NULL, waiter, &o));
    for (;;) {
        OK(pthread_mutex_lock(&o.m));
        int in = o.inside;
        OK(pthread_mutex_unlock(&o.m));
        if (in)
            break;
        sleep_ms(1);
    }
    CHECK_RC(pthread_cond_destroy(&o.cv), EBUSY);
    OK(pthread_mutex_lock(&o.m));
    o.released = 1;
    OK(pthread_cond_signal(&o.cv));
    OK(pthread_mutex_unlock(&o.m));
    OK(pthread_join(t, NULL));
    OK(pthread_cond_destroy(&o.cv));
}

int main(int argc, char **argv)
{
    CHECK(argc >= 2);
    int rounds = atoi(argv[1]);
    static pthread_cond_t never_used = PTHREAD_COND_INITIALIZER;
    OK(pthread_cond_signal(&never_used));
    OK(pthread_cond_broadcast(&never_used));
    OK(pthread_cond_destroy(&never_used));
    for (int i = 0; i < rounds; i++)
        broadcast_then_destroy();
    if (argc > 2 && strcmp(argv[2], "busy") == 0)
        busy_while_unsignalled();
    printf("destroy: %d rounds\n", rounds);
    return 0;
}
