"""How value sets read in traces: interface names (the empty name included)."""

from __future__ import annotations

from iptparse.describe import describe_set
from iptparse.domain import IntSet, NameSet
from iptparse.nodes import Family


def test_interface_sets_read_as_iptables_writes_them() -> None:
    assert describe_set("iif", NameSet.single("eth0")) == "= eth0"
    assert describe_set("iif", NameSet([("cali", True)])) == "matches cali+"
    assert describe_set("iif", NameSet([("cali", True), ("lo", False)])) == "∈ {cali+, lo}"
    assert describe_set("iif", NameSet([("cali", True)]).without([("cali1", False)])) == (
        "matches cali+ except cali1")


def test_the_empty_name_is_said_in_words() -> None:
    """No interface (iif of a locally generated packet) must not read as `{, lo}`."""
    assert describe_set("iif", NameSet.single("")) == "= (none)"
    received = NameSet.all().without([("", False), ("lo", False), ("cali", True)])
    assert describe_set("iif", received) == "∉ {(none), cali+, lo}"


def test_protocols_in_sets_read_by_name() -> None:
    tcp_udp = IntSet.values([6, 17], 255)
    assert describe_set("proto", tcp_udp) == "∈ {tcp, udp}"
    assert describe_set("proto", tcp_udp.complement()) == "∉ {tcp, udp}"
    assert describe_set("dport", IntSet.values([22, 80], 65535)) == "∈ {22, 80}"


def test_ipv6_sets_too_big_for_len_are_described() -> None:
    """An abstract trace through ip6tables rules describes sets of more than 2**63
    addresses; comparing their sizes with len() raised OverflowError mid-trace."""
    top = (1 << 128) - 1
    low = IntSet.prefix(0x2001_0DB8 << 96, 32, 128)  # 2001:db8::/32
    high = IntSet.prefix(0xFD << 120, 8, 128)  # fd00::/8
    addresses = IntSet([(0, low.ranges[0][1]), high.ranges[0]], top)
    # as many ranges as its complement, and both sizes beyond sys.maxsize
    assert len(addresses.complement().ranges) == len(addresses.ranges)
    v6 = Family.INET6
    assert describe_set("dst", addresses, v6).startswith("∈ {")
    assert describe_set("dst", addresses.complement(), v6).startswith("∉ {")


def test_addresses_read_in_the_form_with_fewer_prefixes() -> None:
    """Four ranges of addresses that are four prefixes read as themselves, not as the three
    ranges between them, which are dozens of prefixes (what addrtype leaves a packet when
    the host is not known: 0.0.0.0, 127.255.255.255, multicast, 255.255.255.255)."""
    unroutable = IntSet([(0, 0), (0x7FFFFFFF, 0x7FFFFFFF), (0xE0000000, 0xEFFFFFFF),
                         (0xFFFFFFFF, 0xFFFFFFFF)], 0xFFFFFFFF)
    assert describe_set("dst", unroutable) == (
        "∈ {0.0.0.0, 127.255.255.255, 224.0.0.0/4, 255.255.255.255} (268435459 addresses)")
    assert describe_set("dst", unroutable.complement()) == (
        "∉ {0.0.0.0, 127.255.255.255, 224.0.0.0/4, 255.255.255.255}")
    private = (IntSet.prefix(0x0A000000, 8, 32) | IntSet.prefix(0xAC100000, 12, 32)
               | IntSet.prefix(0xC0A80000, 16, 32))
    assert describe_set("dst", private.complement()) == (
        "∉ {10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16}")
    assert describe_set("dport", IntSet.values([22, 80], 65535).complement()) == "∉ {22, 80}"


def test_ipv6_counts_read_as_powers_or_magnitudes() -> None:
    multicast_scope_0 = IntSet.all((1 << 128) - 1)
    for scope in range(16):  # ff00::/16, ff10::/16 … (the interface-local-less scopes)
        multicast_scope_0 = multicast_scope_0 - IntSet.prefix((0xFF00 | scope << 4) << 112, 16,
                                                              128)
    shown = describe_set("dst", multicast_scope_0.complement(), Family.INET6)
    assert shown.endswith("…} (2^116 addresses)")
    odd = IntSet.prefix(0, 64, 128) | IntSet.single(1 << 100, (1 << 128) - 1)
    assert describe_set("dst", odd, Family.INET6) == (
        "∈ {::/64, 0:10::} (about 1.84×10^19 addresses)")
    assert describe_set("dst", IntSet.values([1, 5], 0xFFFFFFFF)) == (
        "∈ {0.0.0.1, 0.0.0.5} (2 addresses)")


def test_a_subnet_but_a_few_of_its_addresses() -> None:
    """The host's own address and the broadcast taken out of a /24 read as the /24 except
    them, in and out; not when the exceptions are more than the prefixes."""
    subnet = IntSet.prefix(0xC0A80100, 24, 32)
    carved = subnet - IntSet.values([0xC0A80101, 0xC0A801FF], 0xFFFFFFFF)
    assert describe_set("src", carved) == "∈ 192.168.1.0/24 except {192.168.1.1, 192.168.1.255}"
    assert describe_set("src", carved.complement()) == (
        "∉ 192.168.1.0/24 except {192.168.1.1, 192.168.1.255}")
    upper_half = subnet - IntSet.prefix(0xC0A80100, 25, 32)
    assert describe_set("dst", upper_half) == "∈ 192.168.1.128/25"
    one = subnet - IntSet.single(0xC0A80100, 0xFFFFFFFF)
    assert describe_set("dst", one) == "∈ 192.168.1.0/24 except 192.168.1.0"
