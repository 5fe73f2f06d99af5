/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The checks of the core's unit tests (test_core.cc runs every test file's
 * tests and prints the totals).
 */

#ifndef NEMO_UINTR_TESTS_CHECK_HH
#define NEMO_UINTR_TESTS_CHECK_HH

#include <cstdio>
#include <functional>
#include <utility>
#include <vector>

inline int failures = 0;
inline int checks = 0;


#define CHECK(cond)                                                        \
    do {                                                                   \
        ++checks;                                                          \
        if (!(cond)) {                                                     \
            ++failures;                                                    \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__,   \
                         __LINE__, #cond);                                 \
        }                                                                  \
    } while (0)

#define CHECK_EQ(a, b)                                                     \
    do {                                                                   \
        ++checks;                                                          \
        const auto va = (a);                                               \
        const auto vb = (b);                                               \
        if (!(va == vb)) {                                                 \
            ++failures;                                                    \
            std::fprintf(stderr, "%s:%d: %s == %s failed (%lld vs %lld)\n", \
                         __FILE__, __LINE__, #a, #b, (long long)va,        \
                         (long long)vb);                                   \
        }                                                                  \
    } while (0)

using TestList = std::vector<std::pair<const char *, std::function<void()>>>;

/** The tests of test_monitor.cc, test_delivery_account.cc and
 *  test_upid_access.cc. */
TestList monitorTests();
TestList deliveryAccountTests();
TestList upidAccessTests();

#endif // NEMO_UINTR_TESTS_CHECK_HH
