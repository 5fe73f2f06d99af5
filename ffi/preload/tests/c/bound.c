/*
 * Which object this program's pthread_cond_* references are bound to, and what the shim says
 * about itself: prints "bound NAME FILE" for every function, then "info LINE" if a shim is
 * loaded (nemo_preload_info found by dlsym).
 *
 * usage: bound
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

#include "check.h"

static void where(const char *name, void *addr)
{
    Dl_info info;
    CHECK(dladdr(addr, &info) != 0 && info.dli_fname != NULL);
    printf("bound %s %s\n", name, info.dli_fname);
}

int main(void)
{
    where("pthread_cond_init", (void *)pthread_cond_init);
    where("pthread_cond_destroy", (void *)pthread_cond_destroy);
    where("pthread_cond_signal", (void *)pthread_cond_signal);
    where("pthread_cond_broadcast", (void *)pthread_cond_broadcast);
    where("pthread_cond_wait", (void *)pthread_cond_wait);
    where("pthread_cond_timedwait", (void *)pthread_cond_timedwait);
    where("pthread_cond_clockwait", (void *)pthread_cond_clockwait);
    const char *(*info)(void) = (const char *(*)(void))dlsym(RTLD_DEFAULT, "nemo_preload_info");
    if (info)
        printf("info %s\n", info());
    return 0;
}
