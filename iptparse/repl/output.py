"""The one place the REPL writes: `message` and `error`, plain or coloured.

Everything a command shows goes through an `Output`, so tests capture it with two StringIO
objects and a script piping commands in gets plain text (colour only on a terminal).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from pygments import highlight  # type: ignore[import-untyped, unused-ignore]
from pygments.formatters import Terminal256Formatter  # type: ignore[import-untyped, unused-ignore]

from .lexer import IptablesSaveLexer
from .style import SGR, IptablesStyle

__all__ = ["Output"]


class Output:
    """Writes messages to `out` and errors to `err`; counts errors for the exit status."""

    def __init__(self, out: TextIO, err: TextIO | None = None, *, color: bool = False) -> None:
        self.out = out
        self.err = err if err is not None else out
        self.color = color
        self.errors = 0
        self._lexer = IptablesSaveLexer()
        self._formatter = Terminal256Formatter(style=IptablesStyle)

    def set_chains(self, chains: Iterable[str]) -> None:
        """Chain names of the dump, so `-j NAME` in a single rule is coloured as a chain."""
        self._lexer = IptablesSaveLexer(chains=sorted(set(chains)))

    def message(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def error(self, text: str) -> None:
        self.errors += 1
        self.err.write(self.paint(f"*** {text}", "error") + "\n")
        self.err.flush()

    def paint(self, text: str, role: str) -> str:
        """`text` in the colour of `role` (see style.SGR) when colour is on."""
        if not self.color or not text:
            return text
        return f"\x1b[{SGR[role]}m{text}\x1b[0m"

    def rule(self, text: str) -> str:
        """A rule as iptables-save prints it, highlighted by the lexer when colour is on."""
        if not self.color:
            return text
        colored: str = highlight(text, self._lexer, self._formatter)
        return colored.rstrip("\n")
