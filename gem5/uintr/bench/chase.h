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

/* The distinct prime factors of n, multiplied (n >= 1). */
static inline size_t
chase_radical(size_t n)
{
    size_t r = 1;
    for (size_t p = 2; p * p <= n; ++p) {
        if (n % p == 0) {
            r *= p;
            while (n % p == 0)
                n /= p;
        }
    }
    return n > 1 ? r * n : r;
}

static inline size_t
chase_gcd(size_t a, size_t b)
{
    while (b) {
        const size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* One pseudo-random cycle through all nodes: node i points to node
 * (a*i + c) mod n, a full-period linear congruential map (Hull-Dobell:
 * c coprime to n; a-1 divisible by every prime factor of n, and by 4 when
 * 4 divides n), so following the pointers visits every node once before
 * it returns.  Successive nodes lie far apart and at no fixed stride, so
 * a chase misses as a random one does; building it is one sequential
 * pass with no table and no division per node (cheap to simulate).
 * NULL if memory runs out. */
static inline struct chase_node *
chase_build(size_t bytes, size_t *count)
{
    size_t n = bytes / sizeof(struct chase_node);
    if (n < 2)
        n = 2;
    struct chase_node *nodes = aligned_alloc(64, n * sizeof(*nodes));
    if (!nodes)
        return NULL;
    size_t step = chase_radical(n);
    if (n % 4 == 0 && step % 4 != 0)
        step *= 2; /* n even, so step already has one factor 2 */
    /* a = 1 + step*k near 0.618 n; c coprime to n near 0.382 n. */
    const size_t a = (1 + step * (size_t)((double)n * 0.618 / (double)step)) % n;
    size_t c = (size_t)((double)n * 0.382) | 1;
    while (chase_gcd(c, n) != 1)
        c += 2;
    c %= n;
    size_t next = c; /* (a*i + c) mod n for i = 0, 1, ... */
    for (size_t i = 0; i < n; ++i) {
        nodes[i].next = &nodes[next];
        next += a;
        if (next >= n)
            next -= n;
    }
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
