"""Frames built for the kernel lab: checksums, field placement and the decoder that reads them."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from iptparse.nodes import Family
from iptparse.sandbox.frames import (
    TCP_ACK,
    TCP_SYN,
    KernelPacket,
    build_frame,
    crc32c,
    decode_frame,
    internet_checksum,
)

DST_MAC, SRC_MAC = bytes.fromhex("021ab0000001"), bytes.fromhex("021ab0010001")


def frame(**fields: object) -> bytes:
    return build_frame(KernelPacket(**fields), dst_mac=DST_MAC, src_mac=SRC_MAC,  # type: ignore[arg-type]
                       ident=7)


def pseudo_sum_is_valid(ip_frame: bytes, v6: bool) -> bool:
    """The receiver's check: the one's complement sum over pseudo header + segment is 0xffff."""
    ip = ip_frame[14:]
    if v6:
        src, dst, number, segment = ip[8:24], ip[24:40], ip[6], ip[40:]
        pseudo = src + dst + struct.pack("!I3xB", len(segment), number)
    else:
        ihl = (ip[0] & 15) * 4
        src, dst, number, segment = ip[12:16], ip[16:20], ip[9], ip[ihl:]
        pseudo = src + dst + struct.pack("!xBH", number, len(segment))
    return internet_checksum(pseudo + segment) == 0


def test_internet_checksum_rfc1071_example() -> None:
    # RFC 1071 section 3: the sum of 0001 f203 f4f5 f6f7 is ddf2, complemented 220d
    assert internet_checksum(bytes.fromhex("0001f203f4f5f6f7")) == 0x220D
    assert internet_checksum(b"\x01") == ~0x0100 & 0xFFFF  # odd length pads with zero


def test_crc32c_check_value() -> None:
    assert crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize(("src", "dst"), [("10.0.0.1", "10.0.0.2"),
                                          ("2001:db8::1", "2001:db8::2")])
@pytest.mark.parametrize("protocol", ["tcp", "udp"])
def test_transport_checksums_verify(src: str, dst: str, protocol: str) -> None:
    for length in (0, 1, 33):
        data = frame(src=src, dst=dst, protocol=protocol, length=length)
        assert pseudo_sum_is_valid(data, ":" in src)


def test_ipv4_header() -> None:
    data = frame(src="192.0.2.1", dst="198.51.100.2", protocol="udp", ttl=9, tos=0x10,
                 length=4, more_fragments=True, frag_offset=3, dont_fragment=True)
    assert data[:12] == DST_MAC + SRC_MAC and data[12:14] == b"\x08\x00"
    ip = data[14:34]
    assert internet_checksum(ip) == 0
    assert ip[1] == 0x10 and ip[8] == 9 and ip[9] == 17
    assert struct.unpack("!H", ip[2:4])[0] == 20 + 8 + 4
    assert struct.unpack("!H", ip[4:6])[0] == 7
    assert struct.unpack("!H", ip[6:8])[0] == 0x4000 | 0x2000 | 3
    assert ip[12:16] == ipaddress.IPv4Address("192.0.2.1").packed


def test_icmp_echo_and_error() -> None:
    echo = frame(src="10.0.0.1", dst="10.0.0.2", protocol="icmp", sport=0x1234)
    assert echo[34:36] == b"\x08\x00" and echo[38:40] == b"\x12\x34"
    assert internet_checksum(echo[34:]) == 0
    unreachable = frame(src="10.0.0.1", dst="10.0.0.2", protocol=1, icmp_type=3, icmp_code=3)
    assert unreachable[34:36] == b"\x03\x03" and unreachable[38:42] == bytes(4)
    echo6 = frame(src="2001:db8::1", dst="2001:db8::2", protocol="icmpv6", length=5)
    assert echo6[54] == 128 and pseudo_sum_is_valid(echo6, True)


def test_tcp_flags_and_options() -> None:
    data = frame(src="10.0.0.1", dst="10.0.0.2", tcp_flags=TCP_SYN | TCP_ACK | 0x100,
                 tcp_options=b"\x02\x04\x05\xb4\x01")
    tcp = data[34:]
    assert tcp[12] >> 4 == 7 and tcp[12] & 1 == 1  # 20 + 5 padded to 8; NS bit
    assert tcp[13] == TCP_SYN | TCP_ACK and struct.unpack("!I", tcp[8:12])[0] == 1
    assert tcp[20:28] == b"\x02\x04\x05\xb4\x01\x00\x00\x00"
    assert pseudo_sum_is_valid(data, False)


def test_sctp_init_crc() -> None:
    data = frame(src="10.0.0.1", dst="10.0.0.2", protocol="sctp", sport=5000, dport=6000)
    sctp = data[34:]
    assert struct.unpack("!HHI", sctp[:8]) == (5000, 6000, 0)  # INIT: verification tag 0
    stored = struct.unpack("<I", sctp[8:12])[0]
    assert stored == crc32c(sctp[:8] + bytes(4) + sctp[12:])
    assert sctp[12] == 1 and struct.unpack("!H", sctp[14:16])[0] == 20


def test_ipv6_fragment_header_and_decode() -> None:
    data = frame(src="2001:db8::1", dst="2001:db8::2", protocol="udp", frag_offset=2,
                 more_fragments=True, tos=0xB8, ttl=3)
    assert data[20] == 44 and data[54] == 17  # next header: Fragment, then UDP
    assert struct.unpack("!H", data[56:58])[0] == (2 << 3) | 1
    decoded = decode_frame(data)
    assert decoded is not None
    assert (decoded.src, decoded.dst, decoded.protocol, decoded.tos, decoded.ttl,
            decoded.sport) == ("2001:db8::1", "2001:db8::2", 17, 0xB8, 3, None)


def test_decode_round_trip() -> None:
    decoded = decode_frame(frame(src="10.1.2.3", dst="10.4.5.6", sport=1111, dport=2222))
    assert decoded is not None
    assert (decoded.src, decoded.dst, decoded.protocol, decoded.sport, decoded.dport) == (
        "10.1.2.3", "10.4.5.6", 6, 1111, 2222)
    icmp = decode_frame(frame(src="10.1.2.3", dst="10.4.5.6", protocol="icmp", icmp_type=11))
    assert icmp is not None and (icmp.icmp_type, icmp.icmp_code) == (11, 0)
    assert decode_frame(DST_MAC + SRC_MAC + b"\x88\xb5" + bytes(46)) is None


def test_other_protocol_is_payload_only() -> None:
    data = frame(src="10.0.0.1", dst="10.0.0.2", protocol="gre", length=12)
    assert data[23] == 47 and len(data) == 14 + 20 + 12


@pytest.mark.parametrize("fields", [
    {"src": "10.0.0.1", "dst": "2001:db8::1"},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "dport": 70000},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "protocol": "nosuchproto"},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "protocol": 300},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "routes": (("2001:db8::/64", "eth1"),)},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "src_mac": "02:00:00"},
    {"src": "10.0.0.1", "dst": "10.0.0.2", "length": 5000},
])
def test_bad_packets_are_refused(fields: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        KernelPacket(**fields)  # type: ignore[arg-type]


def test_family() -> None:
    assert KernelPacket(src="::1", dst="::2").family is Family.INET6
    assert KernelPacket(src="10.0.0.1", dst="10.0.0.2", protocol="ICMP").number == 1
