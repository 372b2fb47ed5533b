"""Merging a path's alternatives `(…, c, …)` and `(…, not c, …)` into `(…, …)`.

The rule is simple, but an abstract trace of a big firewall gives a verdict thousands of
alternatives, and the first version (find the first pair, merge it, scan again from the start)
took about a minute to print the forward answer of the TUM firewall. This one keeps the same
answer: pairs are found through an index of each alternative with one condition left out, and
taken in the same order, the first pair in list order first.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from .logic import negate_text

__all__ = ["simplify"]

Conditions = tuple[str, ...]
#: an alternative with one condition left out: (length, position, the other conditions)
_Rest = tuple[int, int, Conditions]


class _Merger:
    """The live alternatives in list order (by serial number) and who can merge with whom."""

    def __init__(self) -> None:
        self.serial: dict[Conditions, int] = {}  # live alternatives, in list order
        self.next_serial = 0
        # per alternative-without-one-condition: the left-out conditions, and their negations
        self.by_text: dict[_Rest, dict[str, set[Conditions]]] = {}
        self.by_negation: dict[_Rest, dict[str, set[Conditions]]] = {}
        # candidate pairs (first's serial, second's serial, first, second, position)
        self.pairs: list[tuple[int, int, Conditions, Conditions, int]] = []

    def add(self, item: Conditions) -> None:
        """Append `item` to the list unless it is there already (the earlier one stays)."""
        if item in self.serial:
            return
        serial = self.serial[item] = self.next_serial
        self.next_serial += 1
        for k, text in enumerate(item):
            rest: _Rest = (len(item), k, item[:k] + item[k + 1:])
            # an alternative merges with this one if its condition here is this one's
            # negation, or this one is the negation of its condition
            for other in (self.by_text.get(rest, {}).get(negate_text(text), set())
                          | self.by_negation.get(rest, {}).get(text, set())):
                heapq.heappush(self.pairs, (self.serial[other], serial, other, item, k))
            self.by_text.setdefault(rest, {}).setdefault(text, set()).add(item)
            self.by_negation.setdefault(rest, {}).setdefault(negate_text(text), set()).add(item)

    def remove(self, item: Conditions) -> None:
        del self.serial[item]
        for k, text in enumerate(item):
            rest: _Rest = (len(item), k, item[:k] + item[k + 1:])
            self.by_text[rest][text].discard(item)
            self.by_negation[rest][negate_text(text)].discard(item)

    def first_pair(self) -> tuple[Conditions, Conditions, int] | None:
        """The mergeable pair whose first member comes first in the list, and of its
        partners the first; pairs with a member merged away since are dropped here."""
        while self.pairs:
            first_serial, second_serial, first, second, k = heapq.heappop(self.pairs)
            if (self.serial.get(first) == first_serial
                    and self.serial.get(second) == second_serial):
                return first, second, k
        return None


def simplify(alternatives: Iterable[Conditions]) -> list[Conditions]:
    """Merge alternatives `(…, c, …)` and `(…, not c, …)` into `(…, …)` until none remain.

    Each step merges the first pair in list order (the earlier alternative, then its first
    partner), drops both and appends the merged one unless the list has it already."""
    merger = _Merger()
    for item in alternatives:
        merger.add(item)
    while (pair := merger.first_pair()) is not None:
        first, second, k = pair
        merger.remove(first)
        merger.remove(second)
        merger.add(first[:k] + first[k + 1:])
    return sorted(merger.serial, key=merger.serial.__getitem__)
