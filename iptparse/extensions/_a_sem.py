"""Predicate building blocks shared by the connection-state, mark and counting matches.

Most of these matches first ask the kernel for the packet's connection (`nf_ct_get`). Before the
conntrack hook, and for packets conntrack marked INVALID or UNTRACKED, there is none, and each
module then answers its own way (usually "no match", sometimes its `!` flag), so "the packet has
a connection" is a test every one of them needs, with the same readable text.
"""

from __future__ import annotations

from ..domain import BitSet, IntSet
from ..fields import CT_STATES
from ..logic import FALSE, TRUE, And, Const, Not, Or, Pred, Test

__all__ = [
    "CT_TOP",
    "ESTABLISHED",
    "INVALID",
    "NEW",
    "RELATED",
    "UNTRACKED",
    "all_of",
    "any_of",
    "bits_test",
    "has_connection",
    "invert_if",
    "states",
]

CT_TOP = len(CT_STATES) - 1
INVALID, NEW, ESTABLISHED, RELATED, UNTRACKED = (
    CT_STATES.index(name) for name in ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED"))


def states(*indexes: int, text: str | None = None, neg_text: str | None = None) -> Test:
    """`ctstate ∈ {…}` over CT_STATES indexes."""
    return Test("ctstate", IntSet.values(indexes, CT_TOP), text, neg_text)


def has_connection() -> Test:
    """nf_ct_get() finds a connection: every state but INVALID and UNTRACKED."""
    return states(NEW, ESTABLISHED, RELATED,
                  text="the packet has a connection (ctstate NEW, ESTABLISHED or RELATED)",
                  neg_text="the packet has no connection (ctstate INVALID or UNTRACKED)")


def bits_test(field: str, value: int, mask: int, width: int, label: str) -> Pred:
    """`(field & mask) == value`; a value with bits outside the mask never matches, exactly
    as the kernel compares it (the rule keeps the value unmasked)."""
    full = (1 << width) - 1
    if value & ~mask & full:
        return FALSE
    shown = f"{label} = {value:#x}" if mask == full else f"{label} & {mask:#x} = {value:#x}"
    return Test(field, BitSet.cube(value, mask, width), shown)


def invert_if(invert: bool, pred: Pred) -> Pred:
    return Not(pred) if invert else pred


def all_of(*parts: Pred) -> Pred:
    """And without the TRUE parts (FALSE when one part is FALSE)."""
    kept = [p for p in parts if not _is(p, True)]
    if any(_is(p, False) for p in kept):
        return FALSE
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def any_of(*parts: Pred) -> Pred:
    """Or without the FALSE parts (TRUE when one part is TRUE)."""
    kept = [p for p in parts if not _is(p, False)]
    if any(_is(p, True) for p in kept):
        return TRUE
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def _is(pred: Pred, value: bool) -> bool:
    return isinstance(pred, Const) and pred.value is value
