/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Unit tests of core/delivery_account.hh: squash and refill accounting.
 */

#include "check.hh"
#include "delivery_account.hh"

using namespace nemo_uintr::core;

namespace
{

void
testFlushLosesWhatWasInFlight()
{
    DeliveryAccount a;
    a.entered(Strategy::Flush, 120);
    a.entered(Strategy::Flush, 80);
    CHECK_EQ(a.deliveries(), 2u);
    CHECK_EQ(a.flushes(), 2u);
    CHECK_EQ(a.squashed(), 200u);
    CHECK(a.squashedPerFlush() == 100.0);
    CHECK_EQ(a.keptInFlight(), 0u);
}

void
testTrackedAndDrainLoseNothing()
{
    DeliveryAccount a;
    CHECK(a.squashedPerFlush() == 0.0);
    a.entered(Strategy::Tracked, 150);
    a.reinjected();
    a.entered(Strategy::Tracked, 40);
    a.entered(Strategy::Drain, 0);
    CHECK_EQ(a.deliveries(), 3u);
    CHECK_EQ(a.injections(), 2u);
    CHECK_EQ(a.reinjections(), 1u);
    CHECK_EQ(a.drains(), 1u);
    CHECK_EQ(a.keptInFlight(), 190u);
    CHECK_EQ(a.squashed(), 0u);
    CHECK_EQ(a.flushes(), 0u);
}

} // anonymous namespace

TestList
deliveryAccountTests()
{
    return {
        {"flush_loses_what_was_in_flight", testFlushLosesWhatWasInFlight},
        {"tracked_and_drain_lose_nothing", testTrackedAndDrainLoseNothing},
    };
}
