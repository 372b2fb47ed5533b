"""Reading save/restore and list text as ipset 7.17 reads it (each case checked against the
installed tool; kernel-checked versions of many are in test_kernel.py)."""

from __future__ import annotations

import pytest

from iptparse.errors import ParseError, ParseErrors, ParseWarning
from iptparse.ipset import (
    Header,
    IfacePart,
    IpPart,
    MacPart,
    MarkPart,
    Member,
    PortPart,
    SetPart,
    parse_ipset,
    render_ipset,
)


def IP(text: str) -> int:
    return int.from_bytes(bytes(int(x) for x in text.split(".")), "big")


def one(text: str) -> list[Member]:
    dump = parse_ipset(text)
    return list(dump[-1].members)


def error(text: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        parse_ipset(text, filename="f")
    return info.value


# --- values --------------------------------------------------------------------------------

@pytest.mark.parametrize("written,value", [
    ("10.1", "10.0.0.1"), ("10", "0.0.0.10"), ("010.1.1.1", "8.1.1.1"), ("012", "0.0.0.10"),
    ("4294967295", "255.255.255.255"), ("1.16777215", "1.255.255.255"),
    ("1.2.65535", "1.2.255.255"), ("01.02.03.04", "1.2.3.4"), ("1.2.3.04", "1.2.3.4"),
])
def test_ipv4_numbers_and_dots_forms(written: str, value: str) -> None:
    for line in (f"add n {written}\n", f"add n {written} \n"):  # fast and general path
        (member,) = one("create n hash:net\n" + line)
        assert member.parts == (IpPart(IP(value), 32),)


@pytest.mark.parametrize("written", ["0x0a.1.1.1", "1.2.3.08", "4294967296", "1.2.65536",
                                     "1.2.3.4.", ".1.2.3", "1..2.3", "+1.2.3.4", "1.2.3.256"])
def test_ipv4_forms_ipset_refuses(written: str) -> None:
    err = error(f"create n hash:net\nadd n {written}\n")
    assert err.line == 2 and err.column == 7
    assert "cannot parse" in err.message


def test_host_names_are_refused_not_resolved() -> None:
    assert "host names" in error("create n hash:net\nadd n localhost\n").message
    assert "host names" in error("create n hash:net\nadd n [localhost]\n").message


@pytest.mark.parametrize("prefix,cidr", [("033", 27), ("0x8", 8), ("010", 8), ("+8", 8),
                                         ("8", 8), ("01", 1)])
def test_prefix_lengths_are_c_numbers(prefix: str, cidr: int) -> None:
    (member,) = one(f"create n hash:net\nadd n 1.2.3.4/{prefix}\n")
    part = member.parts[0]
    assert isinstance(part, IpPart)
    assert part.cidr == cidr
    assert part.value == IP("1.2.3.4") & (0xFFFFFFFF << (32 - cidr)) & 0xFFFFFFFF


@pytest.mark.parametrize("line,message", [
    ("add n 1.2.3.4/08", "'08' is invalid as number"),
    ("add n 1.2.3.4/33", "'33' is out of range 0-32"),
    ("add n 1.2.3.4/-1", "out of range"),
    ("add n 1.2.3.4/0", "CIDR parameter"),
    ("add n 1.2.3.4/", "cannot parse 1.2.3.4/"),
])
def test_prefix_errors(line: str, message: str) -> None:
    assert message in error(f"create n hash:net\n{line}\n").message


def test_ipv6_printed_by_inet_ntop() -> None:
    dump = parse_ipset("create s hash:net family inet6\nadd s 2001:0db8:0:0::1/64\n"
                       "add s ::ffff:1.2.3.4\n")
    assert render_ipset(dump).splitlines()[1:] == ["add s 2001:db8::/64",
                                                   "add s ::ffff:1.2.3.4"]


def test_ipv6_ranges_and_prefixes_where_ipset_refuses_them() -> None:
    assert "plain IP address" in error(
        "create s hash:ip family inet6\nadd s 2001:db8::1/127\n").message
    assert "IP address or IP/cidr" in error(
        "create s hash:net family inet6\nadd s 2001:db8::1-2001:db8::3\n").message


# --- ports, protocols, ICMP ---------------------------------------------------------------

@pytest.mark.parametrize("written,printed", [
    ("80", "tcp:80"), ("http", "tcp:80"), ("udp:domain", "udp:53"), ("tcp:[http]", "tcp:80"),
    ("17:53", "udp:53"), ("sctp:5", "sctp:5"), ("udplite:7", "udplite:7"), ("gre:0", "gre:0"),
    ("ICMP:ping", "icmp:echo-request"), ("icmp:3/5", "icmp:source-route-failed"),
    ("icmp:0/0", "icmp:echo-reply"), ("icmp:3/8", "icmp:3/8"), ("icmp:255/255", "icmp:255/255"),
    ("tcp:0", "tcp:0"), ("tcp:65535", "tcp:65535"), ("200:0", "200:0"),
])
def test_ports_print_as_ipset_prints_them(written: str, printed: str) -> None:
    dump = parse_ipset(f"create p hash:ip,port\nadd p 1.2.3.4,{written}\n")
    assert render_ipset(dump).splitlines()[1] == f"add p 1.2.3.4,{printed}"


def test_icmpv6_names_print_under_ipv6_icmp() -> None:
    dump = parse_ipset("create p hash:ip,port family inet6\nadd p ::1,icmpv6:ping\n"
                       "add p ::2,icmpv6:neigbour-solicitation\nadd p ::3,icmpv6:0/0\n")
    assert render_ipset(dump).splitlines()[1:] == [
        "add p ::1,ipv6-icmp:echo-request", "add p ::2,ipv6-icmp:neighbour-solicitation",
        "add p ::3,ipv6-icmp:0/0"]


@pytest.mark.parametrize("written,message", [
    ("tcp:70000", "'70000' is out of range 0-65535"),
    ("gre:5", "Protocol gre can be used with pseudo port value 0 only."),
    ("0:0", "Invalid protocol specified"),
    ("256:0", "cannot parse '256' as a protocol"),
    ("icmp:8", "Cannot parse 8 as an ICMP type/code."),
    ("icmp:ping-pong", "Cannot parse ping-pong as an ICMP type/code."),
    ("icmp:300/1", "'300' is out of range 0-255"),
    ("icmpv6:1/0", "ICMPv6 can be used with IPv6 sets only"),
])
def test_port_errors(written: str, message: str) -> None:
    err = error(f"create p hash:ip,port\nadd p 1.2.3.4,{written}\n")
    assert message in err.message
    assert err.column == 15


def test_port_ranges_are_kept_as_written_and_reversed_ones_ordered() -> None:
    (member,) = one("create p hash:ip,port\nadd p 1.2.3.4,tcp:5-3\n")
    assert member.parts[1] == PortPart(6, 3, 5)


# --- other dimensions ---------------------------------------------------------------------

def test_mac_mark_iface_set_parts() -> None:
    dump = parse_ipset(
        "create m bitmap:ip,mac range 10.0.0.0/24\nadd m 10.0.0.1,aa:Bb:cC:d:E:f\n"
        "create k hash:ip,mark markmask 0xff\nadd k 1.1.1.1,0x1234\n"
        "create i hash:net,iface\nadd i 1.1.0.0/16,physdev:br0\nadd i 1.2.0.0/16,eth wildcard\n"
        "create l list:set\nadd l m\n")
    assert dump["m"].members[0].parts[1] == MacPart(0xAABBCC0D0E0F)
    assert dump["k"].members[0].parts[1] == MarkPart(0x1234)
    assert dump["i"].members[0].parts[1] == IfacePart("br0", True)
    assert dump["i"].members[1].wildcard
    assert dump["l"].members[0].parts == (SetPart("m"),)
    assert render_ipset(dump).splitlines()[1] == "add m 10.0.0.1,AA:BB:CC:0D:0E:0F"


@pytest.mark.parametrize("text,message", [
    ("create x hash:net,iface\nadd x 1.2.3.0/24,eth0123456789abc\n", "longer than 15"),
    ("create x hash:mac\nadd x 00:00:00:00:00:00\n", "Null-valued element"),
    ("create x hash:ip\nadd x 0.0.0.0\n", "Null-valued element"),
    ("create x hash:mac\nadd x aabbccddeeff\n", "as ethernet address"),
    ("create x hash:net,port\nadd x 1.2.3.0/24\n", "needs 2 parts"),
    ("create x hash:net\nadd x 1.2.3.0/24,tcp:80\n", "elem separator"),
    ("create x bitmap:ip range 1.2.3.0/24\nadd x 1.2.4.4\n", "out of the range"),
    ("create x bitmap:ip,mac range 1.2.3.0/24\nadd x 1.2.3.4/31\n", "plain IP address"),
    ("create x hash:ip,port,ip\nadd x 1.2.3.4,80,5.6.7.8/30\n", "plain IP address"),
])
def test_element_errors(text: str, message: str) -> None:
    assert message in error(text).message


# --- entry options ------------------------------------------------------------------------

def test_entry_options_any_order_print_in_ipset_order() -> None:
    dump = parse_ipset(
        "create b hash:net timeout 10 counters comment skbinfo\n"
        "add b 10.0.0.0/8 skbqueue 7 comment \"x y\" bytes 2 packets 1 nomatch timeout 5 "
        "skbmark 0x5/0xff skbprio 10:abc\n"
        "add b 10.3.0.0/16 skbmark 0x5/0xffffffff\n")
    assert render_ipset(dump).splitlines()[1:] == [
        'add b 10.0.0.0/8 timeout 5 nomatch packets 1 bytes 2 comment "x y" skbmark 0x5/0xff'
        " skbprio 10:abc skbqueue 7",
        "add b 10.3.0.0/16 skbmark 0x5"]


@pytest.mark.parametrize("line,message", [
    ("add x 1.1.1.1 timeout 5", "Timeout cannot be used: set was created without timeout"),
    ("add x 1.1.1.1 packets 5", "Packet/byte counters cannot be used"),
    ("add x 1.1.1.1 comment x", "Comment cannot be used"),
    ("add x 1.1.1.1 skbqueue 1", "Skbinfo mapping cannot be used"),
    ("add x 1.1.1.1 nomatch", "Unknown argument: `nomatch'"),
    ("add x 1.1.1.1 extra", "Unknown argument: `extra'"),
    ("add x 1.1.1.1 timeout", "Missing mandatory argument of option `timeout'"),
])
def test_entry_option_errors(line: str, message: str) -> None:
    assert message in error(f"create x hash:ip\n{line}\n").message


@pytest.mark.parametrize("line,message", [
    ('add x 1.1.1.1 comment ""', "Missing mandatory argument of option `comment'"),
    ('add x 1.1.1.1 comment "a\\"b"', "Missing mandatory argument of option `comment'"),
    ("add x 1.1.1.1 comment 'sq x'", "Unknown argument: `x''"),
    ("add x 1.1.1.1 timeout 1 timeout 2", "timeout already specified"),
    ("add x 1.1.1.1 packets 18446744073709551615", "out of range 0-18446744073709551614"),
    ("add x 1.1.1.1 skbmark 5", "Invalid skbmark format"),
    ("add x 1.1.1.1 skbprio 1", "Invalid skbprio format"),
    ("add x 1.1.1.1 skbqueue 65536", "'65536' is out of range 0-65535"),
    ("add x 1.1.1.1 comment " + "x" * 256, "longer than the maximum allowed 255"),
])
def test_quoting_and_option_values(line: str, message: str) -> None:
    text = "create x hash:ip timeout 5 counters comment skbinfo\n" + line + "\n"
    assert message in error(text).message


def test_quotes_group_words_and_vanish() -> None:
    members = one('create x hash:ip comment\nadd x 1.1.1.1 comment "a b"c\n'
                  "add x 1.1.1.2 comment a\"b c\"d\nadd x 1.1.1.3 comment 'sq'\n"
                  'add x 1.1.1.4 comment "a\\\\b"\nadd x 1.1.1.5 "dangling\n')
    assert [m.comment for m in members] == ["a bc", "ab cd", "'sq'", "a\\\\b", None]


def test_an_element_out_of_a_bitmap_ip_mac_range_is_an_error_not_a_traceback() -> None:
    problem = error("create x bitmap:ip,mac range 10.0.0.0/24\nadd x 10.0.1.5,02:00:00:00:00:01\n")
    assert (problem.message, problem.line, problem.column) == (
        "Element is out of the range of the set", 2, 7)


def test_a_flag_given_twice_is_taken_once() -> None:
    """ipset refuses an option with a value given twice, not a flag."""
    dump = parse_ipset("create x hash:net counters counters\nadd x 10.0.0.0/8 nomatch nomatch\n")
    (member,) = dump["x"].members
    assert dump["x"].header.counters and member.options.nomatch


def test_skbinfo_values_truncate_like_ipset() -> None:
    (member,) = one("create x hash:ip skbinfo\n"
                    "add x 1.1.1.1 skbmark 0x100000000 skbprio 10000:0x1\n")
    assert member.skbmark == (0, 0xFFFFFFFF)
    assert member.skbprio == (0, 1)


# --- create options -----------------------------------------------------------------------

def test_create_options_any_order_and_old_spellings() -> None:
    dump = parse_ipset("create a hash:ip timeout 5 --hashsize 64 -6 maxelem 010 counters\n"
                       "n b iphash family ipv6\n-N c ipmap --from 1.0.0.0 --to 1.0.0.255\n"
                       "create d macipmap --network 1.0.0.0/24\ncreate e portmap --from 1 --to 9\n"
                       "create f setlist\n")
    assert render_ipset(dump) == (
        "create a hash:ip family inet6 hashsize 64 maxelem 8 timeout 5 counters\n"
        "create b hash:ip family inet6\n"
        "create c bitmap:ip range 1.0.0.0-1.0.0.255\n"
        "create d bitmap:ip,mac range 1.0.0.0-1.0.0.255\n"
        "create e bitmap:port range 1-9\n"
        "create f list:set\n")


def test_ignored_old_options_warn() -> None:
    warnings: list[ParseWarning] = []
    parse_ipset("create a hash:ip probes 4 resize 50\n", warnings=warnings)
    assert [w.message for w in warnings] == [
        "Option '--probes 4' is ignored. Please upgrade your syntax.",
        "Option '--resize 50' is ignored. Please upgrade your syntax."]


@pytest.mark.parametrize("line,message,column", [
    ("create x hash:ip6", "typename 'hash:ip6' is unknown", 10),
    ("create x iptree", "typename 'iptree' is unknown", 10),
    ("create x HASH:IP", "typename 'HASH:IP' is unknown", 10),
    ("create " + "n" * 32 + " hash:ip", "longer than 31 characters", 8),
    ("create x hash:ip extra", "Unknown argument: `extra'", 18),
    ("create x hash:ip timeout", "Missing mandatory argument of option `timeout'", 25),
    ("create x hash:ip timeout 1 timeout 2", "timeout already specified", 28),
    ("create x hash:ip timeout 2147484", "'2147484' is out of range 0-2147483", 26),
    ("create x hash:ip netmask 0", "netmask is out of the inclusive range of 1-32", 26),
    ("create x hash:ip netmask 8 bitmask 255.0.0.0", "mutually exclusive", 36),
    ("create x hash:ip,mark markmask 0", "markmask must be between 1 and 4294967295", 32),
    ("create x bitmap:ip", "Mandatory option `range' is missing", 1),
    ("create x bitmap:ip range 10.0.0.0/15", "exceeds the size limit", 26),
    ("create x bitmap:ip range 10.0.0.0/24 netmask 8", "exceeds the size limit", 26),
    ("create x bitmap:ip range 10.0.0.7", "IP/cidr or IP-IP range must be specified", 26),
    ("create x bitmap:port range 80", "Mandatory option `to' is missing", 28),
    ("create x list:set family inet", "Unknown argument: `family'", 19),
    ("create", "Missing mandatory argument to command create", 7),
    ("create x", "Missing second mandatory argument to command create", 9),
])
def test_create_errors(line: str, message: str, column: int) -> None:
    err = error(line + "\n")
    assert message in err.message
    assert (err.line, err.column) == (1, column)
    assert err.line_text == line and err.filename == "f"


def test_bitmap_ranges_masked_by_netmask() -> None:
    dump = parse_ipset("create x bitmap:ip range 10.0.0.5-10.0.3.7 netmask 24\n"
                       "create y bitmap:port range 100-1\n")
    assert dump["x"].header.range == (IP("10.0.0.0"), IP("10.0.3.255"))
    assert dump["y"].header.range == (1, 100)


# --- restore semantics --------------------------------------------------------------------

def test_commands_abbreviated_and_old_forms() -> None:
    dump = parse_ipset("cr a hash:ip\n--add a 1.1.1.1\nad a 1.1.1.2\nc b hash:ip\nren b c\n"
                       "des c\ncre d hash:ip\nsw a d\nd d 1.1.1.1\n-A a 9.9.9.9\n")
    assert render_ipset(dump) == ("create a hash:ip\nadd a 9.9.9.9\n"
                                  "create d hash:ip\nadd d 1.1.1.2\n")


def test_comments_blank_lines_and_blanks_around_words() -> None:
    dump = parse_ipset("# saved\n\ncreate x hash:ip\n   add x 1.2.3.4   \n\tadd\tx\t1.2.3.5\r\n")
    assert [m.parts[0] for m in dump["x"].members] == [IpPart(IP("1.2.3.4"), 32),
                                                      IpPart(IP("1.2.3.5"), 32)]


def test_global_options_anywhere_on_a_line() -> None:
    dump = parse_ipset("create x hash:ip\n-exist create x hash:ip\ncreate x hash:ip -!\n"
                       "add x 1.1.1.1 -q\ndel x 2.2.2.2 -exist\n")
    assert len(dump["x"]) == 1


def test_exist_does_not_excuse_duplicate_adds() -> None:
    """ipset restore honours a line's -exist for create and del but not for add."""
    err = error("create x hash:ip\nadd x 1.1.1.1\n-exist add x 1.1.1.1\n")
    assert "it's already added" in err.message and err.line == 3
    err = error("create x hash:ip\n-exist create x hash:ip timeout 5\n")
    assert "same name already exists" in err.message


@pytest.mark.parametrize("text,message,line", [
    ("create x hash:ip\nadd x 1.1.1.1\nadd x 1.1.1.1\n", "it's already added", 3),
    ("create x hash:ip netmask 24\nadd x 1.0.0.1\nadd x 1.0.0.2\n", "it's already added", 3),
    ("create x hash:ip,port\nadd x 1.0.0.1,tcp:80\nadd x 1.0.0.1,80\n", "already added", 3),
    ("create x hash:net\nadd x 1.0.0.0/8\nadd x 1.0.0.0/8 nomatch\n", "already added", 3),
    ("create x hash:net\nadd x 1.0.0.0/8\nadd x 1.2.3.4/8\n", "already added", 3),
    ("create x hash:net,iface\nadd x 1.0.0.0/8,eth wildcard\nadd x 1.0.0.0/8,eth0\n",
     "already added", 3),
    ("create x bitmap:ip,mac range 1.0.0.0/24\nadd x 1.0.0.1,00:11:22:33:44:55\n"
     "add x 1.0.0.1\n", "already added", 3),
    ("create x hash:net maxelem 2\nadd x 1.0.0.0/8\nadd x 2.0.0.0/8\nadd x 3.0.0.0/8\n",
     "Hash is full", 4),
    ("create x hash:ip maxelem 2\nadd x 1.0.0.1-1.0.0.3\n", "Hash is full", 2),
    ("create x hash:ip\ndel x 1.1.1.1\n", "it's not added", 2),
    ("create x hash:ip\ncreate x hash:ip\n", "same name already exists", 2),
    ("add x 1.1.1.1\n", "does not exist", 1),
    ("create a hash:ip\nswap a b\n", "the second set does not exist", 2),
    ("create a hash:ip\ncreate b hash:net\nswap a b\n", "type does not match", 3),
    ("create a hash:ip\ncreate b hash:ip family inet6\nswap a b\n", "type does not match", 3),
    ("create a hash:ip\ncreate b hash:ip\nrename a b\n", "already exists", 3),
    ("create a hash:ip\nversion\n", "Command `version' is invalid in restore mode.", 2),
    ("create a hash:ip\nfoo a\n", "unknown command `foo'", 2),
    ("create a hash:ip\ncreate l list:set\nadd l a\ndestroy a\n", "in use", 4),
    ("create a hash:ip\ncreate l list:set\nadd l x\n", "does not exist", 3),
    ("create l list:set\ncreate m list:set\nadd l m\n", "list:set type cannot be added", 3),
    ("create a hash:ip\ncreate b hash:ip\ncreate l list:set\nadd l a\nadd l b before x\n",
     "'before' or 'after' does not exist", 5),
    ("create a hash:ip\ncreate b hash:ip\ncreate l list:set\nadd l a\nadd l b before b\n",
     "is not added to the set", 5),
    ("create a hash:ip\ncreate l list:set\nadd l a timeout 5\n", "Timeout cannot be used", 3),
    ("create a hash:ip\nadd a 1.1.1.1\ntest a 1.1.1.2\n", "is NOT in set a", 3),
])
def test_restore_errors(text: str, message: str, line: int) -> None:
    err = error(text)
    assert message in err.message
    assert err.line == line


def test_netiface_order_of_wildcard_and_exact() -> None:
    """An exact name may be added next to a wildcard it matches only when it came first."""
    dump = parse_ipset("create x hash:net,iface\nadd x 1.0.0.0/8,eth0\n"
                       "add x 1.0.0.0/8,eth wildcard\nadd x 1.0.0.0/8,physdev:eth0\n")
    assert len(dump["x"]) == 3


def test_del_rename_swap_flush_destroy_replay() -> None:
    dump = parse_ipset(
        "create a hash:ip\nadd a 1.1.1.1\nadd a 1.1.1.2\ndel a 1.1.1.1\n"
        "create b hash:ip\nadd b 2.2.2.2\nrename b c\nswap a c\n"
        "create t hash:net\nadd t 9.0.0.0/8\nflush t\ncreate gone hash:ip\ndestroy gone\n"
        "create new hash:ip\n")
    # the kernel keeps its set array: a destroyed set's slot is reused by the next create
    assert [s.name for s in dump] == ["a", "c", "t", "new"]
    assert render_ipset(dump).splitlines()[:4] == ["create a hash:ip", "add a 2.2.2.2",
                                                   "create c hash:ip", "add c 1.1.1.2"]
    assert len(dump["t"]) == 0


def test_deleting_part_of_a_range_keeps_the_rest_as_entries() -> None:
    dump = parse_ipset("create a hash:ip\nadd a 1.2.3.0/30\ndel a 1.2.3.1\n")
    assert render_ipset(dump).splitlines()[1:] == ["add a 1.2.3.0", "add a 1.2.3.2",
                                                   "add a 1.2.3.3"]


def test_bitmap_ipmac_mac_filled_in_later() -> None:
    dump = parse_ipset("create x bitmap:ip,mac range 1.0.0.0/24\nadd x 1.0.0.1\n"
                       "add x 1.0.0.1,00:11:22:33:44:55\n")
    assert render_ipset(dump).splitlines()[1:] == ["add x 1.0.0.1,00:11:22:33:44:55"]


def test_list_set_order_before_after_and_rename() -> None:
    dump = parse_ipset("create a hash:ip\ncreate b hash:ip\ncreate c hash:ip\n"
                       "create l list:set\nadd l a\nadd l c\nadd l b before c\n"
                       "add l b2 after a\n" if False else
                       "create a hash:ip\ncreate b hash:ip\ncreate c hash:ip\ncreate d hash:ip\n"
                       "create l list:set\nadd l a\nadd l c\nadd l b before c\nadd l d after a\n"
                       "rename c e\ndel l a\n")
    assert [m.parts[0] for m in dump["l"].members] == [SetPart("d"), SetPart("b"),
                                                       SetPart("e")]


def test_list_sets_come_after_the_others() -> None:
    dump = parse_ipset("create l list:set\ncreate a hash:ip\n")
    assert [s.name for s in dump] == ["a", "l"]


def test_list_and_save_commands_are_accepted_and_change_nothing() -> None:
    assert len(parse_ipset("create a hash:ip\nlist\nsave a\n")) == 1


# --- list style ---------------------------------------------------------------------------

LISTING = """\
Name: a
Type: hash:ip
Revision: 6
Header: family inet hashsize 1024 maxelem 65536 timeout 600
Size in memory: 216
References: 1
Number of entries: 1
Members:
10.0.1.7 timeout 573

Name: empty
Type: list:set
Revision: 3
Header: size 8
Size in memory: 176
References: 0
Number of entries: 0
Members:
"""


def test_list_style_fields() -> None:
    dump = parse_ipset(LISTING)
    a = dump["a"]
    assert (a.revision, a.size_in_memory, a.references, a.entries) == (6, 216, 1, 1)
    assert a.header == Header(family="inet", hashsize=1024, maxelem=65536, timeout=600)
    assert a.members[0].timeout == 573
    assert dump.style == "list"
    assert render_ipset(dump, "list") == LISTING


@pytest.mark.parametrize("text,message,line", [
    ("Name: a\nType: hash:foo\nHeader: x\nMembers:\n", "typename 'hash:foo' is unknown", 2),
    ("Name: a\nHeader: family inet\nType: hash:ip\nMembers:\n", "Header: before Type:", 2),
    ("Name: a\nType: hash:ip\nHeader: family inet\nSize in memory: 1\nSize in memory: 2\n"
     "Members:\n", "given twice", 5),
    ("Name: a\nType: hash:ip\nHeader: family inet\nMembers:\n1.2.3.4\nfoo\n",
     "cannot parse foo", 6),
    ("Name: a\nType: hash:ip\nHeader: family inet\nMembers:\n\nName: a\nType: hash:ip\n"
     "Header: family inet\nMembers:\n", "listed twice", 6),
    ("Name: a\nType: hash:ip\nHeader: family inet\nRevision: x\nMembers:\n",
     "Revision: 'x' is invalid as number", 4),
    ("Name: a\nType: hash:ip\nHeader: family inet\n\n", "Members: line missing", 4),
    ("Name: a\nType: hash:ip\nHeader: family inet timeout x\nMembers:\n",
     "'x' is invalid as number", 3),
    ("Name: a\nBogus: 1\n", "not an ipset list line", 2),
    # `ipset list -t` (ipset 7.17): headers only
    ("Name: blocklist\nType: hash:net\nRevision: 7\nHeader: family inet hashsize 1024 "
     "maxelem 65536 bucketsize 12 initval 0x6560a908\nSize in memory: 600\nReferences: 0\n"
     "Number of entries: 3\n", "`ipset list -t' prints headers only", 7),
])
def test_list_style_errors(text: str, message: str, line: int) -> None:
    err = error(text)
    assert message in err.message
    assert err.line == line


def test_collect_reports_every_error_and_skip_warns() -> None:
    text = "create a hash:ip\nadd a 1.2.3.4\nadd a nope\nadd b 1.1.1.1\nadd a 5.6.7.8\n"
    with pytest.raises(ParseErrors) as info:
        parse_ipset(text, errors="collect")
    assert [e.line for e in info.value] == [3, 4]
    warnings: list[ParseWarning] = []
    dump = parse_ipset(text, errors="skip", warnings=warnings)
    assert len(dump["a"]) == 2
    assert [(w.line, w.message.startswith("skipped: ")) for w in warnings] == [(3, True),
                                                                            (4, True)]


def test_skip_drops_a_set_whose_header_is_bad_with_a_warning_per_line() -> None:
    text = ("Name: a\nType: hash:ip\nHeader: family inet timeout x\nMembers:\n"
            "1.1.1.1 timeout x\n\nName: b\nType: hash:ip\nHeader: family inet\nMembers:\n"
            "2.2.2.2\n")
    warnings: list[ParseWarning] = []
    dump = parse_ipset(text, errors="skip", warnings=warnings)
    assert dump.names() == ["b"]
    assert [w.line for w in warnings] == [3, 4, 5]
    assert "set a, which is skipped" in warnings[-1].message


def test_lookup_by_name_and_position() -> None:
    dump = parse_ipset("create a hash:ip\ncreate b hash:net\n")
    assert dump["b"] is dump[1] and dump.get("zz") is None
    assert "a" in dump and "zz" not in dump
    assert dump["a"].family_name == "inet"
    assert parse_ipset("create m hash:mac\n")["m"].family_name == "unspec"


@pytest.mark.parametrize("lines", [
    ["add x 10.0.0.0/16 nomatch", "add x 10.0.0.0/16"],  # general path, then fast path
    ["add x 10.0.0.0/16", "add x 10.0.0.0/16"],  # duplicate inside one fast run
    ["add x 10.0.0.0/16", "add x 10.0.0.0/16 nomatch"],  # fast path, then general path
    ["add x 10.0.0.0/16", "add x 10.0.0.0/8", "add y 1.1.1.1", "add x 10.0.1.0/16"],
])
def test_duplicates_are_refused_whichever_path_they_take(lines: list[str]) -> None:
    text = "create x hash:net\ncreate y hash:ip\n" + "\n".join(lines) + "\n"
    err = error(text)
    assert "it's already added" in err.message and err.line == len(lines) + 2
    warnings: list[ParseWarning] = []
    dump = parse_ipset(text, errors="skip", warnings=warnings)
    assert len(dump["x"]) == len({line.split()[2].replace("10.0.1.0", "10.0.0.0")
                                  for line in lines if line.startswith("add x")})
    assert dump["x"].members[0].nomatch == lines[0].endswith("nomatch")
