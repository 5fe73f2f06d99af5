"""The entry script end to end, against the fake gem5 modules."""

import contextlib
import io
import os
import shutil
import tempfile
import unittest

import configs_path  # noqa: F401
import fake_gem5
import run_nemo_bench
from elf_files import write_elf
from run_nemo_bench import (
    CAUSE_PROCESS_EXITED,
    CAUSE_TICK_LIMIT,
    EXIT_TIME_LIMIT,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    exit_status,
)


class ExitStatus(unittest.TestCase):
    def test_process_exit_passes_its_status_through(self):
        self.assertEqual(exit_status(CAUSE_PROCESS_EXITED, 0), (0, None))
        self.assertEqual(exit_status(CAUSE_PROCESS_EXITED, 101), (101, None))

    def test_time_limit(self):
        status, why = exit_status(CAUSE_TICK_LIMIT, 0)
        self.assertEqual(status, EXIT_TIME_LIMIT)
        self.assertIn("--max-sim-seconds", why)

    def test_anything_else_is_a_failure_that_says_what(self):
        status, why = exit_status("m5_fail instruction encountered", 7)
        self.assertEqual(status, EXIT_UNEXPECTED)
        self.assertIn("m5_fail", why)


class Main(unittest.TestCase):
    def setUp(self):
        ctx = fake_gem5.installed()
        ctx.__enter__()
        self.addCleanup(ctx.__exit__, None, None, None)
        self.dir = tempfile.mkdtemp(prefix="nemo-gem5-run-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.binary = write_elf(os.path.join(self.dir, "nemo-bench"))

    def main(self, argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = run_nemo_bench.main(argv)
        return status, err.getvalue()

    def test_runs_the_binary_with_its_arguments(self):
        status, err = self.main(
            ["--binary", self.binary, "--cores", "4", "--", "--sim", "broadcast"]
        )
        self.assertEqual(status, 0)
        (sim,) = fake_gem5.Simulator.instances
        self.assertTrue(sim.ran)
        self.assertIsNone(sim.max_ticks)
        board = sim.board
        self.assertEqual(board.processor.get_num_cores(), 4)
        self.assertEqual(board.workload.binary.get_local_path(), self.binary)
        self.assertEqual(board.workload.arguments, ["--sim", "broadcast"])
        self.assertIn("m5out/stats.txt", err)
        self.assertIn("exit status 0", err)

    def test_nemo_bench_exit_status_is_ours(self):
        fake_gem5.Simulator.next_exit = (CAUSE_PROCESS_EXITED, 3, 5000)
        status, err = self.main(["--binary", self.binary])
        self.assertEqual(status, 3)
        self.assertIn("exit status 3", err)

    def test_time_limit_reaches_the_simulator(self):
        fake_gem5.Simulator.next_exit = (CAUSE_TICK_LIMIT, 0, 10**9)
        status, err = self.main(["--binary", self.binary, "--max-sim-seconds", "0.001"])
        self.assertEqual(status, EXIT_TIME_LIMIT)
        (sim,) = fake_gem5.Simulator.instances
        self.assertEqual(sim.max_ticks, 10**9)
        self.assertIn("--max-sim-seconds limit was reached", err)

    def test_usage_error_simulates_nothing(self):
        status, err = self.main(["--binary", os.path.join(self.dir, "missing")])
        self.assertEqual(status, EXIT_USAGE)
        self.assertIn("error: --binary", err)
        self.assertIn("no such file", err)
        self.assertEqual(fake_gem5.Simulator.instances, [])

    def test_warnings_are_printed_and_the_run_goes_on(self):
        pie = write_elf(os.path.join(self.dir, "pie"), elf_type=3)
        status, err = self.main(["--binary", pie])
        self.assertEqual(status, 0)
        self.assertIn("warning:", err)
        self.assertIn("static-PIE", err)


if __name__ == "__main__":
    unittest.main()
