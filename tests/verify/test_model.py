"""The lab packet as iptparse sees it, without the kernel (test_model_kernel checks the same
facts against the kernel's own counters)."""

from __future__ import annotations

import ipaddress

import pytest

from iptparse.domain import IntSet
from iptparse.fields import CT_STATES
from iptparse.host import Route
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.sandbox.frames import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, KernelPacket
from iptparse.verify.model import (
    LabSetup,
    ModelError,
    conntrack_state,
    kernel_packet,
    lab_host,
    model_packet,
    tcp_option_kinds,
)


def fwd(**fields: object) -> KernelPacket:
    values: dict[str, object] = {"src": "10.0.1.1", "dst": "10.0.2.2", "iif": "eth0",
                                 "oif": "eth1"}
    return KernelPacket(**(values | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(("flags", "state"), [
    (TCP_SYN, "NEW"), (TCP_ACK, "NEW"), (TCP_SYN | TCP_PSH, "NEW"), (TCP_ACK | TCP_PSH, "NEW"),
    (TCP_SYN | 0xC0, "NEW"), (TCP_SYN | TCP_ACK, "INVALID"), (TCP_RST, "INVALID"),
    (TCP_FIN, "INVALID"), (0, "INVALID"), (TCP_SYN | TCP_FIN, "INVALID"),
])
def test_tcp_flags_decide_the_first_packets_state(flags: int, state: str) -> None:
    assert conntrack_state(fwd(tcp_flags=flags)) == state


def test_icmp_states() -> None:
    assert conntrack_state(fwd(protocol="icmp")) == "NEW"  # echo request by default
    assert conntrack_state(fwd(protocol="icmp", icmp_type=0)) == "INVALID"
    assert conntrack_state(fwd(protocol="icmp", icmp_type=13)) == "NEW"
    v6 = {"src": "fd00::1", "dst": "fd00::2", "protocol": "icmpv6"}
    assert conntrack_state(fwd(**v6)) == "NEW"
    assert conntrack_state(fwd(**v6, icmp_type=135)) == "UNTRACKED"
    assert conntrack_state(fwd(**v6, icmp_type=129)) == "INVALID"
    assert conntrack_state(fwd(protocol="udp")) == "NEW"


def test_option_kinds_follow_the_kernels_walk() -> None:
    assert tcp_option_kinds(b"") == 0
    assert tcp_option_kinds(bytes([2, 4, 5, 0xB4])) == 1 << 2  # MSS, no padding needed
    # NOP, window scale (3 bytes): padded with one EOL, which the walk also sees
    assert tcp_option_kinds(bytes([1, 3, 3, 7])) == (1 << 1) | (1 << 3)
    assert tcp_option_kinds(bytes([3, 3, 7])) == (1 << 3) | 1


def test_model_fixes_every_field_the_lab_sets() -> None:
    model = model_packet(fwd(dport=22, ttl=9, tos=0x10, length=100), "forward")
    assert model.is_concrete
    values = {name: model.value(name) for name in model.fields}
    assert values["proto"] == 6 and values["dport"] == 22 and values["sport"] == 40000
    assert values["length"] == 20 + 20 + 100 and values["ttl"] == 9 and values["tos"] == 0x10
    assert values["iif"] == "eth0" and values["oif"] == "eth1" and values["mark"] == 0
    assert values["ctstate"] == CT_STATES.index("NEW") and values["tcp_flags"] == TCP_SYN
    assert "oif" not in model_packet(fwd(oif=None), "in").fields
    v6 = model_packet(fwd(src="fd00::1", dst="fd00::2", protocol="udp"), "forward")
    assert v6.value("length") == 40 + 8 and v6.family is Family.INET6


def test_fragments_are_refused() -> None:
    with pytest.raises(ModelError, match="fragments"):
        model_packet(fwd(frag_offset=3), "forward")


def test_text_form_round_trips_to_the_same_lab_packet() -> None:
    for packet, path in ((fwd(dport=22, ttl=33, length=7, tcp_flags=TCP_ACK), "forward"),
                         (fwd(protocol="icmp", icmp_type=8, oif=None), "in"),
                         (fwd(src="fd00::1", dst="fd00::2", protocol="udp", sport=5), "forward")):
        text = str(model_packet(packet, path))
        again = kernel_packet(parse_packet(text), path)
        assert model_packet(again, path) == model_packet(packet, path), text


def test_kernel_packet_refuses_what_the_lab_cannot_send() -> None:
    with pytest.raises(ModelError, match="mark must be 0x0"):
        kernel_packet(parse_packet("tcp 1.1.1.1:5 -> 2.2.2.2:80 mark=0x10"), "forward")
    with pytest.raises(ModelError, match="single value"):
        kernel_packet(parse_packet("tcp 1.1.1.0/24 -> 2.2.2.2:80"), "forward")
    with pytest.raises(ModelError, match="conntrack makes"):
        kernel_packet(parse_packet("tcp 1.1.1.1:5 -> 2.2.2.2:80 ctstate=ESTABLISHED"), "in")
    with pytest.raises(ModelError, match="cannot set"):
        kernel_packet(parse_packet("tcp 1.1.1.1:5 -> 2.2.2.2:80 uid=0"), "in")
    with pytest.raises(ModelError, match="length=10"):
        kernel_packet(parse_packet("tcp 1.1.1.1:5 -> 2.2.2.2:80 length=10"), "in")
    lab = kernel_packet(parse_packet("udp 1.1.1.1:5 -> 2.2.2.2:53 length=100 iif=eth7"), "in")
    assert (lab.length, lab.iif, lab.oif) == (100 - 28, "eth7", None)


def test_lab_host_is_the_router_the_lab_builds() -> None:
    inbound = lab_host(fwd(oif=None), "in", LabSetup((("eth1", "100.64.0.2/32"),)))
    local = inbound.local_addresses(Family.INET)
    assert int(ipaddress.ip_address("10.0.2.2")) in local
    assert int(ipaddress.ip_address("100.64.0.2")) in local
    assert inbound.interface_addresses("eth1", Family.INET) == [0x64400002]
    forward = lab_host(fwd(routes=(("10.9.0.0/16", "eth2"),)), "forward")
    assert int(ipaddress.ip_address("10.0.2.2")) not in forward.local_addresses(Family.INET)
    assert forward.routes == (
        Route(Family.INET, 0x0A000202, 32, "eth1"), Route(Family.INET, 0x0A090000, 16, "eth2"))
    assert IntSet.prefix(0x0A090000, 16, 32) == forward.routes[1].addresses()
