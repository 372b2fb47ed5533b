"""Small predicate builders shared by the host and socket matches.

The kernel code of these matches is a cascade of early `return false` and `^ invert`; written
with And/Or/Not directly it leaves TRUE/FALSE leaves and one-element conjunctions that make
traces read badly. These helpers fold constants away so a predicate only ever contains the
tests that can actually split a path.
"""

from __future__ import annotations

from ..domain import IntSet, NameSet
from ..logic import FALSE, TRUE, And, Const, Not, Or, Pred, Test

__all__ = ["conj", "disj", "flag", "invert", "is_local", "neg", "when"]


def conj(*parts: Pred) -> Pred:
    """And, dropping TRUE parts; FALSE when any part is FALSE."""
    kept: list[Pred] = []
    for part in parts:
        if part == FALSE:
            return FALSE
        if part != TRUE:
            kept.append(part)
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def disj(*parts: Pred) -> Pred:
    """Or, dropping FALSE parts; TRUE when any part is TRUE."""
    kept: list[Pred] = []
    for part in parts:
        if part == TRUE:
            return TRUE
        if part != FALSE:
            kept.append(part)
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def neg(part: Pred) -> Pred:
    if isinstance(part, Const):
        return FALSE if part.value else TRUE
    if isinstance(part, Not):
        return part.part
    return Not(part)


def invert(part: Pred, inverted: bool) -> Pred:
    """`part ^ invert`, as the kernel writes it."""
    return neg(part) if inverted else part


def when(condition: Pred, then: Pred, otherwise: Pred) -> Pred:
    """`condition ? then : otherwise` (the kernel's early returns)."""
    return disj(conj(condition, then), conj(neg(condition), otherwise))


def flag(name: str, value: int, text: str, neg_text: str) -> Test:
    """A one-bit field holds `value`, with readable texts for both sides."""
    return Test(name, IntSet.single(value, 1), text, neg_text)


def is_local() -> Test:
    """The packet was generated on this host: it has no input interface.

    At OUTPUT and POSTROUTING this tells a local packet from a forwarded one, which is what
    decides whether the packet can carry a socket or a link-layer type other than "host".
    """
    return Test("iif", NameSet.single(""), "the packet is locally generated (no input "
                "interface)", "the packet came in on an interface")
