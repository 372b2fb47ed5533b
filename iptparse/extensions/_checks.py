"""Load-time conditions one rule shows: the hook it runs at, its table, its `-p`.

The kernel refuses a match or target outside its hooks or tables, and a protocol match (icmp,
sctp, TCPMSS…) unless the rule says `-p` with that protocol, not negated; iptables-restore then
only says "line N failed", so the parser reports the reason itself. A rule in a builtin chain
runs at the hook of that name. A rule in a user chain runs wherever the chain is jumped to,
which one rule cannot tell (the kernel checks it at commit), so hook checks pass there.

Three groups of extensions wrote these refusals in their own words and the tests pin them, so
each wording stays a function of its own; the conditions they test are shared.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from ..nodes import BUILTIN_CHAINS
from .base import RuleContext

__all__ = [
    "HOOK_ORDER",
    "PORT_PROTOCOLS",
    "has_protocol",
    "hook_of",
    "in_hooks",
    "need_hooks",
    "need_protocol",
    "need_protocols",
    "need_tables",
    "only_at_hooks",
    "only_in_chains",
    "port_protocol",
]

HOOK_ORDER = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

#: -p values with which the NAT targets accept ports (libxt_NAT's `portok`, ICMP included).
PORT_PROTOCOLS = frozenset({6, 17, 132, 33, 1})


def hook_of(ctx: RuleContext) -> str | None:
    """The hook (named like its chain) a rule runs at, or None in a user chain."""
    if ctx.chain in BUILTIN_CHAINS.get(ctx.table, ()):
        return ctx.chain
    return None


def in_hooks(ctx: RuleContext, allowed: Collection[str]) -> bool:
    """Whether the rule may run at one of `allowed` (always true in a user chain)."""
    hook = hook_of(ctx)
    return hook is None or hook in allowed


def has_protocol(ctx: RuleContext, numbers: Collection[int]) -> bool:
    """`-p` is one of `numbers` and not negated: the kernel's check for a protocol match."""
    return ctx.protocol in numbers and not ctx.protocol_invert


def port_protocol(ctx: RuleContext) -> bool:
    """Whether a NAT target may map ports: libxt_NAT looks at -p only, negated or not."""
    return ctx.protocol in PORT_PROTOCOLS


def _listed(names: Sequence[str]) -> str:
    """`A`, `A and B`, `A, B and C`."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


# --- the header matches' wording -------------------------------------------------------------

def need_protocol(ctx: RuleContext, number: int, name: str) -> str | None:
    """A match of one protocol: "only valid with `-p NAME'"."""
    if has_protocol(ctx, (number,)):
        return None
    return f"only valid with `-p {name}'"


def only_in_chains(ctx: RuleContext, chains: Sequence[str]) -> str | None:
    """A match of some hooks: "only valid in the A and B chains, not X" (`chains` in the
    order to list them)."""
    hook = hook_of(ctx)
    if hook is None or hook in chains:
        return None
    return f"only valid in the {_listed(chains)} chains, not {hook}"


# --- the host and socket matches' wording ----------------------------------------------------

def only_at_hooks(ctx: RuleContext, allowed: Collection[str], what: str) -> str | None:
    """"WHAT is only valid in the A, B chains, not in X" (hooks in the kernel's order)."""
    hook = hook_of(ctx)
    if hook is None or hook in allowed:
        return None
    names = ", ".join(h for h in HOOK_ORDER if h in allowed)
    return f"{what} is only valid in the {names} chains, not in {hook}"


def need_tables(ctx: RuleContext, allowed: Collection[str], what: str) -> str | None:
    """"WHAT is only valid in the A or B table"."""
    if ctx.table in allowed:
        return None
    return f"{what} is only valid in the {' or '.join(sorted(allowed))} table"


# --- the targets' wording --------------------------------------------------------------------

def need_hooks(ctx: RuleContext, allowed: Collection[str], what: str = "") -> str | None:
    """"[WHAT ]is only valid in the A and B chains, not in X" (hooks in the kernel's order)."""
    if in_hooks(ctx, allowed):
        return None
    names = [h for h in HOOK_ORDER if h in allowed]
    chains = "chain" if len(names) == 1 else "chains"
    prefix = f"{what} is" if what else "is"
    return f"{prefix} only valid in the {_listed(names)} {chains}, not in {ctx.chain}"


def need_protocols(ctx: RuleContext, numbers: Collection[int], names: str) -> str | None:
    """"needs `-p NAMES' (not negated)"."""
    if has_protocol(ctx, numbers):
        return None
    return f"needs `-p {names}' (not negated)"
