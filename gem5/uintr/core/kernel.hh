/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * What Intel's UINTR kernel does for syscalls 471-479 (UINTR-ABI.md §2),
 * as a state machine with no simulator types: receivers (one per thread),
 * their UPIDs, vector fds, and the per-process target tables.  The gem5
 * model maps thread contexts, file descriptors and guest memory onto it;
 * the unit tests drive it directly.
 *
 * Every call returns a value >= 0 or -errno, as the syscall would.
 */

#ifndef NEMO_UINTR_CORE_KERNEL_HH
#define NEMO_UINTR_CORE_KERNEL_HH

#include <array>
#include <cstdint>
#include <map>

#include "structures.hh"
#include "upid_access.hh"

namespace nemo_uintr
{
namespace core
{

constexpr uint32_t handlerWaitingReceiver = 0x1000;
constexpr uint32_t handlerWaitingSender = 0x2000;
constexpr uint32_t handlerWaitingAny = 0x3000;

/** uintr_wait refuses timeouts above this (µs). */
constexpr uint64_t maxWaitUsec = 1000000000ULL;

/** A simulated thread. */
struct Thread
{
    /** Thread id (gettid); unique in a simulation. */
    int pid = -1;
    /** Process id (getpid). */
    int tgid = -1;
    /** Hardware thread it runs on; its APIC id in NDST. */
    int context = -1;
};

/** What the kernel needs from its surroundings. */
class KernelHost
{
  public:
    virtual ~KernelHost() = default;
    /** The address space of process tgid, or nullptr if it is gone. */
    virtual GuestMemory *memory(int tgid) = 0;
    /** Zeroed guest memory of at least `bytes`, page aligned, in process
     *  tgid; 0 if it cannot be had. */
    virtual uint64_t allocate(int tgid, uint64_t bytes) = 0;
    /** Whether the thread still exists (has not exited). */
    virtual bool alive(const Thread &t) = 0;
};

/** A receiver: the state uintr_register_handler creates for a thread. */
struct Receiver
{
    Thread thread;
    bool registered = false;
    uint64_t handler = 0;
    uint32_t flags = 0;
    uint64_t upid = 0;
    uint64_t stackAdjust = defaultStackAdjust;
    /** Counts registrations, so a vector fd outlives only its own. */
    uint64_t generation = 0;
    /** Blocked in uintr_wait. */
    bool waiting = false;
};

/** What a uvec fd names. */
struct VectorTarget
{
    int receiverPid = -1;
    uint64_t upid = 0;
    unsigned vector = 0;
    uint64_t generation = 0;
};

/** A process's user-interrupt target table. */
struct TargetTable
{
    uint64_t base = 0;
    std::array<bool, uittEntries> used{};
    /** Which receiver each entry was made for (which address space its
     *  UPID lives in). */
    std::array<int, uittEntries> receiverPid{};
};

/** The outcome of SENDUIPI. */
struct SendResult
{
    SendFault fault = SendFault::None;
    PostOutcome outcome = PostOutcome::Suppressed;
    unsigned vector = 0;
    uint64_t upid = 0;
    /** Send a notification to `receiver` (ON went from 0 to 1). */
    bool notify = false;
    /** The receiver thread; pid -1 if it is gone. */
    Thread receiver;
};

/** What uintr_wait should do. */
struct WaitDecision
{
    /** Return this now (when !block). */
    int64_t result = 0;
    bool block = false;
    uint64_t timeoutUsec = 0;
};

class Kernel
{
  public:
    Kernel(KernelHost &host, bool blocking) : host(host), blocking(blocking)
    {}

    bool blockingSupported() const { return blocking; }

    int64_t registerHandler(const Thread &t, uint64_t handler,
                            uint32_t flags);
    int64_t unregisterHandler(const Thread &t, uint32_t flags);
    /** 0 and `out` filled, or -errno.  The caller makes the fd. */
    int64_t vectorFd(const Thread &t, uint64_t vector, uint32_t flags,
                     VectorTarget &out);
    /** The caller has already mapped EBADF/EOPNOTSUPP for the fd. */
    int64_t registerSender(const Thread &t, const VectorTarget &target,
                           uint32_t flags);
    int64_t unregisterSender(const Thread &t, int64_t index, uint32_t flags);
    int64_t registerSelf(const Thread &t, uint64_t vector, uint32_t flags);
    int64_t altStack(const Thread &t, uint64_t sp, uint64_t size,
                     uint32_t flags);
    /** 0 (the table exists afterwards) or -errno.  The caller makes the
     *  fd; sharing a table through it is not modelled. */
    int64_t ipiFd(const Thread &t, uint32_t flags);

    /** uintr_wait: `uirr` is the thread's pending-request register. */
    WaitDecision waitBegin(const Thread &t, uint64_t usec, uint32_t flags,
                           uint64_t uirr);
    /** The wait of pid ended (interrupt or timeout). */
    void waitEnd(int pid);

    /** SENDUIPI from thread `sender` with operand `index`. */
    SendResult send(const Thread &sender, uint64_t index);
    /** What that SENDUIPI reads and writes before send() carries it out:
     *  its architectural checks (`fault`; no access when it faults) and
     *  its accesses (see upid_access.hh).  Changes nothing. */
    SendFault sendAccesses(const Thread &sender, uint64_t index,
                           AccessChain &chain);
    /** The access of notification processing on the receiver pid (none
     *  when the receiver is gone). */
    AccessChain notificationAccesses(int pid);

    /** Notification processing on the receiver pid: clear ON, take PIR.
     *  Returns the vectors to add to UIRR (0 if the receiver is gone). */
    uint64_t notificationArrived(int pid);

    /** The receiver record of thread pid (registered or not), or null. */
    const Receiver *receiver(int pid) const;
    /** IA32_UINTR_TT of the threads of process tgid (0: no table). */
    uint64_t targetTableMsr(int tgid) const;
    /** IA32_UINTR_MISC of the threads of process tgid. */
    uint64_t miscMsr(int tgid) const;
    const TargetTable *table(int tgid) const;

  private:
    Receiver *registeredReceiver(const Thread &t);
    TargetTable *ensureTable(int tgid);
    uint64_t allocateUpid(int tgid);
    int64_t addTarget(const Thread &t, const VectorTarget &target);
    bool receiverLive(const Receiver &r);

    KernelHost &host;
    const bool blocking;
    std::map<int, Receiver> receivers;
    std::map<int, TargetTable> tables;
    struct UpidPool
    {
        uint64_t page = 0;
        unsigned used = 0;
    };
    std::map<int, UpidPool> upidPools;
};

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_KERNEL_HH
