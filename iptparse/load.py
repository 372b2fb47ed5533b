"""Build a Ruleset from the files a user captured (rules, ipsets, routes, addresses)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from .errors import ParseWarning
from .host import Host, HostError, parse_addrs, parse_routes
from .inputs import read_text
from .parser import ErrorMode, parse_iptables
from .ruleset import Ruleset

__all__ = ["load_ruleset"]

_T = TypeVar("_T")


def load_ruleset(
    rules: Iterable[str | Path],
    *,
    ipsets: Iterable[str | Path] = (),
    routes: str | Path | None = None,
    addrs: str | Path | None = None,
    lenient: bool = False,
    warnings: list[ParseWarning] | None = None,
) -> Ruleset:
    """Read dumps (one per family), ipset files (`ipset list` or `ipset save`) and host files.

    `lenient` skips the lines of rule and set files that do not parse (a dump pasted with the
    shell prompt that printed it, a line cut in half) instead of stopping at the first; each
    skipped line is appended to `warnings` when given, so the caller can say what was left out.
    Raises ParseError / ParseErrors / InputError / HostError for bad input.
    """
    mode: ErrorMode = "skip" if lenient else "raise"
    skipped = warnings if warnings is not None else []
    dumps = []
    for path in rules:
        name, text = read_text(path)
        dumps.append(parse_iptables(text, filename=name, errors=mode, warnings=skipped))
    sets: dict[str, Any] = {}
    for path in ipsets:
        from .ipset import parse_ipset

        name, text = read_text(path)
        for ipset in parse_ipset(text, filename=name, errors=mode, warnings=skipped):
            sets[ipset.name] = ipset
    host = None
    if routes is not None or addrs is not None:
        host = Host(_host_file(addrs, parse_addrs), _host_file(routes, parse_routes))
    return Ruleset(dumps, sets=sets, host=host)


def _host_file(path: str | Path | None, parse: Callable[[str], list[_T]]) -> list[_T]:
    """One routes or addresses file, its name put before what cannot be read in it."""
    if path is None:
        return []
    name, text = read_text(path)
    try:
        return parse(text)
    except HostError as exc:
        raise HostError(f"{name}: {exc}") from None
