/*
 * Copyright (c) 2026 the nemo developers
 * SPDX-License-Identifier: MIT OR Apache-2.0
 *
 * Unit tests of core/monitor.hh: UMONITOR / UMWAIT / TPAUSE.
 */

#include "check.hh"
#include "monitor.hh"

#include <string>

using namespace nemo_uintr::core;

namespace
{

constexpr uint32_t noLimit = 0;
constexpr uint32_t c01 = 1;
constexpr uint32_t c02 = 0;

void
testUmwaitNeedsAnArmedUntriggeredMonitor()
{
    WaitMonitor m;
    // Never armed: no sleep, CF = 0.
    SleepDecision d = m.begin(WaitKind::Umwait, 100, c01, 10000, noLimit,
                             false);
    CHECK(!d.sleeps);
    CHECK(!d.cf);

    // Armed, then written before UMWAIT: no sleep, and the monitor is
    // disarmed by the UMWAIT that saw the trigger.
    m.arm(0x1010);
    CHECK(m.armed());
    CHECK_EQ(m.line(), 0x1000u);
    CHECK(!m.write(0x1000 + 63)); // nobody sleeps yet: no wake
    CHECK(m.triggered());
    d = m.begin(WaitKind::Umwait, 100, c01, 10000, noLimit, false);
    CHECK(!d.sleeps);
    CHECK(!m.armed());

    // A write to another line does not trigger.
    m.arm(0x1010);
    CHECK(!m.write(0x1040));
    CHECK(!m.triggered());
    d = m.begin(WaitKind::Umwait, 100, c01, 10000, noLimit, false);
    CHECK(d.sleeps);
    CHECK(m.sleeping());
}

void
testWriteWakesASleepingUmwaitWithCfClear()
{
    WaitMonitor m;
    m.arm(0x2000);
    const SleepDecision d =
        m.begin(WaitKind::Umwait, 1000, c02, 50000, noLimit, false);
    CHECK(d.sleeps);
    CHECK(d.state == PowerState::C02);
    CHECK_EQ(d.wakeAt, 50000u);
    CHECK(!d.limitedByOs);
    CHECK(m.write(0x2008));
    bool ended = false;
    CHECK(!m.end(WakeReason::Write, &ended));
    CHECK(ended);
    CHECK(!m.sleeping());
    // UMWAIT consumed the monitor: the next one returns at once.
    CHECK(!m.armed());
    CHECK(!m.begin(WaitKind::Umwait, 2000, c02, 50000, noLimit, false)
               .sleeps);
    // The deadline event of the finished sleep arrives late: ignored.
    ended = true;
    CHECK(!m.end(WakeReason::Deadline, &ended));
    CHECK(!ended);
}

void
testDeadlineAndOsLimit()
{
    WaitMonitor m;
    // Deadline before the OS limit: the deadline ends it, CF = 0.
    m.arm(0x3000);
    SleepDecision d = m.begin(WaitKind::Umwait, 1000, c01, 21000,
                             linuxUmwaitControl, false);
    CHECK(d.sleeps);
    CHECK(d.state == PowerState::C01);
    CHECK_EQ(d.wakeAt, 21000u);
    CHECK(!d.limitedByOs);
    CHECK(!m.end(WakeReason::Deadline));

    // The OS limit (100 000 ticks) comes first: CF = 1.
    m.arm(0x3000);
    d = m.begin(WaitKind::Umwait, 1000, c01, 1000000, linuxUmwaitControl,
                false);
    CHECK(d.sleeps);
    CHECK(d.limitedByOs);
    CHECK_EQ(d.wakeAt, 101000u);
    CHECK(m.end(WakeReason::OsLimit));

    // The limit's low two bits are not part of it; bit 0 forbids C0.2.
    m.arm(0x3000);
    d = m.begin(WaitKind::Umwait, 0, c02, 1000000, 4003, false);
    CHECK_EQ(d.wakeAt, 4000u);
    CHECK(d.state == PowerState::C01);
    m.end(WakeReason::OsLimit);

    // A deadline already reached: no sleep, CF = 0.
    m.arm(0x3000);
    d = m.begin(WaitKind::Umwait, 5000, c01, 5000, noLimit, false);
    CHECK(!d.sleeps);
    CHECK(!d.cf);
}

void
testInterruptsEndOrPreventTheSleep()
{
    WaitMonitor m;
    // A deliverable user interrupt (UIRR != 0, UIF = 1): no sleep.
    m.arm(0x4000);
    CHECK(!m.begin(WaitKind::Umwait, 0, c01, 100000, noLimit, true).sleeps);
    CHECK(!m.begin(WaitKind::Tpause, 0, c01, 100000, noLimit, true).sleeps);

    // One arriving during the sleep wakes it, CF = 0.
    m.arm(0x4000);
    CHECK(m.begin(WaitKind::Umwait, 0, c01, 100000, noLimit, false).sleeps);
    bool ended = false;
    CHECK(!m.end(WakeReason::Interrupt, &ended));
    CHECK(ended);
}

void
testTpauseIgnoresTheMonitor()
{
    WaitMonitor m;
    // No monitor needed...
    SleepDecision d =
        m.begin(WaitKind::Tpause, 10, c02, 5000, noLimit, false);
    CHECK(d.sleeps);
    CHECK_EQ(d.wakeAt, 5000u);
    CHECK(m.sleepingIn() == WaitKind::Tpause);
    // ...and a write to an armed line does not end a TPAUSE.
    m.end(WakeReason::Deadline);
    m.arm(0x5000);
    d = m.begin(WaitKind::Tpause, 10, c02, 5000, noLimit, false);
    CHECK(d.sleeps);
    CHECK(!m.write(0x5000));
    CHECK(!m.end(WakeReason::Deadline));
    // TPAUSE leaves the monitor armed (only UMWAIT consumes it).
    CHECK(m.armed());
    CHECK(std::string(wakeReasonName(WakeReason::OsLimit)) == "os-limit");
}

} // anonymous namespace

TestList
monitorTests()
{
    return {
        {"umwait_needs_an_armed_untriggered_monitor",
         testUmwaitNeedsAnArmedUntriggeredMonitor},
        {"write_wakes_a_sleeping_umwait", testWriteWakesASleepingUmwaitWithCfClear},
        {"umwait_deadline_and_os_limit", testDeadlineAndOsLimit},
        {"interrupts_end_or_prevent_the_sleep",
         testInterruptsEndOrPreventTheSleep},
        {"tpause_ignores_the_monitor", testTpauseIgnoresTheMonitor},
    };
}
