"""Splitting states on predicates, and mark arithmetic on partly known marks."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet
from iptparse.logic import (
    And,
    Assume,
    BitsExpr,
    Box,
    Branch,
    Chance,
    Moved,
    Not,
    Or,
    Step,
    Test,
    XorMask,
    split,
)
from iptparse.nodes import Family

EMPTY = Branch(Box({}, Family.INET))
PORT = 0xFFFF


def test_concrete_value_never_splits() -> None:
    branch = Branch(Box({"dport": IntSet.single(80, PORT)}, Family.INET))
    holds, fails = split(Test("dport", IntSet.range(1, 1023, PORT)), branch, {})
    assert holds == [branch] and fails == []


def test_unknown_value_splits_into_disjoint_parts() -> None:
    holds, fails = split(Test("dport", IntSet.single(8080, PORT)), EMPTY, {})
    assert [b.box.get("dport") for b in holds] == [IntSet.single(8080, PORT)]
    assert [str(c) for c in holds[0].conditions] == ["dport = 8080"]
    assert 8080 not in fails[0].box.get("dport")


def test_and_or_not_partition_the_state() -> None:
    pred = Or((And((Test("dport", IntSet.single(22, PORT)),
                    Not(Test("src", IntSet.prefix(0x0A000000, 8, 32))))),
               Test("sport", IntSet.single(53, PORT))))
    holds, fails = split(pred, EMPTY, {})
    # every concrete packet lands on exactly one side
    for dport, src, sport in [(22, 0x0B000001, 1), (22, 0x0A000001, 53), (80, 1, 2)]:
        packet = {"dport": dport, "src": src, "sport": sport}
        inside = sum(all(packet[k] in b.box.get(k) for k in packet) for b in holds)
        outside = sum(all(packet[k] in b.box.get(k) for k in packet) for b in fails)
        expected = (dport == 22 and not 0x0A000000 <= src <= 0x0AFFFFFF) or sport == 53
        assert (inside, outside) == ((1, 0) if expected else (0, 1))


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1),
       st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_mark_expression_matches_kernel_arithmetic(start: int, value: int, mask: int,
                                                   test_value: int, test_mask: int) -> None:
    """MARK --set-xmark value/mask then -m mark --mark test_value/test_mask, on a known mark,
    must agree with the kernel's (mark & ~mask) ^ value."""
    expr = BitsExpr.var("mark", 32).xmark(value, mask)
    box = Box({"mark": BitSet.single(start, 32)}, Family.INET)
    new = (start & ~mask) ^ value
    holds, _ = split(Test("mark", BitSet.cube(test_value, test_mask, 32)), Branch(box),
                     {"mark": expr})
    assert bool(holds) == ((new & test_mask) == (test_value & test_mask))


def test_partly_known_mark_keeps_unknown_bits_unknown() -> None:
    expr = BitsExpr.var("mark", 32).xmark(0x10000, 0x10000)
    # bit 16 is now known set: the test is decided without splitting
    holds, fails = split(Test("mark", BitSet.cube(0x10000, 0x10000, 32)), EMPTY,
                         {"mark": expr})
    assert holds == [EMPTY] and fails == []
    # bit 17 is still the input's: the test splits and constrains the input mark
    holds, fails = split(Test("mark", BitSet.cube(0x20000, 0x20000, 32)), EMPTY,
                         {"mark": expr})
    assert holds[0].box.get("mark") == BitSet.cube(0x20000, 0x20000, 32)
    assert fails[0].box.get("mark") == BitSet.cube(0, 0x20000, 32)


def test_chance_weights_and_replay() -> None:
    holds, fails = split(Chance(Fraction(1, 3), "stat"), EMPTY, {})
    assert holds[0].weight == Fraction(1, 3) and fails[0].weight == Fraction(2, 3)
    # a state that already drew keeps its side and its weight
    again, none = split(Chance(Fraction(1, 3), "stat"), holds[0], {})
    assert again == holds and none == []


def test_assumption_can_be_pinned() -> None:
    pinned = Branch(Box({"?limit@x": IntSet.single(0, 1)}, Family.INET))
    holds, fails = split(Assume("limit@x", "limit", "under", "over"), pinned, {})
    assert holds == [] and fails == [pinned]


_STEPS = st.one_of(st.sampled_from([-200, -3, -2, -1, 1, 2, 3, 200]),
                   st.builds(XorMask, st.integers(0, 255), st.integers(0, 255)))


@given(steps=st.lists(_STEPS, max_size=4), lo=st.integers(0, 255), width=st.integers(0, 40),
       stride=st.integers(1, 7))
def test_a_moved_field_is_undone_exactly(steps: list[Step], lo: int, width: int,
                                         stride: int) -> None:
    """A byte moved by steps that stop at 0 and 255 (forwarding, TTL --ttl-dec/--ttl-inc) or
    with bits rewritten (TOS, DSCP, ECN): `of` gives the field's values, `back` the input
    values that lead into a set, `then` joins steps without changing what they do."""
    moved_field = Moved("ttl", ())
    for step in steps:
        moved_field = moved_field.then(step)
    values = IntSet.values(range(lo, min(255, lo + width) + 1, stride), 255)

    def moved(v: int) -> int:
        for step in steps:
            if isinstance(step, XorMask):
                v = (v & ~step.mask & 0xFF) ^ step.value
            else:
                v = max(0, min(255, v + step))
        return v

    assert all(moved_field.value(v, 255) == moved(v) for v in range(256))
    assert set(moved_field.of(values)) == {moved(v) for v in values}
    assert set(moved_field.back(values)) == {v for v in range(256) if moved(v) in values}
