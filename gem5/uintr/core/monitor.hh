/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * WAITPKG (UMONITOR / UMWAIT / TPAUSE) for one hardware thread, without any
 * simulator type.  The model turns an instruction into a Decision, sleeps
 * the thread until Decision::wakeAt (or an earlier wake), and ends the
 * sleep with end(), which says what CF becomes.
 *
 * Invariants (SDM vol. 2B, UMWAIT/TPAUSE/UMONITOR):
 *  - UMONITOR arms one monitored line per thread (a new one replaces the
 *    old); a write to that line by another agent triggers it.  UMWAIT
 *    ends (or does not start) once the monitor has triggered, and disarms
 *    it: the next UMWAIT needs a new UMONITOR.
 *  - UMWAIT without an armed monitor, with a triggered one, with a
 *    deadline already reached, or with a user interrupt pending and UIF=1
 *    does not sleep.  TPAUSE ignores the monitor.
 *  - A sleep ends at the earliest of: the monitor triggering, the TSC
 *    deadline, the OS limit (IA32_UMWAIT_CONTROL[31:2], 0 = none), an
 *    interrupt.  CF = 1 exactly when the OS limit ended it; a deadline,
 *    a write or an interrupt leave CF = 0.
 *  - ECX[0] of the instruction picks C0.1 (1) or C0.2 (0);
 *    IA32_UMWAIT_CONTROL[0] = 1 forbids C0.2 (the thread uses C0.1).
 */

#ifndef NEMO_UINTR_CORE_MONITOR_HH
#define NEMO_UINTR_CORE_MONITOR_HH

#include <cstdint>

namespace nemo_uintr
{
namespace core
{

/** The line size UMONITOR arms (CPUID.5 on Sapphire Rapids: 64 bytes). */
constexpr uint64_t monitorLineSize = 64;

/** IA32_UMWAIT_CONTROL as Linux programs it (arch/x86/kernel/cpu/umwait.c):
 *  a limit of 100 000 TSC ticks, C0.2 allowed. */
constexpr uint32_t linuxUmwaitControl = 100000;

enum class WaitKind
{
    Umwait,
    Tpause,
};

enum class PowerState
{
    C01,
    C02,
};

/** Why a sleep ended. */
enum class WakeReason
{
    /** The monitored line was written (UMWAIT only). */
    Write,
    /** The TSC reached the instruction's deadline. */
    Deadline,
    /** IA32_UMWAIT_CONTROL's time limit. */
    OsLimit,
    /** A user interrupt became deliverable (UIRR != 0, UIF = 1). */
    Interrupt,
};

const char *wakeReasonName(WakeReason r);

/** What an UMWAIT/TPAUSE does when it executes. */
struct SleepDecision
{
    /** False: the instruction completes at once with CF = `cf`. */
    bool sleeps = false;
    bool cf = false;
    PowerState state = PowerState::C01;
    /** TSC at which the sleep ends unless something wakes it earlier. */
    uint64_t wakeAt = 0;
    /** Whether reaching wakeAt means the OS limit, not the deadline. */
    bool limitedByOs = false;
};

class WaitMonitor
{
  public:
    /** UMONITOR addr: arms the line holding `addr`. */
    void arm(uint64_t addr);

    /** A write to the line holding `addr` by another agent.  Returns
     *  true when it triggers the armed monitor of a sleeping UMWAIT
     *  (the thread must wake). */
    bool write(uint64_t addr);

    /**
     * UMWAIT/TPAUSE at TSC `now`.
     * @param ecx          the instruction's register operand (bit 0: C0.1)
     * @param deadline     EDX:EAX
     * @param umwaitControl IA32_UMWAIT_CONTROL
     * @param interruptPending UIRR != 0 and UIF = 1
     */
    SleepDecision begin(WaitKind kind, uint64_t now, uint32_t ecx,
                       uint64_t deadline, uint32_t umwaitControl,
                       bool interruptPending);

    /** Ends the current sleep; returns the CF the instruction leaves.
     *  A second end() of the same sleep (two wakes racing) is ignored
     *  and returns false through `ended`. */
    bool end(WakeReason why, bool *ended = nullptr);

    bool armed() const { return _armed; }
    bool triggered() const { return _triggered; }
    bool sleeping() const { return _sleeping; }
    WaitKind sleepingIn() const { return _kind; }
    uint64_t line() const { return _line; }

  private:
    bool _armed = false;
    bool _triggered = false;
    bool _sleeping = false;
    WaitKind _kind = WaitKind::Umwait;
    uint64_t _line = 0;
};

/** The line base of `addr`. */
constexpr uint64_t
monitorLine(uint64_t addr)
{
    return addr & ~(monitorLineSize - 1);
}

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_MONITOR_HH
