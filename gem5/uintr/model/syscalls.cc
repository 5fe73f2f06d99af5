/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Syscalls 471-479 of Intel's UINTR kernel (UINTR-ABI.md §2) on top of
 * core::Kernel: this file only maps thread contexts, file descriptors and
 * the MSR images; every error code comes from the core.
 */

#include <cerrno>

#include "arch/x86/regs/misc.hh"
#include "base/trace.hh"
#include "cpu/thread_context.hh"
#include "debug/Uintr.hh"
#include "nemo_uintr/model/uintr_model.hh"
#include "sim/core.hh"
#include "sim/cur_tick.hh"
#include "sim/eventq.hh"
#include "sim/fd_array.hh"
#include "sim/process.hh"

namespace gem5
{
namespace nemo_uintr
{

namespace
{

constexpr int registerHandlerNum = 471;
constexpr int unregisterHandlerNum = 472;
constexpr int vectorFdNum = 473;
constexpr int registerSenderNum = 474;
constexpr int unregisterSenderNum = 475;
constexpr int waitNum = 476;
constexpr int registerSelfNum = 477;
constexpr int altStackNum = 478;
constexpr int ipiFdNum = 479;

} // anonymous namespace

SyscallReturn
UintrModel::syscall(int num, ThreadContext *tc, uint64_t a0, uint64_t a1,
                    uint64_t a2)
{
    const core::Thread t = threadOf(tc);
    Process *p = tc->getProcessPtr();
    int64_t r = -ENOSYS;
    switch (num) {
      case registerHandlerNum:
        r = kernel.registerHandler(t, a0, uint32_t(a1));
        if (r == 0) {
            tc->setMiscReg(X86ISA::misc_reg::UintrRr, 0);
            state(t.context).viaUpid = 0;
        }
        syncMsrs(tc);
        break;
      case unregisterHandlerNum:
        r = kernel.unregisterHandler(t, uint32_t(a0));
        syncMsrs(tc);
        break;
      case vectorFdNum:
        {
            core::VectorTarget target;
            r = kernel.vectorFd(t, a0, uint32_t(a1), target);
            if (r == 0)
                r = p->fds->allocFD(std::make_shared<VectorFdEntry>(target));
        }
        break;
      case registerSenderNum:
        {
            const int fd = int32_t(a0);
            if (fd < 0 || fd >= p->fds->getSize() || !(*p->fds)[fd]) {
                r = -EBADF;
                break;
            }
            auto vfd =
                std::dynamic_pointer_cast<VectorFdEntry>((*p->fds)[fd]);
            if (!vfd) {
                r = -EOPNOTSUPP;
                break;
            }
            r = kernel.registerSender(t, vfd->target, uint32_t(a1));
            syncMsrs(tc);
        }
        break;
      case unregisterSenderNum:
        r = kernel.unregisterSender(t, int32_t(a0), uint32_t(a1));
        break;
      case waitNum:
        return waitSyscall(tc, a0, uint32_t(a1));
      case registerSelfNum:
        r = kernel.registerSelf(t, a0, uint32_t(a1));
        syncMsrs(tc);
        break;
      case altStackNum:
        r = kernel.altStack(t, a0, a1, uint32_t(a2));
        syncMsrs(tc);
        break;
      case ipiFdNum:
        r = kernel.ipiFd(t, uint32_t(a0));
        if (r == 0) {
            syncMsrs(tc);
            r = p->fds->allocFD(std::make_shared<TargetTableFdEntry>(t.tgid));
        }
        break;
      default:
        break;
    }
    DPRINTF(Uintr, "pid %d: syscall %d(%#x, %#x, %#x) = %d\n", t.pid, num,
            a0, a1, a2, r);
    return r;
}

SyscallReturn
UintrModel::waitSyscall(ThreadContext *tc, uint64_t usec, uint32_t flags)
{
    const core::Thread t = threadOf(tc);
    const core::WaitDecision d = kernel.waitBegin(
        t, usec, flags, tc->readMiscRegNoEffect(X86ISA::misc_reg::UintrRr));
    if (!d.block)
        return d.result;

    ContextState &cs = state(t.context);
    cs.waiting = true;
    cs.waitingPid = t.pid;
    const uint64_t generation = ++cs.waitGeneration;
    const int ctx = t.context;
    const int pid = t.pid;
    schedule(new EventFunctionWrapper(
                 [this, ctx, pid, generation]() {
                     ContextState &s = state(ctx);
                     if (s.waiting && s.waitGeneration == generation)
                         wake(ctx, pid, 0);
                 },
                 name() + ".waitTimeout", true),
             curTick() + d.timeoutUsec * sim_clock::as_int::us);
    DPRINTF(Uintr, "pid %d: uintr_wait %d us\n", t.pid, usec);
    tc->suspend();
    // The result (0 or -EINTR) is written when the thread wakes.
    return SyscallReturn();
}

} // namespace nemo_uintr
} // namespace gem5
