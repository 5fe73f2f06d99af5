"""Run a static program in gem5 SE mode on the Sapphire-Rapids-like machine
with the UINTR model: user interrupts (UIPI) and xUI's tracked interrupts
and KB timer.

    gem5.opt [-d OUTDIR] gem5/configs/uintr/run_uintr.py \\
        [--strategy flush|drain|tracked] [--no-kbtimer] [--no-waitpkg] \\
        [--param NAME=VALUE ...] [--rob N] \\
        --binary PATH [--cores N] [--cpu-type o3|timing|atomic] \\
        [--max-sim-seconds S] [--env KEY=VALUE ...] -- [program args]

The program is uintr_micro/uintr_selftest (gem5/uintr/bench) or nemo-bench
with its uintr mechanisms. The board, core and caches are those of
run_nemo_bench.py (gem5/configs); this script adds the model
(uintr_system.attach_uintr). Exit status as run_nemo_bench.py.

--param overrides one model parameter of calibration.json for this run
(calibrate.py's fit, predict.py's sensitivity runs); --rob sets the O3
core's reorder buffer. --no-waitpkg clears CPUID's WAITPKG bit.
"""

from dataclasses import dataclass, replace
from dataclasses import fields as dataclasses_fields
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = os.path.dirname(HERE)
for path in (HERE, CONFIGS):
    if path not in sys.path:
        sys.path.insert(0, path)

from nemo_args import TICKS_PER_SECOND, UsageError, parse_args  # noqa: E402
from run_nemo_bench import EXIT_USAGE, exit_status  # noqa: E402
from sapphire_rapids import SAPPHIRE_RAPIDS  # noqa: E402
from uintr_params import PARAMETERS, STRATEGIES  # noqa: E402


@dataclass(frozen=True)
class UintrOptions:
    """run_uintr.py's own options (those before `--`)."""

    strategy: str = "flush"
    kbtimer: bool = True
    waitpkg: bool = True
    params: Tuple[Tuple[str, int], ...] = ()
    rob: Optional[int] = None

    def overrides(self) -> Dict[str, int]:
        return dict(self.params)


def split_uintr_args(argv: Sequence[str]) -> Tuple[UintrOptions, List[str]]:
    """Take this script's own options out of the arguments before `--`; the
    rest is run_nemo_bench.py's command line."""
    argv = list(argv)
    end = argv.index("--") if "--" in argv else len(argv)
    ours, rest = argv[:end], argv[end:]
    strategy, kbtimer, waitpkg, params, rob = "flush", True, True, [], None
    kept = []
    fields = {f.name for f in dataclasses_fields(PARAMETERS)}
    i = 0

    def value(name):
        nonlocal i
        arg = ours[i]
        if "=" in arg and arg.startswith(name + "="):
            return arg.split("=", 1)[1]
        if i + 1 < len(ours):
            i += 1
            return ours[i]
        raise UsageError(f"{name} needs a value")

    while i < len(ours):
        arg = ours[i]
        name = arg.split("=", 1)[0]
        if name == "--strategy":
            strategy = value(name)
            if strategy not in STRATEGIES:
                raise UsageError(
                    f"--strategy {strategy}: one of {', '.join(STRATEGIES)}"
                )
        elif arg == "--no-kbtimer":
            kbtimer = False
        elif arg == "--no-waitpkg":
            waitpkg = False
        elif name == "--param":
            setting = value(name)
            key, _, number = setting.partition("=")
            if key not in fields or not number.isdigit():
                raise UsageError(
                    f"--param {setting}: NAME=CYCLES with NAME one of "
                    f"{', '.join(sorted(fields))}"
                )
            params.append((key, int(number)))
        elif name == "--rob":
            number = value(name)
            if not number.isdigit() or int(number) < 1:
                raise UsageError(f"--rob {number}: a positive number of entries")
            rob = int(number)
        else:
            kept.append(arg)
        i += 1
    return UintrOptions(strategy, kbtimer, waitpkg, tuple(params), rob), kept + rest


def main(argv: Sequence[str]) -> int:
    try:
        uopts, rest = split_uintr_args(argv)
        config = parse_args(rest)
        latencies = replace(PARAMETERS, **uopts.overrides())
    except UsageError as e:
        print(f"run_uintr.py: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    for warning in config.warnings:
        print(f"run_uintr.py: warning: {warning}", file=sys.stderr)

    import m5
    from gem5.simulate.simulator import Simulator

    from spr_board import build_board
    from uintr_system import attach_uintr

    machine = SAPPHIRE_RAPIDS
    if uopts.rob is not None:
        machine = replace(machine, core=replace(machine.core, rob_entries=uopts.rob))
    board = build_board(config, machine)
    attach_uintr(
        board,
        strategy=uopts.strategy,
        latencies=latencies,
        kbtimer=uopts.kbtimer,
        waitpkg=uopts.waitpkg,
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
        f"{uopts.strategy}{'' if uopts.waitpkg else ', no WAITPKG'}, {seconds:.9f} simulated seconds, exit status {status}; "
        f"statistics in {m5.options.outdir}/stats.txt",
        file=sys.stderr,
    )
    return status


if __name__ == "__m5_main__":
    sys.exit(main(sys.argv[1:]))
