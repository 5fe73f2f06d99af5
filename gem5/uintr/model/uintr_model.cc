/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */

#include "nemo_uintr/model/uintr_model.hh"

#include <csignal>

#include "arch/x86/generated/decoder.hh"
#include "arch/x86/pcstate.hh"
#include "arch/x86/regs/int.hh"
#include "arch/x86/regs/misc.hh"
#include "arch/x86/utility.hh"
#include "base/amo.hh"
#include "base/cprintf.hh"
#include "base/logging.hh"
#include "base/trace.hh"
#include "cpu/base.hh"
#include "cpu/reg_class.hh"
#include "cpu/static_inst.hh"
#include "cpu/thread_context.hh"
#include "debug/Uintr.hh"
#include "mem/request.hh"
#include "sim/cur_tick.hh"
#include "sim/eventq.hh"
#include "sim/process.hh"
#include "mem/page_table.hh"
#include "sim/sim_exit.hh"
#include "sim/system.hh"

namespace gem5
{
namespace nemo_uintr
{

namespace misc_reg = X86ISA::misc_reg;

namespace
{

MicroPC
deliverEntry()
{
    return romMicroPC(X86ISAInst::rom_labels::extern_label_uintrDeliver);
}

MicroPC
deliverJump()
{
    return romMicroPC(X86ISAInst::rom_labels::label_uintrDeliverJump);
}

/** DeliverFault with the restart latency of the path that raised it. */
class TimedDeliverFault : public DeliverFault
{
  public:
    TimedDeliverFault(UintrModel &model, Cycles latency)
        : DeliverFault(model), latency(latency)
    {}
    const Cycles latency;
};

/** A locked read-modify-write's data change: none.  The line is taken
 *  writable through the caches for its timing; the model's semantic step
 *  (core::Kernel) changes the UPID when the access completed. */
struct TakeLineWritable : public AtomicOpFunctor
{
    void operator()(uint8_t *) override {}
    AtomicOpFunctor *clone() override { return new TakeLineWritable; }
};

} // anonymous namespace

FaultName
OpFault::name() const
{
    switch (op) {
      case user_interrupt_op::SendUipi:
        return "senduipi";
      case user_interrupt_op::Stui:
        return "stui";
      case user_interrupt_op::KbTimerSet:
        return "set_timer";
      case user_interrupt_op::KbTimerClear:
        return "clear_timer";
      case user_interrupt_op::Umonitor:
        return "umonitor";
      case user_interrupt_op::Umwait:
        return "umwait";
      case user_interrupt_op::Tpause:
        return "tpause";
    }
    return "uintr_op";
}

void
OpFault::invoke(ThreadContext *tc, const StaticInstPtr &inst)
{
    model.execute(tc, inst, op, reg);
}

void
DeliverFault::invoke(ThreadContext *tc, const StaticInstPtr &inst)
{
    model.enterDelivery(tc);
}

UintrModel::UintrModel(const Params &p)
    : SimObject(p),
      system(p.system),
      strategy(p.strategy),
      host(p.system),
      kernel(host, p.blocking),
      senduipiLatency(p.senduipi_latency),
      stuiLatency(p.stui_latency),
      timerOpLatency(p.timer_op_latency),
      ipiLatency(p.ipi_latency),
      notificationLatency(p.notification_processing_latency),
      drainLatency(p.drain_latency),
      wakeLatency(p.wake_latency),
      umwaitWakeLatency(p.umwait_wake_latency),
      umwaitControl(p.umwait_control),
      requestorId(p.system->getRequestorId(this, "upid")),
      stats(this, account)
{
    fatal_if(UserInterruptHooks::instance,
             "uintr: only one UintrModel per simulation");
    UserInterruptHooks::instance = this;
    for (int i = 0; i < p.port_upid_port_connection_count; ++i) {
        upidPorts.emplace_back(std::make_unique<UpidPort>(
            csprintf("%s.upid_port[%d]", name(), i), *this));
    }
}

Port &
UintrModel::getPort(const std::string &if_name, PortID idx)
{
    if (if_name == "upid_port" && idx >= 0 &&
            idx < PortID(upidPorts.size())) {
        return *upidPorts[idx];
    }
    return SimObject::getPort(if_name, idx);
}

void
UintrModel::UpidPort::sendOrQueue(PacketPtr pkt)
{
    if (!waiting.empty() || !sendTimingReq(pkt))
        waiting.push_back(pkt);
}

void
UintrModel::UpidPort::recvReqRetry()
{
    while (!waiting.empty() && sendTimingReq(waiting.front()))
        waiting.pop_front();
}

bool
UintrModel::UpidPort::recvTimingResp(PacketPtr pkt)
{
    auto *st = dynamic_cast<ChainState *>(pkt->popSenderState());
    panic_if(!st, "uintr: a response to a packet the model did not send");
    const uint64_t id = st->id;
    delete st;
    delete pkt;
    model.accessCompleted(id);
    return true;
}

void
UintrModel::runChain(int ctx, core::AccessChain accesses,
                     std::function<void()> done)
{
    const bool timed = ctx >= 0 && ctx < int(upidPorts.size()) &&
                       upidPorts[ctx]->isConnected() &&
                       (system->isTimingMode() || system->isAtomicMode());
    if (!timed) {
        // No port into this core's caches (a board without the SPR
        // hierarchy): the accesses are functional, as the semantic step.
        while (accesses.completed(0))
            ++stats.untimedAccesses;
        done();
        return;
    }
    const uint64_t id = nextChain++;
    chains.emplace(id, Chain{std::move(accesses), ctx, 0, std::move(done)});
    issueNext(id);
}

void
UintrModel::issueNext(uint64_t id)
{
    Chain &c = chains.at(id);
    const core::Access *a = c.accesses.next();
    if (!a) {
        std::function<void()> done = std::move(c.done);
        chains.erase(id);
        done();
        return;
    }
    Addr paddr = 0;
    if (!host.physical(a->tgid, a->addr, paddr)) {
        // Unmapped: the semantic step reports it (a warning, or #GP);
        // the access itself costs nothing.
        ++stats.untimedAccesses;
        c.accesses.completed(0);
        issueNext(id);
        return;
    }
    const bool rmw = a->kind == core::AccessKind::LockedRmw;
    auto req = std::make_shared<Request>(
        a->addr, unsigned(a->size),
        rmw ? Request::ATOMIC_RETURN_OP : Request::Flags(0), requestorId,
        Addr(0), ContextID(c.ctx),
        rmw ? AtomicOpFunctorPtr(new TakeLineWritable) : nullptr);
    req->setPaddr(paddr);
    PacketPtr pkt = rmw ? Packet::createWrite(req) : Packet::createRead(req);
    pkt->allocate();
    c.issuedAt = curTick();
    UpidPort &port = *upidPorts[c.ctx];
    if (system->isAtomicMode()) {
        const Tick latency = port.sendAtomic(pkt);
        delete pkt;
        schedule(new EventFunctionWrapper(
                     [this, id]() { accessCompleted(id); },
                     name() + ".upidAccess", true),
                 curTick() + latency);
        return;
    }
    pkt->pushSenderState(new ChainState(id));
    port.sendOrQueue(pkt);
}

void
UintrModel::accessCompleted(uint64_t id)
{
    auto it = chains.find(id);
    if (it == chains.end())
        return;
    Chain &c = it->second;
    const Cycles cycles =
        system->threads[c.ctx]->getCpuPtr()->ticksToCycles(
            curTick() - c.issuedAt);
    c.accesses.completed(cycles);
    ++stats.upidAccesses;
    stats.upidAccessCycles += cycles;
    DPRINTF(Uintr, "ctx %d: UPID/UITT access done in %d cycles\n", c.ctx,
            cycles);
    issueNext(id);
}

UintrModel::ContextState &
UintrModel::state(int ctx)
{
    if (ctx >= int(contexts.size()))
        contexts.resize(ctx + 1);
    return contexts[ctx];
}

bool
UintrModel::deliverable(ThreadContext *tc) const
{
    return tc->readMiscRegNoEffect(misc_reg::Uif) &&
           tc->readMiscRegNoEffect(misc_reg::UintrRr) &&
           tc->readMiscRegNoEffect(misc_reg::UintrHandler);
}

Fault
UintrModel::instructionTrap(unsigned op, unsigned reg)
{
    return std::make_shared<OpFault>(*this, op, reg);
}

Fault
UintrModel::atBoundary(ThreadContext *tc, bool pipelined, bool pipeline_empty,
                       unsigned in_flight)
{
    if (!deliverable(tc))
        return NoFault;
    if (!pipelined)
        return std::make_shared<TimedDeliverFault>(*this, Cycles(0));
    switch (strategy) {
      case UintrStrategy::flush:
        // The squash is the trap's; the delivery micro-ops follow after
        // the notification processing of an interrupt that came through
        // a UPID (none for a KB-timer one).
        ++stats.flushes;
        account.entered(core::Strategy::Flush, in_flight);
        return std::make_shared<TimedDeliverFault>(
            *this, processingLatency(tc));
      case UintrStrategy::drain:
        if (!pipeline_empty)
            return NoFault;
        ++stats.drains;
        account.entered(core::Strategy::Drain, 0);
        return std::make_shared<TimedDeliverFault>(*this, drainLatency);
      default:
        // Tracked: fetch injects the delivery.
        return NoFault;
    }
}

void
UintrModel::enterDelivery(ThreadContext *tc)
{
    // The micro-code reads the return address with rdip, i.e. from NPC.
    X86ISA::PCState pc = tc->pcState().as<X86ISA::PCState>();
    pc.npc(pc.pc());
    pc.upc(deliverEntry());
    pc.nupc(deliverEntry() + 1);
    DPRINTF(Uintr, "ctx %d: deliver at %#x, UIRR %#x\n", tc->contextId(),
            pc.pc(), tc->readMiscRegNoEffect(misc_reg::UintrRr));
    tc->pcState(pc);
}

Cycles
UintrModel::processingLatency(ThreadContext *tc)
{
    const unsigned vector =
        core::highestVector(tc->readMiscRegNoEffect(misc_reg::UintrRr));
    return ((state(tc->contextId()).viaUpid >> vector) & 1)
        ? notificationLatency : Cycles(0);
}

bool
UintrModel::stallFetch(ThreadContext *tc)
{
    switch (strategy) {
      case UintrStrategy::drain:
        return deliverable(tc);
      case UintrStrategy::tracked:
        return curTick() < state(tc->contextId()).fetchStallUntil;
      default:
        return false;
    }
}

bool
UintrModel::wantsInjection(ThreadContext *tc)
{
    return strategy == UintrStrategy::tracked && deliverable(tc);
}

bool
UintrModel::injectAtFetch(ThreadContext *tc, PCStateBase &pc,
                          unsigned in_flight)
{
    if (!wantsInjection(tc))
        return false;
    auto &xpc = pc.as<X86ISA::PCState>();
    xpc.npc(xpc.pc());
    xpc.upc(deliverEntry());
    xpc.nupc(deliverEntry() + 1);

    ContextState &cs = state(tc->contextId());
    const unsigned vector =
        core::highestVector(tc->readMiscRegNoEffect(misc_reg::UintrRr));
    const Cycles stall = processingLatency(tc);
    cs.fetchStallUntil = tc->getCpuPtr()->clockEdge(stall);
    ++stats.injections;
    if (cs.injected) {
        account.reinjected();
    }
    cs.injected = true;
    account.entered(core::Strategy::Tracked, in_flight);
    DPRINTF(Uintr, "ctx %d: inject vector %d at %#x, stall %d cycles\n",
            tc->contextId(), vector, xpc.pc(), stall);
    return true;
}

bool
UintrModel::blocksInjection(const StaticInstPtr &inst) const
{
    // UIF (CLUI, an earlier delivery's acknowledge) and RFLAGS (pushed in
    // the frame) are read by the delivery as it executes; a write still
    // in flight would make it see a stale value.
    for (int i = 0; i < inst->numDestRegs(); ++i) {
        const RegId &reg = inst->destRegIdx(i);
        if (reg.is(MiscRegClass) &&
            (reg.index() == misc_reg::Uif ||
             reg.index() == misc_reg::UintrAck ||
             reg.index() == misc_reg::Rflags)) {
            return true;
        }
    }
    return false;
}

bool
UintrModel::predictJump(ThreadContext *tc, const StaticInstPtr &inst,
                        const PCStateBase &pc, PCStateBase &next)
{
    if (pc.microPC() != deliverJump())
        return false;
    auto &n = next.as<X86ISA::PCState>();
    n = pc.as<X86ISA::PCState>();
    inst->advancePC(n);
    n.npc(tc->readMiscRegNoEffect(misc_reg::UintrHandler));
    return true;
}

bool
UintrModel::trapLatency(const Fault &fault, Cycles &latency) const
{
    if (auto *d = dynamic_cast<const TimedDeliverFault *>(fault.get())) {
        latency = d->latency;
        return true;
    }
    auto *op = dynamic_cast<const OpFault *>(fault.get());
    if (!op)
        return false;
    switch (op->op) {
      case user_interrupt_op::SendUipi:
        // The thread is suspended while the accesses run and for
        // senduipi_latency after them (finishSend); the trap's drain and
        // refill come on top.
        latency = Cycles(0);
        break;
      case user_interrupt_op::Stui:
        latency = stuiLatency;
        break;
      case user_interrupt_op::Umonitor:
      case user_interrupt_op::Umwait:
      case user_interrupt_op::Tpause:
        // The trap's drain and refill are their cost; the sleep and its
        // wake latency come on top (umwait_wake_latency).
        latency = Cycles(0);
        break;
      default:
        latency = timerOpLatency;
        break;
    }
    return true;
}

void
UintrModel::acknowledge(ThreadContext *tc, unsigned vector)
{
    ContextState &cs = state(tc->contextId());
    cs.viaUpid &= ~(1ULL << vector);
    cs.injected = false;
    ++stats.deliveries;
    stats.pendingTicks += curTick() - cs.pendingSince;
    if (tc->readMiscRegNoEffect(misc_reg::UintrRr))
        cs.pendingSince = curTick();
    DPRINTF(Uintr, "ctx %d: vector %d delivered\n", tc->contextId(),
            vector);
}

void
UintrModel::post(ThreadContext *tc, uint64_t vectors, bool via_upid)
{
    ContextState &cs = state(tc->contextId());
    // Written straight into the ISA, as the core's notification logic
    // does: through the thread context, O3 would squash the pipeline.
    BaseISA *isa = tc->getIsaPtr();
    const RegVal uirr = isa->readMiscRegNoEffect(misc_reg::UintrRr);
    if (!uirr)
        cs.pendingSince = curTick();
    isa->setMiscRegNoEffect(misc_reg::UintrRr, uirr | vectors);
    if (via_upid)
        cs.viaUpid |= vectors;
    else
        cs.viaUpid &= ~vectors;
    // A user interrupt ends UMWAIT/TPAUSE when it can be delivered.
    if (cs.monitor.sleeping() && isa->readMiscRegNoEffect(misc_reg::Uif))
        endMonitorWait(tc->contextId(), core::WakeReason::Interrupt);
}

void
UintrModel::notificationArrives(int ctx, int pid)
{
    if (!runs(system, ctx, pid))
        return;
    runChain(ctx, kernel.notificationAccesses(pid),
             [this, ctx, pid]() { processNotification(ctx, pid); });
}

void
UintrModel::processNotification(int ctx, int pid)
{
    if (!runs(system, ctx, pid))
        return;
    ThreadContext *tc = system->threads[ctx];
    const uint64_t vectors = kernel.notificationArrived(pid);
    ++stats.notificationsProcessed;
    DPRINTF(Uintr, "ctx %d: notification, PIR %#x\n", ctx, vectors);
    if (vectors)
        post(tc, vectors, true);
    wake(ctx, pid, -EINTR);
}

void
UintrModel::wake(int ctx, int pid, int64_t result)
{
    ContextState &cs = state(ctx);
    if (!cs.waiting || cs.waitingPid != pid)
        return;
    cs.waiting = false;
    cs.waitGeneration++;
    kernel.waitEnd(pid);
    ++stats.wakeups;
    auto resume = [this, ctx, pid, result]() {
        if (!runs(system, ctx, pid))
            return;
        ThreadContext *tc = system->threads[ctx];
        tc->setReg(X86ISA::int_reg::Rax, RegVal(result));
        tc->activate();
    };
    if (wakeLatency) {
        schedule(new EventFunctionWrapper(resume, name() + ".wake", true),
                 curTick() + wakeLatency);
    } else {
        resume();
    }
}

void
UintrModel::scheduleTimer(ThreadContext *tc)
{
    const int ctx = tc->contextId();
    ContextState &cs = state(ctx);
    const uint64_t generation = ++cs.timerGeneration;
    if (!cs.timer.armed())
        return;
    const uint64_t now = tc->readMiscReg(misc_reg::Tsc);
    const uint64_t delta =
        cs.timer.deadline() > now ? cs.timer.deadline() - now : 0;
    const int pid = cs.timerPid;
    schedule(new EventFunctionWrapper(
                 [this, ctx, pid, generation]() {
                     timerExpires(ctx, pid, generation);
                 },
                 name() + ".kbTimer", true),
             tc->getCpuPtr()->clockEdge(Cycles(delta)));
}

void
UintrModel::timerExpires(int ctx, int pid, uint64_t generation)
{
    ContextState &cs = state(ctx);
    if (generation != cs.timerGeneration)
        return;
    if (!runs(system, ctx, pid)) {
        cs.timer.clear();
        return;
    }
    ThreadContext *tc = system->threads[ctx];
    if (cs.timer.expire(tc->readMiscReg(misc_reg::Tsc))) {
        ++stats.timerExpiries;
        post(tc, 1ULL << cs.timer.vector(), false);
        wake(ctx, pid, -EINTR);
    }
    scheduleTimer(tc);
}

void
UintrModel::runAfter(ThreadContext *tc, Cycles cycles,
                     std::function<void()> fn, const char *what)
{
    if (cycles) {
        schedule(new EventFunctionWrapper(std::move(fn), name() + what, true),
                 tc->getCpuPtr()->clockEdge(cycles));
    } else {
        fn();
    }
}

bool
UintrModel::killedBy(ThreadContext *tc, core::SendFault fault,
                     uint64_t index)
{
    switch (fault) {
      case core::SendFault::InvalidOpcode:
        kill(tc, SIGILL, "senduipi without a target table (#UD)");
        return true;
      case core::SendFault::GeneralProtection:
        kill(tc, SIGSEGV,
             csprintf("senduipi index %d is not a valid entry (#GP)", index));
        return true;
      default:
        return false;
    }
}

void
UintrModel::kill(ThreadContext *tc, int signal, const std::string &what)
{
    const core::Thread t = threadOf(tc);
    warn("uintr: thread %d (context %d): %s: killed by signal %d\n", t.pid,
         t.context, what, signal);
    exitSimLoop(csprintf("uintr: %s (signal %d)", what, signal),
                128 + signal);
}

void
UintrModel::advancePC(ThreadContext *tc, const StaticInstPtr &inst)
{
    std::unique_ptr<PCStateBase> pc(tc->pcState().clone());
    inst->advancePC(*pc);
    tc->pcState(*pc);
}

void
UintrModel::execute(ThreadContext *tc, const StaticInstPtr &inst,
                    unsigned op, unsigned reg)
{
    const core::Thread t = threadOf(tc);
    ContextState &cs = state(t.context);
    switch (op) {
      case user_interrupt_op::SendUipi:
        {
            ++stats.senduipi;
            const uint64_t index = tc->getReg(X86ISA::intRegClass[reg]);
            core::AccessChain accesses = core::AccessChain::none();
            const core::SendFault fault =
                kernel.sendAccesses(t, index, accesses);
            if (killedBy(tc, fault, index))
                return;
            advancePC(tc, inst);
            // Serializing: nothing after it runs until it is done.
            tc->suspend();
            const int ctx = t.context;
            runChain(ctx, std::move(accesses), [this, ctx, t, index]() {
                finishSend(ctx, t, index);
            });
        }
        break;
      case user_interrupt_op::Stui:
        tc->setMiscReg(misc_reg::Uif, 1);
        advancePC(tc, inst);
        break;
      case user_interrupt_op::KbTimerSet:
        {
            const core::Receiver *r = kernel.receiver(t.pid);
            if (!r || !r->registered) {
                kill(tc, SIGILL, "set_timer without a handler (#UD)");
                return;
            }
            const uint64_t cycles = tc->getReg(X86ISA::int_reg::Rax);
            const uint64_t mode = tc->getReg(X86ISA::int_reg::Rcx);
            const uint64_t vector = tc->getReg(X86ISA::int_reg::Rdx);
            const auto res = cs.timer.set(tc->readMiscReg(misc_reg::Tsc),
                                          cycles, mode, vector);
            if (res != core::KbTimer::SetResult::Ok) {
                kill(tc, SIGSEGV,
                     csprintf("set_timer(%d, %d, vector %d) (#GP)", cycles,
                              mode, vector));
                return;
            }
            cs.timerPid = t.pid;
            scheduleTimer(tc);
            DPRINTF(Uintr, "ctx %d: set_timer %d mode %d vector %d\n",
                    t.context, cycles, mode, vector);
            advancePC(tc, inst);
        }
        break;
      case user_interrupt_op::KbTimerClear:
        cs.timer.clear();
        cs.timerGeneration++;
        advancePC(tc, inst);
        break;
      case user_interrupt_op::Umonitor:
        umonitor(tc, inst, reg);
        break;
      case user_interrupt_op::Umwait:
        umwait(tc, inst, reg, core::WaitKind::Umwait);
        break;
      case user_interrupt_op::Tpause:
        umwait(tc, inst, reg, core::WaitKind::Tpause);
        break;
      default:
        panic("uintr: unknown trapping instruction %d", op);
    }
}

void
UintrModel::finishSend(int ctx, const core::Thread &sender, uint64_t index)
{
    if (!runs(system, ctx, sender.pid))
        return;
    ThreadContext *tc = system->threads[ctx];
    const core::SendResult r = kernel.send(sender, index);
    // The table may have changed while the accesses ran.
    if (killedBy(tc, r.fault, index))
        return;
    switch (r.outcome) {
      case core::PostOutcome::Notify:
        ++stats.notifications;
        break;
      case core::PostOutcome::Outstanding:
        ++stats.coalesced;
        break;
      case core::PostOutcome::Suppressed:
        ++stats.suppressed;
        break;
    }
    DPRINTF(Uintr, "ctx %d: senduipi %d: vector %d to pid %d: %s\n", ctx,
            index, r.vector, r.receiver.pid,
            core::postOutcomeName(r.outcome));
    if (r.notify) {
        const int rctx = r.receiver.context;
        const int rpid = r.receiver.pid;
        schedule(new EventFunctionWrapper(
                     [this, rctx, rpid]() { notificationArrives(rctx, rpid); },
                     name() + ".notify", true),
                 tc->getCpuPtr()->clockEdge(ipiLatency));
    }
    const int pid = sender.pid;
    auto resume = [this, ctx, pid]() {
        if (!runs(system, ctx, pid))
            return;
        ThreadContext *tc = system->threads[ctx];
        if (tc->status() == ThreadContext::Suspended)
            tc->activate();
    };
    runAfter(tc, senduipiLatency, std::move(resume), ".senduipiDone");
}

void
UintrModel::umonitor(ThreadContext *tc, const StaticInstPtr &inst,
                     unsigned reg)
{
    ContextState &cs = state(tc->contextId());
    const Addr vaddr = tc->getReg(X86ISA::intRegClass[reg]);
    Addr paddr = 0;
    if (!tc->getProcessPtr()->pTable->translate(vaddr, paddr)) {
        kill(tc, SIGSEGV, csprintf("umonitor %#x: unmapped (#PF)", vaddr));
        return;
    }
    cs.monitor.arm(vaddr);
    // gem5's address monitor wakes the CPU on a snoop to the line (see
    // BaseCPU::wakeup); it only watches while `waiting` is set, i.e.
    // during the sleep.
    AddressMonitor *am = tc->getCpuPtr()->getCpuAddrMonitor(tc->threadId());
    am->armed = true;
    am->vAddr = vaddr;
    am->pAddr = paddr & ~Addr(tc->getCpuPtr()->cacheLineSize() - 1);
    am->waiting = false;
    am->gotWakeup = false;
    ProcessMemory mem(tc);
    for (unsigned i = 0; i < core::monitorLineSize / 8; ++i)
        cs.monitorSnapshot[i] = mem.read64(cs.monitor.line() + 8 * i);
    DPRINTF(Uintr, "ctx %d: umonitor %#x (line %#x)\n", tc->contextId(),
            vaddr, cs.monitor.line());
    advancePC(tc, inst);
}

void
UintrModel::umwait(ThreadContext *tc, const StaticInstPtr &inst,
                   unsigned reg, core::WaitKind kind)
{
    const int ctx = tc->contextId();
    ContextState &cs = state(ctx);
    if (kind == core::WaitKind::Umwait) {
        ++stats.umwaits;
        if (cs.monitor.armed()) {
            ProcessMemory mem(tc);
            for (unsigned i = 0; i < core::monitorLineSize / 8; ++i) {
                if (mem.read64(cs.monitor.line() + 8 * i) !=
                        cs.monitorSnapshot[i]) {
                    cs.monitor.write(cs.monitor.line());
                    break;
                }
            }
        }
    } else {
        ++stats.tpauses;
    }
    const uint32_t ecx = tc->getReg(X86ISA::intRegClass[reg]);
    const uint64_t deadline =
        (tc->getReg(X86ISA::int_reg::Rdx) << 32) |
        (tc->getReg(X86ISA::int_reg::Rax) & 0xffffffffULL);
    const uint64_t now = tc->readMiscReg(misc_reg::Tsc);
    const bool interrupt = deliverable(tc);
    const core::SleepDecision d = cs.monitor.begin(
        kind, now, ecx, deadline, umwaitControl, interrupt);

    // CF is 0 unless the OS limit ends the sleep (endMonitorWait sets it).
    X86ISA::setRFlags(tc, X86ISA::getRFlags(tc) & ~uint64_t(1));
    advancePC(tc, inst);
    AddressMonitor *am = tc->getCpuPtr()->getCpuAddrMonitor(tc->threadId());
    if (!d.sleeps) {
        if (kind == core::WaitKind::Umwait)
            am->armed = am->waiting = false;
        DPRINTF(Uintr, "ctx %d: %s returns at once\n", ctx,
                kind == core::WaitKind::Umwait ? "umwait" : "tpause");
        return;
    }
    if (kind == core::WaitKind::Umwait)
        am->waiting = true;
    const uint64_t generation = ++cs.monitorGeneration;
    const core::WakeReason timeout = d.limitedByOs
        ? core::WakeReason::OsLimit : core::WakeReason::Deadline;
    schedule(new EventFunctionWrapper(
                 [this, ctx, generation, timeout]() {
                     if (state(ctx).monitorGeneration == generation)
                         endMonitorWait(ctx, timeout);
                 },
                 name() + ".umwaitTimeout", true),
             tc->getCpuPtr()->clockEdge(Cycles(d.wakeAt - now)));
    DPRINTF(Uintr, "ctx %d: %s until TSC %d (%s), C0.%d\n", ctx,
            kind == core::WaitKind::Umwait ? "umwait" : "tpause", d.wakeAt,
            d.limitedByOs ? "OS limit" : "deadline",
            d.state == core::PowerState::C01 ? 1 : 2);
    tc->suspend();
}

bool
UintrModel::monitorTriggered(ThreadContext *tc)
{
    ContextState &cs = state(tc->contextId());
    if (!cs.monitor.sleeping())
        return false;
    if (cs.monitor.write(cs.monitor.line()))
        endMonitorWait(tc->contextId(), core::WakeReason::Write);
    return true;
}

void
UintrModel::endMonitorWait(int ctx, core::WakeReason why)
{
    ContextState &cs = state(ctx);
    bool ended = false;
    const bool cf = cs.monitor.end(why, &ended);
    if (!ended)
        return;
    ++cs.monitorGeneration;
    stats.monitorWakes[int(why)]++;
    ThreadContext *tc = system->threads[ctx];
    AddressMonitor *am = tc->getCpuPtr()->getCpuAddrMonitor(tc->threadId());
    am->waiting = false;
    if (cs.monitor.sleepingIn() == core::WaitKind::Umwait)
        am->armed = false;
    if (cf)
        X86ISA::setRFlags(tc, X86ISA::getRFlags(tc) | 1);
    DPRINTF(Uintr, "ctx %d: umwait/tpause ends: %s\n", ctx,
            core::wakeReasonName(why));
    const uint64_t generation = cs.monitorGeneration;
    auto resume = [this, ctx, generation]() {
        ThreadContext *tc = system->threads[ctx];
        if (state(ctx).monitorGeneration == generation &&
                tc->status() == ThreadContext::Suspended) {
            tc->activate();
        }
    };
    runAfter(tc, umwaitWakeLatency, std::move(resume), ".umwaitWake");
}

void
UintrModel::syncMsrs(ThreadContext *tc)
{
    const core::Thread t = threadOf(tc);
    const core::Receiver *r = kernel.receiver(t.pid);
    const bool registered = r && r->registered;
    tc->setMiscReg(misc_reg::UintrHandler, registered ? r->handler : 0);
    tc->setMiscReg(misc_reg::UintrStackAdjust,
                   registered ? r->stackAdjust : 0);
    tc->setMiscReg(misc_reg::UintrPd, registered ? r->upid : 0);
    tc->setMiscReg(misc_reg::UintrTt, kernel.targetTableMsr(t.tgid));
    tc->setMiscReg(misc_reg::UintrMisc, kernel.miscMsr(t.tgid));
    if (!registered) {
        tc->setMiscReg(misc_reg::UintrRr, 0);
        state(t.context).viaUpid = 0;
    }
}

UintrModel::Stats::Stats(statistics::Group *parent,
                         core::DeliveryAccount &account)
    : statistics::Group(parent),
      ADD_STAT(senduipi, statistics::units::Count::get(),
               "SENDUIPI instructions retired"),
      ADD_STAT(notifications, statistics::units::Count::get(),
               "SENDUIPIs that set ON and sent a notification"),
      ADD_STAT(coalesced, statistics::units::Count::get(),
               "SENDUIPIs that found a notification outstanding"),
      ADD_STAT(suppressed, statistics::units::Count::get(),
               "SENDUIPIs to a UPID with SN set"),
      ADD_STAT(notificationsProcessed, statistics::units::Count::get(),
               "notifications processed by a receiving core"),
      ADD_STAT(upidAccesses, statistics::units::Count::get(),
               "timed UITT/UPID accesses through a core's caches"),
      ADD_STAT(upidAccessCycles, statistics::units::Cycle::get(),
               "cycles of the timed UITT/UPID accesses, together"),
      ADD_STAT(avgUpidAccessCycles,
               statistics::units::Rate<statistics::units::Cycle,
                                       statistics::units::Count>::get(),
               "mean cycles of one timed UITT/UPID access"),
      ADD_STAT(untimedAccesses, statistics::units::Count::get(),
               "UITT/UPID accesses with no port into the core's caches"),
      ADD_STAT(timerExpiries, statistics::units::Count::get(),
               "KB-timer expiries"),
      ADD_STAT(flushes, statistics::units::Count::get(),
               "deliveries that flushed the pipeline"),
      ADD_STAT(drains, statistics::units::Count::get(),
               "deliveries after a drain"),
      ADD_STAT(injections, statistics::units::Count::get(),
               "delivery micro-code injections by fetch (tracked)"),
      ADD_STAT(deliveries, statistics::units::Count::get(),
               "user interrupts delivered (acknowledge retired)"),
      ADD_STAT(wakeups, statistics::units::Count::get(),
               "uintr_wait calls ended by an interrupt or timeout"),
      ADD_STAT(squashedByFlush, statistics::units::Count::get(),
               "instructions in the ROB squashed by flush deliveries"),
      ADD_STAT(squashedPerFlush,
               statistics::units::Ratio::get(),
               "mean instructions squashed per flush delivery"),
      ADD_STAT(keptInFlight, statistics::units::Count::get(),
               "instructions left in flight ahead of tracked injections"),
      ADD_STAT(reinjections, statistics::units::Count::get(),
               "tracked injections squashed and injected again"),
      ADD_STAT(umwaits, statistics::units::Count::get(),
               "UMWAIT instructions retired"),
      ADD_STAT(tpauses, statistics::units::Count::get(),
               "TPAUSE instructions retired"),
      ADD_STAT(monitorWakes, statistics::units::Count::get(),
               "UMWAIT/TPAUSE sleeps ended, by reason"),
      ADD_STAT(pendingTicks, statistics::units::Tick::get(),
               "ticks from UIRR becoming non-empty to delivery"),
      ADD_STAT(avgPendingTicks,
               statistics::units::Rate<statistics::units::Tick,
                                       statistics::units::Count>::get(),
               "mean ticks an interrupt waited in UIRR")
{
    avgPendingTicks = pendingTicks / deliveries;
    avgUpidAccessCycles = upidAccessCycles / upidAccesses;
    squashedByFlush.method(&account, &core::DeliveryAccount::squashed);
    squashedPerFlush.method(&account,
                            &core::DeliveryAccount::squashedPerFlush);
    keptInFlight.method(&account, &core::DeliveryAccount::keptInFlight);
    reinjections.method(&account, &core::DeliveryAccount::reinjections);
    monitorWakes.init(4);
    for (auto why : {core::WakeReason::Write, core::WakeReason::Deadline,
                     core::WakeReason::OsLimit,
                     core::WakeReason::Interrupt}) {
        monitorWakes.subname(int(why), core::wakeReasonName(why));
    }
}

} // namespace nemo_uintr
} // namespace gem5
