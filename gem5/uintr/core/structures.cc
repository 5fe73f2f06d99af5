/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "structures.hh"

namespace nemo_uintr
{
namespace core
{

const char *
postOutcomeName(PostOutcome o)
{
    switch (o) {
      case PostOutcome::Notify:
        return "notify";
      case PostOutcome::Outstanding:
        return "outstanding";
      case PostOutcome::Suppressed:
        return "suppressed";
    }
    return "?";
}

uint64_t
upidControl(bool on, bool sn, uint8_t nv, uint32_t ndst)
{
    return (on ? upidOn : 0) | (sn ? upidSn : 0) |
           (uint64_t(nv) << upidNvShift) | (uint64_t(ndst) << upidNdstShift);
}

PostOutcome
upidPost(GuestMemory &mem, uint64_t upid, unsigned vector)
{
    // The simulator runs one event at a time, so this read-modify-write is
    // as atomic as the CPU's locked one; the order (PIR first, then ON) is
    // the one that keeps uintr-sys's post/take pair lossless.
    const uint64_t pir_addr = upid + upidPirOffset;
    mem.write64(pir_addr, mem.read64(pir_addr) | (1ULL << (vector & 63)));
    const uint64_t control = mem.read64(upid);
    if (control & upidSn)
        return PostOutcome::Suppressed;
    if (control & upidOn)
        return PostOutcome::Outstanding;
    mem.write64(upid, control | upidOn);
    return PostOutcome::Notify;
}

uint64_t
upidTake(GuestMemory &mem, uint64_t upid)
{
    mem.write64(upid, mem.read64(upid) & ~upidOn);
    const uint64_t pir_addr = upid + upidPirOffset;
    const uint64_t pir = mem.read64(pir_addr);
    mem.write64(pir_addr, 0);
    return pir;
}

bool
upidSetSuppress(GuestMemory &mem, uint64_t upid, bool suppress)
{
    const uint64_t control = mem.read64(upid);
    mem.write64(upid, suppress ? (control | upidSn) : (control & ~upidSn));
    return control & upidSn;
}

UittEntry
UittEntry::make(uint64_t upid_addr, unsigned vector)
{
    UittEntry e;
    e.word0 = 1 | (uint64_t(vector & 0xff) << 8);
    e.upid = upid_addr;
    return e;
}

int
UittEntry::vector() const
{
    const unsigned v = (word0 >> 8) & 0xff;
    return v < numVectors ? int(v) : -1;
}

UittEntry
readUittEntry(GuestMemory &mem, uint64_t table, unsigned index)
{
    UittEntry e;
    const uint64_t addr = table + uint64_t(index) * uittEntrySize;
    e.word0 = mem.read64(addr);
    e.upid = mem.read64(addr + 8);
    return e;
}

void
writeUittEntry(GuestMemory &mem, uint64_t table, unsigned index,
               const UittEntry &e)
{
    const uint64_t addr = table + uint64_t(index) * uittEntrySize;
    mem.write64(addr, e.word0);
    mem.write64(addr + 8, e.upid);
}

SendLookup
senduipiLookup(GuestMemory &mem, uint64_t tt, uint64_t misc, uint64_t index)
{
    SendLookup r;
    if (!(tt & 1)) {
        r.fault = SendFault::InvalidOpcode;
        return r;
    }
    const uint64_t last = misc & 0xffffffffULL;
    if (index > last) {
        r.fault = SendFault::GeneralProtection;
        return r;
    }
    const uint64_t table = tt & ~0xfULL;
    const UittEntry e = readUittEntry(mem, table, unsigned(index));
    // Reserved bits: word0 7:1 and 63:16, UV >= 64, UPID address 5:0.
    const bool reserved = (e.word0 & ~0xff01ULL) != 0 || e.vector() < 0 ||
                          (e.upid & (upidAlign - 1)) != 0;
    if (!e.valid() || reserved) {
        r.fault = SendFault::GeneralProtection;
        return r;
    }
    r.vector = unsigned(e.vector());
    r.upid = e.upid;
    r.index = unsigned(index);
    return r;
}

uint64_t
uintrTt(uint64_t table_addr)
{
    return (table_addr & ~0xfULL) | 1;
}

uint64_t
uintrMisc(uint32_t table_entries, uint8_t uinv)
{
    return uint64_t(table_entries ? table_entries - 1 : 0) |
           (uint64_t(uinv) << 32);
}

unsigned
highestVector(uint64_t pending)
{
    return 63 - unsigned(__builtin_clzll(pending));
}

uint64_t
altStackAdjust(uint64_t sp)
{
    return sp ? (sp | 1) : defaultStackAdjust;
}

DeliveryFrame
deliveryFrame(uint64_t rsp, uint64_t stack_adjust, uint64_t rip,
              uint64_t rflags, unsigned vector)
{
    uint64_t top = (stack_adjust & 1) ? (stack_adjust & ~1ULL)
                                      : (rsp - stack_adjust);
    top &= ~0xfULL;
    DeliveryFrame f;
    f.rsp = top - 32;
    f.slot[0] = vector;
    f.slot[1] = rip;
    f.slot[2] = rflags;
    f.slot[3] = rsp;
    return f;
}

void
writeDeliveryFrame(GuestMemory &mem, const DeliveryFrame &f)
{
    for (int i = 0; i < 4; ++i)
        mem.write64(f.rsp + 8 * i, f.slot[i]);
}

UiretState
uiretPop(GuestMemory &mem, uint64_t rsp)
{
    UiretState s;
    s.rip = mem.read64(rsp);
    s.rflags = mem.read64(rsp + 8);
    s.rsp = mem.read64(rsp + 16);
    return s;
}

uint64_t
uiretFlags(uint64_t current, uint64_t popped)
{
    return (current & ~uiretFlagMask) | (popped & uiretFlagMask);
}

} // namespace core
} // namespace nemo_uintr
