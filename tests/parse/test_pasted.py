"""Lines sudo and kubectl print around a dump (iptparse/pasted.py): each parser calls them
what they are, and `--lenient` reads the dump around them as if they were not there."""

from __future__ import annotations

import pytest

from iptparse.errors import ParseError, ParseWarning
from iptparse.ipset import parse_ipset
from iptparse.parser import parse_iptables

from ..conftest import PROJECT_CORPORA

SEED = PROJECT_CORPORA / "seed"
NOISE = [
    ("[sudo] password for alice: ", "sudo's password prompt"),
    ('Defaulted container "kube-proxy" out of: kube-proxy, init (init)',
     "kubectl's note on the container it ran the command in"),
    ("Unable to use a TTY - input is not a terminal or the right kind of file",
     "kubectl's note that it had no terminal"),
]


def _with(noise: str, text: str, at: int) -> str:
    lines = text.splitlines(keepends=True)
    return "".join([*lines[:at], noise + "\n", *lines[at:]])


@pytest.mark.parametrize(("noise", "what"), NOISE)
@pytest.mark.parametrize("at", [0, 7])  # first, and inside a table (standard error mid-dump)
def test_in_a_dump(noise: str, what: str, at: int) -> None:
    text = (SEED / "iptables-save.txt").read_text()
    pasted = _with(noise, text, at)
    with pytest.raises(ParseError) as caught:
        parse_iptables(pasted, filename="node.txt")
    assert caught.value.message == (f"{what}, pasted with the dump, not a line of it "
                                    "(--lenient skips it)")
    assert (caught.value.line, caught.value.column) == (at + 1, 1)
    warnings: list[ParseWarning] = []
    assert parse_iptables(pasted, errors="skip", warnings=warnings) == parse_iptables(text)
    assert [w.line for w in warnings] == [at + 1]


@pytest.mark.parametrize(("noise", "what"), NOISE)
@pytest.mark.parametrize("name", ["ipset-save.txt", "ipset-list.txt"])
def test_in_sets(noise: str, what: str, name: str) -> None:
    """The first line does not decide the style (a listing stays a listing)."""
    text = (SEED / name).read_text()
    pasted = _with(noise, text, 0)
    with pytest.raises(ParseError) as caught:
        parse_ipset(pasted)
    assert caught.value.message == (f"{what}, pasted with the sets, not a line of them "
                                    "(--lenient skips it)")
    warnings: list[ParseWarning] = []
    assert parse_ipset(pasted, errors="skip", warnings=warnings) == parse_ipset(text)
    assert [w.line for w in warnings] == [1]
