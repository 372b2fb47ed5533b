"""Walks leave no reference cycles behind, and what a batch keeps is shared where it can be.

A batch keeps the node's rules, compiled chains and memo alive for millions of packets; each
reference cycle a walk leaves costs the cyclic collector a pass over that whole heap (an
exception kept in a frame of its own traceback once made garbage collection half of a batch's
time). Reference counting alone must free everything a walk makes.

What a batch keeps, the collector walks again at each full pass, and those passes come more
often the more the heap grows: the pieces that thousands of compiled rules, paths and memo
nodes have in common (a port test, a rule's place, the question a node asks) are one object.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator

import pytest

from iptparse import concrete_memo
from iptparse.concrete import ConcretePath, evaluate
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import CompiledRule, Ruleset
from iptparse.semantics import Effect
from iptparse.synth import kube_proxy
from iptparse.trace import trace

from ..core.test_interp import EITHER_WAY
from ._packets import packets

Walk = Callable[[Ruleset, Packet], int]  # a walk and how many paths it found


def _count(paths: list[ConcretePath] | None) -> int:
    return len(paths or ())


WALKS: dict[str, Walk] = {
    "evaluate": lambda rs, p: _count(evaluate(rs, p, "forward")),
    "memo": lambda rs, p: _count(concrete_memo.evaluate(rs, p, "forward")),
    "trace": lambda rs, p: len(trace(rs, p, "forward").paths),
    "trace, no steps": lambda rs, p: len(trace(rs, p, "forward", steps=False).paths),
}


@pytest.fixture
def no_collector() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("name", WALKS)
def test_walks_leave_no_cycles(name: str, no_collector: None) -> None:
    # statistic rules make every service fork: the walks raise and catch their draws
    text = kube_proxy.node_restore(40, seed=3)
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    sample = packets(text, 60, seed=5)
    walk = WALKS[name]
    for packet in sample[:10]:
        walk(ruleset, packet)  # compile the chains and build the indexes first
    assert gc.collect() == 0  # nor do the parse and the compilation
    forked = 0
    for packet in sample[10:]:
        forked += walk(ruleset, packet) > 1
    assert forked  # some walks forked on a draw (the case that once left cycles)
    assert gc.collect() == 0


@pytest.mark.parametrize("name", WALKS)
def test_a_ruleset_is_freed_with_what_its_walks_kept(name: str, no_collector: None) -> None:
    """Its compiled chains, indexes and memo go when the last reference to it does: the memo
    it keeps holds it weakly. A cycle there made each dropped node wait for a full collection,
    which the next thing the process did paid for (1.6 s after a 10k-service node)."""
    text = kube_proxy.node_restore(40, seed=3)
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    for packet in packets(text, 20, seed=5):
        WALKS[name](ruleset, packet)
    gone = weakref.ref(ruleset)
    del ruleset
    assert gone() is None and gc.collect() == 0


@pytest.mark.parametrize("name", WALKS)
def test_trying_both_pins_leaves_no_cycles(name: str, no_collector: None) -> None:
    # rule 4 of EITHER_WAY: the evaluator raises and catches its flag on each side
    ruleset = Ruleset([parse_iptables(EITHER_WAY)])
    sample = [parse_packet(f"tcp 10.1.1.1:5 -> 1.1.1.1:{port} iif=eth0 oif=eth1 ctstate=NEW")
              for port in (8080, 80, 30001)]
    walk = WALKS[name]
    walk(ruleset, sample[0])
    assert gc.collect() == 0
    assert [walk(ruleset, packet) for packet in sample] == [1, 2, 2]
    assert gc.collect() == 0


def _kube_batch() -> tuple[Ruleset, concrete_memo.Memo, list[list[ConcretePath] | None]]:
    text = kube_proxy.node_restore(40, seed=3)
    ruleset = Ruleset([parse_iptables(text, family=Family.INET)])
    memo = concrete_memo.Memo(ruleset, Family.INET)
    outcomes = [memo.evaluate(packet, "forward") for packet in packets(text, 120, seed=5)]
    return ruleset, memo, outcomes


def test_memo_nodes_share_one_asker_per_question() -> None:
    _, memo, _ = _kube_batch()
    nodes = []
    pending = list(memo.roots.values())
    while pending:
        node = pending.pop()
        if node.ask is not None:
            nodes.append(node)
        pending.extend(node.children.values())
    askers = {id(node.ask) for node in nodes}
    assert len(askers) == len(memo.askers) < len(nodes)
    for node in nodes:
        question, ask = memo.askers[node.question]  # type: ignore[index]
        assert node.question is question and node.ask is ask


def test_paths_name_rules_by_the_compiled_rules_own_place() -> None:
    ruleset, _, outcomes = _kube_batch()
    evaluated = [hit for paths in outcomes for path in paths or () for hit in path.hits]
    shown = trace(ruleset, packets(kube_proxy.node_restore(40, seed=3), 1, seed=5)[0], "forward")
    traced = [hit for path in shown.paths for hit in path.hits]
    assert len(evaluated) > 100 and traced
    for hit in evaluated + traced:
        table = ruleset.table(Family.INET, hit.table)
        assert table is not None
        chain = table.chain(hit.chain)
        assert chain is not None
        assert table.rule(chain, hit.rule - 1).ref is hit


def _compiled(table_name: str, chain_name: str, rules: list[str],
              family: Family = Family.INET) -> list[CompiledRule]:
    """The rules of one builtin chain, compiled."""
    policy = f":{chain_name} ACCEPT [0:0]"
    text = "\n".join([f"*{table_name}", policy, *rules, "COMMIT", ""])
    table = Ruleset([parse_iptables(text, family=family)]).table(family, table_name)
    assert table is not None
    chain = table.chain(chain_name)
    assert chain is not None
    return [table.rule(chain, i) for i in range(len(rules))]


def test_rules_with_the_same_ports_share_their_predicate() -> None:
    first, second, third, fourth = _compiled("filter", "INPUT", [
        "-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT",
        "-A INPUT -s 10.0.0.1/32 -p tcp -m tcp --dport 80 -j DROP",
        "-A INPUT -p udp -m udp --dport 53 -j RETURN",
        "-A INPUT -s 10.0.0.2/32 -p udp -m udp --dport 53 -j RETURN"])
    assert first.conditions[-1].pred is second.conditions[-1].pred  # -m tcp --dport 80
    assert first.conditions[0] is second.conditions[1]  # -p tcp
    assert first.conditions[0].source == "-p tcp"
    assert third.conditions[-1].pred is fourth.conditions[-1].pred  # -m udp --dport 53
    assert third.action is fourth.action  # RETURN
    assert first.conditions[-1].pred != third.conditions[-1].pred


def test_a_ruleset_is_freed_with_its_memo() -> None:
    # the memo's evaluator refers to its ruleset: kept anywhere but in the ruleset itself,
    # it would keep the ruleset alive for good (a fleet batch would keep every node)
    ruleset = Ruleset([parse_iptables(kube_proxy.node_restore(5, seed=3), family=Family.INET)])
    for packet in packets(kube_proxy.node_restore(5, seed=3), 5, seed=5):
        concrete_memo.evaluate(ruleset, packet, "forward")
        trace(ruleset, packet, "forward")
    alive = weakref.ref(ruleset)
    del ruleset
    gc.collect()
    assert alive() is None


def test_a_shared_protocol_condition_keeps_each_spelling() -> None:
    old, new, negated, again = (rule.conditions[0] for rule in _compiled("filter", "INPUT", [
        "-A INPUT -p icmpv6 -j ACCEPT", "-A INPUT -p ipv6-icmp -j ACCEPT",
        "-A INPUT ! -p ipv6-icmp -j ACCEPT", "-A INPUT -p ipv6-icmp -j DROP"], Family.INET6))
    assert [c.source for c in (old, new, negated)] == [
        "-p icmpv6", "-p ipv6-icmp", "! -p ipv6-icmp"]
    assert new is again and old is not new


def test_nat_rules_to_the_same_port_share_their_changes() -> None:
    first, second = (rule.action for rule in _compiled("nat", "PREROUTING", [
        "-A PREROUTING -d 10.0.0.1/32 -p tcp -j DNAT --to-destination 10.1.0.1:8080",
        "-A PREROUTING -d 10.0.0.2/32 -p tcp -j DNAT --to-destination 10.1.0.2:8080"]))
    assert isinstance(first, Effect) and isinstance(second, Effect)
    assert first.changes[0] != second.changes[0]  # the address each rule chose
    assert all(a is b for a, b in zip(first.changes[1:], second.changes[1:], strict=True))
