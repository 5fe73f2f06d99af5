#!/usr/bin/env python3
"""nemo-bench's broadcast on the simulated Sapphire-Rapids-like socket.

    python3 gem5/configs/uintr/broadcast_matrix.py --gem5 GEM5_OPT \\
        --binary STATIC_NEMO_BENCH [--jobs 2] [--outdir m5out/bcast] \\
        [--waiters 15 ...] [--only NAME ...] [--dry-run] [--json out.json]
    python3 gem5/configs/uintr/broadcast_matrix.py --collect [--outdir ...] \\
        [--waiters 15 ...] [--only NAME ...] [--json out.json]

Runs, with 3, 7 and 15 waiters (and 1, the single-waiter baseline), one
gem5 run per row group on N+1 cores of `run_uintr.py`:

* `broadcast` for `spin`, `nemo_condvar` and `nemo_event` with WAITPKG (the
  default wait policy spins 20 us, then `umwait`s up to 100 us: the short
  gap, 2 us, measures the spin rung, the long gap, 100 us, the umwait
  rung) and, for the two nemo mechanisms, again without WAITPKG (the long
  gap then parks on a futex: kernel involved);
* `broadcast` for `uintr` (one sender, N `senduipi`s), flush and tracked;
* `am` (broadcast to N targets) for `am_poll`, `uintr` and `am_uintr`,
  flush, and `uintr`, `am_uintr` tracked.

Then it prints the results table (cycles at 2 GHz: first and last waiter
p50 and the p50 of the per-broadcast sigma of wake times) with every row
that involves the kernel labelled a lower bound, and the issue's targets.

Event counts and host time. Each run gets `--iters ITERS` events per
regime (plus nemo-bench's warm-up, a tenth). RESULTS.md's O3 unicast run
simulated 0.136894 s of 2 busy cores in 858.7 s of host time: 3136 host
seconds per simulated core-second. A run's estimate is that rate times its
simulated cores (all assumed busy: spinning waiters and the signaller's
spun gap are) times its simulated time, (ITERS + warm-up) x (short gap +
long gap + 2 x 10 us for each broadcast's wake-ups) per mechanism. With
ITERS = 200, a 15-waiter broadcast run is estimated at ~23 min; each run is
also bounded by --max-sim-seconds so that it stops (exit 124) at 60 min of
host time by the same rate. The estimates are printed with --dry-run; the
measured host time of each run (gem5's hostSeconds) goes into the table.

The planning and table code imports nothing from gem5 (tests/).
"""

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))

WAITERS = (3, 7, 15)
# The single-waiter wake the 15-waiter broadcast is held against.
BASELINE_WAITERS = 1
ITERS = 200

# RESULTS.md, stock gem5 section: hostSeconds 858.7 for simSeconds 0.136894
# on 2 O3 cores, both busy for the whole run.
HOST_SECONDS_PER_CORE_SIM_SECOND = 858.7 / 0.136894 / 2
HOST_BUDGET_S = 3600.0
# nemo-bench --sim's gaps (plan.rs: DEFAULT_SHORT_GAP, SIM_LONG_GAP).
SHORT_GAP_S = 2e-6
LONG_GAP_S = 100e-6
# Per broadcast and regime, the wake-ups themselves: generous for 15
# senduipis (15 x ~400 cycles = 3 us) and their deliveries.
WAKE_S = 10e-6

LOWER_BOUND = "lower bound (SE mode charges no syscall time)"
KERNEL_MECHANISMS = ("futex", "pthread_cond")
NEMO_LADDER = ("nemo_condvar", "nemo_event")


@dataclass(frozen=True)
class Run:
    """One gem5 run of nemo-bench."""

    name: str
    scenario: str
    waiters: int
    mechanisms: Tuple[str, ...]
    strategy: str = "flush"
    waitpkg: bool = True
    iters: int = ITERS

    @property
    def cores(self) -> int:
        # SE mode: one thread per core; the signaller is nemo-bench's main.
        return self.waiters + 1

    def warmup(self) -> int:
        # nemo-bench's default_warmup.
        return min(max(self.iters // 10, 1), 200)

    def simulated_seconds(self) -> float:
        events = self.iters + self.warmup()
        if self.scenario == "broadcast":
            per_event = SHORT_GAP_S + LONG_GAP_S + 2 * WAKE_S
        else:
            # am: unicast and broadcast at the short gap, and a stream to
            # one target of at most one short gap per message.
            per_event = 3 * (SHORT_GAP_S + WAKE_S)
        return len(self.mechanisms) * events * per_event

    def host_seconds_estimate(self) -> float:
        return (self.cores * HOST_SECONDS_PER_CORE_SIM_SECOND
                * self.simulated_seconds())

    def max_sim_seconds(self) -> float:
        """The bound that ends the run at HOST_BUDGET_S by the same rate."""
        return HOST_BUDGET_S / (self.cores * HOST_SECONDS_PER_CORE_SIM_SECOND)

    def nemo_args(self, json_path: str) -> List[str]:
        return ["--sim", self.scenario, "--waiters", str(self.waiters),
                "--mechanisms", ",".join(self.mechanisms),
                "--iters", str(self.iters), "--json", json_path]


def matrix(waiters: Sequence[int] = (BASELINE_WAITERS,) + WAITERS,
           iters: int = ITERS) -> List[Run]:
    runs = []
    for n in waiters:
        def add(name, scenario, mechs, **kw):
            runs.append(Run(f"{name}-w{n}", scenario, n, tuple(mechs),
                            iters=iters, **kw))

        for m in ("spin",) + NEMO_LADDER:
            add(f"bcast-{m}", "broadcast", [m])
        for m in NEMO_LADDER:
            add(f"bcast-{m}-nowaitpkg", "broadcast", [m], waitpkg=False)
        for strategy in ("flush", "tracked"):
            add(f"bcast-uintr-{strategy}", "broadcast", ["uintr"],
                strategy=strategy)
        if n > 1:
            add("am-flush", "am", ["am_poll", "uintr", "am_uintr"])
            add("am-tracked", "am", ["uintr", "am_uintr"], strategy="tracked")
    return runs


def rung(run: Run, mechanism: str, regime: str) -> str:
    """What a row measures: the strategy of an interrupt row, the rung of
    the wait ladder of a nemo row."""
    if mechanism in ("uintr", "am_uintr"):
        return run.strategy
    if mechanism not in NEMO_LADDER:
        return "-"
    if regime == "short-gap":
        return "spin" if run.waitpkg else "spin (no WAITPKG)"
    return "umwait" if run.waitpkg else "park (futex)"


def involves_kernel(run: Run, mechanism: str, regime: str,
                    umwait_woke: Optional[bool] = None) -> bool:
    """Whether a row's waiters (or its notify) go through a system call.

    A nemo row's long gap parks without WAITPKG; with it, the row is the
    umwait rung only if the run's UMWAITs were ended by writes
    (`umwait_woke`, from the model's statistics): if none were, the
    waiters went past the rung and parked.
    """
    if mechanism in KERNEL_MECHANISMS:
        return True
    if mechanism in NEMO_LADDER and regime == "long-gap":
        return not run.waitpkg or umwait_woke is False
    return False


def gem5_command(gem5: str, outdir: str, binary: str, run: Run) -> List[str]:
    out = os.path.join(outdir, run.name)
    cmd = [gem5, "-d", out,
           os.path.join(os.path.relpath(HERE, REPO), "run_uintr.py"),
           "--strategy", run.strategy]
    if not run.waitpkg:
        cmd.append("--no-waitpkg")
    cmd += ["--binary", binary, "--cores", str(run.cores),
            "--max-sim-seconds", f"{run.max_sim_seconds():.6f}", "--"]
    return cmd + run.nemo_args(os.path.join(out, "nemo-bench.json"))


def parse_stats(text: str) -> Dict[str, float]:
    """The scalar lines of a gem5 stats.txt (first dump)."""
    stats = {}
    for line in text.splitlines():
        if line.startswith("---------- End"):
            break
        m = re.match(r"^(\S+)\s+(-?[0-9.]+(?:e[+-]?\d+)?)\s", line + " ")
        if m:
            stats[m.group(1)] = float(m.group(2))
    return stats


def umwait_woke(stats: Dict[str, float]) -> Optional[bool]:
    """Whether some UMWAIT was ended by a write; None without the model."""
    if "board.uintr.umwaits" not in stats:
        return None
    return stats.get("board.uintr.monitorWakes::write", 0) > 0


@dataclass(frozen=True)
class Row:
    waiters: int
    scenario: str
    mechanism: str
    rung: str
    regime: str
    first: Optional[float]
    last: Optional[float]
    sigma: Optional[float]
    n: Optional[int]
    kernel: bool
    note: str
    run: str


def rows_of(run: Run, doc: dict, stats: Dict[str, float]) -> List[Row]:
    """Table rows from a run's nemo-bench JSON and gem5 statistics."""
    woke = umwait_woke(stats)
    out = []
    for r in doc.get("results", []):
        regime = r.get("regime", "")
        if run.scenario == "am" and regime != "broadcast":
            continue
        mech = r.get("mechanism", "")
        kernel = involves_kernel(run, mech, regime, woke)
        note = r.get("skipped") or r.get("error") or (
            LOWER_BOUND if kernel else "measured")
        out.append(Row(run.waiters, run.scenario, mech, rung(run, mech, regime),
                       regime, r.get("first_p50"), r.get("last_p50"),
                       r.get("sigma_p50"), r.get("n"), kernel, note, run.name))
    return out


def _cell(v) -> str:
    return "n/a" if v is None else f"{v:g}"


def render_rows(rows: Sequence[Row]) -> str:
    lines = ["| waiters | scenario | mechanism | rung / strategy | regime | "
             "first p50 | last p50 | sigma p50 | n | label | run |",
             "|---:|---|---|---|---|---:|---:|---:|---:|---|---|"]
    for r in sorted(rows, key=lambda r: (r.scenario, r.mechanism, r.rung,
                                          r.regime, r.waiters)):
        lines.append(f"| {r.waiters} | {r.scenario} | `{r.mechanism}` | "
                     f"{r.rung} | {r.regime} | {_cell(r.first)} | "
                     f"{_cell(r.last)} | {_cell(r.sigma)} | {_cell(r.n)} | "
                     f"{r.note} | {r.run} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Target:
    name: str
    value: Optional[float]
    bound: float

    @property
    def met(self) -> Optional[bool]:
        return None if self.value is None else self.value <= self.bound


def targets(rows: Sequence[Row], n: int = 15) -> List[Target]:
    """The broadcast targets at `n` waiters, as ratios against their bounds."""

    def find(waiters, scenario, mech, rung_, regime, key):
        for r in rows:
            if (r.waiters, r.scenario, r.mechanism, r.rung, r.regime) == (
                    waiters, scenario, mech, rung_, regime):
                return getattr(r, key)
        return None

    def ratio(a, b):
        return None if a is None or b in (None, 0) else a / b

    out = []
    for rung_, regime in (("spin", "short-gap"), ("umwait", "long-gap")):
        last_n = find(n, "broadcast", "nemo_condvar", rung_, regime, "last")
        last_1 = find(BASELINE_WAITERS, "broadcast", "nemo_condvar", rung_,
                      regime, "last")
        out.append(Target(f"nemo_condvar {rung_} rung: last waiter at {n} / "
                          f"at 1 waiter", ratio(last_n, last_1), 3.0))
        sigma = find(n, "broadcast", "nemo_condvar", rung_, regime, "sigma")
        for strategy in ("flush", "tracked"):
            ref = find(n, "broadcast", "uintr", strategy, "short-gap", "sigma")
            out.append(Target(f"nemo_condvar {rung_} rung sigma / uintr "
                              f"{strategy} fan-out sigma ({n} waiters)",
                              ratio(sigma, ref), 0.5))
    for strategy in ("flush", "tracked"):
        am = find(n, "am", "am_uintr", strategy, "broadcast", "last")
        raw = find(n, "am", "uintr", strategy, "broadcast", "last")
        out.append(Target(f"am_uintr / uintr broadcast, last waiter "
                          f"({strategy}, {n} targets)", ratio(am, raw), 1.10))
    return out


def render_targets(ts: Sequence[Target]) -> str:
    lines = ["| target | ratio | bound | met |", "|---|---:|---:|:---:|"]
    for t in ts:
        value = "n/a" if t.value is None else f"{t.value:.2f}"
        met = "n/a" if t.met is None else ("yes" if t.met else "no")
        lines.append(f"| {t.name} | {value} | ≤ {t.bound:g} | {met} |")
    return "\n".join(lines)


def read_outputs(out: str) -> Tuple[dict, Dict[str, float]]:
    """A run directory's nemo-bench JSON and gem5 statistics (empty where missing)."""
    doc, stats = {}, {}
    try:
        with open(os.path.join(out, "nemo-bench.json")) as f:
            doc = json.load(f)
        with open(os.path.join(out, "stats.txt")) as f:
            stats = parse_stats(f.read())
    except (OSError, ValueError):
        pass
    return doc, stats


def run_one(gem5: str, outdir: str, binary: str, run: Run):
    cmd = gem5_command(gem5, outdir, binary, run)
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    wall = time.monotonic() - started
    out = os.path.join(REPO, outdir, run.name)
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "run.log"), "w") as f:
        f.write(shlex.join(cmd) + "\n" + proc.stdout + proc.stderr)
    doc, stats = read_outputs(out)
    return run, proc.returncode, wall, doc, stats


def collect(outdir: str, runs: Sequence[Run]) -> Tuple[List[Row], List[dict]]:
    """Rows and a record from runs that have already finished in `outdir`
    (their nemo-bench.json and stats.txt), without running anything: for
    runs started one group at a time. A run with no JSON is recorded as
    not run (no rows)."""
    rows: List[Row] = []
    record = []
    for run in runs:
        doc, stats = read_outputs(os.path.join(outdir, run.name))
        if not doc:
            record.append({"run": run.name, "status": "not run"})
            continue
        rows += rows_of(run, doc, stats)
        iters = doc.get("results", [{}])[0].get("broadcasts") if run.scenario == "broadcast" else None
        record.append({"run": run.name, "status": 0,
                       "host_seconds": stats.get("hostSeconds"),
                       "sim_seconds": stats.get("simSeconds"),
                       "broadcasts": iters})
    return rows, record


def main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gem5", help="gem5.opt with the UINTR model")
    p.add_argument("--binary", help="the static nemo-bench")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--outdir", default="m5out/bcast")
    p.add_argument("--iters", type=int, default=ITERS)
    p.add_argument("--waiters", type=int, action="append", default=[])
    p.add_argument("--only", action="append", default=[])
    p.add_argument("--json", default=None)
    p.add_argument("--dry-run", action="store_true",
                   help="print the runs, their commands and estimates only")
    p.add_argument("--collect", action="store_true",
                   help="run nothing: the tables from the runs already in --outdir")
    opts = p.parse_args(argv)

    waiters = opts.waiters or (BASELINE_WAITERS,) + WAITERS
    todo = [r for r in matrix(waiters, opts.iters)
            if not opts.only or r.name in opts.only]
    gem5 = opts.gem5 or "GEM5"
    binary = opts.binary or "NEMO_BENCH"
    if opts.dry_run:
        total = 0.0
        for r in todo:
            est = r.host_seconds_estimate()
            total += est
            print(f"{r.name}: {r.cores} cores, ~{r.simulated_seconds() * 1e3:.1f} ms "
                  f"simulated, ~{est / 60:.1f} min host (bound "
                  f"{r.max_sim_seconds() * 1e3:.1f} ms)\n  "
                  + shlex.join(gem5_command(gem5, opts.outdir, binary, r)))
        print(f"{len(todo)} runs, ~{total / 3600:.1f} h host time one at a time")
        return 0
    if opts.collect:
        rows, record = collect(os.path.join(REPO, opts.outdir), todo)
        for r in record:
            print(f"{r['run']}: {r['status'] if r['status'] == 'not run' else 'ok'}"
                  f"{'' if r['status'] == 'not run' else ', hostSeconds ' + str(r['host_seconds'])}",
                  file=sys.stderr)
        print(render_rows(rows))
        print()
        print(render_targets(targets(rows)))
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"runs": record, "rows": [r.__dict__ for r in rows]},
                          f, indent=2)
        return 0
    if not opts.gem5 or not opts.binary:
        p.error("--gem5 and --binary are required (or --dry-run)")

    rows: List[Row] = []
    record = []
    failed = False
    with ThreadPoolExecutor(max_workers=max(1, opts.jobs)) as pool:
        for run, rc, wall, doc, stats in pool.map(
                lambda r: run_one(opts.gem5, opts.outdir, opts.binary, r), todo):
            ok = rc == 0 and bool(doc)
            failed |= not ok
            host = stats.get("hostSeconds")
            print(f"{run.name}: {'ok' if ok else f'FAILED (status {rc})'}, "
                  f"{wall:.0f} s wall, hostSeconds {host}", file=sys.stderr)
            rows += rows_of(run, doc, stats)
            record.append({"run": run.name, "status": rc, "wall_s": wall,
                           "host_seconds": host,
                           "sim_seconds": stats.get("simSeconds"),
                           "estimate_s": run.host_seconds_estimate(),
                           "command": gem5_command(opts.gem5, opts.outdir,
                                                   opts.binary, run)})
    print(render_rows(rows))
    print()
    print(render_targets(targets(rows)))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"runs": record,
                       "rows": [r.__dict__ for r in rows]}, f, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
