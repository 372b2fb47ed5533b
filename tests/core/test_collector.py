"""The collector is off while a parse, a trace, a concrete evaluation or a printing runs, and as
it was after."""

from __future__ import annotations

import gc

import pytest

from iptparse import concrete_memo
from iptparse.collector import without_collection
from iptparse.concrete import evaluate
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.trace import trace, trace_json

RULES = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A FORWARD -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n")


def test_the_collector_is_off_inside_and_as_it_was_after() -> None:
    seen: list[bool] = []

    @without_collection
    def inside(fail: bool) -> int:
        seen.append(gc.isenabled())
        if fail:
            raise ValueError("boom")
        return 7

    was = gc.isenabled()
    try:
        gc.enable()
        assert inside(False) == 7 and gc.isenabled()
        with pytest.raises(ValueError):
            inside(True)
        assert gc.isenabled()
        gc.disable()
        assert inside(False) == 7 and not gc.isenabled()  # a caller's pause is kept
    finally:
        if was:
            gc.enable()
        else:
            gc.disable()
    assert seen == [False, False, False]


def test_parse_trace_and_printing_run_without_the_collector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each public entry point pauses it; measured on the TUM firewall's forward answer,
    printing took half the time with it running."""
    states: list[bool] = []
    real_disable = gc.disable

    def disable() -> None:
        states.append(gc.isenabled())
        real_disable()

    monkeypatch.setattr(gc, "disable", disable)
    gc.enable()
    ruleset = Ruleset([parse_iptables(RULES)])
    result = trace(ruleset, Packet(), "forward")
    format_trace(result)
    trace_json(result)
    assert states == [True] * 4 and gc.isenabled()
    del states[:]
    packet = parse_packet("tcp 10.0.0.1:5 -> 10.0.0.2:80 iif=eth0 oif=eth1 ctstate=NEW")
    # the concrete evaluator, and the memo a batch goes through (a new packet, then one
    # whose outcome it remembers): in-process batches were a third slower with it running
    assert evaluate(ruleset, packet, "forward") is not None
    for _ in range(2):
        assert concrete_memo.evaluate(ruleset, packet, "forward") is not None
    assert states == [True] * 3 and gc.isenabled()
