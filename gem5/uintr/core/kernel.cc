/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "kernel.hh"

#include <cerrno>

namespace nemo_uintr
{
namespace core
{

namespace
{

constexpr uint64_t pageSize = 4096;
constexpr unsigned upidsPerPage = pageSize / upidAlign;

} // anonymous namespace

Receiver *
Kernel::registeredReceiver(const Thread &t)
{
    auto it = receivers.find(t.pid);
    if (it == receivers.end() || !it->second.registered)
        return nullptr;
    return &it->second;
}

bool
Kernel::receiverLive(const Receiver &r)
{
    return r.registered && host.alive(r.thread);
}

uint64_t
Kernel::allocateUpid(int tgid)
{
    UpidPool &pool = upidPools[tgid];
    if (!pool.page || pool.used == upidsPerPage) {
        pool.page = host.allocate(tgid, pageSize);
        pool.used = 0;
        if (!pool.page)
            return 0;
    }
    return pool.page + upidAlign * pool.used++;
}

TargetTable *
Kernel::ensureTable(int tgid)
{
    auto it = tables.find(tgid);
    if (it != tables.end())
        return &it->second;
    const uint64_t base = host.allocate(tgid, uittEntries * uittEntrySize);
    if (!base)
        return nullptr;
    TargetTable &table = tables[tgid];
    table.base = base;
    table.receiverPid.fill(-1);
    return &table;
}

int64_t
Kernel::registerHandler(const Thread &t, uint64_t handler, uint32_t flags)
{
    if (flags & ~handlerWaitingAny)
        return -EINVAL;
    if ((flags & handlerWaitingAny) && !blocking)
        return -EINVAL;
    if (!handler)
        return -EFAULT;
    Receiver &r = receivers[t.pid];
    if (r.registered)
        return -EBUSY;
    const uint64_t upid = allocateUpid(t.tgid);
    GuestMemory *mem = host.memory(t.tgid);
    if (!upid || !mem)
        return -ENOMEM;
    mem->write64(upid, upidControl(false, false, notificationVector,
                                   uint32_t(t.context)));
    mem->write64(upid + upidPirOffset, 0);
    r.thread = t;
    r.registered = true;
    r.handler = handler;
    r.flags = flags;
    r.upid = upid;
    r.stackAdjust = defaultStackAdjust;
    r.generation++;
    r.waiting = false;
    return 0;
}

int64_t
Kernel::unregisterHandler(const Thread &t, uint32_t flags)
{
    if (flags)
        return -EINVAL;
    Receiver *r = registeredReceiver(t);
    if (!r)
        return -EINVAL;
    // Senders keep their table entries; SN makes their posts silent, as
    // the kernel does for a receiver that no longer runs.
    if (GuestMemory *mem = host.memory(t.tgid))
        upidSetSuppress(*mem, r->upid, true);
    r->registered = false;
    r->waiting = false;
    r->handler = 0;
    return 0;
}

int64_t
Kernel::vectorFd(const Thread &t, uint64_t vector, uint32_t flags,
                 VectorTarget &out)
{
    if (flags)
        return -EINVAL;
    Receiver *r = registeredReceiver(t);
    if (!r)
        return -EINVAL;
    if (vector >= numVectors)
        return -ENOSPC;
    out.receiverPid = t.pid;
    out.upid = r->upid;
    out.vector = unsigned(vector);
    out.generation = r->generation;
    return 0;
}

int64_t
Kernel::addTarget(const Thread &t, const VectorTarget &target)
{
    TargetTable *table = ensureTable(t.tgid);
    GuestMemory *mem = host.memory(t.tgid);
    if (!table || !mem)
        return -ENOMEM;
    for (unsigned i = 0; i < uittEntries; ++i) {
        if (table->used[i])
            continue;
        table->used[i] = true;
        table->receiverPid[i] = target.receiverPid;
        writeUittEntry(*mem, table->base, i,
                       UittEntry::make(target.upid, target.vector));
        return i;
    }
    return -ENOSPC;
}

int64_t
Kernel::registerSender(const Thread &t, const VectorTarget &target,
                       uint32_t flags)
{
    if (flags)
        return -EINVAL;
    auto it = receivers.find(target.receiverPid);
    if (it == receivers.end() || !receiverLive(it->second) ||
        it->second.generation != target.generation) {
        return -ESHUTDOWN;
    }
    return addTarget(t, target);
}

int64_t
Kernel::unregisterSender(const Thread &t, int64_t index, uint32_t flags)
{
    if (flags)
        return -EINVAL;
    auto it = tables.find(t.tgid);
    if (it == tables.end() || index < 0 || index >= int64_t(uittEntries) ||
        !it->second.used[index]) {
        return -EINVAL;
    }
    GuestMemory *mem = host.memory(t.tgid);
    if (!mem)
        return -EINVAL;
    it->second.used[index] = false;
    it->second.receiverPid[index] = -1;
    writeUittEntry(*mem, it->second.base, unsigned(index), UittEntry());
    return 0;
}

int64_t
Kernel::registerSelf(const Thread &t, uint64_t vector, uint32_t flags)
{
    if (flags)
        return -EINVAL;
    Receiver *r = registeredReceiver(t);
    if (!r)
        return -EINVAL;
    if (vector >= numVectors)
        return -ENOSPC;
    VectorTarget self;
    self.receiverPid = t.pid;
    self.upid = r->upid;
    self.vector = unsigned(vector);
    self.generation = r->generation;
    return addTarget(t, self);
}

int64_t
Kernel::altStack(const Thread &t, uint64_t sp, uint64_t size,
                 uint32_t flags)
{
    if (flags)
        return -EINVAL;
    Receiver *r = registeredReceiver(t);
    if (!r)
        return -EINVAL;
    if (sp && !size)
        return -EINVAL;
    r->stackAdjust = altStackAdjust(sp);
    return 0;
}

int64_t
Kernel::ipiFd(const Thread &t, uint32_t flags)
{
    if (flags)
        return -EINVAL;
    return ensureTable(t.tgid) ? 0 : -ENOMEM;
}

WaitDecision
Kernel::waitBegin(const Thread &t, uint64_t usec, uint32_t flags,
                  uint64_t uirr)
{
    WaitDecision d;
    if (!blocking) {
        d.result = -ENOSYS;
        return d;
    }
    Receiver *r = registeredReceiver(t);
    if (!r) {
        d.result = -EOPNOTSUPP;
        return d;
    }
    if (flags || usec > maxWaitUsec) {
        d.result = -EINVAL;
        return d;
    }
    if (uirr) {
        // Already pending: the kernel returns to user mode at once, where
        // the interrupt is delivered.
        d.result = -EINTR;
        return d;
    }
    if (!usec) {
        d.result = 0;
        return d;
    }
    r->waiting = true;
    d.block = true;
    d.timeoutUsec = usec;
    return d;
}

void
Kernel::waitEnd(int pid)
{
    auto it = receivers.find(pid);
    if (it != receivers.end())
        it->second.waiting = false;
}

SendResult
Kernel::send(const Thread &sender, uint64_t index)
{
    SendResult res;
    GuestMemory *smem = host.memory(sender.tgid);
    const uint64_t tt = targetTableMsr(sender.tgid);
    if (!smem || !tt) {
        res.fault = SendFault::InvalidOpcode;
        return res;
    }
    const SendLookup look =
        senduipiLookup(*smem, tt, miscMsr(sender.tgid), index);
    res.fault = look.fault;
    if (look.fault != SendFault::None)
        return res;
    res.vector = look.vector;
    res.upid = look.upid;

    const TargetTable &table = tables.at(sender.tgid);
    const int rpid = table.receiverPid[look.index];
    auto it = receivers.find(rpid);
    GuestMemory *rmem = smem;
    bool live = false;
    if (it != receivers.end()) {
        live = receiverLive(it->second);
        if (GuestMemory *m = host.memory(it->second.thread.tgid))
            rmem = m;
        if (!live && it->second.registered) {
            // The thread exited without unregistering: what the kernel's
            // exit path does, done when it is first noticed.
            upidSetSuppress(*rmem, it->second.upid, true);
            it->second.registered = false;
        }
    }
    res.outcome = upidPost(*rmem, look.upid, look.vector);
    res.notify = res.outcome == PostOutcome::Notify && live;
    if (live)
        res.receiver = it->second.thread;
    return res;
}

SendFault
Kernel::sendAccesses(const Thread &sender, uint64_t index, AccessChain &chain)
{
    chain = AccessChain::none();
    GuestMemory *smem = host.memory(sender.tgid);
    const uint64_t tt = targetTableMsr(sender.tgid);
    if (!smem || !tt)
        return SendFault::InvalidOpcode;
    const SendLookup look =
        senduipiLookup(*smem, tt, miscMsr(sender.tgid), index);
    if (look.fault != SendFault::None)
        return look.fault;
    const TargetTable &table = tables.at(sender.tgid);
    int rtgid = sender.tgid;
    auto it = receivers.find(table.receiverPid[look.index]);
    if (it != receivers.end() && host.memory(it->second.thread.tgid))
        rtgid = it->second.thread.tgid;
    chain = AccessChain::senduipi(tt & ~0xfULL, look.index, look.upid,
                                  sender.tgid, rtgid);
    return SendFault::None;
}

AccessChain
Kernel::notificationAccesses(int pid)
{
    auto it = receivers.find(pid);
    if (it == receivers.end() || !receiverLive(it->second) ||
            !host.memory(it->second.thread.tgid)) {
        return AccessChain::none();
    }
    return AccessChain::notification(it->second.upid,
                                     it->second.thread.tgid);
}

uint64_t
Kernel::notificationArrived(int pid)
{
    auto it = receivers.find(pid);
    if (it == receivers.end() || !receiverLive(it->second))
        return 0;
    GuestMemory *mem = host.memory(it->second.thread.tgid);
    if (!mem)
        return 0;
    return upidTake(*mem, it->second.upid);
}

const Receiver *
Kernel::receiver(int pid) const
{
    auto it = receivers.find(pid);
    return it == receivers.end() ? nullptr : &it->second;
}

const TargetTable *
Kernel::table(int tgid) const
{
    auto it = tables.find(tgid);
    return it == tables.end() ? nullptr : &it->second;
}

uint64_t
Kernel::targetTableMsr(int tgid) const
{
    const TargetTable *t = table(tgid);
    return t ? uintrTt(t->base) : 0;
}

uint64_t
Kernel::miscMsr(int tgid) const
{
    return uintrMisc(table(tgid) ? uittEntries : 0, notificationVector);
}

} // namespace core
} // namespace nemo_uintr
