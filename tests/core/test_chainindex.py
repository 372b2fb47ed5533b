"""Three-valued decisions (`chainindex.kleene`) are sound: a rule the skipper passes over
because a condition fails whichever way the undecided parts go fails on every completion of
the path's unknowns (the interpreter, splitting it, finds only failing pieces and does not
fork: `interp.either_way`). Indexes of big dispatch chains are read off the rules' `-d`
without compiling them, and fall back to every compiled test when that is not selective.
(That indexes change nothing but speed is `tests/perf/test_trace_speed.py`'s.)"""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from iptparse.chainindex import ExactValues, build_index, decide, kleene
from iptparse.domain import IntSet
from iptparse.logic import And, Assume, Not, Or, Pred, Test
from iptparse.nodes import Family
from iptparse.parser import parse_iptables
from iptparse.ruleset import CompiledChain, CompiledTable, Ruleset

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


def _nat_chain(rules: list[str]) -> tuple[CompiledTable, CompiledChain]:
    text = "*nat\n:PREROUTING ACCEPT [0:0]\n:SVC - [0:0]\n:X - [0:0]\n" + "".join(
        f"-A SVC {rule}\n" for rule in rules) + "COMMIT\n"
    table = Ruleset([parse_iptables(text)]).table(Family.INET, "nat")
    assert table is not None
    chain = table.chain("SVC")
    assert chain is not None
    return table, chain


def test_a_dispatch_chain_is_indexed_by_destination_without_compiling_it() -> None:
    rules = [f"-d 10.0.{i // 200}.{i % 200}/32 -p tcp -m tcp --dport {80 + i % 3} -j X"
             for i in range(400)] + ["-m addrtype --dst-type LOCAL -j X"]
    table, chain = _nat_chain(rules)
    index = build_index(table, chain)
    assert index is not None and [p.field for p in index.parts] == ["dst"]
    assert index.always == (400,)  # the rule without -d is compiled and weighed in full
    assert [i for i, c in enumerate(chain.compiled) if c is not None] == [400]
    assert table._hooks is None  # nor is the table's jump graph worked out (NETMAP's need)
    # 10.0.0.5: its own rule and the one without -d
    assert index.candidates(lambda f: 0x0A000005 if f == "dst" else None) == (5, 400)


def test_one_address_many_ports_falls_back_to_the_compiled_tests() -> None:
    table, chain = _nat_chain([f"-d 10.0.0.1/32 -p tcp -m tcp --dport {1000 + i} -j X"
                               for i in range(100)])
    index = build_index(table, chain)
    assert index is not None and [p.field for p in index.parts] == ["dport"]
