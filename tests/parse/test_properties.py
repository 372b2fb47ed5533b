"""Properties of parse and render: AST → text → AST is the identity, and no input, however
mangled, gets anything but a result or iptparse's own error; a result prints as text that
reads back the same."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from functools import cache

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iptparse.errors import ParseError, ParseErrors
from iptparse.nodes import (
    BUILTIN_CHAINS,
    Address,
    Chain,
    Counters,
    Dump,
    Family,
    Interface,
    Match,
    Protocol,
    Rule,
    Table,
    Target,
)
from iptparse.parser import parse_iptables
from iptparse.render import render

from ..conftest import PROJECT_CORPORA


@cache
def match_pool() -> tuple[tuple[Match, ...], tuple[Target, ...]]:
    """Typed matches and non-jump targets seen in the project's own dumps (IPv4 filter/nat…)."""
    matches: dict[str, Match] = {}
    targets: dict[str, Target] = {}
    for path in sorted(PROJECT_CORPORA.rglob("iptables-save*.txt")):
        dump = parse_iptables(path.read_text())
        if dump.family is not Family.INET:
            continue
        for table in dump.tables:
            if table.name != "filter":
                continue
            for chain in table.chains:
                for rule in chain.rules:
                    for m in rule.matches:
                        if m.module not in ("tcp", "udp", "icmp", "multiport"):
                            matches.setdefault(render(m), Match(m.module, m.options))
                    t = rule.target
                    if t is not None and t.options is not None:
                        targets.setdefault(render(t), Target(t.name, t.options))
    return tuple(matches.values()), tuple(targets.values())


addresses = st.builds(
    lambda value, length: Address(Family.INET, value & ((0xFFFFFFFF << (32 - length))
                                                       & 0xFFFFFFFF), (0xFFFFFFFF << (32 - length))
                                  & 0xFFFFFFFF),
    st.integers(0, 2**32 - 1), st.integers(1, 32))
names = st.from_regex(r"[a-z][a-z0-9]{0,8}\+?", fullmatch=True)


@st.composite
def rules(draw: st.DrawFn, chain: str, user_chains: list[str]) -> Rule:
    pool, targets = match_pool()
    target_choice = draw(st.sampled_from(["none", "verdict", "ext", "jump", "goto"]))
    target = None
    if target_choice == "verdict":
        target = Target(draw(st.sampled_from(["ACCEPT", "DROP", "RETURN"])))
    elif target_choice == "ext" and targets:
        target = draw(st.sampled_from(targets))
    elif target_choice in ("jump", "goto") and user_chains:
        target = Target(draw(st.sampled_from(user_chains)), None, target_choice == "goto")
    src, dst = draw(st.none() | addresses), draw(st.none() | addresses)
    iface = None if chain == "OUTPUT" else draw(st.none() | st.builds(Interface, names,
                                                                        st.booleans()))
    return Rule(
        chain,
        src=src, src_invert=src is not None and draw(st.booleans()),
        dst=dst, dst_invert=dst is not None and draw(st.booleans()),
        in_interface=iface,
        protocol=draw(st.none() | st.builds(Protocol, st.sampled_from([6, 17, 47, 132]),
                                            st.booleans())),
        fragment=draw(st.sampled_from([None, True, False])),
        matches=tuple(draw(st.lists(st.sampled_from(pool), max_size=3))) if pool else (),
        target=target,
        counters=draw(st.none() | st.builds(Counters, st.integers(0, 10**9),
                                            st.integers(0, 10**12))),
    )


@st.composite
def dumps(draw: st.DrawFn) -> Dump:
    users = sorted(set(draw(st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}",
                                                   fullmatch=True), max_size=4))))
    users = [u for u in users if u not in BUILTIN_CHAINS["filter"] + ("ACCEPT", "DROP",
                                                                        "RETURN", "QUEUE")]
    chains = []
    for name in [*BUILTIN_CHAINS["filter"], *users]:
        builtin = name in BUILTIN_CHAINS["filter"]
        body = tuple(draw(st.lists(rules(name, [u for u in users if u != name]), max_size=4)))
        policy = draw(st.sampled_from(["ACCEPT", "DROP"])) if builtin else None
        chains.append(Chain(name, policy, Counters(draw(st.integers(0, 99)), 0), body))
    return Dump(Family.INET, (Table("filter", tuple(chains)),))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dumps())
def test_ast_to_text_to_ast(dump: Dump) -> None:
    text = render(dump)
    assert parse_iptables(text, family=Family.INET) == dump
    assert render(parse_iptables(text)) == text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dumps(), st.booleans())
def test_ast_to_listing_to_ast(dump: Dump, counted: bool) -> None:
    """The same tables as `iptables -S` prints them (`-v`: every policy and rule counted,
    else none; user chains never) read back the same, and print back the same text."""
    def counters(value: Counters | None, chain: bool) -> Counters | None:
        if counted and value is not None:
            return value
        return Counters(0, 0) if chain or counted else None

    table = dump.tables[0]
    listed = replace(table, form="list-rules-counters" if counted else "list-rules", chains=tuple(
        replace(chain, counters=counters(chain.counters if chain.builtin else None, True),
                rules=tuple(
            replace(rule, counters=counters(rule.counters, False)) for rule in chain.rules))
        for chain in table.chains))
    text = render(Dump(Family.INET, (listed,)))
    assert not text.startswith("*") and "COMMIT" not in text
    again = parse_iptables(text, family=Family.INET)
    assert again.tables == (listed,) and again.tables[0].form == listed.form
    assert render(again) == text


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_dumps_never_crash(data: st.DataObject) -> None:
    # the seed's iptables-save output, or firewalld's `iptables -S` listings
    source = data.draw(st.sampled_from([PROJECT_CORPORA / "seed" / "iptables-save.txt",
                                        PROJECT_CORPORA / "firewalld" / "iptables-S.txt"]))
    lines = source.read_text().splitlines(keepends=True)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(lines) - 1))
        line = lines[index]
        kind = data.draw(st.sampled_from(["drop-line", "swap", "cut", "insert", "dup"]))
        if kind == "drop-line":
            del lines[index]
        elif kind == "swap" and len(lines) > 1:
            other = data.draw(st.integers(0, len(lines) - 1))
            lines[index], lines[other] = lines[other], lines[index]
        elif kind == "cut" and len(line) > 2:
            a = data.draw(st.integers(0, len(line) - 1))
            b = data.draw(st.integers(a, len(line)))
            lines[index] = line[:a] + line[b:]
        elif kind == "insert":
            junk = data.draw(st.text(alphabet='-!"\\ :[]*#abcAB01/,.', max_size=12))
            at = data.draw(st.integers(0, len(line)))
            lines[index] = line[:at] + junk + line[at:]
        else:
            lines.insert(index, line)
        if not lines:
            break
    text = "".join(lines)
    for mode in ("raise", "collect", "skip"):
        with contextlib.suppress(ParseError, ParseErrors):
            dump = parse_iptables(text, errors=mode, warnings=[])
            if not _spaced_interface(dump):
                # what was read prints as text that reads back the same
                printed = render(dump)
                assert render(parse_iptables(printed, family=dump.family)) == printed


def _spaced_interface(dump: Dump) -> bool:
    """Whether an interface name holds a space: iptables accepts one (with a warning) and
    iptables-save prints it unquoted, as iptparse does, so such a print cannot read back."""
    return any(iface is not None and any(ch.isspace() for ch in iface.name)
               for table in dump.tables for chain in table.chains for rule in chain.rules
               for iface in (rule.in_interface, rule.out_interface))
