"""Upstream iptables' extension test cases: OK cases print the expected text, FAIL cases are
rejected with a ParseError.

Cases iptparse does not pass yet are listed, with the reason, in
tests/data/extensions_t_known_failures.txt; a listed case that starts passing fails the test
too, so the list never goes stale.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from iptparse.errors import ParseError
from iptparse.nodes import BUILTIN_CHAINS
from iptparse.parser import parse_iptables
from iptparse.render import render_rule_spec

from .conftest import SHARED_CORPORA
from .extensions_t import Case, all_cases

FOLDER = SHARED_CORPORA / "iptables-extensions-t"
KNOWN = Path(__file__).parent / "data" / "extensions_t_known_failures.txt"


def _known_failures() -> dict[str, str]:
    known = {}
    if KNOWN.is_file():
        for line in KNOWN.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                case_id, _, reason = line.partition(" ")
                known[case_id] = reason.strip()
    return known


CASES = all_cases(FOLDER) if FOLDER.is_dir() else []
KNOWN_FAILURES = _known_failures()


def run_case(case: Case) -> str | None:
    """None when iptparse does what the case says, else what went wrong."""
    chains = "".join(f":{c} ACCEPT [0:0]\n" for c in BUILTIN_CHAINS.get(case.table, ()))
    text = f"*{case.table}\n{chains}-A {case.chain} {case.rule}\nCOMMIT\n"
    try:
        dump = parse_iptables(text, family=case.family)
    except ParseError as error:
        return None if not case.ok else f"rejected: {error.message}"
    if not case.ok:
        return "accepted a FAIL case"
    chain = dump.tables[0].chain(case.chain)
    assert chain is not None
    got = " ".join(render_rule_spec(r, case.family).strip() for r in chain.rules)
    if got != case.expected:
        return f"printed {got!r}"
    return None


@pytest.mark.skipif(not CASES, reason="../shared/corpora/iptables-extensions-t not present")
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    problem = run_case(case)
    if case.id in KNOWN_FAILURES:
        assert problem is not None, f"{case.id} passes now: remove it from {KNOWN.name}"
    else:
        assert problem is None, f"{case.rule!r}: {problem}"
