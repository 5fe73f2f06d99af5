/*
 * PTHREAD_PROCESS_SHARED across fork: the parent and its children take turns on a counter in
 * MAP_SHARED memory, each waiting for its turn on a process-shared condvar (one with the
 * realtime clock and plain waits, one with the monotonic clock and timed waits). Every process
 * must get exactly its share of turns, and the counter must come out exact.
 *
 * usage: pshared CHILDREN TURNS_PER_PROCESS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "mutex_kind.h"

struct shared {
    pthread_mutex_t m;
    pthread_cond_t turn_real;
    pthread_cond_t turn_mono;
    long counter;
    long done[16];
};

static void take_turns(struct shared *s, int id, int procs, long turns)
{
    for (long i = 0; i < turns; i++) {
        OK(pthread_mutex_lock(&s->m));
        while (s->counter % procs != id) {
            if (i % 2 == 0) {
                OK(pthread_cond_wait(&s->turn_real, &s->m));
            } else {
                struct timespec t = in_ms(CLOCK_MONOTONIC, 60000);
                OK(pthread_cond_timedwait(&s->turn_mono, &s->m, &t));
            }
        }
        s->counter++;
        s->done[id]++;
        OK(pthread_cond_broadcast(&s->turn_real));
        OK(pthread_cond_broadcast(&s->turn_mono));
        OK(pthread_mutex_unlock(&s->m));
    }
}

int main(int argc, char **argv)
{
    CHECK(argc == 3);
    int children = atoi(argv[1]);
    long turns = atol(argv[2]);
    CHECK(children > 0 && children < 16 && turns > 0);
    int procs = children + 1;

    struct shared *s = mmap(NULL, sizeof *s, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                            -1, 0);
    CHECK(s != MAP_FAILED);
    memset(s, 0, sizeof *s);
    init_mutex(&s->m, "normal", 1);
    pthread_condattr_t a;
    OK(pthread_condattr_init(&a));
    OK(pthread_condattr_setpshared(&a, PTHREAD_PROCESS_SHARED));
    OK(pthread_cond_init(&s->turn_real, &a));
    OK(pthread_condattr_setclock(&a, CLOCK_MONOTONIC));
    OK(pthread_cond_init(&s->turn_mono, &a));
    int pshared = 0;
    OK(pthread_condattr_getpshared(&a, &pshared));
    CHECK(pshared == PTHREAD_PROCESS_SHARED);
    OK(pthread_condattr_destroy(&a));

    pid_t pids[16];
    for (int c = 0; c < children; c++) {
        pids[c] = fork();
        CHECK(pids[c] >= 0);
        if (pids[c] == 0) {
            take_turns(s, c + 1, procs, turns);
            _exit(0);
        }
    }
    take_turns(s, 0, procs, turns);
    for (int c = 0; c < children; c++) {
        int status = 0;
        CHECK(waitpid(pids[c], &status, 0) == pids[c]);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    CHECK(s->counter == (long)procs * turns);
    for (int p = 0; p < procs; p++)
        CHECK(s->done[p] == turns);
    OK(pthread_cond_destroy(&s->turn_real));
    OK(pthread_cond_destroy(&s->turn_mono));
    printf("pshared: %d processes took %ld turns each\n", procs, turns);
    return 0;
}
