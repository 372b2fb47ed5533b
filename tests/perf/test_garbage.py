"""Walks leave no reference cycles behind.

A batch keeps the node's rules, compiled chains and memo alive for millions of packets; each
reference cycle a walk leaves costs the cyclic collector a pass over that whole heap (an
exception kept in a frame of its own traceback once made garbage collection half of a batch's
time). Reference counting alone must free everything a walk makes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import pytest

from iptparse import concrete_memo
from iptparse.concrete import ConcretePath, evaluate
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
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
