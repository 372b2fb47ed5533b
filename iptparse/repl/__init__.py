"""The debugger shell: step a packet through a dump like pdb steps through code.

`iptparse repl` (see app.main); the only part of iptparse that imports prompt_toolkit. Names
are loaded on first use, so the pygments plugin (`repl.lexer`) does not pull prompt_toolkit in.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Shell", "build_session", "main", "run_loop", "start"]

_HOMES = {"Shell": ".shell", "build_session": ".app", "main": ".app", "run_loop": ".app",
          "start": ".app"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(home, __name__), name)
