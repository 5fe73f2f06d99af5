"""broadcast_matrix.py without gem5: the runs, their host-time estimates,
the kernel labels, the tables and the targets."""

import unittest

import uintr_path  # noqa: F401
from broadcast_matrix import (
    HOST_BUDGET_S,
    HOST_SECONDS_PER_CORE_SIM_SECOND,
    LOWER_BOUND,
    Run,
    collect,
    gem5_command,
    involves_kernel,
    matrix,
    parse_stats,
    render_rows,
    render_targets,
    rows_of,
    targets,
)


def result(mech, regime, first, last, sigma, n=200, **extra):
    return dict(mechanism=mech, regime=regime, first_p50=first, last_p50=last,
                sigma_p50=sigma, n=n, **extra)


class Plan(unittest.TestCase):
    def test_every_row_of_the_matrix_for_each_n(self):
        runs = matrix()
        for n in (3, 7, 15):
            mine = [r for r in runs if r.waiters == n]
            self.assertTrue(all(r.cores == n + 1 for r in mine))
            bcast = {(m, r.strategy, r.waitpkg) for r in mine
                     if r.scenario == "broadcast" for m in r.mechanisms}
            for m in ("spin", "nemo_condvar", "nemo_event"):
                self.assertIn((m, "flush", True), bcast)
            for m in ("nemo_condvar", "nemo_event"):
                self.assertIn((m, "flush", False), bcast)
            for s in ("flush", "tracked"):
                self.assertIn(("uintr", s, True), bcast)
            am = {(m, r.strategy) for r in mine if r.scenario == "am"
                  for m in r.mechanisms}
            self.assertTrue({("am_poll", "flush"), ("uintr", "flush"),
                             ("am_uintr", "flush"), ("uintr", "tracked"),
                             ("am_uintr", "tracked")} <= am)
        # The single-waiter baseline of the targets.
        self.assertTrue(any(r.waiters == 1 and "nemo_condvar" in r.mechanisms
                            for r in runs))
        names = [r.name for r in runs]
        self.assertEqual(len(names), len(set(names)))

    def test_fifteen_waiter_runs_fit_the_hour(self):
        # The rate is RESULTS.md's O3 run: 858.7 host s for 0.136894 s on 2 cores.
        self.assertAlmostEqual(HOST_SECONDS_PER_CORE_SIM_SECOND, 3136, delta=1)
        for r in matrix():
            self.assertLess(r.host_seconds_estimate(), 0.75 * HOST_BUDGET_S, r.name)
            # The bound stops a run at the hour by the same rate.
            self.assertAlmostEqual(
                r.max_sim_seconds() * r.cores * HOST_SECONDS_PER_CORE_SIM_SECOND,
                HOST_BUDGET_S)
        big = Run("x", "broadcast", 15, ("spin",), iters=2000)
        self.assertGreater(big.host_seconds_estimate(), HOST_BUDGET_S)

    def test_command(self):
        run = Run("bcast-nemo_event-nowaitpkg-w15", "broadcast", 15,
                  ("nemo_event",), waitpkg=False)
        cmd = gem5_command("/g/gem5.opt", "out", "nb", run)
        dash = cmd.index("--")
        self.assertIn("--no-waitpkg", cmd[:dash])
        self.assertEqual(cmd[cmd.index("--cores") + 1], "16")
        self.assertIn("--max-sim-seconds", cmd[:dash])
        self.assertEqual(cmd[dash + 1:dash + 5], ["--sim", "broadcast", "--waiters", "15"])
        self.assertEqual(cmd[-2:], ["--json", "out/bcast-nemo_event-nowaitpkg-w15/nemo-bench.json"])
        flush = gem5_command("g", "out", "nb", Run("a", "am", 3, ("uintr",)))
        self.assertNotIn("--no-waitpkg", flush)


class Labels(unittest.TestCase):
    def test_kernel_rows(self):
        wp = Run("a", "broadcast", 15, ("nemo_condvar",))
        nowp = Run("b", "broadcast", 15, ("nemo_condvar",), waitpkg=False)
        self.assertFalse(involves_kernel(wp, "nemo_condvar", "short-gap"))
        self.assertFalse(involves_kernel(wp, "nemo_condvar", "long-gap", True))
        # No UMWAIT woke on a write: the waiters parked past the rung.
        self.assertTrue(involves_kernel(wp, "nemo_condvar", "long-gap", False))
        self.assertTrue(involves_kernel(nowp, "nemo_condvar", "long-gap"))
        self.assertFalse(involves_kernel(nowp, "nemo_condvar", "short-gap"))
        self.assertTrue(involves_kernel(wp, "futex", "short-gap"))
        self.assertFalse(involves_kernel(wp, "spin", "long-gap"))
        self.assertFalse(involves_kernel(wp, "uintr", "long-gap"))

    def test_stats_and_rows(self):
        stats = parse_stats(
            "---------- Begin Simulation Statistics ----------\n"
            "simSeconds    0.020000   # Number of seconds simulated (Second)\n"
            "hostSeconds   1234.5     # Real time elapsed on the host (Second)\n"
            "board.uintr.umwaits    42    # UMWAIT instructions retired (Count)\n"
            "board.uintr.monitorWakes::write    40    # ...\n"
            "---------- End Simulation Statistics   ----------\n"
            "hostSeconds   9999 # a second dump is ignored\n")
        self.assertEqual(stats["hostSeconds"], 1234.5)
        self.assertEqual(stats["board.uintr.monitorWakes::write"], 40)
        run = Run("bcast-nemo_condvar-w15", "broadcast", 15, ("nemo_condvar",))
        doc = {"results": [result("nemo_condvar", "short-gap", 300, 900, 150),
                           result("nemo_condvar", "long-gap", 800, 2000, 400)]}
        rows = rows_of(run, doc, stats)
        self.assertEqual([(r.rung, r.kernel) for r in rows],
                         [("spin", False), ("umwait", False)])
        parked = rows_of(run, doc, {"board.uintr.umwaits": 5})
        self.assertEqual(parked[1].note, LOWER_BOUND)
        table = render_rows(parked)
        self.assertIn(LOWER_BOUND, table)
        self.assertIn("| 15 | broadcast | `nemo_condvar` | umwait | long-gap | 800 | 2000 | 400 |", table)
        # am: only the broadcast regime is a fan-out row.
        am = Run("am-flush-w15", "am", 15, ("uintr", "am_uintr"))
        rows = rows_of(am, {"results": [result("uintr", "unicast", 1, 1, 0),
                                        result("uintr", "broadcast", 1, 2, 3)]}, {})
        self.assertEqual([(r.regime, r.rung) for r in rows], [("broadcast", "flush")])
        skipped = rows_of(am, {"results": [dict(mechanism="am_uintr", regime="broadcast",
                                               skipped="no UINTR")]}, {})
        self.assertEqual(skipped[0].note, "no UINTR")


class Collect(unittest.TestCase):
    def test_rows_from_finished_runs_only(self):
        import json
        import os
        import tempfile
        runs = [Run("bcast-uintr-flush-w15", "broadcast", 15, ("uintr",)),
                Run("am-flush-w15", "am", 15, ("am_poll", "uintr", "am_uintr"))]
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, runs[0].name)
            os.makedirs(out)
            with open(os.path.join(out, "nemo-bench.json"), "w") as f:
                json.dump({"results": [result("uintr", "short-gap", 700, 6000, 1500,
                                              broadcasts=40)]}, f)
            with open(os.path.join(out, "stats.txt"), "w") as f:
                f.write("hostSeconds   321.5   # host\nsimSeconds 0.01 # sim\n")
            # A run directory without JSON (still running or failed) gives no rows.
            os.makedirs(os.path.join(d, runs[1].name))
            rows, record = collect(d, runs)
        self.assertEqual([(r.mechanism, r.rung, r.last, r.run) for r in rows],
                         [("uintr", "flush", 6000, "bcast-uintr-flush-w15")])
        self.assertEqual(record[0]["host_seconds"], 321.5)
        self.assertEqual(record[0]["broadcasts"], 40)
        self.assertEqual(record[1], {"run": "am-flush-w15", "status": "not run"})
        self.assertIn("| bcast-uintr-flush-w15 |", render_rows(rows))


class Targets(unittest.TestCase):
    def test_ratios_and_verdicts(self):
        b15 = Run("b", "broadcast", 15, ())
        b1 = Run("b1", "broadcast", 1, ())
        am = Run("am", "am", 15, ())
        st = {"board.uintr.umwaits": 1, "board.uintr.monitorWakes::write": 1}
        rows = (rows_of(b15, {"results": [
                    result("nemo_condvar", "short-gap", 200, 600, 100),
                    result("nemo_condvar", "long-gap", 300, 1000, 300),
                    result("uintr", "short-gap", 1000, 6000, 1000)]}, st)
                + rows_of(b1, {"results": [
                    result("nemo_condvar", "short-gap", 250, 250, 0),
                    result("nemo_condvar", "long-gap", 300, 300, 0)]}, st)
                + rows_of(am, {"results": [
                    result("uintr", "broadcast", 1000, 6000, 900),
                    result("am_uintr", "broadcast", 1000, 6900, 900)]}, {}))
        ts = {t.name: t for t in targets(rows)}
        spin = ts["nemo_condvar spin rung: last waiter at 15 / at 1 waiter"]
        self.assertAlmostEqual(spin.value, 600 / 250)
        self.assertTrue(spin.met)
        umw = ts["nemo_condvar umwait rung: last waiter at 15 / at 1 waiter"]
        self.assertAlmostEqual(umw.value, 1000 / 300)
        self.assertFalse(umw.met)
        sig = ts["nemo_condvar spin rung sigma / uintr flush fan-out sigma (15 waiters)"]
        self.assertAlmostEqual(sig.value, 0.1)
        self.assertIsNone(
            ts["nemo_condvar spin rung sigma / uintr tracked fan-out sigma (15 waiters)"].met)
        amt = ts["am_uintr / uintr broadcast, last waiter (flush, 15 targets)"]
        self.assertAlmostEqual(amt.value, 1.15)
        self.assertFalse(amt.met)
        text = render_targets(targets(rows))
        self.assertIn("| 1.15 | ≤ 1.1 | no |", text)
        self.assertIn("| n/a | ≤ 0.5 | n/a |", text)


if __name__ == "__main__":
    unittest.main()
