"""The command line run in this process, for the tests of each command."""

from __future__ import annotations

import io
from collections.abc import Sequence

from iptparse.cli import main


def run_cli(argv: Sequence[str], err: io.StringIO | None = None) -> tuple[int, str, str]:
    """`iptparse ARGV`: the exit status, standard output and standard error (`err` to read
    standard error while the command runs)."""
    out, err = io.StringIO(), err or io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()
