"""The processor: N x86 cores, out-of-order ones shaped by `O3Core`.

Built from the stdlib's `BaseCPUCore`/`BaseCPUProcessor` around CPU
SimObjects we create and configure ourselves, because `SimpleProcessor`
offers no way to size an O3 core.
"""

from typing import List

import m5.objects
from gem5.components.processors.base_cpu_core import BaseCPUCore
from gem5.components.processors.base_cpu_processor import BaseCPUProcessor
from gem5.isas import ISA
from gem5.utils.requires import requires

from sapphire_rapids import FunctionalUnit, O3Core

# `--cpu-type` to the x86 CPU SimObject class.
CPU_CLASSES = {
    "o3": "X86O3CPU",
    "timing": "X86TimingSimpleCPU",
    "atomic": "X86AtomicSimpleCPU",
}

# `O3Core` field -> `BaseO3CPU` parameter.
O3_PARAM_NAMES = {
    "fetch_width": "fetchWidth",
    "decode_width": "decodeWidth",
    "rename_width": "renameWidth",
    "dispatch_width": "dispatchWidth",
    "issue_width": "issueWidth",
    "writeback_width": "wbWidth",
    "commit_width": "commitWidth",
    "squash_width": "squashWidth",
    "rob_entries": "numROBEntries",
    "iq_entries": "numIQEntries",
    "lq_entries": "LQEntries",
    "sq_entries": "SQEntries",
    "phys_int_regs": "numPhysIntRegs",
    "phys_float_regs": "numPhysFloatRegs",
    "cache_load_ports": "cacheLoadPorts",
    "cache_store_ports": "cacheStorePorts",
}


def make_functional_unit(unit: FunctionalUnit):
    """One gem5 `FUDesc` for `unit`."""
    if (unit.gem5_class is None) == (not unit.ops):
        raise ValueError(
            f"functional unit {unit.name!r} needs exactly one of gem5_class and ops"
        )
    if unit.gem5_class is not None:
        return getattr(m5.objects, unit.gem5_class)(count=unit.count)
    return m5.objects.FUDesc(
        count=unit.count,
        opList=[
            m5.objects.OpDesc(
                opClass=op.op_class, opLat=op.latency, pipelined=op.pipelined
            )
            for op in unit.ops
        ],
    )


def configure_o3(cpu, core: O3Core) -> None:
    """Size an `X86O3CPU` as `core` says."""
    for field_name, param in O3_PARAM_NAMES.items():
        setattr(cpu, param, getattr(core, field_name))
    cpu.branchPred = getattr(m5.objects, core.branch_predictor)()
    cpu.fuPool = m5.objects.FUPool(
        FUList=[make_functional_unit(u) for u in core.functional_units]
    )


def make_cpu(cpu_type: str, cpu_id: int, core: O3Core):
    """The CPU SimObject for core `cpu_id`."""
    if cpu_type not in CPU_CLASSES:
        raise ValueError(
            f"unknown CPU type {cpu_type!r}; expected one of {sorted(CPU_CLASSES)}"
        )
    cpu = getattr(m5.objects, CPU_CLASSES[cpu_type])(cpu_id=cpu_id)
    if cpu_type == "o3":
        configure_o3(cpu, core)
    return cpu


def make_processor(cpu_type: str, num_cores: int, core: O3Core) -> BaseCPUProcessor:
    """`num_cores` identical x86 cores of `cpu_type`."""
    requires(isa_required=ISA.X86)
    cores: List[BaseCPUCore] = [
        BaseCPUCore(core=make_cpu(cpu_type, i, core), isa=ISA.X86)
        for i in range(num_cores)
    ]
    return BaseCPUProcessor(cores=cores)
