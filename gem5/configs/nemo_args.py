"""Command line of `run_nemo_bench.py`, parsed without gem5.

    gem5.opt [gem5 options] gem5/configs/run_nemo_bench.py \\
        --binary PATH [--cores N] [--cpu-type o3|timing|atomic] \\
        [--max-sim-seconds S] [--env KEY=VALUE ...] -- [nemo-bench args]

Everything after the first `--` goes to nemo-bench untouched. Errors are
raised as `UsageError` with a message meant for the person at the terminal;
nothing here exits the process, so the whole module is testable.
"""

import argparse
import math
import os
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from sapphire_rapids import SAPPHIRE_RAPIDS
from static_elf import ET_EXEC, NotAnElfError, read_elf_summary

CPU_TYPES = ("o3", "timing", "atomic")
DEFAULT_CORES = 2
# gem5's global tick rate unless a script changes it: one tick per picosecond.
TICKS_PER_SECOND = 10**12

STATIC_BUILD_HINT = (
    'build it with RUSTFLAGS="-C target-feature=+crt-static '
    '-C relocation-model=static" cargo build --release -p nemo-bench '
    "--target x86_64-unknown-linux-gnu"
)


class UsageError(Exception):
    """A bad command line or an unusable binary; the message says which."""


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, checked."""

    binary: str
    cores: int
    cpu_type: str
    nemo_args: Tuple[str, ...]
    env: Tuple[str, ...]
    max_ticks: Optional[int]
    warnings: Tuple[str, ...]


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage and exiting."""

    def error(self, message):
        if message.startswith("unrecognized arguments"):
            message += " (nemo-bench's arguments go after `--`)"
        raise UsageError(message)


def _parser(max_cores: int) -> argparse.ArgumentParser:
    p = _Parser(
        prog="run_nemo_bench.py",
        description=(
            "Run a static nemo-bench binary in gem5 syscall-emulation mode on "
            "a Sapphire-Rapids-like machine. Arguments after `--` go to "
            "nemo-bench."
        ),
    )
    p.add_argument(
        "--binary",
        required=True,
        help="static x86-64 nemo-bench executable (" + STATIC_BUILD_HINT + ")",
    )
    p.add_argument(
        "--cores",
        type=int,
        default=DEFAULT_CORES,
        help=(
            f"simulated cores, 1..{max_cores} (default {DEFAULT_CORES}); SE "
            "mode runs one thread per core, so 1 signaller + W waiters need "
            "W+1 cores"
        ),
    )
    p.add_argument(
        "--cpu-type",
        choices=CPU_TYPES,
        default="o3",
        help=(
            "o3: the Sapphire-Rapids-like out-of-order core (default); timing "
            "and atomic: simple in-order cores, much faster to simulate, for "
            "functional checks"
        ),
    )
    p.add_argument(
        "--max-sim-seconds",
        type=float,
        default=None,
        help="stop after this much simulated time (default: run to the end)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="environment variable for nemo-bench (repeatable)",
    )
    return p


def split_at_double_dash(argv: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Split at the first `--`: (our arguments, nemo-bench's arguments)."""
    argv = list(argv)
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def requested_waiters(nemo_args: Sequence[str]) -> Optional[int]:
    """The `--waiters` value given to nemo-bench, if any and if numeric."""
    value = None
    for i, arg in enumerate(nemo_args):
        if arg == "--waiters" and i + 1 < len(nemo_args):
            value = nemo_args[i + 1]
        elif arg.startswith("--waiters="):
            value = arg.split("=", 1)[1]
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        # Not ours to judge: nemo-bench reports its own bad arguments.
        return None


def check_binary(path: str) -> List[str]:
    """Refuse what gem5 SE mode cannot run; return warnings for what is risky."""
    if not os.path.exists(path):
        raise UsageError(f"--binary {path}: no such file")
    if not os.path.isfile(path):
        raise UsageError(f"--binary {path}: not a regular file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"--binary {path}: not readable")
    try:
        elf = read_elf_summary(path)
    except NotAnElfError as e:
        raise UsageError(f"--binary {path}: {e}") from None
    except OSError as e:
        raise UsageError(f"--binary {path}: {e.strerror}") from None
    if not elf.is_x86_64:
        raise UsageError(
            f"--binary {path}: not an x86-64 executable (machine {elf.machine}, "
            f"{'64' if elf.is_64bit else '32'}-bit); the simulated core is x86-64"
        )
    if not elf.is_static:
        raise UsageError(
            f"--binary {path}: dynamically linked (interpreter "
            f"{elf.interpreter}); gem5 SE mode needs a static binary: "
            + STATIC_BUILD_HINT
        )
    warnings = []
    if elf.is_pie:
        warnings.append(
            f"{path} is a static-PIE executable: gem5 v24 maps it at virtual "
            "address 0 (the null page becomes valid memory); " + STATIC_BUILD_HINT
        )
    elif elf.elf_type != ET_EXEC:
        raise UsageError(
            f"--binary {path}: ELF type {elf.elf_type} is not an executable"
        )
    if not os.access(path, os.X_OK):
        # gem5 loads the file itself, so this is only a hint of a mix-up.
        warnings.append(f"{path} is not marked executable")
    return warnings


def parse_args(
    argv: Sequence[str], max_cores: int = SAPPHIRE_RAPIDS.max_cores
) -> RunConfig:
    """Parse and check the script's arguments (without the program name)."""
    ours, nemo_args = split_at_double_dash(argv)
    opts = _parser(max_cores).parse_args(ours)

    if not 1 <= opts.cores <= max_cores:
        raise UsageError(f"--cores {opts.cores}: must be between 1 and {max_cores}")
    waiters = requested_waiters(nemo_args)
    if waiters is not None and waiters + 1 > opts.cores:
        raise UsageError(
            f"nemo-bench --waiters {waiters} needs {waiters + 1} threads "
            f"(1 signaller + {waiters} waiters) but --cores is {opts.cores}: "
            "SE mode has no scheduler and runs one thread per simulated core"
        )

    max_ticks = None
    if opts.max_sim_seconds is not None:
        s = opts.max_sim_seconds
        if not (math.isfinite(s) and s > 0):
            raise UsageError(f"--max-sim-seconds {s}: must be a positive number")
        max_ticks = max(1, round(s * TICKS_PER_SECOND))

    for entry in opts.env:
        if "=" not in entry or entry.startswith("="):
            raise UsageError(f"--env {entry!r}: expected KEY=VALUE")

    warnings = check_binary(opts.binary)
    return RunConfig(
        binary=os.path.abspath(opts.binary),
        cores=opts.cores,
        cpu_type=opts.cpu_type,
        nemo_args=tuple(nemo_args),
        env=tuple(opts.env),
        max_ticks=max_ticks,
        warnings=tuple(warnings),
    )
