"""The system description the configs build, against the fake gem5 modules."""

import importlib
import unittest

import configs_path  # noqa: F401
import fake_gem5
from fake_gem5 import connected
from nemo_args import RunConfig
from sapphire_rapids import SAPPHIRE_RAPIDS, FunctionalUnit, OpLatency

NEMO_ARGS = ("--sim", "unicast", "--mechanisms", "spin,futex")


def run_config(cores=3, cpu_type="o3"):
    return RunConfig(
        binary="/opt/bench/nemo-bench",
        cores=cores,
        cpu_type=cpu_type,
        nemo_args=NEMO_ARGS,
        env=("RUST_BACKTRACE=1",),
        max_ticks=None,
        warnings=(),
    )


class WithFakeGem5(unittest.TestCase):
    def setUp(self):
        ctx = fake_gem5.installed()
        self.objects = ctx.__enter__()
        self.addCleanup(ctx.__exit__, None, None, None)
        self.spr_board = importlib.import_module("spr_board")
        self.spr_processor = importlib.import_module("spr_processor")

    def build(self, **kwargs):
        board = self.spr_board.build_board(run_config(**kwargs), SAPPHIRE_RAPIDS)
        # What gem5 does just before instantiating the system.
        board._pre_instantiate()
        return board


class FakeSimObjectRules(WithFakeGem5):
    def test_gem5_private_state_cannot_be_overwritten(self):
        # gem5 keeps a SimObject's parameter table in `_params`; a config that
        # stores its own data there breaks every later parameter assignment.
        hierarchy = self.objects.L2XBar()
        with self.assertRaises(AttributeError):
            hierarchy._params = {}
        hierarchy._own_data = 1
        self.assertEqual(hierarchy._own_data, 1)


class O3Board(WithFakeGem5):
    def setUp(self):
        super().setUp()
        self.board = self.build(cores=3, cpu_type="o3")
        self.cpus = [c.get_simobject() for c in self.board.processor.get_cores()]

    def test_board_clock_and_memory(self):
        self.assertEqual(self.board.clk_freq, "2GHz")
        self.assertEqual(self.board.memory.model, "DIMM_DDR5_4400")
        self.assertEqual(self.board.memory.size, "4GiB")

    def test_n_x86_o3_cores(self):
        self.assertEqual(len(self.cpus), 3)
        self.assertEqual(fake_gem5.requires_calls, [fake_gem5.ISA.X86])
        for i, (core, cpu) in enumerate(
            zip(self.board.processor.get_cores(), self.cpus)
        ):
            self.assertIs(core.get_isa(), fake_gem5.ISA.X86)
            self.assertIsInstance(cpu, self.objects.X86O3CPU)
            self.assertEqual(cpu.cpu_id, i)

    def test_o3_sizes_from_table_3(self):
        for cpu in self.cpus:
            self.assertEqual(cpu.fetchWidth, 6)
            self.assertEqual(cpu.decodeWidth, 6)
            self.assertEqual(cpu.renameWidth, 6)
            self.assertEqual(cpu.dispatchWidth, 6)
            self.assertEqual(cpu.issueWidth, 10)
            self.assertEqual(cpu.wbWidth, 10)
            self.assertEqual(cpu.commitWidth, 10)
            self.assertEqual(cpu.squashWidth, 10)
            self.assertEqual(cpu.numROBEntries, 384)
            self.assertEqual(cpu.numIQEntries, 168)
            self.assertEqual(cpu.LQEntries, 128)
            self.assertEqual(cpu.SQEntries, 72)
            self.assertEqual(cpu.numPhysIntRegs, 280)
            self.assertEqual(cpu.numPhysFloatRegs, 332)
            self.assertEqual(cpu.cacheLoadPorts, 3)
            self.assertEqual(cpu.cacheStorePorts, 2)
            self.assertIsInstance(cpu.branchPred, self.objects.LTAGE)

    def test_every_o3_field_reaches_the_cpu(self):
        core = SAPPHIRE_RAPIDS.core
        for field_name, param in self.spr_processor.O3_PARAM_NAMES.items():
            self.assertEqual(getattr(self.cpus[0], param), getattr(core, field_name))

    def test_functional_unit_pool(self):
        o = self.objects
        pools = [cpu.fuPool for cpu in self.cpus]
        # Each core owns its pool: gem5 SimObjects have one parent.
        self.assertEqual(len({id(p) for p in pools}), 3)
        units = pools[0].FUList
        by_class = {type(u).__name__: u for u in units}
        self.assertEqual(by_class["IntALU"].count, 6)
        self.assertEqual(by_class["X86IntMultDiv"].count, 2)
        self.assertEqual(by_class["SIMD_Unit"].count, 3)
        self.assertEqual(by_class["ReadPort"].count, 3)
        self.assertEqual(by_class["WritePort"].count, 2)
        (fp,) = [u for u in units if type(u) is o.FUDesc]
        self.assertEqual(fp.count, 3)
        ops = {op.opClass: (op.opLat, op.pipelined) for op in fp.opList}
        self.assertEqual(ops["FloatAdd"], (2, True))
        self.assertEqual(ops["FloatMult"], (4, True))
        self.assertEqual(ops["FloatDiv"], (12, False))
        self.assertEqual(len(units), len(SAPPHIRE_RAPIDS.core.functional_units))

    def test_cache_sizes(self):
        h = self.board.cache_hierarchy
        for caches in (h.l1icaches, h.l1dcaches, h.l2caches, h.l2buses):
            self.assertEqual(len(caches), 3)
        for c in list(h.l1icaches) + list(h.l1dcaches):
            self.assertEqual((c.size, c.assoc), ("32KiB", 8))
        self.assertIsInstance(h.l1dcaches[0].prefetcher, self.objects.StridePrefetcher)
        for c in h.l2caches:
            self.assertEqual(
                (c.size, c.assoc, c.clusivity), ("2MiB", 16, "mostly_incl")
            )
            self.assertTrue(c.writeback_clean)
        # Three cores round up to four 1920 KiB slices.
        self.assertEqual(h.l3cache.size, "7680KiB")
        self.assertEqual(h.l3cache.assoc, 15)
        self.assertEqual(h.l3cache.clusivity, "mostly_excl")
        self.assertEqual(h.l3cache.mshrs, 4 * SAPPHIRE_RAPIDS.caches.l3_slice.mshrs)

    def test_crossbars_and_snoop_filters(self):
        h = self.board.cache_hierarchy
        self.assertIsInstance(h.membus, self.objects.SystemXBar)
        self.assertIsInstance(h.l3bus, self.objects.L2XBar)
        self.assertEqual(h.l3bus.frontend_latency, 8)
        self.assertEqual(h.membus.width, 64)
        # Never below gem5's 8 MiB default; above it when the caches need it.
        self.assertEqual(h.l2buses[0].snoop_filter.max_capacity, "8MiB")
        self.assertEqual(h.l3bus.snoop_filter.max_capacity, "12672KiB")
        self.assertEqual(h.membus.snoop_filter.max_capacity, "28032KiB")

    def test_port_wiring(self):
        h = self.board.cache_hierarchy
        for i, core in enumerate(self.board.processor.get_cores()):
            l1i, l1d, l2, l2bus = (
                h.l1icaches[i],
                h.l1dcaches[i],
                h.l2caches[i],
                h.l2buses[i],
            )
            self.assertEqual(core.icache, l1i.cpu_side)
            self.assertEqual(core.dcache, l1d.cpu_side)
            self.assertEqual(core.walker_ports, (l2bus.cpu_side_ports,) * 2)
            self.assertEqual(
                core.interrupt_ports,
                (h.membus.mem_side_ports, h.membus.cpu_side_ports),
            )
            self.assertTrue(connected(l1i.mem_side, l2bus.cpu_side_ports))
            self.assertTrue(connected(l1d.mem_side, l2bus.cpu_side_ports))
            self.assertTrue(connected(l2bus.mem_side_ports, l2.cpu_side))
            self.assertTrue(connected(l2.mem_side, h.l3bus.cpu_side_ports))
            # Private: no other core's L1 reaches this L2 bus.
            self.assertEqual(len(l2bus.peers("cpu_side_ports")), 2)
        self.assertEqual(len(h.l3bus.peers("cpu_side_ports")), 3)
        self.assertTrue(connected(h.l3bus.mem_side_ports, h.l3cache.cpu_side))
        self.assertTrue(connected(h.l3cache.mem_side, h.membus.cpu_side_ports))
        self.assertEqual(self.board.system_port, h.membus.cpu_side_ports)
        self.assertTrue(connected(h.membus.default, h.membus.badaddr_responder.pio))
        ctrls = self.board.memory.controllers
        self.assertEqual(len(ctrls), 2)
        for ctrl in ctrls:
            self.assertTrue(connected(h.membus.mem_side_ports, ctrl.port))

    def test_a_uintr_model_reaches_each_core_below_its_l1s(self):
        board = self.spr_board.build_board(run_config(cores=3), SAPPHIRE_RAPIDS)
        board.uintr = self.objects.UintrModel()
        board._pre_instantiate()
        h = board.cache_hierarchy
        # In core order: upid_port[i] is core i's.
        self.assertEqual(
            board.uintr.peers("upid_port"),
            [bus.cpu_side_ports for bus in h.l2buses],
        )
        for bus in h.l2buses:
            self.assertEqual(len(bus.peers("cpu_side_ports")), 3)

    def test_workload(self):
        w = self.board.workload
        self.assertEqual(w.binary.get_local_path(), "/opt/bench/nemo-bench")
        self.assertEqual(w.arguments, list(NEMO_ARGS))
        self.assertEqual(w.env_list, ["RUST_BACKTRACE=1"])


class SimpleCpuBoards(WithFakeGem5):
    def test_timing_and_atomic_keep_the_caches_but_not_the_o3_sizes(self):
        for cpu_type, cls in (
            ("timing", "X86TimingSimpleCPU"),
            ("atomic", "X86AtomicSimpleCPU"),
        ):
            with self.subTest(cpu_type=cpu_type):
                board = self.build(cores=2, cpu_type=cpu_type)
                cpus = [c.get_simobject() for c in board.processor.get_cores()]
                self.assertEqual([type(c).__name__ for c in cpus], [cls] * 2)
                self.assertEqual([c.cpu_id for c in cpus], [0, 1])
                self.assertFalse(hasattr(cpus[0], "numROBEntries"))
                self.assertEqual(board.cache_hierarchy.l1dcaches[1].size, "32KiB")
                self.assertEqual(board.cache_hierarchy.l3cache.size, "3840KiB")
                self.assertEqual(board.workload.arguments, list(NEMO_ARGS))

    def test_one_core(self):
        board = self.build(cores=1, cpu_type="atomic")
        self.assertEqual(board.processor.get_num_cores(), 1)
        self.assertEqual(board.cache_hierarchy.l3cache.size, "1920KiB")


class ProcessorErrors(WithFakeGem5):
    def test_unknown_cpu_type(self):
        with self.assertRaises(ValueError):
            self.spr_processor.make_cpu("minor", 0, SAPPHIRE_RAPIDS.core)

    def test_functional_unit_needs_exactly_one_definition(self):
        make = self.spr_processor.make_functional_unit
        with self.assertRaises(ValueError):
            make(FunctionalUnit("neither", 1))
        with self.assertRaises(ValueError):
            make(
                FunctionalUnit(
                    "both", 1, gem5_class="IntALU", ops=(OpLatency("IntAlu"),)
                )
            )

    def test_fake_rejects_undeclared_parameters(self):
        # The fake must catch what gem5 would: a misspelt parameter.
        with self.assertRaises(AttributeError):
            self.objects.Cache(size="1KiB", tag_latancy=1)


if __name__ == "__main__":
    unittest.main()
