"""The test packet, and the Ethernet frame that carries it into the lab's router.

Frames are built by hand rather than with a socket of the packet's own protocol so that any
source address, flag combination or fragment can be sent without the sender's stack routing or
"fixing" it. Every checksum is real (the receiving kernel verifies them: conntrack marks a
packet with a bad one INVALID), SCTP's CRC32c included. `decode_frame` reads back the headers of
what the router sent on, to see what NAT or mangle rules changed.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from ..nodes import Family
from ..protocols import protocol_number

__all__ = [
    "TCP_ACK",
    "TCP_FIN",
    "TCP_PSH",
    "TCP_RST",
    "TCP_SYN",
    "TCP_URG",
    "DecodedFrame",
    "KernelPacket",
    "build_frame",
    "crc32c",
    "decode_frame",
    "internet_checksum",
    "parse_mac",
]

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK, TCP_URG = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
TCP, UDP, ICMP, ICMPV6, SCTP = 6, 17, 1, 58, 132
ETH_P_IP, ETH_P_IPV6 = 0x0800, 0x86DD
_IPV6_FRAGMENT = 44
_SCTP_INIT, _SCTP_INIT_ACK, _SCTP_DATA = 1, 2, 0
_ECHO_REQUEST = {Family.INET: 8, Family.INET6: 128}
_ECHO_TYPES = {0, 8, 128, 129}


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelPacket:
    """One packet as it arrives at the lab router on `iif`.

    `protocol` is a name iptables knows (tcp, udp, icmp, icmpv6, sctp, ...) or a number; an
    unknown number carries `length` zero bytes after the IP header. `sport` doubles as the
    identifier of ICMP echo messages. `frag_offset` is in 8-byte units, as in the IPv4 header;
    for IPv6 a nonzero offset or `more_fragments` adds a Fragment extension header. `oif` is
    where the forward path routes `dst`; `routes` adds (prefix, interface) routes for this
    packet only, for destinations that NAT rewrites.
    """

    src: str
    dst: str
    protocol: str | int = "tcp"
    sport: int = 40000
    dport: int = 80
    tcp_flags: int = TCP_SYN
    tcp_options: bytes = b""
    icmp_type: int | None = None
    icmp_code: int = 0
    sctp_chunk: int = _SCTP_INIT
    length: int = 0
    ttl: int = 64
    tos: int = 0
    frag_offset: int = 0
    more_fragments: bool = False
    dont_fragment: bool = False
    iif: str = "eth0"
    oif: str | None = None
    routes: tuple[tuple[str, str], ...] = ()
    src_mac: str | None = None

    def __post_init__(self) -> None:
        src, dst = ipaddress.ip_address(self.src), ipaddress.ip_address(self.dst)
        if src.version != dst.version:
            raise ValueError(f"src {self.src} and dst {self.dst} are of different families")
        self.number  # noqa: B018  (validates the protocol)
        for name, value, top in (("sport", self.sport, 0xFFFF), ("dport", self.dport, 0xFFFF),
                                 ("tcp_flags", self.tcp_flags, 0x1FF), ("ttl", self.ttl, 255),
                                 ("tos", self.tos, 255), ("icmp_code", self.icmp_code, 255),
                                 ("sctp_chunk", self.sctp_chunk, 255),
                                 ("frag_offset", self.frag_offset, 0x1FFF),
                                 ("length", self.length, 1400)):
            if not 0 <= value <= top:
                raise ValueError(f"{name}={value} is outside 0..{top}")
        if self.icmp_type is not None and not 0 <= self.icmp_type <= 255:
            raise ValueError(f"icmp_type={self.icmp_type} is outside 0..255")
        if len(self.tcp_options) > 40:
            raise ValueError("tcp_options longer than 40 bytes")
        for prefix, _ in self.routes:
            network = ipaddress.ip_network(prefix, strict=False)
            if network.version != src.version:
                raise ValueError(f"route {prefix} is not of the packet's family")
        if self.src_mac is not None:
            parse_mac(self.src_mac)

    @property
    def family(self) -> Family:
        return Family.INET if ipaddress.ip_address(self.src).version == 4 else Family.INET6

    @property
    def number(self) -> int:
        """The IP protocol number."""
        if isinstance(self.protocol, int):
            number: int | None = self.protocol if 0 <= self.protocol <= 255 else None
        else:
            number = protocol_number(self.protocol)
        if number is None:
            raise ValueError(f"unknown protocol {self.protocol!r}")
        return number


def parse_mac(text: str) -> bytes:
    parts = text.split(":")
    if len(parts) != 6 or not all(len(p) == 2 for p in parts):
        raise ValueError(f"bad MAC address {text!r}")
    return bytes(int(p, 16) for p in parts)


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's complement sum, complemented: what IPv4, TCP, UDP and ICMP carry."""
    if len(data) % 2:
        data += b"\0"
    words: tuple[int, ...] = struct.unpack(f"!{len(data) // 2}H", data)
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _crc32c_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        table.append(crc)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), SCTP's checksum (RFC 9260 appendix A)."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _CRC32C[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _pseudo_header(packet: KernelPacket, number: int, length: int) -> bytes:
    src = ipaddress.ip_address(packet.src).packed
    dst = ipaddress.ip_address(packet.dst).packed
    if packet.family is Family.INET:
        return src + dst + struct.pack("!xBH", number, length)
    return src + dst + struct.pack("!I3xB", length, number)


def _with_checksum(segment: bytes, offset: int, pseudo: bytes, *, udp: bool = False) -> bytes:
    value = internet_checksum(pseudo + segment)
    if udp and value == 0:
        value = 0xFFFF  # zero means "no checksum" in UDP
    return segment[:offset] + struct.pack("!H", value) + segment[offset + 2:]


def _tcp(packet: KernelPacket, payload: bytes) -> bytes:
    options = packet.tcp_options + b"\0" * (-len(packet.tcp_options) % 4)
    offset_flags = ((5 + len(options) // 4) << 12) | packet.tcp_flags
    ack = 1 if packet.tcp_flags & TCP_ACK else 0
    header = struct.pack("!HHIIHHHH", packet.sport, packet.dport, 1, ack, offset_flags, 64240,
                         0, 0)
    segment = header + options + payload
    return _with_checksum(segment, 16, _pseudo_header(packet, TCP, len(segment)))


def _udp(packet: KernelPacket, payload: bytes) -> bytes:
    segment = struct.pack("!HHHH", packet.sport, packet.dport, 8 + len(payload), 0) + payload
    return _with_checksum(segment, 6, _pseudo_header(packet, UDP, len(segment)), udp=True)


def _icmp(packet: KernelPacket, payload: bytes, number: int) -> bytes:
    kind = packet.icmp_type if packet.icmp_type is not None else _ECHO_REQUEST[packet.family]
    rest = struct.pack("!HH", packet.sport, 1) if kind in _ECHO_TYPES else b"\0\0\0\0"
    message = struct.pack("!BBH", kind, packet.icmp_code, 0) + rest + payload
    pseudo = _pseudo_header(packet, number, len(message)) if number == ICMPV6 else b""
    return _with_checksum(message, 2, pseudo)


def _sctp(packet: KernelPacket, payload: bytes) -> bytes:
    kind = packet.sctp_chunk
    if kind in (_SCTP_INIT, _SCTP_INIT_ACK):
        # initiate tag, a_rwnd, outbound and inbound streams, initial TSN
        body = struct.pack("!IIHHI", 0x1A2B3C4D, 65535, 1, 1, 1)
    elif kind == _SCTP_DATA:
        body = struct.pack("!IHHI", 1, 0, 0, 0)  # TSN, stream, sequence, payload protocol
    else:
        body = b""
    body += payload
    chunk = struct.pack("!BBH", kind, 0, 4 + len(body)) + body
    chunk += b"\0" * (-len(chunk) % 4)
    tag = 0 if kind == _SCTP_INIT else 0x1A2B3C4D  # an INIT must carry verification tag 0
    common = struct.pack("!HHII", packet.sport, packet.dport, tag, 0)
    # SCTP stores the CRC in little-endian byte order, unlike every other field
    return common[:8] + struct.pack("<I", crc32c(common + chunk)) + chunk


def _transport(packet: KernelPacket) -> bytes:
    payload = bytes(packet.length)
    number = packet.number
    if number == TCP:
        return _tcp(packet, payload)
    if number == UDP:
        return _udp(packet, payload)
    if (number == ICMP and packet.family is Family.INET) or (
            number == ICMPV6 and packet.family is Family.INET6):
        return _icmp(packet, payload, number)
    if number == SCTP:
        return _sctp(packet, payload)
    return payload


def _ipv4(packet: KernelPacket, segment: bytes, ident: int) -> bytes:
    flags = (0x4000 if packet.dont_fragment else 0) | (0x2000 if packet.more_fragments else 0)
    header = struct.pack("!BBHHHBBH4s4s", 0x45, packet.tos, 20 + len(segment), ident & 0xFFFF,
                         flags | packet.frag_offset, packet.ttl, packet.number, 0,
                         ipaddress.IPv4Address(packet.src).packed,
                         ipaddress.IPv4Address(packet.dst).packed)
    return header[:10] + struct.pack("!H", internet_checksum(header)) + header[12:] + segment


def _ipv6(packet: KernelPacket, segment: bytes, ident: int) -> bytes:
    next_header = packet.number
    if packet.frag_offset or packet.more_fragments:
        fragment = struct.pack("!BxHI", next_header,
                               (packet.frag_offset << 3) | int(packet.more_fragments), ident)
        segment, next_header = fragment + segment, _IPV6_FRAGMENT
    first = (6 << 28) | (packet.tos << 20)
    return (struct.pack("!IHBB", first, len(segment), next_header, packet.ttl)
            + ipaddress.IPv6Address(packet.src).packed
            + ipaddress.IPv6Address(packet.dst).packed + segment)


def build_frame(packet: KernelPacket, *, dst_mac: bytes, src_mac: bytes, ident: int) -> bytes:
    """The Ethernet frame for `packet`; `ident` is the IPv4 ID / IPv6 fragment identification."""
    segment = _transport(packet)
    if packet.family is Family.INET:
        return dst_mac + src_mac + struct.pack("!H", ETH_P_IP) + _ipv4(packet, segment, ident)
    return dst_mac + src_mac + struct.pack("!H", ETH_P_IPV6) + _ipv6(packet, segment, ident)


@dataclass(frozen=True, slots=True)
class DecodedFrame:
    """The headers of a frame the router sent: enough to see what NAT and mangle changed."""

    src: str
    dst: str
    protocol: int
    ttl: int
    tos: int
    sport: int | None = None
    dport: int | None = None
    icmp_type: int | None = None
    icmp_code: int | None = None


def decode_frame(frame: bytes) -> DecodedFrame | None:
    """The IP and transport headers of an Ethernet frame, None for a frame that is not IP."""
    if len(frame) < 14:
        return None
    (ethertype,) = struct.unpack_from("!H", frame, 12)
    ip = frame[14:]
    if ethertype == ETH_P_IP and len(ip) >= 20:
        ihl = (ip[0] & 0x0F) * 4
        src, dst = str(ipaddress.IPv4Address(ip[12:16])), str(ipaddress.IPv4Address(ip[16:20]))
        number, ttl, tos, rest = ip[9], ip[8], ip[1], ip[ihl:]
        if struct.unpack_from("!H", ip, 6)[0] & 0x1FFF:
            return DecodedFrame(src, dst, number, ttl, tos)  # a later fragment: no header
    elif ethertype == ETH_P_IPV6 and len(ip) >= 40:
        src, dst = str(ipaddress.IPv6Address(ip[8:24])), str(ipaddress.IPv6Address(ip[24:40]))
        number, ttl, tos, rest = ip[6], ip[7], (ip[0] & 0x0F) << 4 | ip[1] >> 4, ip[40:]
        if number == _IPV6_FRAGMENT and len(rest) >= 8:
            number, later = rest[0], struct.unpack_from("!H", rest, 2)[0] >> 3
            rest = rest[8:]
            if later:
                return DecodedFrame(src, dst, number, ttl, tos)
    else:
        return None
    if number in (TCP, UDP, SCTP) and len(rest) >= 4:
        sport, dport = struct.unpack_from("!HH", rest)
        return DecodedFrame(src, dst, number, ttl, tos, sport=sport, dport=dport)
    if number in (ICMP, ICMPV6) and len(rest) >= 2:
        return DecodedFrame(src, dst, number, ttl, tos, icmp_type=rest[0], icmp_code=rest[1])
    return DecodedFrame(src, dst, number, ttl, tos)
