/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * xUI's kernel-bypass timer (KB_Timer, xUI paper §4.3): one per hardware
 * thread, programmed from user mode.  set_timer(cycles, mode): in one-shot
 * mode `cycles` is an absolute TSC deadline (as for the APIC TSC-deadline
 * mode), in periodic mode a period.  On expiry the timer's vector is posted
 * straight into UIRR -- no UPID, no notification.
 */

#ifndef NEMO_UINTR_CORE_KB_TIMER_HH
#define NEMO_UINTR_CORE_KB_TIMER_HH

#include <cstdint>

namespace nemo_uintr
{
namespace core
{

enum class KbTimerMode : uint64_t
{
    OneShot = 0,
    Periodic = 1,
};

class KbTimer
{
  public:
    enum class SetResult
    {
        Ok,
        /** vector >= 64 */
        BadVector,
        /** unknown mode, or a zero period */
        BadArgument,
    };

    /** Arms the timer at TSC `now`. */
    SetResult set(uint64_t now, uint64_t cycles, uint64_t mode,
                  uint64_t vector);
    void clear() { _armed = false; }

    /** Called when the TSC reached `now`: whether the timer fires, and
     *  re-arms a periodic one (missed periods coalesce into one). */
    bool expire(uint64_t now);

    bool armed() const { return _armed; }
    bool periodic() const { return _periodic; }
    uint64_t deadline() const { return _deadline; }
    uint64_t period() const { return _period; }
    unsigned vector() const { return _vector; }

  private:
    bool _armed = false;
    bool _periodic = false;
    uint64_t _deadline = 0;
    uint64_t _period = 0;
    unsigned _vector = 0;
};

} // namespace core
} // namespace nemo_uintr

#endif // NEMO_UINTR_CORE_KB_TIMER_HH
