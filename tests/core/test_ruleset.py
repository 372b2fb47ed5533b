"""Compiled rules read exactly as the dump wrote them, though their texts are made lazily."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from iptparse.parser import parse_iptables
from iptparse.render import render_rule, render_rule_spec
from iptparse.ruleset import Ruleset

from ..conftest import PROJECT_CORPORA

DUMPS = sorted(p for p in PROJECT_CORPORA.rglob("*tables-save.txt"))


@pytest.mark.parametrize("path", DUMPS, ids=lambda p: str(p.relative_to(PROJECT_CORPORA)))
def test_conditions_read_as_the_rule(path: Path) -> None:
    """Each condition's text, in the kernel's order, joined: the rule's spec as iptables-save
    prints it (IP part, then each match); the compiled rule's text is the whole rule."""
    dump = parse_iptables(path.read_text())
    ruleset = Ruleset([dump])
    checked = 0
    for table in dump.tables:
        compiled = ruleset.table(dump.family, table.name)
        assert compiled is not None
        for chain in table.chains:
            found = compiled.chain(chain.name)
            assert found is not None
            for i, rule in enumerate(chain.rules):
                rule_c = compiled.rule(found, i)
                spec = dataclasses.replace(rule, target=None, counters=None)
                assert " ".join(c.source for c in rule_c.conditions) == \
                    render_rule_spec(spec, dump.family).strip()
                assert rule_c.text == render_rule(rule, dump.family)
                checked += 1
    assert checked
