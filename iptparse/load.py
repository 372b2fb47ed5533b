"""Build a Ruleset from the files a user captured (rules, ipsets, routes, addresses)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import ParseWarning
from .host import Host
from .inputs import read_text
from .nodes import Dump, Family, Table
from .parser import ErrorMode, parse_iptables
from .ruleset import Ruleset

__all__ = ["TablesRead", "line_at", "load_ruleset", "table_again"]


def load_ruleset(
    rules: Iterable[str | Path],
    *,
    ipsets: Iterable[str | Path] = (),
    routes: str | Path | None = None,
    addrs: str | Path | None = None,
    sysctl: str | Path | None = None,
    lenient: bool = False,
    warnings: list[ParseWarning] | None = None,
) -> Ruleset:
    """Read dumps, ipset files (`ipset list` or `ipset save`) and host files (routes with
    routing rules, addresses, `sysctl -a` output).

    Dumps of one family are read as one (a file per table is a capture too); a table in two
    files is read as iptables-restore would read the files one after the other, the later
    replacing the earlier, with a warning, for one node's captures hold each table once.
    `lenient` skips the lines of rule and set files that do not parse (a dump pasted with the
    shell prompt that printed it, a line cut in half) instead of stopping at the first; each
    skipped line is appended to `warnings` when given, so the caller can say what was left out.
    Raises ParseError / ParseErrors / InputError / HostError for bad input.
    """
    mode: ErrorMode = "skip" if lenient else "raise"
    skipped = warnings if warnings is not None else []
    dumps = []
    tables = TablesRead()
    for path in rules:
        name, text = read_text(path)
        dump = parse_iptables(text, filename=name, errors=mode, warnings=skipped)
        dumps.append(dump)
        tables.add(dump, name, text, skipped)
    sets: dict[str, Any] = {}
    for path in ipsets:
        from .ipset import parse_ipset

        name, text = read_text(path)
        for ipset in parse_ipset(text, filename=name, errors=mode, warnings=skipped):
            sets[ipset.name] = ipset
    host = None
    if routes is not None or addrs is not None or sysctl is not None:
        # each file read once: one may be standard input
        read = [read_text(path) if path is not None else (None, None)
                for path in (addrs, routes, sysctl)]
        host = Host.from_text(*(text for _, text in read),
                              names=(read[0][0], read[1][0], read[2][0]))
    return Ruleset(dumps, sets=sets, host=host)


class TablesRead:
    """Where each table of one node's files was read: a table a later file gives again
    replaces the earlier one (as iptables-restore reads the files in turn), with a warning."""

    def __init__(self) -> None:
        self.where: dict[tuple[Family, str], tuple[str, int, Table]] = {}

    def add(self, dump: Dump, name: str, text: str, warnings: list[ParseWarning]) -> None:
        """The tables of file `name` (its `text`, parsed into `dump`)."""
        for table in dump.tables:
            line = table.span.line if table.span is not None else 1
            earlier = self.where.get((dump.family, table.name))
            if earlier is not None and earlier[0] != name:
                warnings.append(ParseWarning(
                    table_again(table.name, earlier[0], earlier[1]), line=line, column=1,
                    line_text=line_at(text, line), filename=name))
            self.where[(dump.family, table.name)] = (name, line, table)

    def in_force(self, family: Family) -> tuple[Table, ...]:
        """The family's tables as the kernel ends up with them, in the order first read."""
        return tuple(table for (f, _), (_, _, table) in self.where.items() if f is family)


def table_again(table: str, earlier_file: str, earlier_line: int) -> str:
    """The warning for a table a later file of one node gives again."""
    return (f"table {table} again: it replaces the one in {earlier_file} (line {earlier_line}),"
            " as iptables-restore would read the files in turn; one node's captures hold each "
            "table once")


def line_at(text: str, number: int) -> str:
    """Line `number` (from 1) of a text, without reading the whole text into lines."""
    start = 0
    for _ in range(number - 1):
        start = text.find("\n", start) + 1
        if start == 0:
            return ""
    end = text.find("\n", start)
    return text[start:end if end >= 0 else len(text)].rstrip("\r")
