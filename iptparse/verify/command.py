"""`iptparse verify`: the arguments and the run, called from `iptparse.cli`.

Exit status: 0 when the kernel agreed on every packet iptparse models, 1 on a disagreement (or
bad input, as for every command), 2 when this machine cannot host the kernel lab (not root, a
tool missing: the message names what exactly).
"""

from __future__ import annotations

import argparse
import json
from typing import TextIO

from ..errors import ParseWarning
from ..inputs import read_text
from ..nodes import Family
from ..packet import PacketError, parse_packets
from ..parser import detect_family
from ..sandbox.lab import Backend, LabError
from ..sandbox.netns import SandboxUnavailable
from ..sandbox.oracle import KernelRejected
from .model import ModelError
from .report import VerifyReport
from .run import lab_requirements, packets_from, verify_dump

__all__ = ["add_arguments", "run_command"]

EXIT_UNAVAILABLE = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("rules", nargs="+", metavar="RULES",
                   help="iptables-save / ip6tables-save output (or restore input) to load; "
                   "the files of one family are one node's, loaded in turn, as trace reads them")
    p.add_argument("--ipset", action="append", default=[], metavar="FILE",
                   help="`ipset save` or `ipset list` output the rules refer to (repeatable)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--packets", metavar="FILE",
                        help="packets in iptparse's text form (or JSON), one per line; "
                        "with --path both, one that names its oif is only forwarded")
    source.add_argument("--samples", type=int, default=50, metavar="N",
                        help="packets to draw from the rules themselves (default 50 per dump)")
    p.add_argument("--seed", type=int, default=0, help="seed for --samples (default 0)")
    p.add_argument("--path", choices=("in", "forward", "out", "both", "all"), default="both",
                   help="deliver packets locally (in), route them through (forward), send them "
                   "from the router itself (out), in and forward (both, the default) or all "
                   "three")
    p.add_argument("--backend", choices=("legacy", "nft"), default="legacy",
                   help="which iptables flavour loads the rules (default legacy)")
    p.add_argument("--lenient", action="store_true",
                   help="skip lines that do not parse and load the rest into the kernel as "
                   "iptables-save would print it")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="list every packet (and every line --lenient skipped)")


def run_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    backend: Backend = args.backend
    paths = {"both": ("in", "forward"), "all": ("in", "forward", "out")}.get(
        args.path, (args.path,))
    rules = [read_text(path) for path in args.rules]
    ipsets = [read_text(path) for path in args.ipset]
    families = [detect_family(text, name) for name, text in rules]
    missing: list[str] = []
    for family in families:
        missing += [m for m in lab_requirements(family, backend, bool(ipsets))
                    if m not in missing]
    if missing:
        err.write(f"iptparse verify: cannot run the kernel lab here: missing "
                  f"{', '.join(missing)} (it needs root, `ip`, the iptables-{backend} restore "
                  "and save tools of each family, and `ipset` for --ipset)\n")
        return EXIT_UNAVAILABLE
    packets = None
    if args.packets is not None:
        name, text = read_text(args.packets)
        try:
            packets = parse_packets(text)
        except PacketError as exc:
            err.write(f"iptparse verify: error: {name}: {exc}\n")
            return 1
        orphans = [p for p in packets if (p.family or Family.INET) not in families]
        if orphans:
            kind = (orphans[0].family or Family.INET).value
            err.write(f"iptparse verify: error: {name}: {len(orphans)} packet(s) are {kind} but "
                      f"no dump of that family was given (first: {orphans[0]})\n")
            return 1
    # the files of one family are one node's, as `trace` reads them: one lab per family
    nodes: dict[Family, list[tuple[str, str]]] = {}
    for file, family in zip(rules, families, strict=True):
        nodes.setdefault(family, []).append(file)
    reports: list[VerifyReport] = []
    for family, files in nodes.items():
        (name, text), *more = files
        skipped: list[ParseWarning] | None = [] if args.lenient else None
        notes: list[ParseWarning] = []
        failure: tuple[str, int] | None = None
        try:
            lab_packets = None if packets is None else packets_from(packets, family, paths)
            reports.append(verify_dump(text, name=name, ipsets=ipsets, packets=lab_packets,
                                       samples=args.samples, seed=args.seed, paths=paths,
                                       backend=backend, warnings=skipped, more=more,
                                       notes=notes))
        except ModelError as exc:
            failure = (f"iptparse verify: error: {args.packets}: {exc}", 1)
        except KernelRejected as exc:
            refused = " ".join(file for file, _ in files)
            failure = (f"iptparse verify: error: the kernel refused {refused}: {exc}", 1)
        except (SandboxUnavailable, LabError) as exc:
            failure = (f"iptparse verify: cannot run the kernel lab: {exc}", EXIT_UNAVAILABLE)
        # what was left out or replaced, also when the kernel refused the rest
        _report_skipped(skipped or [], err, verbose=args.verbose)
        for note in notes:
            err.write(note.format() + "\n")
        if failure is not None:
            err.write(failure[0] + "\n")
            return failure[1]
    ok = all(r.ok for r in reports)
    if args.json:
        out.write(json.dumps({"ok": ok, "reports": [r.to_json() for r in reports]}, indent=2)
                  + "\n")
    else:
        for report in reports:
            out.write(report.format(verbose=args.verbose))
        out.write("kernel and iptparse agree on every modelled packet\n" if ok else
                  "kernel and iptparse DISAGREE: see the reproductions above\n")
    return 0 if ok else 1


def _report_skipped(skipped: list[ParseWarning], err: TextIO, *, verbose: bool) -> None:
    """What --lenient left out: the first line in full (a messy file usually repeats one
    problem: anonymised MACs, a prompt), a count of the rest unless --verbose."""
    shown = skipped if verbose else skipped[:1]
    for warning in shown:
        err.write(warning.format() + "\n")
    if len(skipped) > len(shown):
        err.write(f"… and {len(skipped) - len(shown)} more line(s) skipped (--verbose lists "
                  "them)\n")
