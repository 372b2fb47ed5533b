"""Membership as the kernel decides it, from ipset(8) and the kernel's set types (the same
questions are put to the kernel itself in test_kernel.py)."""

from __future__ import annotations

import socket

import pytest

from iptparse.ipset import IfacePart, IpSet, PacketFields, match_packet, parse_ipset
from iptparse.ipset.index import range_to_cidrs

from .samples import ALL_TYPES_SAVE


def ip(text: str) -> int:
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    return int.from_bytes(socket.inet_pton(family, text), "big")


def one(text: str) -> IpSet:
    return parse_ipset(text)[-1]


NETS = one("create n hash:net\nadd n 10.0.0.0/8\nadd n 10.1.0.0/16 nomatch\n"
           "add n 10.1.2.0/24\nadd n 10.1.2.3\n")


@pytest.mark.parametrize("address,inside", [
    ("10.0.0.1", True), ("10.1.0.1", False), ("10.1.2.1", True), ("10.1.2.3", True),
    ("11.0.0.1", False),
])
def test_more_specific_nomatch_wins_and_more_specific_match_wins_back(address: str,
                                                                      inside: bool) -> None:
    assert NETS.contains(ip(address)) is inside
    assert (ip(address) in NETS) is inside


def test_return_nomatch_matches_only_nomatch_entries() -> None:
    assert NETS.contains(ip("10.1.0.1"), return_nomatch=True)
    assert not NETS.contains(ip("10.0.0.1"), return_nomatch=True)
    assert not NETS.contains(ip("11.0.0.1"), return_nomatch=True)


def test_lookup_gives_the_deciding_member() -> None:
    member = NETS.lookup(ip("10.1.9.9"))
    assert member is not None and member.nomatch and member.line == 3


@pytest.mark.parametrize("entry,inside", [
    ("10.0.0.1", True), ("10.1.0.1", False), ("10.1.0.0/16", False),
    ("10.1.0.0/16 nomatch", True), ("10.0.0.1 nomatch", False), ("10.0.0.0/8", True),
    ("10.0.0.0/9", False), ("10.1.2.0/24", True),
])
def test_ipset_test_semantics(entry: str, inside: bool) -> None:
    assert NETS.test(entry) is inside


def test_lookups_probe_once_per_prefix_length_not_per_member() -> None:
    big = one("create n hash:net maxelem 100000\n" + "".join(
        f"add n 10.{i >> 8}.{i & 255}.0/24\n" for i in range(20000)) + "add n 11.0.0.0/8\n")

    class Counting(dict):  # type: ignore[type-arg]
        calls = 0

        def get(self, key, default=None):  # type: ignore[no-untyped-def]
            Counting.calls += 1
            return super().get(key, default)

    index = big.index
    index.slots = Counting(index.slots)
    assert big.contains(ip("12.0.0.1")) is False
    assert Counting.calls == len(index.cidr_order()[0]) == 2


def test_hash_net_net_first_dimension_has_precedence() -> None:
    s = one("create nn hash:net,net\nadd nn 192.168.0.0/24,10.0.1.0/24\n"
            "add nn 192.168.0.0/30,192.168.64.0/30 nomatch\nadd nn 192.168.0.0/30,0.0.0.0/1\n")
    assert s.contains(ip("192.168.0.9"), ip("10.0.1.1"))
    assert not s.contains(ip("192.168.0.1"), ip("192.168.64.1"))  # /30 nomatch
    assert s.contains(ip("192.168.0.1"), ip("10.0.1.1"))  # /30,/1 found before /24,/24
    assert not s.contains(ip("192.168.1.1"), ip("10.0.1.1"))


def test_net_iface_stops_at_the_first_prefix_with_the_network() -> None:
    s = one("create i hash:net,iface\nadd i 10.0.0.0/8,eth0\nadd i 10.1.0.0/16,eth1\n"
            "add i 10.2.0.0/16,eth wildcard\nadd i 10.3.0.0/16,physdev:eth0\n"
            "add i 10.4.0.0/16,eth0 nomatch\nadd i 10.4.0.0/16,eth wildcard\n")
    assert s.contains(ip("10.0.0.1"), "eth0")
    assert not s.contains(ip("10.1.0.1"), "eth0")  # the /16 entry hides the /8 one
    assert s.contains(ip("10.1.0.1"), "eth1")
    assert s.contains(ip("10.2.0.1"), "eth5") and not s.contains(ip("10.2.0.1"), "et")
    assert s.contains(ip("10.3.0.1"), "eth0")  # through the /8: physdev is elsewhere
    assert s.contains(ip("10.3.0.1"), IfacePart("eth0", physdev=True))
    assert not s.contains(ip("10.4.0.1"), "eth0")  # first entry of the bucket: nomatch
    assert s.contains(ip("10.4.0.1"), "eth1")
    assert not s.contains(ip("10.0.0.1"), "")
    assert s.test("10.3.0.1,physdev:eth0") and s.test("10.0.0.0/8,eth0")


def test_netmask_bitmask_markmask() -> None:
    assert one("create h hash:ip netmask 24\nadd h 1.2.3.4\n").contains(ip("1.2.3.200"))
    bits = one("create h hash:ip bitmask 255.0.255.0\nadd h 1.2.3.4\n")
    assert bits.contains(ip("1.9.3.9")) and not bits.contains(ip("1.2.4.4"))
    marks = one("create m hash:ip,mark markmask 0xff\nadd m 1.1.1.1,0x1234\n")
    assert marks.contains(ip("1.1.1.1"), 0x5534) and not marks.contains(ip("1.1.1.1"), 0x35)
    assert not one("create h hash:ip\nadd h 1.2.3.4\n").test("0.0.0.0")


def test_ranges_match_as_the_kernel_stored_them() -> None:
    s = one("create h hash:ip\nadd h 1.2.3.6-1.2.3.4\n")
    assert s.contains(ip("1.2.3.5")) and not s.contains(ip("1.2.3.7"))
    ports = parse_ipset("create p hash:ip,port\nadd p 1.2.3.4/31,tcp:80-82\n")["p"]
    assert ports.contains(ip("1.2.3.5"), 6, 81) and not ports.contains(ip("1.2.3.5"), 17, 81)
    assert ports.test("1.2.3.5,81") and not ports.test("1.2.3.6,81")
    assert list(range_to_cidrs(ip("1.2.3.4"), ip("1.2.3.10"), 32)) == [
        (ip("1.2.3.4"), 30), (ip("1.2.3.8"), 31), (ip("1.2.3.10"), 32)]


def test_bitmaps() -> None:
    s = one("create b bitmap:ip range 10.0.0.0/16 netmask 24\nadd b 10.0.5.0\n")
    assert s.contains(ip("10.0.5.77")) and not s.contains(ip("10.0.6.1"))
    assert not s.contains(ip("10.1.5.1")) and not s.test("10.1.5.1")
    mac = one("create m bitmap:ip,mac range 10.0.0.0/24\nadd m 10.0.0.1,00:11:22:33:44:55\n"
              "add m 10.0.0.2\n")
    assert mac.test("10.0.0.1") and mac.test("10.0.0.1,00:11:22:33:44:55")
    assert not mac.test("10.0.0.1,00:11:22:33:44:56")
    assert mac.test("10.0.0.2,00:11:22:33:44:56")  # no MAC stored: the kernel fills it in
    assert not mac.test("10.0.0.3")
    ports = one("create p bitmap:port range 0-1024\nadd p 80\n")
    assert ports.contains(6, 80) and ports.contains(17, 80)
    assert not ports.contains(132, 80) and not ports.contains(6, 81)
    assert ports.test("udp:80")


def test_timeouts_are_present() -> None:
    s = one("create t hash:ip timeout 5\nadd t 1.1.1.1 timeout 1\nadd t 1.1.1.2 timeout 0\n")
    assert s.contains(ip("1.1.1.1")) and s.contains(ip("1.1.1.2"))


def test_list_set_tries_member_sets_in_order() -> None:
    dump = parse_ipset(ALL_TYPES_SAVE)
    lset = dump["lset"]
    assert lset.contains(ip("1.2.3.4"), resolver=dump.get)
    assert lset.contains(ip("10.9.9.9"), resolver=dump.get)
    assert not lset.contains(ip("10.1.0.1"), resolver=dump.get)  # nomatch in hnet
    assert lset.contains(ip("10.1.0.1"), return_nomatch=True, resolver=dump.get)
    assert lset.test("hip") and lset.test("hip before hnet") and lset.test("hnet after hip")
    assert not lset.test("hnet before hip") and not lset.test("bport")
    with pytest.raises(ValueError, match="resolver"):
        lset.contains(ip("1.2.3.4"))


def test_wrong_number_of_values() -> None:
    with pytest.raises(ValueError, match="address, protocol, port"):
        parse_ipset("create p hash:ip,port\n")["p"].contains(ip("1.1.1.1"))


PORTS = one("create p hash:ip,port\nadd p 10.0.0.1,tcp:22\nadd p 10.0.0.1,icmp:ping\n"
            "add p 10.0.0.1,gre:0\n")


def packet(**fields: object) -> PacketFields:
    base: dict[str, object] = {"family": "inet", "src": ip("192.168.0.1"),
                               "dst": ip("10.0.0.1"), "proto": 6, "sport": 5555, "dport": 22}
    base.update(fields)
    return PacketFields(**base)  # type: ignore[arg-type]


def test_packets_by_direction_flags() -> None:
    assert match_packet(PORTS, packet(), ["dst", "dst"])
    assert not match_packet(PORTS, packet(), ["dst", "src"])
    assert not match_packet(PORTS, packet(), ["dst"])  # fewer flags than dimensions
    assert match_packet(PORTS, packet(), ["dst", "dst", "src"])  # more are fine
    assert match_packet(PORTS, packet(proto=1, icmp_type=8, icmp_code=0), ["dst", "src"])
    assert match_packet(PORTS, packet(proto=47), ["dst", "dst"])
    assert not match_packet(PORTS, packet(fragment=True), ["dst", "dst"])
    assert not match_packet(PORTS, packet(family="inet6"), ["dst", "dst"])


def test_packets_macs_interfaces_marks_and_lists() -> None:
    dump = parse_ipset(ALL_TYPES_SAVE)
    hmac = dump["hmac"]
    assert match_packet(hmac, packet(src_mac=0x010203040506), ["src"])
    assert not match_packet(hmac, packet(src_mac=None), ["src"])
    assert match_packet(hmac, packet(family="inet6", dst_mac=0x010203040507), ["dst"])
    iface = dump["hnetiface"]
    assert match_packet(iface, packet(src=ip("1.1.1.9"), in_iface="eth0"), ["src", "src"])
    assert match_packet(iface, packet(src=ip("1.1.1.9"), out_iface="eth0"), ["src", "dst"])
    assert not match_packet(iface, packet(src=ip("1.1.1.9"), in_iface="eth0"),
                            ["src", "dst"])
    marks = dump["hipmark"]
    assert match_packet(marks, packet(dst=ip("2.0.0.1"), mark=0x305), ["dst", "dst"])
    bport = dump["bport"]
    assert not match_packet(bport, packet(proto=132, dport=22), ["dst"])
    lset = dump["lset"]
    assert match_packet(lset, packet(src=ip("1.2.3.4")), ["src"], resolver=dump.get)


@pytest.mark.parametrize("initval,inside", [("0x0fd6b878", False), ("0x00000001", True)])
def test_net_iface_bucket_sharing_depends_on_the_hash(initval: str, inside: bool) -> None:
    """With this initval the /114 entry that is no bridge port shares the bucket the bridge
    port lookup probes, and the kernel stops there (checked against the kernel in
    test_kernel.py)."""
    s = one(f"create t hash:net,iface family inet6 hashsize 64 initval {initval}\n"
            "add t 2001:db8::/114,veth12\nadd t ::/0,physdev:veth12\n")
    assert s.test("2001:db8::346e,physdev:veth12") is inside
    assert s.test("2001:db8::346e,veth12")


def test_jhash2_known_values() -> None:
    from iptparse.jhash import jhash2

    # lookup3's own test vector: hashword of 0 words is the seed mixed with the golden ratio
    assert jhash2([], 0) == 0xDEADBEEF
    assert jhash2([1, 2, 3, 4], 7) != jhash2([1, 2, 3, 5], 7)
