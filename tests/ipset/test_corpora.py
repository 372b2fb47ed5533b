"""Every ipset-save and ipset-list file of ../shared/corpora: what ipset printed must come
back byte for byte; the files that cannot are listed here with the reason, and a listed file
that starts round-tripping fails the test so the list never goes stale.

The ipset-tests/ files are expected outputs of ipset's own test suite. Its harness strips the
Revision: line (so those listings have none and print back without it) and replaces timeout
values by the placeholder `x`, which is no number: such a file is refused with a clear error
at the `x`, and in lenient mode the set with the bad header is skipped with a warning per line.
The test suite of that fork also lists types ipset 7.17 does not have.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest

from iptparse.errors import ParseError, ParseWarning
from iptparse.ipset import SetPart, parse_ipset, render_ipset

from ..conftest import SHARED_CORPORA, shared_manifest

PLACEHOLDER = "error: timeout: 'x' is invalid as number"

#: file -> why it does not round-trip byte for byte, and what happens instead
EXPECTED: dict[str, str] = {
    "ipset-tests/bitmap:ip.t.list4": PLACEHOLDER,
    "ipset-tests/hash:ip,port,ip.t.list0": PLACEHOLDER,
    "ipset-tests/hash:ip.t.list2": PLACEHOLDER,
    "ipset-tests/hash:ip6.t.list3": PLACEHOLDER,
    "ipset-tests/hash:net,net.t.list0": PLACEHOLDER,
    "ipset-tests/hash:net,port.t.list0": PLACEHOLDER,
    "ipset-tests/hash:net6.t.list0": PLACEHOLDER,
    "ipset-tests/macipmap.t.list2": PLACEHOLDER,
    "ipset-tests/macipmap.t.list3": PLACEHOLDER,
    "ipset-tests/hash:ip,port,ip,port.t.list1": "error: typename 'hash:ip,port,ip,port' is unknown",
    "ipset-tests/hash:ip6,port,ip6,port.t.list0":
        "error: typename 'hash:ip,port,ip,port' is unknown",
    "ipset-tests/hash:ip6,port,ip6,port.t.list1":
        "error: typename 'hash:ip,port,ip,port' is unknown",
    "ipset-tests/hash:net,port,net,port.t.list0":
        "error: typename 'hash:net,port,net,port' is unknown",
    # hand-written restore input, printed in canonical form (option order, ranges, list:set
    # sets after the others): not ipset output, so only the fixpoint is checked
    "ipset-tests/restore.t.multi": "canonical",
    "ipset-tests/setlist.t.before": "canonical",
    "ipset-tests/setlist.t.restore": "canonical",
    # a listing edited by hand with blanks after some members
    "ipset-real/ipvs-bitmap-port__ipset-list-edited.txt": "trailing blanks",
}

ROWS = [r for r in shared_manifest() if r["kind"] in ("ipset-save", "ipset-list")]


def test_corpus_present_or_skipped() -> None:
    if not ROWS:
        pytest.skip(f"no shared corpora at {SHARED_CORPORA}")
    assert {r["local_path"] for r in ROWS} >= set(EXPECTED)


@pytest.mark.parametrize("row", ROWS, ids=[r["local_path"] for r in ROWS])
def test_corpus_file(row: dict[str, str]) -> None:
    path = SHARED_CORPORA / row["local_path"]
    text = Path(path).read_text()
    style: Literal["save", "list"] = "list" if row["kind"] == "ipset-list" else "save"
    expected = EXPECTED.get(row["local_path"], "round trip")
    if expected.startswith("error: "):
        with pytest.raises(ParseError) as info:
            parse_ipset(text, filename=str(path))
        assert info.value.message == expected[len("error: "):]
        assert info.value.line_text and info.value.column > 1
        warnings: list[ParseWarning] = []
        dump = parse_ipset(text, errors="skip", warnings=warnings)
        assert warnings and all(w.message.startswith("skipped: ") for w in warnings)
        assert len(dump) == 0 or render_ipset(dump, style)
        return
    dump = parse_ipset(text, filename=str(path))
    out = render_ipset(dump, style)
    if expected == "round trip":
        assert out == text
    elif expected == "canonical":
        assert out != text
        assert render_ipset(parse_ipset(out), style) == out
    else:
        assert out != text
        assert out == "".join(line.rstrip(" ") + "\n" for line in text.splitlines())
    # the other style and back: the sets are the same (what only one style has aside); a
    # listing of some sets only may name absent sets in a list:set, which restore refuses
    other: Literal["save", "list"] = "save" if style == "list" else "list"
    named = {p.name for s in dump if s.type == "list:set" for m in s.members
             for p in m.parts if isinstance(p, SetPart)}
    if not named <= set(dump.names()):
        return
    again = parse_ipset(render_ipset(dump, other))
    assert render_ipset(again, "save") == render_ipset(dump, "save")
