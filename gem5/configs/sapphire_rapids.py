"""Parameters of the simulated Sapphire-Rapids-like machine, as plain data.

This module is the single place where the numbers live. It imports nothing
from gem5, so the values can be read, tested and diffed without a gem5 build;
`spr_processor`, `spr_cache_hierarchy` and `spr_board` turn them into gem5
SimObjects.

Sources, in order of authority:

* **xUI Table 3** ("Architecture Detail for the Baseline x86 Core", the
  configuration the xUI paper ran in gem5 to model a Xeon Gold 5420+):
  2.0 GHz; fetch and decode 6 uops; issue, retire and squash 10 uops;
  ROB 384, IQ 168, LQ 128, SQ 72; 32 KB 8-way L1I and L1D; functional units
  Int ALU (6), Mult (2), FP ALU/Mult (3). Fields taken from the table say
  "Table 3".
* **Public descriptions of the Golden Cove core and the Sapphire Rapids
  uncore** (Intel's optimization reference manual, Intel ARK for the
  Xeon Gold 5420+, published microbenchmark studies) for what the table
  leaves out: 6-wide rename/allocate, 3 load and 2 store ports, 280 integer
  and 332 FP physical registers, a 2 MB 16-way private L2 with 48 MSHRs,
  a non-inclusive LLC of one 1.875 MB 15-way slice per core, DDR5-4400.
* **Choices of our own** where neither says (marked "chosen"), e.g. the
  branch predictor, prefetchers and the crossbar latencies that stand in
  for the mesh. The latencies are estimates aimed at the published
  load-to-use figures (L1D 5 cycles, L2 about 16 cycles, LLC about 33 ns);
  they are not calibrated against silicon.

Sizes are in bytes and latencies in core cycles (one cycle = 0.5 ns at
2 GHz) unless a field name says otherwise.
"""

from dataclasses import dataclass, field
from typing import Optional, Tuple

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB


def size_string(nbytes: int) -> str:
    """Spell a byte count the way gem5's `MemorySize` parameters parse it."""
    if nbytes <= 0:
        raise ValueError(f"a size must be positive, not {nbytes}")
    for unit, scale in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if nbytes % scale == 0:
            return f"{nbytes // scale}{unit}"
    return f"{nbytes}B"


def next_power_of_two(n: int) -> int:
    """The smallest power of two that is >= n (n >= 1)."""
    if n < 1:
        raise ValueError(f"expected a positive count, not {n}")
    return 1 << (n - 1).bit_length()


@dataclass(frozen=True)
class OpLatency:
    """One operation class a functional unit executes (gem5 `OpDesc`)."""

    op_class: str
    latency: int = 1
    pipelined: bool = True


@dataclass(frozen=True)
class FunctionalUnit:
    """A group of identical functional units (gem5 `FUDesc`).

    Either `gem5_class` names a stock gem5 `FUDesc` subclass, whose op list
    and latencies are kept and only the count changes, or `ops` spells the op
    list out for a unit gem5 has no class for. Exactly one of the two is set.
    """

    name: str
    count: int
    gem5_class: Optional[str] = None
    ops: Tuple[OpLatency, ...] = ()


# gem5's FP_ALU and FP_MultDiv op lists and latencies, merged into one unit
# because Table 3 lists "FPALU/Mult (3)": on Golden Cove the three vector
# ports (0, 1, 5) each take both FP adds and FP multiplies, so three FP
# operations issue per cycle, not three adds plus three multiplies.
FP_ALU_MULT_OPS = (
    OpLatency("FloatAdd", 2),
    OpLatency("FloatCmp", 2),
    OpLatency("FloatCvt", 2),
    OpLatency("FloatMult", 4),
    OpLatency("FloatMultAcc", 5),
    OpLatency("FloatMisc", 3),
    OpLatency("FloatDiv", 12, pipelined=False),
    OpLatency("FloatSqrt", 24, pipelined=False),
)

# Every op class the x86 decoder emits must have a unit: gem5's O3 issues an
# op class that no unit can execute in one cycle with no structural limit,
# which would silently flatter the core.
SPR_FUNCTIONAL_UNITS = (
    FunctionalUnit("int_alu", 6, gem5_class="IntALU"),  # Table 3
    # Table 3 "Mult (2)"; gem5's x86 variant (3-cycle imul, 1-cycle divide
    # micro-ops, since x86 divides are microcode loops in gem5).
    FunctionalUnit("int_mult_div", 2, gem5_class="X86IntMultDiv"),
    FunctionalUnit("fp_alu_mult", 3, ops=FP_ALU_MULT_OPS),  # Table 3
    # Golden Cove: the same three vector ports run SIMD integer work.
    FunctionalUnit("simd", 3, gem5_class="SIMD_Unit"),
    # Golden Cove: 3 load ports and 2 store ports.
    FunctionalUnit("load_port", 3, gem5_class="ReadPort"),
    FunctionalUnit("store_port", 2, gem5_class="WritePort"),
    # gem5's default: one port for internal-register (MSR, TSC) accesses.
    FunctionalUnit("ipr_port", 1, gem5_class="IprPort"),
)


@dataclass(frozen=True)
class O3Core:
    """The out-of-order core (gem5 `X86O3CPU`)."""

    fetch_width: int = 6  # Table 3
    decode_width: int = 6  # Table 3
    # Golden Cove renames and allocates 6 uops per cycle; gem5's dispatch is
    # the rename-to-IQ step, so it gets the same width.
    rename_width: int = 6
    dispatch_width: int = 6
    issue_width: int = 10  # Table 3
    # Results written back per cycle: as many as can issue.
    writeback_width: int = 10
    commit_width: int = 10  # Table 3 ("Retire Width")
    squash_width: int = 10  # Table 3
    rob_entries: int = 384  # Table 3
    iq_entries: int = 168  # Table 3
    lq_entries: int = 128  # Table 3
    sq_entries: int = 72  # Table 3
    # Golden Cove register files; gem5's x86 keeps SSE state in its float
    # registers, so the FP/vector file size goes there.
    phys_int_regs: int = 280
    phys_float_regs: int = 332
    # Golden Cove's L1D accepts 3 loads and 2 stores per cycle.
    cache_load_ports: int = 3
    cache_store_ports: int = 2
    # Chosen: Intel does not document its predictor; TAGE-like is the
    # consensus, and LTAGE is gem5's stock TAGE with a loop predictor.
    branch_predictor: str = "LTAGE"
    functional_units: Tuple[FunctionalUnit, ...] = SPR_FUNCTIONAL_UNITS


@dataclass(frozen=True)
class Cache:
    """One cache (gem5 classic `Cache`).

    gem5 accesses tags and data in parallel, so a hit costs
    max(tag_latency, data_latency) cycles; a miss costs tag_latency before it
    is sent on.
    """

    size: int
    assoc: int
    tag_latency: int
    data_latency: int
    response_latency: int
    mshrs: int
    tgts_per_mshr: int
    writeback_clean: bool = False
    clusivity: str = "mostly_incl"
    prefetcher: Optional[str] = None

    def sets(self, line_bytes: int) -> int:
        """Number of sets; gem5 needs a whole power of two."""
        return self.size // (line_bytes * self.assoc)


@dataclass(frozen=True)
class Crossbar:
    """A coherent crossbar (gem5 `CoherentXBar`) and its snoop filter."""

    width_bytes: int
    frontend_latency: int
    forward_latency: int
    response_latency: int
    snoop_response_latency: int
    snoop_filter_lookup_latency: int


@dataclass(frozen=True)
class CacheHierarchy:
    """Private L1I/L1D and L2 per core, one shared L3 (LLC)."""

    line_bytes: int = 64
    l1i: Cache = Cache(
        size=32 * KIB,  # Table 3
        assoc=8,  # Table 3
        # Golden Cove's 5-cycle L1I is hidden by its decoupled fetch and uop
        # cache, which gem5's O3 fetch stage does not model; a longer latency
        # here would stall fetch on every 64-byte block.
        tag_latency=1,
        data_latency=1,
        response_latency=1,
        mshrs=16,
        tgts_per_mshr=20,
    )
    l1d: Cache = Cache(
        size=32 * KIB,  # Table 3
        assoc=8,  # Table 3
        # 4 cycles in the array plus O3's execute stage: Golden Cove's
        # 5-cycle load-to-use.
        tag_latency=1,
        data_latency=4,
        response_latency=1,
        mshrs=16,  # Golden Cove: 16 L1D fill buffers
        tgts_per_mshr=20,
        prefetcher="StridePrefetcher",  # chosen
    )
    l2: Cache = Cache(
        size=2 * MIB,  # Sapphire Rapids: 2 MB private L2 per core
        assoc=16,
        # With the L1 miss and the L1-L2 crossbar: about 16 cycles
        # load-to-use, as published for Golden Cove's L2.
        tag_latency=4,
        data_latency=11,
        response_latency=1,
        mshrs=48,  # Golden Cove: 48 outstanding L2 misses
        tgts_per_mshr=12,
        # The LLC below is mostly exclusive, so clean victims must be written
        # back to it or they are lost from the chip.
        writeback_clean=True,
        prefetcher="StridePrefetcher",  # chosen
    )
    # One LLC slice per core. Sapphire Rapids' LLC is non-inclusive: lines
    # enter it as L2 victims, hence mostly exclusive.
    l3_slice: Cache = Cache(
        size=1920 * KIB,  # 1.875 MB per core (52.5 MB on 28 cores)
        assoc=15,
        # With the L1/L2 misses and the mesh crossbar: about 67 cycles,
        # i.e. the ~33 ns LLC hit latency reported for Sapphire Rapids.
        tag_latency=10,
        data_latency=30,
        response_latency=4,
        mshrs=64,
        tgts_per_mshr=12,
        clusivity="mostly_excl",
    )
    # L1I, L1D and the page-table walkers to the core's L2. Golden Cove moves
    # 64 bytes per cycle between L1D and L2.
    l1_to_l2: Crossbar = Crossbar(
        width_bytes=64,
        frontend_latency=1,
        forward_latency=0,
        response_latency=1,
        snoop_response_latency=1,
        snoop_filter_lookup_latency=0,
    )
    # The L2s to the shared LLC: stands in for Sapphire Rapids' mesh, so its
    # latencies (chosen) carry the hop cost of LLC hits and core-to-core
    # transfers. Not calibrated: the model moves a line between cores in
    # roughly 50 cycles (25 ns), where Sapphire Rapids takes 45-60 ns.
    l2_to_l3: Crossbar = Crossbar(
        width_bytes=32,
        frontend_latency=8,
        forward_latency=8,
        response_latency=8,
        snoop_response_latency=8,
        snoop_filter_lookup_latency=1,
    )
    # LLC to the memory controller: gem5's SystemXBar defaults, widened to a
    # cache line as the stdlib hierarchies do.
    l3_to_memory: Crossbar = Crossbar(
        width_bytes=64,
        frontend_latency=3,
        forward_latency=4,
        response_latency=2,
        snoop_response_latency=4,
        snoop_filter_lookup_latency=1,
    )

    def l3_slices(self, cores: int) -> int:
        """Slices in the LLC for `cores` cores.

        Rounded up to a power of two because gem5's set-associative tags need
        a power-of-two set count and a slice has 2048 sets. nemo-bench's
        working set is a few KiB, so only the LLC's latency matters, never
        its capacity.
        """
        return next_power_of_two(cores)

    def l3(self, cores: int) -> Cache:
        """The shared LLC for `cores` cores."""
        slices = self.l3_slices(cores)
        s = self.l3_slice
        return Cache(
            size=s.size * slices,
            assoc=s.assoc,
            tag_latency=s.tag_latency,
            data_latency=s.data_latency,
            response_latency=s.response_latency,
            mshrs=s.mshrs * slices,
            tgts_per_mshr=s.tgts_per_mshr,
            writeback_clean=s.writeback_clean,
            clusivity=s.clusivity,
            prefetcher=s.prefetcher,
        )

    def private_bytes_per_core(self) -> int:
        """Capacity of one core's private caches."""
        return self.l1i.size + self.l1d.size + self.l2.size

    def l3_snoop_filter_bytes(self, cores: int) -> int:
        """Capacity the L2-to-L3 snoop filter must track: every private cache."""
        return cores * self.private_bytes_per_core()

    def memory_snoop_filter_bytes(self, cores: int) -> int:
        """Capacity the memory-side snoop filter must track: every cache."""
        return self.l3_snoop_filter_bytes(cores) + self.l3(cores).size


@dataclass(frozen=True)
class Memory:
    """Main memory: a function of `gem5.components.memory` and its size."""

    # The Xeon Gold 5420+ runs DDR5-4400 (Intel ARK), which gem5 v24 models
    # exactly (DDR5_4400_4x8). One DIMM (two 32-bit subchannels) instead of
    # the socket's eight channels: the benchmarks are latency-bound and
    # bandwidth never matters to them.
    model: str = "DIMM_DDR5_4400"
    # The DIMM's native capacity (2 x 4 x 512 MiB devices), so gem5 does not
    # warn about a capacity/range mismatch; SE mode allocates pages lazily.
    size: int = 4 * GIB


@dataclass(frozen=True)
class Machine:
    """The whole simulated machine; the number of cores is chosen per run."""

    frequency_hz: int = 2_000_000_000  # Table 3 (2.0 GHz)
    core: O3Core = field(default_factory=O3Core)
    caches: CacheHierarchy = field(default_factory=CacheHierarchy)
    memory: Memory = field(default_factory=Memory)
    # A sanity bound, not a hardware limit: each core brings its own O3
    # pipeline and caches, and beyond 64 the simulation is too slow to use.
    max_cores: int = 64

    def clock(self) -> str:
        """The clock frequency as gem5 parses it."""
        if self.frequency_hz % 1_000_000_000 == 0:
            return f"{self.frequency_hz // 1_000_000_000}GHz"
        return f"{self.frequency_hz // 1_000_000}MHz"


SAPPHIRE_RAPIDS = Machine()


@dataclass(frozen=True)
class Socket:
    """A many-core run: `cores` cores of `machine` sharing one LLC and one
    interconnect, as the cores of one Sapphire Rapids socket do.

    On Sapphire Rapids every core sits on a mesh stop with its L2 and one
    LLC slice (a CHA). The configs build the same per-core parts and give
    the LLC one 1.875 MiB slice per core; the mesh is stood in for by the
    L2-to-LLC crossbar of `CacheHierarchy.l2_to_l3`, which charges every
    core pair the same latency. A real mesh charges 1 to
    (columns - 1) + (rows - 1) hops depending on placement, so the model's
    spread of wake times across waiters comes from serialisation (one line,
    one owner, requests queued at the crossbar and the LLC) and not from
    distance: read its sigma as a lower bound of the socket's.
    """

    cores: int
    mesh_columns: int
    mesh_rows: int
    machine: Machine = field(default_factory=Machine)

    def __post_init__(self):
        if not 2 <= self.cores <= self.machine.max_cores:
            raise ValueError(
                f"a socket of {self.cores} cores: between 2 and {self.machine.max_cores}"
            )
        if self.mesh_columns * self.mesh_rows < self.cores:
            raise ValueError(
                f"a {self.mesh_columns}x{self.mesh_rows} mesh has no stop for each of "
                f"{self.cores} cores"
            )

    def max_waiters(self) -> int:
        """Waiters a `--sim` run can have: SE mode runs one thread per core,
        and the signaller (nemo-bench's main thread) takes one."""
        return self.cores - 1

    def llc(self) -> Cache:
        """The shared LLC of the socket."""
        return self.machine.caches.l3(self.cores)

    def max_mesh_hops(self) -> int:
        """The longest core-to-core path on the mesh, in hops."""
        return self.mesh_columns - 1 + self.mesh_rows - 1


# The 16-core socket of the broadcast runs: 1 signaller + 15 waiters. 16 is a
# power of two, so the LLC has exactly one slice per core (30 MiB, as 16 of
# Sapphire Rapids' 1.875 MiB slices), with no rounding; 4x4 stops.
SPR_SOCKET_16 = Socket(cores=16, mesh_columns=4, mesh_rows=4)
