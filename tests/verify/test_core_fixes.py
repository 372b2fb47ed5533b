"""Regressions for the core fixes `iptparse verify` led to (each found as a disagreement with
the kernel or a crash on its traces):

- ip_forward / ip6_forward decrement the TTL (hop limit) before the FORWARD hook, and drop a
  packet whose TTL is 1 or less there (interp.Interpreter._forward_ttl, logic.Moved);
- a packet the stack drops (an expired TTL, routing) names no rule: the tables it passed
  before let it through (PathState.stopped);
- the lab sees local delivery of a protocol it has no handler for (SCTP, GRE…): the stack
  counts it as InUnknownProtos, not InDelivers, and NAT may make a forwarded packet local
  (sandbox.observe.local_deliveries; a generated ruleset's REDIRECT of SCTP showed it);
- value sets of IPv6 addresses are counted without overflowing (IntSet.size, describe);
- IPv6 installs a new address's local route asynchronously: the lab waits for it before
  sending an `in` packet (sandbox.lab.Lab._await_local_route);
- a host built with no routes (the lab's R on the `in` path) has none, not routes no capture
  shows: a packet DNAT sends away finds no route, as in R (a generated ruleset's NETMAP in
  PREROUTING showed it; `Host(routes_known=…)`);
- CT --notrack and NOTRACK load without turning conntrack on, so beside them alone the nat
  table sees no packet (`ruleset.asks_for_conntrack`; a generated ruleset showed it).
"""

from __future__ import annotations

import pytest

from iptparse.concrete import evaluate
from iptparse.describe import describe_set
from iptparse.domain import IntSet
from iptparse.events import Note, StageStart
from iptparse.host import MARTIAN, NO_ROUTE, NOT_A_MEMBER, Host, parse_addrs, parse_routes
from iptparse.interp import TTL_EXPIRED, Interpreter, PathState
from iptparse.logic import Test, split
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import trace, trace_json
from iptparse.verify.compare import Observation
from iptparse.verify.run import verify_dump

from ..conftest import require_kernel

RULES = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
         ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
         "-A PREROUTING -m ttl --ttl-eq 64\n-A FORWARD -m ttl --ttl-eq 64\n"
         "-A FORWARD -m ttl --ttl-eq 63\n-A INPUT -m ttl --ttl-eq 64\nCOMMIT\n")


def state_at_forward(spec: str) -> tuple[PathState | None, list[str]]:
    """The first path's state when mangle FORWARD starts, and the notes on the way."""
    ruleset = Ruleset([parse_iptables(RULES)])
    interpreter = Interpreter(ruleset, Family.INET)
    gen = interpreter.walk(interpreter.start(parse_packet(spec), "forward"))
    notes = []
    for event, state in gen:
        if isinstance(event, Note):
            notes.append(event.text)
        if isinstance(event, StageStart) and event.hook == "FORWARD":
            return state, notes
    return None, notes


def test_forward_sees_the_decremented_ttl() -> None:
    state, _ = state_at_forward("tcp 10.0.0.1:1 -> 10.0.0.2:2 ttl=64 iif=eth0 oif=eth1")
    assert state is not None and state.current("ttl") == IntSet.single(63, 255)
    state, _ = state_at_forward("tcp 10.0.0.1:1 -> 10.0.0.2:2 ttl=10-20 iif=eth0 oif=eth1")
    assert state is not None and state.current("ttl") == IntSet.range(9, 19, 255)
    # a test on the TTL FORWARD sees narrows the packet's own TTL
    (holds,), (fails,) = split(Test("ttl", IntSet.single(15, 255)), state.branch, state.env)
    assert holds.box.get("ttl") == IntSet.single(16, 255)
    assert fails.box.get("ttl") == IntSet.range(10, 20, 255) - IntSet.single(16, 255)


def test_a_ttl_of_one_expires_before_forward() -> None:
    ruleset = Ruleset([parse_iptables(RULES)])
    one = trace(ruleset, parse_packet("tcp 10.0.0.1:1 -> 10.0.0.2:2 ttl=1 iif=eth0 oif=eth1"))
    (path,) = one.paths
    assert path.verdict == "DROP"
    assert [(h.chain, h.rule) for h in path.hits] == []  # PREROUTING's rule wants 64
    some = trace(ruleset, parse_packet("tcp 10.0.0.1:1 -> 10.0.0.2:2 ttl=1-2 iif=eth0 oif=eth1"))
    assert sorted(p.verdict for p in some.paths) == ["ACCEPT", "DROP"]
    # a packet that does not say (and no rule before routing asked) is taken to have a TTL a
    # router forwards; when PREROUTING tested it, TTL ≤ 1 is a path of its own
    quiet = Ruleset([parse_iptables(RULES.replace("-A PREROUTING -m ttl --ttl-eq 64\n", ""))])
    open_ttl = trace(quiet, parse_packet("tcp 10.0.0.1:1 -> 10.0.0.2:2 iif=eth0 oif=eth1"))
    assert sorted(p.verdict for p in open_ttl.paths) == ["ACCEPT"] * 3
    asked = trace(ruleset, parse_packet("tcp 10.0.0.1:1 -> 10.0.0.2:2 iif=eth0 oif=eth1"))
    assert sorted(p.verdict for p in asked.paths) == ["ACCEPT"] * 3 + ["DROP"]
    inbound = trace(ruleset, parse_packet("tcp 10.0.0.1:1 -> 10.0.0.2:2 ttl=64 iif=eth0"), "in")
    (path,) = inbound.paths
    assert [(h.chain, h.rule) for h in path.hits] == [("PREROUTING", 1), ("INPUT", 1)]


def test_a_packet_the_stack_drops_names_no_rule() -> None:
    """PREROUTING let the packet through (here by its policy) and the stack dropped it after:
    the answer must say so, not name PREROUTING's policy, nor a rule that ACCEPTed there."""
    rules = RULES.replace("-A PREROUTING -m ttl --ttl-eq 64\n",
                          "-A PREROUTING -m ttl --ttl-eq 1 -j ACCEPT\n")
    ruleset = Ruleset([parse_iptables(rules)])
    for spec, hits in (("ttl=1", [("PREROUTING", 1)]), ("ttl=0", [])):
        packet = parse_packet(f"tcp 10.0.0.1:1 -> 10.0.0.2:2 {spec} iif=eth0 oif=eth1")
        result = trace(ruleset, packet)
        (path,) = result.paths
        assert [(h.chain, h.rule) for h in path.hits] == hits
        assert (path.verdict, path.state.decision, path.state.stopped) == (
            "DROP", None, TTL_EXPIRED)
        verdicts = [line for line in format_trace(result).splitlines()
                    if line.startswith("DROP")]
        assert verdicts == ["DROP by forwarding (the TTL expires: ICMP time exceeded)"]
        fast_paths = evaluate(ruleset, packet)
        assert fast_paths is not None
        (fast,) = fast_paths
        assert (fast.verdict, fast.decision, fast.stopped) == ("DROP", None, TTL_EXPIRED)


def test_a_packet_routing_drops_names_no_rule() -> None:
    host = Host(parse_addrs("eth0 10.0.0.1/24\neth1 10.0.1.1/24"), parse_routes(
        "10.0.0.0/24 dev eth0\n10.0.1.0/24 dev eth1\nblackhole 10.9.0.0/16\n"))
    ruleset = Ruleset([parse_iptables(RULES)], host=host)
    blackhole = "routing (the route `blackhole 10.9.0.0/16')"
    for dst, src, stopped in (("10.0.1.5", "127.0.0.1", MARTIAN),
                              ("192.0.2.1", "10.0.0.5", NO_ROUTE),
                              ("10.9.1.1", "10.0.0.5", blackhole)):
        result = trace(ruleset, parse_packet(f"tcp {src}:1 -> {dst}:2 ttl=64 iif=eth0"))
        (path,) = result.paths
        assert (path.verdict, path.state.decision, path.state.stopped) == ("DROP", None, stopped)
        assert f"DROP by {stopped}" in format_trace(result)
    # the open question keeps the reasons apart, though the paths passed the same rules
    result = trace(ruleset, parse_packet("tcp 0.0.0.0/0:1 -> 0.0.0.0/0:2 ttl=64 iif=eth0"))
    reasons = sorted(p.state.stopped or "" for p in result.paths if p.verdict == "DROP")
    assert reasons == sorted([MARTIAN, NO_ROUTE, blackhole, NOT_A_MEMBER])
    assert sorted(p["stopped"] or "" for p in trace_json(result)["paths"]
                  if p["verdict"] == "DROP") == reasons


def test_ipv6_sets_are_counted_without_overflow() -> None:
    prefix = IntSet.prefix(0xFD00 << 112, 16, 128)
    assert prefix.size() == 1 << 112
    assert "addresses" in describe_set("src", prefix | IntSet.single(1, prefix.top),
                                       Family.INET6)


@pytest.mark.kernel
def test_the_kernel_decrements_and_expires_as_modelled() -> None:
    require_kernel()
    packets = [(KernelPacket(src="10.0.0.1", dst="10.0.9.9", iif="eth0", oif="eth1", ttl=ttl),
                path) for ttl in (64, 65, 2, 1) for path in ("forward", "in")]
    report = verify_dump(RULES, name="ttl.rules", packets=packets)
    assert report.ok and report.packets.agree == len(packets), report.format()


@pytest.mark.kernel
@pytest.mark.parametrize(("target", "tracked"), [("CT --notrack", False), ("NOTRACK", False),
                                                 ("CT --zone 1", True)])
def test_only_a_ct_rule_that_tracks_turns_conntrack_on(target: str, tracked: bool) -> None:
    require_kernel()
    rules = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             f"-A OUTPUT -p icmp -j {target}\nCOMMIT\n*nat\n:PREROUTING ACCEPT [0:0]\n"
             ":INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
             "-A PREROUTING -p udp\nCOMMIT\n")
    packets = [(KernelPacket(src="10.0.0.1", dst="10.0.3.33", protocol="udp", dport=80,
                             iif="eth1"), "in")]
    report = verify_dump(rules, name="notrack.rules", packets=packets)
    assert report.ok and report.packets.agree == 1, report.format()
    (comparison,) = report.comparisons
    assert (("nat", "PREROUTING", 1) in comparison.kernel.hits) is tracked


@pytest.mark.kernel
@pytest.mark.parametrize("family", [Family.INET, Family.INET6])
def test_an_in_packet_dnat_sends_where_the_lab_has_no_route(family: Family) -> None:
    """R of the `in` path has its destination on lo and no route at all: NETMAP (DNAT) to
    another address leaves the packet without a route, dropped after nat PREROUTING. The
    model of R (`lab_host`) once took its empty routes as not captured and forwarded it."""
    require_kernel()
    v6 = family is Family.INET6
    src, dst, away = ("fd00::1", "fd00:3::21", "fd00::55") if v6 else (
        "10.0.0.1", "10.0.3.33", "10.0.0.55")
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             f":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -s {src} -p tcp -j NETMAP --to {away}/"
             f"{family.bits}\nCOMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
             ":OUTPUT ACCEPT [0:0]\n-A FORWARD -j ACCEPT\n-A INPUT -j ACCEPT\nCOMMIT\n")
    packets = [(KernelPacket(src=src, dst=dst, protocol="tcp", dport=8080, iif="eth1"), "in")]
    report = verify_dump(rules, name="netmap-away.rules", packets=packets)
    assert report.ok and report.packets.agree == 1, report.format()
    (comparison,) = report.comparisons
    assert not comparison.kernel.accepted


@pytest.mark.kernel
@pytest.mark.parametrize("family", [Family.INET, Family.INET6])
def test_local_delivery_of_a_protocol_without_a_handler_is_seen(family: Family) -> None:
    """INPUT accepts SCTP and GRE and drops UDP-Lite: the kernel delivers the first two to no
    handler, and verify sees it. Sent on the forward path, REDIRECT makes the SCTP packet
    local (to the address of its interface): the lab sees that too."""
    require_kernel()
    v6 = family is Family.INET6
    src, dst = ("fd00::1", "fd00:9::9") if v6 else ("10.0.0.1", "10.0.9.9")
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -p sctp -m sctp --dport 7 -j REDIRECT\n"
             "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             f"-A INPUT -s {src} -p udplite -j DROP\nCOMMIT\n")
    packets = [(KernelPacket(src=src, dst=dst, protocol=p, dport=9, iif="eth0"), "in")
               for p in ("sctp", 47, "udplite")]
    report = verify_dump(rules, name="unknown-protocols.rules", packets=packets)
    assert report.ok and report.packets.agree == len(packets), report.format()
    assert [c.kernel.accepted for c in report.comparisons] == [True, True, False]
    own = "fd00::fe/64" if v6 else "10.0.0.254/24"
    with Lab(rules, family, path="forward", addresses=[("eth0", own)]) as lab:
        result = lab.send(KernelPacket(src=src, dst=dst, protocol="sctp", dport=7, iif="eth0",
                                       oif="eth1"))
        # delivered to no handler: seen by the count, whatever R sent after (with an
        # address, its ICMP error asks ARP/ND for the sender first)
        assert ("nat", "PREROUTING", 1) in result.hits and result.local
        assert Observation.of(result).accepted


@pytest.mark.kernel
def test_ipv6_in_packets_wait_for_their_local_route() -> None:
    require_kernel()
    rules = RULES.replace("ttl --ttl", "hl --hl")
    with Lab(rules, Family.INET6, path="in") as lab:
        for n in range(1, 81):
            result = lab.send(KernelPacket(src="fd00::1", dst=f"fd00::{n:x}:1", iif="eth0",
                                           protocol="udp"))
            assert result.local and ("mangle", "INPUT", 1) in result.hits, n


@pytest.mark.kernel
def test_a_dump_with_windows_line_ends_is_loaded_as_iptparse_read_it() -> None:
    """iptables-restore takes `*mangle\\r` for a table name and fails on a line of spaces;
    iptparse reads such a dump as the same dump without them, so verify loads that (four real
    dumps of the shared corpora are saved this way)."""
    require_kernel()
    report = verify_dump(RULES.replace("\n", "\r\n") + " \n", name="crlf.rules", samples=6)
    assert report.ok and report.packets.agree == 6, report.format()
