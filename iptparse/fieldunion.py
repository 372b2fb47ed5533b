"""Alternatives that differ only in one field's values read as one, with their union.

`simplify` joins a condition with its negation. A field that rules split into more than two
parts (the connection state: INVALID, NEW, ESTABLISHED,RELATED; an interface by name) gives
ways that differ only there and never pair up: `(ctstate = NEW and iif ≠ lo) or (ctstate ∉
{NEW, ESTABLISHED, RELATED} and iif ≠ lo)`. Joined on the field they read `ctstate ∉
{ESTABLISHED, RELATED} and iif ≠ lo`; when the union is all the field could be, the field
goes, as a condition and its negation do.

Only parts that state a field's whole constraint in the way are joined (`Part.values`); the
union is made only where it is exact (name sets of plain names; numbers and bits always), and
not where its text would be a list cut short (`dst ∉ {10.0.0.0/8, 172.16.0.0/13, …}` says
less than `dst ∉ {10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16}` or `dst = 172.27.224.1`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

from .domain import BitSet, IntSet, NameSet, ValueSet

__all__ = ["Part", "merge_fields", "union"]

#: above this many parts the ways are left as they are: the TUM firewall's forward answer has
#: thousands of ways, and what a summary shows of them is the first six
MAX_PARTS = 20_000


#: a way without one of its parts, each part by its text and values
_Rest = tuple[tuple[str, ValueSet | None], ...]


class Part(NamedTuple):
    """A condition as an answer reads it; for one that states a field's whole constraint in
    its way, the field (`var`, and `name` as the answer calls it) and its values."""

    text: str
    var: str = ""
    name: str = ""
    values: ValueSet | None = None


def union(a: ValueSet, b: ValueSet) -> ValueSet | None:
    """a ∪ b, or None where a name set cannot say it exactly (name prefixes)."""
    if isinstance(a, IntSet) and isinstance(b, IntSet):
        return a | b
    if isinstance(a, BitSet) and isinstance(b, BitSet):
        return _fewest_cubes(a | b)
    if not (isinstance(a, NameSet) and isinstance(b, NameSet)):
        return None
    patterns = [*(a.include or ()), *a.exclude, *(b.include or ()), *b.exclude]
    if any(is_prefix for _, is_prefix in patterns):
        return None
    if a.include is not None and b.include is not None:
        return NameSet([*a.include, *b.include])
    if a.include is None and b.include is None:
        return NameSet(None, set(a.exclude) & set(b.exclude))
    ruled_out, named = (a, b) if a.include is None else (b, a)
    assert named.include is not None
    return NameSet(None, set(ruled_out.exclude) - set(named.include))


def _fewest_cubes(bits: BitSet) -> BitSet:
    """The same set in fewer cubes, as a reader takes it: two cubes of one mask that differ in
    one bit are one cube without it (`mark & 0xa000000 = 0x2000000` or `= 0xa000000` is
    `mark & 0x2000000 = 0x2000000`), and a cube inside another goes."""
    cubes = set(bits.cubes)
    while (step := _one_fewer(cubes)) is not None:
        cubes = step
    return BitSet(sorted(cubes), bits.width)


def _one_fewer(cubes: set[tuple[int, int]]) -> set[tuple[int, int]] | None:
    """The cubes with one pair merged or one cube inside another dropped; None: no such."""
    for a, b in itertools.combinations(sorted(cubes), 2):
        (v1, m1), (v2, m2) = a, b
        differ = v1 ^ v2
        if m1 == m2 and differ.bit_count() == 1:
            return (cubes - {a, b}) | {(v1 & ~differ, m1 & ~differ)}
        for inner, (v, m) in ((a, b), (b, a)):
            if inner[1] & m == m and inner[0] & m == v:  # `inner` fixes every bit `b` fixes
                return cubes - {inner}
    return None


def merge_fields(ways: Sequence[tuple[Part, ...]],
                 whole: Callable[[str, ValueSet], bool],
                 describe: Callable[[str, ValueSet], str]) -> list[tuple[str, ...]]:
    """The ways as texts, those alike but for one field's part joined until none are.

    `whole(var, values)`: the values are all the field could be (the part goes);
    `describe(var, values)`: the part's text for the union. The first way of each joined group
    keeps its place."""
    items = list(dict.fromkeys(ways))
    if sum(len(item) for item in items) <= MAX_PARTS:
        while (joined := _join_round(items, whole, describe)) is not None:
            items = joined
    return [tuple(part.text for part in item) for item in items]


def _join_round(items: list[tuple[Part, ...]], whole: Callable[[str, ValueSet], bool],
                describe: Callable[[str, ValueSet], str]) -> list[tuple[Part, ...]] | None:
    """One pass: every group of ways alike but for one field's part, joined; None when no
    group has two ways."""
    groups: dict[tuple[int, int, str, str, _Rest], list[int]] = {}
    for i, item in enumerate(items):
        # the rest by its values too: a long set's text is cut short, and two sets may read
        # alike
        said = tuple((part.text, part.values) for part in item)
        for k, part in enumerate(item):
            if part.var and part.values is not None:
                key = (len(item), k, part.var, part.name, said[:k] + said[k + 1:])
                groups.setdefault(key, []).append(i)
    used: set[int] = set()
    joined: dict[int, tuple[Part, ...]] = {}
    for (_, k, var, name, _), members in groups.items():
        members = [m for m in members if m not in used]
        if len(members) < 2:
            continue
        values: ValueSet | None = items[members[0]][k].values
        for m in members[1:]:
            other = items[m][k].values
            assert values is not None and other is not None
            values = union(values, other)
            if values is None:
                break
        if values is None:
            continue
        first = items[members[0]]
        union_part: tuple[Part, ...] = ()
        if not whole(var, values):
            text = f"{name} {describe(var, values)}"
            if "…" in text and not any("…" in items[m][k].text for m in members):
                continue  # a list cut short says less than the ways it would replace
            union_part = (Part(text, var, name, values),)
        joined[members[0]] = first[:k] + union_part + first[k + 1:]
        used.update(members)
    if not joined:
        return None
    return list(dict.fromkeys(joined.get(i, item) for i, item in enumerate(items)
                              if i not in used or i in joined))
