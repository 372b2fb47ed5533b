"""Stepper.reset (added for the REPL's packet/set/run/assume): a new walk, breakpoints kept."""

from __future__ import annotations

import pytest

from iptparse.debug import Stepper
from iptparse.packet import parse_packet
from iptparse.trace import TraceError

from ._drive import ACCEPTED, RETURNED, ruleset


def test_reset_with_a_new_packet_keeps_breakpoints() -> None:
    stepper = Stepper(ruleset(), parse_packet(RETURNED))
    bp = stepper.add_breakpoint("pi-policy")
    assert stepper.cont().breakpoint is bp
    stepper.reset(parse_packet(ACCEPTED))
    assert stepper.current is None and stepper.history == []
    assert stepper.cont().breakpoint is bp and bp.hits == 2
    stepper.run_to_end()
    assert stepper.state.verdict == "ACCEPT"


def test_reset_with_assumptions_and_path() -> None:
    rules = ruleset("""*filter
:INPUT DROP [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -m weird --x 1 -j ACCEPT
COMMIT
""")
    stepper = Stepper(rules, parse_packet(RETURNED))
    assert stepper.run_to_end().verdict == "DROP"  # forward: FORWARD's policy
    stepper.reset(path="in", assumptions={"match:weird@filter:INPUT:1": True})
    assert stepper.run_to_end().verdict == "ACCEPT"
    stepper.reset()  # keeps the path and the assumptions
    assert stepper.path == "in" and stepper.run_to_end().verdict == "ACCEPT"
    stepper.reset(assumptions={})
    assert stepper.cont().kind == "fork"  # the match is open again


def test_a_refused_reset_changes_nothing() -> None:
    stepper = Stepper(ruleset(), parse_packet(RETURNED))
    stepper.step()
    with pytest.raises(ValueError):
        stepper.reset(path="sideways")
    with pytest.raises(TraceError):
        stepper.reset(parse_packet("tcp [2001:db8::1]:1 -> [2001:db8::2]:2"))
    assert stepper.path == "forward" and stepper.cursor == 0


def test_breakpoint_label_names_its_kind_once() -> None:
    stepper = Stepper(ruleset(), parse_packet(RETURNED))
    labels = [stepper.add_breakpoint(spec).label for spec in
              ("tw-pod", "tw-pod:2", "target DROP", 'text "-o podd1"', "if dport == 22")]
    assert labels == ["chain tw-pod", "rule tw-pod:2", "target DROP", 'text "-o podd1"',
                      "if dport == 22"]
    assert stepper.breakpoints[2].describe() == "3: target DROP (hit 0 time(s))"
