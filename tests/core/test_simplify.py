"""Merging a path's alternatives: the indexed `simplify` against its definition.

The definition is the first version, kept here: find the first pair in list order that
differs in one condition and its negation, merge it, append the result, start again. The
indexed version must give the same list, in the same order, for any input.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from iptparse.logic import negate_text
from iptparse.simplify import simplify


def reference(alternatives: list[tuple[str, ...]],
              negations: dict[str, str] | None = None) -> list[tuple[str, ...]]:
    def negate(text: str) -> str:
        return (negations or {}).get(text) or negate_text(text)

    items = list(dict.fromkeys(alternatives))
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(items):
            for j in range(i + 1, len(items)):
                b = items[j]
                if len(a) != len(b):
                    continue
                diff = [k for k in range(len(a)) if a[k] != b[k]]
                if len(diff) == 1 and (negate(a[diff[0]]) == b[diff[0]]
                                       or negate(b[diff[0]]) == a[diff[0]]):
                    merged = a[: diff[0]] + a[diff[0] + 1:]
                    items = [x for k, x in enumerate(items) if k not in (i, j)] + [merged]
                    items = list(dict.fromkeys(items))
                    changed = True
                    break
            if changed:
                break
    return items


#: few distinct conditions, so that pairs meet often and overlap: each with its negation, and
#: `not (…)`, which negate_text negates by wrapping again (so only one direction matches)
_CONDITIONS = ["a = 1", "a ≠ 1", "b ∈ {1, 2}", "b ∉ {1, 2}", "c matches cali+",
               "c does not match cali+", "x", "not (x)", "not (not (x))"]

alternatives = st.lists(st.lists(st.sampled_from(_CONDITIONS), max_size=3).map(tuple),
                        max_size=12)


#: a firewall's shape: the same few conditions in the same places, each one way or the other
_PLACES = [("a = 1", "a ≠ 1"), ("b ∈ {1, 2}", "b ∉ {1, 2}"), ("x", "not (x)")]
assignments = st.lists(st.tuples(st.integers(1, 3), st.integers(0, 7)).map(
    lambda p: tuple(_PLACES[i][p[1] >> i & 1] for i in range(p[0]))), max_size=12)


@settings(max_examples=600, deadline=None)
@given(alternatives)
def test_the_same_merges_in_the_same_order(items: list[tuple[str, ...]]) -> None:
    assert simplify(items) == reference(items)


@settings(max_examples=600, deadline=None)
@given(assignments)
def test_the_same_merges_on_overlapping_pairs(items: list[tuple[str, ...]]) -> None:
    assert simplify(items) == reference(items)


def test_the_first_pair_in_list_order_merges_first() -> None:
    """Pairs that share an alternative: which merges decides the answer (both are right)."""
    first, second, third = ("a = 1", "b = 1"), ("a ≠ 1", "b ≠ 1"), ("a ≠ 1", "b = 1")
    # first+third come before second+third: merged to (b = 1), second stays
    assert simplify([first, second, third]) == [second, ("b = 1",)]
    assert simplify([second, first, third]) == [first, ("a ≠ 1",)]
    # and of the first one's partners, the first: first+second' before first+third'
    partner, other = ("a ≠ 1", "b = 1"), ("a = 1", "b ≠ 1")
    assert simplify([first, partner, other]) == reference([first, partner, other])
    assert simplify([first, partner, other]) == [other, ("b = 1",)]


def test_what_merges() -> None:
    assert simplify([("a = 1", "b = 2"), ("a = 1", "b ≠ 2")]) == [("a = 1",)]
    assert simplify([("a = 1", "b = 2"), ("a ≠ 1", "b ≠ 2")]) == [("a = 1", "b = 2"),
                                                                    ("a ≠ 1", "b ≠ 2")]
    assert simplify([("a = 1",), ("a ≠ 1",)]) == [()]
    assert simplify([]) == []


def test_thousands_of_alternatives_merge_down_to_one() -> None:
    """Every assignment of twelve yes/no conditions merges down to one empty alternative:
    the index stays right through 4,095 merges that replace the alternatives it holds."""
    names = [f"f{i}" for i in range(12)]
    items = [tuple(f"{n} = 1" if bits >> i & 1 else f"{n} ≠ 1" for i, n in enumerate(names))
             for bits in range(1 << len(names))]
    assert simplify(items) == [()]


#: conditions whose negation is known only from their fork (no wording pairs them), beside
#: worded ones
_FORKED = {"limit 1 under": "limit 1 over", "limit 1 over": "limit 1 under",
           "limit 2 under": "limit 2 over", "limit 2 over": "limit 2 under"}
forked = st.lists(st.lists(st.sampled_from([*_FORKED, "a = 1", "a ≠ 1", "x"]), max_size=3)
                  .map(tuple), max_size=12)


@settings(max_examples=300, deadline=None)
@given(forked)
def test_negations_given_by_the_forks(items: list[tuple[str, ...]]) -> None:
    assert simplify(items, _FORKED) == reference(items, _FORKED)


def test_a_condition_decided_again_further_on_leaves_the_answer() -> None:
    """A limit that only decides whether to log, then a second one inside: every way ends
    alike, so the answer is the condition before them."""
    ways = [("a = 1", "limit 1 over"), ("a = 1", "limit 1 under", "limit 2 over"),
            ("a = 1", "limit 1 under", "limit 2 under")]
    assert simplify(ways, _FORKED) == [("a = 1",)]
    assert simplify(ways) == ways  # by wording alone, nothing pairs
