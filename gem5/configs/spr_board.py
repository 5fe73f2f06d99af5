"""The board: processor, caches and memory of a `Machine`, running nemo-bench.

`SimpleBoard` is the stdlib's SE-mode board: no devices, no kernel, the
binary's system calls emulated by gem5.
"""

import gem5.components.memory as memories
from gem5.components.boards.simple_board import SimpleBoard
from gem5.resources.resource import BinaryResource

from nemo_args import RunConfig
from sapphire_rapids import Machine, Memory, size_string
from spr_cache_hierarchy import SapphireRapidsCacheHierarchy
from spr_processor import make_processor


def make_memory(memory: Memory):
    """Main memory from one of `gem5.components.memory`'s factories."""
    return getattr(memories, memory.model)(size=size_string(memory.size))


def build_board(config: RunConfig, machine: Machine) -> SimpleBoard:
    """The simulated machine with nemo-bench set up as its SE workload.

    Every core gets the same process; gem5 starts it on core 0 and hands each
    thread the binary clones to the next idle core.
    """
    board = SimpleBoard(
        clk_freq=machine.clock(),
        processor=make_processor(config.cpu_type, config.cores, machine.core),
        memory=make_memory(machine.memory),
        cache_hierarchy=SapphireRapidsCacheHierarchy(machine.caches),
    )
    board.set_se_binary_workload(
        BinaryResource(local_path=config.binary),
        arguments=list(config.nemo_args),
        env_list=list(config.env),
    )
    return board
