/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * The memory accesses of the user-interrupt notification logic, without
 * any simulator type: which lines SENDUIPI and notification processing
 * touch, in which order.  The model issues each one as a timed access
 * through the core's caches (so a UPID line that another core holds costs
 * a coherence miss, and one this core holds costs a hit) and runs the
 * semantic step (core::Kernel's post or take) when the last one completed.
 *
 *   SENDUIPI:                read the UITT entry, then a locked read-
 *                            modify-write of the UPID it names (PIR bit,
 *                            test-and-set ON);
 *   notification processing: a locked read-modify-write of the
 *                            receiver's UPID (clear ON, take PIR).
 *
 * Invariants: a chain has one access outstanding at a time and issues them
 * in program order (the UPID's address comes from the UITT entry, so its
 * access cannot start before the entry's read completed); it is done
 * exactly when every access completed, and its cycles are the sum of the
 * accesses' own.
 */

#ifndef NEMO_UINTR_CORE_UPID_ACCESS_HH
#define NEMO_UINTR_CORE_UPID_ACCESS_HH

#include <cstdint>
#include <vector>

namespace nemo_uintr
{
namespace core
{

enum class AccessKind
{
    /** A plain load (the UITT entry). */
    Read,
    /** A locked read-modify-write: the line is taken writable. */
    LockedRmw,
};

struct Access
{
    AccessKind kind;
    /** Guest virtual address, in the address space of process `tgid`,
     *  and size in bytes. */
    uint64_t addr;
    uint64_t size;
    int tgid;
};

class AccessChain
{
  public:
    /** SENDUIPI of entry `index` of the table at `table` (IA32_UINTR_TT
     *  without its valid bit) of process `sender`, whose entry names
     *  `upid` of process `receiver`. */
    static AccessChain senduipi(uint64_t table, uint64_t index, uint64_t upid,
                                int sender, int receiver);
    /** Notification processing of the receiver of process `tgid` whose
     *  UPID is `upid`. */
    static AccessChain notification(uint64_t upid, int tgid);
    /** No access (a SENDUIPI that faults before its first). */
    static AccessChain none() { return AccessChain({}); }

    /** The access to issue now, or nullptr when the chain is done. */
    const Access *next() const;
    /** The access next() returned completed, after `cycles`; false (and
     *  nothing changes) when no access was outstanding. */
    bool completed(uint64_t cycles);
    bool done() const { return at == steps.size(); }
    /** Cycles of the completed accesses, together. */
    uint64_t cycles() const { return total; }
    /** How many accesses completed. */
    uint64_t completedCount() const { return at; }

  private:
    explicit AccessChain(std::vector<Access> steps) : steps(std::move(steps))
    {}

    std::vector<Access> steps;
    uint64_t at = 0;
    uint64_t total = 0;
};

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_UPID_ACCESS_HH
