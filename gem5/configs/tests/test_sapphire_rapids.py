"""The parameter tables: xUI Table 3 values and their internal consistency."""

import unittest

import configs_path  # noqa: F401
from sapphire_rapids import (
    GIB,
    KIB,
    MIB,
    SAPPHIRE_RAPIDS,
    Cache,
    FunctionalUnit,
    next_power_of_two,
    size_string,
)

M = SAPPHIRE_RAPIDS
CORE = M.core
CACHES = M.caches


def is_power_of_two(n):
    return n > 0 and n & (n - 1) == 0


def unit(name):
    (u,) = [u for u in CORE.functional_units if u.name == name]
    return u


class Table3(unittest.TestCase):
    """Values the xUI paper's Table 3 gives for its gem5 baseline core."""

    def test_frequency(self):
        self.assertEqual(M.frequency_hz, 2_000_000_000)
        self.assertEqual(M.clock(), "2GHz")

    def test_pipeline_widths(self):
        self.assertEqual(CORE.fetch_width, 6)
        self.assertEqual(CORE.decode_width, 6)
        self.assertEqual(CORE.issue_width, 10)
        self.assertEqual(CORE.commit_width, 10)
        self.assertEqual(CORE.squash_width, 10)

    def test_queue_sizes(self):
        self.assertEqual(CORE.rob_entries, 384)
        self.assertEqual(CORE.iq_entries, 168)
        self.assertEqual(CORE.lq_entries, 128)
        self.assertEqual(CORE.sq_entries, 72)

    def test_l1_caches(self):
        for cache in (CACHES.l1i, CACHES.l1d):
            self.assertEqual(cache.size, 32 * KIB)
            self.assertEqual(cache.assoc, 8)

    def test_functional_units(self):
        self.assertEqual(unit("int_alu").count, 6)
        self.assertEqual(unit("int_mult_div").count, 2)
        fp = unit("fp_alu_mult")
        self.assertEqual(fp.count, 3)
        ops = {op.op_class for op in fp.ops}
        # One unit kind does both FP adds and FP multiplies.
        self.assertTrue({"FloatAdd", "FloatMult", "FloatMultAcc"} <= ops)


class CoreConsistency(unittest.TestCase):
    def test_widths_are_positive_and_ordered(self):
        widths = [
            CORE.fetch_width,
            CORE.decode_width,
            CORE.rename_width,
            CORE.dispatch_width,
            CORE.issue_width,
            CORE.writeback_width,
            CORE.commit_width,
            CORE.squash_width,
        ]
        self.assertTrue(all(w > 0 for w in widths))
        # Nothing downstream of fetch can be fed more than fetch delivers...
        self.assertLessEqual(CORE.decode_width, CORE.fetch_width)
        self.assertLessEqual(CORE.rename_width, CORE.decode_width)
        self.assertLessEqual(CORE.dispatch_width, CORE.rename_width)
        # ...while retirement must keep up with allocation, and every issued
        # uop needs a writeback slot.
        self.assertGreaterEqual(CORE.commit_width, CORE.rename_width)
        self.assertEqual(CORE.writeback_width, CORE.issue_width)

    def test_queues_fit_in_the_rob(self):
        self.assertLessEqual(CORE.iq_entries, CORE.rob_entries)
        self.assertLessEqual(CORE.lq_entries + CORE.sq_entries, CORE.rob_entries)

    def test_physical_registers_exceed_gem5_x86_logical_ones(self):
        # gem5's O3 panics unless the physical files are larger than x86's
        # logical ones (38 integer incl. microcode temporaries, about 60 FP).
        self.assertGreater(CORE.phys_int_regs, 38)
        self.assertGreater(CORE.phys_float_regs, 64)

    def test_cache_ports_match_load_store_units(self):
        self.assertEqual(CORE.cache_load_ports, unit("load_port").count)
        self.assertEqual(CORE.cache_store_ports, unit("store_port").count)

    def test_functional_units_are_well_formed(self):
        names = [u.name for u in CORE.functional_units]
        self.assertEqual(len(names), len(set(names)))
        for u in CORE.functional_units:
            self.assertIsInstance(u, FunctionalUnit)
            self.assertGreaterEqual(u.count, 1, u.name)
            # Exactly one of a stock gem5 class or an explicit op list.
            self.assertNotEqual(u.gem5_class is None, not u.ops, u.name)
            op_classes = [op.op_class for op in u.ops]
            self.assertEqual(len(op_classes), len(set(op_classes)), u.name)
            for op in u.ops:
                self.assertGreaterEqual(op.latency, 1, op)

    def test_no_op_class_is_in_two_units(self):
        # gem5 would pick either; the table must say which one runs it.
        explicit = [op.op_class for u in CORE.functional_units for op in u.ops]
        self.assertEqual(len(explicit), len(set(explicit)))
        classes = [u.gem5_class for u in CORE.functional_units if u.gem5_class]
        self.assertEqual(len(classes), len(set(classes)))


class CacheConsistency(unittest.TestCase):
    def caches(self, cores):
        return {
            "l1i": CACHES.l1i,
            "l1d": CACHES.l1d,
            "l2": CACHES.l2,
            "l3": CACHES.l3(cores),
        }

    def test_set_counts_are_whole_powers_of_two(self):
        line = CACHES.line_bytes
        self.assertTrue(is_power_of_two(line))
        for cores in range(1, M.max_cores + 1):
            for name, c in self.caches(cores).items():
                with self.subTest(cores=cores, cache=name):
                    self.assertEqual(c.size % (line * c.assoc), 0)
                    self.assertTrue(is_power_of_two(c.sets(line)), c.sets(line))

    def test_private_cache_sizes_are_powers_of_two(self):
        for c in (CACHES.l1i, CACHES.l1d, CACHES.l2):
            self.assertTrue(is_power_of_two(c.size))

    def test_sapphire_rapids_l2_and_llc_slice(self):
        self.assertEqual(CACHES.l2.size, 2 * MIB)
        self.assertEqual(CACHES.l2.assoc, 16)
        # 1.875 MB, 15-way, 2048 sets per core.
        self.assertEqual(CACHES.l3_slice.size * 16, 30 * MIB)
        self.assertEqual(CACHES.l3_slice.assoc, 15)
        self.assertEqual(CACHES.l3_slice.sets(CACHES.line_bytes), 2048)

    def test_llc_grows_with_cores_in_power_of_two_slices(self):
        self.assertEqual(CACHES.l3(1).size, CACHES.l3_slice.size)
        self.assertEqual(CACHES.l3(3).size, 4 * CACHES.l3_slice.size)
        self.assertEqual(CACHES.l3(4).size, 4 * CACHES.l3_slice.size)
        self.assertEqual(CACHES.l3(5).size, 8 * CACHES.l3_slice.size)
        for cores in range(1, M.max_cores + 1):
            self.assertGreaterEqual(CACHES.l3_slices(cores), cores)
            self.assertLess(CACHES.l3_slices(cores), 2 * cores)

    def test_levels_grow_in_size_and_latency(self):
        l1d, l2, l3 = CACHES.l1d, CACHES.l2, CACHES.l3(1)

        def hit(c):
            return max(c.tag_latency, c.data_latency)

        self.assertLess(l1d.size, l2.size)
        self.assertLess(hit(l1d), hit(l2))
        self.assertLess(hit(l2), hit(l3))
        self.assertLessEqual(l1d.mshrs, l2.mshrs)
        self.assertLessEqual(l2.mshrs, l3.mshrs)

    def test_clusivity(self):
        for c in (CACHES.l1i, CACHES.l1d, CACHES.l2, CACHES.l3_slice):
            self.assertIn(c.clusivity, ("mostly_incl", "mostly_excl"))
        # Sapphire Rapids' LLC is non-inclusive: filled by L2 victims, which
        # gem5 only sends for clean lines when writeback_clean is set.
        self.assertEqual(CACHES.l3_slice.clusivity, "mostly_excl")
        self.assertTrue(CACHES.l2.writeback_clean)

    def test_crossbars(self):
        for x in (CACHES.l1_to_l2, CACHES.l2_to_l3, CACHES.l3_to_memory):
            self.assertTrue(is_power_of_two(x.width_bytes))
            for lat in (
                x.frontend_latency,
                x.forward_latency,
                x.response_latency,
                x.snoop_response_latency,
                x.snoop_filter_lookup_latency,
            ):
                self.assertGreaterEqual(lat, 0)

    def test_snoop_filters_cover_the_caches_above_them(self):
        per_core = 32 * KIB + 32 * KIB + 2 * MIB
        self.assertEqual(CACHES.private_bytes_per_core(), per_core)
        self.assertEqual(CACHES.l3_snoop_filter_bytes(4), 4 * per_core)
        self.assertEqual(
            CACHES.memory_snoop_filter_bytes(4), 4 * per_core + CACHES.l3(4).size
        )

    def test_cache_sets_helper(self):
        self.assertEqual(Cache(32 * KIB, 8, 1, 1, 1, 1, 1).sets(64), 64)


class MemoryAndMachine(unittest.TestCase):
    def test_memory(self):
        self.assertEqual(M.memory.model, "DIMM_DDR5_4400")
        self.assertEqual(M.memory.size, 4 * GIB)

    def test_core_bound(self):
        self.assertGreaterEqual(M.max_cores, 2)

    def test_size_string(self):
        self.assertEqual(size_string(32 * KIB), "32KiB")
        self.assertEqual(size_string(2 * MIB), "2MiB")
        self.assertEqual(size_string(4 * GIB), "4GiB")
        self.assertEqual(size_string(1920 * KIB), "1920KiB")
        self.assertEqual(size_string(100), "100B")
        with self.assertRaises(ValueError):
            size_string(0)

    def test_next_power_of_two(self):
        self.assertEqual(
            [next_power_of_two(n) for n in (1, 2, 3, 4, 5, 28, 64)],
            [1, 2, 4, 4, 8, 32, 64],
        )
        with self.assertRaises(ValueError):
            next_power_of_two(0)


if __name__ == "__main__":
    unittest.main()
