"""The `iptparse` command line: one function per subcommand, `main(argv) -> exit status`.

Only this module and the REPL print. Errors in the user's input are reported as
`FILE:LINE:COL: error: MESSAGE` with the line and a caret, and exit status 1; a bug in iptparse
is the only thing that may ever show a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TextIO

from . import __version__
from .errors import IptparseError, ParseError, ParseErrors, ParseWarning
from .inputs import InputError, detect_kind, read_text

if TYPE_CHECKING:
    from .ruleset import Ruleset

__all__ = ["main"]

Command = Callable[[argparse.Namespace, TextIO, TextIO], int]
_COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        _COMMANDS[name] = fn
        return fn

    return register


# --- fmt -----------------------------------------------------------------------------------

@command("fmt")
def cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print a dump in canonical form (what iptables-save / ipset would print)."""
    from .parser import ErrorMode, parse_iptables
    from .render import render

    name, text = read_text(args.file)
    kind = detect_kind(text)
    warnings: list[ParseWarning] = []
    mode: ErrorMode = "skip" if args.lenient else "raise"
    if kind.startswith("ipset"):
        from .ipset import parse_ipset, render_ipset

        sets = parse_ipset(text, filename=name, errors=mode, warnings=warnings)
        style: Literal["save", "list"] = args.to or (
            "list" if kind == "ipset-list" else "save")
        result = render_ipset(sets, style=style)
    else:
        if args.to == "list":
            err.write("iptparse fmt: --to list applies to ipset files only\n")
            return 2
        dump = parse_iptables(text, filename=name, errors=mode, warnings=warnings)
        # `--to save`: `iptables -S` output in iptables-save layout
        result = render(dump.printed_as("save") if args.to == "save" else dump)
    _write_warnings(warnings, err)
    out.write(result)
    return 0


# --- check ---------------------------------------------------------------------------------

@command("check")
def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Validate files; one line per error or warning, exit 1 if any file is invalid."""
    from .parser import parse_iptables

    status = 0
    for path in args.files:
        try:
            name, text = read_text(path)
        except InputError as exc:
            err.write(f"{path}: error: {exc}\n")
            status = 1
            continue
        # warnings too (what a valid file leaves out, an old syntax), in line order with errors
        warnings: list[ParseWarning] = []
        problems: list[ParseError] = []
        try:
            if detect_kind(text).startswith("ipset"):
                from .ipset import parse_ipset

                parse_ipset(text, filename=name, errors="collect", warnings=warnings)
            else:
                parse_iptables(text, filename=name, errors="collect", warnings=warnings)
        except ParseErrors as errors:
            problems = list(errors)
        except ParseError as error:
            problems = [error]
        if problems:
            status = 1
        out.writelines(problem.headline() + "\n"
                       for problem in sorted([*warnings, *problems], key=lambda p: p.line))
    return status


# --- show ----------------------------------------------------------------------------------

@command("show")
def cmd_show(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A readable summary: tables, chains with rule counts, sets with member counts."""
    from .parser import ErrorMode, parse_iptables

    name, text = read_text(args.file)
    mode: ErrorMode = "skip" if args.lenient else "raise"
    warnings: list[ParseWarning] = []
    if detect_kind(text).startswith("ipset"):
        from .ipset import parse_ipset

        sets = parse_ipset(text, filename=name, errors=mode, warnings=warnings)
        _write_warnings(warnings, err)
        out.write(f"{name}: {len(sets)} set(s)\n")
        for s in sets:
            out.write(f"  {s.name:<40} {s.type:<18} {s.family_name:<6} "
                      f"{len(s.members):>7} member(s)\n")
        return 0
    dump = parse_iptables(text, filename=name, errors=mode, warnings=warnings)
    _write_warnings(warnings, err)
    total = sum(len(c.rules) for t in dump.tables for c in t.chains)
    out.write(f"{name}: {dump.family.value}, {len(dump.tables)} table(s), {total} rule(s)\n")
    for table in dump.tables:
        rules = sum(len(c.rules) for c in table.chains)
        # a listing names no table: say which line's listing was read as which
        listed = "" if table.form == "save" or table.span is None else (
            f" (the `iptables -S' listing at line {table.span.line})")
        out.write(f"  *{table.name}{listed}: {len(table.chains)} chain(s), {rules} rule(s)\n")
        for chain in table.chains:
            policy = f"policy {chain.policy}" if chain.policy else "user chain"
            out.write(f"    {chain.name:<40} {len(chain.rules):>6} rule(s)  {policy}\n")
    return 0


# --- trace ---------------------------------------------------------------------------------

def _add_ruleset_args(p: argparse.ArgumentParser, rules_required: bool = True) -> None:
    p.add_argument("rules", nargs="+" if rules_required else "*", metavar="RULES",
                   help="iptables-save / ip6tables-save output (both families may be given; "
                        "files of one family, a table each, are read as one dump)")
    p.add_argument("--ipset", action="append", default=[], metavar="FILE",
                   help="`ipset list` or `ipset save` output (repeatable)")
    p.add_argument("--routes", metavar="FILE",
                   help="`ip route` (`show table all` too) or `route -n` output; with "
                        "`ip rule` output in it, the routing rules too")
    p.add_argument("--addrs", metavar="FILE",
                   help="`ip addr` (`-o`, `-brief`) output or a list of addresses; `ip -d "
                        "address` also gives each bridge's own nf_call_iptables")
    p.add_argument("--sysctl", metavar="FILE",
                   help="`sysctl -a` output: forwarding, rp_filter, accept_local, "
                        "src_valid_mark and send_redirects decide routing on receipt")
    _add_lenient_arg(p)


def _add_lenient_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lenient", action="store_true",
                   help="skip lines that do not parse, with a warning each")


def load_from_args(args: argparse.Namespace, err: TextIO,
                   warnings: list[ParseWarning] | None = None) -> Ruleset:
    """The ruleset the RULES/--ipset/--routes/--addrs/--lenient arguments name; the warnings
    (what a lenient load left out, what the files say they leave out) are written to `err`
    before any result, and added to `warnings` when given."""
    from .load import load_ruleset

    found: list[ParseWarning] = []
    ruleset = load_ruleset(args.rules, ipsets=args.ipset, routes=args.routes, addrs=args.addrs,
                           sysctl=args.sysctl,
                           lenient=args.lenient, warnings=found)
    _write_warnings(found, err)
    if warnings is not None:
        warnings.extend(found)
    return ruleset


def _write_warnings(warnings: Sequence[ParseWarning], err: TextIO) -> None:
    """Each warning with its place, line and caret, as errors are written."""
    for warning in warnings:
        err.write(warning.format() + "\n")


def _assumptions(items: Sequence[str]) -> dict[str, bool]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        value = value.strip().lower()
        if value in ("under", "true", "yes", "holds", "hit", "1", "match", "in"):
            out[key.strip()] = True
        elif value in ("over", "false", "no", "fails", "miss", "0", "nomatch", "out"):
            out[key.strip()] = False
        else:
            raise IptparseError(f"--assume {item}: say KIND=true or KIND=false "
                                "(limit=under, recent=hit, …)")
    return out


@command("trace")
def cmd_trace(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Walk a packet through the rules: every path it can take and the rule that decides."""
    import json

    from .packet import PacketError, packet_notes, parse_packet
    from .report import format_trace
    from .trace import TraceError, trace, trace_json

    forgotten = packet_without_rules(args)
    if forgotten is not None:
        err.write(f"iptparse trace: error: {forgotten}\n")
        return 2
    given_last = take_packet_given_last(args)
    if args.packet is None:
        err.write("iptparse trace: error: no packet: give it with --packet SPEC (or last, "
                  "after the files), e.g. -p 'tcp 10.0.0.1:40000 -> 10.0.0.2:22'\n")
        return 2
    warnings: list[ParseWarning] = []
    ruleset = load_from_args(args, err, warnings)
    try:
        packet = parse_packet(args.packet)
    except PacketError as exc:
        err.write(f"iptparse trace: error: {packet_error(args.packet, exc, given_last)}\n")
        return 1
    for note in packet_notes(args.packet):
        err.write(f"iptparse trace: note: {note}\n")
    try:
        result = trace(ruleset, packet, args.path, assumptions=_assumptions(args.assume),
                       max_paths=args.max_paths)
    except (PacketError, TraceError) as exc:
        err.write(f"iptparse trace: error: {exc}\n")
        return 1
    if args.json:
        answer = trace_json(result)
        if warnings:  # for tools: the answer may stand for part of the node's rules
            answer["warnings"] = [{"file": w.filename, "line": w.line, "column": w.column,
                                   "warning": w.message} for w in warnings]
        out.write(json.dumps(answer, indent=2) + "\n")
    else:
        color = args.color == "always" or (args.color == "auto" and out.isatty())
        out.write(format_trace(result, color=color, verbose=args.verbose,
                               rule_text=_rule_text(ruleset, result.family)))
    return 0


def take_packet_given_last(args: argparse.Namespace) -> bool:
    """`iptparse trace rules.txt 'tcp 1.2.3.4 -> 5.6.7.8:22'`: without --packet, a last RULES
    argument that names no file is the packet, as people type it (a file of that name is
    still a file). Whether it was taken."""
    rules = args.rules
    if args.packet is not None or len(rules) < 2 or rules[-1] == "-" or Path(rules[-1]).exists():
        return False
    args.packet, args.rules = rules[-1], rules[:-1]
    return True


def packet_without_rules(args: argparse.Namespace) -> str | None:
    """`iptparse trace 'tcp 1.2.3.4 -> 5.6.7.8:22'`, the rules forgotten: the one argument
    names no file but reads as a packet. Saying "no such file" (or using the seed scenario in
    its stead) would send the user looking for the wrong mistake. The message, or None."""
    from .packet import PacketError, parse_packet

    rules = args.rules
    if args.packet is not None or len(rules) != 1 or rules[0] == "-" or Path(rules[0]).exists():
        return None
    try:
        parse_packet(rules[0])
    except PacketError:
        return None
    return (f"`{rules[0]}' reads as a packet, but no rules file was given: "
            f"iptparse {args.command} RULES… '{rules[0]}'")


def packet_error(spec: str, exc: Exception, given_last: bool) -> str:
    """A packet that does not parse; given last, it may as well be a file name with a typo."""
    return f"{spec}: no such file, nor a packet ({exc})" if given_last else str(exc)


def _rule_text(ruleset: object, family: object) -> Callable[[str, str, int], str | None]:
    from .ruleset import Ruleset

    assert isinstance(ruleset, Ruleset)

    def lookup(table: str, chain: str, number: int) -> str | None:
        compiled = ruleset.table(family, table)  # type: ignore[arg-type]
        found = compiled.chain(chain) if compiled else None
        if compiled is None or found is None or not 0 < number <= len(found.rules):
            return None
        return compiled.rule(found, number - 1).text

    return lookup


# --- driver --------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="iptparse",
        description="Parse iptables-save and ipset dumps; trace packets through them.",
    )
    parser.add_argument("--version", action="version", version=f"iptparse {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("fmt", help=cmd_fmt.__doc__)
    p.add_argument("file", metavar="FILE", help="a dump file, or - for standard input")
    p.add_argument("--to", choices=("save", "list"),
                   help="output style: for ipset files save or list; for `iptables -S` "
                        "output save (iptables-save layout)")
    _add_lenient_arg(p)

    p = sub.add_parser("check", help=cmd_check.__doc__)
    p.add_argument("files", nargs="+", metavar="FILE")

    p = sub.add_parser("show", help=cmd_show.__doc__)
    p.add_argument("file", metavar="FILE")
    _add_lenient_arg(p)

    p = sub.add_parser("trace", help=cmd_trace.__doc__)
    _add_ruleset_args(p)
    p.add_argument("--packet", "-p", metavar="SPEC",
                   help="e.g. 'tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=eth0 ctstate=NEW' "
                        "(or given last, after the files)")
    p.add_argument("--path", choices=("in", "forward", "out"), default="forward")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--assume", action="append", default=[], metavar="KIND=VALUE",
                   help="pin an assumption: limit=under, recent=hit, or a rule's own key")
    p.add_argument("--max-paths", type=int, default=10_000, metavar="N")
    p.add_argument("--verbose", "-v", action="store_true", help="show every path's walk")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")

    for register in _EXTRA_PARSERS:
        register(sub)
    return parser


# Later subcommands (trace, repl, batch, verify) add their parsers here.
_EXTRA_PARSERS: list[Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]] = []


# --- repl ----------------------------------------------------------------------------------

@command("repl")
def cmd_repl(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Step a packet through the rules like a debugger (the seed scenario without RULES)."""
    from .repl.app import main as repl_main

    return repl_main(args, out, err)


def _repl_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("repl", help=cmd_repl.__doc__)
    _add_ruleset_args(p, rules_required=False)
    p.add_argument("--packet", "-p", metavar="SPEC", help="the packet to walk (as for trace)")
    p.add_argument("--path", choices=("in", "forward", "out"), default="forward")
    p.add_argument("--assume", action="append", default=[], metavar="KIND=VALUE",
                   help="pin an assumption, as for trace")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")


_EXTRA_PARSERS.append(_repl_parser)


# --- batch ---------------------------------------------------------------------------------

@command("batch")
def cmd_batch(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Packets × captured nodes: a record per (node, packet), then where the fleet differs."""
    from .batch.command import run

    return run(args, out, err)


def _batch_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .batch.command import add_arguments

    add_arguments(sub.add_parser("batch", help=cmd_batch.__doc__))


_EXTRA_PARSERS.append(_batch_parser)


# --- verify --------------------------------------------------------------------------------

@command("verify")
def cmd_verify(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check iptparse's model against the running kernel, in throwaway namespaces."""
    from .verify.command import run_command

    return run_command(args, out, err)


def _verify_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from .verify.command import add_arguments

    add_arguments(sub.add_parser("verify", help=cmd_verify.__doc__))


_EXTRA_PARSERS.append(_verify_parser)


def main(argv: Sequence[str] | None = None, out: TextIO | None = None,
         err: TextIO | None = None) -> int:
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if (args.command in ("trace", "repl") and args.packet is None and len(extra) == 1
                and not extra[0].startswith("-")):
            # the packet last, after options (`trace rules.txt --path in 'tcp …'`)
            args.rules.append(extra[0])
        elif extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as exc:
        return int(exc.code or 0)
    handler = _COMMANDS[args.command]
    try:
        return handler(args, out, err)
    except ParseErrors as errors:
        err.write(errors.format() + "\n")
        return 1
    except ParseError as error:
        err.write(error.format() + "\n")
        return 1
    except InputError as exc:
        err.write(f"iptparse {args.command}: error: {exc}\n")
        return 1
    except IptparseError as exc:
        err.write(f"iptparse {args.command}: error: {exc}\n")
        return 1
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        err.write("interrupted\n")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
