"""The packet a user types: the text form, JSON, JSON Lines, and every error in one line."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet, NameSet
from iptparse.fields import CT_STATES
from iptparse.nodes import Family
from iptparse.packet import Packet, PacketError, packet_notes, parse_packet, parse_packets


def test_the_readme_packet() -> None:
    packet = parse_packet("tcp 10.13.76.26:40000 -> 10.13.76.19:8080 iif=cali17b90f98476 "
                          "ctstate=NEW mark=0x0")
    assert packet.family is Family.INET and packet.is_concrete
    assert packet.value("proto") == 6
    assert packet.value("src") == 0x0A0D4C1A and packet.value("sport") == 40000
    assert packet.value("dst") == 0x0A0D4C13 and packet.value("dport") == 8080
    assert packet.value("iif") == "cali17b90f98476"
    assert packet.value("ctstate") == CT_STATES.index("NEW")
    assert packet.value("mark") == 0


def test_sets_ranges_prefixes_and_known_bits() -> None:
    packet = parse_packet("tcp 10.13.76.0/24 -> 10.13.76.19 dport=1024-65535 sport=80,443 "
                          "iif=cali+ ctstate=NEW,ESTABLISHED mark=0x10000/0x10000 ttl=*")
    assert not packet.is_concrete
    assert packet.fields["src"] == IntSet.prefix(0x0A0D4C00, 24, 32)
    assert packet.fields["dport"] == IntSet.range(1024, 65535, 65535)
    assert packet.fields["sport"] == IntSet.values([80, 443], 65535)
    assert packet.fields["iif"] == NameSet([("cali", True)])
    assert packet.fields["ctstate"] == IntSet.values(
        [CT_STATES.index("NEW"), CT_STATES.index("ESTABLISHED")], len(CT_STATES) - 1)
    assert packet.fields["mark"] == BitSet.cube(0x10000, 0x10000, 32)
    assert "ttl" not in packet.fields  # `*`: any value, as if left out


def test_ipv6_endpoints_are_bracketed_with_ports() -> None:
    packet = parse_packet("tcp [2001:db8::1]:40000 -> [2001:db8::2]:22")
    assert packet.family is Family.INET6
    assert packet.value("sport") == 40000 and packet.value("dst") == 0x20010DB8 << 96 | 2
    with pytest.raises(PacketError, match=r"written \[ADDR\]:PORT"):
        parse_packet("tcp 2001:db8::1:40000 -> 2001:db8::2")
    prefixed = parse_packet("tcp [::/0]:1 -> [2001:db8::/64]:22")
    dst = prefixed.get("dst")
    assert prefixed.value("dport") == 22 and isinstance(dst, IntSet) and dst.size() == 1 << 64


def test_a_port_that_reads_as_part_of_an_ipv6_address_is_noted() -> None:
    """`2001:db8::2:22` is a valid address, and the packet parses; a shell says how to
    write the port that was perhaps meant."""
    text = "tcp 2001:db8::1 -> 2001:db8::2:22"
    assert parse_packet(text).value("dport") is None
    assert packet_notes(text) == [
        "`2001:db8::2:22' is read as one IPv6 address; for port 22 write [2001:db8::2]:22"]
    assert packet_notes("tcp [2001:db8::1]:1 -> [2001:db8::2]:22") == []
    assert packet_notes("tcp 10.0.0.1 -> 10.0.0.2:22") == []


def test_icmp_types_by_name_for_each_family() -> None:
    assert parse_packet("icmp 1.2.3.4 -> 5.6.7.8 icmp_type=echo-request").value("icmp_type") == 8
    assert parse_packet("icmpv6 2001:db8::1 -> 2001:db8::2 icmp_type=echo-request").value(
        "icmp_type") == 128
    assert parse_packet("icmp 1.2.3.4 -> 5.6.7.8 icmp_type=Time-Exceeded").value(
        "icmp_type") == 11
    with pytest.raises(PacketError, match="is type 3 code 3: write icmp_type=3 icmp_code=3"):
        parse_packet("icmp 1.2.3.4 -> 5.6.7.8 icmp_type=port-unreachable")
    with pytest.raises(PacketError, match=r"not an ipv4 ICMP type name .*echo-request"):
        parse_packet("icmp 1.2.3.4 -> 5.6.7.8 icmp_type=echo")


def test_json_and_json_lines() -> None:
    packet = parse_packet('{"id": "a", "proto": "udp", "src": "10.0.0.1", "dport": [53, 5353]}')
    assert packet.id == "a" and packet.value("proto") == 17
    assert packet.fields["dport"] == IntSet.values([53, 5353], 65535)
    packets = parse_packets('# comment\n\n{"proto": "tcp"}\ntcp 1.2.3.4 -> 5.6.7.8:80 id=x\n')
    assert [p.id for p in packets] == [None, "x"]
    with pytest.raises(PacketError, match=r"^line 3: "):
        parse_packets("tcp 1.2.3.4 -> 5.6.7.8\n\nudp 1.2.3.4 -> 5.6.7.8 dport=70000\n")


@pytest.mark.parametrize(("text", "message"), [
    ("tcp 1.2.3.4 -> 5.6.7.8 nope=1", "unknown packet field `nope'"),
    ("tcp 1.2.3.4 -> 5.6.7.8 dport=1 dport=2", "field dport given twice"),
    ("tcp 1.2.3.4 -> 5.6.7.8 dport=9-1", "dport: bad range `9-1'"),
    ("tcp 1.2.3.4 -> 5.6.7.8 dport=70000", "dport: 70000 is out of range 0-65535"),
    ("tcp 1.2.3 -> 5.6.7.8", "`1.2.3' is not an address"),
    ("tcp 1.2.3.4 -> 5.6.7.8 ctstate=NEWISH", "ctstate: `NEWISH' is not one of"),
    ("tcp 1.2.3.4 -> 5.6.7.8 tcp_flags=SYN,NOPE", "tcp_flags: unknown flag `NOPE'"),
    ("tcp 1.2.3.4 -> 5.6.7.8 mark=0x1ffffffff", "mark: value wider than 32 bits"),
    ("tcp 1.2.3.4 -> 5.6.7.8 stray", "cannot read `stray' (expected field=value)"),
    ('{"proto": ', "bad JSON packet"),
    ("[1, 2]", "cannot read"),
    # a prefix after the brackets was dropped, and the port with it
    ("tcp [::]/0 -> [::1]:22", "after `]' comes `:PORT' or nothing (a prefix or range goes "
                               "inside the brackets: [::/0])"),
    ("tcp ::/0 -> ::/0:22", "`::/0:22': with a port, an IPv6 address is written "
                            "[ADDR/LEN]:PORT"),
])
def test_errors_say_which_part_and_why(text: str, message: str) -> None:
    with pytest.raises(PacketError) as caught:
        parse_packet(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


_ADDRESSES = st.integers(0, 2**32 - 1).map(
    lambda n: ".".join(str(n >> s & 0xFF) for s in (24, 16, 8, 0)))


@given(src=_ADDRESSES, dst=_ADDRESSES, sport=st.integers(0, 65535),
       dports=st.lists(st.integers(0, 65535), min_size=1, max_size=4),
       mark=st.integers(0, 2**32 - 1), mask=st.integers(1, 2**32 - 1),
       proto=st.sampled_from(["tcp", "udp", "sctp"]),
       states=st.sets(st.sampled_from(CT_STATES[:5]), min_size=1))
def test_the_text_form_reads_back_what_it_prints(src: str, dst: str, sport: int,
                                                   dports: list[int], mark: int, mask: int,
                                                   proto: str, states: set[str]) -> None:
    packet = parse_packet(f"{proto} {src}:{sport} -> {dst} dport={','.join(map(str, dports))} "
                          f"mark={mark & mask:#x}/{mask:#x} ctstate={','.join(sorted(states))}")
    again = parse_packet(str(packet))
    assert again.fields == packet.fields and again.family == packet.family
    assert Packet(dict(packet.fields), packet.family) == packet


@pytest.mark.parametrize("written", ["iif=", "iif=none", "iif=-", "iif=(none)"])
def test_no_interface_reads_back_as_it_is_printed(written: str) -> None:
    """The empty name (a locally made packet has no iif) prints as `(none)`, in text and in
    JSON; both read back as the empty name, not as an interface called `(none)`."""
    packet = parse_packet(f"tcp 10.0.0.1:1 -> 10.0.0.2:2 {written}")
    assert packet.fields["iif"] == NameSet.single("")
    assert str(packet).endswith("iif=(none)")
    assert parse_packet(str(packet)).fields == packet.fields
    assert parse_packet(json.dumps(packet.to_json())).fields == packet.fields
