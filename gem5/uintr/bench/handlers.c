/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * User-interrupt handlers.  GCC's interrupt attribute with -muintr saves
 * the registers each handler uses and returns with `add rsp, 8; uiret`;
 * -mgeneral-regs-only keeps them off the vector registers they would not
 * save.
 */

#include <string.h>

#include "uintr_bench.h"

volatile uint64_t delivered;
volatile uint64_t delivered_by_vector[64];
volatile unsigned order[MAX_RECORDS];
volatile uint64_t frame_rip[MAX_RECORDS];
volatile uint64_t frame_rsp[MAX_RECORDS];
volatile uint64_t frame_flags[MAX_RECORDS];
volatile uint64_t handler_stack[MAX_RECORDS];

volatile uint64_t receiver_last;
volatile uint64_t probe_count;
volatile uint64_t probe_entry[MAX_RECORDS];
volatile uint64_t probe_last[MAX_RECORDS];
volatile uint64_t probe_exit[MAX_RECORDS];

volatile uint64_t ticks;

void __attribute__((interrupt))
count_handler(struct __uintr_frame *frame, unsigned long long vector)
{
    const uint64_t n = delivered;
    if (n < MAX_RECORDS) {
        order[n] = (unsigned)vector;
        frame_rip[n] = frame->rip;
        frame_rsp[n] = frame->rsp;
        frame_flags[n] = frame->rflags;
        /* The frame starts 8 bytes above the vector, at the entry RSP. */
        handler_stack[n] = (uint64_t)frame - 8;
    }
    delivered_by_vector[vector & 63]++;
    delivered = n + 1;
}

void __attribute__((interrupt))
probe_handler(struct __uintr_frame *frame, unsigned long long vector)
{
    const uint64_t entry = __rdtsc();
    const uint64_t n = probe_count;
    (void)frame;
    (void)vector;
    if (n < MAX_RECORDS) {
        probe_entry[n] = entry;
        probe_last[n] = receiver_last;
    }
    probe_count = n + 1;
    if (n < MAX_RECORDS)
        probe_exit[n] = __rdtsc();
}

void __attribute__((interrupt))
tick_handler(struct __uintr_frame *frame, unsigned long long vector)
{
    (void)frame;
    (void)vector;
    ticks++;
}
