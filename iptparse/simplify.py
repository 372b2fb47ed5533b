"""Merging a path's alternatives `(…, c, …)` and `(…, not c, …)` into `(…, …)`.

A condition's negation is the other side of the fork that made it (`logic.Cond.negation`,
given by the caller): `limit … not exceeded` and `limit … exceeded`, or a membership's two
texts, are not each other's by wording. Conditions the caller does not pair are negated by
their wording (`logic.negate_text`), as `dport = 22` and `dport ≠ 22` are.

The rule is simple, but an abstract trace of a big firewall gives a verdict thousands of
alternatives, and the first version (find the first pair, merge it, scan again from the start)
took about a minute to print the forward answer of the TUM firewall. This one keeps the same
answer: pairs are found through an index of each alternative with one condition left out, and
taken in the same order, the first pair in list order first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from .logic import negate_text

__all__ = ["simplify"]

Conditions = tuple[str, ...]
#: an alternative with one condition left out: (length, position, the other conditions)
_Rest = tuple[int, int, Conditions]
#: the alternatives with a given rest, by the condition left out (or by its negation)
_ByText = dict[str, set[Conditions]]
_NONE: frozenset[Conditions] = frozenset()


def _add(index: _ByText, text: str, item: Conditions) -> None:
    found = index.get(text)
    if found is None:
        index[text] = {item}
    else:
        found.add(item)


class _Merger:
    """The live alternatives in list order (by serial number) and who can merge with whom."""

    def __init__(self, negations: Mapping[str, str]) -> None:
        self.serial: dict[Conditions, int] = {}  # live alternatives, in list order
        self.next_serial = 0
        # per alternative-without-one-condition: the left-out conditions, and their
        # negations, in one entry (the key is a tuple of all the other conditions: hashed
        # once per lookup, not once per map)
        self.by_rest: dict[_Rest, tuple[_ByText, _ByText]] = {}
        # candidate pairs (first's serial, second's serial, first, second, position)
        self.pairs: list[tuple[int, int, Conditions, Conditions, int]] = []
        # each condition's negation, made once: the same few hundred conditions recur in
        # thousands of alternatives (360,000 negations for the TUM firewall's answer)
        self.negations: dict[str, str] = dict(negations)

    def negation(self, text: str) -> str:
        negated = self.negations.get(text)
        if negated is None:
            negated = self.negations[text] = negate_text(text)
        return negated

    def add(self, item: Conditions) -> None:
        """Append `item` to the list unless it is there already (the earlier one stays)."""
        if item in self.serial:
            return
        serial = self.serial[item] = self.next_serial
        self.next_serial += 1
        for k, text in enumerate(item):
            rest: _Rest = (len(item), k, item[:k] + item[k + 1:])
            entry = self.by_rest.get(rest)
            if entry is None:
                entry = self.by_rest[rest] = ({}, {})
            by_text, by_negation = entry
            negation = self.negation(text)
            # an alternative merges with this one if its condition here is this one's
            # negation, or this one is the negation of its condition (rarely: no set is
            # made for the other 99.9% of conditions)
            partners = by_text.get(negation)
            reverse = by_negation.get(text)
            if partners or reverse:
                for other in (partners or _NONE) | (reverse or _NONE):
                    heapq.heappush(self.pairs, (self.serial[other], serial, other, item, k))
            _add(by_text, text, item)
            _add(by_negation, negation, item)

    def remove(self, item: Conditions) -> None:
        del self.serial[item]
        for k, text in enumerate(item):
            by_text, by_negation = self.by_rest[(len(item), k, item[:k] + item[k + 1:])]
            by_text[text].discard(item)
            by_negation[self.negation(text)].discard(item)

    def first_pair(self) -> tuple[Conditions, Conditions, int] | None:
        """The mergeable pair whose first member comes first in the list, and of its
        partners the first; pairs with a member merged away since are dropped here."""
        while self.pairs:
            first_serial, second_serial, first, second, k = heapq.heappop(self.pairs)
            if (self.serial.get(first) == first_serial
                    and self.serial.get(second) == second_serial):
                return first, second, k
        return None


def simplify(alternatives: Iterable[Conditions],
             negations: Mapping[str, str] | None = None) -> list[Conditions]:
    """Merge alternatives `(…, c, …)` and `(…, not c, …)` into `(…, …)` until none remain;
    `negations` gives conditions their negation where wording does not.

    Each step merges the first pair in list order (the earlier alternative, then its first
    partner), drops both and appends the merged one unless the list has it already."""
    merger = _Merger(negations or {})
    for item in alternatives:
        merger.add(item)
    while (pair := merger.first_pair()) is not None:
        first, second, k = pair
        merger.remove(first)
        merger.remove(second)
        merger.add(first[:k] + first[k + 1:])
    return sorted(merger.serial, key=merger.serial.__getitem__)
