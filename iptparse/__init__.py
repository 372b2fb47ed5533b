"""iptparse: what happens to this packet on this box, and which rule decided it.

Parse `iptables-save` / `ip6tables-save` / `ipset` dumps into typed nodes, print them back in
canonical form, and trace packets through them as netfilter does:

    dump = iptparse.parse_iptables(text)                 # typed nodes (iptparse.nodes)
    iptparse.render(dump)                                # canonical text
    sets = iptparse.parse_ipset(ipset_text)
    ruleset = iptparse.Ruleset([dump], sets={s.name: s for s in sets})
    result = iptparse.trace(ruleset, iptparse.parse_packet("tcp 10.0.0.1 -> 10.0.0.2:80"))

Tracing, packets and ipsets load on first use, so `import iptparse` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

from .errors import IptparseError, ParseError, ParseErrors, ParseWarning
from .nodes import Chain, Dump, Family, Match, Rule, Table, Target
from .parser import parse_iptables
from .render import render

__all__ = [
    "Chain",
    "Dump",
    "Family",
    "IptparseError",
    "Match",
    "Packet",
    "ParseError",
    "ParseErrors",
    "ParseWarning",
    "Rule",
    "Ruleset",
    "Table",
    "Target",
    "TraceResult",
    "__version__",
    "load_ruleset",
    "parse_ipset",
    "parse_iptables",
    "parse_packet",
    "render",
    "render_ipset",
    "trace",
]

_LAZY = {
    "Packet": ".packet",
    "parse_packet": ".packet",
    "Ruleset": ".ruleset",
    "load_ruleset": ".load",
    "trace": ".trace",
    "TraceResult": ".trace",
    "parse_ipset": ".ipset",
    "render_ipset": ".ipset",
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is None:
        raise AttributeError(f"module 'iptparse' has no attribute {name!r}")
    value = getattr(import_module(home, __name__), name)
    globals()[name] = value
    return value
