/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "upid_access.hh"

#include <utility>

#include "structures.hh"

namespace nemo_uintr
{
namespace core
{

AccessChain
AccessChain::senduipi(uint64_t table, uint64_t index, uint64_t upid,
                      int sender, int receiver)
{
    return AccessChain({
        {AccessKind::Read, table + index * uittEntrySize, uittEntrySize,
         sender},
        {AccessKind::LockedRmw, upid, upidSize, receiver},
    });
}

AccessChain
AccessChain::notification(uint64_t upid, int tgid)
{
    return AccessChain({{AccessKind::LockedRmw, upid, upidSize, tgid}});
}

const Access *
AccessChain::next() const
{
    return done() ? nullptr : &steps[at];
}

bool
AccessChain::completed(uint64_t cycles)
{
    if (done())
        return false;
    total += cycles;
    ++at;
    return true;
}

} // namespace core
} // namespace nemo_uintr
