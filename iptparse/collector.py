"""The cyclic garbage collector paused while a function builds many objects and no cycles.

Reference counting frees what parsing, walking and printing leave behind (walks make no
reference cycles: tests/perf/test_garbage.py holds them to it). The cyclic collector, run by
allocation counts, would instead walk everything alive again and again: the growing dump for
a parse (a third of its time), and the states of thousands of paths for an abstract trace's
answer (half of printing it). A cycle made meanwhile is collected at the next run after.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from typing import ParamSpec, TypeVar

__all__ = ["without_collection"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def without_collection(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """`fn` with the collector off while it runs (on again after, if it was on)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return run
