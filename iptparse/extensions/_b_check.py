"""Per-rule conditions the kernel checks when a header match is loaded.

x_tables refuses a match registered for one protocol (icmp, sctp, esp…) unless the rule says
`-p` with exactly that protocol, not negated; some matches only work in some hooks (eui64
needs a source MAC, realm a routing decision). These are known from the rule alone, so the
parser reports them where iptables-restore would only say "line N failed".
"""

from __future__ import annotations

from collections.abc import Iterable

from ..nodes import BUILTIN_CHAINS
from .base import RuleContext

__all__ = ["need_protocol", "only_in_chains"]


def need_protocol(ctx: RuleContext, number: int, name: str) -> str | None:
    """The kernel's protocol check: `-p NAME` must be given and not negated."""
    if ctx.protocol != number or ctx.protocol_invert:
        return f"only valid with `-p {name}'"
    return None


def only_in_chains(ctx: RuleContext, chains: Iterable[str]) -> str | None:
    """A hook restriction, checked for builtin chains (a user chain's hooks are those of the
    chains that jump to it, which the kernel checks at commit; we do not see them here)."""
    allowed = tuple(chains)
    if ctx.chain in BUILTIN_CHAINS.get(ctx.table, ()) and ctx.chain not in allowed:
        names = ", ".join(allowed[:-1]) + f" and {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        return f"only valid in the {names} chains, not {ctx.chain}"
    return None
