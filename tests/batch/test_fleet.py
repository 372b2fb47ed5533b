"""The whole fleet (200 generated node folders) through `evaluate` and `summarise`.

Every record is checked against `trace` run directly on that node's own files (loaded with
`load_ruleset`, cached by the files' raw bytes, so nodes captured on other days are traced
apart), and the summary against the differences built into the fleet.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from iptparse.batch import NodeFailure, Result, discover, evaluate, read_packets, summarise
from iptparse.batch import worker as batch_worker
from iptparse.batch.captures import role_of
from iptparse.inputs import read_text
from iptparse.load import load_ruleset
from iptparse.nodes import Family
from iptparse.packet import Packet
from iptparse.trace import TraceError, trace
from tests.batch.fleet import PACKETS, Fleet

Expected = tuple[str, Any]  # ("error", message) or ("ok", (family, paths))


def _node_files(folder: Path) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.iterdir()):
        role = role_of(path.name)
        if role is not None:
            files.setdefault(role, []).append(path)
    return files


def _direct(folder: Path, packets: list[Packet]) -> list[Expected]:
    """What `trace` says for each packet on this node, straight from its files."""
    files = _node_files(folder)
    ruleset = load_ruleset(files.get("v4", []) + files.get("v6", []),
                           ipsets=files.get("ipset", []),
                           routes=files["routes"][0] if "routes" in files else None,
                           addrs=files["addrs"][0] if "addrs" in files else None)
    lines = {line for p in files.get("v4", []) + files.get("v6", [])
             for line in read_text(p)[1].splitlines()}
    out: list[Expected] = []
    for packet in packets:
        try:
            result = trace(ruleset, packet, "in", steps=False)
        except TraceError as exc:
            out.append(("error", str(exc)))
            continue
        paths = []
        for p in result.paths:
            decision = p.state.decision
            text = None
            if decision is not None:
                table = ruleset.table(result.family, decision[0])
                assert table is not None
                chain = table.chain(decision[1])
                assert chain is not None
                if decision[2] == 0:
                    text = f"-P {chain.name} {chain.policy}"
                else:
                    text = table.rule(chain, decision[2] - 1).text
                    assert text in lines  # the record quotes the node's own line
            paths.append((p.verdict, p.probability, decision, text,
                          tuple((h.table, h.chain, h.rule) for h in p.hits), p.policies,
                          tuple(p.conditions)))
        # records list a packet's paths most probable first, then by verdict, conditions, rules
        paths.sort(key=lambda t: (-t[1], t[0], t[6], t[4]))
        out.append(("ok", (result.family.value, paths)))
    return out


def _recorded(result: Result) -> Expected:
    ev = result.evaluation
    if ev.error is not None:
        return ("error", ev.error)
    paths = []
    for p in ev.paths:
        d = p.decision
        paths.append((p.verdict, p.probability, None if d is None else (d.table, d.chain, d.rule),
                      None if d is None else d.text,
                      tuple((h.table, h.chain, h.rule) for h in p.hits), p.policies,
                      p.conditions))
    return ("ok", (ev.family, paths))


def _raw_key(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def packets() -> list[Packet]:
    return read_packets(PACKETS.splitlines())


@pytest.fixture(scope="module")
def run(fleet: Fleet, packets: list[Packet]) -> tuple[list[Any], dict[str, list[Expected]], int]:
    """The batch (in this process, counting how often a capture is parsed) and the direct
    traces of every node."""
    batch_worker._cache.clear()
    loads = 0
    original: Callable[..., Any] = batch_worker.load_payload

    def counting(payload: Any) -> Any:
        nonlocal loads
        loads += 1
        return original(payload)

    batch_worker.load_payload = counting
    try:
        records = list(evaluate([fleet.root], packets, "in"))
    finally:
        batch_worker.load_payload = original
    direct: dict[str, list[Expected]] = {}
    by_bytes: dict[str, list[Expected]] = {}
    for name in fleet.nodes:
        if name in fleet.broken:
            continue
        folder = fleet.root / name
        key = _raw_key(folder)
        if key not in by_bytes:
            by_bytes[key] = _direct(folder, packets)
        direct[name] = by_bytes[key]
    return records, direct, loads


def test_every_record_matches_a_direct_trace(fleet: Fleet, packets: list[Packet],
                                             run: tuple[list[Any], dict[str, list[Expected]],
                                                        int]) -> None:
    records, direct, _ = run
    results = [r for r in records if isinstance(r, Result)]
    assert len(results) == (200 - len(fleet.broken)) * len(packets)
    # order: nodes by folder name, packets in input order
    assert [(r.node, r.packet) for r in results] == [
        (n, p.id) for n in fleet.nodes if n not in fleet.broken for p in packets]
    for r in results:
        assert _recorded(r) == direct[r.node][r.index], (r.node, r.packet)


def test_broken_nodes_are_reported_and_skipped(fleet: Fleet, run: tuple[list[Any], Any, int]
                                               ) -> None:
    records = run[0]
    failures = {r.node: r for r in records if isinstance(r, NodeFailure)}
    assert set(failures) == set(fleet.broken)
    for node, texts in fleet.broken.items():
        for text in texts:
            assert text in failures[node].error, (node, failures[node].error)
    assert failures["f2b-090"].error.splitlines()[1] == "-A INPUT -p tcp -m tcp --dport -j ACCEPT"


def test_identical_captures_are_parsed_once(fleet: Fleet, run: tuple[list[Any], Any, int]
                                            ) -> None:
    records, _, loads = run
    captures = {r.capture for r in records if r.capture is not None}
    assert loads == len(captures)
    # unchanged f2b nodes were captured on different days, some compressed or named rules.v4
    plain = {r.capture for r in records if isinstance(r, Result) and r.node.startswith("f2b-")
             and r.node not in fleet.designed and r.node not in fleet.broken}
    assert len(plain) == 1
    assert len(captures) == 1 + len(fleet.designed) + 2 + 6  # broken 90 and 92 parse, 6 kinds


def _signature(expected: Expected) -> Any:
    if expected[0] == "error":
        return ("error",)
    return sorted(((v, p, None if d is None else (d[0], d[1], text), c)
                   for v, p, d, text, _, _, c in expected[1][1]), key=repr)


def test_summary_names_the_nodes_that_differ(fleet: Fleet, packets: list[Packet],
                                             run: tuple[list[Any], dict[str, list[Expected]],
                                                        int]) -> None:
    records, direct, _ = run
    summary = summarise(records, discover([fleet.root]))
    assert summary.nodes == 200 and not summary.ok
    assert {f.node for f in summary.failed} == set(fleet.broken)
    assert summary.errors == sum(1 for e in direct.values() for x in e if x[0] == "error")
    for p, packet in zip(summary.packets, packets, strict=True):
        assert p.packet == packet.id
        groups: dict[str, list[str]] = {}
        for node, expected in direct.items():
            groups.setdefault(repr(_signature(expected[p.index])), []).append(node)
        biggest = max(len(g) for g in groups.values())
        majority = next(g for g in groups.values() if len(g) == biggest)  # first seen wins
        assert p.majority_nodes == biggest
        assert p.representative == min(majority)
        assert sorted(d.node for d in p.differs) == sorted(set(direct) - set(majority))
        assert sum(n for _, n in p.counts) == len(direct)


def test_summary_says_which_rule_made_the_difference(
        fleet: Fleet, run: tuple[list[Any], Any, int]) -> None:
    summary = summarise(run[0], discover([fleet.root]))
    by_packet = {p.packet: p for p in summary.packets}
    for node, (kind, text, packet) in fleet.designed.items():
        found = [d for d in by_packet[packet].differs if d.node == node]
        assert found, (node, packet)
        difference = found[0].difference
        assert difference.kind == kind, (node, difference)
        assert text in difference.text, (node, difference)
        assert found[0].compared_with.startswith("f2b-")
        assert difference.rule is not None


def test_abstract_packet_changed_rule_is_found(fleet: Fleet, run: tuple[list[Any], Any, int]
                                              ) -> None:
    """On the open packet, f2b-057's narrowed multiport rule shows as a changed rule."""
    summary = summarise(run[0], discover([fleet.root]))
    abstract = summary.packets[-1]
    found = {d.node: d.difference for d in abstract.differs}
    assert found["f2b-057"].kind == "changed"
    assert "--dports 80 -j ACCEPT" in found["f2b-057"].text
    assert found["f2b-019"].kind == "policy"
    assert found["f2b-042"].kind == "extra"


def test_without_captures_the_summary_still_names_rules(fleet: Fleet,
                                                        run: tuple[list[Any], Any, int]) -> None:
    summary = summarise(run[0])
    by_packet = {p.packet: p for p in summary.packets}
    found = next(d for d in by_packet["banned"].differs if d.node == "f2b-007")
    assert found.difference.kind == "differs"
    assert "--match-set f2b-sshd src" in found.difference.text


def test_counts_add_up(run: tuple[list[Any], Any, int]) -> None:
    summary = summarise(run[0])
    for p in summary.packets:
        labels = dict(p.counts)
        assert labels[p.majority] >= p.majority_nodes
        assert all(isinstance(n, int) and n > 0 for n in labels.values())
    results = [r for r in run[0] if isinstance(r, Result) and r.ok]
    assert all(isinstance(p.probability, Fraction) for r in results for p in r.evaluation.paths)
    assert all(r.evaluation.family in (Family.INET.value, Family.INET6.value) for r in results)
