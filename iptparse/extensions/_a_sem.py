"""Predicate building blocks shared by the connection-state, mark and counting matches.

Most of these matches first ask the kernel for the packet's connection (`nf_ct_get`). Before the
conntrack hook, and for packets conntrack marked INVALID or UNTRACKED, there is none, and each
module then answers its own way (usually "no match", sometimes its `!` flag), so "the packet has
a connection" is a test every one of them needs, with the same readable text. The generic
folding helpers (conj, disj, neg…) are in `_pred`.
"""

from __future__ import annotations

from ..domain import BitSet, IntSet
from ..fields import CT_STATES
from ..logic import FALSE, Not, Pred, Test

__all__ = [
    "CT_TOP",
    "ESTABLISHED",
    "INVALID",
    "NEW",
    "RELATED",
    "UNTRACKED",
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
    """Not(pred) when inverted. Unlike `_pred.invert` it does not fold a constant or a double
    negation, so the traces of these modules keep reading as they always have."""
    return Not(pred) if invert else pred
