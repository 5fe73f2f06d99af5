/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The UINTR model: Intel user interrupts (UIPI) and xUI's tracked
 * interrupts and kernel-bypass timer for gem5 in syscall-emulation mode.
 *
 *  - SENDUIPI, STUI and set_timer/clear_timer trap to the model
 *    when they retire (OpFault): their semantics run non-speculatively,
 *    and the trap's restart latency is the instruction's cost.  SENDUIPI
 *    suspends its thread while its UITT read and UPID read-modify-write
 *    go through the core's caches (upid_port, timed), posts when they
 *    are done, and resumes the thread senduipi_latency cycles later.
 *  - Notification processing on the receiving core is a timed locked
 *    read-modify-write of its UPID through its caches; the vectors reach
 *    UIRR when it completes (see core/upid_access.hh).
 *  - CLUI and TESTUI are plain instructions on misc_reg::Uif; UIRET is
 *    micro-code (loads of RIP, RFLAGS and RSP, then UIF = 1).
 *  - Delivery is micro-code (the ROM routine uintrDeliver); the model
 *    decides where it enters the instruction stream: after a flush or a
 *    drain at commit (DeliverFault), or injected by fetch (tracked).
 *  - Syscalls 471-479 run on core::Kernel (see syscalls.cc).
 *  - UMONITOR, UMWAIT and TPAUSE (WAITPKG) trap when they retire; the
 *    monitor is gem5's per-thread AddressMonitor, triggered by a snoop to
 *    the line in the core's L1D (a write by another core), and the sleep
 *    logic is core::WaitMonitor.
 */

#ifndef NEMO_UINTR_MODEL_UINTR_MODEL_HH
#define NEMO_UINTR_MODEL_UINTR_MODEL_HH

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/statistics.hh"
#include "base/types.hh"
#include "cpu/user_interrupts.hh"
#include "enums/UintrStrategy.hh"
#include "nemo_uintr/core/delivery_account.hh"
#include "nemo_uintr/core/kb_timer.hh"
#include "nemo_uintr/core/kernel.hh"
#include "nemo_uintr/core/monitor.hh"
#include "nemo_uintr/core/upid_access.hh"
#include "nemo_uintr/model/guest.hh"
#include "mem/packet.hh"
#include "mem/port.hh"
#include "params/UintrModel.hh"
#include "sim/faults.hh"
#include "sim/sim_object.hh"

namespace gem5
{
namespace nemo_uintr
{

class UintrModel;

/** An instruction carried out by the model as it retires. */
class OpFault : public FaultBase
{
  public:
    OpFault(UintrModel &model, unsigned op, unsigned reg)
        : model(model), op(op), reg(reg)
    {}
    FaultName name() const override;
    void invoke(ThreadContext *tc, const StaticInstPtr &inst) override;

    UintrModel &model;
    const unsigned op;
    const unsigned reg;
};

/** Enters the delivery micro-code at the current instruction boundary. */
class DeliverFault : public FaultBase
{
  public:
    explicit DeliverFault(UintrModel &model) : model(model) {}
    FaultName name() const override { return "uintr_deliver"; }
    void invoke(ThreadContext *tc, const StaticInstPtr &inst) override;

    UintrModel &model;
};

class UintrModel : public SimObject, public UserInterruptHooks
{
  public:
    PARAMS(UintrModel);
    explicit UintrModel(const Params &p);

    // UserInterruptHooks
    Fault instructionTrap(unsigned op, unsigned reg) override;
    Fault atBoundary(ThreadContext *tc, bool pipelined,
                     bool pipeline_empty, unsigned in_flight) override;
    bool stallFetch(ThreadContext *tc) override;
    bool wantsInjection(ThreadContext *tc) override;
    bool injectAtFetch(ThreadContext *tc, PCStateBase &pc,
                       unsigned in_flight) override;
    bool blocksInjection(const StaticInstPtr &inst) const override;
    bool predictJump(ThreadContext *tc, const StaticInstPtr &inst,
                     const PCStateBase &pc, PCStateBase &next) override;
    bool trapLatency(const Fault &fault, Cycles &latency) const override;
    void acknowledge(ThreadContext *tc, unsigned vector) override;
    bool monitorTriggered(ThreadContext *tc) override;
    SyscallReturn syscall(int num, ThreadContext *tc, uint64_t a0,
                          uint64_t a1, uint64_t a2) override;

    /** OpFault::invoke. */
    void execute(ThreadContext *tc, const StaticInstPtr &inst, unsigned op,
                 unsigned reg);
    /** DeliverFault::invoke. */
    void enterDelivery(ThreadContext *tc);

    Port &getPort(const std::string &if_name,
                  PortID idx = InvalidPortID) override;

  private:
    /** The notification logic's port into one core's caches (index: the
     *  core's context id), for the UITT and UPID accesses. */
    class UpidPort : public RequestPort
    {
      public:
        UpidPort(const std::string &name, UintrModel &model)
            : RequestPort(name), model(model)
        {}
        /** Sends now, or after the peer's retry (in order). */
        void sendOrQueue(PacketPtr pkt);

      protected:
        bool recvTimingResp(PacketPtr pkt) override;
        void recvReqRetry() override;

      private:
        UintrModel &model;
        std::deque<PacketPtr> waiting;
    };

    /** Names a packet's chain. */
    struct ChainState : public Packet::SenderState
    {
        explicit ChainState(uint64_t id) : id(id) {}
        const uint64_t id;
    };

    /** A chain of accesses in flight and what runs when it is done. */
    struct Chain
    {
        core::AccessChain accesses;
        int ctx;
        /** When the outstanding access was issued. */
        Tick issuedAt = 0;
        std::function<void()> done;
    };

    /** Runs `accesses` one after the other on core `ctx`'s port, then
     *  `done` (at once, and untimed, where the port is not connected). */
    void runChain(int ctx, core::AccessChain accesses,
                  std::function<void()> done);
    void issueNext(uint64_t id);
    /** The outstanding access of chain `id` completed now. */
    void accessCompleted(uint64_t id);
    /** SENDUIPI's post, after its accesses; resumes the sender. */
    void finishSend(int ctx, const core::Thread &sender, uint64_t index);
    /** Notification processing, after its access: PIR into UIRR. */
    void processNotification(int ctx, int pid);

    /** Per hardware thread (ContextID). */
    struct ContextState
    {
        /** Vectors in UIRR that came through a UPID (not the timer). */
        uint64_t viaUpid = 0;
        /** Tracked delivery: fetch stalls until this tick. */
        Tick fetchStallUntil = 0;
        /** Tracked delivery injected and not yet acknowledged: a second
         *  injection means the first was squashed. */
        bool injected = false;
        /** uintr_wait in progress (and its generation, for timeouts). */
        bool waiting = false;
        int waitingPid = -1;
        uint64_t waitGeneration = 0;
        /** The KB timer and the thread that armed it. */
        core::KbTimer timer;
        int timerPid = -1;
        uint64_t timerGeneration = 0;
        /** When the last interrupt became pending (for statistics). */
        Tick pendingSince = 0;
        /** WAITPKG: the armed line and the sleep in progress; the
         *  generation tells a stale deadline event from a live one. */
        core::WaitMonitor monitor;
        uint64_t monitorGeneration = 0;
        /** The monitored line's contents at UMONITOR: a write that
         *  landed before the line reached this core's cache sent it no
         *  snoop, so UMWAIT compares the line too. */
        uint64_t monitorSnapshot[core::monitorLineSize / 8] = {};
    };

    ContextState &state(int ctx);
    /** The notification-processing cycles the highest pending vector
     *  needs before its delivery (0 unless it came through a UPID). */
    Cycles processingLatency(ThreadContext *tc);
    /** UIF set, UIRR non-zero, a handler, at a macro-op boundary. */
    bool deliverable(ThreadContext *tc) const;
    /** Adds vectors to UIRR, as hardware does outside the pipeline. */
    void post(ThreadContext *tc, uint64_t vectors, bool via_upid);
    void notificationArrives(int ctx, int pid);
    void wake(int ctx, int pid, int64_t result);
    void scheduleTimer(ThreadContext *tc);
    void timerExpires(int ctx, int pid, uint64_t generation);
    /** A fault the kernel turns into a fatal signal: ends the simulation
     *  with exit code 128 + signal (SE mode delivers no signals). */
    void kill(ThreadContext *tc, int signal, const std::string &what);
    /** SENDUIPI's #UD or #GP (kill() with the signal the kernel sends);
     *  false for no fault. */
    bool killedBy(ThreadContext *tc, core::SendFault fault, uint64_t index);
    /** Runs `fn` at the clock edge `cycles` of tc's CPU from now (at once
     *  for 0). */
    void runAfter(ThreadContext *tc, Cycles cycles, std::function<void()> fn,
                  const char *what);
    void advancePC(ThreadContext *tc, const StaticInstPtr &inst);
    /** Mirrors the thread's receiver and sender MSRs. */
    void syncMsrs(ThreadContext *tc);

    SyscallReturn waitSyscall(ThreadContext *tc, uint64_t usec,
                              uint32_t flags);

    /** UMONITOR, UMWAIT, TPAUSE. */
    void umonitor(ThreadContext *tc, const StaticInstPtr &inst,
                  unsigned reg);
    void umwait(ThreadContext *tc, const StaticInstPtr &inst, unsigned reg,
                core::WaitKind kind);
    /** Ends the context's UMWAIT/TPAUSE sleep: CF, then the thread runs
     *  again after the wake latency. */
    void endMonitorWait(int ctx, core::WakeReason why);

    System *system;
    const UintrStrategy strategy;
    SystemHost host;
    core::Kernel kernel;
    std::vector<ContextState> contexts;
    /** Lost work (flush) and kept work (tracked) of every delivery. */
    core::DeliveryAccount account;

    std::vector<std::unique_ptr<UpidPort>> upidPorts;
    RequestorID requestorId;
    std::map<uint64_t, Chain> chains;
    uint64_t nextChain = 0;

    /** SENDUIPI's micro-code after its accesses completed. */
    const Cycles senduipiLatency;
    const Cycles stuiLatency;
    const Cycles timerOpLatency;
    const Cycles ipiLatency;
    /** Notification processing (micro-code reading and clearing the
     *  UPID, ORing PIR into UIRR) before an interrupt that came through a
     *  UPID is delivered; a KB-timer interrupt skips it. */
    const Cycles notificationLatency;
    const Cycles drainLatency;
    const Tick wakeLatency;
    const Cycles umwaitWakeLatency;
    const uint32_t umwaitControl;

    struct Stats : public statistics::Group
    {
        Stats(statistics::Group *parent, core::DeliveryAccount &account);
        statistics::Scalar senduipi;
        statistics::Scalar notifications;
        statistics::Scalar coalesced;
        statistics::Scalar suppressed;
        statistics::Scalar notificationsProcessed;
        statistics::Scalar upidAccesses;
        statistics::Scalar upidAccessCycles;
        statistics::Formula avgUpidAccessCycles;
        statistics::Scalar untimedAccesses;
        statistics::Scalar timerExpiries;
        statistics::Scalar flushes;
        statistics::Scalar drains;
        statistics::Scalar injections;
        statistics::Scalar deliveries;
        statistics::Scalar wakeups;
        statistics::Scalar umwaits;
        statistics::Scalar tpauses;
        statistics::Vector monitorWakes;
        statistics::Scalar pendingTicks;
        statistics::Formula avgPendingTicks;
        /** Read from UintrModel::account. */
        statistics::Value squashedByFlush;
        statistics::Value squashedPerFlush;
        statistics::Value keptInFlight;
        statistics::Value reinjections;
    } stats;
};

} // namespace nemo_uintr
} // namespace gem5

#endif // NEMO_UINTR_MODEL_UINTR_MODEL_HH
