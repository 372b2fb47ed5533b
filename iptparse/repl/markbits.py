"""Names for the bits of a mark field, read from how a dump uses them.

Calico keeps its "accept" verdict in 0x10000 of the packet mark, kube-proxy its "masquerade"
request in 0x4000; no dump says so in words, but the rules show it: the chain that sets the bit
(KUBE-MARK-MASQ), the verdict that follows a test of it (`--mark 0x10000/0x10000 -j ACCEPT`),
the target that a `! --mark B/B -j RETURN` guard protects (MASQUERADE), and comments that say
"accepted". Each is a vote for a word; words that are prefixes of one another are the same
name (masq, masquerade). A bit without votes stays unnamed and is shown by value only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["MarkBit", "RuleFacts", "name_bits"]

VERDICTS = frozenset({"ACCEPT", "DROP", "REJECT"})
_CHAIN_WORD = re.compile(r"(?i)mark[-_]([a-z][a-z0-9]*)")
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class RuleFacts:
    """What one rule does with a mark field (value, mask pairs as iptables-save shows them)."""

    table: str
    chain: str
    tests: tuple[tuple[int, int, bool], ...] = ()  # (value, mask, inverted)
    sets: tuple[tuple[int, int], ...] = ()  # MARK --set-xmark value/mask
    comments: tuple[str, ...] = ()
    target: str | None = None
    target_is_chain: bool = False
    other_matches: bool = False  # matches besides the mark test and comments


@dataclass
class MarkBit:
    bit: int
    name: str | None = None
    tested: int = 0
    changed: int = 0
    votes: dict[str, int] = field(default_factory=dict)


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low
        mask ^= low


def _vote(bit: MarkBit, word: str, weight: int) -> None:
    word = word.lower()
    bit.votes[word] = bit.votes.get(word, 0) + weight


def name_bits(rules: Sequence[RuleFacts]) -> list[MarkBit]:
    """Every bit some rule tests or changes, lowest first, named where the rules allow."""
    found: dict[int, MarkBit] = {}

    def entry(b: int) -> MarkBit:
        return found.setdefault(b, MarkBit(b))

    comments_for: dict[int, list[str]] = {}
    for index, rule in enumerate(rules):
        for value, mask, inverted in rule.tests:
            for b in _bits(mask):
                bit = entry(b)
                bit.tested += 1
                wants_set = bool(value & b) != inverted
                if wants_set:
                    comments_for.setdefault(b, []).extend(rule.comments)
                    if rule.target in VERDICTS and not rule.other_matches:
                        _vote(bit, rule.target, 1)
                elif inverted and rule.target == "RETURN" and value & b:
                    # `! --mark B/B -j RETURN`: what follows in the chain is what B asks for
                    for later in _rest_of_chain(rules, index):
                        if later.target and not later.target_is_chain and later.target not in (
                                "MARK", "RETURN") and not later.sets:
                            _vote(bit, later.target, 1)
        for value, mask in rule.sets:
            for b in _bits(mask | value):  # a value bit outside the mask is toggled
                bit = entry(b)
                bit.changed += 1
                if value & mask & b:
                    comments_for.setdefault(b, []).extend(rule.comments)
                    m = _CHAIN_WORD.search(rule.chain)
                    if m:
                        _vote(bit, m.group(1), 3)
    for b, bit in found.items():
        for comment in comments_for.get(b, ()):
            for word in {w.lower() for w in _WORD.findall(comment)}:
                for candidate in list(bit.votes):
                    if word.startswith(candidate) and len(candidate) >= 4:
                        _vote(bit, candidate, 1)
        bit.name = _best(bit.votes)
    return [found[b] for b in sorted(found)]


def _rest_of_chain(rules: Sequence[RuleFacts], index: int) -> Iterable[RuleFacts]:
    here = rules[index]
    for later in rules[index + 1:]:
        if (later.table, later.chain) != (here.table, here.chain):
            return
        yield later


def _best(votes: dict[str, int]) -> str | None:
    """The word with the most votes once prefixes are merged into their longest form."""
    merged: dict[str, int] = {}
    for word in sorted(votes, key=len, reverse=True):
        longer = next((w for w in merged if w.startswith(word)), None)
        key = longer or word
        merged[key] = merged.get(key, 0) + votes[word]
    if not merged:
        return None
    best = max(merged.items(), key=lambda item: (item[1], item[0]))
    return best[0]
