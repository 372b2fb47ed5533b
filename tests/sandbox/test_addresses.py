"""The routes an address makes, against the kernel (fib_add_ifaddr): none in main for
`noprefixroute`, an IPv4 /32, or an address on lo, whose whole prefix is local instead. The
router's addresses and routes are read back as a user captures them.
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
from iptparse.trace import trace

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

RULES = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp -m addrtype --dst-type LOCAL
-A INPUT -p udp
-A FORWARD -o eth1
COMMIT
"""
ADDRESSES = ["address add 10.5.0.1/24 dev lo", "address add 10.7.0.1/24 dev eth1 noprefixroute",
             "address add 10.6.0.1/32 dev eth1"]


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


@pytest.mark.parametrize("routes", [True, False], ids=["addr-and-routes", "addr-alone"])
def test_the_routes_addresses_make(routes: bool) -> None:
    with Lab(RULES, Family.INET, path="forward", interfaces=["eth0", "eth1"]) as lab:
        lab.router.run(["ip", "-batch", "-"], input="\n".join(ADDRESSES) + "\n")
        seen = []
        for dst in ("10.5.0.77", "10.7.0.5", "10.6.0.1"):
            got = lab.send(KernelPacket(src="192.0.2.7", dst=dst, protocol="udp",
                                        routes=(("10.99.0.0/16", "eth1"),)))
            host = Host.from_text(lab.router.run(["ip", "addr"]).stdout,
                                  lab.router.run(["ip", "route", "show", "table", "all"]).stdout
                                  if routes else None)
            result = trace(Ruleset([parse_iptables(RULES)], host=host), parse_packet(
                f"udp 192.0.2.7:40000 -> {dst}:80 iif=eth0 ctstate=NEW ttl=64"), "forward")
            outcomes = {(frozenset((h.table, h.chain, h.rule) for h in p.hits), p.verdict)
                        for p in result.paths}
            kernel = (frozenset(got.hits), "ACCEPT" if got.local or got.egress else "DROP")
            if routes:
                assert outcomes == {kernel}, dst
            elif dst == "10.7.0.5":  # no route; without the routes it leaves as asked
                assert {verdict for _, verdict in outcomes} == {"ACCEPT"}, outcomes
            else:
                assert kernel in outcomes, dst
            seen.append(kernel)
    assert seen == [(frozenset({("filter", "INPUT", 1), ("filter", "INPUT", 2)}), "ACCEPT"),
                    (frozenset(), "DROP"),
                    (frozenset({("filter", "INPUT", 1), ("filter", "INPUT", 2)}), "ACCEPT")]
