"""Printing: each style as ipset prints it, converting between them, and `canonical`."""

from __future__ import annotations

import pytest

from iptparse.ipset import IpSet, IpsetDump, Member, parse_ipset, render_ipset
from iptparse.ipset.normalize import canonical
from iptparse.ipset.render import render_set

from .samples import ALL_TYPES_SAVE


def test_all_types_round_trip_in_both_styles() -> None:
    dump = parse_ipset(ALL_TYPES_SAVE)
    assert len(dump) == 19
    assert render_ipset(dump, "save") == ALL_TYPES_SAVE
    listing = render_ipset(dump, "list")
    assert render_ipset(parse_ipset(listing), "list") == listing
    assert render_ipset(parse_ipset(listing), "save") == ALL_TYPES_SAVE


def test_save_to_list_fills_in_what_ipset_would_show() -> None:
    dump = parse_ipset("create a hash:ip\nadd a 1.1.1.1\ncreate n hash:net,iface\n"
                       "create l list:set\nadd l a\n")
    assert render_ipset(dump, "list") == (
        "Name: a\nType: hash:ip\nRevision: 6\nHeader:\nReferences: 1\n"
        "Number of entries: 1\nMembers:\n1.1.1.1\n\n"
        "Name: n\nType: hash:net,iface\nRevision: 8\nHeader:\nReferences: 0\n"
        "Number of entries: 0\nMembers:\n\n"
        "Name: l\nType: list:set\nRevision: 3\nHeader:\nReferences: 0\n"
        "Number of entries: 1\nMembers:\na\n")


def test_list_to_save_drops_what_save_has_no_place_for() -> None:
    listing = ("Name: a\nType: hash:ip\nRevision: 1\nHeader: family inet hashsize 1024 "
               "maxelem 65536 timeout 600\nSize in memory: 16656\nReferences: 1\nMembers:\n"
               "10.0.1.7 timeout 573\n")
    dump = parse_ipset(listing)
    assert render_ipset(dump, "save") == (
        "create a hash:ip family inet hashsize 1024 maxelem 65536 timeout 600\n"
        "add a 10.0.1.7 timeout 573\n")
    assert render_ipset(dump, "list") == listing  # no Number of entries: kept absent
    assert render_set(dump["a"], "list") == listing


def test_a_set_built_by_hand_prints() -> None:
    from iptparse.ipset import Header, IpPart

    ipset = IpSet("x", "hash:net", Header(family="inet6"),
                  [Member.of(IpPart(0x20010DB8 << 96, 32), comment=None)])
    assert render_set(ipset) == "create x hash:net family inet6\nadd x 2001:db8::/32\n"
    with pytest.raises(ValueError, match="style"):
        render_ipset(IpsetDump((ipset,)), "xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown set type"):
        IpSet("x", "hash:ip6")
    with pytest.raises(AttributeError, match="immutable"):
        ipset.name = "y"
    assert ipset.replace(name="y").name == "y"


def test_canonical_is_what_ipset_save_prints_after_restore() -> None:
    """(The kernel tests compare this with ipset itself.)"""
    dump = parse_ipset(
        "create a hash:ip hashsize 100 netmask 24 forceadd\nadd a 1.2.3.4\n"
        "add a 1.2.5.6-1.2.6.1\n"
        "create b hash:net timeout 7 counters skbinfo bucketsize 3\n"
        "add b 1.2.3.4-1.2.3.6 skbmark 0x0/0x0 skbqueue 0\n"
        "create c bitmap:port range 0-100\nadd c 9\nadd c 3-4\n"
        "create d list:set size 1\n"
        "create e hash:ip family inet6 netmask 128\n")
    assert render_ipset(canonical(dump)) == (
        "create a hash:ip family inet hashsize 128 maxelem 65536 netmask 24 bucketsize 12\n"
        "add a 1.2.3.0\nadd a 1.2.5.0\nadd a 1.2.6.0\n"
        "create b hash:net family inet hashsize 1024 maxelem 65536 timeout 7 counters "
        "skbinfo bucketsize 4\n"
        "add b 1.2.3.4/31 timeout 7 packets 0 bytes 0\n"
        "add b 1.2.3.6 timeout 7 packets 0 bytes 0\n"
        "create c bitmap:port range 0-100\nadd c 3\nadd c 4\nadd c 9\n"
        "create e hash:ip family inet6 hashsize 1024 maxelem 65536 bucketsize 12\n"
        "create d list:set size 4\n")
