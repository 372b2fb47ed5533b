"""The packet fields iptparse reasons about, and the kind of value set each one takes.

Every match ends up as a test "field ∈ set"; the field's kind says which set algebra applies:
integer ranges (addresses, ports, numbers, enumerations), bit cubes (marks, flags) or interface
name patterns. The table is the one place that knows each field's universe, its text form and
what users may type for it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from .domain import BitSet, IntSet, NameSet
from .nodes import Family

__all__ = [
    "CT_STATES",
    "CT_STATUS_BITS",
    "FIELDS",
    "PKT_TYPES",
    "FieldKind",
    "FieldSpec",
    "field_spec",
    "top_value",
]

ValueSet = IntSet | BitSet | NameSet


class FieldKind(enum.Enum):
    INT = "int"
    ADDR = "addr"
    BITS = "bits"
    NAME = "name"
    ENUM = "enum"


# Conntrack states as conntrack/state matches name them (SNAT/DNAT are status bits below).
CT_STATES: tuple[str, ...] = ("INVALID", "NEW", "ESTABLISHED", "RELATED", "UNTRACKED")
# Conntrack status bits (include/uapi/linux/netfilter/nf_conntrack_common.h) that matches test.
CT_STATUS_BITS: tuple[tuple[str, int], ...] = (
    ("EXPECTED", 1 << 0), ("SEEN_REPLY", 1 << 1), ("ASSURED", 1 << 2), ("CONFIRMED", 1 << 3),
    ("SNAT", 1 << 4), ("DNAT", 1 << 5),
)
CT_DIRECTIONS: tuple[str, ...] = ("ORIGINAL", "REPLY")
# Linux PACKET_* values for pkttype.
PKT_TYPES: tuple[str, ...] = ("unicast", "broadcast", "multicast", "otherhost")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One field: its kind, width (bits) or enumeration, and a short description."""

    name: str
    kind: FieldKind
    width: int = 0
    names: tuple[str, ...] = ()
    description: str = ""
    aliases: tuple[str, ...] = ()

    def top(self, family: Family) -> ValueSet:
        """Every value the field can take: what "unknown" means for it."""
        if self.kind is FieldKind.ADDR:
            return IntSet.all((1 << family.bits) - 1)
        if self.kind is FieldKind.BITS:
            return BitSet.all(self.width)
        if self.kind is FieldKind.NAME:
            return NameSet.all()
        if self.kind is FieldKind.ENUM:
            return IntSet.all(len(self.names) - 1)
        return IntSet.all((1 << self.width) - 1)

    def single(self, value: int | str, family: Family) -> ValueSet:
        """The set of exactly this value (a name for a NAME field, a number otherwise)."""
        if self.kind is FieldKind.NAME:
            assert isinstance(value, str), (self.name, value)
            return NameSet.single(value)
        assert isinstance(value, int), (self.name, value)
        if self.kind is FieldKind.BITS:
            return BitSet.single(value, self.width)
        top = self.top(family)
        assert isinstance(top, IntSet)
        return IntSet.single(value, top.top)


def _f(name: str, kind: FieldKind, width: int = 0, description: str = "",
       names: tuple[str, ...] = (), aliases: tuple[str, ...] = ()) -> FieldSpec:
    return FieldSpec(name, kind, width, names, description, aliases)


_I, _A, _B, _N, _E = FieldKind.INT, FieldKind.ADDR, FieldKind.BITS, FieldKind.NAME, FieldKind.ENUM

FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        _f("proto", _I, 8, "IP protocol number (tcp=6, udp=17, icmp=1, ipv6-icmp=58)"),
        _f("src", _A, 0, "source address"),
        _f("dst", _A, 0, "destination address"),
        _f("sport", _I, 16, "source port (TCP, UDP, SCTP, DCCP)"),
        _f("dport", _I, 16, "destination port (TCP, UDP, SCTP, DCCP)"),
        _f("icmp_type", _I, 8, "ICMP / ICMPv6 type", aliases=("icmptype",)),
        _f("icmp_code", _I, 8, "ICMP / ICMPv6 code", aliases=("icmpcode",)),
        _f("tcp_flags", _B, 8, "TCP flags (FIN SYN RST PSH ACK URG ECE CWR)",
           aliases=("flags",)),
        _f("tcp_options", _B, 256, "TCP option kinds present"),
        # header matches (sctp, dccp, esp/ah/ipcomp, IPv6 extension headers, tcpmss, realm)
        _f("sctp_chunks", _B, 256, "SCTP chunk types present in the packet"),
        _f("sctp_data_flags", _B, 8, "flags of the packet's SCTP DATA chunk"),
        _f("sctp_abort_flags", _B, 8, "flags of the packet's SCTP ABORT chunk"),
        _f("sctp_shutdown_complete_flags", _B, 8,
           "flags of the packet's SCTP SHUTDOWN_COMPLETE chunk"),
        _f("dccp_type", _I, 4, "DCCP packet type (REQUEST=0 … SYNCACK=9)"),
        _f("dccp_options", _B, 256, "DCCP option types present"),
        _f("esp_spi", _I, 32, "SPI of the ESP header"),
        _f("ah_spi", _I, 32, "SPI of the AH header"),
        _f("ah_len", _I, 16, "length of the IPv6 AH header in bytes ((Payload Len + 2) × 4)"),
        _f("ah_reserved", _I, 16, "reserved field of the IPv6 AH header"),
        _f("ipcomp_cpi", _I, 16, "CPI of the IPComp header"),
        _f("ipv6_headers", _B, 8, "IPv6 header chain as ipv6header reads it: 0x80 hop-by-hop, "
           "0x40 destination options, 0x20 routing, 0x10 fragment, 0x08 AH, 0x04 ESP, "
           "0x02 no next header, 0x01 an upper-layer protocol"),
        _f("frag_id", _I, 32, "identification of the IPv6 Fragment header"),
        _f("frag_more", _I, 1, "1 when the IPv6 Fragment header's M flag is set"),
        _f("frag_reserved", _I, 1, "1 when a reserved bit of the IPv6 Fragment header is set"),
        _f("rt_type", _I, 8, "IPv6 Routing header type"),
        _f("rt_segsleft", _I, 8, "IPv6 Routing header segments left"),
        _f("rt_len", _I, 16, "IPv6 Routing header length in bytes ((Hdr Ext Len + 1) × 8)"),
        _f("hbh_len", _I, 16, "IPv6 Hop-by-Hop Options header length in bytes"),
        _f("dstopts_len", _I, 16, "length in bytes of the first IPv6 Destination Options "
           "header"),
        _f("mh_type", _I, 8, "IPv6 Mobility Header type"),
        _f("tcp_mss", _I, 16, "value of the TCP MSS option (tcp_options says whether there is "
           "one)", aliases=("mss",)),
        _f("realm", _B, 32, "routing realm of the packet's route (0 unless routes set one)"),
        _f("length", _I, 16, "IP total length / IPv6 payload length + 40", aliases=("len",)),
        _f("ttl", _I, 8, "TTL (IPv4) or hop limit (IPv6)", aliases=("hl", "hoplimit")),
        _f("tos", _I, 8, "TOS byte / traffic class (DSCP << 2 | ECN)", aliases=("tclass",)),
        _f("iif", _N, 0, "input interface (empty: none)", aliases=("in", "i")),
        _f("oif", _N, 0, "output interface (empty: none)", aliases=("out", "o")),
        _f("physin", _N, 0, "bridge port the packet came in on"),
        _f("physout", _N, 0, "bridge port the packet goes out on"),
        _f("bridged", _I, 1, "1 when the packet is being bridged"),
        _f("mark", _B, 32, "packet mark (skb->mark)", aliases=("nfmark", "fwmark")),
        _f("ctmark", _B, 32, "connection mark", aliases=("connmark",)),
        _f("ctstate", _E, 0, "conntrack state", names=CT_STATES, aliases=("state",)),
        _f("ctstatus", _B, 8, "conntrack status bits (EXPECTED SEEN_REPLY ASSURED CONFIRMED "
           "SNAT DNAT)"),
        _f("ctdir", _E, 0, "conntrack direction", names=CT_DIRECTIONS),
        _f("ctorigsrc", _A, 0, "original-direction source of the connection"),
        _f("ctorigdst", _A, 0, "original-direction destination of the connection"),
        _f("ctreplsrc", _A, 0, "reply-direction source of the connection"),
        _f("ctrepldst", _A, 0, "reply-direction destination of the connection"),
        _f("ctorigsrcport", _I, 16, "original source port"),
        _f("ctorigdstport", _I, 16, "original destination port"),
        _f("ctreplsrcport", _I, 16, "reply source port"),
        _f("ctrepldstport", _I, 16, "reply destination port"),
        _f("ctexpire", _I, 32, "seconds until the conntrack entry expires"),
        _f("cthelper", _N, 0, "helper of the connection's master: the helper that expected "
           "this connection (ftp for FTP data), empty when none", aliases=("helper",)),
        _f("ctproto", _I, 8, "the connection's IP protocol (differs from proto only for "
           "ICMP errors RELATED to a connection)"),
        _f("ctlabels", _B, 128, "connection label bits (connlabel)"),
        _f("ctzone", _I, 16, "conntrack zone"),
        _f("uid", _I, 32, "socket owner uid (locally generated packets)"),
        _f("gid", _I, 32, "socket owner gid (locally generated packets)"),
        _f("socket", _I, 1, "1 when the packet has a local socket", aliases=("has_socket",)),
        _f("pkttype", _E, 0, "link-layer packet type", names=PKT_TYPES),
        _f("fragment", _I, 1, "1 for a non-first fragment (IPv4 fragment offset, or the "
           "offset of the IPv6 Fragment header, nonzero)", aliases=("frag",)),
        _f("src_mac", _I, 48, "source MAC address", aliases=("mac",)),
        _f("priority", _I, 32, "skb priority (CLASSIFY)"),
        _f("time", _I, 63, "arrival time, seconds since 1970 UTC"),
        # host and socket matches (addrtype, owner, mac, policy, devgroup, cpu, ipvs, time)
        _f("kernel_time", _I, 63, "arrival time in the kernel's time zone (what time "
           "--kerneltz reads), seconds since 1970 as if that zone were UTC"),
        _f("socket_file", _I, 1, "1 when the packet's socket belongs to a process (owner's "
           "uid/gid apply); 0 for the kernel's own sockets (resets, ICMP errors it sends)"),
        _f("ether", _I, 1, "1 when the packet came in on an Ethernet-type device (what -m mac "
           "reads); 0 for lo, tun, WireGuard, PPP and IP tunnels"),
        _f("ipsec_in", _I, 1, "1 when the packet was decapsulated from IPsec (policy --dir in)"),
        _f("ipsec_out", _I, 1, "1 when the packet's route encrypts it with IPsec (policy "
           "--dir out)"),
        _f("iif_group", _B, 32, "device group of the input interface (devgroup)"),
        _f("oif_group", _B, 32, "device group of the output interface (devgroup)"),
        _f("cpu", _I, 32, "number of the CPU handling the packet"),
        _f("ipvs", _I, 1, "1 when IPVS handles the packet (skb->ipvs_property)"),
    )
}

_ALIASES = {alias: spec for spec in FIELDS.values() for alias in spec.aliases}


def field_spec(name: str) -> FieldSpec:
    """The spec of a field or of one of its aliases; KeyError names the unknown field."""
    spec = FIELDS.get(name) or _ALIASES.get(name)
    if spec is None:
        raise KeyError(name)
    return spec


def top_value(name: str, family: Family) -> ValueSet:
    return field_spec(name).top(family)


Formatter = Callable[[int], str]
