"""The firewalld host (corpora/firewalld, made by firewalld 1.3.3's own code): what its zones,
policy, rich rules, forward-port, ipset source and direct rule do to packets, as iptparse
traces them and as the kernel, loaded with the same dump and set, decides them.

Worth knowing at 3 a.m., and checked here: the policy `int-to-ext` runs before the zones, so a
blocklisted source arriving on the internal interface is still forwarded to the external one;
the direct rule is IPv4 only; the forward-port is a DNAT that INPUT accepts by `--ctstate DNAT`.
"""

from __future__ import annotations

import pytest

from iptparse import Ruleset, parse_iptables
from iptparse.host import Host, parse_addrs, parse_routes
from iptparse.ipset import parse_ipset
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.trace import trace
from iptparse.verify.run import packets_from, verify_dump

from ..conftest import PROJECT_CORPORA, require_kernel
from ..verify._lab import disagreements, lab_namespaces

FIREWALLD = PROJECT_CORPORA / "firewalld"

Decision = tuple[str, str, int]
#: packet, path, whether the host takes it (delivers or forwards), the rule that decides
IPV4: list[tuple[str, str, bool, Decision]] = [
    ("tcp 198.51.100.9:40000 -> 10.0.0.1:22 iif=eth0", "in", True,
     ("filter", "IN_public_allow", 1)),
    # forward-port 2222 -> 22: nat PRE_public_allow rewrites, INPUT accepts the DNAT state
    ("tcp 198.51.100.9:40000 -> 10.0.0.1:2222 iif=eth0", "in", True, ("filter", "INPUT", 1)),
    # the drop zone's ipset source wins over the interface's zone
    ("tcp 203.0.113.5:40000 -> 10.0.0.1:22 iif=eth0", "in", False, ("filter", "IN_drop", 9)),
    ("tcp 198.51.100.7:40000 -> 10.0.0.1:22 iif=eth0", "in", False,
     ("filter", "IN_public_deny", 3)),
    ("tcp 192.0.2.10:40000 -> 10.0.0.1:5432 iif=eth0", "in", True,
     ("filter", "IN_public_allow", 5)),
    ("tcp 198.51.100.9:40000 -> 10.0.0.1:5432 iif=eth0", "in", False,
     ("filter", "IN_public", 10)),
    ("tcp 192.0.2.10:40000 -> 10.0.0.1:9000 iif=eth0", "in", False,
     ("filter", "INPUT_direct", 1)),
    # the internal zone by source, whatever the interface
    ("tcp 10.20.1.1:40000 -> 10.0.0.1:22 iif=eth0", "in", True,
     ("filter", "IN_internal_allow", 1)),
    ("tcp 10.20.1.1:40000 -> 10.0.0.1:445 iif=eth0", "in", False,
     ("filter", "IN_internal", 10)),
    ("icmp 198.51.100.9 -> 10.0.0.1 icmp_type=13 iif=eth0", "in", False,
     ("filter", "IN_public_deny", 2)),
    ("icmp 198.51.100.9 -> 10.0.0.1 icmp_type=8 iif=eth0", "in", True,
     ("filter", "IN_public", 8)),
    ("tcp 10.20.1.1:40000 -> 198.51.100.9:443 iif=eth1 oif=eth2", "forward", True,
     ("filter", "FWD_int-to-ext", 6)),
    ("tcp 198.51.100.9:40000 -> 10.20.1.1:443 iif=eth0 oif=eth1", "forward", False,
     ("filter", "FWD_public", 9)),
    ("tcp 192.0.2.66:40000 -> 198.51.100.9:443 iif=eth1 oif=eth2", "forward", True,
     ("filter", "FWD_int-to-ext", 6)),
]
IPV6: list[tuple[str, str, bool, Decision]] = [
    ("tcp [2001:db8::9]:40000 -> [2001:db8:1::1]:22 iif=eth0", "in", True,
     ("filter", "IN_public_allow", 1)),
    ("tcp [2001:db8::9]:40000 -> [2001:db8:1::1]:9000 iif=eth0", "in", False,
     ("filter", "IN_public", 10)),
]


#: the host as `ip addr` / `ip route` show it: firewalld's IPv6 rpfilter (mangle PREROUTING)
#: asks for a route back to the source, the external zone's MASQUERADE for eth2's address
ADDRS = """2: eth0: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 10.0.0.1/24 scope global eth0
    inet6 2001:db8:1::1/64 scope global
3: eth1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 10.20.0.1/16 scope global eth1
4: eth2: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 state UP
    inet 100.64.9.1/24 scope global eth2
"""
ROUTES = """default via 100.64.9.254 dev eth2
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.1
10.20.0.0/16 dev eth1 proto kernel scope link src 10.20.0.1
100.64.9.0/24 dev eth2 proto kernel scope link src 100.64.9.1
default via 2001:db8:1::fffe dev eth0 metric 1024
2001:db8:1::/64 dev eth0 proto kernel metric 256
"""


def _text(name: str) -> str:
    return (FIREWALLD / name).read_text()


@pytest.mark.parametrize("dump, cases", [("iptables-save.txt", IPV4), ("ip6tables-save.txt", IPV6)])
def test_iptparse_decides_each_packet(dump: str, cases: list[tuple[str, str, bool, Decision]]
                                      ) -> None:
    sets = {s.name: s for s in parse_ipset(_text("ipset-save.txt"))}
    host = Host(parse_addrs(ADDRS), parse_routes(ROUTES))
    ruleset = Ruleset([parse_iptables(_text(dump))], sets=sets, host=host)
    for text, path, _, decision in cases:
        result = trace(ruleset, parse_packet(f"{text} ctstate=NEW pkttype=unicast"), path)
        decisions = {alt.state.decision for p in result.paths for alt in p.alternatives}
        assert decisions == {decision}, text


@pytest.mark.kernel
def test_the_kernel_decides_each_packet_alike() -> None:
    """IPv4 only: an IPv6 packet passes firewalld's rpfilter only with a route back to its
    source, and then R answers it (a reset from a closed port) through OUTPUT, which the lab
    counts and a trace of the packet alone does not walk; the sampled packets of
    tests/verify/test_corpora.py check the IPv6 dump."""
    require_kernel()
    lab = [p for text, path, _, _ in IPV4
           for p in packets_from([parse_packet(text)], Family.INET, [path])]
    report = verify_dump(_text("iptables-save.txt"), name="iptables-save.txt",
                         ipsets=[("ipset-save.txt", _text("ipset-save.txt"))], packets=lab)
    assert report.ok, disagreements(report)
    assert len(report.comparisons) == len(IPV4)
    for (text, _, taken, decision), compared in zip(IPV4, report.comparisons, strict=True):
        assert compared.outcome == "agree", text
        assert compared.kernel.accepted is taken, text
        assert compared.kernel.hits.get(decision), f"{text}: {decision} did not count"
        assert compared.chosen is not None and compared.chosen.state.decision == decision, text
    assert lab_namespaces() == set()


def test_the_policy_runs_before_the_drop_zone() -> None:
    """Where a blocklisted source's forwarded packet is let through: FWD_drop's first rule
    jumps to the policies, whose int-to-ext accepts."""
    rules = [line for line in _text("iptables-save.txt").splitlines()
             if line.startswith(("-A FWD_drop ", "-A FORWARD_POLICIES_pre "))]
    assert rules[0] == "-A FORWARD_POLICIES_pre -i eth1 -o eth2 -j FWD_int-to-ext"
    assert rules[2] == "-A FWD_drop -j FORWARD_POLICIES_pre"
    assert "add blocklist 192.0.2.66" in _text("ipset-save.txt").splitlines()
