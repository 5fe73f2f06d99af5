/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Unit tests of core/upid_access.hh: the order, addresses and accounting of
 * the timed UITT and UPID accesses.
 */

#include "check.hh"
#include "structures.hh"
#include "upid_access.hh"

using namespace nemo_uintr::core;

namespace
{

void
testSenduipiReadsTheEntryThenLocksTheUpid()
{
    const uint64_t table = 0x7000, upid = 0x9040;
    AccessChain c = AccessChain::senduipi(table, 3, upid, 10, 20);
    CHECK(!c.done());
    const Access *first = c.next();
    CHECK(first != nullptr);
    CHECK(first->kind == AccessKind::Read);
    CHECK_EQ(first->addr, table + 3 * uittEntrySize);
    CHECK_EQ(first->size, uittEntrySize);
    CHECK_EQ(first->tgid, 10);
    // The UPID's access is not issued until the entry's read completed.
    CHECK(c.next() == first);
    CHECK(c.completed(40));
    const Access *second = c.next();
    CHECK(second != nullptr);
    CHECK(second->kind == AccessKind::LockedRmw);
    CHECK_EQ(second->addr, upid);
    CHECK_EQ(second->size, upidSize);
    CHECK_EQ(second->tgid, 20);
    CHECK(!c.done());
    CHECK(c.completed(120));
    CHECK(c.done());
    CHECK(c.next() == nullptr);
    CHECK_EQ(c.cycles(), 160u);
    CHECK_EQ(c.completedCount(), 2u);
}

void
testNotificationLocksTheUpidOnce()
{
    AccessChain c = AccessChain::notification(0x1000, 5);
    const Access *a = c.next();
    CHECK(a != nullptr);
    CHECK(a->kind == AccessKind::LockedRmw);
    CHECK_EQ(a->addr, 0x1000u);
    CHECK_EQ(a->tgid, 5);
    CHECK(c.completed(7));
    CHECK(c.done());
    CHECK_EQ(c.cycles(), 7u);
}

void
testACompletionWithNothingOutstandingChangesNothing()
{
    AccessChain empty = AccessChain::none();
    CHECK(empty.done());
    CHECK(!empty.completed(3));
    AccessChain c = AccessChain::notification(0x1000, 5);
    CHECK(c.completed(5));
    CHECK(!c.completed(1000));
    CHECK_EQ(c.cycles(), 5u);
    CHECK_EQ(c.completedCount(), 1u);
}

} // anonymous namespace

TestList
upidAccessTests()
{
    return {
        {"senduipi_reads_the_entry_then_locks_the_upid",
         testSenduipiReadsTheEntryThenLocksTheUpid},
        {"notification_locks_the_upid_once",
         testNotificationLocksTheUpidOnce},
        {"a_completion_with_nothing_outstanding_changes_nothing",
         testACompletionWithNothingOutstandingChangesNothing},
    };
}
