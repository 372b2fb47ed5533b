"""Multipath routes against the kernel: a flow leaves by one nexthop, the one the kernel's hash
picks; iptparse answers every live nexthop, each under its assumption, and the kernel's choice
must be one of them with the same rules counted. A nexthop whose device is down (`dead` in `ip
route`) is never picked. The checks of the route back to a source (-m rpfilter, rp_filter)
pass on any nexthop's device.
"""

from __future__ import annotations

import pytest

from iptparse.host import Host
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import TraceResult, trace

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

GW = "169.254.255.254"
RULES = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m rpfilter
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o eth0
-A FORWARD -o eth1
-A FORWARD -o eth2
-A FORWARD -o eth3
COMMIT
"""
MULTIPATH = (f"route add 10.9.0.0/16 nexthop via {GW} dev eth1 onlink "
             f"nexthop via {GW} dev eth2 onlink\n")
INTERFACES = ["eth0", "eth1", "eth2", "eth3"]


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


def _captured(lab: Lab) -> str:
    return "".join(lab.router.run(argv).stdout for argv in (
        ["ip", "rule", "show"], ["ip", "route", "show", "table", "all"]))


def _trace(host: Host, spec: str) -> TraceResult:
    return trace(Ruleset([parse_iptables(RULES)], host=host),
                 parse_packet(f"{spec} ctstate=NEW mark=0x0 ttl=64"), "forward")


def _ways(result: TraceResult) -> dict[str, set[tuple[str, str, int]]]:
    """Each path's output interface (else how it ended) and the rules it counted."""
    out = {}
    for path in result.paths:
        oif = path.state.current("oif").single_value()
        key = str(oif) if path.verdict == "ACCEPT" else str(path.verdict)
        assert key not in out
        out[key] = {(h.table, h.chain, h.rule) for h in path.hits}
    return out


def test_a_flow_leaves_by_one_of_the_live_nexthops() -> None:
    with Lab(RULES, Family.INET, path="forward", interfaces=INTERFACES) as lab:
        # a fixed seed makes the kernel's choices the same on every run (6.11 and later)
        lab.router.run(["sysctl", "-qw", "net.ipv4.fib_multipath_hash_seed=7"], check=False)
        lab.router.run(["ip", "-batch", "-"], input=MULTIPATH)
        host = Host.from_text(None, _captured(lab))
        chosen = set()
        for last in range(1, 9):
            dst = f"10.9.0.{last}"
            got = lab.send(KernelPacket(src="192.0.2.7", dst=dst, protocol="udp",
                                        routes=(("10.0.0.0/8", "eth3"),)))
            ways = _ways(_trace(host, f"udp 192.0.2.7:40000 -> {dst}:80 iif=eth0"))
            assert set(ways) == {"eth1", "eth2"}, dst
            (egress,) = {e.interface for e in got.egress}
            assert ways[egress] == set(got.hits), dst
            chosen.add(egress)
        assert chosen == {"eth1", "eth2"}  # the hash spread the eight flows

        lab.router.run(["ip", "link", "set", "eth2", "down"])
        host = Host.from_text(None, _captured(lab))
        assert "dead" in host.routes_for(Family.INET, dead=True)[0].text()
        for last in range(1, 5):
            dst = f"10.9.0.{last}"
            got = lab.send(KernelPacket(src="192.0.2.7", dst=dst, protocol="udp",
                                        routes=(("10.0.0.0/8", "eth3"),)))
            result = _trace(host, f"udp 192.0.2.7:40000 -> {dst}:80 iif=eth0")
            assert _ways(result) == {"eth1": set(got.hits)}, dst
            assert {e.interface for e in got.egress} == {"eth1"}


def test_the_route_back_may_leave_by_any_nexthop() -> None:
    """Strict -m rpfilter and rp_filter 1 pass a source routed by a multipath route when the
    packet came in by any of its nexthops' devices (fib_info_nh_uses_dev)."""
    with Lab(RULES, Family.INET, path="forward", interfaces=INTERFACES) as lab:
        lab.router.run(["ip", "-batch", "-"], input=MULTIPATH)
        lab.router.run(["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=1"])
        settings = lab.router.run(["sysctl", "net.ipv4"]).stdout
        seen = []
        for iif in ("eth1", "eth2", "eth3"):
            got = lab.send(KernelPacket(src="10.9.0.5", dst="10.1.0.5", protocol="udp",
                                        iif=iif, routes=(("10.1.0.0/16", "eth0"),)))
            host = Host.from_text(None, _captured(lab), settings)
            result = _trace(host, f"udp 10.9.0.5:40000 -> 10.1.0.5:80 iif={iif}")
            (path,) = result.paths
            assert {(h.table, h.chain, h.rule) for h in path.hits} == set(got.hits), iif
            assert (path.verdict == "ACCEPT") == bool(got.egress), iif
            seen.append((sorted(got.hits), bool(got.egress)))
    assert seen == [([("filter", "FORWARD", 1), ("mangle", "PREROUTING", 1)], True),
                    ([("filter", "FORWARD", 1), ("mangle", "PREROUTING", 1)], True),
                    ([], False)]


RULES6 = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o eth1
-A FORWARD -o eth2
-A FORWARD -o eth3
COMMIT
"""


def test_ipv6_siblings_share_a_flow_out() -> None:
    """IPv6 keeps a multipath route as sibling routes (fib6_select_path); `ip -6 route`
    prints them as one, with nexthop lines, and a dead one is never picked."""
    with Lab(RULES6, Family.INET6, path="forward", interfaces=INTERFACES) as lab:
        lab.router.run(["sysctl", "-qw", "net.ipv6.fib_multipath_hash_seed=7"], check=False)
        lab.router.run(["ip", "-6", "route", "add", "2001:db8:9::/48", "nexthop", "via",
                        "fe80::1", "dev", "eth1", "nexthop", "via", "fe80::1", "dev", "eth2"])
        chosen = []
        for down in (False, True):
            if down:
                lab.router.run(["ip", "link", "set", "eth2", "down"])
            captured = "".join(lab.router.run(argv).stdout for argv in (
                ["ip", "-6", "rule", "show"], ["ip", "-6", "route", "show", "table", "all"]))
            host = Host.from_text(None, captured)
            for last in range(1, 9):
                dst = f"2001:db8:9::{last}"
                got = lab.send(KernelPacket(src="2001:db8:7::7", dst=dst, protocol="udp",
                                            routes=(("2001:db8::/32", "eth3"),)))
                result = trace(Ruleset([parse_iptables(RULES6, family=Family.INET6)],
                                       host=host),
                               parse_packet(f"udp [2001:db8:7::7]:40000 -> [{dst}]:80 iif=eth0 "
                                            "ctstate=NEW ttl=64"), "forward")
                ways = _ways(result)
                assert set(ways) == ({"eth1"} if down else {"eth1", "eth2"}), dst
                (egress,) = {e.interface for e in got.egress}
                assert ways[egress] == set(got.hits), dst
                chosen.append(egress)
    assert set(chosen[:8]) == {"eth1", "eth2"}
