"""A stand-in for the parts of gem5's `m5` and `gem5` packages the configs use.

It records what the configs build instead of simulating it, and keeps the two
gem5 rules the configs could break unnoticed:

* a SimObject's public attributes are declared parameters, ports or child
  SimObjects; anything else raises `AttributeError`, as in gem5;
* assigning a port to a port connects them (vector ports take many peers).

Parameter and port names are those of gem5 v24.0.0.1;
`test_against_gem5_sources` checks every name here against the sources when
they are available. Only what the configs touch is here.
"""

import contextlib
import enum
import sys
import types


class Port:
    """A SimObject's port, named by its owner and port name."""

    def __init__(self, owner, name):
        self.owner = owner
        self.name = name

    def __eq__(self, other):
        return (
            isinstance(other, Port)
            and self.owner is other.owner
            and self.name == other.name
        )

    def __hash__(self):
        return hash((id(self.owner), self.name))

    def __repr__(self):
        return f"<{type(self.owner).__name__}@{id(self.owner):x}.{self.name}>"


def _is_child(value):
    if isinstance(value, SimObject):
        return True
    return (
        isinstance(value, (list, tuple))
        and len(value) > 0
        and all(isinstance(v, SimObject) for v in value)
    )


# Private attributes gem5's own `SimObject` keeps on its classes and
# instances (m5/SimObject.py): a config that assigns one of them overwrites
# gem5's bookkeeping and breaks the object (`self._params = ...` replaces the
# parameter table, and the next parameter assignment fails).
SIMOBJECT_INTERNALS = (
    "_base",
    "_ccObject",
    "_ccParams",
    "_children",
    "_citations",
    "_deprecated_params",
    "_hr_values",
    "_init_called",
    "_instantiated",
    "_name",
    "_paramEnumed",
    "_params",
    "_parent",
    "_port_refs",
    "_ports",
    "_values",
)


class SimObject:
    PARAMS = ()
    PORTS = ()

    def __init__(self, **params):
        object.__setattr__(self, "_peers", {})
        for name, value in params.items():
            setattr(self, name, value)

    def __getattr__(self, name):
        # Only reached when normal lookup fails: unset names.
        if name in type(self).PORTS:
            return Port(self, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in SIMOBJECT_INTERNALS:
            raise AttributeError(
                f"{type(self).__name__}.{name} is gem5's own SimObject state"
            )
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        elif name in type(self).PORTS:
            if not isinstance(value, Port):
                raise TypeError(f"{name} must be connected to a port, not {value!r}")
            self._connect(name, value)
        elif name in type(self).PARAMS or _is_child(value):
            object.__setattr__(self, name, value)
        else:
            raise AttributeError(f"Class {type(self).__name__} has no parameter {name}")

    def _connect(self, name, peer):
        self._peers.setdefault(name, []).append(peer)
        peer.owner._peers.setdefault(peer.name, []).append(Port(self, name))

    def peers(self, port_name):
        """Ports connected to this object's port `port_name`."""
        return list(self._peers.get(port_name, []))


def connected(a, b):
    """Whether ports `a` and `b` were connected to each other."""
    return b in a.owner.peers(a.name)


def _simobject(name, params=(), ports=(), base=SimObject):
    """A fake SimObject class; like gem5's, it inherits its base's parameters."""
    return type(
        name,
        (base,),
        {"PARAMS": base.PARAMS + tuple(params), "PORTS": base.PORTS + tuple(ports)},
    )


O3_PARAMS = (
    "fetchWidth",
    "decodeWidth",
    "renameWidth",
    "dispatchWidth",
    "issueWidth",
    "wbWidth",
    "commitWidth",
    "squashWidth",
    "numROBEntries",
    "numIQEntries",
    "LQEntries",
    "SQEntries",
    "numPhysIntRegs",
    "numPhysFloatRegs",
    "cacheLoadPorts",
    "cacheStorePorts",
    "branchPred",
    "fuPool",
)
CACHE_PARAMS = (
    "size",
    "assoc",
    "tag_latency",
    "data_latency",
    "response_latency",
    "mshrs",
    "tgts_per_mshr",
    "writeback_clean",
    "clusivity",
    "prefetcher",
)
XBAR_PARAMS = (
    "width",
    "frontend_latency",
    "forward_latency",
    "response_latency",
    "snoop_response_latency",
    "snoop_filter",
)
XBAR_PORTS = ("cpu_side_ports", "mem_side_ports", "default")
# gem5's stock FUDesc subclasses (cpu/o3/FuncUnitConfig.py, arch/x86/X86CPU.py).
FU_CLASSES = (
    "IntALU",
    "IntMultDiv",
    "X86IntMultDiv",
    "FP_ALU",
    "FP_MultDiv",
    "SIMD_Unit",
    "PredALU",
    "ReadPort",
    "WritePort",
    "RdWrPort",
    "IprPort",
)


def _make_m5():
    m5 = types.ModuleType("m5")
    objects = types.ModuleType("m5.objects")
    m5.objects = objects
    m5.options = types.SimpleNamespace(outdir="m5out")

    cpu = ("cpu_id",)
    objects.X86O3CPU = _simobject("X86O3CPU", cpu + O3_PARAMS)
    objects.X86TimingSimpleCPU = _simobject("X86TimingSimpleCPU", cpu)
    objects.X86AtomicSimpleCPU = _simobject("X86AtomicSimpleCPU", cpu)
    objects.LTAGE = _simobject("LTAGE")
    objects.FUPool = _simobject("FUPool", ("FUList",))
    objects.OpDesc = _simobject("OpDesc", ("opClass", "opLat", "pipelined"))
    objects.FUDesc = _simobject("FUDesc", ("count", "opList"))
    for name in FU_CLASSES:
        setattr(objects, name, _simobject(name, base=objects.FUDesc))
    objects.Cache = _simobject("Cache", CACHE_PARAMS, ("cpu_side", "mem_side"))
    objects.StridePrefetcher = _simobject("StridePrefetcher")
    objects.L2XBar = _simobject("L2XBar", XBAR_PARAMS, XBAR_PORTS)
    objects.SystemXBar = _simobject("SystemXBar", XBAR_PARAMS, XBAR_PORTS)
    objects.SnoopFilter = _simobject("SnoopFilter", ("lookup_latency", "max_capacity"))
    objects.BadAddr = _simobject("BadAddr", ports=("pio",))
    # gem5/uintr/UintrModel.py (its ports; the parameters are tested in uintr/tests).
    objects.UintrModel = _simobject("UintrModel", ports=("upid_port",))
    return {"m5": m5, "m5.objects": objects}


class ISA(enum.Enum):
    X86 = "x86"


class BaseCPUCore:
    """Stands in for the stdlib class: records what is connected to the core."""

    def __init__(self, core, isa):
        self.core = core
        self.isa = isa
        self.icache = None
        self.dcache = None
        self.walker_ports = None
        self.interrupt_ports = None

    def get_simobject(self):
        return self.core

    def get_isa(self):
        return self.isa

    def connect_icache(self, port):
        self.icache = port

    def connect_dcache(self, port):
        self.dcache = port

    def connect_walker_ports(self, port1, port2):
        self.walker_ports = (port1, port2)

    def connect_interrupt(self, interrupt_requestor=None, interrupt_responce=None):
        # gem5 spells the second parameter this way.
        self.interrupt_ports = (interrupt_requestor, interrupt_responce)


class BaseCPUProcessor:
    def __init__(self, cores):
        self.cores = list(cores)

    def get_cores(self):
        return self.cores

    def get_num_cores(self):
        return len(self.cores)

    def incorporate_processor(self, board):
        pass


class AbstractClassicCacheHierarchy(SimObject):
    """A gem5 SubSystem: no parameters of its own, only children."""


class FakeMemory:
    """What a `gem5.components.memory` factory returns, reduced to its ports."""

    def __init__(self, model, size, channels):
        self.model = model
        self.size = size
        self.controllers = [
            _simobject("MemCtrl", ports=("port",))() for _ in range(channels)
        ]

    def get_mem_ports(self):
        return [(None, ctrl.port) for ctrl in self.controllers]

    def incorporate_memory(self, board):
        pass


def DIMM_DDR5_4400(size=None):
    # Two 32-bit channels per DDR5 DIMM, as in gem5.
    return FakeMemory("DIMM_DDR5_4400", size, channels=2)


class BinaryResource:
    def __init__(self, local_path, id=None, resource_version=None, **kwargs):
        self.local_path = local_path

    def get_local_path(self):
        return self.local_path


class SimpleBoard:
    def __init__(self, clk_freq, processor, memory, cache_hierarchy):
        self.clk_freq = clk_freq
        self.processor = processor
        self.memory = memory
        self.cache_hierarchy = cache_hierarchy
        self.system_port = None
        self.workload = None

    def get_processor(self):
        return self.processor

    def get_memory(self):
        return self.memory

    def get_cache_hierarchy(self):
        return self.cache_hierarchy

    def connect_system_port(self, port):
        self.system_port = port

    def set_se_binary_workload(
        self,
        binary,
        exit_on_work_items=True,
        stdin_file=None,
        stdout_file=None,
        stderr_file=None,
        env_list=None,
        arguments=[],
        checkpoint=None,
    ):
        self.workload = types.SimpleNamespace(
            binary=binary, arguments=arguments, env_list=env_list
        )

    def _pre_instantiate(self):
        # gem5's order (AbstractBoard._connect_things): memory, caches, CPUs.
        self.memory.incorporate_memory(self)
        self.cache_hierarchy.incorporate_cache(self)
        self.processor.incorporate_processor(self)


class Simulator:
    """Runs nothing; ends with the exit event the test scripted."""

    # (cause, code, tick) of the exit event the next run ends with.
    next_exit = ("exiting with last active thread context", 0, 1000)
    instances = []

    def __init__(
        self,
        board,
        full_system=None,
        on_exit_event=None,
        expected_execution_order=None,
        checkpoint_path=None,
        max_ticks=None,
        id=None,
    ):
        self.board = board
        self.max_ticks = max_ticks
        self.ran = False
        Simulator.instances.append(self)

    def run(self, max_ticks=None):
        self.board._pre_instantiate()
        self.ran = True
        self._exit = Simulator.next_exit

    def get_last_exit_event_cause(self):
        return self._exit[0]

    def get_last_exit_event_code(self):
        return self._exit[1]

    def get_current_tick(self):
        return self._exit[2]


requires_calls = []


def requires(isa_required=None, coherence_protocol_required=None, kvm_required=False):
    requires_calls.append(isa_required)


def _module(name, **attrs):
    m = types.ModuleType(name)
    for k, v in attrs.items():
        setattr(m, k, v)
    return m


def _make_gem5():
    mods = {
        "gem5.isas": _module("gem5.isas", ISA=ISA),
        "gem5.utils.requires": _module("gem5.utils.requires", requires=requires),
        "gem5.components.processors.base_cpu_core": _module(
            "gem5.components.processors.base_cpu_core", BaseCPUCore=BaseCPUCore
        ),
        "gem5.components.processors.base_cpu_processor": _module(
            "gem5.components.processors.base_cpu_processor",
            BaseCPUProcessor=BaseCPUProcessor,
        ),
        "gem5.components.cachehierarchies.classic.abstract_classic_cache_hierarchy": (
            _module(
                "gem5.components.cachehierarchies.classic."
                "abstract_classic_cache_hierarchy",
                AbstractClassicCacheHierarchy=AbstractClassicCacheHierarchy,
            )
        ),
        "gem5.components.memory": _module(
            "gem5.components.memory", DIMM_DDR5_4400=DIMM_DDR5_4400
        ),
        "gem5.components.boards.simple_board": _module(
            "gem5.components.boards.simple_board", SimpleBoard=SimpleBoard
        ),
        "gem5.resources.resource": _module(
            "gem5.resources.resource", BinaryResource=BinaryResource
        ),
        "gem5.simulate.simulator": _module(
            "gem5.simulate.simulator", Simulator=Simulator
        ),
    }
    # Parent packages, each holding its children as attributes, so both
    # `import a.b.c` and `from a.b import c` resolve.
    for name in list(mods):
        parts = name.split(".")
        for i in range(1, len(parts)):
            parent = ".".join(parts[:i])
            if parent not in mods:
                mods[parent] = _module(parent)
    for name, mod in mods.items():
        if "." in name:
            parent, child = name.rsplit(".", 1)
            setattr(mods[parent], child, mod)
    return mods


# The configs that import gem5; dropped from sys.modules on the way in and
# out so that each test imports them against the fake.
CONFIG_MODULES = ("spr_processor", "spr_cache_hierarchy", "spr_board")


@contextlib.contextmanager
def installed():
    """Put the fake `m5`/`gem5` modules in `sys.modules` for the duration."""
    fakes = {}
    fakes.update(_make_m5())
    fakes.update(_make_gem5())
    names = list(fakes) + list(CONFIG_MODULES)
    saved = {n: sys.modules[n] for n in names if n in sys.modules}
    for n in CONFIG_MODULES:
        sys.modules.pop(n, None)
    sys.modules.update(fakes)
    del requires_calls[:]
    del Simulator.instances[:]
    Simulator.next_exit = ("exiting with last active thread context", 0, 1000)
    try:
        yield fakes["m5.objects"]
    finally:
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)
