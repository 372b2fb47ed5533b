"""Semantics of the packet-header matches.

icmp, icmp6, sctp, dccp, esp, ah, ipcomp, frag, rt, hbh, dst, mh, ipv6header, eui64, ttl, hl,
length, tos, dscp, ecn, string, u32, tcpmss and realm.

Concrete packets through small rulesets (exact hits and verdicts), abstract packets (the forks
and their conditions; a concrete packet drawn from every branch must land on that branch), and
pinned assumptions. The same matches against the kernel: test_semantics_header_lab.py.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from iptparse.domain import IntSet
from iptparse.errors import ParseError
from iptparse.extensions._b_ipv6 import eui64_of
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.trace import PathResult, TraceResult, trace

from . import _helpers
from ._helpers import table

V4, V6 = Family.INET, Family.INET6


def forward(*rules: str) -> str:
    """filter FORWARD with policy DROP: a rule that matches says so with its ACCEPT."""
    return table("filter", "".join(f"-A FORWARD {r} -j ACCEPT\n" for r in rules), "DROP")


def counting(*rules: str) -> str:
    """filter FORWARD, policy ACCEPT, rules without a target: every rule's counter shows
    whether it matched, independently of the others."""
    return table("filter", "".join(f"-A FORWARD {r}\n" for r in rules))


def ruleset(rules: str, family: Family = V4) -> Ruleset:
    return Ruleset([parse_iptables(rules, family=family)])


def packet_of(spec: str, family: Family) -> Packet:
    """A packet in text form; unless it says otherwise its TTL is 64 (a forwarded packet's TTL
    decides whether it expires before FORWARD, a fork these tests are not about)."""
    packet = parse_packet(spec, family)
    if "ttl" in packet.fields:
        return packet
    return packet.with_(ttl=IntSet.single(64, 0xFF))


def run(rs: Ruleset, spec: str | Packet, family: Family = V4,
        assumptions: Mapping[str, bool] | None = None) -> TraceResult:
    packet = packet_of(spec, family) if isinstance(spec, str) else spec
    return trace(rs, packet, "forward", assumptions=assumptions)


def outcome(p: PathResult) -> tuple[str, tuple[int, ...]]:
    return p.verdict, tuple(h.rule for h in p.hits if h.chain == "FORWARD")


def matched(rs: Ruleset, spec: str | Packet, family: Family = V4,
            assumptions: Mapping[str, bool] | None = None) -> tuple[int, ...]:
    """The FORWARD rules a packet with a single path hits."""
    result = run(rs, spec, family, assumptions)
    assert len(result.paths) == 1, [(outcome(p), p.conditions) for p in result.paths]
    return outcome(result.paths[0])[1]


def lands(rs: Ruleset, spec: str, family: Family = V4) -> TraceResult:
    """Trace an abstract packet; then a concrete packet drawn from each branch of each path
    (assumptions pinned as the branch took them) must end as that path does."""
    return _helpers.lands(rs, packet_of(spec, family), key=outcome)


def paths(result: TraceResult) -> dict[tuple[int, ...], list[str]]:
    """FORWARD rules hit → the path's readable conditions."""
    return {outcome(p)[1]: p.conditions for p in result.paths}


# --- icmp and icmp6 ----------------------------------------------------------------------------

ICMP = forward("-p icmp -m icmp --icmp-type 3/4", "-p icmp -m icmp ! --icmp-type 8",
               "-p icmp -m icmp --icmp-type any")


@pytest.mark.parametrize(("spec", "hits"), [
    ("icmp 10.0.0.1 -> 10.0.0.2 icmp_type=3 icmp_code=4", (1,)),
    ("icmp 10.0.0.1 -> 10.0.0.2 icmp_type=3 icmp_code=3", (2,)),
    ("icmp 10.0.0.1 -> 10.0.0.2 icmp_type=8 icmp_code=9", (3,)),
    # a later fragment has no ICMP header: not even `! --icmp-type 8' or `any' match
    ("icmp 10.0.0.1 -> 10.0.0.2 icmp_type=3 icmp_code=4 fragment=1", ()),
])
def test_icmp_types_codes_any_and_fragments(spec: str, hits: tuple[int, ...]) -> None:
    assert matched(ruleset(ICMP), spec) == hits


def test_icmp_abstract_packet_forks_on_type_and_code() -> None:
    result = lands(ruleset(ICMP), "icmp 10.0.0.1 -> 10.0.0.2")
    assert paths(result) == {
        (1,): ["icmp_type = 3 and icmp_code = 4"],
        (2,): ["icmp_type ∉ {3, 8}", "icmp_type = 3 and icmp_code ≠ 4"],
        (3,): ["icmp_type = 8"],
    }


def test_negated_any_never_matches() -> None:
    rs = ruleset(forward("-p icmp -m icmp ! --icmp-type any"))
    assert paths(run(rs, "icmp 10.0.0.1 -> 10.0.0.2")) == {(): []}


def test_icmp6_has_no_wildcard_type() -> None:
    # ICMPv6 type 255 is a type like any other (the IPv4 match's `any' is 255)
    rs = ruleset(forward("-p ipv6-icmp -m icmp6 --icmpv6-type 255",
                         "-p ipv6-icmp -m icmp6 --icmpv6-type 1/3"), V6)
    assert matched(rs, "icmpv6 2001:db8::1 -> 2001:db8::2 icmp_type=128", V6) == ()
    assert matched(rs, "icmpv6 2001:db8::1 -> 2001:db8::2 icmp_type=255", V6) == (1,)
    assert matched(rs, "icmpv6 2001:db8::1 -> 2001:db8::2 icmp_type=1 icmp_code=3", V6) == (2,)
    assert matched(rs, "icmpv6 2001:db8::1 -> 2001:db8::2 icmp_type=1 icmp_code=3 "
                       "fragment=1", V6) == ()


# --- sctp --------------------------------------------------------------------------------------

DATA, INIT, SACK, ABORT = 0, 1, 3, 6


def chunks(*types: int) -> str:
    return f"sctp_chunks={sum(1 << t for t in types):#x}"


SCTP = forward("-p sctp -m sctp --dport 80 --chunk-types any INIT,DATA:Be",
               "-p sctp -m sctp --chunk-types only INIT,SACK",
               "-p sctp -m sctp ! --chunk-types all DATA,SACK",
               "-p sctp -m sctp ! --sport 1:1023 --chunk-types all ABORT:t")


@pytest.mark.parametrize(("fields", "sport", "hits"), [
    (chunks(INIT), 5, (1, 2, 3)),
    (f"{chunks(DATA)} sctp_data_flags=0x2", 5, (1, 3)),  # B set and E clear: `any' holds
    (f"{chunks(DATA)} sctp_data_flags=0x3", 5, (3,)),  # E set: `any' fails
    (chunks(INIT, SACK), 90, (1, 2, 3)),
    (f"{chunks(DATA, SACK)} sctp_data_flags=0x1", 5, ()),  # both present: `! all' fails
    (f"{chunks(ABORT)} sctp_abort_flags=0x0", 2000, (3, 4)),
    (f"{chunks(ABORT)} sctp_abort_flags=0x1", 2000, (3,)),  # `t': T must be clear
    (f"{chunks(ABORT)} sctp_abort_flags=0x0", 80, (3,)),  # `! --sport 1:1023' fails
    (f"{chunks(INIT)} fragment=1", 5, ()),
])
def test_sctp_chunk_modes_flags_and_ports(fields: str, sport: int,
                                          hits: tuple[int, ...]) -> None:
    rs = ruleset(SCTP.replace(" -j ACCEPT", ""))  # every rule counts: the hits say which hold
    assert matched(rs, f"sctp 10.0.0.1:{sport} -> 10.0.0.2:80 {fields}") == hits


def test_sctp_abstract_packet_every_branch_lands() -> None:
    result = lands(ruleset(SCTP), "sctp 10.0.0.1 -> 10.0.0.2:80")
    assert set(paths(result)) == {(1,), (2,), (3,), (4,), ()}
    assert "the packet has an SCTP DATA chunk and SCTP DATA chunk flags & 0x3 = 0x2" in (
        paths(result)[(1,)])


@pytest.mark.parametrize(("rule", "present", "holds"), [
    ("any NONE", (INIT,), False), ("all NONE", (INIT,), True),
    ("only NONE", (INIT,), False), ("any ALL", (200,), True), ("only ALL", (200,), True),
    ("all ALL", (INIT, DATA), False), ("only INIT", (INIT, DATA), False),
    ("all I_DATA:I", (64,), True),  # I_DATA's flags land under type 15: never consulted
])
def test_sctp_chunk_list_extremes(rule: str, present: tuple[int, ...], holds: bool) -> None:
    rs = ruleset(forward(f"-p sctp -m sctp --chunk-types {rule}"))
    packet = f"sctp 10.0.0.1:5 -> 10.0.0.2:80 {chunks(*present)}"
    assert matched(rs, packet) == ((1,) if holds else ())


# --- dccp --------------------------------------------------------------------------------------

DCCP = forward("-p dccp -m dccp --sport 100:200 ! --dport 80", "-p dccp -m dccp "
               "--dccp-types REQUEST,RESPONSE", "-p dccp -m dccp ! --dccp-option 32")


@pytest.mark.parametrize(("spec", "hits"), [
    ("dccp 10.0.0.1:150 -> 10.0.0.2:81 dccp_type=9 dccp_options=0x0", (1, 3)),
    ("dccp 10.0.0.1:150 -> 10.0.0.2:80 dccp_type=1 dccp_options=0x100000000", (2,)),
    ("dccp 10.0.0.1:150 -> 10.0.0.2:81 dccp_type=0 fragment=1", ()),
])
def test_dccp_ports_types_options(spec: str, hits: tuple[int, ...]) -> None:
    rs = ruleset(DCCP.replace(" -j ACCEPT", ""))
    assert matched(rs, spec) == hits


def test_dccp_abstract_packet() -> None:
    result = lands(ruleset(DCCP), "dccp 10.0.0.1:150 -> 10.0.0.2:80")
    assert paths(result) == {
        (2,): ["DCCP type ∈ {REQUEST,RESPONSE}"],
        (3,): ["DCCP type ∉ {REQUEST,RESPONSE} and the packet has no DCCP option 32"],
        (): ["DCCP type ∉ {REQUEST,RESPONSE} and the packet has DCCP option 32"],
    }


# --- esp, ah, ipcomp ---------------------------------------------------------------------------

def test_esp_ah_ipcomp_spi_ranges() -> None:
    rs = ruleset(counting("-p esp -m esp --espspi 256:511", "-p esp -m esp ! --espspi 300",
                          "-p ah -m ah --ahspi 7", "-p ipcomp -m ipcomp",
                          "-p ipcomp -m ipcomp --ipcompspi 70000:80000",
                          "-p ipcomp -m ipcomp ! --ipcompspi 5 --compres"))
    assert matched(rs, "esp 10.0.0.1 -> 10.0.0.2 esp_spi=300") == (1,)
    assert matched(rs, "esp 10.0.0.1 -> 10.0.0.2 esp_spi=301") == (1, 2)
    assert matched(rs, "esp 10.0.0.1 -> 10.0.0.2 esp_spi=301 fragment=1") == ()
    assert matched(rs, "ah 10.0.0.1 -> 10.0.0.2 ah_spi=7") == (3,)
    # without --ipcompspi the range is 0:0; CPIs are 16 bits, so 70000:80000 never matches
    assert matched(rs, "ipcomp 10.0.0.1 -> 10.0.0.2 ipcomp_cpi=0") == (4, 6)
    assert matched(rs, "ipcomp 10.0.0.1 -> 10.0.0.2 ipcomp_cpi=5") == ()
    assert paths(run(rs, "ipcomp 10.0.0.1 -> 10.0.0.2")) == {
        (4, 6): ["ipcomp_cpi = 0"], (6,): ["ipcomp_cpi ∉ {0, 5}"], (): ["ipcomp_cpi = 5"]}


def test_ah6_finds_the_header_in_the_chain() -> None:
    rs = ruleset(counting("-m ah --ahspi 1:9 --ahlen 24 --ahres", "-m ah ! --ahlen 24",
                          "-m ah ! --ahlen 0"), V6)
    base = "2001:db8::1 -> 2001:db8::2 ipv6_headers=0x89 ah_spi=5"
    assert matched(rs, f"{base} ah_len=24 ah_reserved=0", V6) == (1, 3)
    assert matched(rs, f"{base} ah_len=24 ah_reserved=1", V6) == (3,)
    assert matched(rs, f"{base} ah_len=16 ah_reserved=0", V6) == (2, 3)
    assert matched(rs, "2001:db8::1 -> 2001:db8::2 ipv6_headers=0x81", V6) == ()
    result = lands(rs, "2001:db8::1 -> 2001:db8::2 ah_spi=5 ah_reserved=0", V6)
    assert paths(result)[()] == ["the packet has no AH header"]


# --- IPv6 extension headers --------------------------------------------------------------------

V6_PAIR = "2001:db8::1 -> 2001:db8::2"


def test_frag_fields_and_flags() -> None:
    rs = ruleset(counting("-m frag --fragid 100:200 --fraglen 99", "-m frag ! --fragid 150",
                          "-m frag --fragfirst --fragmore", "-m frag --fraglast --fragres"), V6)
    base = f"tcp {V6_PAIR} ipv6_headers=0x11 frag_reserved=0"
    assert matched(rs, f"{base} frag_id=150 fragment=0 frag_more=1", V6) == (1, 3)
    assert matched(rs, f"{base} frag_id=151 fragment=1 frag_more=0", V6) == (1, 2, 4)
    assert matched(rs, f"{base} frag_id=5 fragment=1 frag_more=1", V6) == (2,)
    assert matched(rs, f"tcp {V6_PAIR} ipv6_headers=0x11 frag_id=5 fragment=1 frag_more=0 "
                       "frag_reserved=1", V6) == (2,)
    # no Fragment header: nothing to match, whatever the `!'
    assert matched(rs, f"tcp {V6_PAIR} ipv6_headers=0x01", V6) == ()


def test_rt_type_segments_length_and_type0_extras() -> None:
    rs = ruleset(counting("-m rt --rt-type 2 --rt-segsleft 1:5 --rt-len 24",
                          "-m rt ! --rt-type 2 ! --rt-segsleft 3 ! --rt-len 24",
                          "-m rt --rt-type 300",
                          "-m rt --rt-type 0 --rt-0-res --rt-0-addrs ::1,::2 --rt-0-not-strict",
                          "-m rt --rt-type 0 --rt-0-addrs ::1,::2"), V6)
    base = f"{V6_PAIR} ipv6_headers=0xa1"
    assert matched(rs, f"{base} rt_type=2 rt_segsleft=3 rt_len=24", V6) == (1,)
    assert matched(rs, f"{base} rt_type=4 rt_segsleft=4 rt_len=8", V6) == (2,)
    assert matched(rs, f"{V6_PAIR} ipv6_headers=0x01", V6) == ()
    # type 0: room for two addresses needs 40 bytes (strict: exactly 40-55); the rest is
    # in the header's body, which no field shows
    assert matched(rs, f"{base} rt_type=0 rt_segsleft=0 rt_len=32", V6) == (2,)
    result = run(rs, f"{base} rt_type=0 rt_segsleft=0 rt_len=56", V6)
    assert paths(result) == {
        (2, 4): ["the routing header's reserved field is 0 and the routing header lists "
                 "::1,::2 in this order"],
        (2,): ["the routing header's reserved field is not 0",
               "the routing header's reserved field is 0 and not: the routing header lists "
               "::1,::2 in this order"],
    }
    pinned = {"rt-0-res@filter:FORWARD:4": True, "rt-0-addrs@filter:FORWARD:4": True,
              "rt-0-addrs@filter:FORWARD:5": True}
    assert matched(rs, f"{base} rt_type=0 rt_segsleft=0 rt_len=40", V6, pinned) == (2, 4, 5)


def test_hbh_and_dst_lengths_and_options() -> None:
    rs = ruleset(counting("-m hbh --hbh-len 8", "-m hbh ! --hbh-len 8 --hbh-opts 1:4,5",
                          "-m dst --dst-len 16", "-m dst ! --dst-len 16"), V6)
    assert matched(rs, f"{V6_PAIR} ipv6_headers=0xc1 hbh_len=8 dstopts_len=16", V6) == (1, 3)
    assert matched(rs, f"{V6_PAIR} ipv6_headers=0x41 dstopts_len=24", V6) == (4,)
    result = lands(rs, f"{V6_PAIR} ipv6_headers=0x81 hbh_len=16", V6)
    assert paths(result) == {
        (2,): ["the hop-by-hop options begin with 1:4,5"],
        (): ["the hop-by-hop options do not begin with 1:4,5"],
    }


def test_mh_type_range() -> None:
    rs = ruleset(counting("-p ipv6-mh -m mh --mh-type binding-update:5",
                          "-p ipv6-mh -m mh ! --mh-type 0:4", "-p ipv6-mh -m mh"), V6)
    assert matched(rs, f"ipv6-mh {V6_PAIR} mh_type=5", V6) == (1, 2, 3)
    assert matched(rs, f"ipv6-mh {V6_PAIR} mh_type=2", V6) == (3,)
    assert matched(rs, f"ipv6-mh {V6_PAIR} mh_type=2 fragment=1", V6) == ()


@pytest.mark.parametrize(("headers", "hits"), [
    (0x01, (1, 3, 5)),  # a plain TCP packet
    (0x11, (2, 3, 4, 5)),  # with a Fragment header
    (0x89, (3, 5)),  # AH, hop-by-hop and an upper-layer protocol
    (0x04, (3, 6)),  # ESP: the walk stops there, no protocol bit
])
def test_ipv6header_exact_soft_and_negated(headers: int, hits: tuple[int, ...]) -> None:
    rs = ruleset(counting("-m ipv6header --header protocol",
                          "-m ipv6header --header ipv6-frag,protocol",
                          "-m ipv6header ! --header ipv6-frag",
                          "-m ipv6header --header ipv6-frag --soft",
                          "-m ipv6header ! --header esp,ipv6-route --soft",
                          "-m ipv6header --header esp"), V6)
    assert matched(rs, f"{V6_PAIR} ipv6_headers={headers:#x}", V6) == hits


def test_ipv6header_abstract_texts() -> None:
    rs = ruleset(forward("-m ipv6header --header ipv6-frag,ah --soft"), V6)
    assert paths(lands(rs, V6_PAIR, V6)) == {
        (1,): ["the packet has all of the headers fragment, AH"],
        (): ["the packet lacks one of the headers fragment, AH"],
    }


def test_eui64_compares_the_source_with_the_mac() -> None:
    mac = 0x021AB0FF0001
    assert eui64_of(mac) == 0x001AB0FFFEFF0001  # the universal/local bit flipped
    src = "2001:db8::1a:b0ff:feff:1"
    rs = ruleset(forward("-m eui64"), V6)
    good = f"{src} -> 2001:db8::2 src_mac=02:1a:b0:ff:00:01"
    assert matched(rs, good, V6) == (1,)
    assert matched(rs, good.replace("00:01", "00:02"), V6) == ()
    # no Ethernet header: the kernel reads bytes that are not a MAC
    result = run(rs, f"{good} ether=0", V6)
    assert paths(result) == {(1,): ["the source address ends with the EUI-64 of the source MAC"],
                             (): ["the source address does not end with the EUI-64 of the "
                                  "source MAC"]}
    # either field unknown: the same assumption, pinnable
    key = "eui64@filter:FORWARD:1"
    assert matched(rs, "2001:db8::5 -> 2001:db8::2", V6, {key: True}) == (1,)


# --- ttl, hl, length, tos, dscp, ecn ------------------------------------------------------------

def test_ttl_comparisons() -> None:
    # FORWARD sees the TTL after ip_forward() decremented it
    rs = ruleset(counting("-m ttl --ttl-eq 64", "-m ttl ! --ttl-eq 64", "-m ttl --ttl-lt 10",
                          "-m ttl --ttl-gt 253", "-m ttl --ttl-lt 0"))
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 ttl=65") == (1,)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 ttl=10") == (2, 3)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 ttl=255") == (2, 4)
    result = lands(ruleset(forward("-m ttl --ttl-gt 100")), "10.0.0.1 -> 10.0.0.2 ttl=2-255")
    assert paths(result) == {(1,): ["TTL > 100"], (): ["TTL ≤ 100"]}
    assert {p.alternatives[0].box.get("ttl") for p in result.paths} == {
        IntSet.range(102, 255, 0xFF), IntSet.range(2, 101, 0xFF)}


def test_hl_reads_the_hop_limit() -> None:
    rs = ruleset(counting("-m hl --hl-eq 1", "-m hl --hl-lt 2", "-m hl ! --hl-eq 1"), V6)
    assert matched(rs, f"{V6_PAIR} ttl=2", V6) == (1, 2)
    assert matched(rs, f"{V6_PAIR} hl=3", V6) == (3,)


def test_length_ranges_unordered_and_negated() -> None:
    rs = ruleset(counting("-m length --length 40:60", "-m length ! --length 40:60",
                          "-m length --length 100:50", "-m length ! --length 100:50",
                          "-m length --length 0:65535"))
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 length=40") == (1, 4, 5)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 length=75") == (2, 4, 5)


def test_tos_dscp_and_ecn_read_the_same_byte() -> None:
    rs = ruleset(counting("-m tos --tos 0x10/0x3f", "-m tos --tos Minimize-Delay",
                          "-m tos ! --tos 0x10", "-m tos --tos 0x11/0x10",
                          "-m dscp --dscp-class EF", "-m dscp ! --dscp 0",
                          "-m ecn --ecn-ip-ect 3", "-m ecn ! --ecn-ip-ect 0"))
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 tos=0x10") == (1, 2, 6)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 tos=0x50") == (1, 2, 3, 6)  # precedence ignored
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 tos=0x13") == (3, 6, 7, 8)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 tos=0xb9") == (3, 5, 6, 8)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 tos=0x00") == (3,)


def test_ecn_tcp_flags_and_later_fragments() -> None:
    rs = ruleset(counting("-p tcp -m ecn --ecn-tcp-ece --ecn-tcp-cwr",
                          "-p tcp -m ecn ! --ecn-tcp-ece --ecn-ip-ect 2"))
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tcp_flags=SYN,ECE,CWR tos=2") == (1,)
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tcp_flags=SYN,CWR tos=2") == (2,)
    # a later fragment's bytes at the TCP offset are payload: an assumption, pinnable
    result = run(rs, "tcp 10.0.0.1 -> 10.0.0.2 tos=2 fragment=1")
    assert paths(result)[(1, 2)] == [
        "the later fragment's bytes read as TCP flags pass and the later fragment's bytes "
        "read as TCP flags pass"]
    pinned = {"ecn@filter:FORWARD:1": True, "ecn@filter:FORWARD:2": False}
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tos=2 fragment=1", V4, pinned) == (1,)


# --- string, tcpmss, realm ---------------------------------------------------------------------

def test_string_is_an_assumption_bounded_by_the_length() -> None:
    rs = ruleset(counting('-m string --string "GET /" --algo bm --from 40',
                          '-m string ! --hex-string "|0d0a|" --algo kmp --icase'))
    result = run(rs, "tcp 10.0.0.1 -> 10.0.0.2 length=44")  # too short for rule 1
    assert paths(result) == {(): ['the packet contains "|0d0a|" (any case)'],
                             (2,): ['the packet does not contain "|0d0a|" (any case)']}
    result = lands(rs, "tcp 10.0.0.1 -> 10.0.0.2")
    assert paths(result)[(1,)] == [
        'length ≥ 45 and the packet contains "GET /" at an offset 40-65535 and the packet '
        'contains "|0d0a|" (any case)']
    pinned = {"string@filter:FORWARD:1": True, "string@filter:FORWARD:2": False}
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 length=100", V4, pinned) == (1, 2)


def test_tcpmss_option_value_and_its_absence() -> None:
    rs = ruleset(counting("-p tcp -m tcpmss --mss 1000:1460", "-p tcp -m tcpmss ! --mss 1460"))
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tcp_options=0x4 tcp_mss=1460") == (1,)
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tcp_options=0x4 mss=536") == (2,)
    # no MSS option: only the negated rule matches (any packet, not only SYNs)
    assert matched(rs, "tcp 10.0.0.1 -> 10.0.0.2 tcp_options=0x0 tcp_flags=ACK") == (2,)
    assert paths(lands(rs, "tcp 10.0.0.1 -> 10.0.0.2")) == {
        # tcp_mss is split by both rules: the trace shows its final set
        (1,): ["the packet has a TCP MSS option and tcp_mss = 1460"],
        (1, 2): ["the packet has a TCP MSS option and tcp_mss ∈ 1000-1459"],
        (2,): ["the packet has no TCP MSS option",
               "the packet has a TCP MSS option and MSS ∉ 1000-1460"],
    }


def test_realm_value_and_mask() -> None:
    # a value with bits outside the mask is never equal: `!' makes rule 3 match everything
    rs = ruleset(counting("-m realm --realm 0", "-m realm --realm 0x10/0xf0",
                          "-m realm ! --realm 0x11/0x10"))
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 realm=0") == (1, 3)
    assert matched(rs, "10.0.0.1 -> 10.0.0.2 realm=0x12") == (2, 3)
    result = lands(rs, "10.0.0.1 -> 10.0.0.2")
    assert set(paths(result)) == {(1, 3), (2, 3), (3,)}
    assert paths(result)[(1, 3)] == ["realm = 0x0"]


# --- u32 -----------------------------------------------------------------------------------------

U32 = counting('-m u32 --u32 "6&0xFF=6&&0>>22&0x3C@0>>16=80"',  # TCP source port 80
               '-m u32 --u32 "12=0x0a000100:0x0a0001ff"',  # source in 10.0.1.0/24
               '-m u32 --u32 "0>>22&0x3C@12>>16&0x3F=0x12"',  # TCP flags SYN,ACK
               '-m u32 --u32 "4&0xFFFF=7"',  # the IPv4 identification: unknown
               '-m u32 ! --u32 "0&0xFFFF=100:200&&8>>24=64"',  # length and TTL
               '-m u32 --u32 "1000&0=0"')  # only: is the packet 1004 bytes long?


def test_u32_on_known_header_fields() -> None:
    rs = ruleset(U32)
    base = "tcp 10.0.1.7:80 -> 10.0.0.2:22 tcp_flags=SYN,ACK ttl=65 length=150"
    result = run(rs, base)
    assert paths(result) == {
        (1, 2, 3, 4): ['u32 "0x4&0xffff=0x7" holds (it reads bytes iptparse does not know)'],
        (1, 2, 3): ['u32 "0x4&0xffff=0x7" does not hold'],
    }
    # UDP has no byte 12 in its header: rule 3 reads payload there
    pinned = {"u32@filter:FORWARD:3": False, "u32@filter:FORWARD:4": False}
    assert matched(rs, "udp 10.0.2.7:80 -> 10.0.0.2:22 ttl=63 length=1004", V4, pinned) == (
        5, 6)
    # a later fragment has payload where the ports were: rule 1 cannot be worked out
    result = run(ruleset(counting('-m u32 --u32 "6&0xFF=6&&0>>22&0x3C@0>>16=80"')),
                 "tcp 10.0.1.7:80 -> 10.0.0.2:22 fragment=1")
    assert set(paths(result)) == {(1,), ()}


def test_u32_abstract_packets_split_on_the_layout_only_where_it_matters() -> None:
    rs = ruleset(counting('-m u32 --u32 "6&0xFF=17"', '-m u32 --u32 "0>>22&0x3C@2>>16=53"'))
    result = lands(rs, "10.0.0.1 -> 10.0.0.2")
    conditions = paths(result)
    assert conditions[(1, 2)] == ["proto = udp and dport = 53"]
    # tcp, dccp and sctp have their ports in the same place: one way, joined on proto
    assert "proto ∈ {tcp, dccp, sctp} and dport = 53" in conditions[(2,)]
    assert any("proto ∉" in c and "holds" in c for c in conditions[(2,)])


def test_u32_address_prefix_expands_to_a_range() -> None:
    rs = ruleset(forward('-m u32 --u32 "16&0xFFFFFF00=0xc0a80100"'))
    assert paths(lands(rs, "tcp 10.0.0.1 -> 10.0.0.2")) == {(): []}
    assert paths(lands(rs, "tcp 10.0.0.1 -> *")) == {(1,): ["dst ∈ 192.168.1.0/24"],
                                                       (): ["dst ∉ 192.168.1.0/24"]}


def test_u32_ipv6_reads_the_fixed_header_and_plain_transport() -> None:
    rs = ruleset(counting('-m u32 --u32 "0>>20&0xFF=0xb8"', '-m u32 --u32 "6>>24=6"',
                          '-m u32 --u32 "40>>16=1234"'), V6)
    plain = "tcp [2001:db8::1]:1234 -> [2001:db8::2]:80 tos=0xb8 ipv6_headers=0x01"
    assert matched(rs, plain, V6) == (1, 2, 3)
    with_ext = "tcp [2001:db8::1]:1234 -> [2001:db8::2]:80 tos=0xb8 ipv6_headers=0x11"
    assert set(paths(run(rs, with_ext, V6))) == {(1,), (1, 2), (1, 3), (1, 2, 3)}


def test_u32_shift_of_32_is_refused_as_the_kernel_does() -> None:
    with pytest.raises(ParseError, match="refuses the shift"):
        parse_iptables(counting('-m u32 --u32 "6>>32&0xFF=6"'))
