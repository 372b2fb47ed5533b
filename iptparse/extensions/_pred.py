"""Predicate building blocks shared by the match (and some target) semantics.

The kernel code of a match is a cascade of early `return false`, `^ invert` and "not a
non-first fragment" guards. Written with And/Or/Not directly that leaves TRUE/FALSE leaves,
double negations and one-part conjunctions that make traces read badly, so these helpers fold
constants away (a predicate only keeps the tests that can split a path) and build the common
tests with texts people read ("TTL < 5", "the packet has an SCTP INIT chunk").
"""

from __future__ import annotations

from ..domain import BitSet, IntSet, NameSet
from ..fields import field_spec
from ..logic import FALSE, TRUE, And, Const, Not, Or, Pred, Test

__all__ = [
    "bit_present",
    "conj",
    "disj",
    "first_fragment",
    "flag",
    "in_range",
    "invert",
    "is_local",
    "neg",
    "when",
]


def conj(*parts: Pred) -> Pred:
    """And, dropping TRUE parts; FALSE when any part is FALSE."""
    kept: list[Pred] = []
    for part in parts:
        if isinstance(part, Const):
            if not part.value:
                return FALSE
            continue
        kept.append(part)
    if not kept:
        return TRUE
    return kept[0] if len(kept) == 1 else And(tuple(kept))


def disj(*parts: Pred) -> Pred:
    """Or, dropping FALSE parts; TRUE when any part is TRUE."""
    kept: list[Pred] = []
    for part in parts:
        if isinstance(part, Const):
            if part.value:
                return TRUE
            continue
        kept.append(part)
    if not kept:
        return FALSE
    return kept[0] if len(kept) == 1 else Or(tuple(kept))


def neg(part: Pred) -> Pred:
    """Not, folding constants and double negations."""
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


def first_fragment() -> Test:
    """`par->fragoff == 0`: every transport-header match (and target) gives up on later
    fragments, which do not carry the header."""
    return flag("fragment", 0, "the packet is not a non-first fragment",
                "the packet is a non-first fragment")


def in_range(name: str, lo: int, hi: int, label: str | None = None) -> Pred:
    """`lo <= field <= hi` on an integer field, the ends clipped to what the field can hold
    (the kernel keeps 32-bit bounds for 8- and 16-bit header fields); FALSE when nothing is
    left, TRUE when the range covers the whole field."""
    top = field_spec(name).width
    top_value = (1 << top) - 1
    lo, hi = max(lo, 0), min(hi, top_value)
    if lo > hi:
        return FALSE
    if lo == 0 and hi == top_value:
        return TRUE
    shown = label or name
    if lo == hi:
        text, neg_text = f"{shown} = {lo}", f"{shown} ≠ {lo}"
    elif lo == 0:
        text, neg_text = f"{shown} ≤ {hi}", f"{shown} > {hi}"
    elif hi == top_value:
        text, neg_text = f"{shown} ≥ {lo}", f"{shown} < {lo}"
    else:
        text, neg_text = f"{shown} ∈ {lo}-{hi}", f"{shown} ∉ {lo}-{hi}"
    return Test(name, IntSet.range(lo, hi, top_value), text, neg_text)


def bit_present(name: str, bit: int, text: str, neg_text: str) -> Test:
    """Bit `bit` of a bit field is set (an option kind, a chunk type, a header is present)."""
    width = field_spec(name).width
    return Test(name, BitSet.cube(1 << bit, 1 << bit, width), text, neg_text)


def is_local() -> Test:
    """The packet was generated on this host: it has no input interface.

    At OUTPUT and POSTROUTING this tells a local packet from a forwarded one, which is what
    decides whether the packet can carry a socket or a link-layer type other than "host".
    """
    return Test("iif", NameSet.single(""), "the packet is locally generated (no input "
                "interface)", "the packet came in on an interface")
