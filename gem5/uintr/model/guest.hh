/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The core's view of simulated processes: their memory (through the
 * process page table, functionally) and their threads.
 */

#ifndef NEMO_UINTR_MODEL_GUEST_HH
#define NEMO_UINTR_MODEL_GUEST_HH

#include <map>
#include <memory>

#include "base/types.hh"
#include "nemo_uintr/core/kernel.hh"
#include "sim/fd_entry.hh"

namespace gem5
{

class System;
class ThreadContext;

namespace nemo_uintr
{

namespace core = ::nemo_uintr::core;

/** The simulated thread running on a context. */
core::Thread threadOf(ThreadContext *tc);

/** Whether context `ctx` still runs thread `pid`. */
bool runs(System *system, int ctx, int pid);

/** Memory of a simulated process, read and written functionally through
 *  the page table of one of its threads. */
class ProcessMemory : public core::GuestMemory
{
  public:
    explicit ProcessMemory(ThreadContext *tc) : tc(tc) {}
    uint64_t read64(uint64_t addr) override;
    void write64(uint64_t addr, uint64_t value) override;

  private:
    ThreadContext *tc;
};

/** KernelHost over a gem5 System running syscall emulation. */
class SystemHost : public core::KernelHost
{
  public:
    explicit SystemHost(System *system) : system(system) {}
    core::GuestMemory *memory(int tgid) override;
    uint64_t allocate(int tgid, uint64_t bytes) override;
    bool alive(const core::Thread &t) override;
    /** The physical address of `vaddr` in process tgid (false: no live
     *  thread of it, or unmapped). */
    bool physical(int tgid, uint64_t vaddr, Addr &paddr);

  private:
    /** A live context of process tgid, or nullptr. */
    ThreadContext *contextOf(int tgid);

    System *system;
    std::map<int, std::unique_ptr<ProcessMemory>> memories;
};

/** The fd uintr_vector_fd returns: names one vector of one receiver. */
class VectorFdEntry : public FDEntry
{
  public:
    explicit VectorFdEntry(const core::VectorTarget &target)
        : FDEntry(true), target(target)
    {}
    std::shared_ptr<FDEntry>
    clone() const override
    {
        return std::make_shared<VectorFdEntry>(*this);
    }

    const core::VectorTarget target;
};

/** The fd uintr_ipi_fd returns: names a process's target table. */
class TargetTableFdEntry : public FDEntry
{
  public:
    explicit TargetTableFdEntry(int tgid) : FDEntry(true), tgid(tgid) {}
    std::shared_ptr<FDEntry>
    clone() const override
    {
        return std::make_shared<TargetTableFdEntry>(*this);
    }

    const int tgid;
};

} // namespace nemo_uintr
} // namespace gem5

#endif // NEMO_UINTR_MODEL_GUEST_HH
