"""iptparse: what happens to this packet on this box, and which rule decided it.

Parse `iptables-save` / `ip6tables-save` / `ipset` dumps into typed nodes, print them back in
canonical form, and trace packets through them as netfilter does.
"""

from __future__ import annotations

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
    "ParseError",
    "ParseErrors",
    "ParseWarning",
    "Rule",
    "Table",
    "Target",
    "__version__",
    "parse_iptables",
    "render",
]
