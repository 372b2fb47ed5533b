"""The kernel lab against hand-written rulesets whose counters can be predicted by reading them.

Every assertion is exact (whole dicts): a stray counter, a reply that reached OUTPUT or a frame
that left on the wrong interface fails the test.
"""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from iptparse.nodes import Family
from iptparse.sandbox.frames import TCP_ACK, KernelPacket
from iptparse.sandbox.lab import Backend, Lab
from iptparse.sandbox.netns import missing_tools
from iptparse.sandbox.oracle import KernelRejected

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

FILTER_HEAD = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD {forward} [0:0]\n:OUTPUT ACCEPT [0:0]\n"


def filter_table(body: str, *, forward: str = "DROP", chains: str = "") -> str:
    return FILTER_HEAD.format(forward=forward) + chains + body + "COMMIT\n"


def fwd(dst: str = "10.0.2.2", **fields: object) -> KernelPacket:
    values: dict[str, object] = {"src": "10.0.1.1", "dst": dst, "iif": "eth0", "oif": "eth1"}
    return KernelPacket(**(values | fields))  # type: ignore[arg-type]


def lab_namespaces() -> set[str]:
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                             check=True).stdout
    return {line.split()[0] for line in listing.splitlines()
            if line.startswith("iptp-lab") and f"-{os.getpid()}-" in line}


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


@pytest.fixture(params=["legacy", "nft"])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each ruleset runs under both iptables flavours: they must count the same."""
    name: Backend = request.param
    if name == "nft" and missing_tools(("iptables-nft-restore", "ip6tables-nft-restore")):
        pytest.skip("iptables-nft is not installed")
    return name


def test_port_accept_against_drop_policy(backend: Backend) -> None:
    rules = filter_table("-A FORWARD -p tcp -m tcp --dport 22 -j ACCEPT\n")
    with Lab(rules, Family.INET, path="forward", backend=backend,
             interfaces=["eth0", "eth1"]) as lab:
        accepted = lab.send(fwd(dport=22))
        assert accepted.hits == {("filter", "FORWARD", 1): 1}
        assert accepted.policies == {}
        assert accepted.delivered and not accepted.local
        assert [e.interface for e in accepted.egress] == ["eth1"]
        out = accepted.egress[0].decoded
        assert out is not None and (out.dst, out.dport, out.ttl) == ("10.0.2.2", 22, 63)
        dropped = lab.send(fwd(dport=23))
        assert (dropped.hits, dropped.policies) == ({}, {("filter", "FORWARD"): 1})
        assert not dropped.delivered and dropped.egress == ()


def test_user_chain_return_resumes_the_caller(backend: Backend) -> None:
    rules = filter_table(
        "-A FORWARD -p tcp -j sub\n-A FORWARD -p tcp -m tcp --dport 81 -j ACCEPT\n"
        "-A sub -p tcp -m tcp --dport 81 -j RETURN\n-A sub -j ACCEPT\n",
        chains=":sub - [0:0]\n")
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        returned = lab.send(fwd(dport=81))
        assert returned.hits == {("filter", "FORWARD", 1): 1, ("filter", "sub", 1): 1,
                                 ("filter", "FORWARD", 2): 1}
        assert returned.policies == {} and returned.delivered
        accepted = lab.send(fwd(dport=82))
        assert accepted.hits == {("filter", "FORWARD", 1): 1, ("filter", "sub", 2): 1}
        assert accepted.delivered


def test_goto_returns_past_the_caller(backend: Backend) -> None:
    rules = filter_table(
        "-A FORWARD -p tcp -g sub\n-A FORWARD -j ACCEPT\n"
        "-A sub -p tcp -m tcp --dport 81 -j RETURN\n-A sub -p tcp -m tcp --dport 82 -j DROP\n",
        chains=":sub - [0:0]\n")
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        for dport in (81, 83):  # RETURN, and falling off the end: both end FORWARD at once
            result = lab.send(fwd(dport=dport))
            expected = {("filter", "FORWARD", 1): 1}
            if dport == 81:
                expected["filter", "sub", 1] = 1
            assert result.hits == expected
            assert result.policies == {("filter", "FORWARD"): 1} and not result.delivered
        dropped = lab.send(fwd(dport=82))
        assert dropped.hits == {("filter", "FORWARD", 1): 1, ("filter", "sub", 2): 1}
        assert dropped.policies == {}
        udp = lab.send(fwd(protocol="udp"))
        assert udp.hits == {("filter", "FORWARD", 2): 1} and udp.delivered


def test_mark_set_in_mangle_is_seen_by_filter(backend: Backend) -> None:
    rules = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
             ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n"
             "-A PREROUTING -p udp -j MARK --set-xmark 0x2a/0xffffffff\nCOMMIT\n"
             + filter_table("-A FORWARD -m mark --mark 0x2a -j ACCEPT\n"))
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        passing = {("mangle", "PREROUTING"): 1, ("mangle", "FORWARD"): 1}
        marked = lab.send(fwd(protocol="udp"))
        assert marked.hits == {("mangle", "PREROUTING", 1): 1, ("filter", "FORWARD", 1): 1}
        # MARK does not end the chain: the packet goes on to the policy
        assert marked.policies == passing | {("mangle", "POSTROUTING"): 1} and marked.delivered
        unmarked = lab.send(fwd(protocol="tcp"))
        assert unmarked.hits == {}
        assert unmarked.policies == passing | {("filter", "FORWARD"): 1}


def test_interface_wildcards_and_names_from_the_ruleset(backend: Backend) -> None:
    calico = "calid3b581beed8"
    rules = filter_table("-A FORWARD -i cali+ -j ACCEPT\n-A FORWARD -o cali+ -j ACCEPT\n"
                         "-A FORWARD -i docker0 -o eth0 -j ACCEPT\n")
    with Lab(rules, Family.INET, path="forward", backend=backend,
             interfaces=[calico, "eth0"]) as lab:
        assert lab.send(fwd(iif=calico, oif="eth0")).hits == {("filter", "FORWARD", 1): 1}
        into = lab.send(fwd(iif="eth0", oif=calico))
        assert into.hits == {("filter", "FORWARD", 2): 1}
        assert [e.interface for e in into.egress] == [calico]
        # docker0 was never listed: the lab made it because the ruleset names it
        assert lab.send(fwd(iif="docker0", oif="eth0")).hits == {("filter", "FORWARD", 3): 1}
        other = lab.send(fwd(iif="eth0", oif="vlan101"))  # made on demand
        assert other.hits == {} and other.policies == {("filter", "FORWARD"): 1}


def test_reject_replies_are_never_counted(backend: Backend) -> None:
    everywhere = "".join(f"-A {c}\n" for c in ("PREROUTING", "INPUT", "FORWARD", "OUTPUT",
                                                "POSTROUTING"))
    rules = ("*mangle\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n"
             ":OUTPUT ACCEPT [0:0]\n:POSTROUTING ACCEPT [0:0]\n" + everywhere + "COMMIT\n"
             + filter_table("-A INPUT -p tcp -m tcp --dport 1 -j REJECT --reject-with tcp-reset\n"
                            "-A FORWARD -p tcp -j REJECT --reject-with tcp-reset\n"
                            "-A FORWARD -p udp -j REJECT\n-A OUTPUT\n", forward="ACCEPT"))
    mangle = {("mangle", c, 1): 1 for c in ("PREROUTING", "FORWARD")}
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        for protocol, rule in (("tcp", 1), ("udp", 2)):
            result = lab.send(fwd(protocol=protocol))
            assert result.hits == mangle | {("filter", "FORWARD", rule): 1}
            assert result.policies == {("mangle", "PREROUTING"): 1, ("mangle", "FORWARD"): 1}
            assert result.egress == () and not result.delivered
        local = {("mangle", "PREROUTING", 1): 1, ("mangle", "INPUT", 1): 1}
        local_policies = {("mangle", "PREROUTING"): 1, ("mangle", "INPUT"): 1}
        rejected = lab.send(fwd(dst="192.0.2.1", dport=1), path="in")
        assert rejected.hits == local | {("filter", "INPUT", 1): 1}
        assert rejected.policies == local_policies and not rejected.local
        # a SYN to a closed port is delivered, and the kernel's RST finds no route either
        closed = lab.send(fwd(dst="192.0.2.1", dport=2), path="in")
        assert closed.hits == local and closed.delivered
        assert closed.policies == local_policies | {("filter", "INPUT"): 1}


def test_dnat_changes_the_forward_route(backend: Backend) -> None:
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n-A PREROUTING -d 203.0.113.10/32 -p tcp -m tcp "
             "--dport 80 -j DNAT --to-destination 10.9.0.5:8080\n-A POSTROUTING -o eth2\n"
             "COMMIT\n"
             + filter_table("-A FORWARD -d 10.9.0.5/32 -p tcp -m tcp --dport 8080 -j ACCEPT\n"))
    packet = fwd(dst="203.0.113.10", dport=80, routes=(("10.9.0.0/24", "eth2"),))
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        for _ in range(2):  # conntrack is flushed: the second packet is NEW and NATed again
            result = lab.send(packet)
            assert result.hits == {("nat", "PREROUTING", 1): 1, ("filter", "FORWARD", 1): 1,
                                   ("nat", "POSTROUTING", 1): 1}
            assert result.policies == {("nat", "POSTROUTING"): 1}
            assert [e.interface for e in result.egress] == ["eth2"]
            out = result.egress[0].decoded
            assert out is not None and (out.src, out.dst, out.dport) == (
                "10.0.1.1", "10.9.0.5", 8080)
        # without the extra route the rewritten destination is unroutable: dropped after NAT
        unroutable = lab.send(fwd(dst="203.0.113.10", dport=80))
        assert unroutable.hits == {("nat", "PREROUTING", 1): 1} and not unroutable.delivered


def test_in_path_and_no_stale_routes(backend: Backend) -> None:
    rules = ("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 22 -j ACCEPT\n"
             "-A INPUT -d 192.0.2.1/32 -p tcp -m tcp --dport 2 -j ACCEPT\n-A OUTPUT\nCOMMIT\n")
    with Lab(rules, Family.INET, path="in", backend=backend) as lab:
        accepted = lab.send(KernelPacket(src="198.51.100.7", dst="192.0.2.1", dport=22))
        assert accepted.hits == {("filter", "INPUT", 1): 1}
        assert accepted.delivered and accepted.local and accepted.egress == ()
        dropped = lab.send(KernelPacket(src="198.51.100.7", dst="192.0.2.1", dport=23,
                                        tcp_flags=TCP_ACK))
        assert (dropped.hits, dropped.policies) == ({}, {("filter", "INPUT"): 1})
        assert not dropped.delivered
        # route 10.0.2.2 for one forward packet, then let a local RST aim at 10.0.2.2: the
        # route must be gone or the RST would leave through OUTPUT
        assert lab.send(fwd(), path="forward").delivered
        closed = lab.send(KernelPacket(src="10.0.2.2", dst="192.0.2.1", dport=2))
        assert closed.hits == {("filter", "INPUT", 2): 1} and closed.delivered


def test_ipv6_forward_and_in(backend: Backend) -> None:
    rules = ("*filter\n:INPUT DROP [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A INPUT -d 2001:db8:ff::1/128 -p udp -m udp --dport 53 -j ACCEPT\n"
             "-A FORWARD -s 2001:db8:1::/64 -p tcp -m tcp --dport 443 -j ACCEPT\n"
             "-A FORWARD -p ipv6-icmp -j ACCEPT\n-A OUTPUT\nCOMMIT\n")
    v6 = {"src": "2001:db8:1::7", "dst": "2001:db8:2::9", "iif": "eth0", "oif": "eth1"}
    with Lab(rules, Family.INET6, path="forward", backend=backend) as lab:
        https = lab.send(KernelPacket(**v6, dport=443))  # type: ignore[arg-type]
        assert https.hits == {("filter", "FORWARD", 1): 1} and https.delivered
        out = https.egress[0].decoded
        assert out is not None and (out.dst, out.ttl) == ("2001:db8:2::9", 63)
        ping = lab.send(KernelPacket(**v6, protocol="icmpv6"))  # type: ignore[arg-type]
        assert ping.hits == {("filter", "FORWARD", 2): 1} and ping.delivered
        other = lab.send(KernelPacket(**v6 | {"src": "2001:db8:3::1"}, dport=443))  # type: ignore[arg-type]
        assert other.hits == {} and other.policies == {("filter", "FORWARD"): 1}
        dns = lab.send(KernelPacket(src="2001:db8:1::7", dst="2001:db8:ff::1", protocol="udp",
                                    dport=53), path="in")
        assert dns.hits == {("filter", "INPUT", 1): 1} and dns.local and dns.delivered


def test_ipset_match(backend: Backend) -> None:
    sets = "create allowed hash:ip family inet\nadd allowed 10.0.1.1\n"
    rules = filter_table("-A FORWARD -m set --match-set allowed src -j ACCEPT\n")
    with Lab(rules, Family.INET, path="forward", backend=backend, ipsets=sets) as lab:
        member = lab.send(fwd())
        assert member.hits == {("filter", "FORWARD", 1): 1} and member.delivered
        stranger = lab.send(fwd(src="10.0.1.2"))
        assert stranger.hits == {} and stranger.policies == {("filter", "FORWARD"): 1}


def test_fragments(backend: Backend) -> None:
    rules = filter_table("-A FORWARD -f -j DROP\n-A FORWARD -j ACCEPT\n")
    with Lab(rules, Family.INET, path="forward", backend=backend) as lab:
        later = lab.send(fwd(protocol="udp", frag_offset=10, more_fragments=True))
        assert later.hits == {("filter", "FORWARD", 1): 1} and not later.delivered
        first = lab.send(fwd(protocol="udp", more_fragments=True, length=64))
        assert first.hits == {("filter", "FORWARD", 2): 1} and first.delivered


def test_nothing_is_left_behind() -> None:
    with pytest.raises(RuntimeError, match="boom"), Lab(filter_table(""), path="forward") as lab:
        made = {lab.router.name, lab.peer.name}
        assert made <= lab_namespaces()
        raise RuntimeError("boom")
    assert lab_namespaces().isdisjoint(made)
    with pytest.raises(KeyboardInterrupt), Lab(filter_table(""), path="in") as lab:
        lab.send(KernelPacket(src="10.0.0.1", dst="10.0.0.2"))
        raise KeyboardInterrupt
    assert lab_namespaces() == set()
    with pytest.raises(KernelRejected):
        Lab(filter_table("-A NOSUCHCHAIN -j ACCEPT\n"), path="forward").__enter__()
    assert lab_namespaces() == set()


def test_many_packets_stay_fast_and_consistent() -> None:
    rules = filter_table("-A FORWARD -p udp -m udp --dport 1000:1049 -j ACCEPT\n")
    with Lab(rules, Family.INET, path="forward") as lab:
        started = time.monotonic()
        results = [lab.send(fwd(protocol="udp", dport=900 + n)) for n in range(200)]
        elapsed = time.monotonic() - started
    accepted = [n for n, r in enumerate(results) if r.hits == {("filter", "FORWARD", 1): 1}]
    assert accepted == list(range(100, 150))
    assert all(r.policies == {("filter", "FORWARD"): 1} for r in results if not r.hits)
    assert elapsed < 10, f"{elapsed / 200 * 1000:.1f} ms per packet"


@pytest.mark.parametrize(("family", "address", "src", "dst"), [
    (Family.INET, "198.51.100.1", "10.0.1.1", "10.0.2.2"),
    (Family.INET6, "2001:db8:9::1", "2001:db8:1::1", "2001:db8:2::2"),
])
def test_masquerade_takes_the_address_given_to_the_lab(
        backend: Backend, family: Family, address: str, src: str, dst: str) -> None:
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n-A POSTROUTING -o eth1 -j MASQUERADE\nCOMMIT\n"
             + filter_table("-A OUTPUT\n", forward="ACCEPT"))
    packet = KernelPacket(src=src, dst=dst, protocol="udp", iif="eth0", oif="eth1")
    with Lab(rules, family, path="forward", backend=backend,
             addresses=[("eth1", f"{address}/{family.bits}")]) as lab:
        for _ in range(2):  # the IPv6 address's MLD reports never show up in OUTPUT
            result = lab.send(packet)
            assert result.hits == {("nat", "POSTROUTING", 1): 1}
            assert result.policies == {("nat", "PREROUTING"): 1, ("filter", "FORWARD"): 1}
            out = result.egress[0].decoded
            assert out is not None and (out.src, out.dst) == (address, dst)
    with Lab(rules, family, path="forward", backend=backend) as bare:
        result = bare.send(packet)
        assert result.hits == {("nat", "POSTROUTING", 1): 1}
        if family is Family.INET:  # no address to masquerade with: the kernel drops it
            assert not result.delivered
        else:  # IPv6 source selection settles for the only address there is, lo's ::1
            out = result.egress[0].decoded
            assert out is not None and out.src == "::1"


def test_out_path_sends_from_r_through_output_and_postrouting(backend: Backend) -> None:
    """A packet of R's own (the lab's raw socket): OUTPUT sees its output interface and the
    lab's uid, nat OUTPUT's DNAT reroutes it (to the packet's extra route), a drop in OUTPUT
    sends nothing, and the send itself is no answer of R's."""
    uid = os.geteuid()
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n-A OUTPUT -d 203.0.113.10/32 -p udp -j DNAT "
             "--to-destination 10.9.0.5:53\n-A POSTROUTING -o eth2\nCOMMIT\n"
             "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT DROP [0:0]\n"
             f"-A OUTPUT -o eth1 -m owner --uid-owner {uid} -j ACCEPT\n"
             "-A OUTPUT -d 10.9.0.5/32 -o eth2 -p udp -m udp --dport 53 -j ACCEPT\nCOMMIT\n")
    with Lab(rules, Family.INET, path="out", backend=backend) as lab:
        sent = lab.send(fwd(dst="10.0.2.2", ttl=1))  # no forwarding: a TTL of 1 leaves
        assert sent.hits == {("filter", "OUTPUT", 1): 1}
        assert sent.policies == {("nat", "OUTPUT"): 1, ("nat", "POSTROUTING"): 1}
        assert sent.delivered and not sent.local and not sent.answered
        assert [e.interface for e in sent.egress] == ["eth1"]
        frame = sent.egress[0].decoded
        assert frame is not None and (frame.src, frame.dst, frame.ttl) == ("10.0.1.1",
                                                                            "10.0.2.2", 1)
        # routed out of eth1, DNAT sends it to eth2: the hooks of OUTPUT still see eth1 (the
        # interface of the route the walk began with), POSTROUTING the new route's eth2
        nat = lab.send(fwd(dst="203.0.113.10", protocol="udp", dport=99,
                           routes=(("10.9.0.0/24", "eth2"),)))
        assert nat.hits == {("nat", "OUTPUT", 1): 1, ("filter", "OUTPUT", 1): 1,
                            ("nat", "POSTROUTING", 1): 1}
        assert [e.interface for e in nat.egress] == ["eth2"] and not nat.answered
        out = nat.egress[0].decoded
        assert out is not None and (out.dst, out.dport) == ("10.9.0.5", 53)
        dropped = lab.send(fwd(dst="10.0.2.2", oif="eth3"))
        assert dropped.hits == {} and dropped.policies == {("nat", "OUTPUT"): 1,
                                                           ("filter", "OUTPUT"): 1}
        assert not dropped.delivered and dropped.egress == ()
    assert lab_namespaces() == set()


def test_out_path_ipv6(backend: Backend) -> None:
    rules = ("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             "-A OUTPUT -o eth1 -p udp -m udp --dport 53 -j DROP\n-A OUTPUT -o eth1\nCOMMIT\n")
    packet = KernelPacket(src="2001:db8:1::7", dst="2001:db8:9::1", protocol="udp", dport=54,
                          oif="eth1")
    with Lab(rules, Family.INET6, path="out", backend=backend) as lab:
        sent = lab.send(packet)
        assert sent.hits == {("filter", "OUTPUT", 2): 1} and sent.policies == {
            ("filter", "OUTPUT"): 1}
        assert sent.delivered and not sent.answered
        frame = sent.egress[0].decoded
        assert frame is not None and (frame.src, frame.dst) == ("2001:db8:1::7",
                                                                "2001:db8:9::1")
        dropped = lab.send(KernelPacket(src="2001:db8:1::7", dst="2001:db8:9::1",
                                        protocol="udp", dport=53, oif="eth1"))
        assert dropped.hits == {("filter", "OUTPUT", 1): 1} and dropped.policies == {}
        assert not dropped.delivered
