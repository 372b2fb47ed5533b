"""Lines other programs print around a dump, captured or pasted with it: no line of it.

Standard error goes into a capture as often as not (`kubectl exec … -- iptables-save 2>&1`,
a terminal copied as it stands), and with it what sudo and kubectl say before the dump. Both
parsers call such a line what it is, and `--lenient` skips it like any line that does not
parse.
"""

from __future__ import annotations

__all__ = ["terminal_noise"]

#: how each such line starts, and what printed it
_NOISE = (
    ("[sudo] password for ", "sudo's password prompt"),
    ('Defaulted container "', "kubectl's note on the container it ran the command in"),
    ("Unable to use a TTY", "kubectl's note that it had no terminal"),
)


def terminal_noise(line: str) -> str | None:
    """What printed a line that comes with a pasted dump but is no line of it, or None."""
    return next((what for start, what in _NOISE if line.startswith(start)), None)
