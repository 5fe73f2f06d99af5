"""The 16-core Sapphire-Rapids-like socket: its data, the board the configs
build from it (against the fake gem5 modules), and the command line that
runs nemo-bench's 15-waiter broadcast on it."""

import importlib
import os
import tempfile
import unittest

import configs_path  # noqa: F401
import fake_gem5
from elf_files import write_elf
from nemo_args import UsageError, parse_args
from sapphire_rapids import KIB, MIB, SAPPHIRE_RAPIDS, SPR_SOCKET_16, Socket
from test_board_assembly import run_config

S = SPR_SOCKET_16


class SocketData(unittest.TestCase):
    def test_sixteen_cores_fifteen_waiters(self):
        self.assertEqual(S.cores, 16)
        self.assertEqual(S.max_waiters(), 15)
        # The same core as the 2-core runs (xUI Table 3).
        self.assertEqual(S.machine.core, SAPPHIRE_RAPIDS.core)
        self.assertEqual(S.machine.core.rob_entries, 384)

    def test_one_llc_slice_per_core(self):
        caches = S.machine.caches
        self.assertEqual(caches.l3_slices(S.cores), 16)
        llc = S.llc()
        self.assertEqual(llc.size, 16 * 1920 * KIB)
        self.assertEqual(llc.size, 30 * MIB)
        self.assertEqual(llc.mshrs, 16 * caches.l3_slice.mshrs)
        sets = llc.sets(caches.line_bytes)
        self.assertEqual(sets, 16 * 2048)
        self.assertEqual(sets & (sets - 1), 0)

    def test_snoop_filters_track_every_cache(self):
        caches = S.machine.caches
        private = caches.l1i.size + caches.l1d.size + caches.l2.size
        self.assertEqual(caches.l3_snoop_filter_bytes(16), 16 * private)
        self.assertEqual(caches.memory_snoop_filter_bytes(16), 16 * private + 30 * MIB)

    def test_mesh(self):
        self.assertEqual(S.max_mesh_hops(), 6)
        with self.assertRaises(ValueError):
            Socket(cores=16, mesh_columns=3, mesh_rows=5)
        with self.assertRaises(ValueError):
            Socket(cores=1, mesh_columns=1, mesh_rows=1)
        with self.assertRaises(ValueError):
            Socket(cores=65, mesh_columns=9, mesh_rows=9)


class CommandLine(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.nb = write_elf(os.path.join(tmp.name, "nemo-bench"))

    def test_fifteen_waiters_fit_sixteen_cores(self):
        c = parse_args(["--binary", self.nb, "--cores", "16", "--",
                        "--sim", "broadcast", "--waiters", "15"])
        self.assertEqual(c.cores, 16)
        c = parse_args(["--binary", self.nb, "--cores", "16", "--",
                        "--sim", "am", "--waiters=15"])
        self.assertEqual(c.cores, 16)

    def test_sixteen_waiters_do_not(self):
        with self.assertRaises(UsageError) as e:
            parse_args(["--binary", self.nb, "--cores", "16", "--",
                        "--sim", "broadcast", "--waiters", "16"])
        self.assertIn("needs 17", str(e.exception))


class SixteenCoreBoard(unittest.TestCase):
    def setUp(self):
        ctx = fake_gem5.installed()
        self.objects = ctx.__enter__()
        self.addCleanup(ctx.__exit__, None, None, None)
        spr_board = importlib.import_module("spr_board")
        self.board = spr_board.build_board(run_config(cores=S.cores), S.machine)
        self.board._pre_instantiate()

    def test_sixteen_o3_cores_with_private_caches(self):
        cores = self.board.processor.get_cores()
        self.assertEqual(len(cores), 16)
        h = self.board.cache_hierarchy
        for caches in (h.l1icaches, h.l1dcaches, h.l2caches, h.l2buses):
            self.assertEqual(len(caches), 16)
        for core in cores:
            cpu = core.get_simobject()
            self.assertEqual(cpu.numROBEntries, 384)

    def test_one_shared_llc_and_crossbar(self):
        h = self.board.cache_hierarchy
        self.assertEqual(h.l3cache.size, "30MiB")
        self.assertEqual(len(h.l3bus.peers("cpu_side_ports")), 16)
        for l2 in h.l2caches:
            self.assertTrue(fake_gem5.connected(l2.mem_side, h.l3bus.cpu_side_ports))
        self.assertTrue(fake_gem5.connected(h.l3bus.mem_side_ports, h.l3cache.cpu_side))
        # 16 x (32 + 32 KiB + 2 MiB) = 33 MiB of private caches under the
        # L3 bus, and the configs give a snoop filter twice what it tracks.
        self.assertEqual(h.l3bus.snoop_filter.max_capacity, "66MiB")


if __name__ == "__main__":
    unittest.main()
