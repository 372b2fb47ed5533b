"""The lab's packet as iptparse sees it, and the lab router as an iptparse host.

A comparison is only fair when the interpreter is told everything the lab fixed: the packet's
headers, that it is the first packet of a connection the kernel has never seen (so its state is
what conntrack makes of that very packet, its mark zero), that it reached R as unicast from a
known MAC, that R has no sockets, and which addresses and routes R has. Everything is derived
from the `KernelPacket` here, in one place, so the frame sent and the packet traced cannot drift
apart. The conntrack states were measured on the lab (see tests/verify/test_model_kernel.py).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..describe import describe_value
from ..fields import CT_STATES, FIELDS, PKT_TYPES, field_spec
from ..host import Host, HostAddress, Route
from ..nodes import Family
from ..packet import Packet
from ..sandbox.frames import (
    ICMP,
    ICMPV6,
    SCTP,
    TCP,
    TCP_ACK,
    TCP_FIN,
    TCP_RST,
    TCP_SYN,
    TCP_URG,
    UDP,
    KernelPacket,
    build_frame,
)

__all__ = [
    "LAB_SRC_MAC",
    "LabSetup",
    "ModelError",
    "conntrack_state",
    "kernel_packet",
    "kernel_packet_length",
    "lab_host",
    "model_packet",
    "tcp_option_kinds",
]

#: The source MAC every verify packet carries, so `-m mac` rules see a known value.
LAB_SRC_MAC = "02:1a:b0:ff:00:01"

_UDPLITE = 136
#: ICMP types that open a connection (nf_conntrack_proto_icmp's valid_new); others are INVALID.
_ICMP_NEW = frozenset({8, 13, 15, 17})
_ICMPV6_NEW = frozenset({128, 139})
#: ICMPv6 neighbour discovery and MLD: conntrack leaves them untracked.
_ICMPV6_UNTRACKED = frozenset({130, 131, 132, 133, 134, 135, 136, 143, 151, 152})
#: TCP flags (less PSH, ECE, CWR) of a packet conntrack accepts as a connection's first.
_TCP_NEW = frozenset({TCP_SYN, TCP_SYN | TCP_URG, TCP_ACK, TCP_ACK | TCP_URG})
_TCP_STATE_BITS = TCP_FIN | TCP_SYN | TCP_RST | TCP_ACK | TCP_URG


class ModelError(ValueError):
    """A packet the lab cannot send as asked (a field it cannot set, a missing address)."""


@dataclass(frozen=True, slots=True)
class LabSetup:
    """What the lab router holds besides its rules: (interface, address/prefix) pairs."""

    addresses: tuple[tuple[str, str], ...] = ()


def conntrack_state(packet: KernelPacket) -> str:
    """What conntrack makes of a packet it has no entry for: NEW, INVALID or UNTRACKED."""
    number = packet.number
    if number == TCP:
        return "NEW" if (packet.tcp_flags & _TCP_STATE_BITS) in _TCP_NEW else "INVALID"
    if number == ICMP and packet.family is Family.INET:
        return "NEW" if _icmp_type(packet) in _ICMP_NEW else "INVALID"
    if number == ICMPV6 and packet.family is Family.INET6:
        kind = _icmp_type(packet)
        if kind in _ICMPV6_NEW:
            return "NEW"
        return "UNTRACKED" if kind in _ICMPV6_UNTRACKED else "INVALID"
    if number == _UDPLITE:
        return "INVALID"  # the lab sends no UDP-Lite header
    return "NEW"


def _icmp_type(packet: KernelPacket) -> int:
    if packet.icmp_type is not None:
        return packet.icmp_type
    return 8 if packet.family is Family.INET else 128


def tcp_option_kinds(options: bytes) -> int:
    """The option kinds xt_tcpudp finds, as a bit mask: its walk steps one byte over EOL and
    NOP and a length byte over the others (a zero length counts as one)."""
    padded = options + b"\0" * (-len(options) % 4)
    kinds = 0
    i = 0
    while i < len(padded):
        kind = padded[i]
        kinds |= 1 << kind
        if kind < 2:
            i += 1
        else:
            size = padded[i + 1] if i + 1 < len(padded) else 0
            i += size or 1
    return kinds


def kernel_packet_length(packet: KernelPacket) -> int:
    """What `-m length` sees: the IPv4 total length, or the IPv6 payload length plus 40."""
    return len(build_frame(packet, dst_mac=bytes(6), src_mac=bytes(6), ident=0)) - 14


def model_packet(packet: KernelPacket, path: str, *, mark: int = 0) -> Packet:
    """The iptparse packet for a lab packet: every field the lab fixes, exactly."""
    if packet.frag_offset or packet.more_fragments:
        raise ModelError("verify sends whole packets only (no fragments)")
    family = packet.family
    number = packet.number
    values: dict[str, int | str] = {
        "proto": number,
        "src": int(ipaddress.ip_address(packet.src)),
        "dst": int(ipaddress.ip_address(packet.dst)),
        "length": kernel_packet_length(packet),
        "ttl": packet.ttl,
        "tos": packet.tos,
        "mark": mark,
        "ctstate": CT_STATES.index(conntrack_state(packet)),
        "pkttype": PKT_TYPES.index("unicast"),
        "fragment": 0,
        "bridged": 0,
        "priority": 0,
    }
    if path == "out":
        # sent by the lab's own raw socket in R: its owner is this process (fsuid, fsgid)
        values |= {"socket": 1, "socket_file": 1, "uid": os.geteuid(), "gid": os.getegid()}
    else:
        values |= {"iif": packet.iif, "socket": 0,
                   "src_mac": int((packet.src_mac or LAB_SRC_MAC).replace(":", ""), 16)}
    if path != "in":
        if packet.oif is None:
            raise ModelError(f"a packet on the {path} path needs an output interface (oif)")
        values["oif"] = packet.oif
    if number in (TCP, UDP, SCTP):
        values["sport"], values["dport"] = packet.sport, packet.dport
    if number == TCP:
        values["tcp_flags"] = packet.tcp_flags & 0xFF
        values["tcp_options"] = tcp_option_kinds(packet.tcp_options)
    if (number == ICMP and family is Family.INET) or (number == ICMPV6
                                                      and family is Family.INET6):
        values["icmp_type"] = _icmp_type(packet)
        values["icmp_code"] = packet.icmp_code
    values |= {name: value for name, value in _headers(packet).items() if name in FIELDS}
    fields = {name: field_spec(name).single(value, family) for name, value in values.items()}
    return Packet(fields, family)


def _headers(packet: KernelPacket) -> dict[str, int]:
    """Fields of the headers the lab builds (see frames.py): no IPv6 extension header, an
    SCTP packet of one chunk, routes without realms."""
    out = {"realm": 0}
    if packet.family is Family.INET6:
        out["ipv6_headers"] = 0x01  # straight to the upper-layer protocol
    if packet.number == SCTP:
        out["sctp_chunks"] = 1 << packet.sctp_chunk
    return out


def lab_host(packet: KernelPacket, path: str, setup: LabSetup = LabSetup()) -> Host:
    """R as the lab builds it for this packet: the `in` destination on lo, the setup's
    addresses, a host route for a forwarded destination and the packet's extra routes."""
    family = packet.family
    addresses = [a for iface, text in setup.addresses
                 if (a := _host_address(iface, text, family)) is not None]
    routes: list[Route] = []
    if path == "in":
        addresses.append(HostAddress("lo", family, int(ipaddress.ip_address(packet.dst)),
                                     family.bits))
    elif packet.oif is not None:
        routes.append(Route(family, int(ipaddress.ip_address(packet.dst)), family.bits,
                            packet.oif))
    for prefix, iface in packet.routes:
        net = ipaddress.ip_network(prefix, strict=False)
        routes.append(Route(family, int(net.network_address), net.prefixlen, iface))
    return Host(addresses, routes)


def _host_address(iface: str, text: str, family: Family) -> HostAddress | None:
    interface = ipaddress.ip_interface(text)
    if interface.version != (4 if family is Family.INET else 6):
        return None
    return HostAddress(iface, family, int(interface.ip), interface.network.prefixlen)


# --- the other way: a user's packet as a lab packet ----------------------------------------

#: Why the lab's packets have the value they have in the fields it does not take from the user.
_WHY: Mapping[str, str] = {
    "mark": "the lab's packets carry no mark",
    "fragment": "verify sends whole packets only",
    "bridged": "the lab routes, it does not bridge",
    "priority": "received packets have priority 0",
    "socket": "the lab router has no sockets",
    "pkttype": "the lab sends unicast frames",
    "src_mac": "",
    "realm": "the lab's routes have no realm",
    "ipv6_headers": "the lab sends no IPv6 extension headers",
    "sctp_chunks": "the lab's SCTP packets carry one INIT chunk",
}


def _exact(packet: Packet, name: str) -> int | str | None:
    value = packet.value(name)
    if name in packet.fields and value is None:
        raise ModelError(f"{name} must be a single value for the kernel lab")
    return value


def kernel_packet(packet: Packet, path: str, *, default_iif: str = "eth0",
                  default_oif: str = "eth1") -> KernelPacket:
    """The lab packet for a packet in iptparse's text form; refuses what the lab cannot send.

    Fields left out take the lab's defaults (a TCP SYN from port 40000 to 80, TTL 64, ...);
    every field given must be one the lab's packet has, with the value it will have (`mark`
    0, `ctstate` the state conntrack will give the packet, ...).
    """
    family = packet.family or Family.INET
    src, dst = _exact(packet, "src"), _exact(packet, "dst")
    if not isinstance(src, int) or not isinstance(dst, int):
        raise ModelError("the kernel lab needs exact src and dst addresses")
    args: dict[str, object] = {
        "src": _address_text(src, family),
        "dst": _address_text(dst, family),
        "iif": _exact(packet, "iif") or default_iif,
    }
    proto = _exact(packet, "proto")
    args["protocol"] = proto if isinstance(proto, int) else "tcp"
    for name in ("sport", "dport", "tcp_flags", "icmp_type", "icmp_code", "ttl", "tos"):
        given = _exact(packet, name)
        if given is not None:
            args[name] = given
    mac = _exact(packet, "src_mac")
    args["src_mac"] = LAB_SRC_MAC if mac is None else ":".join(
        f"{b:02x}" for b in int(mac).to_bytes(6, "big"))
    options = packet.value("tcp_options")
    if isinstance(options, int) and options:
        args["tcp_options"] = _options_for(options)
    if path != "in":
        oif = _exact(packet, "oif")
        args["oif"] = oif if isinstance(oif, str) and oif else default_oif
    elif _exact(packet, "oif"):
        raise ModelError("a packet for the `in' path has no output interface")
    if path == "out" and _exact(packet, "iif"):
        raise ModelError("a packet for the `out' path has no input interface")
    try:
        draft = KernelPacket(**args)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ModelError(str(exc)) from None
    draft = _with_length(draft, _exact(packet, "length"))
    _check_against(packet, model_packet(draft, path), draft)
    return draft


def _check_against(packet: Packet, model: Packet, draft: KernelPacket) -> None:
    """Every field the user gave must be one the lab's packet has, with that value."""
    extra = sorted(set(packet.fields) - set(model.fields))
    if extra:
        raise ModelError(f"the kernel lab cannot set {', '.join(extra)}")
    for name, given in packet.fields.items():
        actual = model.fields[name].single_value()
        if actual in given:
            continue
        if name == "ctstate":
            raise ModelError(f"ctstate={CT_STATES[int(_exact(packet, name) or 0)]} cannot be "
                             f"sent: conntrack makes this packet {conntrack_state(draft)}")
        why = _WHY.get(name) or "the lab's packet differs"
        shown = describe_value(name, actual, model.family or Family.INET) if (
            actual is not None) else "unset"
        raise ModelError(f"{name} must be {shown}: {why}")


def _address_text(value: int, family: Family) -> str:
    if family is Family.INET:
        return str(ipaddress.IPv4Address(value))
    return str(ipaddress.IPv6Address(value))


def _with_length(packet: KernelPacket, length: int | str | None) -> KernelPacket:
    if length is None:
        return packet
    base = kernel_packet_length(replace(packet, length=0))
    payload = int(length) - base
    if not 0 <= payload <= 1400:
        raise ModelError(f"length={length} cannot be sent: this packet's headers take {base} "
                         "bytes and the lab adds at most 1400")
    return replace(packet, length=payload)


def _options_for(kinds: int) -> bytes:
    """Option bytes in which xt_tcpudp finds exactly `kinds` (two-byte options, NOP/EOL)."""
    body = b"".join(bytes((k, 2)) for k in range(2, 256) if kinds >> k & 1)
    if kinds & 2:
        body += b"\x01"
    pad = -len(body) % 4
    if pad and not kinds & 3:
        raise ModelError("tcp_options: the option bytes need padding, which adds NOP or EOL")
    body += (b"\x00" if kinds & 1 else b"\x01") * pad
    if kinds & 1 and not pad:
        body += b"\x00" * 4
    if len(body) > 40 or tcp_option_kinds(body) != kinds:
        raise ModelError("tcp_options: no option bytes of at most 40 bytes give these kinds")
    return body
