/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Native checks of chase.h (no UINTR needed): the chain is one cycle
 * through every node, and the assembly loops take exactly the requested
 * number of steps and leave RSP as it was.  `make check` runs it.
 */

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "chase.h"

static int failures;

#define CHECK(cond)                                                       \
    do {                                                                  \
        if (!(cond)) {                                                    \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                    __LINE__, #cond);                                     \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static struct chase_node *
walk(struct chase_node *p, unsigned long steps)
{
    while (steps--)
        p = p->next;
    return p;
}

static void
one_cycle(size_t bytes)
{
    size_t n = 0;
    struct chase_node *nodes = chase_build(bytes, &n);
    CHECK(nodes != NULL);
    if (!nodes)
        return;
    CHECK(n == (bytes / 64 < 2 ? 2 : bytes / 64));
    CHECK(((uintptr_t)nodes & 63) == 0);
    char *seen = calloc(n, 1);
    struct chase_node *p = nodes;
    size_t steps = 0;
    do {
        const size_t i = (size_t)(p - nodes);
        CHECK(i < n);
        if (i >= n)
            break;
        CHECK(!seen[i]);
        seen[i] = 1;
        p = p->next;
        steps++;
    } while (p != nodes && steps <= n);
    CHECK(steps == n); /* back at the start after visiting every node once */
    free(seen);
    free(nodes);
}

/* A chase must not be a constant stride a prefetcher could follow: the
 * distances between successive nodes take many values. */
static void
no_fixed_stride(size_t bytes)
{
    size_t n = 0;
    struct chase_node *nodes = chase_build(bytes, &n);
    CHECK(nodes != NULL);
    if (!nodes)
        return;
    struct chase_node *p = nodes;
    ptrdiff_t last = 0;
    size_t changes = 0;
    for (int k = 0; k < 1000; ++k) {
        const ptrdiff_t d = p->next - p;
        changes += k > 0 && d != last;
        last = d;
        p = p->next;
    }
    CHECK(changes > 500);
    free(nodes);
}

static void
loops_step_exactly(void)
{
    size_t n = 0;
    struct chase_node *nodes = chase_build(1 << 16, &n);
    CHECK(nodes != NULL);
    if (!nodes)
        return;
    const unsigned long counts[] = {1, 2, 7, 50, 64, 1000};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); ++k) {
        struct chase_node *start = walk(nodes, k * 13);
        void *sp_before = __builtin_frame_address(0);
        CHECK(chase_loads(start, counts[k]) == walk(start, counts[k]));
        CHECK(chase_into_rsp(start, counts[k]) == walk(start, counts[k]));
        CHECK(__builtin_frame_address(0) == sp_before);
    }
    free(nodes);
}

int
main(void)
{
    one_cycle(0);
    one_cycle(64);
    one_cycle(64 * 3 + 17);
    one_cycle(16 << 10);
    one_cycle(1 << 20);
    one_cycle(6 << 20);  /* 3 * 2^15 nodes: not a power of two */
    one_cycle(64 * 3 * 5 * 7 * 11);
    one_cycle(64 * 4099); /* a prime number of nodes */
    one_cycle(64 * 4 * 4099);
    no_fixed_stride(1 << 20);
    loops_step_exactly();
    printf("test_chase: %d failures\n", failures);
    return failures ? 1 : 0;
}
