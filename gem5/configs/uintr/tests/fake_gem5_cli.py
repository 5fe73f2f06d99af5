#!/usr/bin/env python3
"""A stand-in for `gem5.opt ... run_uintr.py ...` that simulates nothing.

It takes the command line calibrate.py, predict.py and steps.py build
(`-d OUTDIR run_uintr.py [--strategy S] [--param NAME=V]... [--rob N]
--binary B --cores N -- PROGRAM ARGS`), checks it with run_uintr.py's own
parser, and prints the RESULT lines uintr_micro would, with numbers that
are a fixed linear function of the parameters (each Table 2 row: its
parameter plus a constant; end-to-end also contains the notification
processing). The tests use it to run the scripts' whole flow without gem5;
its numbers mean nothing.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))

from run_uintr import split_uintr_args  # noqa: E402
from uintr_params import PARAMETERS  # noqa: E402


def main(argv):
    if len(argv) < 3 or argv[0] != "-d" or not argv[2].endswith("run_uintr.py"):
        print("fake gem5: expected -d OUTDIR .../run_uintr.py ...", file=sys.stderr)
        return 1
    os.makedirs(argv[1], exist_ok=True)
    opts, rest = split_uintr_args(argv[3:])
    p = dict(PARAMETERS.__dict__, **opts.overrides())
    prog = rest[rest.index("--") + 1:]
    test = prog[0]
    if test == "ops":
        print(f"RESULT test=ops iterations={prog[1]} empty_loop=3.00 "
              f"clui={p['clui_port_latency'] * 0.95:.2f} stui={p['stui'] + 14:.2f} "
              f"testui=1.00 senduipi={p['senduipi'] + 10:.2f} delivered=0")
    elif test == "e2e":
        e2e = p["ipi"] + p["notification_processing"] + 40
        print(f"RESULT test=e2e events=39 end_to_end={e2e:.1f} send_to_last={p['ipi']:.1f} "
              f"last_to_handler={p['notification_processing'] + 40:.1f} exit_to_resume=12.0")
    elif test == "overhead":
        per = {"flush": p["notification_processing"] + 75, "tracked": 200.0}[opts.strategy]
        if prog[2] == "kbtimer":
            per = 90.0
        intervals, reps = prog[3].split(","), prog[4].split(",")
        if len(intervals) != len(reps):
            print("fake gem5: overhead needs as many reps as intervals", file=sys.stderr)
            return 1
        for interval, n in zip(intervals, reps):
            print(f"RESULT test=overhead kernel={prog[1]} source={prog[2]} "
                  f"interval={interval} reps={n} base_cycles=1000000 "
                  f"cycles={1000000 + 100 * per:.0f} events=100 "
                  f"slowdown_pct={per / 100:.3f} cycles_per_event={per:.1f}")
    elif test == "chase":
        grow = {"drain": int(prog[1]) // 4096, "tracked": 100 * int(prog[2])}
        e2e = 1400 + grow.get(opts.strategy, 0)
        print(f"RESULT test=chase bytes={prog[1]} nodes=1 rsp_every={prog[2]} events=11 "
              f"loads=1000 end_to_end={e2e:.1f} min_end_to_end={e2e - 50} "
              f"max_end_to_end={e2e + 50}")
    else:
        print(f"fake gem5: unknown program {test}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
