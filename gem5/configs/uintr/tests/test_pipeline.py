"""calibrate.py and predict.py end to end on fake_gem5_cli.py (no gem5):
the command lines they build are accepted by run_uintr.py's parser, the
fit writes a calibration.json that passes its own check, and the runs'
RESULT lines reach the prediction and sensitivity tables."""

import os
import shutil
import tempfile
import unittest

import uintr_path  # noqa: F401
import calibrate
import predict
from uintr_params import CALIBRATION_FILE, load_calibration

FAKE_GEM5 = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_gem5_cli.py")


class Pipeline(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("gcc") is None or shutil.which("make") is None:
            raise unittest.SkipTest("calibrate.py builds the benchmarks with gcc and make")
        cls.tmp = tempfile.mkdtemp(prefix="nemo-gem5-pipeline-")
        cls.file = os.path.join(cls.tmp, "calibration.json")
        shutil.copy(CALIBRATION_FILE, cls.file)
        status = calibrate.main(["--gem5", FAKE_GEM5, "--gem5-commit", "fake", "--file",
                                 cls.file, "--outdir", os.path.join(cls.tmp, "fit"),
                                 "--jobs", "2"])
        cls.status = status
        cls.calib = load_calibration(cls.file)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_fit_is_recorded_and_checks_out(self):
        self.assertEqual(self.status, 0)
        self.assertEqual(self.calib.status, "calibrated")
        self.assertEqual(calibrate.check(self.calib), [])
        self.assertEqual(self.calib.record["gem5_commit"], "fake")
        final = self.calib.record["final"]
        # The fake's end-to-end is ipi + notification processing + 40: the fit
        # lands it on the paper's 1360 exactly.
        self.assertEqual(final["ipi"]["measured"], 1360.0)

    def test_predictions_and_sensitivity_reach_the_tables(self):
        todo = predict.plan(self.calib, "all", [5], None)
        out = os.path.join(self.tmp, "predict")
        by_setting, raw = predict.run_plan(FAKE_GEM5, todo, "uintr_micro",
                                           lambda s: os.path.join(out, s.name), 2)
        self.assertEqual(sum(len(v) for v in raw.values()), len(todo))
        self.assertTrue(all(r["status"] == 0 for v in raw.values() for r in v.values()))
        rows = {r[0]: r for r in predict.prediction_rows(by_setting[predict.Setting()],
                                                         self.calib)}
        tracked = rows["Fig. 4 tracked: cycles/event, mean of kernels"]
        self.assertEqual((tracked[2], tracked[3]), (200.0, "predicted"))
        uipi = rows["Fig. 4 uipi: cycles/event, mean of kernels"]
        self.assertEqual(uipi[3], "derived: a fitted row's measurement")
        self.assertEqual(uipi[2], self.calib.free["notification_processing"]["value"] + 75)
        flat = rows["§3.5 flush: end-to-end at 32MiB / at 16KiB (paper: flat)"]
        self.assertEqual(flat[2], 1.0)  # the fake adds nothing under flush
        worst = rows["§6.1 50 loads feeding RSP, tracked: worst end-to-end"]
        self.assertEqual(worst[2], 1400 + 5000 + 50)
        table = predict.sensitivity_table(by_setting, self.calib)
        self.assertIn("| frozen |", table)
        # ipi +25 % moves end-to-end by a quarter of ipi in the fake.
        ipi = self.calib.free["ipi"]["value"]
        line = next(x for x in table.splitlines() if x.startswith("| ipi +25%"))
        self.assertIn(f"| {1360 + round(ipi * 1.25) - ipi:.1f} |", line)

    def test_resume_reads_back_finished_runs_and_reruns_the_rest(self):
        todo = predict.plan(self.calib, "sensitivity", [5], None)[:3]
        out = os.path.join(self.tmp, "resume")
        outdir = lambda s: os.path.join(out, s.name)  # noqa: E731
        first, _ = predict.run_plan(FAKE_GEM5, todo, "uintr_micro", outdir, 1)
        # One run's log is cut short (an interrupted run), one names another command.
        s0, e0 = todo[0]
        s1, e1 = todo[1]
        log0 = os.path.join(predict.REPO, outdir(s0), f"{e0.name}.log")
        log1 = os.path.join(predict.REPO, outdir(s1), f"{e1.name}.log")
        with open(log0) as f:
            cmd0 = f.readline()
        with open(log0, "w") as f:
            f.write(cmd0)
        with open(log1) as f:
            text = f.read()
        with open(log1, "w") as f:
            f.write("other " + text)
        again, raw = predict.run_plan(FAKE_GEM5, todo, "uintr_micro", outdir, 1,
                                      resume=True)
        resumed = {(s, n) for s, v in raw.items() for n, r in v.items() if r.get("resumed")}
        s2, e2 = todo[2]
        self.assertEqual(resumed, {(s2.name, e2.name)})
        # Every run has its results either way, and the same ones.
        for s, e in todo:
            self.assertEqual(again[s][e.name], first[s][e.name])
        self.assertIsNone(predict.finished_run(os.path.join(out, "no-such.log"), ["x"]))


if __name__ == "__main__":
    unittest.main()
