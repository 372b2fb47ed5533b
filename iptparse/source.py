"""Positions in input text, and the caret picture every error message ends with.

Spans are 1-based (line, column) like compilers print them; columns count characters, not bytes,
because users read the caret against what their terminal shows.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Span", "caret_excerpt"]


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node starts in its source: 1-based line and column."""

    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def caret_excerpt(line_text: str, column: int, width: int = 1) -> str:
    """The offending line and a caret under the column, tabs kept so the caret lines up."""
    line_text = line_text.rstrip("\r\n")
    prefix = "".join("\t" if ch == "\t" else " " for ch in line_text[: max(column - 1, 0)])
    return f"{line_text}\n{prefix}{'^' * max(width, 1)}"
