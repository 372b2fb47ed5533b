"""The grammar is the definition: the fast path's terminals are the grammar's, every line the
parser reads is a line of the grammar, and everything the printer writes parses with it."""

from __future__ import annotations

import re

import pytest

from iptparse.ipset import parse_ipset, render_ipset
from iptparse.ipset.elements import format_element
from iptparse.ipset.parser import FAST_TERMINALS, command_name, load_ipset_grammar
from iptparse.parser import grammar_path

from ..conftest import shared_files
from .samples import ALL_TYPES_SAVE

GRAMMAR = grammar_path("ipset.lark").read_text()


def grammar_terminal(name: str) -> str:
    m = re.search(rf"^{name}(?:\.\d+)?: /(.*)/$", GRAMMAR, re.M)
    assert m is not None, f"terminal {name} not in grammar/ipset.lark"
    return m.group(1)


@pytest.mark.parametrize("name", sorted(FAST_TERMINALS))
def test_fast_terminals_equal_grammar(name: str) -> None:
    assert FAST_TERMINALS[name] == grammar_terminal(name)


def test_command_terminal_accepts_exactly_the_command_words() -> None:
    pattern = re.compile(grammar_terminal("COMMAND"))
    words = ["create", "c", "cr", "n", "-N", "add", "a", "-A", "del", "d", "de", "-D", "test",
             "t", "destroy", "des", "x", "-X", "list", "l", "save", "s", "restore", "re",
             "flush", "f", "rename", "ren", "e", "swap", "sw", "w", "help", "version",
             "--create", "--add", "quit"]
    for word in words:
        assert pattern.fullmatch(word), word
        assert command_name(word) is not None, word
    for word in ["foo", "creat3", "adds", "dele", "-Z", "--", "-", "restorex"]:
        assert not pattern.fullmatch(word), word
        assert command_name(word) is None, word


@pytest.mark.parametrize("word,command", [
    ("d", "del"), ("de", "del"), ("des", "destroy"), ("r", "restore"), ("re", "restore"),
    ("ren", "rename"), ("s", "save"), ("sw", "swap"), ("t", "test"), ("--del", "del"),
    ("e", "rename"), ("w", "swap"), ("n", "create"), ("x", "destroy"), ("-W", "swap"),
])
def test_command_prefixes_resolve_in_ipset_order(word: str, command: str) -> None:
    assert command_name(word) == command


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_grammar_reads_every_line_of_the_samples() -> None:
    grammar = load_ipset_grammar()
    dump = parse_ipset(ALL_TYPES_SAVE)
    for style in ("save", "list"):
        text = render_ipset(dump, style)
        in_members = False
        for line in _lines(text):
            if in_members and not line.startswith("Name:"):
                grammar.parse(line, start="member")
                continue
            grammar.parse(line, start="start")
            in_members = line == "Members:"


def test_printed_elements_parse_with_their_dimension_rules() -> None:
    grammar = load_ipset_grammar()
    dump = parse_ipset(ALL_TYPES_SAVE)
    count = 0
    for ipset in dump:
        family = ipset.family or "inet"
        for member in ipset.members:
            for dim, part in zip(ipset.settype.dims, member.parts, strict=False):
                text = format_element(ipset.settype, family, (part,))
                grammar.parse(text, start=f"elem_{dim}")
                count += 1
    assert count > 40


def test_fast_path_lines_are_grammar_lines() -> None:
    grammar = load_ipset_grammar()
    for line in ["add CN 1.2.3.0/24", "add CN 10.1.2.3", "add x 010.1/08"]:
        grammar.parse(line, start="fast_add")
        grammar.parse(line.split(" ", 2)[2], start="fast_member")


def test_fast_path_and_general_path_agree() -> None:
    """The same entries through the fast path and, with a trailing blank that the fast path
    does not take, through the general path."""
    body = ["1.2.3.0/24", "10.0.0.1", "010.1.1.1", "10.1/16", "4294967295", "1.2.3.4/032",
            "7.7.7.7/01"]
    fast = "create a hash:net\n" + "".join(f"add a {e}\n" for e in body)
    slow = "create a hash:net\n" + "".join(f"add a {e} \n" for e in body)
    assert parse_ipset(fast) == parse_ipset(slow)
    listing = render_ipset(parse_ipset(fast), "list")
    assert parse_ipset(listing) == parse_ipset(listing.replace("\n1", " \n1"))


@pytest.mark.parametrize("path", shared_files("ipset-save", "ipset-list")[:40],
                         ids=lambda p: p.name)
def test_grammar_reads_corpus_structure(path: object) -> None:
    """Every line of the corpus files is a line of the grammar (field or command or member);
    semantic problems (bad numbers, unknown types) are the parser's business."""
    from pathlib import Path

    assert isinstance(path, Path)
    grammar = load_ipset_grammar()
    in_members = False
    for line in _lines(path.read_text())[:500]:
        if in_members and not line.startswith("Name:"):
            grammar.parse(line, start="member")
            continue
        grammar.parse(line, start="start")
        in_members = line.strip() == "Members:"
