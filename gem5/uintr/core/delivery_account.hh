/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * What user-interrupt deliveries cost the pipeline, by strategy, without any
 * simulator type.  The CPU reports how many instructions were in flight when
 * a delivery entered; the strategy decides what became of them:
 *
 *  - flush: every one is squashed and fetched again after the handler's
 *    UIRET (lost work; the refill is the O3 core's);
 *  - drain: every one retires first, and delivery enters an empty
 *    pipeline (nothing lost; the wait is the cost, and it is timed by the
 *    core, not counted here);
 *  - tracked: they stay in flight ahead of the injected delivery (nothing
 *    lost); an injection squashed by an older misprediction or trap is
 *    injected again, and counted once more.
 *
 * Invariant: lost work only ever comes from flushes, instructions kept in
 * flight only from tracked injections, and every counted delivery is one
 * of the three.
 */

#ifndef NEMO_UINTR_CORE_DELIVERY_ACCOUNT_HH
#define NEMO_UINTR_CORE_DELIVERY_ACCOUNT_HH

#include <cstdint>

namespace nemo_uintr
{
namespace core
{

enum class Strategy
{
    Flush,
    Drain,
    Tracked,
};

class DeliveryAccount
{
  public:
    /** A delivery entered with `in_flight` instructions ahead of it. */
    void entered(Strategy s, uint64_t in_flight);
    /** A tracked injection was squashed and will be injected again. */
    void reinjected() { ++_reinjections; }

    uint64_t deliveries() const { return _deliveries; }
    uint64_t flushes() const { return _flushes; }
    uint64_t drains() const { return _drains; }
    uint64_t injections() const { return _injections; }
    uint64_t reinjections() const { return _reinjections; }
    /** Instructions squashed by flushes, to be fetched again. */
    uint64_t squashed() const { return _squashed; }
    /** Instructions left in flight ahead of a tracked injection. */
    uint64_t keptInFlight() const { return _kept; }
    /** Mean lost work per flush (0 without flushes). */
    double squashedPerFlush() const;

  private:
    uint64_t _deliveries = 0;
    uint64_t _flushes = 0;
    uint64_t _drains = 0;
    uint64_t _injections = 0;
    uint64_t _reinjections = 0;
    uint64_t _squashed = 0;
    uint64_t _kept = 0;
};

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_DELIVERY_ACCOUNT_HH
