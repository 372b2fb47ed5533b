"""Chain indexes and the concrete evaluator change nothing but speed.

`trace(skip=True)` (indexes, rules decided false passed over) must equal `trace(skip=False)`
(every rule checked), and `trace(steps=False)` (a walk that reports only its forks) the same
without the steps; `concrete.evaluate` must report what `trace` reports, and
`concrete_memo.evaluate` what `concrete.evaluate` reports (when it records a walk and when it
answers from its tree), on the project corpora, on kube-proxy-shaped dumps and on generated
rulesets, with packets drawn from each ruleset's own values.
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from iptparse import chainindex, concrete_memo
from iptparse.chainindex import Skipper, build_index
from iptparse.concrete import ConcretePath, evaluate
from iptparse.ipset import parse_ipset
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.synth import kube_proxy
from iptparse.trace import TraceResult, trace
from iptparse.verify.generate import generate_ruleset

from ..conftest import PROJECT_CORPORA
from ..core.test_interp import EITHER_WAY
from ._packets import packets

PATHS = ("in", "forward", "out")


def _full(result: TraceResult) -> list[Any]:
    """Everything a trace reports, paths in order."""
    return [(p.verdict, p.probability, p.hits, p.policies, p.steps,
             [(a.conditions, a.box, a.state.env, a.state.labels, a.state.decisions, a.state.stopped)
              for a in p.alternatives]) for p in result.paths]


def _outcomes_of_trace(result: TraceResult) -> list[Any]:
    return sorted(((p.verdict, p.probability, p.hits, p.policies, a.state.decision,
                    a.state.stopped, a.conditions) for p in result.paths
                   for a in p.alternatives), key=repr)


def _outcomes(paths: list[ConcretePath]) -> list[Any]:
    return sorted(((p.verdict, p.probability, p.hits, p.policies, p.decision, p.stopped,
                    p.conditions) for p in paths), key=repr)


def _check(ruleset: Ruleset, packet: Packet, path: str,
           assumptions: dict[str, bool] | None = None) -> bool:
    """Both checks for one packet; True when the concrete evaluator decided it."""
    general = trace(ruleset, packet, path, assumptions=assumptions, skip=False)
    skipping = trace(ruleset, packet, path, assumptions=assumptions)
    assert _full(skipping) == _full(general)
    # without steps the walk reports only forks (Interpreter(events=False)): the same paths
    quiet = trace(ruleset, packet, path, assumptions=assumptions, steps=False)
    assert _full(quiet) == [(*p[:4], (), *p[5:]) for p in _full(general)]
    fast = evaluate(ruleset, packet, path, assumptions=assumptions)
    # the memo: a walk that records its questions, then the same outcome from the tree
    for _ in range(2):
        assert concrete_memo.evaluate(ruleset, packet, path, assumptions=assumptions) == fast
    if fast is None:
        return False
    assert _outcomes(fast) == _outcomes_of_trace(general)
    return True


def _corpus(name: str) -> tuple[str, Ruleset]:
    folder = PROJECT_CORPORA / name
    text = (folder / "iptables-save.txt").read_text()
    sets = {}
    for listing in ("ipset-save.txt",):
        if (folder / listing).is_file():
            sets = {s.name: s for s in parse_ipset((folder / listing).read_text())}
    return text, Ruleset([parse_iptables(text, family=Family.INET)], sets=sets)


@pytest.mark.parametrize("name", ["kube-proxy", "calico", "docker", "seed"])
def test_project_corpora(name: str) -> None:
    text, ruleset = _corpus(name)
    decided = 0
    for i, packet in enumerate(packets(text, 24, seed=len(name))):
        decided += _check(ruleset, packet, PATHS[i % 3])
    assert decided >= 6  # most packets give every field the rules read


def test_kube_proxy_node_with_index() -> None:
    text = kube_proxy.node_restore(150, seed=4)
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    table = ruleset.table(Family.INET, "nat")
    assert table is not None
    chain = table.chain("KUBE-SERVICES")
    assert chain is not None
    index = build_index(table, chain)
    assert index is not None and [part.field for part in index.parts] == ["dst"]
    decided = 0
    for i, packet in enumerate(packets(text, 30, seed=9)):
        decided += _check(ruleset, packet, ("forward", "out")[i % 2])
        decided += _check(ruleset, packet, "in", {"dst-local": True})
    assert decided >= 30


def test_index_keeps_rule_order() -> None:
    lines = [f"-A X -d 10.0.{i % 7}.0/24 -j RETURN" for i in range(30)]
    lines.insert(11, "-A X -p udp -j RETURN")
    lines.insert(20, "-A X -d 10.0.3.9/32 -j ACCEPT")
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":X - [0:0]\n-A INPUT -j X\n" + "\n".join(lines) + "\nCOMMIT\n")
    ruleset = Ruleset([parse_iptables(text)])
    table = ruleset.table(Family.INET, "filter")
    assert table is not None
    chain = table.chain("X")
    assert chain is not None
    index = build_index(table, chain)
    assert index is not None
    assert {part.field for part in index.parts} == {"dst", "proto"}
    value = int.from_bytes(bytes([10, 0, 3, 9]), "big")
    expected = [i for i in range(len(lines)) if "10.0.3." in lines[i] or "udp" in lines[i]]
    assert list(index.candidates({"dst": value}.get)) == expected  # proto unknown: kept
    tcp = {"dst": value, "proto": 6}
    assert list(index.candidates(tcp.get)) == [i for i in expected if "udp" not in lines[i]]
    assert Skipper().next(table, chain, 0, tcp.get) == expected[0]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(PATHS))
# a SET target after a SET update: compiled again for the path's sets, its effect must equal
# the first compile's (it held a functools.partial, equal only to itself)
@example(0, 1, "out")
def test_generated_rulesets(seed: int, packet_seed: int, path: str) -> None:
    generated = generate_ruleset(seed, size=24)
    sets = {s.name: s for s in parse_ipset(generated.ipsets)} if generated.ipsets else {}
    ruleset = Ruleset([parse_iptables(generated.rules, family=Family.INET)], sets=sets)
    for packet in packets(generated.rules, 4, seed=packet_seed):
        _check(ruleset, packet, path)


def test_undecided_field_falls_back() -> None:
    _, ruleset = _corpus("kube-proxy")
    open_packet = parse_packet("tcp 10.244.1.2:40000 -> 10.96.0.1:443 iif=eth0")  # no ctstate
    assert evaluate(ruleset, open_packet, "forward") is None
    exact = parse_packet("tcp 10.244.1.2:40000 -> 10.96.0.1:443 iif=eth0 oif=eth1 "
                         "ctstate=NEW mark=0x0")
    paths = evaluate(ruleset, exact, "forward", assumptions={"dst-local": False})
    assert paths is not None and sum((p.probability for p in paths), Fraction(0)) == 1


def test_memo_answers_packets_that_differ_only_where_no_rule_reads() -> None:
    text = kube_proxy.node_restore(40, seed=1)
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    memo = concrete_memo.Memo(ruleset, Family.INET)
    first = parse_packet("tcp 10.244.3.4:40000 -> 192.0.2.1:80 iif=eth0 oif=eth1 "
                         "ctstate=NEW mark=0x0")
    assert memo.evaluate(first, "forward") is not None
    nodes = memo.nodes
    again = parse_packet("tcp 10.244.9.9:50000 -> 192.0.2.1:80 iif=eth0 oif=eth1 "
                         "ctstate=NEW mark=0x0")
    assert memo.evaluate(again, "forward") == evaluate(ruleset, again, "forward")
    assert memo.nodes == nodes  # answered from the tree: no new branch
    other = parse_packet("udp 10.244.3.4:40000 -> 192.0.2.1:80 iif=eth0 oif=eth1 "
                         "ctstate=NEW mark=0x0")
    assert memo.evaluate(other, "forward") == evaluate(ruleset, other, "forward")


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(PATHS))
def test_memo_answers_a_stream_of_packets_as_the_walk_does(seed: int, packet_seed: int,
                                                           path: str) -> None:
    """One memo, packets that share some answers and not others (fields left out at random):
    each outcome is the walk's. The tree leaves out what earlier answers of its branch decide
    (a field asked for its value, one shown present or absent), so every packet that follows
    the branch must answer those questions alike."""
    generated = generate_ruleset(seed, size=24)
    sets = {s.name: s for s in parse_ipset(generated.ipsets)} if generated.ipsets else {}
    ruleset = Ruleset([parse_iptables(generated.rules, family=Family.INET)], sets=sets)
    memo = concrete_memo.Memo(ruleset, Family.INET)
    rng = random.Random(packet_seed)
    for packet in packets(generated.rules, 30, seed=packet_seed):
        kept = {name: values for name, values in packet.fields.items()
                if name in ("src", "dst") or rng.random() < 0.9}
        packet = Packet(kept, Family.INET)
        assert memo.evaluate(packet, path) == evaluate(ruleset, packet, path), packet


def test_without_conntrack_nat_is_passed_over_alike() -> None:
    text = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p tcp -j ACCEPT\nCOMMIT\n"
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n")
    ruleset = Ruleset([parse_iptables(text)])
    for spec in ("tcp 10.0.0.1:5 -> 10.0.0.2:80 iif=eth0 oif=eth1",
                 "udp 10.0.0.1:5 -> 10.0.0.2:80 iif=eth0 oif=eth1 ctstate=NEW"):
        packet = parse_packet(spec)
        assert _check(ruleset, packet, "forward")


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(PATHS))
def test_generated_rulesets_with_every_chain_indexed(seed: int, packet_seed: int,
                                                      path: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(chainindex, "INDEX_MIN", 2)
        test_generated_rulesets.hypothesis.inner_test(seed, packet_seed, path)  # type: ignore[attr-defined]


def test_a_kind_pin_decides_every_rule_of_the_kind_alike() -> None:
    """`--assume limit=under` pins each limit rule that has no pin of its own, in the walk,
    the index's skipping, the concrete evaluator and its memo alike."""
    rules = ("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             + "".join(f"-A INPUT -p tcp -m tcp --dport {port} -j ACCEPT\n"
                       for port in range(1, 40))
             + "-A INPUT -p udp -m limit --limit 5/sec -j ACCEPT\n"
             "-A INPUT -p udp -m limit --limit 1/sec -j LOG\nCOMMIT\n")
    ruleset = Ruleset([parse_iptables(rules)])
    packet = parse_packet("udp 10.0.0.1:5 -> 10.0.0.2:53 iif=eth0 mark=0x0")
    for pins, verdict in (({"limit": True}, "ACCEPT"), ({"limit": False}, "DROP"),
                          ({"limit": True, "limit@filter:INPUT:40": False}, "DROP")):
        assert _check(ruleset, packet, "in", pins)
        [path] = trace(ruleset, packet, "in", assumptions=pins).paths
        assert path.verdict == verdict
    assert len(trace(ruleset, packet, "in").paths) == 3  # unpinned: under/over each


def test_rules_that_fail_whichever_way_alike() -> None:
    # the last rule of these is undecided for port 80, 30000 and 30001 only; rule 4 (an
    # assumption and its negation) is left to the evaluator's trial of both pins
    ruleset = Ruleset([parse_iptables(EITHER_WAY)])
    for spec in ("tcp 10.1.1.1:5 -> 1.1.1.1:8080", "tcp 10.1.1.1:5 -> 1.1.1.1:80",
                 "tcp 10.1.1.1:5 -> 1.1.1.1:30000", "tcp 10.1.1.1:5 -> 1.1.1.1:30001",
                 "udp 10.1.1.1:5 -> 1.1.1.1:53", "udp 11.1.1.1:5 -> 1.1.1.1:53"):
        packet = parse_packet(f"{spec} iif=eth0 oif=eth1 ctstate=NEW")
        assert _check(ruleset, packet, "forward")
    found = evaluate(ruleset, parse_packet("tcp 10.1.1.1:5 -> 1.1.1.1:8080 iif=eth0 oif=eth1"))
    assert found is not None and [(p.verdict, p.conditions) for p in found] == [("ACCEPT", ())]


def test_memo_answers_a_port_range_at_its_edges_from_the_tree() -> None:
    """A node answers a question on one range of a field (and on a field's value) itself,
    without the asker: the edges of the range and a packet without the field go to the
    branches the walk would take."""
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
            "-A FORWARD -p tcp -m tcp --dport 1000:2000 -j ACCEPT\n"
            "-A FORWARD -m conntrack --ctstate NEW -j REJECT\nCOMMIT\n")
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    memo = concrete_memo.Memo(ruleset, Family.INET)

    def packet(port: int) -> Packet:
        return parse_packet(f"tcp 10.0.0.1:40000 -> 10.0.0.2:{port} iif=eth0 oif=eth1 "
                            "ctstate=NEW")

    for port in (999, 1000, 2000, 2001):  # each edge grows the tree once at most
        assert memo.evaluate(packet(port), "forward") == evaluate(ruleset, packet(port),
                                                                    "forward")
    nodes = memo.nodes
    verdicts = {}
    for port in (0, 999, 1000, 1500, 2000, 2001, 65535):
        found = memo.evaluate(packet(port), "forward")
        assert found == evaluate(ruleset, packet(port), "forward"), port
        assert found is not None
        verdicts[port] = {p.verdict for p in found}
    assert memo.nodes == nodes  # every one answered from the tree
    assert verdicts == {0: {"REJECT"}, 999: {"REJECT"}, 1000: {"ACCEPT"}, 1500: {"ACCEPT"},
                        2000: {"ACCEPT"}, 2001: {"REJECT"}, 65535: {"REJECT"}}
    no_port = Packet({name: values for name, values in packet(80).fields.items()
                      if name != "dport"}, Family.INET)
    assert memo.evaluate(no_port, "forward") == evaluate(ruleset, no_port, "forward")
