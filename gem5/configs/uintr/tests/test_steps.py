"""steps.py: the command of each reproduction step (no gem5 needed)."""

import unittest

import uintr_path  # noqa: F401
from steps import STEPS, commands


def flat(step, **kw):
    args = dict(gem5="GEM5", jobs=2, gem5_src="/nonexistent", binary="NB", iters=40)
    args.update(kw)
    return [" ".join(c) for c in commands(step, **args)]


class Steps(unittest.TestCase):
    def test_every_step_has_commands(self):
        for step in STEPS:
            self.assertTrue(flat(step), step)
        with self.assertRaises(SystemExit):
            commands("nonsense", "GEM5", 2, "/nonexistent", None, 40)

    def test_order_of_the_pipeline(self):
        self.assertEqual(STEPS[:4], ("smoke", "calibrate", "freeze", "predict"))

    def test_freeze_commits_the_parameter_file_alone(self):
        (cmd,) = commands("freeze", "GEM5", 2, "/nonexistent", None, 40)
        self.assertEqual(cmd[:2], ["git", "commit"])
        self.assertEqual(cmd[-2:], ["--", "gem5/configs/uintr/calibration.json"])

    def test_calibrate_records_the_gem5_tree(self):
        (cmd,) = flat("calibrate")
        self.assertIn("calibrate.py --gem5 GEM5 --gem5-commit", cmd)
        self.assertIn("patch ", cmd)

    def test_predict_runs_everything_once(self):
        (cmd,) = flat("predict")
        self.assertIn("--only all ", cmd)
        # Every interval, the chase and §6.1 runs: nothing filtered out.
        self.assertNotIn("--runs", cmd)
        self.assertNotIn("--intervals", cmd)

    def test_broadcast_is_the_15_waiter_headline(self):
        (cmd,) = flat("broadcast")
        self.assertIn("--binary NB", cmd)
        self.assertIn("--only bcast-uintr-flush-w15", cmd)
        self.assertIn("--only bcast-nemo_condvar-w1 ", cmd)
        self.assertIn("--iters 40", cmd)
        with self.assertRaises(SystemExit):
            commands("broadcast", "GEM5", 2, "/nonexistent", None, 40)


if __name__ == "__main__":
    unittest.main()
