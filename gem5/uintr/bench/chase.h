/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The pointer chase of uintr_micro's `chase` mode (xUI §3.5 and §6.1),
 * separate so that test_chase.c can check it natively, without UINTR.
 *
 * Invariants: chase_build returns nodes forming exactly one cycle through
 * all `count` of them (so a chase never settles into a short, cached
 * loop); chase_loads and chase_into_rsp perform exactly `loads` dependent
 * loads (loads >= 1) and leave RSP with the value it had.
 */

#ifndef NEMO_UINTR_CHASE_H
#define NEMO_UINTR_CHASE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct chase_node {
    struct chase_node *next;
    char pad[56];
};

_Static_assert(sizeof(struct chase_node) == 64, "one node per cache line");

/* One random cycle through all nodes (Sattolo's shuffle read as a map
 * i -> perm[i]), written in address order so that building it streams.
 * NULL if memory runs out. */
static inline struct chase_node *
chase_build(size_t bytes, size_t *count)
{
    size_t n = bytes / sizeof(struct chase_node);
    if (n < 2)
        n = 2;
    struct chase_node *nodes = aligned_alloc(64, n * sizeof(*nodes));
    uint32_t *perm = malloc(n * sizeof(*perm));
    if (!nodes || !perm) {
        free(nodes);
        free(perm);
        return NULL;
    }
    for (size_t i = 0; i < n; ++i)
        perm[i] = (uint32_t)i;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = n - 1; i > 0; --i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* j uniform in [0, i) without a division (cheap to simulate). */
        const size_t j = (size_t)(((unsigned __int128)x * i) >> 64);
        const uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; ++i)
        nodes[i].next = &nodes[perm[i]];
    free(perm);
    *count = n;
    return nodes;
}

/* `loads` dependent loads. */
static inline struct chase_node *
chase_loads(struct chase_node *p, unsigned long loads)
{
    __asm__ volatile("1:\n\t"
                     "mov (%0), %0\n\t"
                     "dec %1\n\t"
                     "jnz 1b"
                     : "+r"(p), "+r"(loads)
                     :
                     : "cc", "memory");
    return p;
}

/* `loads` dependent loads, then RSP += (last pointer & 0): RSP keeps its
 * value but depends on every load of the chain (`and $0` is no zeroing
 * idiom, neither on Intel cores nor in gem5). */
static inline struct chase_node *
chase_into_rsp(struct chase_node *p, unsigned long loads)
{
    uint64_t zero;
    __asm__ volatile("1:\n\t"
                     "mov (%0), %0\n\t"
                     "dec %1\n\t"
                     "jnz 1b\n\t"
                     "mov %0, %2\n\t"
                     "and $0, %2\n\t"
                     "add %2, %%rsp"
                     : "+r"(p), "+r"(loads), "=&r"(zero)
                     :
                     : "cc", "memory");
    return p;
}

#endif /* NEMO_UINTR_CHASE_H */
