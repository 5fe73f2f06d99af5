# Copyright (c) 2026 the nemo developers
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# The UINTR model as a SimObject.  Instantiate one per simulation (the
# stock simulator runs without it: UINTR instructions raise #UD and
# syscalls 471-479 return ENOSYS).  Every latency is in cycles of the CPU
# concerned; gem5/configs/uintr/uintr_params.py holds the calibrated sets
# and says where each number comes from.

from m5.params import *
from m5.proxy import *
from m5.SimObject import SimObject


class UintrStrategy(ScopedEnum):
    # flush:   squash everything in flight at the next instruction boundary
    #          and enter the delivery micro-code (Sapphire Rapids, xUI §3.5)
    # drain:   stop fetch, let everything in flight retire, then enter it
    #          (gem5's default for x86 interrupts)
    # tracked: inject the delivery micro-code into the fetch stream behind
    #          the instructions in flight, re-inject if it is squashed
    #          (xUI tracked interrupts, §4.2)
    vals = ["flush", "drain", "tracked"]


class UintrModel(SimObject):
    type = "UintrModel"
    cxx_header = "nemo_uintr/model/uintr_model.hh"
    cxx_class = "gem5::nemo_uintr::UintrModel"

    system = Param.System(Parent.any, "the system whose threads it serves")
    strategy = Param.UintrStrategy("flush", "how interrupts are delivered")
    blocking = Param.Bool(
        True,
        "uintr_wait and the WAITING_* handler flags "
        "(CONFIG_X86_UINTR_BLOCKING)",
    )

    senduipi_latency = Param.Cycles(
        0, "SENDUIPI: cycles between retiring and fetching again"
    )
    stui_latency = Param.Cycles(0, "STUI: cycles after retiring")
    uiret_latency = Param.Cycles(0, "UIRET: cycles after retiring")
    timer_op_latency = Param.Cycles(
        0, "set_timer / clear_timer: cycles after retiring"
    )
    ipi_latency = Param.Cycles(
        0,
        "cycles from SENDUIPI retiring to the notification reaching the "
        "receiving core (APIC and interconnect)",
    )
    flush_latency = Param.Cycles(
        0,
        "flush strategy: cycles from the flush to fetching the delivery "
        "micro-code (flush, notification processing, UPID access)",
    )
    drain_latency = Param.Cycles(
        13, "drain strategy: cycles after the drain (gem5's trapLatency)"
    )
    tracked_notify_latency = Param.Cycles(
        0,
        "tracked strategy: fetch stall after injecting an interrupt that "
        "came through a UPID (notification processing micro-code)",
    )
    tracked_timer_latency = Param.Cycles(
        0,
        "tracked strategy: fetch stall after injecting a KB-timer "
        "interrupt (no UPID)",
    )
    wake_latency = Param.Latency(
        "0ns",
        "uintr_wait: time from the notification to the woken thread "
        "running again (the kernel's wake-up path)",
    )
    # WAITPKG.  One wake latency for both light states: the cycles from the
    # event that ends an UMWAIT/TPAUSE sleep (the monitored line's snoop,
    # the deadline, the OS limit, an interrupt) to the thread fetching
    # again.  Intel documents C0.2 as slower to leave than C0.1 and C0.1
    # as the lighter state, but publishes no cycle counts for either, so
    # the model does not tell them apart (the state is traced, not timed).
    umwait_wake_latency = Param.Cycles(
        0, "UMWAIT/TPAUSE: cycles from the wake event to fetching again"
    )
    umwait_control = Param.UInt32(
        100000,
        "IA32_UMWAIT_CONTROL: bits 31:2 the OS limit on one UMWAIT/TPAUSE "
        "in TSC ticks (0: none), bit 0 forbids C0.2; Linux's default",
    )
