/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Functional test of the gem5 UINTR model, run inside the simulator:
 * detection, syscall error codes (UINTR-ABI.md §2), delivery to self and
 * to another core, UIF (clui/stui/testui), coalescing, priority, the
 * delivery frame (§4), the alternate stack, uintr_wait and the KB timer.
 * Exit status 0 when every check passed.
 *
 *   uintr_selftest [kbtimer]
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uintr_bench.h"

static int checks, failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        checks++;                                                          \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "selftest: line %d: CHECK(%s) failed\n",      \
                    __LINE__, #cond);                                      \
        }                                                                  \
    } while (0)

#define CHECK_ERR(call, err)                                               \
    do {                                                                   \
        errno = 0;                                                         \
        long r_ = (call);                                                  \
        checks++;                                                          \
        if (r_ != -1 || errno != (err)) {                                  \
            failures++;                                                    \
            fprintf(stderr, "selftest: line %d: %s = %ld errno %d, "      \
                    "want errno %d\n", __LINE__, #call, r_, errno, (err)); \
        }                                                                  \
    } while (0)

static void
spin_until(volatile uint64_t *counter, uint64_t value)
{
    const uint64_t start = tsc();
    while (*counter < value && tsc() - start < 2000000)
        ;
}

static void
spin_cycles(uint64_t cycles)
{
    const uint64_t start = tsc();
    while (tsc() - start < cycles)
        ;
}

static void
test_errors(void)
{
    CHECK_ERR(uintr_sys(SYS_uintr_vector_fd, 3, 0, 0), EINVAL);
    CHECK_ERR(uintr_sys(SYS_uintr_wait, 10, 0, 0), EOPNOTSUPP);
    CHECK_ERR(uintr_sys(SYS_uintr_register_handler, 0, 0, 0), EFAULT);
    CHECK_ERR(uintr_sys(SYS_uintr_register_handler, (long)count_handler,
                        0x4, 0), EINVAL);
    CHECK(uintr_sys(SYS_uintr_register_handler, (long)count_handler, 0, 0)
          == 0);
    CHECK_ERR(uintr_sys(SYS_uintr_register_handler, (long)count_handler, 0,
                        0), EBUSY);
    CHECK_ERR(uintr_sys(SYS_uintr_vector_fd, 64, 0, 0), ENOSPC);
    CHECK_ERR(uintr_sys(SYS_uintr_vector_fd, 3, 1, 0), EINVAL);
    CHECK_ERR(uintr_sys(SYS_uintr_register_sender, 999, 0, 0), EBADF);
    CHECK_ERR(uintr_sys(SYS_uintr_register_sender, 1, 0, 0), EOPNOTSUPP);
    CHECK_ERR(uintr_sys(SYS_uintr_unregister_sender, 300, 0, 0), EINVAL);
    CHECK_ERR(uintr_sys(SYS_uintr_wait, 2000000000L, 0, 0), EINVAL);
    CHECK_ERR(uintr_sys(SYS_uintr_register_self, 64, 0, 0), ENOSPC);
    CHECK_ERR(uintr_sys(SYS_uintr_alt_stack, 0, 0, 1), EINVAL);
}

static void
test_self_delivery(void)
{
    const long i5 = uintr_sys(SYS_uintr_register_self, 5, 0, 0);
    const long i3 = uintr_sys(SYS_uintr_register_self, 3, 0, 0);
    const long i60 = uintr_sys(SYS_uintr_register_self, 60, 0, 0);
    CHECK(i5 >= 0 && i3 >= 0 && i60 >= 0 && i5 != i3 && i3 != i60);

    /* UIF starts clear: posted, not delivered, until stui. */
    CHECK(_testui() == 0);
    _senduipi(i5);
    spin_cycles(5000);
    CHECK(delivered == 0);
    uint64_t sp_before;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp_before));
    _stui();
    CHECK(delivered == 1);
    CHECK(_testui() == 1);
    CHECK(order[0] == 5);
    CHECK(handler_stack[0] % 16 == 0);
    /* Default STACKADJUST: the frame is below the 128-byte red zone. */
    CHECK(handler_stack[0] + 32 <= frame_rsp[0] - 128);
    CHECK(frame_rsp[0] <= sp_before + 64 && frame_rsp[0] + 256 >= sp_before);
    CHECK((frame_flags[0] & 2) != 0);
    CHECK(frame_rip[0] != 0);

    /* A pending vector coalesces; the highest vector goes first. */
    _clui();
    CHECK(_testui() == 0);
    _senduipi(i5);
    _senduipi(i5);
    _senduipi(i3);
    _senduipi(i60);
    _senduipi(i5);
    spin_cycles(5000);
    CHECK(delivered == 1);
    _stui();
    spin_until(&delivered, 4);
    CHECK(delivered == 4);
    CHECK(order[1] == 60 && order[2] == 5 && order[3] == 3);
    CHECK(delivered_by_vector[5] == 2);

    /* Alternate stack: the frame goes to its top. */
    static uint8_t alt[16384] __attribute__((aligned(64)));
    const uint64_t top = (uint64_t)(alt + sizeof alt);
    CHECK(uintr_sys(SYS_uintr_alt_stack, (long)top, sizeof alt, 0) == 0);
    _senduipi(i3);
    spin_until(&delivered, 5);
    CHECK(delivered == 5);
    CHECK(handler_stack[4] == top - 32);
    CHECK(uintr_sys(SYS_uintr_alt_stack, 0, 0, 0) == 0);
    _senduipi(i3);
    spin_until(&delivered, 6);
    CHECK(handler_stack[5] < (uint64_t)alt ||
          handler_stack[5] >= top);

    CHECK(uintr_sys(SYS_uintr_unregister_sender, i60, 0, 0) == 0);
    CHECK_ERR(uintr_sys(SYS_uintr_unregister_sender, i60, 0, 0), EINVAL);
}

/* Another thread as receiver. */
static volatile int peer_fd = -1;
static volatile int peer_stop;
static volatile long peer_wait_result, peer_wait_errno, peer_timeout_result;
static volatile uint64_t peer_delivered_at_return;

static void *
peer(void *arg)
{
    (void)arg;
    if (uintr_sys(SYS_uintr_register_handler, (long)tick_handler,
                  UINTR_HANDLER_FLAG_WAITING_RECEIVER, 0) != 0) {
        return NULL;
    }
    /* Not inherited from the creating thread. */
    const int uif_at_start = _testui();
    peer_fd = (int)uintr_sys(SYS_uintr_vector_fd, 9, 0, 0);
    _stui();
    while (ticks == 0 && !peer_stop)
        ;
    /* Blocked in uintr_wait: a timeout, then an interrupt. */
    peer_timeout_result = uintr_sys(SYS_uintr_wait, 50, 0, 0);
    peer_stop = 2;
    errno = 0;
    peer_wait_result = uintr_sys(SYS_uintr_wait, 1000000, 0, 0);
    peer_wait_errno = errno;
    peer_delivered_at_return = ticks;
    while (peer_stop != 3)
        ;
    uintr_sys(SYS_uintr_unregister_handler, 0, 0, 0);
    peer_stop = 4;
    return (void *)(long)uif_at_start;
}

static void
test_cross_thread(void)
{
    pthread_t t;
    CHECK(pthread_create(&t, NULL, peer, NULL) == 0);
    while (peer_fd < 0)
        ;
    const long idx = uintr_sys(SYS_uintr_register_sender, peer_fd, 0, 0);
    CHECK(idx >= 0);
    _senduipi(idx);
    spin_until(&ticks, 1);
    CHECK(ticks == 1);

    while (peer_stop != 2)
        ;
    spin_cycles(20000);
    _senduipi(idx);
    peer_stop = 3;
    while (peer_stop != 4)
        ;
    CHECK(peer_timeout_result == 0);
    CHECK(peer_wait_result == -1 && peer_wait_errno == EINTR);
    /* The handler ran before uintr_wait returned to the program. */
    CHECK(peer_delivered_at_return == 2);
    void *uif_at_start;
    pthread_join(t, &uif_at_start);
    CHECK((long)uif_at_start == 0);

    /* The receiver is gone: new senders are refused, old ones are silent. */
    CHECK_ERR(uintr_sys(SYS_uintr_register_sender, peer_fd, 0, 0),
              ESHUTDOWN);
    _senduipi(idx);
    spin_cycles(5000);
    CHECK(ticks == 2);
}

static void
test_kbtimer(void)
{
    const uint64_t before = delivered;
    kb_set_timer(tsc() + 20000, 0, 7);
    spin_until(&delivered, before + 1);
    CHECK(delivered == before + 1);
    CHECK(order[before] == 7);
    spin_cycles(50000);
    CHECK(delivered == before + 1);

    kb_set_timer(10000, 1, 11);
    spin_cycles(65000);
    kb_clear_timer();
    const uint64_t n = delivered - before - 1;
    CHECK(n >= 5 && n <= 7);
    const uint64_t after = delivered;
    spin_cycles(40000);
    CHECK(delivered == after);
    CHECK(delivered_by_vector[11] == n);
}

int
main(int argc, char **argv)
{
    const int want_kbtimer = argc > 1 && strcmp(argv[1], "kbtimer") == 0;
    if (!uintr_detect(want_kbtimer)) {
        printf("selftest: UINTR not available, nothing tested\n");
        return 2;
    }
    test_errors();
    test_self_delivery();
    test_cross_thread();
    if (want_kbtimer)
        test_kbtimer();
    printf("selftest: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
