#!/usr/bin/env python3
"""Fit the model's free parameters to xUI Table 2, and only to it.

    python3 gem5/configs/uintr/calibrate.py --gem5 GEM5_OPT \\
        --gem5-commit COMMIT [--jobs 2] [--rounds 3] [--outdir m5out/fit]

Five free parameters (uintr_params.FREE_PARAMETERS), each fitted to one
Table 2 row: senduipi -> senduipi, stui -> stui, clui_port_latency ->
clui, ipi -> end-to-end, notification_processing -> receiver cost. Each
adds serially to its row's measurement, so a round measures the rows with
the current values (runs ops, e2e and the three UIPI kernels of
reproduce.py) and corrects each parameter by the row's error:
new = old + (paper - measured), less the correction of a parameter the
row also contains (ALSO_IN_ROW: end-to-end includes the notification
processing). The fit stops when every row is within
10 % (FIT_TOLERANCE) of the paper, after at most --rounds rounds, and
writes calibration.json: the values, and a record of every round and of
each parameter's target, the paper's number, the final measurement and its
residual. Status "calibrated" only when every residual is within 10 %;
otherwise "fit failed", which predict.py refuses as well.

The fitting and checking code imports nothing from gem5 (tests/).
"""

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from reproduce import REPO, gem5_command, parse_results, summarize  # noqa: E402
from uintr_params import (  # noqa: E402
    CALIBRATION_FILE,
    FIT_TOLERANCE,
    FREE_PARAMETERS,
    TABLE2,
    Calibration,
    experiments,
    load_calibration,
)

# The runs that measure Table 2 (reproduce.py's names).
FIT_RUNS = ("ops", "e2e", "uipi-fib", "uipi-linpack", "uipi-memops")
# reproduce.summarize's row names for each Table 2 key.
TABLE2_ROWS = {
    "end_to_end": "end-to-end latency",
    "receiver_cost": "receiver cost",
    "senduipi": "senduipi",
    "clui": "clui",
    "stui": "stui",
}
MIN_VALUE = {"clui_port_latency": 1}


def table2_measured(results: Dict[str, List[Dict[str, str]]]) -> Dict[str, Optional[float]]:
    """Each Table 2 row as measured by the fit runs."""
    rows = {r.name: r.ours for r in summarize(results) if r.table == "Table 2"}
    return {key: rows.get(name) for key, name in TABLE2_ROWS.items()}


def residual(measured: float, paper: float) -> float:
    return measured / paper - 1.0


# Other free parameters a row's measurement contains once each, besides
# its own: the end-to-end latency includes the receiver's notification
# processing (flush: the squash, then that latency, then the delivery).
ALSO_IN_ROW = {"end_to_end": ("notification_processing",)}


def corrected(values: Dict[str, int], measured: Dict[str, float]) -> Dict[str, int]:
    """One round's correction of the free parameters: each by its row's
    error, less what the correction of another parameter in the same row
    (ALSO_IN_ROW) already moves it."""
    out = dict(values)
    for param, target in FREE_PARAMETERS.items():
        if target not in ALSO_IN_ROW:
            new = values[param] + round(TABLE2[target] - measured[target])
            out[param] = max(MIN_VALUE.get(param, 0), new)
    for param, target in FREE_PARAMETERS.items():
        if target in ALSO_IN_ROW:
            moved = sum(out[p] - values[p] for p in ALSO_IN_ROW[target])
            new = values[param] + round(TABLE2[target] - measured[target]) - moved
            out[param] = max(MIN_VALUE.get(param, 0), new)
    return out


def fit(start: Dict[str, int],
        measure: Callable[[Dict[str, int]], Dict[str, Optional[float]]],
        rounds: int) -> dict:
    """Run the fit; returns the record (see the module docstring)."""
    values = dict(start)
    history = []
    for _ in range(max(1, rounds)):
        measured = measure(values)
        history.append({"values": dict(values), "measured": dict(measured)})
        if any(measured[t] is None for t in FREE_PARAMETERS.values()):
            break
        if all(abs(residual(measured[t], TABLE2[t])) <= FIT_TOLERANCE
               for t in FREE_PARAMETERS.values()):
            break
        values = corrected(values, measured)
    last = history[-1]
    final = {}
    for param, target in FREE_PARAMETERS.items():
        m = last["measured"][target]
        final[param] = {
            "value": last["values"][param],
            "target": target,
            "paper": TABLE2[target],
            "measured": m,
            "residual_pct": None if m is None else round(100 * residual(m, TABLE2[target]), 2),
        }
    ok = all(f["residual_pct"] is not None and abs(f["residual_pct"]) <= 100 * FIT_TOLERANCE
             for f in final.values())
    return {"ok": ok, "rounds": history, "final": final}


def calibrated(calib: Calibration, record: dict, provenance: dict) -> Calibration:
    """calibration.json after a fit."""
    free = {k: dict(v, value=record["final"][k]["value"]) for k, v in calib.free.items()}
    full = dict(provenance, method="new = old + (paper - measured) per parameter, "
                "each parameter fitted to one Table 2 row", **record)
    return Calibration("calibrated" if record["ok"] else "fit failed", free,
                       calib.fixed, full)


def check(calib: Calibration) -> List[str]:
    """What is wrong with a calibration file (empty: nothing)."""
    problems = []
    if len(calib.free) > 5:
        problems.append(f"{len(calib.free)} free parameters, at most 5")
    if set(calib.free) != set(FREE_PARAMETERS):
        problems.append(f"free parameters {sorted(calib.free)} are not {sorted(FREE_PARAMETERS)}")
    for name, p in calib.free.items():
        if p.get("target") != FREE_PARAMETERS.get(name):
            problems.append(f"{name}: target {p.get('target')!r}, not {FREE_PARAMETERS.get(name)!r}")
        if p.get("target") not in TABLE2:
            problems.append(f"{name}: target {p.get('target')!r} is not a Table 2 row")
    for name, p in calib.fixed.items():
        if not p.get("source"):
            problems.append(f"fixed {name} has no source")
    if calib.status == "not calibrated":
        if calib.record is not None:
            problems.append("not calibrated, yet a record is present")
        return problems
    if calib.status not in ("calibrated", "fit failed") or calib.record is None:
        return problems + [f"status {calib.status!r} without a record"]
    final = calib.record.get("final", {})
    last = calib.record["rounds"][-1]
    for name, p in calib.free.items():
        f = final.get(name)
        if f is None:
            problems.append(f"{name}: no final entry in the record")
            continue
        if f["value"] != p["value"] or last["values"].get(name) != p["value"]:
            problems.append(f"{name}: value {p['value']} is not the one the record measured")
        if f["target"] != p["target"] or f["paper"] != TABLE2[p["target"]]:
            problems.append(f"{name}: record's target or paper number differs")
        if f["measured"] != last["measured"].get(p["target"]):
            problems.append(f"{name}: final measurement is not the last round's")
        within = f["residual_pct"] is not None and abs(f["residual_pct"]) <= 100 * FIT_TOLERANCE
        if calib.status == "calibrated" and not within:
            problems.append(f"{name}: residual {f['residual_pct']} % exceeds the fit tolerance")
    return problems


def gem5_measure(gem5: str, outdir: str, binary: str, jobs: int,
                 round_no: List[int]) -> Callable[[Dict[str, int]], Dict[str, Optional[float]]]:
    runs = [e for e in experiments() if e.name in FIT_RUNS]

    def measure(values: Dict[str, int]) -> Dict[str, Optional[float]]:
        round_no[0] += 1
        out = os.path.join(outdir, f"round{round_no[0]}")
        params = [a for k in FREE_PARAMETERS for a in ("--param", f"{k}={values[k]}")]

        def one(e):
            cmd = gem5_command(gem5, out, binary, e)
            cmd[cmd.index("--binary"):cmd.index("--binary")] = params
            p = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
            return e.name, parse_results(p.stdout)

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = dict(pool.map(one, runs))
        return table2_measured(results)

    return measure


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gem5", required=True)
    p.add_argument("--gem5-commit", required=True,
                   help="the commit of the gem5 tree the binary was built from")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--outdir", default="m5out/fit")
    p.add_argument("--file", default=CALIBRATION_FILE)
    opts = p.parse_args(argv)

    started = time.monotonic()
    bench = os.path.join(REPO, "gem5", "uintr", "bench")
    subprocess.run(["make", "-s", "-C", bench], check=True)
    binary = os.path.relpath(os.path.join(bench, "build", "uintr_micro"), REPO)
    calib = load_calibration(opts.file)
    start = {k: v["value"] for k, v in calib.free.items()}
    record = fit(start, gem5_measure(opts.gem5, opts.outdir, binary, opts.jobs, [0]),
                 opts.rounds)
    nemo = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=REPO).stdout.strip()
    new = calibrated(calib, record, {"gem5_commit": opts.gem5_commit,
                                     "nemo_commit": nemo,
                                     "host_seconds": round(time.monotonic() - started)})
    with open(opts.file, "w") as f:
        json.dump(new.to_json(), f, indent=2)
        f.write("\n")
    for name, fin in record["final"].items():
        print(f"{name:25} {fin['value']:6} -> {fin['target']:14} paper {fin['paper']:6} "
              f"measured {fin['measured']} ({fin['residual_pct']} %)")
    print(f"calibrate.py: {new.status}; {opts.file}", file=sys.stderr)
    return 0 if record["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
