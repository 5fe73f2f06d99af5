#!/usr/bin/env python3
"""Predictions and sensitivity of the UINTR model with its frozen parameters.

    python3 gem5/configs/uintr/predict.py --gem5 GEM5_OPT [--jobs 2] \\
        [--outdir m5out/predict] [--no-sensitivity] [--dry-run]

Runs, with the values of calibration.json (never changed here):

* predictions, each next to the paper's number and the ratio: Fig. 2's
  split (last program instruction -> handler) and `uiret`; Fig. 4 cycles
  per event per kernel (fib, linpack, memops) for UIPI, tracked and the KB
  timer, and the slowdown at 1, 2, 5, 10, 20, 50 and 100 us;
* sensitivity: each free parameter at -25 % and +25 %, and the ROB at
  256, 384 and 512 entries, on the end-to-end latency and the UIPI cost
  per event (mean of the three kernels).

A number is labelled "predicted" only when calibration.json's status is
"calibrated" and its record checks out (calibrate.check); otherwise every
row says it is not a prediction. Rows that measure what a fitted Table 2
row measures (Fig. 4's UIPI cost per event at 5 us is the receiver cost)
are labelled "derived: a fitted row's measurement". The xUI paper gives Fig. 4 as bars
per kernel; only the means (and the 5 us slowdowns) are in uintr_params,
so the per-kernel and other-interval rows have no paper number here.
* xUI §3.5's pointer chase (uintr_micro chase, RSP untouched): end-to-end
  latency at working sets from L1-resident to DRAM-bound under flush and
  drain; the paper saw no variation on Sapphire Rapids (flush);
* xUI §6.1's worst case (uintr_micro chase with N dependent DRAM-bound
  loads feeding RSP): the worst end-to-end latency under tracked delivery
  (the paper: close to 7000 cycles at 50 or more loads) and under flush on
  the same program (the paper: an order of magnitude less).

Fig. 4 runs one gem5 process per source and kernel that sweeps every
interval (uintr_micro overhead with lists): one warm-up, one base per
distinct kernel length, one interrupted run per interval. The sensitivity
runs are the fit's own Table 2 runs (uintr_params.experiments: e2e and
uipi-<kernel> at 5 us), one process each.

Predictions must not run before calibration.json is frozen: unless
--dry-run, predict.py refuses when the file differs from the committed
one. --only predictions|sensitivity, --intervals and --runs pick a subset
(the order of priority when host time is short).
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from calibrate import check  # noqa: E402
from reproduce import REPO, gem5_command, parse_results  # noqa: E402
from uintr_params import (  # noqa: E402
    CALIBRATION,
    CALIBRATION_FILE,
    FIG2,
    FIG4_CYCLES_PER_EVENT,
    FIG4_KERNELS,
    FIG4_SLOWDOWN_PCT_5US,
    FREE_PARAMETERS,
    INTERVAL_5US,
    KERNEL_REPS,
    Calibration,
    Experiment,
    experiments,
)

INTERVALS_US = (1, 2, 5, 10, 20, 50, 100)
CYCLES_PER_US = 2000
SOURCES = {  # Fig. 4 source -> (strategy, uintr_micro source, cores)
    "uipi": ("flush", "uipi", 2),
    "tracked": ("tracked", "uipi", 2),
    "kbtimer": ("tracked", "kbtimer", 1),
}
ROB_SIZES = (256, 384, 512)
SENSITIVITY_STEP = 0.25
# Rows the scripts know but no run produced (none since uintr_micro chase).
NOT_RUN: tuple = ()

# xUI §3.5: working sets of the pointer chase, from L1-resident to far
# beyond the LLC of the 2-core board (4 slices, 7.5 MiB).
CHASE_BYTES = {"16KiB": 16 << 10, "1MiB": 1 << 20, "6MiB": 6 << 20, "32MiB": 32 << 20}
CHASE_EVENTS = "12"   # the first warms up: 11 counted
CHASE_GAP = "4000"
# xUI §6.1: dependent DRAM-bound loads per RSP write.
RSP_CHAIN_BYTES = 32 << 20
RSP_CHAIN_LOADS = (10, 50)
# The paper's §6.1 numbers: "close to 7000 cycles with a chain of 50 or
# more long-latency loads" (tracked), flush "an order of magnitude less".
SEC61_TRACKED_WORST = 7000
SEC61_TRACKED_OVER_FLUSH = 10


FITTED_MEASUREMENT = "derived: a fitted row's measurement"


@dataclass(frozen=True)
class Setting:
    """A run's deviation from calibration.json (empty: none)."""

    name: str = "frozen"
    params: tuple = ()
    rob: Optional[int] = None


def interval_reps(kernel: str, us: int) -> int:
    """The kernel's repetitions for a run at `us`. Up to 10 us they scale
    with the interval (~100 events per run, as at 5 us); beyond, they stay
    at the 10 us count (~2 M cycles of work: ~50 events at 20 us, ~10 at
    100 us)."""
    scaled = min(us * CYCLES_PER_US, 2 * INTERVAL_5US)
    return max(1, KERNEL_REPS[kernel] * scaled // INTERVAL_5US)


def sweep_name(src: str, kernel: str) -> str:
    return f"{src}-{kernel}-intervals"


def interval_experiments(intervals: Sequence[int] = INTERVALS_US) -> List[Experiment]:
    """Fig. 4 at the given intervals: one run per source and kernel that
    sweeps them all in one process (see the module docstring); expand()
    names each interval's result `<source>-<kernel>-<us>us`."""
    us_list = sorted(intervals)
    if not us_list:
        return []
    runs = []
    for kernel in FIG4_KERNELS:
        cycles = ",".join(str(us * CYCLES_PER_US) for us in us_list)
        reps = ",".join(str(interval_reps(kernel, us)) for us in us_list)
        for src, (strategy, source, cores) in SOURCES.items():
            runs.append(Experiment(sweep_name(src, kernel), strategy,
                                   ("overhead", kernel, source, cycles, reps),
                                   cores=cores))
    return runs


def expand(results: Dict[str, List[Dict[str, str]]]) -> Dict[str, List[Dict[str, str]]]:
    """`results` plus one entry `<source>-<kernel>-<us>us` per interval of
    each sweep run (its RESULT line with that interval)."""
    out = dict(results)
    for src in SOURCES:
        for kernel in FIG4_KERNELS:
            for r in results.get(sweep_name(src, kernel), []):
                if "interval" in r:
                    us = int(r["interval"]) // CYCLES_PER_US
                    out[f"{src}-{kernel}-{us}us"] = [r]
    return out


def chase_experiments() -> List[Experiment]:
    """xUI §3.5 (chase, flush and drain, every working set) and §6.1
    (loads feeding RSP, tracked and flush)."""
    runs = []
    for size, nbytes in CHASE_BYTES.items():
        for strategy in ("flush", "drain"):
            runs.append(Experiment(f"chase-{size}-{strategy}", strategy,
                                   ("chase", str(nbytes), "0", CHASE_EVENTS, CHASE_GAP)))
    for loads in RSP_CHAIN_LOADS:
        for strategy in ("tracked", "flush"):
            runs.append(Experiment(f"rspchain-{loads}-{strategy}", strategy,
                                   ("chase", str(RSP_CHAIN_BYTES), str(loads),
                                    CHASE_EVENTS, CHASE_GAP)))
    return runs


def sensitivity_settings(calib: Calibration) -> List[Setting]:
    out = []
    for param in FREE_PARAMETERS:
        base = calib.free[param]["value"]
        for sign in (-1, 1):
            value = max(1 if param == "clui_port_latency" else 0,
                        round(base * (1 + sign * SENSITIVITY_STEP)))
            out.append(Setting(f"{param} {'-' if sign < 0 else '+'}25% ({value})",
                               ((param, value),)))
    out += [Setting(f"ROB {n}", (), n) for n in ROB_SIZES]
    return out


SENSITIVITY_RUNS = ("e2e",) + tuple(f"uipi-{k}" for k in FIG4_KERNELS)


def sensitivity_experiments() -> List[Experiment]:
    """The fit's end-to-end and UIPI receiver-cost runs (5 us)."""
    return [e for e in experiments() if e.name in SENSITIVITY_RUNS]


def label(calib: Calibration, fitted_run: bool = False) -> str:
    if check(calib) or not calib.calibrated:
        return "not a prediction (calibration.json is not calibrated)"
    return FITTED_MEASUREMENT if fitted_run else "predicted"


def command(gem5: str, outdir: str, binary: str, exp: Experiment,
            setting: Setting) -> List[str]:
    cmd = gem5_command(gem5, outdir, binary, exp)
    extra = [a for k, v in setting.params for a in ("--param", f"{k}={v}")]
    if setting.rob is not None:
        extra += ["--rob", str(setting.rob)]
    at = cmd.index("--binary")
    return cmd[:at] + extra + cmd[at:]


def value(results: Dict[str, List[Dict[str, str]]], run: str, key: str) -> Optional[float]:
    for r in results.get(run, []):
        if key in r:
            return float(r[key])
    return None


def ratio_of(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def chase_rows(results: Dict[str, List[Dict[str, str]]], calib: Calibration) -> List[tuple]:
    """xUI §3.5 and §6.1 rows (see the module docstring)."""
    lab = label(calib)
    small, large = next(iter(CHASE_BYTES)), list(CHASE_BYTES)[-1]
    rows = []
    for strategy in ("flush", "drain"):
        for size in CHASE_BYTES:
            rows.append((f"§3.5 chase {size}, {strategy}: end-to-end", None,
                         value(results, f"chase-{size}-{strategy}", "end_to_end"), lab))
    flush_ratio = ratio_of(value(results, f"chase-{large}-flush", "end_to_end"),
                           value(results, f"chase-{small}-flush", "end_to_end"))
    drain_ratio = ratio_of(value(results, f"chase-{large}-drain", "end_to_end"),
                           value(results, f"chase-{small}-drain", "end_to_end"))
    rows.append((f"§3.5 flush: end-to-end at {large} / at {small} (paper: flat)", 1.0,
                 flush_ratio, lab))
    rows.append((f"§3.5 drain: end-to-end at {large} / at {small} (paper: grows, "
                 "not measured)", None, drain_ratio, lab))
    for loads in RSP_CHAIN_LOADS:
        tracked = value(results, f"rspchain-{loads}-tracked", "max_end_to_end")
        flush = value(results, f"rspchain-{loads}-flush", "max_end_to_end")
        paper = SEC61_TRACKED_WORST if loads >= 50 else None
        rows.append((f"§6.1 {loads} loads feeding RSP, tracked: worst end-to-end", paper,
                     tracked, lab))
        rows.append((f"§6.1 {loads} loads feeding RSP, flush: worst end-to-end", None,
                     flush, lab))
        rows.append((f"§6.1 {loads} loads feeding RSP: worst tracked / worst flush",
                     SEC61_TRACKED_OVER_FLUSH if loads >= 50 else None,
                     ratio_of(tracked, flush), lab))
    return rows


def prediction_rows(results: Dict[str, List[Dict[str, str]]],
                    calib: Calibration) -> List[tuple]:
    """(quantity, paper or None, ours, label) for every prediction."""
    results = expand(results)
    rows = [("Fig. 2: last program instruction -> handler", FIG2["last_to_handler"],
             value(results, "e2e", "last_to_handler"), label(calib)),
            ("Fig. 2: handler's last TSC -> program resumes (uiret ~10)", FIG2["uiret"],
             value(results, "e2e", "exit_to_resume"), label(calib))]
    for src in SOURCES:
        per = [value(results, f"{src}-{k}-5us", "cycles_per_event") for k in FIG4_KERNELS]
        known = [v for v in per if v is not None]
        mean = sum(known) / len(known) if len(known) == len(per) else None
        rows.append((f"Fig. 4 {src}: cycles/event, mean of kernels",
                     FIG4_CYCLES_PER_EVENT[src], mean, label(calib, src == "uipi")))
        for k, v in zip(FIG4_KERNELS, per):
            rows.append((f"Fig. 4 {src} {k}: cycles/event", None, v,
                         label(calib, src == "uipi")))
        for us in INTERVALS_US:
            for k in FIG4_KERNELS:
                paper = FIG4_SLOWDOWN_PCT_5US.get(src) if us == 5 else None
                rows.append((f"Fig. 4 {src} {k}: slowdown % at {us} us", paper,
                             value(results, f"{src}-{k}-{us}us", "slowdown_pct"),
                             label(calib, src == "uipi" and us == 5)))
    return rows + chase_rows(results, calib)


def render(rows: Sequence[tuple]) -> str:
    lines = ["| quantity | paper | ours | ours / paper | label |",
             "|---|---:|---:|---:|---|"]
    for name, paper, ours, lab in rows:
        ratio = "—" if paper is None or ours is None else f"{ours / paper:.2f}"
        lines.append(f"| {name} | {'—' if paper is None else f'{paper:g}'} | "
                     f"{'n/a' if ours is None else f'{ours:.{2 if abs(ours) < 10 else 1}f}'} "
                     f"| {ratio} | {lab} |")
    for name, why in NOT_RUN:
        lines.append(f"| {name} | | not run | | {why} |")
    return "\n".join(lines)


def calibration_frozen(path: str = CALIBRATION_FILE) -> bool:
    """Whether calibration.json is committed as it is (no local change)."""
    rel = os.path.relpath(path, REPO)
    tracked = subprocess.run(["git", "ls-files", "--error-unmatch", rel], cwd=REPO,
                             capture_output=True).returncode == 0
    clean = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", rel], cwd=REPO,
                           capture_output=True).returncode == 0
    return tracked and clean


def plan(calib: Calibration, only: str, intervals: Sequence[int],
         runs: Optional[str]) -> List[tuple]:
    """The (setting, experiment) pairs of a predict.py invocation."""
    todo = []
    if only in ("all", "predictions"):
        e2e = Experiment("e2e", "flush", ("e2e", "40", "6000"))
        exps = [e2e] + interval_experiments(intervals)
        exps += chase_experiments()
        if runs:
            exps = [e for e in exps if re.search(runs, e.name)]
        todo += [(Setting(), e) for e in exps]
    if only in ("all", "sensitivity"):
        have = {e.name for s, e in todo if s == Setting()}
        todo += [(Setting(), e) for e in sensitivity_experiments() if e.name not in have]
        todo += [(s, e) for s in sensitivity_settings(calib) for e in sensitivity_experiments()]
    return todo


def sensitivity_table(by_setting, calib: Calibration) -> str:
    lines = ["| setting | end-to-end | Δ % | UIPI cycles/event (mean) | Δ % |",
             "|---|---:|---:|---:|---:|"]

    def metrics(res):
        e = value(res, "e2e", "end_to_end")
        per = [value(res, f"uipi-{k}", "cycles_per_event") for k in FIG4_KERNELS]
        return e, (None if None in per else sum(per) / len(per))

    def delta(x, b):
        return "n/a" if x is None or not b else f"{100 * (x / b - 1):+.1f}"

    def show(x):
        return "n/a" if x is None else f"{x:.1f}"

    base_e, base_c = metrics(by_setting.get(Setting(), {}))
    for s in [Setting()] + sensitivity_settings(calib):
        e, c = metrics(by_setting.get(s, {}))
        lines.append(f"| {s.name} | {show(e)} | {delta(e, base_e)} | {show(c)} | "
                     f"{delta(c, base_c)} |")
    return "\n".join(lines)


def finished_run(log: str, cmd: Sequence[str]) -> Optional[List[Dict[str, str]]]:
    """The RESULT lines of an earlier run of exactly `cmd` whose log is at
    `log`, if it finished with results; None otherwise (no log, another
    command, or no RESULT line: a failed or interrupted run is run again)."""
    try:
        with open(log) as f:
            first, _, rest = f.read().partition("\n")
    except OSError:
        return None
    if first != " ".join(cmd):
        return None
    return parse_results(rest) or None


def run_plan(gem5: str, todo: Sequence[tuple], binary: str, outdir_of, jobs: int,
             resume: bool = False):
    """Runs every (setting, experiment) pair, at most `jobs` at a time.
    Returns the RESULT lines by setting and run, and per run its command,
    exit status and host time. With `resume`, a run whose log shows it
    finished with the same command is read back instead of run again."""

    def one(job):
        s, e = job
        cmd = command(gem5, outdir_of(s), binary, e, s)
        log = os.path.join(REPO, outdir_of(s), f"{e.name}.log")
        done = finished_run(log, cmd) if resume else None
        if done is not None:
            print(f"{s.name} {e.name}: finished earlier; {log}", file=sys.stderr)
            return s, e.name, done, {"command": cmd, "status": 0, "host_seconds": None,
                                     "results": done, "resumed": True}
        t0 = time.monotonic()
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        host = time.monotonic() - t0
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n" + out.stdout + out.stderr)
        res = parse_results(out.stdout)
        state = "ok" if out.returncode == 0 and res else f"FAILED (status {out.returncode})"
        print(f"{s.name} {e.name}: {state}, {host:.0f} s; {log}", file=sys.stderr)
        return s, e.name, res, {"command": cmd, "status": out.returncode,
                                "host_seconds": round(host, 1), "results": res}

    by_setting: Dict[Setting, Dict[str, List[Dict[str, str]]]] = {}
    raw: Dict[str, dict] = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for s, name, res, record in pool.map(one, todo):
            by_setting.setdefault(s, {})[name] = res
            raw.setdefault(s.name, {})[name] = record
    return by_setting, raw


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gem5")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--outdir", default="m5out/predict")
    p.add_argument("--only", choices=("all", "predictions", "sensitivity"), default="all")
    p.add_argument("--no-sensitivity", action="store_true",
                   help="the same as --only predictions")
    p.add_argument("--intervals", default=",".join(map(str, INTERVALS_US)),
                   help="Fig. 4 intervals in us, comma-separated (default: all)")
    p.add_argument("--runs", default=None,
                   help="only the prediction runs whose name matches this regex")
    p.add_argument("--json", default=None, help="write every run's results here")
    p.add_argument("--resume", action="store_true",
                   help="read back the runs that finished earlier with the same command "
                        "(from their logs in --outdir) instead of running them again")
    p.add_argument("--dry-run", action="store_true")
    opts = p.parse_args(argv)
    if opts.no_sensitivity:
        opts.only = "predictions"
    intervals = [int(x) for x in opts.intervals.split(",") if x]
    unknown = set(intervals) - set(INTERVALS_US)
    if unknown:
        p.error(f"--intervals: {sorted(unknown)} not among {INTERVALS_US}")

    calib = CALIBRATION
    problems = check(calib)
    if problems or not calib.calibrated:
        print("predict.py: calibration.json is not calibrated"
              + "".join(f"\n  {x}" for x in problems)
              + "\n  nothing below is labelled predicted", file=sys.stderr)
    binary = os.path.join("gem5", "uintr", "bench", "build", "uintr_micro")
    todo = plan(calib, opts.only, intervals, opts.runs)
    gem5 = opts.gem5 or "GEM5"

    def outdir(s: Setting) -> str:
        return os.path.join(opts.outdir, s.name.split(" (")[0].replace(" ", "_"))

    if opts.dry_run:
        for s, e in todo:
            print(" ".join(command(gem5, outdir(s), binary, e, s)))
        print(f"{len(todo)} runs")
        return 0
    if not opts.gem5:
        p.error("--gem5 is required (or --dry-run)")
    if not calibration_frozen():
        print("predict.py: calibration.json has uncommitted changes: commit (freeze) it "
              "before any prediction runs", file=sys.stderr)
        return 2
    subprocess.run(["make", "-s", "-C", os.path.join(REPO, "gem5", "uintr", "bench")],
                   check=True)
    started = time.monotonic()
    by_setting, raw = run_plan(opts.gem5, todo, binary, outdir, opts.jobs, opts.resume)
    wall = time.monotonic() - started
    frozen = by_setting.get(Setting(), {})
    if opts.only in ("all", "predictions"):
        print(render([r for r in prediction_rows(frozen, calib) if r[2] is not None]))
    if opts.only in ("all", "sensitivity"):
        print()
        print(sensitivity_table(by_setting, calib))
    print(f"\npredict.py: {len(todo)} runs, {wall:.0f} s host time (--jobs {opts.jobs})",
          file=sys.stderr)
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"calibration_status": calib.status, "host_seconds": round(wall),
                       "jobs": opts.jobs, "runs": raw}, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
