"""Bridged traffic (br_netfilter) in a kernel bridge against the model's `bridged=1` packets.

R holds a bridge br0 with two ports, veth1 and veth2, and calls iptables and ip6tables for
bridged packets (`bridge-nf-call-iptables`, `-ip6tables`, per namespace); P sends a frame into
veth1 for a MAC the bridge has not learnt, so it is flooded out of veth2. The kernel's counters
are compared with the rules the model's trace hits for the same packet. Every rule matches
only the test's own UDP packets, so the bridge's own traffic (IGMP reports as br0 comes up)
counts nowhere.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from iptparse.host import Host, HostAddress, Route, parse_bridge_calls
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket, build_frame
from iptparse.sandbox.netns import Netns
from iptparse.sandbox.nsthread import call_in_netns
from iptparse.sandbox.observe import CounterReader
from iptparse.sysctl import parse_sysctls
from iptparse.trace import trace

from ..conftest import require_kernel

pytestmark = pytest.mark.kernel

RULES = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -i br0 -p udp -m udp --dport 53 -m physdev --physdev-in veth1
-A PREROUTING -i veth1 -p udp -m udp --dport 53
-A FORWARD -i br0 -o br0 -p udp -m udp --dport 53 -m physdev --physdev-in veth1 --physdev-out veth2
-A POSTROUTING -o br0 -p udp -m udp --dport 53 -m ttl --ttl-eq 1
-A POSTROUTING -o br0 -p udp -m udp --dport 53 -m ttl --ttl-eq 64
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i br0 -p udp -m udp --dport 55 -m physdev --physdev-in veth1 ! --physdev-is-bridged
-A INPUT -i br0 -p udp -m udp --dport 55
-A FORWARD -p udp -m udp --dport 53 -m physdev --physdev-is-bridged -m ttl --ttl-eq 1 -j ACCEPT
-A FORWARD -p udp -m udp --dport 53 -m ttl --ttl-eq 64 -j ACCEPT
""" + ("-A FORWARD -i br0 -o eth9 -p udp -m udp --dport 53 -m physdev --physdev-in veth1 "
       "! --physdev-is-bridged -m ttl --ttl-eq 63 -j ACCEPT\n"
       "-A FORWARD -o eth9 -p udp -m udp --dport 54 -m physdev ! --physdev-is-bridged "
       "-m ttl --ttl-eq 63\nCOMMIT\n")


#: IPv4 only: DNAT sends dport 54 to a destination routed out of eth9
NAT = """*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p udp -m udp --dport 54 -j DNAT --to-destination 10.9.0.5
-A POSTROUTING -o eth9 -p udp -m udp --dport 54
COMMIT
"""
HOST = Host([HostAddress("br0", Family.INET, 0x0A0000FE, 24)],
            [Route(Family.INET, 0x0A090000, 24, "eth9")])


@pytest.fixture
def bridge() -> Iterator[tuple[Netns, Netns]]:
    require_kernel()
    with Netns("iptp-br-r") as r, Netns("iptp-br-p") as p:
        r.run(["ip", "link", "add", "br0", "type", "bridge"])
        for port in ("veth1", "veth2"):
            r.run(["ip", "link", "add", port, "type", "veth", "peer", "name", f"p-{port}",
                   "netns", p.name])
            r.run(["ip", "link", "set", port, "master", "br0", "up"])
            p.run(["ip", "link", "set", f"p-{port}", "up"])
        r.run(["ip", "link", "set", "br0", "up"])
        # a routed way out: packets for br0's own MAC to 10.9.0.0/24 leave by eth9
        r.run(["ip", "link", "add", "eth9", "type", "veth", "peer", "name", "p-eth9", "netns",
               p.name])
        p.run(["ip", "link", "set", "p-eth9", "up"])
        r.run(["ip", "link", "set", "eth9", "up"])
        r.run(["ip", "address", "add", "10.0.0.254/24", "dev", "br0"])
        r.run(["ip", "route", "add", "10.9.0.0/24", "via", "169.254.0.9", "dev", "eth9",
               "onlink"])
        r.run(["ip", "neigh", "add", "169.254.0.9", "lladdr", "02:00:00:00:09:09", "dev",
               "eth9", "nud", "permanent"])
        r.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        knobs = [f"/proc/sys/net/bridge/bridge-nf-call-{tool}" for tool in ("iptables",
                                                                           "ip6tables")]

        def call_iptables() -> bool:
            if not all(os.path.exists(knob) for knob in knobs):
                return False
            for knob in knobs:
                Path(knob).write_text("1")
            return True

        if not call_in_netns(r.name, call_iptables):
            pytest.skip("br_netfilter is not available in this kernel")
        r.run(["iptables-legacy-restore"], input=RULES)
        r.run(["iptables-legacy-restore", "--noflush"], input=NAT)
        r.run(["ip6tables-legacy-restore"], input=RULES.replace("--ttl-eq", "--hl-eq").replace(
            "-m ttl", "-m hl"))
        yield r, p


def send(bridge: tuple[Netns, Netns], packet: KernelPacket, *, to_bridge: bool = False
         ) -> dict[tuple[str, str, int], int]:
    """The rule counters that moved for `packet` sent into veth1 (bounded wait): for a MAC
    the bridge floods, or with `to_bridge` for br0's own (the packet is then routed)."""
    r, p = bridge
    reader = CounterReader(packet.family)
    save = "ip6tables-legacy-save" if packet.family is Family.INET6 else "iptables-legacy-save"
    before = reader.read(r.run([save, "-c"]).stdout)
    mac = bytes.fromhex("02aabbccddee")
    if to_bridge:
        mac = bytes.fromhex(r.run(["cat", "/sys/class/net/br0/address"]).stdout.strip()
                            .replace(":", ""))
    frame = build_frame(packet, dst_mac=mac, src_mac=bytes.fromhex("02aabbccdd01"), ident=1)

    def transmit() -> None:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0) as sock:
            sock.sendto(frame, ("p-veth1", 0))

    call_in_netns(p.name, transmit)
    deadline = time.monotonic() + 2
    moved: dict[tuple[str, str, int], int] = {}
    while time.monotonic() < deadline:
        after = reader.read(r.run([save, "-c"]).stdout)
        moved = dict(after.since(before).rules)
        if any(k[0] == "filter" for k in moved):  # the last table the packet meets
            break
        time.sleep(0.05)
    return moved


def model(packet: KernelPacket, ports: str = "oif=br0 physout=veth2"
          ) -> dict[tuple[str, str, int], int]:
    src, dst = (f"[{packet.src}]", f"[{packet.dst}]") if packet.family is Family.INET6 else (
        packet.src, packet.dst)
    spec = (f"udp {src}:1234 -> {dst}:53 ttl={packet.ttl} iif=br0 physin=veth1 bridged=1 "
            f"{ports}")
    rules = RULES if packet.family is Family.INET else RULES.replace(
        "--ttl-eq", "--hl-eq").replace("-m ttl", "-m hl")
    result = trace(Ruleset([parse_iptables(rules, family=packet.family)]), parse_packet(spec),
                   "forward")
    (path,) = result.paths
    return {(h.table, h.chain, h.rule): 1 for h in path.hits}


@pytest.mark.parametrize("ttl", [1, 64])
@pytest.mark.parametrize("addresses", [("10.0.0.1", "10.0.0.2"),
                                       ("2001:db8::1", "2001:db8::2")], ids=["ipv4", "ipv6"])
def test_a_bridged_packet_keeps_its_ttl_and_passes_every_hook_on_br0(
        bridge: tuple[Netns, Netns], ttl: int, addresses: tuple[str, str]) -> None:
    """No routing, no TTL (hop limit) decrement, no expiry: FORWARD and POSTROUTING see the
    TTL the packet came with, `-i`/`-o` name the bridge and physdev its ports."""
    packet = KernelPacket(src=addresses[0], dst=addresses[1], protocol="udp", sport=1234,
                          dport=53, ttl=ttl)
    kernel = send(bridge, packet)
    assert kernel == model(packet)
    assert kernel[("mangle", "POSTROUTING", 1 if ttl == 1 else 2)] == 1


def test_a_packet_in_by_a_port_for_the_bridge_itself_is_routed(bridge: tuple[Netns, Netns]
                                                               ) -> None:
    """br_netfilter data (physdev-in) but no output port: routed like any packet, its TTL
    decremented before FORWARD."""
    packet = KernelPacket(src="10.0.0.1", dst="10.9.0.5", protocol="udp", sport=1234,
                          dport=53, ttl=64)
    kernel = send(bridge, packet, to_bridge=True)
    assert kernel[("filter", "FORWARD", 3)] == 1
    assert kernel == model(packet, "oif=eth9 physout=")


def for_br0_itself(bridge: tuple[Netns, Netns], ruleset: Ruleset
                   ) -> dict[tuple[str, str, int], int]:
    """The counters a packet in by veth1 for br0's own MAC and address moved, once checked
    equal to the rules the model's trace of it on the `in` path hits."""
    packet = KernelPacket(src="10.0.0.1", dst="10.0.0.254", protocol="udp", sport=1234,
                          dport=55, ttl=64)
    kernel = send(bridge, packet, to_bridge=True)
    spec = "udp 10.0.0.1:1234 -> 10.0.0.254:55 iif=br0 physin=veth1 physout= bridged=1"
    (path,) = trace(ruleset, parse_packet(spec), "in").paths
    assert kernel == {(h.table, h.chain, h.rule): 1 for h in path.hits}
    return kernel


def test_a_packet_in_by_a_port_for_the_host_reaches_input(bridge: tuple[Netns, Netns]) -> None:
    """For br0's own MAC and address: delivered, INPUT sees iif br0 and the port it came by."""
    kernel = for_br0_itself(bridge, Ruleset([parse_iptables(RULES)], host=HOST))
    assert kernel == {("filter", "INPUT", 1): 1, ("filter", "INPUT", 2): 1}


def test_a_bridged_packet_dnat_sends_elsewhere_is_routed(bridge: tuple[Netns, Netns]) -> None:
    """br_netfilter routes a bridged packet whose destination DNAT changed: here out of eth9,
    leaving the bridge's ports (no physdev-out, not bridged) with its TTL decremented; the
    model needs the host's routes for that (without them it stays on the bridge)."""
    packet = KernelPacket(src="10.0.0.1", dst="10.0.0.2", protocol="udp", sport=1234,
                          dport=54, ttl=64)
    kernel = send(bridge, packet)
    spec = ("udp 10.0.0.1:1234 -> 10.0.0.2:54 ttl=64 iif=br0 physin=veth1 physout=veth2 "
            "bridged=1 ctstate=NEW")
    ruleset = Ruleset([parse_iptables(NAT + RULES)], host=HOST)
    (path,) = trace(ruleset, parse_packet(spec), "forward").paths
    assert kernel == {(h.table, h.chain, h.rule): 1 for h in path.hits}
    assert kernel[("nat", "PREROUTING", 1)] == 1 and kernel[("filter", "FORWARD", 4)] == 1
    assert path.verdict == "DROP"  # FORWARD's policy


def test_without_bridge_nf_call_iptables_no_table_sees_bridged_packets(
        bridge: tuple[Netns, Netns]) -> None:
    """bridge-nf-call-iptables 0 (as read from the router's sysctls): a packet the bridge
    floods to veth2 meets no table, and one for br0 itself comes up the stack as br0's own,
    without its port (physdev-in no longer matches)."""
    r, _ = bridge
    r.run(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"])
    settings = r.run(["sysctl", "net.bridge"]).stdout
    assert "net.bridge.bridge-nf-call-iptables = 0" in settings
    host = Host(HOST.addresses, HOST.routes, sysctls=parse_sysctls(settings))
    ruleset = Ruleset([parse_iptables(RULES)], host=host)

    def sent_by_veth2() -> int:
        return int(r.run(["cat", "/sys/class/net/veth2/statistics/tx_packets"]).stdout)

    before = sent_by_veth2()
    flooded = KernelPacket(src="10.0.0.1", dst="10.0.0.2", protocol="udp", sport=1234,
                           dport=53, ttl=1)
    assert send(bridge, flooded) == {}
    assert sent_by_veth2() > before
    (path,) = trace(ruleset, parse_packet("udp 10.0.0.1:1234 -> 10.0.0.2:53 ttl=1 iif=br0 "
                                          "oif=br0 physin=veth1 physout=veth2 bridged=1"),
                    "forward").paths
    assert (path.verdict, path.hits) == ("ACCEPT", ())
    assert path.state.stopped is not None and "bridge-nf-call-iptables = 0" in path.state.stopped

    assert for_br0_itself(bridge, ruleset) == {("filter", "INPUT", 2): 1}


def test_a_bridges_own_nf_call_iptables_overrides_the_sysctl(bridge: tuple[Netns, Netns]
                                                              ) -> None:
    """The sysctl at 0 but br0's own switch on (`ip link set br0 type bridge nf_call_iptables
    1`): the tables see br0's packets as with the sysctl on. The model reads the switch from
    the router's `ip -d address`, as a user would capture it."""
    r, _ = bridge
    r.run(["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0"])
    r.run(["ip", "link", "set", "br0", "type", "bridge", "nf_call_iptables", "1"])
    shown = r.run(["ip", "-d", "address"]).stdout
    assert parse_bridge_calls(shown)["br0"]["iptables"] == 1
    host = Host(HOST.addresses, HOST.routes,
                sysctls=parse_sysctls(r.run(["sysctl", "net.bridge"]).stdout),
                bridges=parse_bridge_calls(shown))
    ruleset = Ruleset([parse_iptables(RULES)], host=host)
    flooded = KernelPacket(src="10.0.0.1", dst="10.0.0.2", protocol="udp", sport=1234,
                           dport=53, ttl=1)
    kernel = send(bridge, flooded)
    (path,) = trace(ruleset, parse_packet("udp 10.0.0.1:1234 -> 10.0.0.2:53 ttl=1 iif=br0 "
                                          "oif=br0 physin=veth1 physout=veth2 bridged=1"),
                    "forward").paths
    assert kernel == {(h.table, h.chain, h.rule): 1 for h in path.hits}
    assert kernel == model(flooded) and kernel[("filter", "FORWARD", 1)] == 1

    assert for_br0_itself(bridge, ruleset) == {("filter", "INPUT", 1): 1,
                                               ("filter", "INPUT", 2): 1}  # its port seen
