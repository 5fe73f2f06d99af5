"""calibration.json against its record, the fit on a stand-in for gem5, and
predict.py's refusal to call anything predicted from uncalibrated values."""

import json
import unittest
from dataclasses import replace

import uintr_path  # noqa: F401
from calibrate import calibrated, check, corrected, fit, table2_measured
from predict import (
    CHASE_BYTES,
    NOT_RUN,
    RSP_CHAIN_LOADS,
    SEC61_TRACKED_WORST,
    Setting,
    chase_experiments,
    expand,
    interval_experiments,
    sensitivity_experiments,
    label,
    plan,
    prediction_rows,
    render,
    sensitivity_settings,
)
from uintr_params import (
    KERNEL_REPS,
    CALIBRATION,
    CALIBRATION_FILE,
    FIT_TOLERANCE,
    FREE_PARAMETERS,
    PARAMETERS,
    TABLE2,
    UintrLatencies,
    load_calibration,
)

# A stand-in for gem5: each Table 2 row is its parameter plus a constant
# the pipeline adds (the slope-1 assumption of the fit).
EMERGENT = {"senduipi": 100.0, "stui": 14.0, "clui": 0.0, "end_to_end": 900.0,
            "receiver_cost": 300.0}


def linear_gem5(values):
    rows = {t: values[p] + EMERGENT[t] for p, t in FREE_PARAMETERS.items()}
    # As in the model: the end-to-end latency contains the notification processing.
    rows["end_to_end"] += values["notification_processing"]
    return rows


class TheCommittedFile(unittest.TestCase):
    def test_matches_its_record(self):
        self.assertEqual(check(CALIBRATION), [])

    def test_it_is_the_models_parameter_set(self):
        self.assertLessEqual(len(CALIBRATION.free), 5)
        self.assertEqual(set(CALIBRATION.free), set(FREE_PARAMETERS))
        # Only Table 2 rows are targets, each one once.
        targets = [p["target"] for p in CALIBRATION.free.values()]
        self.assertEqual(sorted(targets), sorted(TABLE2))
        self.assertIsInstance(PARAMETERS, UintrLatencies)
        self.assertEqual(set(CALIBRATION.values()),
                         {f for f in UintrLatencies.__dataclass_fields__})

    def test_uncalibrated_file_says_so_and_nothing_is_predicted(self):
        with open(CALIBRATION_FILE) as f:
            doc = json.load(f)
        if doc["status"] == "calibrated":
            self.skipTest("the committed file is calibrated")
        self.assertEqual(doc["status"], "not calibrated")
        self.assertIsNone(doc["record"])
        self.assertFalse(CALIBRATION.calibrated)
        self.assertTrue(label(CALIBRATION).startswith("not a prediction"))
        table = render(prediction_rows({}, CALIBRATION))
        self.assertNotIn("| predicted |", table)


class Fit(unittest.TestCase):
    def test_converges_and_the_record_checks_out(self):
        start = {k: v["value"] for k, v in CALIBRATION.free.items()}
        record = fit(start, linear_gem5, rounds=3)
        self.assertTrue(record["ok"])
        self.assertEqual(len(record["rounds"]), 2)  # one correction, one confirmation
        for p, t in FREE_PARAMETERS.items():
            fin = record["final"][p]
            self.assertEqual(fin["target"], t)
            self.assertEqual(fin["paper"], TABLE2[t])
            self.assertLessEqual(abs(fin["residual_pct"]), 100 * FIT_TOLERANCE)
        new = calibrated(CALIBRATION, record, {"gem5_commit": "abc", "nemo_commit": "def"})
        self.assertEqual(new.status, "calibrated")
        self.assertEqual(check(new), [])
        self.assertTrue(new.calibrated)
        self.assertEqual(label(new), "predicted")
        self.assertEqual(label(new, fitted_run=True), "derived: a fitted row's measurement")
        # A value edited after the fit no longer matches the record.
        edited = replace(new, free=dict(new.free, ipi=dict(new.free["ipi"], value=1)))
        self.assertTrue(any("ipi" in x for x in check(edited)))
        self.assertTrue(label(edited).startswith("not a prediction"))

    def test_a_fit_that_misses_is_not_calibrated(self):
        def stubborn(values):
            m = linear_gem5(values)
            m["stui"] = 100.0  # does not respond to its parameter
            return m

        start = {k: v["value"] for k, v in CALIBRATION.free.items()}
        record = fit(start, stubborn, rounds=3)
        self.assertFalse(record["ok"])
        self.assertEqual(len(record["rounds"]), 3)
        new = calibrated(CALIBRATION, record, {})
        self.assertEqual(new.status, "fit failed")
        self.assertEqual(check(new), [])
        self.assertTrue(label(new).startswith("not a prediction"))

    def test_correction_and_floor(self):
        values = {"senduipi": 300, "stui": 10, "clui_port_latency": 1, "ipi": 500,
                  "notification_processing": 100}
        measured = {"senduipi": 400.0, "stui": 30.0, "clui": 5.0, "end_to_end": 1300.0,
                    "receiver_cost": 700.0}
        new = corrected(values, measured)
        # ipi: +60 for end-to-end, less the +20 the notification processing adds to it.
        self.assertEqual(new, {"senduipi": 283, "stui": 12, "clui_port_latency": 1,
                               "ipi": 540, "notification_processing": 120})

    def test_table2_from_reproduce_results(self):
        results = {"ops": [{"senduipi": "383", "clui": "2", "stui": "32"}],
                   "e2e": [{"end_to_end": "1360"}],
                   "uipi-fib": [{"cycles_per_event": "700"}],
                   "uipi-linpack": [{"cycles_per_event": "720"}],
                   "uipi-memops": [{"cycles_per_event": "740"}]}
        self.assertEqual(table2_measured(results),
                         {"end_to_end": 1360.0, "receiver_cost": 720.0,
                          "senduipi": 383.0, "clui": 2.0, "stui": 32.0})


class Prediction(unittest.TestCase):
    def test_runs_and_rows(self):
        sweeps = {e.name: e for e in interval_experiments()}
        self.assertEqual(len(sweeps), 3 * 3)  # one process per source and kernel
        kb = sweeps["kbtimer-memops-intervals"]
        self.assertEqual((kb.args[2], kb.cores), ("kbtimer", 1))
        cycles, reps = kb.args[3].split(","), kb.args[4].split(",")
        self.assertEqual(cycles, [str(us * 2000) for us in (1, 2, 5, 10, 20, 50, 100)])
        self.assertEqual(len(reps), len(cycles))
        # ~100 events up to 10 us, the 10 us length beyond; 5 us is the fit's length.
        self.assertEqual(reps[2], str(KERNEL_REPS["memops"]))
        self.assertEqual(set(reps[3:]), {str(2 * KERNEL_REPS["memops"])})
        self.assertEqual(interval_experiments([5, 1])[0].args[3], "2000,10000")
        expanded = expand({"uipi-fib-intervals": [
            {"interval": "2000", "cycles_per_event": "1"},
            {"interval": "10000", "cycles_per_event": "2"}]})
        self.assertEqual(expanded["uipi-fib-5us"], [{"interval": "10000",
                                                     "cycles_per_event": "2"}])
        self.assertIn("uipi-fib-1us", expanded)
        self.assertEqual([e.name for e in sensitivity_experiments()],
                         ["e2e", "uipi-fib", "uipi-linpack", "uipi-memops"])
        settings = sensitivity_settings(CALIBRATION)
        self.assertEqual(len(settings), 2 * len(FREE_PARAMETERS) + 3)
        ipi = CALIBRATION.free["ipi"]["value"]
        self.assertIn((("ipi", round(ipi * 1.25)),), [s.params for s in settings])
        self.assertEqual([s.rob for s in settings if s.rob], [256, 384, 512])
        rows = prediction_rows({"e2e": [{"last_to_handler": "700"}]}, CALIBRATION)
        (fig2,) = [r for r in rows if r[0].startswith("Fig. 2: last")]
        self.assertEqual(fig2[1:3], (686, 700.0))
        text = render(rows)
        for name, _ in NOT_RUN:
            self.assertIn(name, text)


class ChaseAndWorstCase(unittest.TestCase):
    def test_runs(self):
        exps = {e.name: e for e in chase_experiments()}
        self.assertEqual(len(exps), 2 * len(CHASE_BYTES) + 2 * len(RSP_CHAIN_LOADS))
        small = exps["chase-16KiB-drain"]
        self.assertEqual(small.strategy, "drain")
        self.assertEqual(small.args[:3], ("chase", str(16 << 10), "0"))
        self.assertEqual(small.cores, 2)  # receiver + sender
        worst = exps["rspchain-50-tracked"]
        self.assertEqual(worst.strategy, "tracked")
        self.assertEqual(worst.args[2], "50")
        self.assertEqual(exps["rspchain-50-flush"].args, worst.args)
        # The largest working set is beyond the 2-core board's LLC (4 x 1.875 MiB).
        self.assertGreater(max(CHASE_BYTES.values()), 4 * 1920 * 1024)

    def test_rows(self):
        results = {
            "chase-16KiB-flush": [{"end_to_end": "1400"}],
            "chase-32MiB-flush": [{"end_to_end": "1470"}],
            "chase-16KiB-drain": [{"end_to_end": "1500"}],
            "chase-32MiB-drain": [{"end_to_end": "9000"}],
            "rspchain-50-tracked": [{"max_end_to_end": "12000"}],
            "rspchain-50-flush": [{"max_end_to_end": "1500"}],
        }
        rows = {r[0]: r for r in prediction_rows(results, CALIBRATION)}
        flat = rows["§3.5 flush: end-to-end at 32MiB / at 16KiB (paper: flat)"]
        self.assertEqual(flat[1], 1.0)
        self.assertAlmostEqual(flat[2], 1.05)
        grows = rows["§3.5 drain: end-to-end at 32MiB / at 16KiB (paper: grows, not measured)"]
        self.assertIsNone(grows[1])
        self.assertAlmostEqual(grows[2], 6.0)
        tracked = rows["§6.1 50 loads feeding RSP, tracked: worst end-to-end"]
        self.assertEqual(tracked[1:3], (SEC61_TRACKED_WORST, 12000.0))
        self.assertAlmostEqual(
            rows["§6.1 50 loads feeding RSP: worst tracked / worst flush"][2], 8.0)
        # A run that produced nothing is n/a, not zero.
        self.assertIsNone(rows["§6.1 10 loads feeding RSP, tracked: worst end-to-end"][2])
        self.assertIn("| 1.05 | 1.05 |", render([flat]))


class Plan(unittest.TestCase):
    def test_subsets(self):
        only5 = plan(CALIBRATION, "predictions", [5], None)
        names = [e.name for _, e in only5]
        self.assertEqual(len(names), 1 + 9 + len(chase_experiments()))
        self.assertTrue(all(s == Setting() for s, _ in only5))
        self.assertNotIn("uipi-fib-10us", names)
        chase = plan(CALIBRATION, "predictions", [5], r"^(chase|rspchain)-")
        self.assertEqual(len(chase), len(chase_experiments()))
        sens = plan(CALIBRATION, "sensitivity", [], None)
        # The frozen baseline plus every setting, each on e2e and three kernels.
        self.assertEqual(len(sens), 4 * (1 + len(sensitivity_settings(CALIBRATION))))
        full = plan(CALIBRATION, "all", [1, 2, 5, 10, 20, 50, 100], None)
        pairs = [(s, e.name) for s, e in full]
        self.assertEqual(len(pairs), len(set(pairs)))  # no run twice


class Loading(unittest.TestCase):
    def test_overrides(self):
        self.assertEqual(CALIBRATION.latencies(ipi=5).ipi, 5)
        with self.assertRaises(ValueError):
            CALIBRATION.latencies(flush=600)
        self.assertEqual(load_calibration().values(), CALIBRATION.values())


if __name__ == "__main__":
    unittest.main()
