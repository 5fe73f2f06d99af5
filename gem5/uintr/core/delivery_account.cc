/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "delivery_account.hh"

namespace nemo_uintr
{
namespace core
{

void
DeliveryAccount::entered(Strategy s, uint64_t in_flight)
{
    ++_deliveries;
    switch (s) {
      case Strategy::Flush:
        ++_flushes;
        _squashed += in_flight;
        break;
      case Strategy::Drain:
        // Entered behind an empty pipeline: nothing to account.
        ++_drains;
        break;
      case Strategy::Tracked:
        ++_injections;
        _kept += in_flight;
        break;
    }
}

double
DeliveryAccount::squashedPerFlush() const
{
    return _flushes ? double(_squashed) / double(_flushes) : 0.0;
}

} // namespace core
} // namespace nemo_uintr
