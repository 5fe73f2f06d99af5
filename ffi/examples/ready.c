/* A producer thread hands items to the main thread through a nemo condition variable.
 * Build: cc -std=c11 ready.c $(pkg-config --cflags --libs nemo) -pthread */
#include <nemo.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { ITEMS = 1000 };

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static nemo_condvar_t ready = NEMO_CONDVAR_INITIALIZER; /* or nemo_condvar_init(&ready, &attr) */
static int items;

static void *produce(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITEMS; i++) {
        pthread_mutex_lock(&m);
        items++;
        nemo_condvar_signal(&ready);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

/* Takes one item: 0, or ETIMEDOUT if none came within a second. */
static int consume(void)
{
    struct timespec deadline;
    timespec_get(&deadline, TIME_UTC); /* C11's CLOCK_REALTIME: the condvar's default clock */
    deadline.tv_sec += 1;
    pthread_mutex_lock(&m);
    int rc = 0;
    while (items == 0 && rc == 0)
        rc = nemo_condvar_timedwait(&ready, &m, &deadline); /* 0, ETIMEDOUT or EINVAL */
    if (items > 0) {
        items--;
        rc = 0;
    }
    pthread_mutex_unlock(&m);
    return rc;
}

int main(void)
{
    pthread_t producer;
    if (pthread_create(&producer, NULL, produce, NULL) != 0)
        return 1;
    int consumed = 0;
    while (consumed < ITEMS && consume() == 0)
        consumed++;
    pthread_join(producer, NULL);
    printf("nemo %s (header %s): consumed %d of %d\n", nemo_version(), NEMO_VERSION_STRING,
           consumed, ITEMS);
    return consumed == ITEMS ? 0 : 1;
}
