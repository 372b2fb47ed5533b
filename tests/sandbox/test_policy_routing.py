"""Routing rules (`ip rule`) against the kernel: marks choosing tables, a TPROXY-style local
route, blackhole, goto, throw and suppress_prefixlength, on received and local packets.

The router's rules and tables are set up with `ip`, then read back as a user captures them
(`ip rule show`, `ip route show table all`) and given to the model, which must name the rules
the kernel counted, the interface the packet left by, or its local delivery.
"""

from __future__ import annotations

import pytest

from iptparse.host import Host
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab, LabPath
from iptparse.trace import trace

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

GW = "169.254.255.254"
MARKS = "".join(f"-A {chain} -p udp -m udp --dport {1000 + mark} -j MARK --set-xmark "
                f"{mark:#x}/0xffffffff\n" for chain in ("PREROUTING", "OUTPUT")
                for mark in (1, 2, 3, 4, 6))
RULES = f"""*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
{MARKS}COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p udp
-A FORWARD -o eth1
-A FORWARD -o eth2
-A FORWARD -o eth3
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A POSTROUTING -o eth1
-A POSTROUTING -o eth2
-A POSTROUTING -o eth3
COMMIT
"""

SETUP = [
    f"route add 10.0.2.0/24 via {GW} dev eth1 onlink",
    f"route add 10.0.4.0/23 via {GW} dev eth1 onlink",
    "route add unreachable 10.0.9.0/24",
    "rule add pref 50 from 192.0.2.8 to 10.0.2.0/24 lookup 100",
    "rule add pref 60 ipproto udp dport 1007-1008 lookup 100",
    "rule add pref 100 fwmark 0x1 lookup 100",
    f"route add 10.0.0.0/8 via {GW} dev eth2 onlink table 100",
    "route add throw 10.0.3.0/24 table 100",
    "rule add pref 110 fwmark 0x2 lookup 133",  # TPROXY's: marked packets are the host's
    "route add local 0.0.0.0/0 dev lo table 133",
    "rule add pref 120 fwmark 0x3 blackhole",
    "rule add pref 130 iif eth0 fwmark 0x4 goto 200",
    "rule add pref 140 fwmark 0x4 lookup 100",
    "rule add pref 200 fwmark 0x4/0xc lookup 200",
    f"route add 10.0.2.0/24 via {GW} dev eth3 onlink table 200",
    "rule add pref 300 lookup main suppress_prefixlength 23",  # wg-quick's, on a /23
    "rule add pref 310 not fwmark 0x6 lookup 150",
    f"route add 10.0.0.0/16 via {GW} dev eth3 onlink table 150",
]

#: (destination, port: 1000 + the mark mangle sets, input interface, source), and what the
#: kernel does with it
CASES = [
    ("10.0.2.5", 1001, "eth0", "192.0.2.7"),  # table 100: eth2
    ("10.0.3.5", 1001, "eth0", "192.0.2.7"),  # table 100 throws; none in main; table 150: eth3
    ("10.0.2.5", 1002, "eth0", "192.0.2.7"),  # the local route of table 133: the host's
    ("10.0.2.5", 1003, "eth0", "192.0.2.7"),  # blackhole
    ("10.0.2.5", 1004, "eth0", "192.0.2.7"),  # goto 200 past rule 140: eth3
    ("10.0.2.5", 1004, "eth1", "192.0.2.7"),  # not from eth0: rule 140, table 100: eth2
    ("10.0.5.5", 1000, "eth0", "192.0.2.7"),  # main's /23 suppressed; not mark 6: 150, eth3
    ("10.0.2.5", 1000, "eth0", "192.0.2.7"),  # main's /24 is not suppressed: eth1
    ("10.0.5.5", 1006, "eth0", "192.0.2.7"),  # suppressed; mark 6 skips 150: main, eth1
    ("10.0.9.5", 1000, "eth0", "192.0.2.7"),  # main's unreachable route: never suppressed
    ("10.1.0.1", 1000, "eth0", "192.0.2.7"),  # no route in any table
    ("10.0.2.5", 1000, "eth0", "192.0.2.8"),  # rule 50's from and to: table 100, eth2
    ("10.0.5.5", 1000, "eth0", "192.0.2.8"),  # not rule 50's to: suppressed, 150: eth3
    ("10.0.2.5", 1008, "eth0", "192.0.2.7"),  # rule 60's protocol and port: eth2
]


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


def _host(lab: Lab) -> Host:
    """The router's rules and routes, captured as a user would."""
    captured = "".join(lab.router.run(argv).stdout for argv in (
        ["ip", "rule", "show"], ["ip", "route", "show", "table", "all"]))
    return Host.from_text(None, captured)


def _model(host: Host, path: LabPath, spec: str, family: Family = Family.INET
           ) -> tuple[set[tuple[str, str, int]], str]:
    (result,) = trace(Ruleset([parse_iptables(RULES, family=family)], host=host),
                      parse_packet(f"{spec} ctstate=NEW mark=0x0 ttl=64"), path).paths
    hits = {(h.table, h.chain, h.rule) for h in result.hits}
    state = result.state
    if result.verdict != "ACCEPT":
        return hits, "dropped"
    if state.path == "in":
        return hits, "local"
    oif = state.current("oif").single_value() if state.next_oif is None else (
        state.box.get(state.next_oif).single_value())
    return hits, f"out {oif}"


def _kernel_outcome(result_hits: dict[tuple[str, str, int], int], local: bool,
                    egress: set[str]) -> tuple[set[tuple[str, str, int]], str]:
    if local:
        return set(result_hits), "local"
    if egress:
        (interface,) = egress
        return set(result_hits), f"out {interface}"
    return set(result_hits), "dropped"


def test_received_packets_follow_the_rules() -> None:
    with Lab(RULES, Family.INET, path="forward", interfaces=["eth0", "eth1", "eth2", "eth3"],
             ) as lab:
        lab.router.run(["ip", "-batch", "-"], input="\n".join(SETUP) + "\n")
        host = _host(lab)
        assert len(host.rules[Family.INET]) == 13  # the kernel's three and ten
        seen = []
        for dst, dport, iif, src in CASES:
            packet = KernelPacket(src=src, dst=dst, protocol="udp", dport=dport, iif=iif,
                                  routes=(("10.0.2.0/24", "eth1"),))
            got = lab.send(packet)
            kernel = _kernel_outcome(got.hits, got.local, {e.interface for e in got.egress})
            model = _model(host, "forward", f"udp {src}:40000 -> {dst}:{dport} iif={iif}")
            assert model == kernel, (dst, dport, iif, src)
            seen.append(kernel[1])
    # the cases are the ones the comments describe, so each feature was exercised
    assert seen == ["out eth2", "out eth3", "local", "dropped", "out eth3", "out eth2",
                    "out eth3", "out eth1", "out eth1", "dropped", "dropped", "out eth2",
                    "out eth3", "out eth2"]


def test_local_packets_are_routed_again_when_mangle_marks_them() -> None:
    """A local process's packet takes the main table's route before OUTPUT; mangle OUTPUT's
    mark routes it again (ipt_mangle_out), and POSTROUTING sees the new interface."""
    with Lab(RULES, Family.INET, path="out", interfaces=["eth0", "eth1", "eth2", "eth3"],
             ) as lab:
        lab.router.run(["ip", "-batch", "-"], input="\n".join(SETUP) + "\n")
        host = _host(lab)
        seen = []
        for dst, mark in (("10.0.2.5", 0), ("10.0.2.5", 1), ("10.0.2.5", 3),
                          ("10.0.5.5", 0), ("10.0.5.5", 6)):
            packet = KernelPacket(src="192.0.2.7", dst=dst, protocol="udp", dport=1000 + mark,
                                  routes=(("10.0.2.0/24", "eth1"),))
            got = lab.send(packet, path="out")
            kernel = _kernel_outcome(got.hits, got.local, {e.interface for e in got.egress})
            model = _model(host, "out", f"udp 192.0.2.7:40000 -> {dst}:{1000 + mark}")
            assert model == kernel, (dst, mark)
            seen.append(kernel[1])
    assert seen == ["out eth1", "out eth2", "dropped", "out eth3", "out eth1"]


def test_a_rule_before_the_local_table() -> None:
    """VRF setups move the local table's rule after their own: a marked packet to one of the
    host's addresses is then routed by the earlier rule's table, and forwarded."""
    setup = ["rule add pref 1000 lookup local", "rule del pref 0",
             "rule add pref 100 fwmark 0x1 lookup 100",
             f"route add 10.0.0.0/8 via {GW} dev eth2 onlink table 100"]
    with Lab(RULES, Family.INET, path="in", interfaces=["eth0", "eth1", "eth2", "eth3"]) as lab:
        lab.router.run(["ip", "-batch", "-"], input="\n".join(setup) + "\n")
        seen = []
        for mark in (1, 0):
            packet = KernelPacket(src="192.0.2.7", dst="10.0.2.5", protocol="udp",
                                  dport=1000 + mark)
            got = lab.send(packet)  # the lab makes 10.0.2.5 an address of the router's lo
            host = _host(lab)
            assert host.rules_for(Family.INET)[0].priority == 100
            kernel = _kernel_outcome(got.hits, got.local, {e.interface for e in got.egress})
            model = _model(host, "forward", f"udp 192.0.2.7:40000 -> 10.0.2.5:{1000 + mark} "
                           "iif=eth0")
            assert model == kernel, mark
            seen.append(kernel[1])
    assert seen == ["out eth2", "local"]


def test_ipv6_marks_choose_the_table() -> None:
    setup = ["rule add pref 100 fwmark 0x1 lookup 100",
             "route add 2001:db8:2::/48 via fe80::1 dev eth2 table 100",
             "rule add pref 110 fwmark 0x2 lookup 133",
             "route add local ::/0 dev lo table 133"]
    with Lab(RULES, Family.INET6, path="forward", interfaces=["eth0", "eth1", "eth2"]) as lab:
        lab.router.run(["ip", "-6", "-batch", "-"], input="\n".join(setup) + "\n")
        seen = []
        for dport in (1000, 1001, 1002):
            packet = KernelPacket(src="2001:db8:9::7", dst="2001:db8:2::5", protocol="udp",
                                  dport=dport, routes=(("2001:db8:2::/48", "eth1"),))
            got = lab.send(packet)
            captured = "".join(lab.router.run(argv).stdout for argv in (
                ["ip", "-6", "rule", "show"], ["ip", "-6", "route", "show", "table", "all"]))
            host = Host.from_text(None, captured)
            kernel = _kernel_outcome(got.hits, got.local, {e.interface for e in got.egress})
            model = _model(host, "forward", f"udp [2001:db8:9::7]:40000 -> "
                           f"[2001:db8:2::5]:{dport} iif=eth0", Family.INET6)
            assert model == kernel, dport
            seen.append(kernel[1])
    assert seen == ["out eth1", "out eth2", "local"]


RPFILTER = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 1001 -j MARK --set-xmark 0x1/0xffffffff
-A PREROUTING -m rpfilter --validmark
-A PREROUTING -m rpfilter
-A PREROUTING -m rpfilter --loose --validmark
-A PREROUTING -m rpfilter --validmark --invert
COMMIT
"""


def test_rpfilter_walks_the_rules_in_reverse() -> None:
    """-m rpfilter looks up the route back to the source through the routing rules: its
    flow runs from the packet's destination to its source, and carries the mark only with
    --validmark."""
    setup = [f"route add 192.0.2.0/24 via {GW} dev eth3 onlink",
             "rule add pref 70 to 192.0.2.64/27 blackhole",
             "rule add pref 80 from 10.0.2.0/24 lookup 160",
             "route add throw 192.0.2.0/26 table 160",
             f"route add 192.0.2.0/24 via {GW} dev eth0 onlink table 160",
             "rule add pref 90 to 192.0.2.128/25 lookup 150",
             f"route add 192.0.2.0/24 via {GW} dev eth0 onlink table 150",
             "rule add pref 100 fwmark 0x1 lookup 100",
             f"route add 192.0.2.0/24 via {GW} dev eth0 onlink table 100"]
    cases = [("192.0.2.7", "10.0.4.5", 1000),  # main: back by eth3, not eth0 (loose passes)
             ("192.0.2.7", "10.0.4.5", 1001),  # marked: table 100, eth0 (with --validmark)
             ("192.0.2.7", "10.0.2.5", 1001),  # rule 80 throws the /26: on to 100 by mark
             ("192.0.2.100", "10.0.2.5", 1000),  # rule 80's table 160: eth0
             ("192.0.2.200", "10.0.4.5", 1000),  # rule 90 (to the source): eth0
             ("192.0.2.70", "10.0.4.5", 1001)]  # rule 70's blackhole: fails even loose
    with Lab(RPFILTER, Family.INET, path="forward", interfaces=["eth0", "eth1", "eth3"]) as lab:
        lab.router.run(["ip", "-batch", "-"], input="\n".join(setup) + "\n")
        host = _host(lab)
        passed = []
        for src, dst, dport in cases:
            got = lab.send(KernelPacket(src=src, dst=dst, protocol="udp", dport=dport,
                                        routes=(("10.0.0.0/16", "eth1"),)))
            (result,) = trace(Ruleset([parse_iptables(RPFILTER)], host=host), parse_packet(
                f"udp {src}:40000 -> {dst}:{dport} iif=eth0 ctstate=NEW mark=0x0 ttl=64"),
                "forward").paths
            model = {(h.table, h.chain, h.rule) for h in result.hits}
            assert model == set(got.hits), (src, dst, dport)
            passed.append(sorted(rule for _, _, rule in got.hits if rule > 1))
    assert passed == [[4, 5], [2, 4], [2, 4], [2, 3, 4], [2, 3, 4], [5]]


FORWARD_COUNTS = """*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A FORWARD -o eth1
COMMIT
"""


def test_ipv6_forwards_only_where_the_sysctls_let_it() -> None:
    """all.forwarding off: a packet to be forwarded dies after PREROUTING, unless its input
    interface has force_forwarding (ip6_forward)."""
    with Lab(FORWARD_COUNTS, Family.INET6, path="forward",
             interfaces=["eth0", "eth1", "eth2"]) as lab:
        lab.router.run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0",
                        "net.ipv6.conf.eth2.force_forwarding=1"])
        settings = lab.router.run(["sysctl", "net.ipv6.conf", "net.ipv4.conf"]).stdout
        seen = []
        for iif in ("eth0", "eth2"):
            got = lab.send(KernelPacket(src="2001:db8:9::7", dst="2001:db8:2::5",
                                        protocol="udp", iif=iif,
                                        routes=(("2001:db8:2::/48", "eth1"),)))
            captured = "".join(lab.router.run(argv).stdout for argv in (
                ["ip", "-6", "rule", "show"], ["ip", "-6", "route", "show", "table", "all"]))
            host = Host.from_text(None, captured, settings)
            (result,) = trace(Ruleset([parse_iptables(FORWARD_COUNTS, family=Family.INET6)],
                                      host=host),
                              parse_packet(f"udp [2001:db8:9::7]:40000 -> [2001:db8:2::5]:80 "
                                           f"iif={iif} ctstate=NEW ttl=64"), "forward").paths
            assert {(h.table, h.chain, h.rule) for h in result.hits} == set(got.hits), iif
            assert (result.verdict == "ACCEPT") == bool(got.egress), iif
            seen.append(bool(got.egress))
    assert seen == [False, True]


RPFILTER6 = """*raw
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A PREROUTING -p udp -m rpfilter
-A PREROUTING -p udp -m rpfilter --loose
-A PREROUTING -p udp -m rpfilter --accept-local
COMMIT
"""


def test_ipv6_rpfilter_takes_any_route_of_the_prefix_through_iif() -> None:
    """ip6t_rpfilter names the input interface as the way out when strict, and for a
    link-local source either way: rt6_device_match then takes a route of the most specific
    prefix through it, another metric's or an ECMP sibling's (firewalld's IPv6_rpfilter)."""
    setup = ["route add 2001:db8:7::/48 via fe80::1 dev eth0 metric 100",
             "route add 2001:db8:7::/48 via fe80::1 dev eth1 metric 200",
             "route add 2001:db8:6::/48 nexthop via fe80::1 dev eth0 nexthop via fe80::1 dev eth2",
             "route add fe80::/64 dev eth0",
             "route add blackhole 2001:db8:8::/48",
             "address add 2001:db8:5::1/64 dev eth0 nodad"]
    cases = [("2001:db8:7::7", "eth0"), ("2001:db8:7::7", "eth1"), ("2001:db8:7::7", "eth2"),
             ("2001:db8:6::7", "eth2"), ("fe80::9", "eth0"), ("fe80::9", "eth1"),
             ("2001:db8:8::1", "eth0"), ("2001:db8:9::1", "eth0"), ("2001:db8:5::1", "eth1")]
    with Lab(RPFILTER6, Family.INET6, path="forward",
             interfaces=["eth0", "eth1", "eth2"]) as lab:
        lab.router.run(["ip", "-6", "-batch", "-"], input="\n".join(setup) + "\n")
        passed = []
        for src, iif in cases:
            got = lab.send(KernelPacket(src=src, dst="2001:db8:2::5", protocol="udp", iif=iif,
                                        routes=(("2001:db8:2::/48", "eth2"),)))
            captured = "".join(lab.router.run(argv).stdout for argv in (
                ["ip", "-6", "rule", "show"], ["ip", "-6", "route", "show", "table", "all"]))
            (result,) = trace(Ruleset([parse_iptables(RPFILTER6, family=Family.INET6)],
                                      host=Host.from_text(None, captured)),
                              parse_packet(f"udp [{src}]:40000 -> [2001:db8:2::5]:80 iif={iif} "
                                           "ctstate=NEW ttl=64"), "forward").paths
            assert {(h.table, h.chain, h.rule) for h in result.hits} == set(got.hits), (src, iif)
            passed.append(sorted(rule for _, _, rule in got.hits))
    assert passed == [[1, 2, 3], [1, 2, 3], [2], [1, 2, 3], [1, 2, 3], [], [], [], [3]]
