"""The `-m set --match-set NAME FLAGS` view of a packet: which value each dimension takes.

`IpSet.contains` takes the values of a set's dimensions; a rule names the set with direction
flags (`src`, `dst,dst`, ...) and the kernel picks each value from the packet by its flag:
addresses and ports from the source or destination, MACs from the Ethernet header,
interfaces from the incoming or outgoing device, the mark from the packet. `match_packet`
does that pick and the kernel's other checks (ip_set_test and the types' kadt functions):

* a set needs at least as many flags as it has dimensions, and a family-bound set only
  sees packets of its family (hash:mac and list:set see both);
* ports exist for TCP, UDP, SCTP and UDP-Lite; ICMP and ICMPv6 give `type << 8 | code`
  whatever the flag; other protocols give port 0; a non-first fragment has no ports and
  matches nothing; bitmap:port only matches TCP and UDP;
* a missing MAC (no Ethernet header, e.g. in OUTPUT), an all-zero MAC or a missing
  interface name matches nothing;
* a list:set tries its member sets in order with the same flags, skipping sets of higher
  dimension or of the other family, and matches at the first that does;
* `return_nomatch` (`--return-nomatch`) turns the answer around for sets with nomatch
  entries: only a packet that lands on a nomatch entry matches.

Interfaces of bridge ports (`physdev:` entries) are not matched: iptables' set match never
asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .nodes import IpSet
from .values import IPPROTO_ICMP, IPPROTO_ICMPV6, PORT_PROTOCOLS

__all__ = ["PacketFields", "match_packet", "packet_values"]

Resolver = Callable[[str], "IpSet | None"]


@dataclass(frozen=True, slots=True)
class PacketFields:
    """What a set match can look at. `icmp_type`/`icmp_code` stand in for ports of ICMP
    and ICMPv6; `fragment` is a non-first fragment (no transport header)."""

    family: str
    src: int
    dst: int
    proto: int | None = None
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None
    fragment: bool = False
    src_mac: int | None = None
    dst_mac: int | None = None
    in_iface: str | None = None
    out_iface: str | None = None
    mark: int = 0


def _port(packet: PacketFields, source: bool) -> int | None:
    proto = packet.proto
    if proto is None or packet.fragment:
        return None
    if proto in PORT_PROTOCOLS:
        return packet.sport if source else packet.dport
    if (proto == IPPROTO_ICMP and packet.family == "inet") or (
            proto == IPPROTO_ICMPV6 and packet.family == "inet6"):
        if packet.icmp_type is None or packet.icmp_code is None:
            return None
        return packet.icmp_type << 8 | packet.icmp_code
    return 0


def packet_values(ipset: IpSet, packet: PacketFields, flags: Sequence[str]
                  ) -> list[object] | None:
    """The values `contains` takes for this packet and these flags, or None when the kernel
    would not match the packet against the set at all."""
    values: list[object] = []
    for dim, flag in zip(ipset.settype.dims, flags, strict=False):
        source = flag == "src"
        if dim in ("ip", "net"):
            values.append(packet.src if source else packet.dst)
        elif dim in ("port", "bport"):
            port = _port(packet, source)
            if port is None:
                return None
            values.extend((packet.proto, port))
        elif dim == "mac":
            mac = packet.src_mac if source else packet.dst_mac
            if not mac:
                return None
            values.append(mac)
        elif dim == "iface":
            name = packet.in_iface if source else packet.out_iface
            if not name:
                return None
            values.append(name)
        elif dim == "mark":
            values.append(packet.mark)
    return values


def match_packet(ipset: IpSet, packet: PacketFields, flags: Sequence[str], *,
                 resolver: Resolver | None = None, return_nomatch: bool = False) -> bool:
    """Whether `-m set --match-set NAME FLAGS` matches the packet."""
    if len(flags) < ipset.dimension:
        return False
    if ipset.family is not None and ipset.family != packet.family:
        return False
    if ipset.type == "list:set":
        if resolver is None:
            raise ValueError("list:set membership needs a resolver for its member sets")
        for member in ipset.members:
            name = member.parts[0]
            member_set = resolver(getattr(name, "name", ""))
            if member_set is None or member_set.type == "list:set":
                continue
            if match_packet(member_set, packet, flags, return_nomatch=return_nomatch):
                return True
        return False
    values = packet_values(ipset, packet, flags)
    if values is None:
        return False
    return ipset.contains(*values, return_nomatch=return_nomatch)
