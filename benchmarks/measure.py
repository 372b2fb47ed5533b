"""Measuring processes and calls: wall time, CPU time (user + system) and peak memory.

The machine the benchmarks run on is shared and often loaded, so every figure is given as wall
time and CPU time, and each is the best of a few runs. A child process is measured with
`os.wait4`, which reports that child's own CPU time and peak resident set (not those of other
children of the runner).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

__all__ = ["Figure", "best", "run_process", "timed"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class Figure:
    """One measurement: seconds of wall and CPU time, peak RSS in KiB (0: not measured)."""

    wall: float
    cpu: float
    rss: int = 0
    output: str = ""


def run_process(argv: Sequence[str], stdin: Path | None = None,
                cwd: Path | None = None) -> Figure:
    """Run a command to its end; its wall time, CPU time, peak RSS and standard output."""
    with (open(stdin or os.devnull, "rb") as source, tempfile.TemporaryFile("w+") as out,
          tempfile.TemporaryFile("w+") as err):
        start = time.perf_counter()
        child = subprocess.Popen(list(argv), stdin=source, stdout=out, stderr=err, text=True,
                                 cwd=cwd)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode:
            raise RuntimeError(f"{argv[0]} failed ({child.returncode}): {err.read()[:500]}")
        return Figure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, out.read())


def timed(call: Callable[[], _T]) -> tuple[Figure, _T]:
    """Run a call in this process; its wall and CPU time."""
    start, cpu = time.perf_counter(), time.process_time()
    result = call()
    return Figure(time.perf_counter() - start, time.process_time() - cpu), result


def best(figures: Sequence[Figure]) -> Figure:
    """The best wall time, CPU time and RSS of several runs (each may come from another)."""
    return Figure(min(f.wall for f in figures), min(f.cpu for f in figures),
                  min((f.rss for f in figures), default=0), figures[-1].output)
