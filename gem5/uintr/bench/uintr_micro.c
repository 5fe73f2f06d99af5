/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The measurements of the xUI paper, run inside gem5 with the UINTR model
 * (TSC = core cycles).  Every result is one line "RESULT k=v ...".
 *
 *   uintr_micro ops <iterations>
 *       cycles per clui, stui, testui and senduipi (Table 2), from loops of
 *       16 instructions minus an empty loop.
 *   uintr_micro e2e <events> <gap-cycles>
 *       end-to-end latency (Table 2): sender TSC right before senduipi to
 *       the handler's first TSC on a receiver spinning on the TSC (xUI
 *       §3.5); and its steps (Fig. 2): sender -> the receiver's last
 *       program TSC, last program TSC -> handler, handler exit -> resume.
 *   uintr_micro overhead <kernel> <source> <interval-cycles> <reps>
 *       receiver cost (Table 2, Fig. 4): a kernel (spin, fib, linpack,
 *       memops) runs without and with periodic interrupts from <source>
 *       (uipi: a timer thread on another core sends senduipi; kbtimer: the
 *       KB timer of the receiving core); cycles lost per interrupt and the
 *       slowdown.  <interval-cycles> and <reps> may be comma-separated
 *       lists of the same length (a sweep, one RESULT line per interval):
 *       the kernel warms up once at the largest <reps>, its time without
 *       interrupts is measured once per distinct <reps> (right before the
 *       first interval that uses it), and each interval is one run with
 *       interrupts.  With one interval and one <reps> that is the warm-up,
 *       the base and the interrupted run, in this order.
 *   uintr_micro chase <bytes> <loads-per-rsp-write> <events> <gap-cycles>
 *       end-to-end latency (as e2e) while the receiver chases pointers
 *       through one random cycle of 64-byte nodes spanning <bytes>, so
 *       that the share of loads missing each cache level grows with
 *       <bytes>.  With <loads-per-rsp-write> = 0 the chase never touches
 *       RSP (xUI §3.5: flush keeps the latency flat as misses grow, drain
 *       does not).  With N > 0, every N dependent loads end in an
 *       instruction that adds to RSP a zero computed from the last load,
 *       so RSP depends on the whole chain in flight (xUI §6.1: the
 *       worst case of tracked delivery, whose micro-code reads RSP).
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chase.h"
#include "uintr_bench.h"

#define REPEAT16(x) x x x x x x x x x x x x x x x x

static void
die(const char *what)
{
    fprintf(stderr, "uintr_micro: %s failed (errno %d)\n", what, errno);
    exit(1);
}

static void
register_receiver(void (*handler)(struct __uintr_frame *,
                                  unsigned long long))
{
    if (uintr_sys(SYS_uintr_register_handler, (long)handler, 0, 0) != 0)
        die("uintr_register_handler");
}

/* ---------------------------------------------------------------- ops */

static double
per_op(uint64_t cycles, uint64_t empty, long iterations)
{
    return (double)(cycles > empty ? cycles - empty : 0) /
           (16.0 * (double)iterations);
}

static int
run_ops(long iterations)
{
    register_receiver(count_handler);
    const long self = uintr_sys(SYS_uintr_register_self, 1, 0, 0);
    if (self < 0)
        die("uintr_register_self");

    uint64_t t0, empty, c_clui, c_stui, c_testui, c_send;

    /* Warm the loops' code and the branch predictor once. */
    for (int pass = 0; pass < 2; ++pass) {
        t0 = tsc();
        for (long i = 0; i < iterations; ++i)
            __asm__ volatile("" ::: "memory");
        empty = tsc() - t0;

        t0 = tsc();
        for (long i = 0; i < iterations; ++i)
            __asm__ volatile(REPEAT16("clui\n\t") ::: "memory");
        c_clui = tsc() - t0;

        t0 = tsc();
        for (long i = 0; i < iterations; ++i)
            __asm__ volatile(REPEAT16("stui\n\t") ::: "memory");
        c_stui = tsc() - t0;

        t0 = tsc();
        for (long i = 0; i < iterations; ++i)
            __asm__ volatile(REPEAT16("testui\n\t") ::: "memory", "cc");
        c_testui = tsc() - t0;

        /* To self with UIF clear: each one posts (and notifies at most
         * once until the notification is processed), none is delivered. */
        _clui();
        t0 = tsc();
        for (long i = 0; i < iterations; ++i)
            __asm__ volatile(REPEAT16("senduipi %0\n\t")::"r"(self)
                             : "memory");
        c_send = tsc() - t0;
    }

    printf("RESULT test=ops iterations=%ld empty_loop=%.2f clui=%.2f "
           "stui=%.2f testui=%.2f senduipi=%.2f delivered=%lu\n",
           iterations, (double)empty / (double)iterations,
           per_op(c_clui, empty, iterations),
           per_op(c_stui, empty, iterations),
           per_op(c_testui, empty, iterations),
           per_op(c_send, empty, iterations), (unsigned long)delivered);
    return 0;
}

static volatile uint64_t sink;

/* ---------------------------------------------------------------- e2e */

static volatile int e2e_fd = -1;
static volatile int e2e_done;
static long e2e_events;
static uint64_t e2e_gap;
static uint64_t e2e_send[MAX_RECORDS];

static void *
e2e_sender(void *arg)
{
    (void)arg;
    while (e2e_fd < 0)
        ;
    const long idx = uintr_sys(SYS_uintr_register_sender, e2e_fd, 0, 0);
    if (idx < 0)
        die("uintr_register_sender");
    for (long i = 0; i < e2e_events; ++i) {
        while (probe_count < (uint64_t)i)
            ;
        const uint64_t start = tsc();
        while (tsc() - start < e2e_gap)
            ;
        const uint64_t t = tsc();
        _senduipi(idx);
        e2e_send[i] = t;
        while (probe_count <= (uint64_t)i)
            ;
    }
    e2e_done = 1;
    return NULL;
}

/* The receiver side of an end-to-end run: registers the probe handler,
 * starts the sender thread (`events` interrupts, `gap` cycles apart), takes
 * the vector fd and enables delivery. */
static pthread_t
start_e2e(long events, uint64_t gap)
{
    e2e_events = events;
    e2e_gap = gap;
    register_receiver(probe_handler);
    pthread_t sender;
    if (pthread_create(&sender, NULL, e2e_sender, NULL) != 0)
        die("pthread_create");
    e2e_fd = (int)uintr_sys(SYS_uintr_vector_fd, 2, 0, 0);
    if (e2e_fd < 0)
        die("uintr_vector_fd");
    _stui();
    return sender;
}

static int
run_e2e(long events, uint64_t gap)
{
    if (events > MAX_RECORDS)
        events = MAX_RECORDS;
    pthread_t sender = start_e2e(events, gap);

    /* Spin on the TSC, as in xUI §3.5; remember when the handler returned
     * (the first TSC after its exit). */
    static uint64_t resume[MAX_RECORDS];
    uint64_t seen = 0;
    while (!e2e_done) {
        const uint64_t t = tsc();
        receiver_last = t;
        const uint64_t n = probe_count;
        if (n > seen && t > probe_exit[n - 1]) {
            resume[n - 1] = t;
            seen = n;
        }
    }
    pthread_join(sender, NULL);

    /* The first event warms caches and predictors; it is not counted. */
    double e2e = 0, to_last = 0, to_handler = 0, uiret = 0;
    long n = 0;
    for (long i = 1; i < events; ++i) {
        if (!resume[i])
            continue;
        e2e += (double)(probe_entry[i] - e2e_send[i]);
        to_last += (double)(probe_last[i] - e2e_send[i]);
        to_handler += (double)(probe_entry[i] - probe_last[i]);
        uiret += (double)(resume[i] - probe_exit[i]);
        n++;
    }
    if (!n)
        die("e2e: no complete event");
    printf("RESULT test=e2e events=%ld end_to_end=%.1f send_to_last=%.1f "
           "last_to_handler=%.1f exit_to_resume=%.1f\n",
           n, e2e / n, to_last / n, to_handler / n, uiret / n);
    return 0;
}

/* -------------------------------------------------------------- chase */

static int
run_chase(size_t bytes, unsigned long rsp_every, long events, uint64_t gap)
{
    if (events > MAX_RECORDS)
        events = MAX_RECORDS;
    if (events < 2) {
        fprintf(stderr, "uintr_micro: chase needs at least 2 events\n");
        return 1;
    }
    size_t nodes;
    struct chase_node *p = chase_build(bytes, &nodes);
    if (!p)
        die("chase: allocation");
    pthread_t sender = start_e2e(events, gap);

    uint64_t chased = 0;
    const unsigned long step = rsp_every ? rsp_every : 64;
    while (!e2e_done) {
        p = rsp_every ? chase_into_rsp(p, step) : chase_loads(p, step);
        chased += step;
    }
    pthread_join(sender, NULL);
    sink = (uint64_t)(uintptr_t)p;

    /* The first event warms caches and predictors; it is not counted. */
    double sum = 0, worst = 0, best = 0;
    long n = 0;
    for (long i = 1; i < events; ++i) {
        const double d = (double)(probe_entry[i] - e2e_send[i]);
        sum += d;
        worst = n == 0 || d > worst ? d : worst;
        best = n == 0 || d < best ? d : best;
        n++;
    }
    printf("RESULT test=chase bytes=%lu nodes=%lu rsp_every=%lu events=%ld "
           "loads=%lu end_to_end=%.1f min_end_to_end=%.0f "
           "max_end_to_end=%.0f\n",
           (unsigned long)bytes, (unsigned long)nodes, rsp_every, n,
           (unsigned long)chased, sum / n, best, worst);
    return 0;
}

/* ----------------------------------------------------------- overhead */

static uint64_t
fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

#define LP_N 96
static double lp_a[LP_N][LP_N], lp_x[LP_N], lp_y[LP_N];

static void
linpack_once(void)
{
    /* y = A x, then x = y / |y|_1: a daxpy-dominated kernel. */
    for (int i = 0; i < LP_N; ++i) {
        double s = 0;
        for (int j = 0; j < LP_N; ++j)
            s += lp_a[i][j] * lp_x[j];
        lp_y[i] = s;
    }
    double norm = 0;
    for (int i = 0; i < LP_N; ++i)
        norm += lp_y[i] > 0 ? lp_y[i] : -lp_y[i];
    for (int i = 0; i < LP_N; ++i)
        lp_x[i] = lp_y[i] / (norm + 1.0);
}

#define MEM_BYTES (256 * 1024)
static uint8_t mem_src[MEM_BYTES], mem_dst[MEM_BYTES];

static void
run_kernel(const char *kernel, long reps)
{
    if (!strcmp(kernel, "spin")) {
        uint64_t x = 1;
        for (long i = 0; i < reps * 10000; ++i)
            x = x * 3 + (uint64_t)i;
        sink = x;
    } else if (!strcmp(kernel, "fib")) {
        for (long i = 0; i < reps; ++i)
            sink += fib(20);
    } else if (!strcmp(kernel, "linpack")) {
        for (long i = 0; i < reps; ++i)
            linpack_once();
        sink = (uint64_t)lp_x[0];
    } else if (!strcmp(kernel, "memops")) {
        for (long i = 0; i < reps; ++i) {
            memcpy(mem_dst, mem_src, MEM_BYTES / 4);
            memset(mem_src + (i % 4) * (MEM_BYTES / 4), (int)i,
                   MEM_BYTES / 4);
        }
        sink = mem_dst[reps % MEM_BYTES];
    } else {
        fprintf(stderr, "uintr_micro: unknown kernel %s\n", kernel);
        exit(1);
    }
}

static volatile int timer_fd = -1;
static volatile int timer_armed, timer_stop;
/* Set by the timer thread once it has seen timer_armed clear (every
 * senduipi it made is issued); cleared by the receiver before it clears
 * timer_armed. */
static volatile int timer_idle;
static volatile uint64_t timer_interval;
static volatile uint64_t timer_sent;

static void *
timer_thread(void *arg)
{
    (void)arg;
    while (timer_fd < 0)
        ;
    const long idx = uintr_sys(SYS_uintr_register_sender, timer_fd, 0, 0);
    if (idx < 0)
        die("uintr_register_sender");
    uint64_t next = 0;
    while (!timer_stop) {
        if (!timer_armed) {
            if (!timer_idle)
                timer_idle = 1;
            next = tsc() + timer_interval;
            continue;
        }
        if (tsc() >= next) {
            _senduipi(idx);
            timer_sent++;
            next += timer_interval;
        }
    }
    return NULL;
}

#define MAX_PHASES 16
/* Between the runs of a sweep: more than an end-to-end delivery. */
#define SETTLE_CYCLES 20000

/* A comma-separated list of positive numbers into out[]; the count, or -1
 * when it is malformed or longer than MAX_PHASES. */
static int
parse_list(const char *text, uint64_t out[MAX_PHASES])
{
    int n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        const unsigned long long v = strtoull(p, &end, 0);
        if (end == p || errno || v == 0 || n == MAX_PHASES)
            return -1;
        out[n++] = v;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

static int
run_overhead(const char *kernel, const char *source, const char *intervals,
             const char *repetitions)
{
    const int uipi = !strcmp(source, "uipi");
    const int kbtimer = !strcmp(source, "kbtimer");
    if (!uipi && !kbtimer && strcmp(source, "none") != 0) {
        fprintf(stderr, "uintr_micro: unknown source %s\n", source);
        return 1;
    }
    uint64_t interval[MAX_PHASES], reps[MAX_PHASES];
    const int phases = parse_list(intervals, interval);
    if (phases < 1 || parse_list(repetitions, reps) != phases) {
        fprintf(stderr, "uintr_micro: overhead needs as many <reps> as "
                        "<interval-cycles>, each a positive number, at "
                        "most %d\n", MAX_PHASES);
        return 1;
    }
    uint64_t most = 0;
    for (int i = 0; i < phases; ++i)
        most = reps[i] > most ? reps[i] : most;
    for (int i = 0; i < LP_N; ++i) {
        lp_x[i] = 1.0 / (i + 1);
        for (int j = 0; j < LP_N; ++j)
            lp_a[i][j] = (double)((i * 7 + j * 3) % 11) - 5.0;
    }
    register_receiver(tick_handler);
    pthread_t timer;
    timer_interval = interval[0];
    if (uipi) {
        if (pthread_create(&timer, NULL, timer_thread, NULL) != 0)
            die("pthread_create");
        timer_fd = (int)uintr_sys(SYS_uintr_vector_fd, 4, 0, 0);
        if (timer_fd < 0)
            die("uintr_vector_fd");
    }
    _stui();

    run_kernel(kernel, (long)most); /* warm-up */
    uint64_t base[MAX_PHASES] = {0};
    for (int i = 0; i < phases; ++i) {
        /* The base of these repetitions: measured once, before the first
         * run that needs it. */
        int known = -1;
        for (int j = 0; j < i && known < 0; ++j)
            if (reps[j] == reps[i])
                known = j;
        if (known >= 0) {
            base[i] = base[known];
        } else {
            const uint64_t t0 = tsc();
            run_kernel(kernel, (long)reps[i]);
            base[i] = tsc() - t0;
        }

        ticks = 0;
        if (uipi)
            timer_armed = 1;
        if (kbtimer)
            kb_set_timer(interval[i], 1, 4);
        const uint64_t t0 = tsc();
        run_kernel(kernel, (long)reps[i]);
        const uint64_t with = tsc() - t0;
        if (kbtimer)
            kb_clear_timer();
        timer_idle = 0;
        timer_armed = 0;
        const uint64_t events = ticks;
        if (i + 1 < phases) {
            /* Let the last interrupt of this run land before the next base
             * or run starts, then give the timer its next interval. */
            while (uipi && !timer_idle)
                ;
            const uint64_t settle = tsc();
            while (tsc() - settle < SETTLE_CYCLES)
                ;
            timer_interval = interval[i + 1];
        }

        const double lost = (double)with - (double)base[i];
        printf("RESULT test=overhead kernel=%s source=%s interval=%lu "
               "reps=%lu base_cycles=%lu cycles=%lu events=%lu "
               "slowdown_pct=%.3f cycles_per_event=%.1f\n",
               kernel, source, (unsigned long)interval[i],
               (unsigned long)reps[i], (unsigned long)base[i],
               (unsigned long)with, (unsigned long)events,
               100.0 * lost / (double)base[i], events ? lost / events : 0.0);
    }
    if (uipi) {
        timer_stop = 1;
        pthread_join(timer, NULL);
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: uintr_micro ops|e2e|overhead|chase ...\n");
        return 1;
    }
    const int kb = argc > 3 && !strcmp(argv[1], "overhead") &&
                   !strcmp(argv[3], "kbtimer");
    if (!uintr_detect(kb)) {
        printf("RESULT test=%s skipped=no-uintr\n", argv[1]);
        return 2;
    }
    if (!strcmp(argv[1], "ops"))
        return run_ops(argc > 2 ? atol(argv[2]) : 50);
    if (!strcmp(argv[1], "e2e"))
        return run_e2e(argc > 2 ? atol(argv[2]) : 20,
                       argc > 3 ? strtoull(argv[3], NULL, 0) : 4000);
    if (!strcmp(argv[1], "overhead") && argc > 5)
        return run_overhead(argv[2], argv[3], argv[4], argv[5]);
    if (!strcmp(argv[1], "chase") && argc > 5)
        return run_chase((size_t)strtoull(argv[2], NULL, 0),
                         strtoul(argv[3], NULL, 0), atol(argv[4]),
                         strtoull(argv[5], NULL, 0));
    fprintf(stderr, "uintr_micro: bad arguments\n");
    return 1;
}
