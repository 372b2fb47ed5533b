"""Host captures read into typed values: `ip route` lines with their multipath nexthops,
gateways of either family, `ip -o addr` (routing with them: test_host.py)."""

from __future__ import annotations

import pytest

from iptparse.hostfiles import HostError, NextHop, parse_addrs, parse_bridge_calls, parse_routes
from iptparse.nodes import Family

from .test_host import SHOWN


def test_nexthop_lines_belong_to_the_route_above() -> None:
    routes = parse_routes(SHOWN)
    assert [r.text() for r in routes] == [
        "default table 100 nexthop dev v0 nexthop via 10.0.1.1 dev v2",
        "10.0.0.0/24 dev v0",
        "10.0.1.0/24 dev v2",
        "172.16.0.0/12 nexthop via 10.0.0.1 dev v0 nexthop via 10.0.1.1 dev v2 weight 3",
        "172.20.0.0/16 nexthop via 10.0.0.1 dev v0 nexthop via 10.0.1.1 dev v2 dead "
        "nexthop via 10.0.1.3 dev v3",
        "172.31.0.0/16 via 10.0.0.1 dev v0",
        "2001:db8:9::/48 nexthop via 2001:db8::1 dev v0 nexthop via 2001:db8:1::1 dev v2 "
        "weight 2",
    ]
    assert [r.family for r in routes] == [Family.INET] * 6 + [Family.INET6]
    assert routes[4].nexthops[1] == NextHop("10.0.1.1", "v2", 1, dead=True)
    assert routes[4].devices() == ("v0", "v2", "v3")  # the route back: any, dead or alive
    assert routes[4].interface is None and routes[4].gateway is None and routes[4].live

def test_the_one_line_form_and_gateways_of_the_other_family() -> None:
    """`ip route add`'s form puts the nexthops on the route's line; an IPv4 route's gateway
    may be IPv6 (RFC 5549: `via inet6`), which says nothing of the route's family, while a
    plain IPv6 gateway makes a `default` IPv6."""
    (four, six, plain, alone) = parse_routes(
        "default nexthop via inet6 fe80::1 dev eth0 nexthop via 10.9.9.9 dev eth1 weight 2\n"
        "default nexthop via fe80::1 dev eth0 nexthop via fe80::2 dev eth1\n"
        "default via inet6 fe80::1 dev eth2\n"
        "default\n\tnexthop via 2001:db8::1 dev eth0\n\tnexthop via 2001:db8::2 dev eth1\n")
    assert four.family is Family.INET and four.nexthops == (
        NextHop("inet6 fe80::1", "eth0"), NextHop("10.9.9.9", "eth1", 2))
    assert six.family is Family.INET6 and six.devices() == ("eth0", "eth1")
    assert plain.family is Family.INET and plain.text() == "default via inet6 fe80::1 dev eth2"
    assert alone.family is Family.INET6

def test_a_nexthop_line_without_a_route() -> None:
    with pytest.raises(HostError, match="line 1: cannot read a route"):
        parse_routes("\tnexthop via 10.0.0.1 dev eth0 weight 1\n")

def test_ip_o_addr() -> None:
    """`ip -o addr` (sosreport's `ip_addr`): an address per line, its interface first."""
    addresses = parse_addrs(
        "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n"
        "3: v0    inet 10.7.0.1/24 scope global noprefixroute v0\\       valid_lft forever "
        "preferred_lft forever\n"
        "3: v0    inet6 2001:db8::1/64 scope global nodad \\       valid_lft forever "
        "preferred_lft forever\n")
    assert [(a.interface, a.family, a.prefix, a.prefix_route) for a in addresses] == [
        ("lo", Family.INET, 8, True), ("v0", Family.INET, 24, False),
        ("v0", Family.INET6, 64, True)]
    with pytest.raises(HostError, match=r"line 1: cannot read an address in `3: v0    inet "
                                        r"10\.7\.0\.300/24"):
        parse_addrs("3: v0    inet 10.7.0.300/24 scope global v0\\       valid_lft forever\n")


def test_ip_d_address() -> None:
    """`ip -d address` (sosreport's ip_-d_address) prints each link's details under it."""
    addresses = parse_addrs(
        "2: v1@v0: <BROADCAST,MULTICAST> mtu 1500 qdisc noop master br0 state DOWN\n"
        "    link/ether 72:0d:20:bd:a7:5f brd ff:ff:ff:ff:ff:ff promiscuity 1  allmulti 1\n"
        "    veth \n"
        "    bridge_slave state disabled priority 32 cost 2 hairpin off guard off\n"
        "3: v0@v1: <NO-CARRIER,BROADCAST,MULTICAST,UP,M-DOWN> mtu 1500 qdisc noqueue\n"
        "    veth numtxqueues 2 numrxqueues 2 gso_max_size 65536 gso_max_segs 65535\n"
        "    inet 10.0.0.1/24 scope global v0\n"
        "       valid_lft forever preferred_lft forever\n")
    assert [(a.interface, a.address, a.prefix) for a in addresses] == [("v0", 0x0A000001, 24)]
    with pytest.raises(HostError, match=r"line 1: cannot read an address in `10\.0\.0\.1/24 x y'"):
        parse_addrs("10.0.0.1/24 x y\n")


def test_a_bridges_own_nf_call_switches() -> None:
    """`ip -d address` and `ip -o -d link` as iproute2 6.1 prints them (abridged): the
    switches are the bridge's, not its ports' (their `bridge_slave` lines have none)."""
    shown = (
        "2: br0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue state UP\n"
        "    link/ether ca:30:f2:35:f5:ee brd ff:ff:ff:ff:ff:ff promiscuity 0  allmulti 0\n"
        "    bridge forward_delay 1500 hello_time 200 vlan_filtering 0 mcast_mld_version 1 "
        "nf_call_iptables 1 nf_call_ip6tables 0 nf_call_arptables 0 numtxqueues 1\n"
        "    inet 10.0.0.254/24 scope global br0\n"
        "3: veth1@if2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 master br0 state UP\n"
        "    veth \n"
        "    bridge_slave state forwarding priority 32 cost 2 hairpin off\n")
    assert parse_bridge_calls(shown) == {"br0": {"iptables": 1, "ip6tables": 0}}
    assert [a.interface for a in parse_addrs(shown)] == ["br0"]
    one_line = ("4: docker0: <NO-CARRIER,BROADCAST,MULTICAST,UP> mtu 1500 qdisc noqueue state "
                "DOWN mode DEFAULT group default \\    link/ether 02:42:5e:11:22:33 brd "
                "ff:ff:ff:ff:ff:ff promiscuity 0 \\    bridge forward_delay 1500 "
                "nf_call_iptables 0 nf_call_ip6tables 1 nf_call_arptables 0 numtxqueues 1\n")
    assert parse_bridge_calls(one_line) == {"docker0": {"iptables": 0, "ip6tables": 1}}
    assert parse_bridge_calls("2: br0: <UP> mtu 1500\n    inet 10.0.0.1/24 scope global\n"
                              ) == {}
