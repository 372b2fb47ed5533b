"""route_localnet against the kernel: without it a loopback address on any interface but lo
is a martian, a DNAT to 127.0.0.1 included, and a local packet with a loopback source cannot
leave by another interface (kube-proxy's node ports on localhost: DNAT in nat OUTPUT sends
the packet out again from 127.0.0.1). The router's settings, addresses and routes are read
back as a user captures them.
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

RULES = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 30080 -j DNAT --to-destination 127.0.0.1:8080
-A OUTPUT -d 127.0.0.1/32 -p udp -m udp --dport 30080 -j DNAT --to-destination 10.9.0.5:80
-A POSTROUTING -o eth1 -j MASQUERADE
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i eth0
-A INPUT -i eth1
-A INPUT -s 127.0.0.0/8
-A OUTPUT -o lo
-A OUTPUT -o eth1
COMMIT
"""

#: (source, destination, destination port, input interface) on the in path
RECEIVED = [("192.0.2.7", "10.0.2.5", 30080, "eth0"),  # DNAT to 127.0.0.1
            ("192.0.2.7", "127.0.0.1", 80, "eth0"),  # a loopback destination
            ("127.0.0.9", "10.0.2.5", 80, "eth0"),  # a loopback source
            ("192.0.2.7", "10.0.2.5", 30080, "eth1"),  # DNAT, by the other interface
            # a limited broadcast is taken in before the loopback checks (ip_route_input_slow)
            ("127.0.0.9", "255.255.255.255", 67, "eth0")]


@pytest.fixture(autouse=True)
def _kernel() -> None:
    require_kernel()


def _host(lab: Lab) -> Host:
    def run(*argv: str) -> str:
        return lab.router.run(list(argv)).stdout

    return Host.from_text(run("ip", "addr"), run("ip", "route", "show", "table", "all"),
                          run("sysctl", "net.ipv4"))


def _outcome(host: Host, spec: str, path: LabPath) -> tuple[set[tuple[str, str, int]], bool]:
    (result,) = trace(Ruleset([parse_iptables(RULES)], host=host),
                      parse_packet(f"{spec} ctstate=NEW ttl=64"), path).paths
    return {(h.table, h.chain, h.rule) for h in result.hits}, result.verdict == "ACCEPT"


@pytest.mark.parametrize("localnet", ["", "eth0", "all"])
def test_loopback_addresses_arriving(localnet: str) -> None:
    with Lab(RULES, Family.INET, path="in", interfaces=["eth0", "eth1"]) as lab:
        if localnet:
            lab.router.run(["sysctl", "-qw", f"net.ipv4.conf.{localnet}.route_localnet=1"])
        seen = []
        for src, dst, dport, iif in RECEIVED:
            got = lab.send(KernelPacket(src=src, dst=dst, protocol="udp", dport=dport, iif=iif))
            model = _outcome(_host(lab), f"udp {src}:40000 -> {dst}:{dport} iif={iif}", "in")
            # the router's port-unreachable answer to a loopback source leaves by lo
            received = {hit for hit in got.hits if hit[1] != "OUTPUT"}
            assert model == (received, got.local), (src, dst, dport, iif)
            seen.append(got.local)
    assert seen == {"": [False] * 4, "eth0": [True, True, True, False],
                    "all": [True] * 4}[localnet] + [True]


@pytest.mark.parametrize("localnet", ["", "eth1"])
def test_a_node_port_on_localhost(localnet: str) -> None:
    with Lab(RULES, Family.INET, path="out", interfaces=["eth0", "eth1"]) as lab:
        lab.router.run(["ip", "addr", "add", "192.168.49.2/24", "dev", "eth1"])
        if localnet:
            lab.router.run(["sysctl", "-qw", f"net.ipv4.conf.{localnet}.route_localnet=1"])
        got = lab.send(KernelPacket(src="127.0.0.1", dst="127.0.0.1", protocol="udp",
                                    dport=30080, routes=(("10.9.0.0/16", "eth1"),)))
        model = _outcome(_host(lab), "udp 127.0.0.1:40000 -> 127.0.0.1:30080", "out")
        sent = {(e.interface, e.decoded.src if e.decoded else None) for e in got.egress}
        assert model == (set(got.hits), bool(got.egress))
        assert sent == ({("eth1", "192.168.49.2")} if localnet else set())
