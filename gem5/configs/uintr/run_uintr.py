"""Run a static program in gem5 SE mode on the Sapphire-Rapids-like machine
with the UINTR model: user interrupts (UIPI) and xUI's tracked interrupts
and KB timer.

    gem5.opt [-d OUTDIR] gem5/configs/uintr/run_uintr.py \\
        [--strategy flush|drain|tracked] [--no-kbtimer] \\
        --binary PATH [--cores N] [--cpu-type o3|timing|atomic] \\
        [--max-sim-seconds S] [--env KEY=VALUE ...] -- [program args]

The program is uintr_micro/uintr_selftest (gem5/uintr/bench) or nemo-bench
with its uintr mechanisms. The board, core and caches are those of
run_nemo_bench.py (gem5/configs); this script adds the model
(uintr_system.attach_uintr). Exit status as run_nemo_bench.py.
"""

import os
import sys
from typing import List, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.dirname(HERE)
for path in (HERE, CONFIGS):
    if path not in sys.path:
        sys.path.insert(0, path)

from nemo_args import TICKS_PER_SECOND, UsageError, parse_args  # noqa: E402
from run_nemo_bench import EXIT_USAGE, exit_status  # noqa: E402
from sapphire_rapids import SAPPHIRE_RAPIDS  # noqa: E402
from uintr_params import STRATEGIES  # noqa: E402


def split_uintr_args(argv: Sequence[str]) -> Tuple[str, bool, List[str]]:
    """Take --strategy, --no-kbtimer and --no-waitpkg out of the script's
    own arguments (those before `--`); the rest is run_nemo_bench.py's
    command line. --no-waitpkg stays in the returned list's head as a flag
    for `waitpkg_requested`."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    ours, rest = argv[:end], argv[end:]
    strategy, kbtimer, kept = "flush", True, []
    i = 0
    while i < len(ours):
        arg = ours[i]
        if arg == "--strategy" or arg.startswith("--strategy="):
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif i + 1 < len(ours):
                i += 1
                value = ours[i]
            else:
                raise UsageError("--strategy needs a value")
            if value not in STRATEGIES:
                raise UsageError(
                    f"--strategy {value}: one of {', '.join(STRATEGIES)}"
                )
            strategy = value
        elif arg == "--no-kbtimer":
            kbtimer = False
        elif arg == "--no-waitpkg":
            pass
        else:
            kept.append(arg)
        i += 1
    return strategy, kbtimer, kept + rest


def waitpkg_requested(argv: Sequence[str]) -> bool:
    """Whether CPUID reports WAITPKG: yes unless `--no-waitpkg` comes
    before `--` (without it nemo-user's wait ladder has no `umwait` rung)."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    return "--no-waitpkg" not in argv[:end]


def main(argv: Sequence[str]) -> int:
    try:
        waitpkg = waitpkg_requested(argv)
        strategy, kbtimer, rest = split_uintr_args(argv)
        config = parse_args(rest)
    except UsageError as e:
        print(f"run_uintr.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    for warning in config.warnings:
        print(f"run_uintr.py: warning: {warning}", file=sys.stderr)

    import m5
    from gem5.simulate.simulator import Simulator

    from spr_board import build_board
    from uintr_system import attach_uintr

    board = build_board(config, SAPPHIRE_RAPIDS)
    attach_uintr(
        board,
        strategy=strategy,
        kbtimer=kbtimer,
        waitpkg=waitpkg,
        binary=config.binary,
    )
    if config.max_ticks is None:
        simulator = Simulator(board=board)
    else:
        simulator = Simulator(board=board, max_ticks=config.max_ticks)
    simulator.run()

    status, problem = exit_status(
        simulator.get_last_exit_event_cause(),
        simulator.get_last_exit_event_code(),
    )
    if problem is not None:
        print(f"run_uintr.py: {problem}", file=sys.stderr)
    seconds = simulator.get_current_tick() / TICKS_PER_SECOND
    print(
        f"run_uintr.py: {config.cores} {config.cpu_type} cores, UINTR "
        f"{strategy}{'' if waitpkg else ', no WAITPKG'}, {seconds:.9f} simulated seconds, exit status {status}; "
        f"statistics in {m5.options.outdir}/stats.txt",
        file=sys.stderr,
    )
    return status


if __name__ == "__m5_main__":
    sys.exit(main(sys.argv[1:]))
