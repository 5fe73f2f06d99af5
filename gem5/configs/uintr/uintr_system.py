"""Adds the UINTR model to a gem5 board (needs gem5 with the model built in).

    from uintr_system import attach_uintr
    attach_uintr(board, strategy="flush")

What it does, all before `Simulator(board)` instantiates the system:

* one `UintrModel` SimObject (`board.uintr`) with the calibrated latencies
  of `uintr_params.PARAMETERS (calibration.json)` and the chosen delivery strategy;
* CPUID leaf 7 EDX[5] (UINTR) and, unless `waitpkg=False`, ECX[5]
  (WAITPKG: UMONITOR/UMWAIT/TPAUSE, which the model implements) on every
  core (`X86ISA.ExtendedFeatures`);
* a /proc/cpuinfo with the `uintr` flag (and `xui_kbtimer`), written to
  gem5's output directory and served to the program through the board's
  `redirect_paths` (SE mode otherwise shows the host's file). gem5 treats
  every redirect as a directory (it appends `/` to both sides), so the
  whole of /proc is redirected; the files gem5 emulates itself
  (/proc/meminfo, /proc/self/maps) are matched before the redirect and
  still work, and `self/exe` is a link to the binary so that
  readlink("/proc/self/exe") keeps its meaning. Anything else under /proc
  is absent (ENOENT);
* CLUI's port: the O3 functional-unit pool's `IprAccess` op class becomes
  non-pipelined with CLUI's latency (x86 uses that op class for nothing
  else).
"""

import os
from typing import Optional

import m5
from m5.objects import FUDesc, OpDesc, RedirectPath, UintrModel

from uintr_params import (
    PARAMETERS,
    STRATEGIES,
    UintrLatencies,
    cpuinfo_text,
    leaf7_with_uintr,
)


def _cpus(board):
    return [core.core for core in board.get_processor().get_cores()]


def _set_clui_port(cpu, latency: int) -> None:
    pool = getattr(cpu, "fuPool", None)
    if pool is None:
        return
    # The IprAccess op is changed where it is: taking a unit out of an
    # FUPool that already adopted it leaves gem5 with an orphan SimObject.
    found = False
    for unit in pool.FUList:
        for op in unit.opList:
            if str(op.opClass) == "IprAccess":
                op.opLat = latency
                op.pipelined = False
                found = True
    if not found:
        pool.FUList = list(pool.FUList) + [
            FUDesc(
                count=1,
                opList=[OpDesc(opClass="IprAccess", opLat=latency, pipelined=False)],
            )
        ]


def attach_uintr(
    board,
    strategy: str = "flush",
    latencies: UintrLatencies = PARAMETERS,
    kbtimer: bool = True,
    waitpkg: bool = True,
    outdir: Optional[str] = None,
    binary: Optional[str] = None,
):
    """Give `board` user interrupts; returns the UintrModel.

    `binary` is the program's path, the target of /proc/self/exe.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy {strategy!r}: one of {STRATEGIES}")
    cpus = _cpus(board)
    for cpu in cpus:
        for isa in cpu.isa:
            isa.ExtendedFeatures = leaf7_with_uintr(
                tuple(int(v) for v in isa.ExtendedFeatures), waitpkg=waitpkg
            )
        if type(cpu).__name__.endswith("O3CPU"):
            _set_clui_port(cpu, latencies.clui_port_latency)

    outdir = outdir or m5.options.outdir
    proc_dir = os.path.join(outdir, "fs", "proc")
    os.makedirs(proc_dir, exist_ok=True)
    cpuinfo = os.path.join(proc_dir, "cpuinfo")
    with open(cpuinfo, "w") as f:
        f.write(cpuinfo_text(len(cpus), kbtimer=kbtimer, waitpkg=waitpkg))
    if binary is not None:
        self_dir = os.path.join(proc_dir, "self")
        os.makedirs(self_dir, exist_ok=True)
        exe = os.path.join(self_dir, "exe")
        if os.path.lexists(exe):
            os.remove(exe)
        os.symlink(os.path.abspath(binary), exe)
    board.redirect_paths = list(board.redirect_paths) + [
        RedirectPath(app_path="/proc", host_paths=[proc_dir])
    ]

    board.uintr = UintrModel(strategy=strategy, **latencies.model_params())
    return board.uintr
