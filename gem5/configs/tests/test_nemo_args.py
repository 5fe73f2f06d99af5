"""Argument handling and binary checks of run_nemo_bench.py, without gem5."""

import os
import shutil
import tempfile
import unittest

import configs_path  # noqa: F401
from elf_files import EM_386, EM_AARCH64, ET_DYN, ET_REL, write_elf
from nemo_args import (
    DEFAULT_CORES,
    TICKS_PER_SECOND,
    UsageError,
    check_binary,
    parse_args,
    requested_waiters,
    split_at_double_dash,
)
from static_elf import NotAnElfError, read_elf_summary


class TempDir(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="nemo-gem5-args-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.binary = write_elf(self.path("nemo-bench"))

    def path(self, name):
        return os.path.join(self.dir, name)


class SplitAtDoubleDash(unittest.TestCase):
    def test_without_double_dash_everything_is_ours(self):
        self.assertEqual(split_at_double_dash(["--cores", "2"]), (["--cores", "2"], []))

    def test_first_double_dash_splits_and_later_ones_pass_through(self):
        ours, theirs = split_at_double_dash(
            ["--binary", "b", "--", "--sim", "unicast", "--", "x"]
        )
        self.assertEqual(ours, ["--binary", "b"])
        self.assertEqual(theirs, ["--sim", "unicast", "--", "x"])

    def test_trailing_double_dash_gives_no_nemo_args(self):
        self.assertEqual(split_at_double_dash(["a", "--"]), (["a"], []))


class ParseGood(TempDir):
    def test_defaults(self):
        c = parse_args(["--binary", self.binary])
        self.assertEqual(c.binary, os.path.abspath(self.binary))
        self.assertEqual(c.cores, DEFAULT_CORES)
        self.assertEqual(c.cpu_type, "o3")
        self.assertEqual(c.nemo_args, ())
        self.assertEqual(c.env, ())
        self.assertIsNone(c.max_ticks)
        self.assertEqual(c.warnings, ())

    def test_everything(self):
        c = parse_args(
            [
                "--binary", self.binary,
                "--cores", "4",
                "--cpu-type", "atomic",
                "--max-sim-seconds", "0.002",
                "--env", "RUST_BACKTRACE=1",
                "--env", "EMPTY=",
                "--",
                "--sim", "unicast", "--mechanisms", "spin,futex", "--waiters", "3",
            ]
        )  # fmt: skip
        self.assertEqual(c.cores, 4)
        self.assertEqual(c.cpu_type, "atomic")
        self.assertEqual(c.max_ticks, 2 * 10**9)
        self.assertEqual(c.env, ("RUST_BACKTRACE=1", "EMPTY="))
        self.assertEqual(
            c.nemo_args,
            ("--sim", "unicast", "--mechanisms", "spin,futex", "--waiters", "3"),
        )

    def test_nemo_args_that_look_like_ours_stay_theirs(self):
        c = parse_args(["--binary", self.binary, "--", "--cores", "99", "--help"])
        self.assertEqual(c.cores, DEFAULT_CORES)
        self.assertEqual(c.nemo_args, ("--cores", "99", "--help"))

    def test_each_cpu_type(self):
        for t in ("o3", "timing", "atomic"):
            self.assertEqual(
                parse_args(["--binary", self.binary, "--cpu-type", t]).cpu_type, t
            )

    def test_core_bounds_are_inclusive(self):
        self.assertEqual(parse_args(["--binary", self.binary, "--cores", "1"]).cores, 1)
        c = parse_args(["--binary", self.binary, "--cores", "8"], max_cores=8)
        self.assertEqual(c.cores, 8)

    def test_tiny_time_limit_is_at_least_one_tick(self):
        c = parse_args(["--binary", self.binary, "--max-sim-seconds", "1e-15"])
        self.assertEqual(c.max_ticks, 1)
        self.assertEqual(TICKS_PER_SECOND, 10**12)


class ParseBad(TempDir):
    def assertUsage(self, argv, *fragments, **kwargs):
        with self.assertRaises(UsageError) as cm:
            parse_args(argv, **kwargs)
        for f in fragments:
            self.assertIn(f, str(cm.exception))

    def test_binary_is_required(self):
        self.assertUsage(["--cores", "2"], "--binary")

    def test_bad_core_counts(self):
        b = ["--binary", self.binary]
        self.assertUsage(b + ["--cores", "0"], "--cores 0", "between 1 and")
        self.assertUsage(b + ["--cores", "-3"], "between 1 and")
        self.assertUsage(b + ["--cores", "9"], "between 1 and 8", max_cores=8)
        self.assertUsage(b + ["--cores", "two"], "invalid int")

    def test_bad_cpu_type(self):
        self.assertUsage(["--binary", self.binary, "--cpu-type", "minor"], "minor")

    def test_nemo_args_without_double_dash_get_a_hint(self):
        self.assertUsage(
            ["--binary", self.binary, "--sim", "unicast"],
            "unrecognized arguments",
            "after `--`",
        )

    def test_too_many_waiters_for_the_cores(self):
        self.assertUsage(
            ["--binary", self.binary, "--cores", "3", "--", "--waiters", "3"],
            "needs 4 threads",
            "--cores is 3",
        )
        self.assertUsage(
            ["--binary", self.binary, "--cores", "2", "--", "--waiters=2"],
            "needs 3 threads",
        )

    def test_bad_time_limits(self):
        for value in ("0", "-1", "nan", "inf", "soon"):
            with self.subTest(value=value):
                self.assertUsage(
                    ["--binary", self.binary, "--max-sim-seconds", value],
                    "--max-sim-seconds",
                )

    def test_bad_env(self):
        for entry in ("NOEQUALS", "=value"):
            with self.subTest(entry=entry):
                self.assertUsage(["--binary", self.binary, "--env", entry], "KEY=VALUE")


class RequestedWaiters(unittest.TestCase):
    def test_forms(self):
        self.assertIsNone(requested_waiters([]))
        self.assertIsNone(requested_waiters(["--sim", "unicast"]))
        self.assertEqual(requested_waiters(["--waiters", "5"]), 5)
        self.assertEqual(requested_waiters(["--waiters=7"]), 7)
        # The last one wins, as in clap.
        self.assertEqual(requested_waiters(["--waiters", "1", "--waiters=4"]), 4)

    def test_unparsable_values_are_left_to_nemo_bench(self):
        self.assertIsNone(requested_waiters(["--waiters", "many"]))
        self.assertIsNone(requested_waiters(["--waiters"]))


class CheckBinary(TempDir):
    def assertRefused(self, path, *fragments):
        with self.assertRaises(UsageError) as cm:
            check_binary(path)
        for f in fragments:
            self.assertIn(f, str(cm.exception))

    def test_static_x86_64_executable_passes_cleanly(self):
        self.assertEqual(check_binary(self.binary), [])

    def test_missing_file(self):
        self.assertRefused(self.path("nope"), "no such file")

    def test_directory(self):
        self.assertRefused(self.dir, "not a regular file")

    def test_not_elf(self):
        p = self.path("script.sh")
        with open(p, "w") as f:
            f.write("#!/bin/sh\necho hi\n")
        self.assertRefused(p, "not an ELF file")

    def test_empty_and_truncated(self):
        p = self.path("empty")
        open(p, "wb").close()
        self.assertRefused(p, "not an ELF file")
        with open(self.binary, "rb") as f:
            head = f.read(30)
        with open(p, "wb") as f:
            f.write(head)
        self.assertRefused(p, "truncated")

    def test_other_architectures(self):
        arm = write_elf(self.path("arm"), machine=EM_AARCH64)
        self.assertRefused(arm, "not an x86-64 executable", "machine 183")
        i386 = write_elf(self.path("i386"), elf_class=1, machine=EM_386)
        self.assertRefused(i386, "not an x86-64 executable", "32-bit")

    def test_dynamic_binary_is_refused_with_the_build_recipe(self):
        dyn = write_elf(
            self.path("dyn"), elf_type=ET_DYN, interpreter="/lib64/ld-linux-x86-64.so.2"
        )
        self.assertRefused(
            dyn,
            "dynamically linked",
            "ld-linux-x86-64",
            "crt-static",
            "relocation-model=static",
        )

    def test_static_pie_is_a_warning(self):
        pie = write_elf(self.path("pie"), elf_type=ET_DYN)
        (warning,) = check_binary(pie)
        self.assertIn("static-PIE", warning)
        self.assertIn("relocation-model=static", warning)

    def test_relocatable_object_is_refused(self):
        obj = write_elf(self.path("obj.o"), elf_type=ET_REL)
        self.assertRefused(obj, "not an executable")

    def test_missing_execute_bit_is_a_warning(self):
        plain = write_elf(self.path("plain"), executable=False)
        (warning,) = check_binary(plain)
        self.assertIn("not marked executable", warning)


class ElfSummary(TempDir):
    def test_fields(self):
        s = read_elf_summary(self.binary)
        self.assertTrue(s.is_x86_64 and s.is_static and not s.is_pie)
        d = read_elf_summary(
            write_elf(self.path("d"), elf_type=ET_DYN, interpreter="/ld.so")
        )
        self.assertEqual(d.interpreter, "/ld.so")
        self.assertFalse(d.is_static)
        self.assertTrue(d.is_pie)

    def test_not_elf_raises(self):
        p = self.path("x")
        with open(p, "wb") as f:
            f.write(b"MZ" + bytes(100))
        with self.assertRaises(NotAnElfError):
            read_elf_summary(p)


if __name__ == "__main__":
    unittest.main()
