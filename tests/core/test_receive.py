"""The IPv6 stack's drops on receipt, before PREROUTING (`iptparse.receive`), against an
independent reading of ip6_rcv_core() and against the kernel."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from iptparse.concrete import evaluate
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.receive import RECEIPT_DROP
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import trace

from ..conftest import require_kernel
from ..perf.test_trace_speed import _check

RULES = ("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n-A PREROUTING -j ACCEPT\n"
         "COMMIT\n*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A INPUT -s 2001:db8::/32 -p tcp -j ACCEPT\n-A INPUT -p udp -j ACCEPT\n"
         "-A FORWARD -p udp -j ACCEPT\n-A OUTPUT -p udp -j ACCEPT\nCOMMIT\n")
RULESET = Ruleset([parse_iptables(RULES, family=Family.INET6)])
SOURCES = ("2001:db8:5::7", "ff02::5", "ff0e::5", "::1", "::", "fe80::1", "::ffff:10.1.2.3")
DESTINATIONS = ("2001:db8:9::1", "::1", "ff00::5", "ff01::5", "ff11::5", "ff10::5", "ff02::5",
                "ff0e::5", "fe80::9")


def dropped(src: str, dst: str, iif: str) -> bool:
    """ip6_rcv_core() read again, address by address."""
    s, d = ipaddress.IPv6Address(src), ipaddress.IPv6Address(dst)
    loopback = iif == "lo"
    scope = d.packed[1] & 0x0F if d.is_multicast else None
    return (s.is_multicast or scope == 0
            or (not loopback and (s == ipaddress.IPv6Address("::1")
                                  or d == ipaddress.IPv6Address("::1") or scope == 1)))


def spec(src: str, dst: str, iif: str, path: str) -> str:
    oif = " oif=eth1" if path == "forward" else ""
    return f"udp [{src}]:1000 -> [{dst}]:53 iif={iif}{oif}"


@pytest.mark.parametrize("path", ["in", "forward"])
def test_exact_packets_follow_ip6_rcv_core(path: str) -> None:
    for src, dst, iif in itertools.product(SOURCES, DESTINATIONS, ("eth0", "lo")):
        packet = parse_packet(spec(src, dst, iif, path), Family.INET6)
        (result,) = trace(RULESET, packet, path).paths
        expected = dropped(src, dst, iif)
        assert (result.state.stopped == RECEIPT_DROP) == expected, (src, dst, iif)
        if expected:
            assert result.verdict == "DROP" and result.hits == () and result.policies == ()
            assert result.state.decision is None
        else:
            assert result.hits[0].chain == "PREROUTING"
        # the concrete evaluator, its memo and the skipping walk say the same
        assert _check(RULESET, packet, path)


@pytest.mark.parametrize("path", ["in", "forward"])
def test_the_interface_splits_a_path_only_where_it_decides(path: str) -> None:
    """A packet that does not say where it came from: a multicast source is dropped
    wherever it came from (no condition on the interface, as the concrete evaluator finds);
    ::1 is dropped only off loopback (two paths); other addresses pass whole."""
    for src, dst in itertools.product(SOURCES, DESTINATIONS):
        packet = parse_packet(spec(src, dst, "", path).replace(" iif=", ""), Family.INET6)
        result = trace(RULESET, packet, path)
        # forwarding splits link-scoped addresses further on "iif = oif" (tests/core/
        # test_onlink.py); only what receipt decided is looked at here
        verdicts = sorted({(p.state.stopped == RECEIPT_DROP,
                            tuple(c for c in p.conditions if "oif" not in c))
                           for p in result.paths})
        if dropped(src, dst, "lo"):
            assert verdicts == [(True, ())], (src, dst)
        elif dropped(src, dst, "eth0"):
            assert verdicts == [(False, ("iif = lo",)), (True, ("iif ≠ lo",))], (src, dst)
        else:
            assert verdicts == [(False, ())], (src, dst)
        _check(RULESET, packet, path)  # the evaluator, when it decides, says the same


def test_the_report_says_the_stack_dropped_it() -> None:
    text = format_trace(trace(RULESET, parse_packet(spec("ff02::5", "2001:db8:9::1", "eth0",
                                                         "in"), Family.INET6), "in"))
    assert f"DROP by {RECEIPT_DROP}" in text
    assert "raw PREROUTING" not in text  # no hook saw it


def test_an_open_packet_has_one_path_for_the_drop_and_keeps_the_rest_whole() -> None:
    """Every field unknown: the drop is one path whose alternatives hold exactly the dropped
    addresses; the packets that pass are split by nothing but the interface kind."""
    result = trace(RULESET, Packet(family=Family.INET6), "in")
    (drop,) = [p for p in result.paths if p.state.stopped == RECEIPT_DROP]
    for src, dst, iif in itertools.product(SOURCES, DESTINATIONS, ("eth0", "lo")):
        values = {"src": int(ipaddress.IPv6Address(src)), "dst": int(ipaddress.IPv6Address(dst)),
                  "proto": 17}
        holding = [p for p in result.paths for a in p.alternatives
                   if all(v in a.box.get(k) for k, v in values.items())
                   and iif in a.box.get("iif")]
        assert len(holding) == 1, (src, dst, iif)  # the paths' pieces make a partition
        assert (holding[0] is drop) == dropped(src, dst, iif), (src, dst, iif)
    # without the drop the rules give three ACCEPT paths (tcp from 2001:db8::/32, udp, the
    # rest); the interface kind splits each of them once, no more
    accepted = [p for p in result.paths if p.verdict == "ACCEPT"]
    assert len(accepted) == 3
    assert all(len(p.alternatives) <= 4 for p in accepted)


def test_ipv4_and_locally_sent_packets_are_not_checked() -> None:
    v4 = Ruleset([parse_iptables(RULES.replace("2001:db8::/32", "10.0.0.0/8"))])
    (path,) = trace(v4, parse_packet("udp 224.0.0.5:1 -> 127.0.0.1:53 iif=eth0"), "in").paths
    assert path.state.stopped is None and path.hits[0].chain == "PREROUTING"
    out = parse_packet("udp [::1]:1000 -> [ff01::5]:53 oif=eth0", Family.INET6)
    (path,) = trace(RULESET, out, "out").paths
    assert path.state.stopped is None and path.hits[0].chain == "OUTPUT"
    fast = evaluate(RULESET, out, "out")
    assert fast is not None and fast[0].stopped is None


@pytest.mark.kernel
def test_the_kernel_drops_what_iptparse_drops() -> None:
    """Sent from the wire on a veth: PREROUTING's rule counts the packet exactly when
    iptparse lets it through. (A packet on lo cannot be sent from another namespace; that
    side is ip6_rcv_core() as read above.) The `in` path needs a destination the router can
    own, so multicast destinations go on the forward path."""
    require_kernel()
    for path in ("in", "forward"):
        with Lab(RULES, Family.INET6, path=path) as lab:
            for src, dst in itertools.product(SOURCES, DESTINATIONS):
                if path == "in" and (ipaddress.IPv6Address(dst).is_multicast
                                     or dst == "fe80::9"):
                    continue
                packet = parse_packet(spec(src, dst, "eth0", path), Family.INET6)
                (model,) = trace(RULESET, packet, path).paths
                kernel = lab.send(KernelPacket(src=src, dst=dst, protocol="udp", sport=1000,
                                               dport=53, iif="eth0",
                                               oif="eth1" if path == "forward" else None))
                counted = ("raw", "PREROUTING", 1) in kernel.hits
                assert counted == (model.state.stopped != RECEIPT_DROP), (path, src, dst)
