"""Semantics of the packet-header matches against the kernel, and u32 against packet bytes.

Lab packets go through small rulesets in a throwaway router and through `trace`: the kernel's
counters and delivery must be the trace's only path, or one of its paths where a rule reads what
no header field holds (payload, the IPv4 identification…). u32 is also checked without the
kernel: on random expressions and packets, wherever its field-level semantics decide, they must
agree with xt_u32's machine run over the packet's bytes (which the lab checks in turn).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from iptparse.domain import BitSet, IntSet, ValueSet
from iptparse.extensions.u32 import U32Location, U32Op, U32Test, parse_u32
from iptparse.nodes import Family
from iptparse.packet import Packet
from iptparse.sandbox.frames import TCP_ACK, TCP_SYN, KernelPacket, build_frame
from iptparse.sandbox.lab import Lab
from iptparse.trace import trace
from iptparse.verify.model import LAB_SRC_MAC, kernel_packet_length, model_packet

from ..conftest import require_kernel
from ._helpers import field_value, lab_counts, table, trace_counts
from .test_semantics_header import (
    ABORT,
    DATA,
    INIT,
    SACK,
    V4,
    V6,
    counting,
    forward,
    outcome,
    ruleset,
)

# --- the kernel: lab packets against the trace --------------------------------------------------

FieldValue = int | ValueSet


@dataclass(frozen=True)
class Probe:
    """A lab packet and what the model needs beyond what `model_packet` derives from it: the
    header fields only these matches read. `exact`: the trace must have a single path (false
    where a rule reads bytes no field holds: then the kernel's outcome must be one of them)."""

    packet: KernelPacket
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    exact: bool = True


def lab_model(probe: Probe) -> Packet:
    """The trace's packet: what verify derives for whole packets, the fragment fields for
    fragments (the lab numbers IPv6 fragments 1, 2, … : below a million), the route's realm
    (the lab's routes set none), the IPv6 header chain of a plain packet unless given."""
    kp = probe.packet
    family = kp.family
    fragment = bool(kp.frag_offset or kp.more_fragments)
    whole = replace(kp, frag_offset=0, more_fragments=False) if fragment else kp
    if whole.oif is None:  # routed by a route of the test's own: out where its routes go
        whole = replace(whole, oif=whole.routes[0][1], routes=())
    facts: dict[str, FieldValue] = {"realm": 0}
    if fragment:
        facts |= {"fragment": int(kp.frag_offset != 0), "length": kernel_packet_length(kp)}
        if family is V6:
            facts |= {"ipv6_headers": 0x11, "frag_more": int(kp.more_fragments),
                      "frag_reserved": 0, "frag_id": IntSet.range(1, 999_999, 0xFFFFFFFF)}
    elif family is V6:
        facts["ipv6_headers"] = 0x01
    facts |= probe.fields
    model = model_packet(whole, "forward")
    return model.with_(**{name: field_value(name, v, family) for name, v in facts.items()})


def differential(rules: str, family: Family, probes: Sequence[Probe],
                 setup: Sequence[Sequence[str]] = ()) -> None:
    """Each probe through the kernel and through the trace: the kernel's counters and
    delivery must be the trace's only path (`exact`) or one of its paths. `setup`: commands
    run in the lab's router first."""
    require_kernel()
    rs = ruleset(rules, family)
    with Lab(rules, family, path="forward", interfaces=["eth0", "eth1"]) as lab:
        for command in setup:
            lab.router.run(list(command))
        for probe in probes:
            result = lab.send(probe.packet)
            kernel = lab_counts(result)
            traced = trace(rs, lab_model(probe), "forward")
            found = [trace_counts(p) for p in traced.paths]
            where = (probe.packet, kernel, [(trace_counts(p), p.conditions) for p in traced.paths])
            if probe.exact:
                assert len(found) == 1, where
            assert kernel in found, where


def v4(**kw: Any) -> KernelPacket:
    values: dict[str, Any] = {"src": "10.0.1.1", "dst": "10.0.2.2", "iif": "eth0",
                              "oif": "eth1", "src_mac": LAB_SRC_MAC}
    return KernelPacket(**(values | kw))


def v6(**kw: Any) -> KernelPacket:
    return v4(**({"src": "2001:db8:1::1", "dst": "2001:db8:2::2"} | kw))


@pytest.mark.kernel
def test_kernel_icmp() -> None:
    rules = counting("-p icmp -m icmp --icmp-type 3/4", "-p icmp -m icmp ! --icmp-type 8",
                     "-p icmp -m icmp --icmp-type any", "-p icmp -m icmp ! --icmp-type any",
                     "-p icmp -m icmp --icmp-type echo-request",
                     "-p icmp -m icmp --icmp-type time-exceeded")
    differential(rules, V4, [
        Probe(v4(protocol="icmp")),
        Probe(v4(protocol="icmp", icmp_type=3, icmp_code=4)),
        Probe(v4(protocol="icmp", icmp_type=3, icmp_code=1)),
        Probe(v4(protocol="icmp", icmp_type=11, icmp_code=1)),
        Probe(v4(protocol="icmp", frag_offset=10)),
        Probe(v4(protocol="icmp", icmp_type=3, icmp_code=4, more_fragments=True)),
    ])


@pytest.mark.kernel
def test_kernel_ipv6_icmp6_esp_length_tos_u32() -> None:
    rules = counting("-p ipv6-icmp -m icmp6 --icmpv6-type 1/3",
                     "-p ipv6-icmp -m icmp6 ! --icmpv6-type echo-request",
                     "-p ipv6-icmp -m icmp6 --icmpv6-type packet-too-big",
                     "-p esp -m esp --espspi 0", "-p esp -m esp ! --espspi 0:7",
                     "-m length --length 60", "-m length ! --length 0:60",
                     "-m tos --tos 0xb8", "-m dscp --dscp-class EF", "-m ecn --ecn-ip-ect 1",
                     '-m u32 --u32 "0>>20&0xFF=0xb8"', '-m u32 --u32 "6>>24=6"',
                     '-m u32 --u32 "40>>16=1234"')
    differential(rules, V6, [
        Probe(v6(protocol="icmpv6")),
        Probe(v6(protocol="icmpv6", icmp_type=1, icmp_code=3)),
        Probe(v6(protocol="icmpv6", icmp_type=1, icmp_code=4, tos=0xb9)),
        Probe(v6(protocol="icmpv6", icmp_type=2, length=20)),
        Probe(v6(protocol="esp", length=16), {"esp_spi": 0, "ipv6_headers": 0x04}),
        Probe(v6(tos=0xb8, sport=1234)),
        # behind a Fragment header, u32's offsets 6 and 40 hold what no field says
        Probe(v6(protocol="icmpv6", frag_offset=10), exact=False),
        Probe(v6(tos=0xb8, sport=1234, more_fragments=True), exact=False),
    ])


@pytest.mark.kernel
def test_kernel_sctp() -> None:
    rules = counting("-p sctp -m sctp --dport 80 --chunk-types any INIT",
                     "-p sctp -m sctp --chunk-types only INIT,DATA:be",
                     "-p sctp -m sctp ! --chunk-types all DATA",
                     "-p sctp -m sctp --chunk-types all DATA:B",
                     "-p sctp -m sctp --chunk-types any DATA:b,ABORT:t",
                     "-p sctp -m sctp ! --sport 40000:40010",
                     "-p sctp -m sctp --chunk-types only ALL",
                     "-p sctp -m sctp --chunk-types any ABORT:T")

    def sctp(chunk: int, **kw: Any) -> Probe:
        flags = {"sctp_data_flags": 0, "sctp_abort_flags": 0,
                 "sctp_shutdown_complete_flags": 0}
        return Probe(v4(protocol="sctp", sctp_chunk=chunk, **kw),
                     {"sctp_chunks": 1 << chunk} | flags)

    differential(rules, V4, [sctp(INIT), sctp(DATA), sctp(SACK), sctp(ABORT, sport=50000),
                             sctp(INIT, dport=81), sctp(DATA, frag_offset=20)])


@pytest.mark.kernel
def test_kernel_dccp_and_ipsec() -> None:
    rules = counting("-p dccp -m dccp --sport 0 --dport 0:10",
                     "-p dccp -m dccp ! --dccp-types REQUEST",
                     "-p dccp -m dccp --dccp-types REQUEST,DATA ! --dport 0",
                     "-p esp -m esp --espspi 0", "-p esp -m esp ! --espspi 0",
                     "-p esp -m esp --espspi 1:100", "-p ah -m ah --ahspi 0:5",
                     "-p ah -m ah ! --ahspi 0", "-p ipcomp -m ipcomp",
                     "-p ipcomp -m ipcomp --ipcompspi 1:9",
                     "-p ipcomp -m ipcomp ! --ipcompspi 1:9 --compres")
    # these headers are all zero bytes: ports 0, packet type REQUEST, SPI and CPI 0
    dccp = {"sport": 0, "dport": 0, "dccp_type": 0}
    differential(rules, V4, [
        Probe(v4(protocol="dccp", length=16), dccp),
        Probe(v4(protocol="dccp", length=16, frag_offset=3), dccp),
        Probe(v4(protocol="esp", length=16), {"esp_spi": 0}),
        Probe(v4(protocol="esp", length=16, frag_offset=3), {"esp_spi": 0}),
        Probe(v4(protocol="ah", length=16), {"ah_spi": 0}),
        Probe(v4(protocol="ipcomp", length=8), {"ipcomp_cpi": 0}),
    ])


@pytest.mark.kernel
def test_kernel_ipv6_ah_and_ipv6header() -> None:
    # no -p here: the zero-filled AH packet's chain runs on into hop-by-hop headers past the
    # end of the packet, where looking for the upper-layer protocol makes the kernel drop it
    rules = counting("-m ah --ahspi 0 --ahlen 8 --ahres", "-m ah ! --ahspi 0",
                     "-m ah ! --ahlen 8", "-m ipv6header --header protocol",
                     "-m ipv6header ! --header protocol", "-m ipv6header --header esp",
                     "-m ipv6header --header ah,hop-by-hop,protocol",
                     "-m ipv6header --header ah --soft", "-m ipv6header ! --header ah --soft",
                     "-m ipv6header --header ipv6-nonxt",
                     "-m ipv6header --header ipv6-frag,protocol",
                     "-m ipv6header ! --header ipv6-frag,esp --soft")
    differential(rules, V6, [
        # AH (8 bytes), then a hop-by-hop header whose length runs past the packet's end:
        # ipv6header's walk stops there, with the protocol bit set
        Probe(v6(protocol="ah", length=12),
              {"ipv6_headers": 0x89, "ah_spi": 0, "ah_len": 8, "ah_reserved": 0}),
        Probe(v6(protocol="esp", length=16), {"ipv6_headers": 0x04}),
        Probe(v6(protocol=59), {"ipv6_headers": 0x02}),
        Probe(v6(protocol="udp", length=8)),
        Probe(v6(more_fragments=True)),
        Probe(v6(frag_offset=100)),
    ])


@pytest.mark.kernel
def test_kernel_ipv6_frag() -> None:
    rules = counting("-m frag", "-m frag --fragfirst", "-m frag --fragmore",
                     "-m frag --fraglast", "-m frag --fragres", "-m frag ! --fragid 0",
                     "-m frag --fragid 1:999999 --fraglen 9", "-m frag --fragid 1000000:2000000",
                     "-p tcp -m tcp --dport 80")
    differential(rules, V6, [Probe(v6()), Probe(v6(more_fragments=True)),
                             Probe(v6(frag_offset=10, more_fragments=True)),
                             Probe(v6(frag_offset=20))])


# Extension headers of zero bytes chain on into hop-by-hop headers past the packet's end, where
# the kernel drops a packet when a match looks for another header type: each lab sees one kind.

@pytest.mark.kernel
def test_kernel_ipv6_hbh() -> None:
    rules = counting("-m hbh --hbh-len 8", "-m hbh ! --hbh-len 8", "-m hbh --hbh-len 16",
                     "-m hbh --hbh-opts 0,0")
    differential(rules, V6, [
        Probe(v6(protocol=0, length=8), {"ipv6_headers": BitSet.cube(0x80, 0x80, 8),
                                         "hbh_len": 8}, exact=False),
        Probe(v6(), {"ipv6_headers": 0x01}),
    ])


@pytest.mark.kernel
def test_kernel_ipv6_dst() -> None:
    rules = counting("-m dst --dst-len 8", "-m dst ! --dst-len 8", "-m dst ! --dst-len 16")
    differential(rules, V6, [
        Probe(v6(protocol=60, length=8), {"ipv6_headers": BitSet.cube(0x40, 0x40, 8),
                                          "dstopts_len": 8}),
        Probe(v6(protocol="udp")),
    ])


@pytest.mark.kernel
def test_kernel_ipv6_rt() -> None:
    rules = counting("-m rt --rt-type 0 --rt-segsleft 0 --rt-len 8", "-m rt ! --rt-type 0",
                     "-m rt ! --rt-segsleft 0:3", "-m rt --rt-type 0 --rt-0-addrs ::1",
                     "-m rt --rt-type 0 --rt-0-res")
    differential(rules, V6, [
        Probe(v6(protocol=43, length=8), {"ipv6_headers": BitSet.cube(0x20, 0x20, 8),
                                          "rt_type": 0, "rt_segsleft": 0, "rt_len": 8},
              exact=False),
        Probe(v6()),
    ])


@pytest.mark.kernel
def test_kernel_eui64() -> None:
    rules = counting("-m eui64")
    own = "2001:db8:1::1a:b0ff:feff:1"  # the EUI-64 of LAB_SRC_MAC 02:1a:b0:ff:00:01
    differential(rules, V6, [Probe(v6(src=own)), Probe(v6(src=own, src_mac="02:1a:b0:ff:00:02")),
                             Probe(v6(src="2001:db8:1::1"))])


@pytest.mark.kernel
def test_kernel_ttl_and_hl_before_routing() -> None:
    rules = table("mangle", "".join(f"-A PREROUTING {r}\n" for r in (
        "-m ttl --ttl-eq 64", "-m ttl ! --ttl-eq 64", "-m ttl --ttl-lt 10", "-m ttl --ttl-gt 63")))
    differential(rules, V4, [Probe(v4(ttl=t)) for t in (64, 9, 10, 200, 2)])
    rules = table("mangle", "".join(f"-A PREROUTING {r}\n" for r in (
        "-m hl --hl-eq 64", "-m hl ! --hl-eq 64", "-m hl --hl-lt 10", "-m hl --hl-gt 63")))
    differential(rules, V6, [Probe(v6(ttl=t)) for t in (64, 9, 255)])


@pytest.mark.kernel
def test_kernel_ttl_in_forward_is_one_less() -> None:
    # ip_forward() decrements the TTL before the FORWARD hook and drops a packet whose TTL
    # would reach 0 (the lab router has no route back for the ICMP error)
    differential(counting("-m ttl --ttl-eq 63", "-m ttl --ttl-lt 2"), V4,
                 [Probe(v4(ttl=64)), Probe(v4(ttl=2)), Probe(v4(ttl=1))])
    differential(counting("-m hl --hl-eq 63", "-m hl --hl-lt 2"), V6,
                 [Probe(v6(ttl=64)), Probe(v6(ttl=2)), Probe(v6(ttl=1))])


@pytest.mark.kernel
def test_kernel_length_tos_dscp_ecn() -> None:
    rules = counting("-m length --length 40", "-m length --length 41:100",
                     "-m length ! --length 0:40", "-m length --length 100:50",
                     "-m length ! --length 100:50",
                     "-m tos --tos 0x10/0x3f", "-m tos --tos Minimize-Delay",
                     "-m tos ! --tos 0x10", "-m dscp --dscp-class EF", "-m dscp ! --dscp 0",
                     "-m ecn --ecn-ip-ect 3", "-m ecn ! --ecn-ip-ect 0",
                     "-p tcp -m ecn --ecn-tcp-ece --ecn-tcp-cwr",
                     "-p tcp -m ecn ! --ecn-tcp-ece --ecn-ip-ect 2")
    differential(rules, V4, [
        Probe(v4()), Probe(v4(length=30, tos=0x10)), Probe(v4(protocol="udp", length=100,
                                                               tos=0x50)),
        Probe(v4(tos=0xb9)), Probe(v4(tos=0x13, tcp_flags=TCP_SYN | 0x40 | 0x80)),
        Probe(v4(tos=0x02, tcp_flags=TCP_SYN | 0x80)),
        # the TCP flags of a later fragment are payload bytes: an assumption
        Probe(v4(tos=0x02, frag_offset=8), exact=False),
    ])


@pytest.mark.kernel
def test_kernel_string() -> None:
    rules = counting('-m string --string "GET" --algo bm --from 60',
                     '-m string --hex-string "|00000000|" --algo kmp --from 40',
                     '-m string ! --string "zzz" --algo bm')
    differential(rules, V4, [Probe(v4(), exact=False), Probe(v4(length=100), exact=False)])


@pytest.mark.kernel
def test_kernel_tcpmss() -> None:
    rules = counting("-p tcp -m tcpmss --mss 1000:1460", "-p tcp -m tcpmss ! --mss 1460",
                     "-p tcp -m tcpmss --mss 0:65535")
    mss = b"\x02\x04\x05\xb4"
    differential(rules, V4, [
        Probe(v4(tcp_options=mss), {"tcp_mss": 1460}),
        Probe(v4(tcp_options=b"\x02\x04\x02\x18"), {"tcp_mss": 536}),
        Probe(v4(tcp_options=b"\x01\x01" + mss + b"\x01\x01", tcp_flags=TCP_ACK),
              {"tcp_mss": 1460}),
        Probe(v4()),
        Probe(v4(tcp_options=mss, frag_offset=4), exact=False),
    ])


@pytest.mark.kernel
def test_kernel_u32_on_header_fields() -> None:
    rules = counting('-m u32 --u32 "6&0xFF=6&&0>>22&0x3C@0>>16=80"',
                     '-m u32 --u32 "12=0x0a000100:0x0a0001ff"',
                     '-m u32 --u32 "6&0xFF=6&&0>>22&0x3C@12>>16&0x3F=0x12"',
                     '-m u32 ! --u32 "0&0xFFFF=40:60&&8>>16&0xFF=6"',
                     '-m u32 --u32 "1000&0=0"',
                     '-m u32 --u32 "6&0xFF=1&&0>>22&0x3C@0>>24=8"',
                     '-m u32 --u32 "0>>22&0x3C@0>>16=80"')
    differential(rules, V4, [
        Probe(v4(src="10.0.1.7", sport=80, dport=22, tcp_flags=TCP_SYN | TCP_ACK)),
        Probe(v4(src="10.0.2.7", sport=1000, length=964, ttl=63)),
        Probe(v4(src="10.0.1.9", protocol="udp", sport=80)),
        Probe(v4(protocol="icmp")),
        Probe(v4(protocol="icmp", icmp_type=0, sport=80)),
    ])


@pytest.mark.kernel
def test_kernel_realm_of_the_route() -> None:
    rules = counting("-m realm --realm 0", "-m realm ! --realm 0", "-m realm --realm 0x0/0xff",
                     "-m realm --realm 5", "-m realm --realm 0x4/0xfc",
                     "-m realm ! --realm 0x11/0x10")
    # the lab's own routes have no realm; 10.0.3.0/24 gets realm 5 (the packet's `routes' only
    # make the lab install a route elsewhere, so that it leaves 10.0.3.0/24 alone)
    realm_route = ["ip", "route", "replace", "10.0.3.0/24", "via", "169.254.255.254", "dev",
                   "eth1", "onlink", "realm", "5"]
    elsewhere = (("10.0.9.0/24", "eth1"),)
    differential(rules, V4, [
        Probe(v4()), Probe(v4(protocol="udp")),
        Probe(v4(dst="10.0.3.3", oif=None, routes=elsewhere), {"realm": 5}),
    ], setup=[realm_route])


# --- u32 against the packet bytes ---------------------------------------------------------------

def u32_value(location: U32Location, data: bytes) -> int | None:
    """xt_u32's machine over a packet's bytes from the IP header on: the word a location
    reads, None where the kernel gives up (a read past the end). The reference the
    field-level semantics must agree with wherever they decide."""
    size = len(data)

    def word(at: int) -> int:
        return int.from_bytes(data[at : at + 4], "big")

    pos = location.start
    if size < 4 or pos > size - 4:
        return None
    value, at = word(pos), 0
    for op, number in location.steps:
        if op is U32Op.AND:
            value &= number
        elif op is U32Op.LEFT_SHIFT:
            value = (value << number) & 0xFFFFFFFF
        elif op is U32Op.RIGHT_SHIFT:
            value >>= number
        else:
            if at + value > 0xFFFFFFFF:
                return None
            at, pos = at + value, number
            if size < at + 4 or pos > size - at - 4:
                return None
            value = word(at + pos)
    return value


def run_u32(tests: Sequence[U32Test], data: bytes) -> bool:
    for test in tests:
        value = u32_value(test.location, data)
        if value is None or not any(lo <= value <= hi for lo, hi in test.ranges):
            return False
    return True


_MASKS = (0xFF, 0xFFFF, 0xFF00, 0x3F, 0x3C, 0xFFFF0000, 0xF0, 0x1)
_VALUES = (0, 1, 2, 6, 17, 22, 64, 80, 0x12, 0x45, 0x60, 40000, 0x0A000101)


def random_location(rng: random.Random, family: Family) -> str:
    """A location: a fixed offset, the IHL idiom or a constant `@`, then masks and shifts."""
    if family is V4 and rng.random() < 0.4:
        text = f"0>>22&0x3C@{rng.choice((0, 2, 4, 8, 12, 13))}"
    elif rng.random() < 0.1:
        text = f"{rng.choice((0, 8))}&0@{rng.choice((20, 40))}"
    else:
        starts = (0, 1, 2, 4, 6, 8, 12, 16, 20, 22, 24, 32) if family is V4 else (
            0, 2, 4, 6, 8, 20, 24, 36, 40, 42, 44)
        text = str(rng.choice(starts))
    for _ in range(rng.randrange(3)):
        kind = rng.choice(("&", ">>", "<<"))
        if kind == "&":
            mask = rng.choice(_MASKS) if rng.random() < 0.7 else rng.getrandbits(32)
            text += f"&{mask:#x}"
        else:
            text += f"{kind}{rng.choice((8, 16, 24, rng.randrange(32)))}"
    return text


def random_values(rng: random.Random, actual: int | None) -> str:
    """Ranges for a test: half the time around the value the packet really has."""
    roll = rng.random()
    if actual is not None and roll < 0.5:
        return rng.choice((str(actual), f"0:{actual}", f"{actual}:0xffffffff",
                           f"{actual + 1}:0xffffffff"))
    if roll < 0.75:
        return ",".join(str(rng.choice(_VALUES)) for _ in range(rng.randrange(1, 3)))
    return f"0:{rng.getrandbits(rng.choice((8, 16, 32)))}"


def random_packet(rng: random.Random, family: Family) -> Probe:
    """A lab packet of a random protocol, with the fields the u32 layouts read."""
    make = v4 if family is V4 else v6
    common: dict[str, Any] = {"ttl": rng.randrange(2, 256), "tos": rng.randrange(256)}
    kind = rng.choice(("tcp", "tcp", "udp", "icmp", "sctp", "dccp", "esp", "ipcomp", "gre",
                       "ah", "fragment"))
    if kind == "ah" and family is V6:
        # an IPv6 AH is an extension header (another test's business); no next header instead
        return Probe(make(protocol=59, **common), {"ipv6_headers": 0x02})
    if kind in ("tcp", "udp", "fragment"):
        sport, dport = rng.choice((80, 22, 40000, rng.randrange(65536))), rng.choice((80, 53))
        packet = make(protocol="udp" if kind == "udp" else "tcp", sport=sport, dport=dport,
                      tcp_flags=rng.choice((TCP_SYN, TCP_SYN | TCP_ACK, TCP_ACK)),
                      length=rng.choice((0, 8, 30)), **common)
        if kind == "fragment":
            packet = replace(packet, frag_offset=rng.choice((0, 5)), more_fragments=True)
        return Probe(packet)
    if kind == "icmp":
        icmp = "icmp" if family is V4 else "icmpv6"
        return Probe(make(protocol=icmp, icmp_type=rng.choice((None, 3, 11)),
                          icmp_code=rng.randrange(4), length=rng.choice((0, 8)), **common))
    if kind == "sctp":
        return Probe(make(protocol="sctp", sport=rng.randrange(65536), **common))
    # headers of zero bytes, at least as long as the header the layout describes
    least = {"dccp": 12, "esp": 8, "ipcomp": 4, "ah": 12, "gre": 0}[kind]
    zeros: dict[str, tuple[str, ...]] = {"dccp": ("sport", "dport", "dccp_type"),
                                         "esp": ("esp_spi",), "ipcomp": ("ipcomp_cpi",),
                                         "ah": ("ah_spi",), "gre": ()}
    facts: dict[str, FieldValue] = dict.fromkeys(zeros[kind], 0)
    if kind == "esp" and family is V6:
        facts["ipv6_headers"] = 0x04
    return Probe(make(protocol=kind, length=least + rng.randrange(9), **common), facts)


def _frame_bytes(packet: KernelPacket, ident: int = 7) -> bytes:
    return build_frame(packet, dst_mac=bytes(6), src_mac=bytes(6), ident=ident)[14:]


@pytest.mark.parametrize("family", [V4, V6])
def test_u32_agrees_with_the_bytes_wherever_it_decides(family: Family) -> None:
    rng = random.Random(20241126 + len(family.value))
    decided: Counter[bool] = Counter()
    for _ in range(250):
        probe = random_packet(rng, family)
        # the bytes the kernel sees at FORWARD: the TTL already decremented
        data = _frame_bytes(replace(probe.packet, ttl=probe.packet.ttl - 1))
        tests = []
        for _ in range(rng.choice((1, 1, 2))):
            location = random_location(rng, family)
            actual = u32_value(parse_u32(f"{location}=0")[0].location, data)
            tests.append(f"{location}={random_values(rng, actual)}")
        expression = "&&".join(tests)
        expected = run_u32(parse_u32(expression), data)
        result = trace(ruleset(forward(f'-m u32 --u32 "{expression}"'), family),
                       lab_model(probe), "forward")
        outcomes = {outcome(p)[1] == (1,) for p in result.paths}
        assert expected in outcomes, (expression, probe.packet,
                                      [p.conditions for p in result.paths])
        if len(outcomes) == 1:
            decided[expected] += 1
    # most expressions read header fields the model knows, both ways
    assert decided[True] > 30 and decided[False] > 60, decided


@pytest.mark.kernel
@pytest.mark.parametrize("family", [V4, V6])
def test_kernel_u32_random_rules_and_packets(family: Family) -> None:
    """Random u32 rules (values taken from the packets half the time) and random packets in
    one lab: for every rule and packet the kernel's counter must be what the bytes say (the
    reference of the offline test) and one of the trace's outcomes, its only one where the
    fields decide."""
    require_kernel()
    rng = random.Random(7 + len(family.value))
    probes = [random_packet(rng, family) for _ in range(12)]
    seen = [_frame_bytes(replace(p.packet, ttl=p.packet.ttl - 1)) for p in probes]
    expressions = []
    for _ in range(24):
        location = random_location(rng, family)
        actual = u32_value(parse_u32(f"{location}=0")[0].location, rng.choice(seen))
        expressions.append(f"{location}={random_values(rng, actual)}")
    rules = counting(*(f'-m u32 --u32 "{e}"' for e in expressions))
    alone = [ruleset(forward(f'-m u32 --u32 "{e}"'), family) for e in expressions]
    decided = 0
    with Lab(rules, family, path="forward", interfaces=["eth0", "eth1"]) as lab:
        for probe, data in zip(probes, seen, strict=True):
            hits = lab.send(probe.packet).hits
            model = lab_model(probe)
            other = _frame_bytes(replace(probe.packet, ttl=probe.packet.ttl - 1), 0xBEEF)
            for number, (expression, rs) in enumerate(zip(expressions, alone, strict=True), 1):
                kernel = hits.get(("filter", "FORWARD", number), 0) == 1
                tests = parse_u32(expression)
                reference = run_u32(tests, data)
                if reference == run_u32(tests, other):  # unless it reads the lab's packet ID
                    assert reference == kernel, (expression, probe)
                outcomes = {outcome(p)[1] == (1,) for p in trace(rs, model, "forward").paths}
                assert kernel in outcomes, (expression, probe.packet)
                decided += len(outcomes) == 1
    assert decided > len(probes) * len(expressions) // 2
