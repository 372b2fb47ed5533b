"""Where a rule runs, for the load-time checks the kernel makes (hooks, tables, -p).

Many host and socket matches only make sense at some netfilter hooks (`-m owner` needs a local
socket, so OUTPUT and POSTROUTING); the kernel refuses the whole table otherwise. A rule in a
builtin chain runs at the hook of that name. A rule in a user chain runs wherever the chain is
jumped to, which one rule cannot tell, so those checks pass there.
"""

from __future__ import annotations

from collections.abc import Collection

from ..nodes import BUILTIN_CHAINS
from .base import RuleContext

__all__ = ["hook_of", "need_hooks", "need_protocol", "need_tables"]


def hook_of(ctx: RuleContext) -> str | None:
    """The hook (named like its chain) a rule runs at, or None in a user chain."""
    if ctx.chain in BUILTIN_CHAINS.get(ctx.table, ()):
        return ctx.chain
    return None


def need_hooks(ctx: RuleContext, allowed: Collection[str], what: str) -> str | None:
    """A refusal when the rule's chain is a builtin chain outside `allowed`."""
    hook = hook_of(ctx)
    if hook is None or hook in allowed:
        return None
    order = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
    names = ", ".join(h for h in order if h in allowed)
    return f"{what} is only valid in the {names} chains, not in {hook}"


def need_tables(ctx: RuleContext, allowed: Collection[str], what: str) -> str | None:
    if ctx.table in allowed:
        return None
    return f"{what} is only valid in the {' or '.join(sorted(allowed))} table"


def need_protocol(ctx: RuleContext, number: int, name: str) -> str | None:
    """`-p NAME` without `!`, as matches with a fixed protocol (`.proto`) require."""
    if ctx.protocol != number or ctx.protocol_invert:
        return f"needs `-p {name}'"
    return None
