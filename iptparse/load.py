"""Build a Ruleset from the files a user captured (rules, ipsets, routes, addresses)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .host import Host
from .inputs import read_text
from .parser import parse_iptables
from .ruleset import Ruleset

__all__ = ["load_ruleset"]


def load_ruleset(
    rules: Iterable[str | Path],
    *,
    ipsets: Iterable[str | Path] = (),
    routes: str | Path | None = None,
    addrs: str | Path | None = None,
    lenient: bool = False,
) -> Ruleset:
    """Read dumps (one per family), ipset files (`ipset list` or `ipset save`) and host files.

    Raises ParseError / ParseErrors / InputError / HostError for bad input.
    """
    dumps = []
    for path in rules:
        name, text = read_text(path)
        dumps.append(parse_iptables(text, filename=name, errors="skip" if lenient else "raise",
                                    warnings=[] if lenient else None))
    sets: dict[str, Any] = {}
    for path in ipsets:
        from .ipset import parse_ipset

        name, text = read_text(path)
        for ipset in parse_ipset(text, filename=name):
            sets[ipset.name] = ipset
    host = None
    if routes is not None or addrs is not None:
        host = Host.from_text(read_text(addrs)[1] if addrs else None,
                              read_text(routes)[1] if routes else None)
    return Ruleset(dumps, sets=sets, host=host)
