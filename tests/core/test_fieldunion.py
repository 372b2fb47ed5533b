"""Ways alike but for one field's part, joined on it: exact unions, and the packets the ways
allow unchanged."""

from __future__ import annotations

import ast
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet, NameSet, ValueSet
from iptparse.fieldunion import Part, merge_fields, union


def test_name_sets_join_exactly_or_not_at_all() -> None:
    eth0, eth1, lo = NameSet.of("eth0"), NameSet.of("eth1"), NameSet.of("lo")
    assert union(eth0, eth1) == NameSet.of("eth0", "eth1")
    not_eth0 = NameSet(None, [("eth0", False), ("lo", False)])
    not_eth1 = NameSet(None, [("eth1", False), ("lo", False)])
    assert union(not_eth0, not_eth1) == NameSet(None, [("lo", False)])
    assert union(not_eth0, eth0) == NameSet(None, [("lo", False)])
    assert union(eth0, not_eth0) == NameSet(None, [("lo", False)])
    assert union(lo, not_eth0) == NameSet(None, [("eth0", False)])
    assert union(NameSet([("veth", True)]), eth0) is None  # a prefix: not exact
    assert union(IntSet.single(1, 7), eth0) is None


def _part(name: str, values: IntSet) -> Part:
    return Part(f"{name} in {list(values)}", name, name, values)


def _whole(var: str, values: ValueSet) -> bool:
    return values.is_all


def _describe(var: str, values: ValueSet) -> str:
    assert isinstance(values, IntSet)
    return f"in {list(values)}"


STATES = IntSet.all(4)


def test_a_field_split_three_ways_joins_and_goes_when_whole() -> None:
    lo = Part("iif ≠ lo")  # not a field's whole constraint here: never joined on
    ways = [(_part("s", IntSet.single(0, 4)), lo), (_part("s", IntSet.single(1, 4)), lo),
            (_part("s", IntSet.range(2, 4, 4)), lo)]
    assert merge_fields(ways, _whole, _describe) == [("iif ≠ lo",)]
    assert merge_fields(ways[:2], _whole, _describe) == [("s in [0, 1]", "iif ≠ lo")]
    other = [ways[0], (_part("s", IntSet.single(1, 4)), Part("iif = lo"))]
    assert merge_fields(other, _whole, _describe) == [
        ("s in [0]", "iif ≠ lo"), ("s in [1]", "iif = lo")]  # the rest differs


def test_a_union_cut_short_is_not_said() -> None:
    def cut(var: str, values: ValueSet) -> str:
        return "∉ {…}"

    ways = [(_part("s", IntSet.single(0, 4)),), (_part("s", IntSet.single(1, 4)),)]
    assert merge_fields(ways, _whole, cut) == [("s in [0]",), ("s in [1]",)]


def _packets(texts: list[tuple[str, ...]]) -> set[tuple[int, int]]:
    """The (a, b) values the ways allow, read back from their texts."""
    out: set[tuple[int, int]] = set()
    for way in texts:
        allowed = {"a": set(range(8)), "b": set(range(4))}
        for text in way:
            name, _, values = text.partition(" in ")
            allowed[name] &= set(ast.literal_eval(values))
        out |= set(itertools.product(allowed["a"], allowed["b"]))
    return out


subsets_a = st.sets(st.integers(0, 7), min_size=1).map(lambda v: IntSet.values(v, 7))
subsets_b = st.sets(st.integers(0, 3), min_size=1).map(lambda v: IntSet.values(v, 3))
ways = st.lists(st.tuples(subsets_a, subsets_b).map(
    lambda ab: (_part("a", ab[0]), _part("b", ab[1]))), max_size=10)


@settings(max_examples=300, deadline=None)
@given(ways)
def test_joining_keeps_the_packets_the_ways_allow(items: list[tuple[Part, ...]]) -> None:
    before = _packets([tuple(p.text for p in way) for way in items])
    after = merge_fields(items, _whole, _describe)
    assert _packets(after) == before
    assert len(after) <= len(set(items))


def test_bit_sets_join_in_the_fewest_cubes() -> None:
    either = union(BitSet.cube(0x2000000, 0xA000000, 32), BitSet.cube(0xA000000, 0xA000000, 32))
    assert isinstance(either, BitSet) and either.cubes == ((0x2000000, 0x2000000),)
    inside = union(BitSet.cube(0x1, 0x3, 32), BitSet.cube(0x1, 0x1, 32))
    assert isinstance(inside, BitSet) and inside.cubes == ((0x1, 0x1),)


cubes = st.lists(st.tuples(st.integers(0, 15), st.integers(0, 15)), min_size=1, max_size=4)


@settings(max_examples=300, deadline=None)
@given(cubes, cubes)
def test_bit_set_unions_hold_the_same_values(a: list[tuple[int, int]],
                                             b: list[tuple[int, int]]) -> None:
    left = BitSet([(v & m, m) for v, m in a], 4)
    right = BitSet([(v & m, m) for v, m in b], 4)
    joined = union(left, right)
    assert isinstance(joined, BitSet)
    assert {x for x in range(16) if x in joined} == {
        x for x in range(16) if x in left or x in right}
