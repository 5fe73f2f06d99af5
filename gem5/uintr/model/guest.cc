/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "nemo_uintr/model/guest.hh"

#include "base/intmath.hh"
#include "base/logging.hh"
#include "cpu/thread_context.hh"
#include "mem/page_table.hh"
#include "mem/se_translating_port_proxy.hh"
#include "sim/mem_state.hh"
#include "sim/process.hh"
#include "sim/system.hh"

namespace gem5
{
namespace nemo_uintr
{

core::Thread
threadOf(ThreadContext *tc)
{
    core::Thread t;
    t.context = tc->contextId();
    if (Process *p = tc->getProcessPtr()) {
        t.pid = int(p->pid());
        t.tgid = int(p->tgid());
    }
    return t;
}

bool
runs(System *system, int ctx, int pid)
{
    if (ctx < 0 || ctx >= int(system->threads.size()))
        return false;
    ThreadContext *tc = system->threads[ctx];
    if (!tc || tc->status() == ThreadContext::Halted ||
        tc->status() == ThreadContext::Halting) {
        return false;
    }
    Process *p = tc->getProcessPtr();
    return p && int(p->pid()) == pid;
}

uint64_t
ProcessMemory::read64(uint64_t addr)
{
    uint64_t value = 0;
    SETranslatingPortProxy proxy(tc);
    if (!proxy.tryReadBlob(addr, &value, sizeof(value)))
        warn("uintr: read of unmapped address %#x\n", addr);
    return value;
}

void
ProcessMemory::write64(uint64_t addr, uint64_t value)
{
    SETranslatingPortProxy proxy(tc);
    if (!proxy.tryWriteBlob(addr, &value, sizeof(value)))
        warn("uintr: write to unmapped address %#x\n", addr);
}

ThreadContext *
SystemHost::contextOf(int tgid)
{
    for (ThreadContext *tc : system->threads) {
        if (!tc || tc->status() == ThreadContext::Halted ||
            tc->status() == ThreadContext::Halting) {
            continue;
        }
        Process *p = tc->getProcessPtr();
        if (p && int(p->tgid()) == tgid)
            return tc;
    }
    return nullptr;
}

core::GuestMemory *
SystemHost::memory(int tgid)
{
    ThreadContext *tc = contextOf(tgid);
    if (!tc)
        return nullptr;
    auto &mem = memories[tgid];
    mem = std::make_unique<ProcessMemory>(tc);
    return mem.get();
}

bool
SystemHost::physical(int tgid, uint64_t vaddr, Addr &paddr)
{
    ThreadContext *tc = contextOf(tgid);
    if (!tc)
        return false;
    Process *p = tc->getProcessPtr();
    return p && p->pTable->translate(vaddr, paddr);
}

uint64_t
SystemHost::allocate(int tgid, uint64_t bytes)
{
    ThreadContext *tc = contextOf(tgid);
    if (!tc)
        return 0;
    Process *p = tc->getProcessPtr();
    const uint64_t size = roundUp(bytes, uint64_t(4096));
    // Kernel memory on real hardware; here a private mapping of the
    // process, which only the model touches.
    const Addr addr = p->memState->extendMmap(size);
    p->memState->mapRegion(addr, size, "[uintr]");
    p->allocateMem(addr, size);
    SETranslatingPortProxy proxy(tc);
    if (!proxy.tryMemsetBlob(addr, 0, size))
        return 0;
    return addr;
}

bool
SystemHost::alive(const core::Thread &t)
{
    return runs(system, t.context, t.pid);
}

} // namespace nemo_uintr
} // namespace gem5
