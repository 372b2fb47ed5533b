"""`iptparse batch`: the shell around `evaluate` (arguments, output file, progress bar).

Like cli.py, this module writes to the terminal; the rest of the package does not. The
progress bar (prompt_toolkit) is drawn on standard error only when that is a terminal; when the
records go to the same terminal they are held back until the bar is gone.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from collections.abc import Callable, Iterator
from typing import TextIO

from ..inputs import read_text
from .captures import discover
from .evaluate import PATHS, evaluate, read_packets
from .formats import FORMATS, summary_text, writer
from .parallel import BatchError
from .summary import Summariser

__all__ = ["add_arguments", "run"]

HELP_CAPTURE = ("a dump file, `-` (standard input), a node folder (iptables-save*, "
                "ip6tables-save*, rules.v4/v6, ipset*, routes*, ip-rule*, addrs*, sysctl*, "
                "sosreport's ip_* and sysctl_-a, each maybe .gz) or a folder of node folders")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("captures", nargs="+", metavar="CAPTURE", help=HELP_CAPTURE)
    p.add_argument("--packets", required=True, metavar="FILE",
                   help="JSON Lines, or one packet per line as for trace (`id=NAME` names it)")
    p.add_argument("--path", choices=PATHS, default="forward")
    p.add_argument("--out", "-o", metavar="FILE", help="write here instead of standard output")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="table (people), jsonl (tools), csv (spreadsheets)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--jobs", "-j", type=int, default=1, metavar="N",
                       help="worker processes (0: one per CPU when the batch is big enough "
                       "to gain from them)")
    where.add_argument("--dask", metavar="ADDRESS",
                       help="run on a Dask distributed cluster (needs the dask extra)")
    p.add_argument("--assume", action="append", default=[], metavar="KIND=VALUE",
                   help="pin an assumption, as for trace")
    p.add_argument("--max-paths", type=int, default=10_000, metavar="N")
    p.add_argument("--lenient", action="store_true",
                   help="skip lines that do not parse, with a warning record each, instead of "
                        "failing the node")


@contextlib.contextmanager
def _progress(err: TextIO) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on standard error when it is a terminal, else nothing."""
    if not err.isatty():
        yield None
        return
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import create_output
    from prompt_toolkit.shortcuts import ProgressBar
    from prompt_toolkit.shortcuts.progress_bar.base import ProgressBarCounter

    # A pipe nobody writes to: the bar must not read the terminal (stdin may hold packets).
    with create_pipe_input() as keys, \
            ProgressBar(output=create_output(stdout=err), input=keys) as bar:
        counter: ProgressBarCounter[object] = bar(label="evaluating", total=1)

        def update(done: int, total: int) -> None:
            counter.total = total
            counter.items_completed = done
            bar.invalidate()

        yield update


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from ..cli import _assumptions

    if args.packets == "-" and "-" in args.captures:
        raise BatchError("standard input cannot hold both the packets and a capture")
    if args.jobs < 0:
        raise BatchError(f"--jobs must be 0 (one per CPU) or more, not {args.jobs}")
    _, text = read_text(args.packets)
    packets = read_packets(text.splitlines())
    captures = discover(args.captures)
    assumptions = _assumptions(args.assume)
    with contextlib.ExitStack() as stack:
        target = out
        if args.out:
            try:
                target = stack.enter_context(open(args.out, "w", encoding="utf-8", newline=""))
            except OSError as exc:
                raise BatchError(f"{args.out}: {exc.strerror}") from None
        with _progress(err) as progress:
            held = io.StringIO() if progress is not None and target.isatty() else None
            sink = writer(args.format, held if held is not None else target,
                          [c.name for c in captures],
                          [p.id or "" for p in packets])
            summariser = Summariser(captures, lenient=args.lenient)
            records = evaluate(captures, packets, args.path, jobs=args.jobs, dask=args.dask,
                               assumptions=assumptions, max_paths=args.max_paths,
                               progress=progress, lenient=args.lenient)
            for record in records:
                sink.write(record)
                summariser.add(record)
            summary = summariser.finish()
            sink.finish(summary)
        if held is not None:
            target.write(held.getvalue())
    if args.format == "csv":
        err.write(summary_text(summary))
    return 0 if summary.ok else 1
