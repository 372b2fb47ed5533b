"""Routes as `ip route` prints them, and what routing makes of multipath routes (the kernel
checks the same in tests/sandbox/test_multipath.py)."""

from __future__ import annotations

from iptparse.host import NO_ROUTE, Host, parse_addrs, parse_routes
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.trace import TraceResult, trace

#: `ip route show table all` on this kernel, with a nexthop group, a nexthop whose device went
#: down, and IPv6 siblings (each line ends in a space, as `ip` prints most)
SHOWN = "".join(f"{line} \n" for line in """default table 100
\tnexthop dev v0 weight 1
\tnexthop via 10.0.1.1 dev v2 weight 1 onlink
10.0.0.0/24 dev v0 proto kernel scope link src 10.0.0.2
10.0.1.0/24 dev v2 proto kernel scope link src 10.0.1.2
172.16.0.0/12 nhid 10
\tnexthop via 10.0.0.1 dev v0 weight 1
\tnexthop via 10.0.1.1 dev v2 weight 3
172.20.0.0/16 proto bird metric 20
\tnexthop via 10.0.0.1 dev v0 weight 1
\tnexthop via 10.0.1.1 dev v2 weight 1 dead linkdown
\tnexthop via 10.0.1.3 dev v3 weight 1
172.31.0.0/16 nhid 1 via 10.0.0.1 dev v0
2001:db8:9::/48 metric 1024 pref medium
\tnexthop via 2001:db8::1 dev v0 weight 1
\tnexthop via 2001:db8:1::1 dev v2 weight 2
""".splitlines())

FORWARD = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o v0 -j ACCEPT
-A FORWARD -o v2 -j DROP
COMMIT
"""


def test_dead_routes_are_passed_by() -> None:
    routes = parse_routes("10.0.0.0/8 via 10.1.1.1 dev eth1\n"
                          "10.5.0.0/16 via 10.2.2.2 dev eth2 dead linkdown\n"
                          "10.6.0.0/16\n\tnexthop via 10.2.2.2 dev eth2 dead\n"
                          "\tnexthop via 10.3.3.3 dev eth3 dead\n")
    host = Host((), routes)
    assert [r.text() for r in host.routes_for(Family.INET)] == ["10.0.0.0/8 via 10.1.1.1 dev eth1"]
    assert len(host.routes_for(Family.INET, dead=True)) == 3
    assert "10.5.0.0/16 via 10.2.2.2 dev eth2 dead" in [
        r.text() for r in host.routes_for(Family.INET, dead=True)]
    for dst in ("10.5.0.1", "10.6.0.1"):
        (path,) = _forward(host, dst).paths
        assert path.state.current("oif").single_value() == "eth1"


def _forward(host: Host, dst: str, assumptions: dict[str, bool] | None = None
             ) -> TraceResult:
    return trace(Ruleset([parse_iptables(FORWARD)], host=host),
                 parse_packet(f"tcp 192.0.2.7:5 -> {dst}:80 iif=v1 ctstate=NEW"), "forward",
                 assumptions=assumptions)


def test_a_flow_goes_by_one_nexthop_each_an_assumption() -> None:
    host = Host.from_text(None, SHOWN)
    result = _forward(host, "172.16.1.1")
    ways = {p.state.current("oif").single_value(): p for p in result.paths}
    assert set(ways) == {"v0", "v2"}
    assert ways["v0"].verdict == "ACCEPT" and ways["v2"].verdict == "DROP"
    text = format_trace(result)
    assert ("if the multipath hash picks `nexthop via 10.0.0.1 dev v0' (weight 1 of 4) of "
            "route 172.16.0.0/12") in text
    assert ("DROP if the multipath hash picks `nexthop via 10.0.1.1 dev v2' (weight 3 of 4), "
            "not `nexthop via 10.0.0.1 dev v0' of route 172.16.0.0/12") in text
    # with the host's rules the note names the route and the nexthop (the REPL's fork too)
    ruled = Host.from_text(None, "0:\tfrom all lookup local\n32766:\tfrom all lookup main\n"
                           + SHOWN)
    verbose = format_trace(_forward(ruled, "172.16.1.1"), verbose=True)
    for hop in ("via 10.0.0.1 dev v0, oif = v0", "via 10.0.1.1 dev v2, oif = v2"):
        assert f"routing: forwarded by route 172.16.0.0/12 nexthop {hop}" in verbose
    # three nexthops, one dead: the two alive
    three = _forward(host, "172.20.0.1")
    assert {p.state.current("oif").single_value() for p in three.paths} == {"v0", "v3"}
    # a route of one nexthop object is a plain route
    (single,) = _forward(host, "172.31.0.1").paths
    assert single.state.current("oif").single_value() == "v0"


def test_pinning_the_hash() -> None:
    host = Host.from_text(None, SHOWN)
    (first,) = _forward(host, "172.16.1.1", {"multipath": True}).paths
    assert first.state.current("oif").single_value() == "v0"
    (last,) = _forward(host, "172.16.1.1", {"multipath": False}).paths
    assert last.state.current("oif").single_value() == "v2"


def test_a_local_packet_by_a_multipath_default() -> None:
    """The out path routes by the same lookup: IPv6 siblings too."""
    host = Host.from_text(None, SHOWN)
    rules = parse_iptables(FORWARD.replace("FORWARD -o", "OUTPUT -o"), family=Family.INET6)
    result = trace(Ruleset([rules], host=host),
                   parse_packet("tcp [2001:db8::5]:5 -> [2001:db8:9::1]:80"), "out")
    assert {(p.state.current("oif").single_value(), p.verdict) for p in result.paths} == {
        ("v0", "ACCEPT"), ("v2", "DROP")}


# --- what a host file leaves unknown -----------------------------------------------------------

ADDRS = "eth0 10.0.0.1/24\neth1 192.168.1.10/24\n"
KINDS = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -m addrtype --dst-type LOCAL
-A PREROUTING -m rpfilter
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth1 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o eth1 -j ACCEPT
-A FORWARD -j DROP
COMMIT
"""


def _walk(host: Host, spec: str, path: str) -> TraceResult:
    return trace(Ruleset([parse_iptables(KINDS)], host=host),
                 parse_packet(f"{spec} ctstate=NEW"), path)


def _texts(result: TraceResult) -> set[str]:
    return {text for p in result.paths for a in p.alternatives for text in a.readable()}


def test_without_routes_a_packet_leaves_by_the_interface_it_names() -> None:
    """`ip addr` alone: the routes beyond the addresses' subnets are unknown, so a packet is
    forwarded as asked (never "no route"), by the output interface the packet names; one for
    an address's subnet takes that subnet's interface, one for the host is delivered."""
    host = Host.from_text(ADDRS)
    assert host.addresses_known and not host.routes_known_for(Family.INET)
    paths = _walk(host, "tcp 192.0.2.7:5 -> 8.8.8.8:80 iif=eth0 oif=eth1", "forward").paths
    assert {(p.verdict, p.state.current("oif").single_value()) for p in paths} == {
        ("ACCEPT", "eth1")}  # two: -m rpfilter's assumption splits them
    assert ("routing: the host's routes were not captured: forwarded by the output interface "
            "the packet names") in format_trace(
                _walk(host, "tcp 192.0.2.7:5 -> 8.8.8.8:80 iif=eth0 oif=eth1", "forward"),
                verbose=True)
    subnet = _walk(host, "tcp 192.0.2.7:5 -> 192.168.1.5:80 iif=eth0 oif=eth0", "forward")
    assert {p.state.current("oif").single_value() for p in subnet.paths} == {"eth1"}
    mine = _walk(host, "tcp 192.0.2.7:5 -> 10.0.0.1:80 iif=eth0", "forward")
    assert {p.state.path for p in mine.paths} == {"in"}
    # the route back to a source beyond the subnets is unknown too: -m rpfilter assumes
    assert "reverse path check passes: the route back to src goes out through iif" in _texts(
        _walk(host, "tcp 192.0.2.7:5 -> 8.8.8.8:80 iif=eth0 oif=eth1", "forward"))


def test_sysctls_alone_leave_addresses_and_routes_unknown() -> None:
    host = Host.from_text(None, None, "net.ipv4.conf.all.rp_filter = 1\n")
    assert not host.addresses_known and not host.routes_known_for(Family.INET)
    result = _walk(host, "tcp 192.0.2.7:5 -> 10.0.0.1:80 iif=eth0", "in")
    # delivered as asked, under the strict rp_filter's assumption; addrtype assumes
    ways = {(p.verdict, p.state.stopped, p.state.path) for p in result.paths}
    assert ("DROP", "routing (a martian source: it fails the kernel's source validation, by "
            "the sysctls rp_filter and accept_local)", "in") in ways
    assert ("ACCEPT", None, "in") in ways
    texts = _texts(result)
    assert "the route back to src goes out by iif (rp_filter 1; no routes given)" in texts
    assert "dst is a local address of this host" in texts  # addrtype's assumption
    forward = _walk(host, "tcp 192.0.2.7:5 -> 8.8.8.8:80 iif=eth0 oif=eth1", "forward")
    assert "the host has an address to masquerade to" in _texts(forward)


def test_routes_without_the_local_table_leave_addresses_unknown() -> None:
    """`ip route` (the main table) does not list the host's addresses; `ip route show table
    all` does, in the local table."""
    main = Host.from_text(None, "default via 10.0.0.254 dev eth0\n")
    assert not main.addresses_known and main.routes_known_for(Family.INET)
    delivered = _walk(main, "tcp 192.0.2.7:5 -> 10.0.0.1:80 iif=eth0", "in")
    assert {p.state.path for p in delivered.paths} == {"in"}
    everything = Host.from_text(None, "default via 10.0.0.254 dev eth0\nlocal 10.0.0.1 dev eth0 "
                                "table local proto kernel scope host src 10.0.0.1\n")
    assert everything.addresses_known
    forwarded = _walk(everything, "tcp 192.0.2.7:5 -> 10.0.0.9:80 iif=eth1", "in")
    # not the host's: the path asked gives way
    assert {p.state.path for p in forwarded.paths} == {"forward"}


def test_the_routes_an_address_makes() -> None:
    """fib_add_ifaddr: `noprefixroute`, an IPv4 /32 and an address on lo add no route to
    main; on lo the whole prefix is local (tests/sandbox/test_addresses.py)."""
    host = Host.from_text(
        "1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536\n"
        "    inet 10.5.0.1/24 scope global lo\n"
        "3: v0@v1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500\n"
        "    inet 10.6.0.1/32 scope global v0\n"
        "    inet 10.7.0.1/24 scope global noprefixroute v0\n"
        "    inet 10.8.0.1/24 scope global v0\n"
        "    inet6 2001:db8:6::1/128 scope global nodad\n"
        "    inet6 2001:db8:5::1/64 scope global nodad noprefixroute\n")
    assert [a.prefix_route for a in host.addresses] == [True, True, False, True, True, False]
    assert [r.text() for r in host.routes_for(Family.INET)] == ["10.8.0.0/24 dev v0"]
    assert [r.text() for r in host.routes_for(Family.INET6)] == ["2001:db8:6::1/128 dev v0"]
    local = host.local_addresses(Family.INET)
    assert 0x0A05004D in local and 0x0A07004D not in local  # 10.5.0.77, 10.7.0.77


def test_a_host_built_without_routes_has_none() -> None:
    """`Host(addresses)` as a library caller or the kernel lab builds it: its routes are what
    it was given, none, so a packet for elsewhere finds no route; only a capture's families
    (`captured_families`) or `routes_known=False` leave them to the path asked."""
    for host, stopped in ((Host(parse_addrs("lo 10.0.3.33/32\n")), NO_ROUTE),
                          (Host(parse_addrs("lo 10.0.3.33/32\n"), routes_known=False), None),
                          (Host(routes_known={Family.INET6}), None)):
        paths = _walk(host, "tcp 10.0.0.1:5 -> 10.0.0.55:80 iif=eth1 oif=eth0", "forward").paths
        assert {p.state.stopped for p in paths} == {stopped}


def test_a_routes_file_of_one_family_leaves_the_others_unknown() -> None:
    """`ip route` without `ip -6 route`: an IPv6 packet is forwarded as asked, not "no
    route", and -m rpfilter assumes (firewalld's IPv6_rpfilter rule on every packet)."""
    host = Host.from_text("eth0 2001:db8::1/64\n", "default via 10.0.0.254 dev eth0\n")
    assert host.routes_known_for(Family.INET) and not host.routes_known_for(Family.INET6)
    rules = parse_iptables("*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                           "-A PREROUTING -m rpfilter --invert -j DROP\nCOMMIT\n",
                           family=Family.INET6)
    result = trace(Ruleset([rules], host=host), parse_packet(
        "tcp [2001:db8:7::7]:5 -> [2001:db8:9::9]:80 iif=eth0 oif=eth1 ctstate=NEW"), "forward")
    assert {(p.verdict, p.state.stopped) for p in result.paths} == {("ACCEPT", None),
                                                                     ("DROP", None)}
    assert "reverse path check passes: the route back to src goes out through iif" in _texts(
        result)
