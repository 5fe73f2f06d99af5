/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Shared pieces of the UINTR benchmarks that run inside gem5 (syscall
 * emulation, UINTR model): detection, the syscalls of Intel's UINTR kernel
 * (471-479), xUI's KB-timer instructions, and the interrupt handlers
 * (handlers.c, built with -mgeneral-regs-only).
 */

#ifndef NEMO_UINTR_BENCH_H
#define NEMO_UINTR_BENCH_H

#include <stdint.h>
#include <unistd.h>
#include <x86gprintrin.h>
#include <x86intrin.h>

enum {
    SYS_uintr_register_handler = 471,
    SYS_uintr_unregister_handler = 472,
    SYS_uintr_vector_fd = 473,
    SYS_uintr_register_sender = 474,
    SYS_uintr_unregister_sender = 475,
    SYS_uintr_wait = 476,
    SYS_uintr_register_self = 477,
    SYS_uintr_alt_stack = 478,
    SYS_uintr_ipi_fd = 479,
};

#define UINTR_HANDLER_FLAG_WAITING_RECEIVER 0x1000

/* CPUID.(7,0):EDX[5] and the `uintr` flag in /proc/cpuinfo (UINTR-ABI.md
 * §1); `kbtimer` also needs the `xui_kbtimer` flag.  Returns 1 if usable. */
int uintr_detect(int want_kbtimer);

static inline long
uintr_sys(long nr, long a, long b, long c)
{
    return syscall(nr, a, b, c);
}

static inline uint64_t
tsc(void)
{
    return __rdtsc();
}

/* xUI set_timer / clear_timer, in the pseudo-op slots gem5 reserves for
 * users (0F 04 55 00 / 0F 04 56 00).  Mode 0: `cycles` is an absolute TSC
 * deadline; mode 1: a period. */
static inline void
kb_set_timer(uint64_t cycles, uint64_t mode, uint64_t vector)
{
    __asm__ volatile(".byte 0x0f, 0x04; .word 0x55"
                     :
                     : "a"(cycles), "c"(mode), "d"(vector)
                     : "memory");
}

static inline void
kb_clear_timer(void)
{
    __asm__ volatile(".byte 0x0f, 0x04; .word 0x56" ::: "memory");
}

/* --- handlers.c --- */

struct __uintr_frame;

#define MAX_RECORDS 4096

/* Counts every delivery and records its vector, frame and stack. */
void count_handler(struct __uintr_frame *frame, unsigned long long vector);
extern volatile uint64_t delivered;
extern volatile uint64_t delivered_by_vector[64];
extern volatile unsigned order[MAX_RECORDS];
extern volatile uint64_t frame_rip[MAX_RECORDS];
extern volatile uint64_t frame_rsp[MAX_RECORDS];
extern volatile uint64_t frame_flags[MAX_RECORDS];
extern volatile uint64_t handler_stack[MAX_RECORDS];

/* Latency probe: time of entry and of exit, and the receiver's last
 * pre-interrupt timestamp (receiver_last). */
void probe_handler(struct __uintr_frame *frame, unsigned long long vector);
extern volatile uint64_t receiver_last;
extern volatile uint64_t probe_count;
extern volatile uint64_t probe_entry[MAX_RECORDS];
extern volatile uint64_t probe_last[MAX_RECORDS];
extern volatile uint64_t probe_exit[MAX_RECORDS];

/* The cheapest handler: one counter (receiver-overhead runs). */
void tick_handler(struct __uintr_frame *frame, unsigned long long vector);
extern volatile uint64_t ticks;

#endif /* NEMO_UINTR_BENCH_H */
