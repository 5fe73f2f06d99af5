# Copyright (c) 2026 the nemo developers
# SPDX-License-Identifier: MIT OR Apache-2.0
#
# The UINTR model as a SimObject.  Instantiate one per simulation (the
# stock simulator runs without it: UINTR instructions raise #UD and
# syscalls 471-479 return ENOSYS).  Every latency is in cycles of the CPU
# concerned; gem5/configs/uintr/calibration.json holds the values and the
# record of how the free ones were fitted (uintr_params.py reads it).

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

    # The notification logic's accesses (SENDUIPI's UITT read and UPID
    # read-modify-write, the receiver's UPID read-modify-write) go
    # through the caches of the core concerned: port i is core i's
    # (context id i), connected below its L1s (the core's L2 bus), so a
    # UPID line another core holds costs a coherence miss.
    upid_port = VectorRequestPort(
        "per core: the UITT/UPID accesses of its notification logic"
    )

    senduipi_latency = Param.Cycles(
        0,
        "SENDUIPI: micro-code cycles after its UITT and UPID accesses "
        "completed, before the thread fetches again",
    )
    stui_latency = Param.Cycles(0, "STUI: cycles after retiring")
    timer_op_latency = Param.Cycles(
        0, "set_timer / clear_timer: cycles after retiring"
    )
    # The IPI's trip from the sending core to the receiving one: one
    # interconnect latency, the same for every path.
    ipi_latency = Param.Cycles(
        0,
        "cycles from SENDUIPI retiring to the notification reaching the "
        "receiving core (APIC and interconnect)",
    )
    # The one fixed latency on the receiver: the notification-processing
    # micro-code (recognise the notification vector, then, once the timed
    # read-modify-write of the UPID (clear ON, take PIR) completed, OR PIR
    # into UIRR) that runs before delivery of an interrupt that came
    # through a UPID. flush: the squash, then this,
    # then the delivery micro-ops; tracked: fetch stalls this long after
    # injecting the delivery. A KB-timer interrupt skips it.
    notification_processing_latency = Param.Cycles(
        0,
        "receiver: notification processing before delivering an interrupt "
        "that came through a UPID",
    )
    drain_latency = Param.Cycles(
        13, "drain strategy: cycles after the drain (gem5's trapLatency)"
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
