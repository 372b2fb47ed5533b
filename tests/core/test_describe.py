"""How value sets read in traces: interface names (the empty name included)."""

from __future__ import annotations

from iptparse.describe import describe_set
from iptparse.domain import IntSet, NameSet


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
