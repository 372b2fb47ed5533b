"""IPv6 addresses that must stay on their link leave only by the input interface: checked
against an independent reading of the kernel's two checks and against the kernel itself."""

from __future__ import annotations

import ipaddress
import itertools

import pytest

from iptparse.interp import TTL_EXPIRED
from iptparse.nodes import Family
from iptparse.onlink import LINK_LOCAL_ROUTE, SOURCE_NOT_FORWARDED
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import trace

from ..conftest import require_kernel
from ..perf.test_trace_speed import _check

RULES = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
         "-A FORWARD -p udp -j ACCEPT\nCOMMIT\n")
RULESET = Ruleset([parse_iptables(RULES, family=Family.INET6)])
# none of these is dropped on receipt (tests/core/test_receive.py)
SOURCES = ("2001:db8:5::7", "::", "fe80::1", "febf::1", "fec0::1", "::ffff:10.1.2.3")
DESTINATIONS = ("2001:db8:9::1", "fe80::9", "febf::9", "fec0::9", "ff0e::5")


def stopped(src: str, dst: str, iif: str, oif: str, ttl: int = 64) -> str | None:
    """Routing, then ip6_forward(), read again: what drops the packet before FORWARD."""
    s, d = ipaddress.IPv6Address(src), ipaddress.IPv6Address(dst)
    away = iif != oif
    if away and d.is_link_local:
        return LINK_LOCAL_ROUTE
    if ttl <= 1:
        return TTL_EXPIRED
    if away and (s.is_unspecified or s.is_loopback or s.is_multicast or s.is_link_local):
        return SOURCE_NOT_FORWARDED
    return None


def spec(src: str, dst: str, iif: str | None, oif: str | None, ttl: int = 64) -> str:
    where = "".join(f" {k}={v}" for k, v in (("iif", iif), ("oif", oif)) if v)
    return f"udp [{src}]:1000 -> [{dst}]:53{where} ttl={ttl}"


@pytest.mark.parametrize("ttl", [64, 1])
def test_exact_packets_follow_routing_and_ip6_forward(ttl: int) -> None:
    for src, dst, oif in itertools.product(SOURCES, DESTINATIONS, ("eth1", "eth0")):
        packet = parse_packet(spec(src, dst, "eth0", oif, ttl), Family.INET6)
        (result,) = trace(RULESET, packet, "forward").paths
        expected = stopped(src, dst, "eth0", oif, ttl)
        assert result.state.stopped == expected, (src, dst, oif, ttl)
        assert (result.verdict == "DROP") == (expected is not None)
        assert [h.chain for h in result.hits] == ([] if expected else ["FORWARD"])
        assert _check(RULESET, packet, "forward")  # the evaluator and its memo agree


def test_a_side_left_open_is_tested_against_the_other() -> None:
    for src, dst in itertools.product(SOURCES, DESTINATIONS):
        for iif, oif in (("eth0", None), (None, "eth1")):
            packet = parse_packet(spec(src, dst, iif, oif), Family.INET6)
            result = trace(RULESET, packet, "forward")
            outcomes = sorted((p.state.stopped or "", tuple(p.conditions)) for p in result.paths)
            known = iif or oif
            other = "oif" if iif else "iif"
            reason = stopped(src, dst, "eth0", "eth1")
            if reason is None:
                assert outcomes == [("", ())], (src, dst, iif, oif)
            else:
                assert outcomes == [
                    ("", (f"{other} = {'iif' if iif else 'oif'} ({known})",)),
                    (reason, (f"{other} ≠ {'iif' if iif else 'oif'} ({known})",))], (src, dst)
            _check(RULESET, packet, "forward")


def test_neither_side_known_forks_on_an_assumption_the_user_can_pin() -> None:
    packet = parse_packet("udp [fe80::1]:1000 -> [2001:db8:9::1]:53", Family.INET6)
    result = trace(RULESET, packet, "forward")
    assert sorted((p.verdict, p.state.stopped, p.conditions) for p in result.paths) == [
        ("ACCEPT", None, ["oif = iif (sent back out the input interface)"]),
        ("DROP", SOURCE_NOT_FORWARDED, ["oif ≠ iif (sent out another interface)"])]
    for pin, verdict in ((True, "ACCEPT"), (False, "DROP")):
        (path,) = trace(RULESET, packet, "forward", assumptions={"same-interface": pin}).paths
        assert path.verdict == verdict


def test_ipv4_and_the_other_paths_are_not_checked() -> None:
    v4 = Ruleset([parse_iptables(RULES)])
    packet = parse_packet("udp 169.254.1.1:1000 -> 169.254.9.9:53 iif=eth0 oif=eth1")
    (path,) = trace(v4, packet, "forward").paths
    assert path.verdict == "ACCEPT" and path.state.stopped is None
    for kind, where in (("in", "iif=eth0"), ("out", "oif=eth1")):
        packet = parse_packet(f"udp [fe80::1]:1000 -> [fe80::9]:53 {where}", Family.INET6)
        (path,) = trace(RULESET, packet, kind).paths
        assert path.verdict == "ACCEPT" and path.state.stopped is None


@pytest.mark.kernel
def test_the_kernel_forwards_what_iptparse_forwards() -> None:
    """From a veth into the router and out of it, or back out the same one: FORWARD's rule
    counts the packet exactly when iptparse lets it reach FORWARD."""
    require_kernel()
    with Lab(RULES, Family.INET6, path="forward", interfaces=["eth0", "eth1"]) as lab:
        for src, dst, oif in itertools.product(SOURCES, DESTINATIONS, ("eth1", "eth0")):
            packet = parse_packet(spec(src, dst, "eth0", oif), Family.INET6)
            (model,) = trace(RULESET, packet, "forward").paths
            kernel = lab.send(KernelPacket(src=src, dst=dst, protocol="udp", sport=1000,
                                           dport=53, iif="eth0", oif=oif))
            counted = ("filter", "FORWARD", 1) in kernel.hits
            if ipaddress.IPv6Address(dst).is_multicast:
                # no multicast routing in the lab (nor modelled): never forwarded; iptparse
                # forwards it as asked, and says nothing else of it here
                assert not counted
                continue
            assert counted == (model.state.stopped is None), (src, dst, oif)
