"""Objects built without `__init__` are the objects `__init__` builds."""

from __future__ import annotations

import dataclasses

from iptparse.construct import slot_constructor
from iptparse.nodes import (
    Address,
    Counters,
    Family,
    Interface,
    Match,
    Protocol,
    RawOptions,
    Rule,
    Target,
)
from iptparse.parser import parse_iptables
from iptparse.ruleset import CompiledRule, Condition, Ruleset
from iptparse.semantics import CompileContext
from iptparse.source import Span

from ..conftest import PROJECT_CORPORA


def test_slot_constructor_sets_every_field() -> None:
    values = ("C", Address(Family.INET, 1, 0xFFFFFFFF), True, None, False,
              Interface("eth0"), None, Protocol(6), False, (Match("x", RawOptions("--y 1")),),
              Target("ACCEPT"), Counters(1, 2), Span(7, 3), ("# c",), " ")
    built = slot_constructor(Rule)(*values)
    expected = Rule(*values)
    for f in dataclasses.fields(Rule):
        assert getattr(built, f.name) == getattr(expected, f.name), f.name
    assert type(built) is Rule and built == expected and hash(built) == hash(expected)


def test_compiled_rules_equal_those_init_builds() -> None:
    """Every rule of the kube-proxy corpus, compiled: its conditions, its context's key and
    the rule itself as `__init__` makes them (`ref` included, which `__post_init__` sets)."""
    text = (PROJECT_CORPORA / "kube-proxy" / "iptables-save.txt").read_text()
    ruleset = Ruleset([parse_iptables(text)])
    compiled = 0
    for name in ("nat", "filter"):
        table = ruleset.table(Family.INET, name)
        assert table is not None
        for chain in table.chains.values():
            for index in range(len(chain.rules)):
                rule = table.rule(chain, index)
                again = CompiledRule(rule.table, rule.chain, rule.number, rule.rule,
                                     tuple(Condition(c.pred, c.written, c.module, c.family)
                                           for c in rule.conditions), rule.action, rule.family)
                assert rule == again and rule.ref == again.ref
                assert [c.source for c in rule.conditions] == [
                    c.source for c in again.conditions]
                assert rule.text == again.text
                compiled += 1
    assert compiled > 100
    built = slot_constructor(CompileContext)(Family.INET, "nat", "X", 3, {}, None, None, 1)
    assert built == CompileContext(Family.INET, "nat", "X", 3)
    assert built.key("limit") == "limit@nat:X:3" and built.hooks == frozenset()
