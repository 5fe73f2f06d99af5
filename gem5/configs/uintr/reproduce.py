#!/usr/bin/env python3
"""Reproduce xUI Table 2, Figure 2 and Figure 4 with the gem5 UINTR model.

    python3 gem5/configs/uintr/reproduce.py --gem5 /path/to/gem5.opt \\
        [--jobs 2] [--outdir m5out/uintr] [--json results.json]

Builds the static microbenchmark (gem5/uintr/bench, needs gcc), runs every
experiment of `uintr_params.experiments()` in gem5 (at most --jobs at a
time) and prints, for each row, the paper's number, ours and their ratio.
The exit status is 0 when every row is within 15 %.

The parsing and table code is importable without gem5 (tests/).
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
BENCH_DIR = os.path.join(REPO, "gem5", "uintr", "bench")
sys.path.insert(0, HERE)

from uintr_params import (  # noqa: E402
    FIG2,
    FIG4_CYCLES_PER_EVENT,
    FIG4_KERNELS,
    FIG4_SLOWDOWN_PCT_5US,
    TABLE2,
    Experiment,
    experiments,
    within_tolerance,
)


def parse_results(text: str) -> List[Dict[str, str]]:
    """The `RESULT k=v ...` lines of a uintr_micro run, as dicts."""
    out = []
    for line in text.splitlines():
        if not line.startswith("RESULT "):
            continue
        fields = {}
        for token in line.split()[1:]:
            if "=" in token:
                key, value = token.split("=", 1)
                fields[key] = value
        out.append(fields)
    return out


@dataclass(frozen=True)
class Row:
    table: str
    name: str
    paper: float
    ours: Optional[float]
    source: str
    # False for rows shown for comparison only: the paper's number is
    # derived or approximate, or the measurement covers more than the
    # paper's (see RESULTS.md). They do not decide the exit status.
    held: bool = True

    @property
    def ratio(self) -> Optional[float]:
        return None if self.ours is None else self.ours / self.paper

    @property
    def ok(self) -> bool:
        return self.ours is not None and within_tolerance(self.ours, self.paper)


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def summarize(results: Dict[str, List[Dict[str, str]]]) -> List[Row]:
    """The comparison rows from each experiment's RESULT lines."""

    def one(name: str, key: str) -> Optional[float]:
        for r in results.get(name, []):
            if key in r:
                return float(r[key])
        return None

    def per_kernel(prefix: str, key: str) -> List[float]:
        vals = [one(f"{prefix}-{k}", key) for k in FIG4_KERNELS]
        return [v for v in vals if v is not None]

    uipi = per_kernel("uipi", "cycles_per_event")
    rows = [
        Row("Table 2", "end-to-end latency", TABLE2["end_to_end"],
            one("e2e", "end_to_end"), "e2e"),
        Row("Table 2", "receiver cost", TABLE2["receiver_cost"], _mean(uipi),
            "uipi-* (mean over kernels)"),
        Row("Table 2", "senduipi", TABLE2["senduipi"], one("ops", "senduipi"),
            "ops"),
        Row("Table 2", "clui", TABLE2["clui"], one("ops", "clui"), "ops"),
        Row("Table 2", "stui", TABLE2["stui"], one("ops", "stui"), "ops"),
        Row("Fig. 2", "senduipi -> last program instruction (1360 - 686)",
            TABLE2["end_to_end"] - FIG2["last_to_handler"],
            one("e2e", "send_to_last"), "e2e", held=False),
        Row("Fig. 2", "last program instruction -> handler",
            FIG2["last_to_handler"], one("e2e", "last_to_handler"), "e2e"),
        Row("Fig. 2", "handler's last TSC -> program resumes (uiret ~10)",
            FIG2["uiret"], one("e2e", "exit_to_resume"), "e2e", held=False),
        Row("Fig. 4", "UIPI (SW timer), cycles/event",
            FIG4_CYCLES_PER_EVENT["uipi"], _mean(uipi),
            "uipi-* (mean over kernels)"),
        Row("Fig. 4", "xUI tracking (SW timer), cycles/event",
            FIG4_CYCLES_PER_EVENT["tracked"],
            _mean(per_kernel("tracked", "cycles_per_event")),
            "tracked-* (mean over kernels)"),
        Row("Fig. 4", "xUI KB timer + tracking, cycles/event",
            FIG4_CYCLES_PER_EVENT["kbtimer"],
            _mean(per_kernel("kbtimer", "cycles_per_event")),
            "kbtimer-* (mean over kernels)"),
        Row("Fig. 4", "UIPI slowdown at 5 us, %",
            FIG4_SLOWDOWN_PCT_5US["uipi"],
            _mean(per_kernel("uipi", "slowdown_pct")),
            "uipi-* (mean over kernels)"),
        Row("Fig. 4", "KB timer + tracking slowdown at 5 us, %",
            FIG4_SLOWDOWN_PCT_5US["kbtimer"],
            _mean(per_kernel("kbtimer", "slowdown_pct")),
            "kbtimer-* (mean over kernels)"),
    ]
    return rows


def render_markdown(rows: Sequence[Row]) -> str:
    lines = [
        "| table | row | paper | ours | ours / paper | within 15 % |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for r in rows:
        ours = "n/a" if r.ours is None else f"{r.ours:.1f}"
        ratio = "n/a" if r.ratio is None else f"{r.ratio:.2f}"
        verdict = ("yes" if r.ok else "no") if r.held else "(not held)"
        lines.append(
            f"| {r.table} | {r.name} | {r.paper:g} | {ours} | {ratio} | "
            f"{verdict} |"
        )
    return "\n".join(lines)


def render_kernels(results: Dict[str, List[Dict[str, str]]]) -> str:
    """Fig. 4 per kernel: cycles per event and slowdown of each source."""
    lines = [
        "| kernel | UIPI cy/event | tracked cy/event | KB timer cy/event "
        "| UIPI slowdown % | tracked slowdown % | KB timer slowdown % |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for k in FIG4_KERNELS:
        cells = []
        for key in ("cycles_per_event", "slowdown_pct"):
            for prefix in ("uipi", "tracked", "kbtimer"):
                runs = results.get(f"{prefix}-{k}", [])
                value = next((float(r[key]) for r in runs if key in r), None)
                cells.append("n/a" if value is None else f"{value:.{1 if key == 'cycles_per_event' else 2}f}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_commands(gem5: str, outdir: str, binary: str,
                    exps: Sequence[Experiment]) -> str:
    """The gem5 command line of each run, as a markdown table."""
    lines = ["| run | command |", "|---|---|"]
    for e in exps:
        cmd = " ".join(shlex.quote(a) for a in gem5_command(gem5, outdir, binary, e))
        lines.append(f"| {e.name} | `{cmd}` |")
    return "\n".join(lines)


def gem5_command(gem5: str, outdir: str, binary: str, exp: Experiment) -> List[str]:
    return [
        gem5,
        "-d",
        os.path.join(outdir, exp.name),
        os.path.join(os.path.relpath(HERE, REPO), "run_uintr.py"),
        "--strategy",
        exp.strategy,
        "--binary",
        binary,
        "--cores",
        str(exp.cores),
        "--",
        *exp.args,
    ]


def run_one(gem5: str, outdir: str, binary: str, exp: Experiment):
    cmd = gem5_command(gem5, outdir, binary, exp)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    log = os.path.join(REPO, outdir, f"{exp.name}.log")
    with open(log, "w") as f:
        f.write(" ".join(cmd) + "\n" + proc.stdout + proc.stderr)
    return exp.name, proc.returncode, parse_results(proc.stdout), log


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gem5", required=True, help="gem5.opt with the UINTR model")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--outdir", default="m5out/uintr")
    p.add_argument("--json", default=None, help="write the rows as JSON here")
    p.add_argument("--only", action="append", default=[],
                   help="run only this experiment (repeatable)")
    p.add_argument("--commands", action="store_true",
                   help="also print each run's gem5 command line")
    opts = p.parse_args(argv)

    started = time.monotonic()
    subprocess.run(["make", "-s", "-C", BENCH_DIR], check=True)
    # Relative to the repository root, where the runs start, so that the
    # printed commands can be pasted there.
    binary = os.path.relpath(os.path.join(BENCH_DIR, "build", "uintr_micro"), REPO)
    outdir = os.path.abspath(opts.outdir)
    os.makedirs(outdir, exist_ok=True)
    if outdir.startswith(REPO + os.sep):
        outdir = os.path.relpath(outdir, REPO)
    opts.outdir = outdir
    todo = [e for e in experiments() if not opts.only or e.name in opts.only]
    results: Dict[str, List[Dict[str, str]]] = {}
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for name, rc, res, log in pool.map(
            lambda e: run_one(opts.gem5, opts.outdir, binary, e), todo
        ):
            results[name] = res
            state = "ok" if rc == 0 and res else f"FAILED (status {rc})"
            failed |= state != "ok"
            print(f"{name}: {state}; {log}", file=sys.stderr)
            for r in res:
                print("  " + " ".join(f"{k}={v}" for k, v in r.items()),
                      file=sys.stderr)

    wall = time.monotonic() - started
    print(f"reproduce.py: {len(todo)} runs, {wall:.0f} s wall time "
          f"(--jobs {opts.jobs})", file=sys.stderr)
    rows = summarize(results)
    print(render_markdown(rows))
    print()
    print(render_kernels(results))
    if opts.commands:
        print()
        print(render_commands(opts.gem5, opts.outdir, binary, todo))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(
                {
                    "rows": [
                        {"table": r.table, "row": r.name, "paper": r.paper,
                         "ours": r.ours, "ratio": r.ratio, "source": r.source,
                         "held": r.held}
                        for r in rows
                    ],
                    "raw": results,
                    "wall_seconds": wall,
                },
                f,
                indent=2,
            )
    return 0 if not failed and all(r.ok for r in rows if r.held) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
