/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "kb_timer.hh"

#include "structures.hh"

namespace nemo_uintr
{
namespace core
{

KbTimer::SetResult
KbTimer::set(uint64_t now, uint64_t cycles, uint64_t mode, uint64_t vector)
{
    if (vector >= numVectors)
        return SetResult::BadVector;
    if (mode == uint64_t(KbTimerMode::OneShot)) {
        _periodic = false;
        _period = 0;
        _deadline = cycles;
    } else if (mode == uint64_t(KbTimerMode::Periodic) && cycles) {
        _periodic = true;
        _period = cycles;
        _deadline = now + cycles;
    } else {
        return SetResult::BadArgument;
    }
    _vector = unsigned(vector);
    _armed = true;
    return SetResult::Ok;
}

bool
KbTimer::expire(uint64_t now)
{
    if (!_armed || now < _deadline)
        return false;
    if (_periodic) {
        _deadline += _period;
        if (_deadline <= now)
            _deadline = now + _period;
    } else {
        _armed = false;
    }
    return true;
}

} // namespace core
} // namespace nemo_uintr
