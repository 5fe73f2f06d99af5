#!/usr/bin/env python3
"""The gem5 reproduction, one command per step, in this order:

    python3 gem5/configs/uintr/steps.py STEP [--gem5 GEM5_OPT] [--jobs 2]

    smoke        uintr_selftest (atomic and O3, flush) and one Table 2
                 microbenchmark (uintr_micro ops) on the model
    calibrate    calibrate.py: fit the five free parameters to Table 2;
                 rewrites calibration.json
    freeze       commit calibration.json alone (nothing else staged), so
                 that the history shows it fixed before any prediction ran
    predict      predict.py: every prediction (Fig. 2, Fig. 4 at every
                 interval 1-100 us, §3.5, §6.1) and the sensitivity (each
                 parameter +-25 %, ROB) in one invocation, so that each
                 Fig. 4 sweep runs once
    broadcast    broadcast_matrix.py: the 15-waiter rows (needs --binary,
                 a static nemo-bench; --iters, default 40)

Each step writes gem5/results/STEP.md: the exact command, the gem5 commit
and patch checksum, the nemo commit, the host time, and the step's output
(tables as the scripts print them; raw results in STEP.json where the
script writes JSON). gem5's own output stays under m5out/STEP. With
--commit the step then commits its result files alone (calibrate leaves
calibration.json to the freeze step). The GEM5 environment variable may replace
--gem5; GEM5_SRC (default /opt/gem5/gem5) is the tree it was built from.
"""

import argparse
import hashlib
import os
import shlex
import subprocess
import sys
import time
from typing import List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
RESULTS = os.path.join(REPO, "gem5", "results")
PATCH = os.path.join(REPO, "gem5", "uintr", "gem5-v24.0.0.1-uintr.patch")
CALIBRATION = os.path.join("gem5", "configs", "uintr", "calibration.json")
STEPS = ("smoke", "calibrate", "freeze", "predict", "broadcast")
DEFAULT_GEM5_SRC = "/opt/gem5/gem5"
PY = "python3"


def gem5_commit(src: str) -> str:
    """`<commit>` of the gem5 tree, `+uintr-patch` when it has local changes."""
    head = subprocess.run(["git", "-C", src, "rev-parse", "HEAD"], capture_output=True,
                          text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", src, "diff", "--quiet"]).returncode != 0
    return head + ("+uintr-patch" if dirty else "")


def patch_checksum() -> str:
    with open(PATCH, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def nemo_commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=REPO).stdout.strip()


def commands(step: str, gem5: str, jobs: int, gem5_src: str, binary: Optional[str],
             iters: int) -> List[List[str]]:
    """The command lines of a step (run from the repository root)."""
    cfg = os.path.join("gem5", "configs", "uintr")
    micro = os.path.join("gem5", "uintr", "bench", "build", "uintr_micro")
    selftest = os.path.join("gem5", "uintr", "bench", "build", "uintr_selftest")
    run = [gem5, "-d"]
    if step == "smoke":
        return [
            ["make", "-s", "-C", os.path.join("gem5", "uintr", "bench")],
            run + ["m5out/smoke/selftest-atomic", os.path.join(cfg, "run_uintr.py"),
                   "--cpu-type", "atomic", "--cores", "3", "--binary", selftest],
            run + ["m5out/smoke/selftest-o3", os.path.join(cfg, "run_uintr.py"),
                   "--cores", "3", "--binary", selftest],
            run + ["m5out/smoke/ops", os.path.join(cfg, "run_uintr.py"), "--cores", "1",
                   "--binary", micro, "--", "ops", "40"],
        ]
    if step == "calibrate":
        return [[PY, os.path.join(cfg, "calibrate.py"), "--gem5", gem5, "--gem5-commit",
                 f"{gem5_commit(gem5_src)} patch {patch_checksum()}", "--jobs", str(jobs),
                 "--outdir", "m5out/fit"]]
    if step == "freeze":
        return [["git", "commit", "-m",
                 "calibration.json: the fitted parameters, frozen before any prediction "
                 "runs", "--", CALIBRATION]]
    predict = [PY, os.path.join(cfg, "predict.py"), "--gem5", gem5, "--jobs", str(jobs)]
    if step == "predict":
        return [predict + ["--only", "all", "--outdir", "m5out/predict", "--json",
                           "gem5/results/predict.json"]]
    if step == "broadcast":
        if not binary:
            raise SystemExit("steps.py broadcast: --binary STATIC_NEMO_BENCH is required")
        only = ["bcast-uintr-flush-w15", "bcast-nemo_condvar-w15", "am-flush-w15",
                "bcast-spin-w15", "bcast-nemo_event-w15", "bcast-uintr-tracked-w15",
                "am-tracked-w15", "bcast-nemo_condvar-nowaitpkg-w15",
                "bcast-nemo_event-nowaitpkg-w15"]
        cmd = [PY, os.path.join(cfg, "broadcast_matrix.py"), "--gem5", gem5, "--binary",
               binary, "--jobs", str(jobs), "--iters", str(iters), "--waiters", "1",
               "--waiters", "15", "--outdir", "m5out/bcast", "--json",
               "gem5/results/broadcast.json"]
        for name in ["bcast-uintr-flush-w1", "bcast-nemo_condvar-w1"] + only:
            cmd += ["--only", name]
        return [cmd]
    raise SystemExit(f"steps.py: unknown step {step!r}; one of {', '.join(STEPS)}")


def freeze_allowed() -> Optional[str]:
    """Why `freeze` must not commit (None: it may)."""
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=REPO,
                            capture_output=True, text=True).stdout.split()
    if staged:
        return f"other files are staged ({', '.join(staged)}): the freeze commit is the " \
               "parameter file alone"
    changed = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", CALIBRATION],
                             cwd=REPO).returncode != 0
    if not changed:
        return "calibration.json has no change to freeze (run the calibrate step first)"
    sys.path.insert(0, HERE)
    from calibrate import check  # noqa: E402
    from uintr_params import load_calibration  # noqa: E402

    calib = load_calibration(os.path.join(REPO, CALIBRATION))
    if calib.record is None:
        return "calibration.json has no fit record"
    problems = check(calib)
    if problems:
        return "calibration.json does not match its record: " + "; ".join(problems)
    return None


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("step", choices=STEPS)
    p.add_argument("--gem5", default=os.environ.get("GEM5"))
    p.add_argument("--gem5-src", default=os.environ.get("GEM5_SRC", DEFAULT_GEM5_SRC))
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--binary", help="static nemo-bench (broadcast)")
    p.add_argument("--iters", type=int, default=40, help="broadcast events per regime")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("--commit", action="store_true",
                   help="commit gem5/results/STEP.* (only those) after the step")
    opts = p.parse_args(argv)
    if opts.step != "freeze" and not opts.gem5 and not opts.dry_run:
        p.error("--gem5 (or GEM5=) is required")
    cmds = commands(opts.step, opts.gem5 or "GEM5", opts.jobs, opts.gem5_src, opts.binary,
                    opts.iters)
    if opts.dry_run:
        for c in cmds:
            print(shlex.join(c))
        return 0
    if opts.step == "freeze":
        why = freeze_allowed()
        if why:
            print(f"steps.py freeze: {why}", file=sys.stderr)
            return 1

    os.makedirs(RESULTS, exist_ok=True)
    out_md = os.path.join(RESULTS, f"{opts.step}.md")
    started = time.monotonic()
    sections = []
    status = 0
    for c in cmds:
        t0 = time.monotonic()
        proc = subprocess.run(c, cwd=REPO, capture_output=True, text=True)
        took = time.monotonic() - t0
        print(proc.stdout, end="")
        print(proc.stderr, end="", file=sys.stderr)
        status = status or proc.returncode
        sections.append((c, proc.returncode, took, proc.stdout, proc.stderr))
    if opts.step == "freeze":
        return status
    wall = time.monotonic() - started
    lines = [f"# gem5 step `{opts.step}`", "",
             f"- started: {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(time.time() - wall))}",
             f"- host time: {wall:.0f} s (--jobs {opts.jobs}, 2-core host shared with "
             "other work)",
             f"- gem5: {gem5_commit(opts.gem5_src)}, UINTR patch sha256 {patch_checksum()}",
             f"- nemo commit before the step: {nemo_commit()}",
             f"- exit status: {status}", ""]
    for c, rc, took, out, err in sections:
        lines += [f"## `{shlex.join(c)}`", "", f"exit status {rc}, {took:.0f} s host time",
                  "", "stdout:", "", "```", out.rstrip(), "```", "", "stderr (last 40 lines):",
                  "", "```", "\n".join(err.rstrip().splitlines()[-40:]), "```", ""]
    with open(out_md, "w") as f:
        f.write("\n".join(lines))
    print(f"steps.py {opts.step}: exit status {status}, {wall:.0f} s; {out_md}",
          file=sys.stderr)
    if opts.commit:
        files = [os.path.relpath(os.path.join(RESULTS, f), REPO) for f in os.listdir(RESULTS)
                 if os.path.splitext(f)[0] == opts.step]
        subprocess.run(["git", "add", "--"] + files, cwd=REPO, check=True)
        subprocess.run(["git", "commit", "-q", "-m",
                        f"gem5 results: step {opts.step} (exit status {status}, {wall:.0f} s "
                        "host time)", "--"] + files, cwd=REPO, check=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
