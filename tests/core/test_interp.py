"""Chain semantics of the walker on hand-written rulesets (the kernel tests check the same
against real counters)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from iptparse.events import RuleEvaluated
from iptparse.interp import Interpreter, RuleRef
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.trace import TraceResult, trace

RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
:a - [0:0]
:b - [0:0]
:c - [0:0]
-A FORWARD -i eth0 -j a
-A FORWARD -p tcp -m tcp --dport 443 -j ACCEPT
-A FORWARD -g c
-A a -s 10.0.0.0/8 -j RETURN
-A a -p tcp -m tcp --dport 22 -j b
-A a -p tcp -m tcp --dport 80 -j ACCEPT
-A b -s 192.168.0.0/16 -j DROP
-A c -p udp -j ACCEPT
COMMIT
"""


def run(spec: str, rules: str = RULES, path: str = "forward") -> TraceResult:
    return trace(Ruleset([parse_iptables(rules)]), parse_packet(spec), path)


def hits(result: TraceResult) -> list[tuple[str, int]]:
    (path,) = result.paths
    return [(h.chain, h.rule) for h in path.hits]


def test_return_resumes_after_the_jump() -> None:
    r = run("tcp 10.1.2.3:5 -> 1.1.1.1:443 iif=eth0 ctstate=NEW")
    assert hits(r) == [("FORWARD", 1), ("a", 1), ("FORWARD", 2)]
    assert r.paths[0].verdict == "ACCEPT"


def test_falling_off_a_user_chain_returns() -> None:
    r = run("tcp 11.1.2.3:5 -> 1.1.1.1:22 iif=eth0 ctstate=NEW")
    # a -> b (no match in b) -> back in a after rule 2 -> FORWARD rule 2 (443? no) -> goto c
    assert hits(r) == [("FORWARD", 1), ("a", 2), ("FORWARD", 3)]
    # c does not match tcp: falling off a goto'd chain applies the builtin policy
    assert r.paths[0].verdict == "DROP"
    assert r.paths[0].policies == (("filter", "FORWARD", "DROP"),)


def test_accept_inside_a_user_chain_ends_the_table() -> None:
    r = run("tcp 11.1.2.3:5 -> 1.1.1.1:80 iif=eth0 ctstate=NEW")
    assert hits(r) == [("FORWARD", 1), ("a", 3)]
    assert r.paths[0].verdict == "ACCEPT" and r.paths[0].policies == ()


def test_goto_then_accept() -> None:
    r = run("udp 11.1.2.3:5 -> 1.1.1.1:53 iif=eth1 ctstate=NEW")
    assert hits(r) == [("FORWARD", 3), ("c", 1)]
    assert r.paths[0].verdict == "ACCEPT"


def test_drop_in_nested_chain() -> None:
    r = run("tcp 192.168.1.1:5 -> 1.1.1.1:22 iif=eth0 ctstate=NEW")
    assert hits(r) == [("FORWARD", 1), ("a", 2), ("b", 1)]
    assert r.paths[0].verdict == "DROP" and r.paths[0].policies == ()


def test_unknown_fields_fork_and_merge() -> None:
    r = run("tcp 11.1.2.3 -> 1.1.1.1 iif=eth0 ctstate=NEW")
    verdicts = {(p.verdict, tuple((h.chain, h.rule) for h in p.hits)) for p in r.paths}
    assert ("ACCEPT", (("FORWARD", 1), ("a", 3))) in verdicts
    assert ("ACCEPT", (("FORWARD", 1), ("FORWARD", 2))) in verdicts
    # every path names the conditions it took
    assert all(p.conditions for p in r.paths)


NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -m conntrack --ctstate INVALID -j DROP
COMMIT
"""


def test_without_a_conntrack_user_nat_sees_nothing() -> None:
    """Only rules that need conntrack turn it on; with none, the nat table sees no packet."""
    rules = NAT.replace("-A FORWARD -m conntrack --ctstate INVALID -j DROP\n", "")
    r = run("tcp 1.1.1.1:2 -> 2.2.2.2:1 ctstate=NEW", rules)
    assert hits(r) == [] and all(p[0] != "nat" for p in r.paths[0].policies)


@pytest.mark.parametrize(("target", "tracked"), [("CT --notrack", False), ("NOTRACK", False),
                                                 ("CT --zone 1", True)])
def test_a_notrack_rule_does_not_turn_conntrack_on(target: str, tracked: bool) -> None:
    """CT's checkentry asks for conntrack unless --notrack (NOTRACK is its other name): with
    only such a rule the nat table sees nothing (tests/verify/test_core_fixes.py has the
    kernel's word)."""
    rules = NAT.replace("-A FORWARD -m conntrack --ctstate INVALID -j DROP\n", "") + (
        f"*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -p icmp -j {target}\n"
        "COMMIT\n")
    r = run("tcp 1.1.1.1:2 -> 2.2.2.2:1 ctstate=NEW", rules)
    assert hits(r) == ([("PREROUTING", 1)] if tracked else [])


def test_nat_sees_only_new_connections() -> None:
    new = run("tcp 1.1.1.1:2 -> 2.2.2.2:1 ctstate=NEW", NAT)
    assert hits(new) == [("PREROUTING", 1)]
    assert ("nat", "PREROUTING", "ACCEPT") in new.paths[0].policies
    est = run("tcp 1.1.1.1:2 -> 2.2.2.2:1 ctstate=ESTABLISHED", NAT)
    assert hits(est) == []
    assert all(p[0] != "nat" for p in est.paths[0].policies)


def test_rule_without_target_only_counts() -> None:
    r = run("tcp 1.1.1.1:2 -> 2.2.2.2:1 ctstate=NEW", NAT)
    assert r.paths[0].hits == (RuleRef("nat", "PREROUTING", 1),)
    assert r.paths[0].verdict == "ACCEPT"


# Rules 1-4 fail whichever way what the packet leaves open goes (dst-local, src, a draw, and
# an assumption and its negation); rule 5 is decided by dst-local for port 80 only.
EITHER_WAY = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -p tcp -m addrtype --dst-type LOCAL -m tcp --dport 30000 -j DROP
-A FORWARD -s 10.0.0.0/8 -p udp -j DROP
-A FORWARD -p tcp -m statistic --mode random --probability 0.5 -m tcp --dport 30001 -j DROP
-A FORWARD -m addrtype --dst-type LOCAL -m addrtype ! --dst-type LOCAL -j DROP
-A FORWARD -m addrtype --dst-type LOCAL -p tcp -m tcp --dport 80 -j REJECT
COMMIT
"""


def test_a_rule_that_fails_whichever_way_does_not_fork() -> None:
    for skip in (True, False):
        result = trace(Ruleset([parse_iptables(EITHER_WAY)]),
                       parse_packet("tcp dst=1.1.1.1 dport=8080 iif=eth0 oif=eth1"),
                       skip=skip)
        (path,) = result.paths
        assert (path.verdict, path.probability, path.conditions) == ("ACCEPT", Fraction(1), [])
        assert len(path.alternatives) == 1 and path.hits == ()


def test_the_walk_still_forks_where_the_outcome_depends() -> None:
    result = run("tcp dst=1.1.1.1 dport=80 iif=eth0 oif=eth1", EITHER_WAY)
    assert sorted((p.verdict, p.probability, tuple(p.conditions)) for p in result.paths) == [
        ("ACCEPT", Fraction(1), ("dst is not a local address of this host",)),
        ("REJECT", Fraction(1), ("dst is a local address of this host",)),
    ]


def test_the_event_says_which_condition_was_left_undecided() -> None:
    interpreter = Interpreter(Ruleset([parse_iptables(EITHER_WAY)]), Family.INET)
    walk = interpreter.walk(interpreter.start(
        parse_packet("tcp dst=1.1.1.1 dport=8080 iif=eth0 oif=eth1"), "forward"))
    events = [e for e, _ in walk if isinstance(e, RuleEvaluated)]  # no Fork to answer
    assert [e.rule.number for e in events] == [1, 2, 3, 4, 5]
    assert not any(e.matched for e in events)
    shown = [[(r.condition.source, r.holds) for r in e.results] for e in events]
    assert shown[0] == [("-p tcp", True), ("-m addrtype --dst-type LOCAL", None)]
    assert shown[1] == [("-s 10.0.0.0/8", None)]  # 10/8 or not, udp fails
    assert shown[2] == [("-p tcp", True),
                        ("-m statistic --mode random --probability 0.50000000000", None)]
    assert shown[3] == [("-m addrtype --dst-type LOCAL", None)]


def test_a_walk_without_events_reports_only_its_forks_notes_and_end() -> None:
    from iptparse.events import Finished, Fork, Note

    interpreter = Interpreter(Ruleset([parse_iptables(EITHER_WAY)]), Family.INET, events=False)
    walk = interpreter.walk(interpreter.start(
        parse_packet("tcp dst=1.1.1.1 dport=80 iif=eth0 oif=eth1 ctstate=NEW"), "forward"))
    kinds = []
    event, _ = next(walk)
    try:
        while True:
            kinds.append(type(event))
            event, _ = walk.send(0)
    except StopIteration as stop:
        assert stop.value.verdict == "REJECT"  # the first option: dst is local
    # conntrack (not active) and routing say what they did; rule 5 forks on dst-local; no
    # stage, chain or rule event
    assert kinds == [Note, Note, Fork, Finished]
