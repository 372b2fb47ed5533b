"""A local process's packet and the host's routes (`Host.route_output`, `reroute_output`).

What the kernel does, checked in tests/sandbox/test_lab.py and by `verify --path out`: the
route is chosen before OUTPUT (its interface is what `-o` sees there), chosen again after
mangle or nat OUTPUT changes the destination, and then POSTROUTING sees the new interface
while the rest of OUTPUT keeps the first one; a packet routed to the host itself comes in
again over lo (`Interpreter._loop_back`).
"""

from __future__ import annotations

from iptparse.host import NO_ROUTE, Host, HostAddress, Route
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.trace import TraceResult, trace

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i lo
-A OUTPUT -d 203.0.113.10/32 -p udp -j DNAT --to-destination 10.9.0.5:53
-A OUTPUT -d 203.0.113.11/32 -p udp -j DNAT --to-destination 198.51.100.1
-A POSTROUTING -o eth2
-A POSTROUTING -o eth1
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -m state --state NEW -j ACCEPT
-A OUTPUT -o eth1
-A OUTPUT -o eth2
-A OUTPUT -o lo
COMMIT
"""

HOST = Host([HostAddress("eth0", Family.INET, 0xC0000201, 24)],  # 192.0.2.1/24
            [Route(Family.INET, 0x0A000000, 8, "eth1"),  # 10.0.0.0/8 dev eth1
             Route(Family.INET, 0x0A090000, 16, "eth2"),  # 10.9.0.0/16 dev eth2
             Route(Family.INET, 0xCB007100, 24, "eth1")])  # 203.0.113.0/24 dev eth1


def out(spec: str, host: Host | None = HOST) -> TraceResult:
    return trace(Ruleset([parse_iptables(RULES)], host=host), parse_packet(f"{spec} ctstate=NEW"),
                 "out")


def hits(result: TraceResult) -> list[str]:
    (path,) = result.paths
    return [f"{h.table}:{h.chain}:{h.rule}" for h in path.hits]


def test_the_route_gives_output_its_interface() -> None:
    result = out("udp 192.0.2.1:5000 -> 10.1.2.3:53")
    assert hits(result) == ["filter:OUTPUT:1", "nat:POSTROUTING:2"]
    (path,) = result.paths
    assert path.verdict == "ACCEPT" and path.state.current("oif").single_value() == "eth1"
    assert hits(out("udp 192.0.2.1:5000 -> 10.9.7.7:53")) == ["filter:OUTPUT:2",
                                                             "nat:POSTROUTING:1"]


def test_dnat_reroutes_for_postrouting_only() -> None:
    """Routed out of eth1, sent to eth2 by DNAT: OUTPUT's filter still sees eth1."""
    result = out("udp 192.0.2.1:5000 -> 203.0.113.10:99")
    assert hits(result) == ["nat:OUTPUT:1", "filter:OUTPUT:1", "nat:POSTROUTING:1"]
    (path,) = result.paths
    assert path.state.current("oif").single_value() == "eth2"
    assert path.state.current("dst").single_value() == 0x0A090005


def test_no_route_after_dnat_drops_before_filter() -> None:
    result = out("udp 192.0.2.1:5000 -> 203.0.113.11:99")
    assert hits(result) == ["nat:OUTPUT:2"]
    (path,) = result.paths
    assert (path.verdict, path.state.stopped) == ("DROP", NO_ROUTE)


def test_no_route_means_no_hook_sees_the_packet() -> None:
    result = out("udp 192.0.2.1:5000 -> 172.16.0.1:53")
    assert hits(result) == []
    (path,) = result.paths
    assert (path.verdict, path.state.stopped, path.policies) == ("DROP", NO_ROUTE, ())


def test_a_local_destination_leaves_by_lo_and_comes_in_again() -> None:
    """INPUT sees it on lo, still NEW; nat PREROUTING is not consulted again."""
    result = out("udp 192.0.2.1:5000 -> 192.0.2.1:53")
    assert hits(result) == ["filter:OUTPUT:3", "filter:INPUT:1"]
    (path,) = result.paths
    assert path.state.current("iif").single_value() == "lo"
    assert path.state.decision == ("filter", "INPUT", 1)
    assert "path:   out (OUTPUT → POSTROUTING → lo → PREROUTING → INPUT), ipv4" in (
        format_trace(result))
    assert "path:   out (OUTPUT → POSTROUTING), ipv4" in format_trace(
        out("udp 192.0.2.1:5000 -> 10.1.2.3:53"))


def test_an_open_destination_forks_by_route() -> None:
    result = out("udp 192.0.2.1:5000 -> 10.0.0.0/8")
    by_oif = {p.state.current("oif").single_value(): p for p in result.paths}
    assert set(by_oif) == {"eth1", "eth2"}


def test_without_routes_the_interface_is_as_given() -> None:
    result = out("udp 192.0.2.1:5000 -> 203.0.113.10:99 oif=eth1", host=None)
    assert hits(result) == ["nat:OUTPUT:1", "filter:OUTPUT:1", "nat:POSTROUTING:2"]
