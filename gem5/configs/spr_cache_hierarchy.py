"""Classic (non-Ruby) caches: private L1I/L1D/L2 per core, one shared LLC.

    core i: L1I, L1D, walkers --l1_to_l2[i]--> L2[i] --+
                                                       |-- l2_to_l3 --> LLC --membus--> DRAM
    core j: L1I, L1D, walkers --l1_to_l2[j]--> L2[j] --+

A UINTR model's port for core i (`upid_port[i]`) joins l1_to_l2[i] beside
the L1s: its UITT and UPID accesses go through that core's caches.

The stdlib's `PrivateL1PrivateL2CacheHierarchy` has no third level and fixes
its latencies, and a line moving between two cores' private caches crosses
the level where Sapphire Rapids' mesh sits, which is what nemo-bench
measures. So the hierarchy is built here from `CacheHierarchy` data, with
the same port wiring the stdlib hierarchies use.
"""

import m5.objects
from gem5.components.cachehierarchies.classic.abstract_classic_cache_hierarchy import (
    AbstractClassicCacheHierarchy,
)

from sapphire_rapids import MIB, Cache, CacheHierarchy, Crossbar, size_string


def make_cache(params: Cache):
    """A gem5 classic `Cache` from `params`."""
    cache = m5.objects.Cache(
        size=size_string(params.size),
        assoc=params.assoc,
        tag_latency=params.tag_latency,
        data_latency=params.data_latency,
        response_latency=params.response_latency,
        mshrs=params.mshrs,
        tgts_per_mshr=params.tgts_per_mshr,
        writeback_clean=params.writeback_clean,
        clusivity=params.clusivity,
    )
    if params.prefetcher is not None:
        cache.prefetcher = getattr(m5.objects, params.prefetcher)()
    return cache


def make_crossbar(xbar_class: str, params: Crossbar):
    """A coherent crossbar of gem5 class `xbar_class` (snoop filter apart)."""
    return getattr(m5.objects, xbar_class)(
        width=params.width_bytes,
        frontend_latency=params.frontend_latency,
        forward_latency=params.forward_latency,
        response_latency=params.response_latency,
        snoop_response_latency=params.snoop_response_latency,
    )


# gem5's default snoop filter capacity.
DEFAULT_SNOOP_FILTER_BYTES = 8 * MIB


def make_snoop_filter(params: Crossbar, tracked_bytes: int):
    """A snoop filter for crossbars below `tracked_bytes` of caches.

    gem5 panics when a snoop filter runs out of entries, and its default
    (8 MiB) is smaller than the caches of four of these cores. The filter
    gets twice what it must track as headroom, and never less than gem5's
    default.
    """
    capacity = max(DEFAULT_SNOOP_FILTER_BYTES, 2 * tracked_bytes)
    return m5.objects.SnoopFilter(
        lookup_latency=params.snoop_filter_lookup_latency,
        max_capacity=size_string(capacity),
    )


class SapphireRapidsCacheHierarchy(AbstractClassicCacheHierarchy):
    """The cache hierarchy of `CacheHierarchy`, sized at incorporation."""

    def __init__(self, params: CacheHierarchy) -> None:
        super().__init__()
        # Underscored: a SimObject takes only parameters and children as
        # public attributes. Not `_params`, which is gem5's own table of the
        # class's parameter descriptions.
        self._machine_caches = params
        # The stdlib creates the memory bus up front, so its ports exist
        # before the board incorporates the hierarchy.
        self.membus = make_crossbar("SystemXBar", params.l3_to_memory)

    def get_mem_side_port(self):
        return self.membus.mem_side_ports

    def get_cpu_side_port(self):
        return self.membus.cpu_side_ports

    def incorporate_cache(self, board) -> None:
        p = self._machine_caches
        processor = board.get_processor()
        cores = processor.get_num_cores()

        self.membus.snoop_filter = make_snoop_filter(
            p.l3_to_memory, p.memory_snoop_filter_bytes(cores)
        )
        # Accesses to unmapped addresses get an error response, not a hang.
        self.membus.badaddr_responder = m5.objects.BadAddr()
        self.membus.default = self.membus.badaddr_responder.pio
        # gem5's functional accesses (loading the binary, syscall buffers).
        board.connect_system_port(self.membus.cpu_side_ports)
        for _, port in board.get_memory().get_mem_ports():
            self.membus.mem_side_ports = port

        self.l3cache = make_cache(p.l3(cores))
        self.l3cache.mem_side = self.membus.cpu_side_ports
        self.l3bus = make_crossbar("L2XBar", p.l2_to_l3)
        self.l3bus.snoop_filter = make_snoop_filter(
            p.l2_to_l3, p.l3_snoop_filter_bytes(cores)
        )
        self.l3bus.mem_side_ports = self.l3cache.cpu_side

        self.l1icaches = [make_cache(p.l1i) for _ in range(cores)]
        self.l1dcaches = [make_cache(p.l1d) for _ in range(cores)]
        self.l2caches = [make_cache(p.l2) for _ in range(cores)]
        self.l2buses = [make_crossbar("L2XBar", p.l1_to_l2) for _ in range(cores)]
        for l2bus in self.l2buses:
            l2bus.snoop_filter = make_snoop_filter(p.l1_to_l2, p.l1i.size + p.l1d.size)

        for i, core in enumerate(processor.get_cores()):
            l2bus = self.l2buses[i]
            core.connect_icache(self.l1icaches[i].cpu_side)
            core.connect_dcache(self.l1dcaches[i].cpu_side)
            self.l1icaches[i].mem_side = l2bus.cpu_side_ports
            self.l1dcaches[i].mem_side = l2bus.cpu_side_ports
            # SE mode translates from gem5's own page table and never walks,
            # but the ports must be connected; they go where walks would.
            core.connect_walker_ports(l2bus.cpu_side_ports, l2bus.cpu_side_ports)
            l2bus.mem_side_ports = self.l2caches[i].cpu_side
            self.l2caches[i].mem_side = self.l3bus.cpu_side_ports
            # A UINTR model's notification logic reads and writes UITT
            # entries and UPIDs through each core's caches, below its L1s
            # (gem5/uintr/UintrModel.py, upid_port[i] is core i's).
            uintr = getattr(board, "uintr", None)
            if uintr is not None:
                uintr.upid_port = l2bus.cpu_side_ports
            # x86 local APICs talk over the memory bus, as in the stdlib.
            core.connect_interrupt(
                self.membus.mem_side_ports, self.membus.cpu_side_ports
            )
