"""The UINTR configs, without gem5: parameter tables, the /proc/cpuinfo and
CPUID the program detects UINTR by, the command line, the wiring of the
model into a board (against fake_m5), and the result tables."""

import os
import re
import tempfile
import unittest
from dataclasses import replace

import fake_m5
import uintr_path
from uintr_params import (
    PARAMETERS,
    CPUID_LEAF7_EDX_UINTR,
    FIG4_CYCLES_PER_EVENT,
    FIG4_KERNELS,
    STRATEGIES,
    TABLE2,
    UintrLatencies,
    cpuinfo_text,
    experiments,
    leaf7_with_uintr,
    CPUID_LEAF7_ECX_WAITPKG,
    within_tolerance,
)

MODEL_PY = os.path.join(uintr_path.REPO_DIR, "gem5", "uintr", "UintrModel.py")


def model_py_params():
    """The parameter names UintrModel.py declares."""
    with open(MODEL_PY) as f:
        text = f.read()
    return re.findall(r"^\s+(\w+) = Param\.", text, re.M)


def model_py_strategies():
    with open(MODEL_PY) as f:
        text = f.read()
    (vals,) = re.findall(r'vals = \[([^\]]*)\]', text)
    return tuple(re.findall(r'"(\w+)"', vals))


def uintr_sys_flag_rule(cpuinfo, flag):
    """uintr-sys's detection rule: the word in the first `flags` line."""
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return flag in line.split(":", 1)[1].split()
    return False


class Parameters(unittest.TestCase):
    def test_latencies_name_the_simobject_parameters(self):
        declared = set(model_py_params())
        ours = set(PARAMETERS.model_params())
        self.assertEqual(ours, declared - {"system", "strategy", "blocking"})

    def test_strategies_match_the_simobject_enum(self):
        self.assertEqual(STRATEGIES, model_py_strategies())

    def test_latencies_must_be_non_negative_ints(self):
        with self.assertRaises(ValueError):
            replace(PARAMETERS, notification_processing=-1)
        with self.assertRaises(ValueError):
            replace(PARAMETERS, ipi=1.5)
        with self.assertRaises(ValueError):
            replace(PARAMETERS, clui_port_latency=0)
        with self.assertRaises(ValueError):
            replace(PARAMETERS, umwait_control=1 << 32)
        self.assertEqual(replace(PARAMETERS, wake_ns=250).model_params()["wake_latency"],
                         "250ns")

    def test_paper_numbers(self):
        self.assertEqual(TABLE2, {"end_to_end": 1360, "receiver_cost": 720,
                                  "senduipi": 383, "clui": 2, "stui": 32})
        self.assertEqual(FIG4_CYCLES_PER_EVENT,
                         {"uipi": 645, "tracked": 231, "kbtimer": 105})
        self.assertTrue(within_tolerance(114, 100))
        self.assertFalse(within_tolerance(116, 100))
        self.assertTrue(within_tolerance(86, 100))
        with self.assertRaises(ValueError):
            within_tolerance(1, 0)

    def test_experiments_cover_every_row(self):
        names = [e.name for e in experiments()]
        self.assertEqual(len(names), len(set(names)))
        self.assertIn("ops", names)
        self.assertIn("e2e", names)
        for kernel in FIG4_KERNELS:
            for prefix in ("uipi", "tracked", "kbtimer"):
                self.assertIn(f"{prefix}-{kernel}", names)
        for e in experiments():
            self.assertIn(e.strategy, STRATEGIES)
            self.assertGreaterEqual(e.cores, 1)
            # A software timer or a sender needs its own core (SE mode).
            if "uipi" in e.args or e.args[0] == "e2e":
                self.assertGreaterEqual(e.cores, 2)
            if e.name.startswith(("tracked", "kbtimer")):
                self.assertEqual(e.strategy, "tracked")


class Detection(unittest.TestCase):
    def test_cpuid_bit(self):
        self.assertEqual(CPUID_LEAF7_EDX_UINTR, 0x20)
        self.assertEqual(CPUID_LEAF7_ECX_WAITPKG, 0x20)
        self.assertEqual(leaf7_with_uintr((1, 2, 0x10, 4)), [1, 2, 0x30, 0x24])
        self.assertEqual(leaf7_with_uintr((1, 2, 0x10, 4), waitpkg=False),
                         [1, 2, 0x30, 4])
        self.assertEqual(leaf7_with_uintr()[2], 0x20)
        self.assertEqual(leaf7_with_uintr()[3], 0x20)
        with self.assertRaises(ValueError):
            leaf7_with_uintr((1, 2, 3))

    def test_cpuinfo_has_the_flags_uintr_sys_looks_for(self):
        text = cpuinfo_text(3)
        self.assertEqual(text.count("processor\t:"), 3)
        self.assertTrue(uintr_sys_flag_rule(text, "uintr"))
        self.assertTrue(uintr_sys_flag_rule(text, "xui_kbtimer"))
        self.assertTrue(uintr_sys_flag_rule(text, "waitpkg"))
        self.assertFalse(uintr_sys_flag_rule(cpuinfo_text(1, waitpkg=False), "waitpkg"))
        plain = cpuinfo_text(1, kbtimer=False)
        self.assertTrue(uintr_sys_flag_rule(plain, "uintr"))
        self.assertFalse(uintr_sys_flag_rule(plain, "xui_kbtimer"))
        with self.assertRaises(ValueError):
            cpuinfo_text(0)


class CommandLine(unittest.TestCase):
    def test_strategy_and_kbtimer_options_are_taken_out(self):
        from nemo_args import UsageError
        from run_uintr import UintrOptions, split_uintr_args

        o, rest = split_uintr_args(
            ["--strategy", "tracked", "--binary", "x", "--", "--strategy", "y"])
        self.assertEqual((o.strategy, o.kbtimer, o.waitpkg), ("tracked", True, True))
        self.assertEqual(rest, ["--binary", "x", "--", "--strategy", "y"])
        o, rest = split_uintr_args(["--strategy=drain", "--no-kbtimer", "--no-waitpkg"])
        self.assertEqual(o, UintrOptions("drain", False, False))
        self.assertEqual(rest, [])
        self.assertEqual(split_uintr_args([])[0].strategy, "flush")
        # --no-waitpkg after `--` belongs to the program.
        o, rest = split_uintr_args(["--", "--no-waitpkg"])
        self.assertTrue(o.waitpkg)
        self.assertEqual(rest, ["--", "--no-waitpkg"])
        o, _ = split_uintr_args(["--param", "ipi=700", "--param=stui=20", "--rob", "256"])
        self.assertEqual(o.overrides(), {"ipi": 700, "stui": 20})
        self.assertEqual(o.rob, 256)
        for bad in (["--strategy", "sometimes"], ["--strategy"],
                    ["--param", "flush=600"], ["--param", "ipi=-1"],
                    ["--param"], ["--rob", "0"], ["--rob", "many"]):
            with self.assertRaises(UsageError, msg=bad):
                split_uintr_args(bad)


class Wiring(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        fake_m5.install(self.tmp.name, model_py_params())
        import uintr_system

        self.uintr_system = uintr_system

    def tearDown(self):
        fake_m5.uninstall()
        self.tmp.cleanup()

    def test_o3_board(self):
        cpus = [fake_m5.X86O3CPU(), fake_m5.X86O3CPU()]
        board = fake_m5.Board(cpus)
        model = self.uintr_system.attach_uintr(
            board, strategy="tracked", binary="/bin/prog")
        self.assertIs(board.uintr, model)
        self.assertEqual(model.strategy, "tracked")
        self.assertEqual(model.notification_processing_latency,
                         PARAMETERS.notification_processing)
        self.assertEqual(model.ipi_latency, PARAMETERS.ipi)
        self.assertEqual(model.umwait_control, PARAMETERS.umwait_control)
        for cpu in cpus:
            # UINTR in EDX, WAITPKG in ECX (gem5's order: EAX EBX EDX ECX).
            self.assertEqual(cpu.isa[0].ExtendedFeatures,
                             [0x0, 0x01800000, 0x20, 0x20])
            ipr = [u for u in cpu.fuPool.FUList
                   if any(op.opClass == "IprAccess" for op in u.opList)]
            self.assertEqual(len(ipr), 1)
            (op,) = ipr[0].opList
            self.assertEqual((op.opLat, op.pipelined),
                             (PARAMETERS.clui_port_latency, False))
            self.assertEqual(len(cpu.fuPool.FUList), 2)
        (redirect,) = board.redirect_paths
        # gem5 redirects directories only (RedirectPath appends `/`).
        self.assertEqual(redirect.app_path, "/proc")
        (proc,) = redirect.host_paths
        self.assertTrue(proc.startswith(self.tmp.name))
        with open(os.path.join(proc, "cpuinfo")) as f:
            text = f.read()
        self.assertEqual(text.count("processor\t:"), 2)
        self.assertTrue(uintr_sys_flag_rule(text, "uintr"))
        self.assertEqual(os.readlink(os.path.join(proc, "self", "exe")),
                         "/bin/prog")

    def test_simple_cpus_and_options(self):
        cpu = fake_m5.X86AtomicSimpleCPU()
        board = fake_m5.Board([cpu])
        latencies = replace(PARAMETERS, notification_processing=7)
        self.uintr_system.attach_uintr(
            board, strategy="flush", latencies=latencies, kbtimer=False,
            outdir=os.path.join(self.tmp.name, "out"))
        self.assertEqual(board.uintr.notification_processing_latency, 7)
        self.assertEqual(cpu.isa[0].ExtendedFeatures[2], 0x20)
        self.assertEqual(cpu.isa[0].ExtendedFeatures[3], 0x20)
        bare = fake_m5.X86AtomicSimpleCPU()
        self.uintr_system.attach_uintr(
            fake_m5.Board([bare]), waitpkg=False,
            outdir=os.path.join(self.tmp.name, "bare"))
        self.assertEqual(bare.isa[0].ExtendedFeatures[3], 0)
        (redirect,) = board.redirect_paths
        with open(os.path.join(redirect.host_paths[0], "cpuinfo")) as f:
            self.assertFalse(uintr_sys_flag_rule(f.read(), "xui_kbtimer"))
        self.assertFalse(
            os.path.lexists(os.path.join(redirect.host_paths[0], "self", "exe")))
        with self.assertRaises(ValueError):
            self.uintr_system.attach_uintr(board, strategy="eventually")


class Results(unittest.TestCase):
    def test_parse_and_summarize(self):
        from reproduce import parse_results, render_markdown, summarize

        out = ("noise\nRESULT test=ops clui=2.10 stui=30.0 senduipi=390.5\n"
               "RESULT test=e2e end_to_end=1300 last_to_handler=700\n")
        self.assertEqual(parse_results(out)[0]["clui"], "2.10")
        self.assertEqual(parse_results("RESULT a=1 junk b=2")[0],
                         {"a": "1", "b": "2"})
        results = {"ops": parse_results(out)[:1], "e2e": parse_results(out)[1:]}
        for i, k in enumerate(FIG4_KERNELS):
            results[f"uipi-{k}"] = [{"cycles_per_event": str(700 + 10 * i),
                                     "slowdown_pct": "7.0"}]
        rows = {r.name: r for r in summarize(results)}
        self.assertAlmostEqual(rows["clui"].ours, 2.1)
        self.assertTrue(rows["clui"].ok)
        self.assertEqual(rows["end-to-end latency"].ours, 1300)
        self.assertAlmostEqual(rows["receiver cost"].ours, 710)
        self.assertIsNone(rows["xUI KB timer + tracking, cycles/event"].ours)
        self.assertFalse(rows["xUI KB timer + tracking, cycles/event"].ok)
        table = render_markdown(list(rows.values()))
        self.assertIn("| Table 2 | clui | 2 | 2.1 | 1.05 | yes |", table)
        self.assertIn("n/a", table)
        self.assertFalse(rows["handler's last TSC -> program resumes (uiret ~10)"].held)
        self.assertIn("(not held)", table)

    def test_kernel_table(self):
        from reproduce import render_kernels

        results = {"uipi-fib": [{"cycles_per_event": "701.5",
                                 "slowdown_pct": "7.474"}]}
        text = render_kernels(results)
        fib = next(line for line in text.splitlines() if line.startswith("| fib |"))
        self.assertEqual(fib, "| fib | 701.5 | n/a | n/a | 7.47 | n/a | n/a |")
        self.assertEqual(len(text.splitlines()), 2 + len(FIG4_KERNELS))

    def test_commands_are_the_runs(self):
        from reproduce import render_commands
        from uintr_params import experiments

        exps = experiments()
        text = render_commands("gem5.opt", "m5out/uintr",
                               "gem5/uintr/bench/build/uintr_micro", exps)
        lines = text.splitlines()[2:]
        self.assertEqual(len(lines), len(exps))
        kb = next(line for line in lines if line.startswith("| kbtimer-fib |"))
        self.assertIn("-d m5out/uintr/kbtimer-fib "
                      "gem5/configs/uintr/run_uintr.py --strategy tracked", kb)
        self.assertIn("--cores 1 -- overhead fib kbtimer 10000", kb)


if __name__ == "__main__":
    unittest.main()


class Patch(unittest.TestCase):
    """The gem5 patch's WAITPKG decoding, against binutils' encodings:
    F3 0F AE /6 (mod=11) UMONITOR, F2 ... UMWAIT, 66 ... TPAUSE; gem5's
    LEGACY_DECODEVAL is repne<<3 | rep<<2 | lock<<1 | op (0x66)."""

    PATCH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "uintr",
                         "gem5-v24.0.0.1-uintr.patch")

    def test_waitpkg_decodes_by_mandatory_prefix(self):
        with open(self.PATCH) as f:
            text = f.read()
        block = text[text.index("WAITPKG (0F AE /6"):]
        block = block[:block.index("default: BasicOperate::MFENCE")]
        decoded = dict(re.findall(
            r"\+\s+0x([0-9a-f]+): SyscallInst::(\w+)", block))
        self.assertEqual(decoded, {"4": "umonitor", "8": "umwait", "1": "tpause"})
        for op in ("Umonitor", "Umwait", "Tpause"):
            self.assertIn(f"user_interrupt_op::{op},", block)
            self.assertIn(f"+constexpr unsigned {op} = ", text)
        self.assertIn("monitorTriggered", text)
