"""Run nemo-bench in gem5 syscall-emulation mode on a Sapphire-Rapids-like machine.

    gem5.opt [-d OUTDIR] gem5/configs/run_nemo_bench.py --binary PATH \\
        [--cores N] [--cpu-type o3|timing|atomic] [--max-sim-seconds S] \\
        [--env KEY=VALUE ...] -- [nemo-bench args]

gem5 writes its statistics to OUTDIR/stats.txt (default m5out/). The exit
status is nemo-bench's own, 2 for a bad command line, and 124 when
--max-sim-seconds ran out first. See gem5/README.md.
"""

import sys
from typing import Optional, Sequence, Tuple

from nemo_args import TICKS_PER_SECOND, UsageError, parse_args
from sapphire_rapids import SAPPHIRE_RAPIDS

EXIT_USAGE = 2
EXIT_TIME_LIMIT = 124  # as timeout(1) does
EXIT_UNEXPECTED = 1

# gem5's exit-event causes (gem5/simulate/exit_event.py).
CAUSE_PROCESS_EXITED = "exiting with last active thread context"
CAUSE_TICK_LIMIT = "simulate() limit reached"


def exit_status(cause: str, code: int) -> Tuple[int, Optional[str]]:
    """The script's exit status for gem5's last exit event, and why if not clean."""
    if cause == CAUSE_PROCESS_EXITED:
        return code, None
    if cause == CAUSE_TICK_LIMIT:
        return (
            EXIT_TIME_LIMIT,
            "the --max-sim-seconds limit was reached before nemo-bench exited",
        )
    return EXIT_UNEXPECTED, f"simulation stopped unexpectedly: {cause} (code {code})"


def main(argv: Sequence[str]) -> int:
    try:
        config = parse_args(argv)
    except UsageError as e:
        print(f"run_nemo_bench.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    for warning in config.warnings:
        print(f"run_nemo_bench.py: warning: {warning}", file=sys.stderr)

    # Imported here so that the argument handling above runs, and can be
    # tested, without gem5.
    import m5
    from gem5.simulate.simulator import Simulator

    from spr_board import build_board

    board = build_board(config, SAPPHIRE_RAPIDS)
    if config.max_ticks is None:
        simulator = Simulator(board=board)
    else:
        simulator = Simulator(board=board, max_ticks=config.max_ticks)
    simulator.run()

    status, problem = exit_status(
        simulator.get_last_exit_event_cause(),
        simulator.get_last_exit_event_code(),
    )
    seconds = simulator.get_current_tick() / TICKS_PER_SECOND
    if problem is not None:
        print(f"run_nemo_bench.py: {problem}", file=sys.stderr)
    print(
        f"run_nemo_bench.py: {config.cores} {config.cpu_type} cores, "
        f"{seconds:.9f} simulated seconds, exit status {status}; "
        f"statistics in {m5.options.outdir}/stats.txt",
        file=sys.stderr,
    )
    return status


if __name__ == "__m5_main__":
    sys.exit(main(sys.argv[1:]))
