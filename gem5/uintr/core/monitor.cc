/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "monitor.hh"

namespace nemo_uintr
{
namespace core
{

const char *
wakeReasonName(WakeReason r)
{
    switch (r) {
      case WakeReason::Write:
        return "write";
      case WakeReason::Deadline:
        return "deadline";
      case WakeReason::OsLimit:
        return "os-limit";
      case WakeReason::Interrupt:
        return "interrupt";
    }
    return "?";
}

void
WaitMonitor::arm(uint64_t addr)
{
    _armed = true;
    _triggered = false;
    _line = monitorLine(addr);
}

bool
WaitMonitor::write(uint64_t addr)
{
    if (!_armed || monitorLine(addr) != _line)
        return false;
    _triggered = true;
    return _sleeping && _kind == WaitKind::Umwait;
}

SleepDecision
WaitMonitor::begin(WaitKind kind, uint64_t now, uint32_t ecx,
                   uint64_t deadline, uint32_t umwaitControl,
                   bool interruptPending)
{
    SleepDecision d;
    const bool c02Allowed = !(umwaitControl & 1);
    d.state = (ecx & 1) || !c02Allowed ? PowerState::C01 : PowerState::C02;

    const bool monitorSaysGo =
        kind == WaitKind::Umwait && (!_armed || _triggered);
    if (monitorSaysGo || interruptPending || now >= deadline) {
        if (kind == WaitKind::Umwait)
            _armed = _triggered = false;
        return d;
    }

    // Bits 31:2 are the limit in TSC ticks (bits 1:0 read as zero).
    const uint64_t limit = umwaitControl & ~uint32_t(3);
    d.sleeps = true;
    d.wakeAt = deadline;
    if (limit && now + limit < deadline) {
        d.wakeAt = now + limit;
        d.limitedByOs = true;
    }
    _sleeping = true;
    _kind = kind;
    return d;
}

bool
WaitMonitor::end(WakeReason why, bool *ended)
{
    if (ended)
        *ended = _sleeping;
    if (!_sleeping)
        return false;
    _sleeping = false;
    if (_kind == WaitKind::Umwait)
        _armed = _triggered = false;
    return why == WakeReason::OsLimit;
}

} // namespace core
} // namespace nemo_uintr
