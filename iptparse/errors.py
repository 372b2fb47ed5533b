"""The one exception type the library raises for bad input, and its collected form.

Callers catch `ParseError` and get file, line, column, message and the line's text; the CLI turns
it into `FILE:LINE:COL: error: MESSAGE` with the caret picture. A collect-all parse gathers many
into `ParseErrors` so a batch check reports every bad line of a file at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .source import caret_excerpt

__all__ = ["IptparseError", "ParseError", "ParseErrors", "ParseWarning"]


class IptparseError(Exception):
    """Base of every error iptparse raises on purpose."""


class ParseError(IptparseError):
    """Input that iptables-restore or ipset would reject, located to a line and column."""

    def __init__(
        self,
        message: str,
        *,
        line: int,
        column: int = 1,
        line_text: str = "",
        filename: str = "<input>",
        width: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column
        self.line_text = line_text
        self.filename = filename
        self.width = width

    def with_filename(self, filename: str) -> ParseError:
        self.filename = filename
        return self

    def headline(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: error: {self.message}"

    def format(self) -> str:
        """The full report: headline, then the line and a caret under the column."""
        if not self.line_text:
            return self.headline()
        return f"{self.headline()}\n{caret_excerpt(self.line_text, self.column, self.width)}"

    def __str__(self) -> str:
        return self.format()

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only arguments need help to cross process boundaries (batch --jobs, Dask).
        return (_rebuild_parse_error, (self.message, self.line, self.column, self.line_text,
                                       self.filename, self.width))


def _rebuild_parse_error(message: str, line: int, column: int, line_text: str, filename: str,
                         width: int) -> ParseError:
    return ParseError(message, line=line, column=column, line_text=line_text, filename=filename,
                      width=width)


class ParseErrors(IptparseError):
    """Every error of one input, in line order (collect-all mode)."""

    def __init__(self, errors: Sequence[ParseError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = tuple(errors)

    def __iter__(self) -> Iterator[ParseError]:
        return iter(self.errors)

    def __len__(self) -> int:
        return len(self.errors)

    def format(self) -> str:
        return "\n".join(e.format() for e in self.errors)


class ParseWarning(ParseError):
    """A line skipped in lenient mode: same fields as an error, reported as a warning."""

    def headline(self) -> str:
        return f"{self.filename}:{self.line}:{self.column}: warning: {self.message}"
