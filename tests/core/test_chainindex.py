"""Three-valued decisions (`chainindex.kleene`) are sound: a rule the skipper passes over
because a condition fails whichever way the undecided parts go fails on every completion of
the path's unknowns (the interpreter, splitting it, finds only failing pieces and does not
fork: `interp.either_way`)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from iptparse.chainindex import ExactValues, decide, kleene
from iptparse.domain import IntSet
from iptparse.logic import And, Assume, Not, Or, Pred, Test

FIELDS = ("a", "b", "c")


def _leaf(name: str, value: int) -> Pred:
    return Test(name, IntSet.single(value, 1))


leaves = st.builds(_leaf, st.sampled_from(FIELDS), st.integers(0, 1)) | st.builds(
    lambda key: Assume(key, "k", f"{key} holds", f"{key} fails"), st.sampled_from(("x", "y")))
predicates = st.recursive(leaves, lambda inner: (
    st.builds(lambda parts: And(tuple(parts)), st.lists(inner, min_size=1, max_size=3))
    | st.builds(lambda parts: Or(tuple(parts)), st.lists(inner, min_size=1, max_size=3))
    | st.builds(Not, inner)), max_leaves=8)
# each field and flag: 0, 1 or unknown (None)
knowns = st.fixed_dictionaries({name: st.sampled_from((0, 1, None))
                                for name in (*FIELDS, "?x", "?y")})


@given(predicates, knowns)
def test_kleene_agrees_with_every_completion(pred: Pred, known: dict[str, int | None]) -> None:
    held = kleene(pred, ExactValues(known.get))
    unknown = [name for name, value in known.items() if value is None]
    for values in itertools.product((0, 1), repeat=len(unknown)):
        complete = {**known, **dict(zip(unknown, values, strict=True))}
        exact = decide(pred, ExactValues(complete.get))
        assert exact is not None
        if held is not None:
            assert exact is held


@given(predicates, knowns)
def test_kleene_decides_whatever_decide_does(pred: Pred, known: dict[str, int | None]) -> None:
    strict = decide(pred, ExactValues(known.get))
    if strict is not None:
        assert kleene(pred, ExactValues(known.get)) is strict


def test_kleene_looks_past_an_undecided_part() -> None:
    ask = ExactValues({"a": 0, "?x": None}.get)
    rule = And((Assume("x", "k", "x", "not x"), _leaf("a", 1)))
    assert decide(rule, ask) is None  # the interpreter would split on x first
    assert kleene(rule, ask) is False  # and find every piece failing
