"""Load-time conditions of targets that one rule shows: hooks, protocol, a SYN-only match.

The kernel checks a target's hooks when the table is committed. A rule in a builtin chain runs
at the hook of that name, so a DNAT in nat/INPUT is refused here as iptables-restore refuses it
(with only "line N failed"). A rule in a user chain runs wherever the chain is jumped to, which
one rule cannot tell, so hook checks pass there.
"""

from __future__ import annotations

from collections.abc import Collection

from ..nodes import BUILTIN_CHAINS
from .base import RuleContext

__all__ = ["HOOK_ORDER", "in_hooks", "need_hooks", "need_protocols", "port_protocol"]

HOOK_ORDER = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")

#: -p values with which the NAT targets accept ports (libxt_NAT's `portok`, ICMP included).
PORT_PROTOCOLS = frozenset({6, 17, 132, 33, 1})


def in_hooks(ctx: RuleContext, allowed: Collection[str]) -> bool:
    """Whether the rule may run at one of `allowed` (always true in a user chain)."""
    if ctx.chain not in BUILTIN_CHAINS.get(ctx.table, ()):
        return True
    return ctx.chain in allowed


def need_hooks(ctx: RuleContext, allowed: Collection[str], what: str = "") -> str | None:
    """A refusal when the rule's builtin chain is not one of `allowed`."""
    if in_hooks(ctx, allowed):
        return None
    names = [h for h in HOOK_ORDER if h in allowed]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    chains = "chain" if len(names) == 1 else "chains"
    prefix = f"{what} is" if what else "is"
    return f"{prefix} only valid in the {listed} {chains}, not in {ctx.chain}"


def need_protocols(ctx: RuleContext, numbers: Collection[int], names: str) -> str | None:
    """`-p` must be one of `numbers` and not negated (the kernel's proto check)."""
    if ctx.protocol not in numbers or ctx.protocol_invert:
        return f"needs `-p {names}' (not negated)"
    return None


def port_protocol(ctx: RuleContext) -> bool:
    """Whether a NAT target may map ports: libxt_NAT looks at -p only, negated or not."""
    return ctx.protocol in PORT_PROTOCOLS
