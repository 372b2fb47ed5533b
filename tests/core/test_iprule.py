"""`ip rule` output read into rules, and what the routing decision makes of them (the kernel
checks the same in tests/sandbox/test_policy_routing.py)."""

from __future__ import annotations

import pytest

from iptparse.domain import NameSet
from iptparse.host import Host, HostError, parse_routes, parse_rules
from iptparse.iprule import (
    DEFAULT_RULES,
    IpRule,
    ReverseFlow,
    RuleListError,
    parse_ip_rules,
    rule_lists,
)
from iptparse.logic import FALSE, TRUE, And, Assume, Not, Test
from iptparse.nodes import Family
from iptparse.packet import parse_packet
from iptparse.parser import parse_iptables
from iptparse.report import format_trace
from iptparse.ruleset import Ruleset
from iptparse.trace import TraceResult, trace

#: `ip rule show` on this kernel after adding rules of every form (tabs as it prints them)
SHOWN = """0:\tfrom all lookup local
892:\tfrom all fwmark 0x539 lookup 133
893:\tfrom all iif lo lookup 15
894:\tfrom all uidrange 1000-2000 lookup 14
896:\tfrom all fwmark 0 lookup 12
898:\tfrom 5.6.7.8 prohibit
899:\tfrom all to 1.2.3.4 unreachable
900:\tfrom all blackhole
950:\tfrom all goto 5300
960:\tfrom all nop
5206:\tfrom all ipproto tcp dport 80-90 lookup 9
5207:\tfrom all oif a0 lookup 8
5208:\tfrom all iif nosuch [detached] lookup 7
5209:\tfrom 10.0.0.0/8 to 192.168.0.0/16 iif a0 lookup 200
5210:\tfrom all fwmark 0x80000/0xff0000 lookup main
5300:\tfrom all lookup main suppress_prefixlength 0
32764:\tnot from all fwmark 0xca6c lookup 51820
32766:\tfrom all lookup main
32767:\tfrom all lookup default
"""


def rules(text: str) -> list[IpRule]:
    return parse_ip_rules(list(enumerate(text.splitlines(), 1)))


def by_priority() -> dict[int, IpRule]:
    return {r.priority: r for r in rules(SHOWN)}


def test_every_form_ip_prints() -> None:
    r = by_priority()
    assert r[892].fwmark == (0x539, 0xFFFFFFFF) and r[892].table == "133"
    assert r[896].fwmark == (0, 0xFFFFFFFF)  # `fwmark 0/0xffffffff`; `fwmark 0` alone is not shown
    assert r[5210].fwmark == (0x80000, 0xFF0000) and r[5210].table == "main"
    assert (r[898].src, r[898].action) == ((0x05060708, 32), "prohibit")
    assert (r[899].dst, r[899].action) == ((0x01020304, 32), "unreachable")
    assert r[900].action == "blackhole" and r[960].action == "nop"
    assert (r[950].action, r[950].goto) == ("goto", 5300)
    assert (r[5206].ipproto, r[5206].dport, r[5206].sport) == (6, (80, 90), None)
    assert r[5207].oif == "a0" and r[5208].detached and r[5208].iif == "nosuch"
    assert r[5209].family is Family.INET and r[5209].dst == (0xC0A80000, 16)
    assert r[5300].suppress_prefixlength == 0
    assert r[32764].invert and r[32764].table == "51820"
    assert r[894].unseen == ("uidrange 1000-2000",)
    assert rules("5:\tfrom all lookup 255\n")[0].table == "local"
    unresolved = rules("3:\tfrom all goto 4 [unresolved]\n")[0]  # no rule 4: passes on
    assert (unresolved.action, unresolved.goto) == ("goto", 4)


def test_a_line_that_is_no_rule_is_named() -> None:
    with pytest.raises(RuleListError, match=r"line 2: cannot read a routing rule in "
                       r"`7: from all frobnicate 3'"):
        rules("0:\tfrom all lookup local\n7: from all frobnicate 3\n")
    with pytest.raises(HostError, match="line 1: cannot read a routing rule"):
        parse_rules("10:\tfrom all fwmark zz lookup 1\n")


def test_selectors() -> None:
    r = by_priority()
    inet = Family.INET
    assert r[0].selector(inet, local=False) is TRUE
    mark = r[892].selector(inet, local=False)
    assert isinstance(mark, Test) and mark.field == "mark" and mark.text == "mark = 0x539"
    # a received packet's lookup has no output interface; a local one's input is lo
    assert r[5207].selector(inet, local=False) is FALSE
    assert isinstance(r[5207].selector(inet, local=True), Assume)
    assert r[893].selector(inet, local=True) is TRUE
    assert r[893].selector(inet, local=False) == Test("iif", NameSet.single("lo"))
    assert r[5208].selector(inet, local=False) is FALSE
    detached_inverted = rules("5:\tnot from all iif gone [detached] lookup 7\n")[0]
    assert detached_inverted.selector(inet, local=False) is TRUE
    assert isinstance(r[32764].selector(inet, local=False), Not)
    assert isinstance(r[894].selector(inet, local=False), Assume)
    outside = rules("5:\tfrom all fwmark 0x3/0x1 lookup 7\n")[0]  # bits outside the mask
    selected = outside.selector(inet, local=False)  # are ignored, as ip route get shows
    assert isinstance(selected, Test) and selected.text == "mark & 0x1 = 0x1"


def test_two_lists_and_their_families() -> None:
    v6 = ("0:\tfrom all lookup local\n100:\tfrom all fwmark 0x1 lookup 7\n"
          "32766:\tfrom all lookup main\n")
    v4 = ("0:\tfrom all lookup local\n32766:\tfrom all lookup main\n"
          "32767:\tfrom all lookup default\n")
    # the IPv4 list has the rule for table default, whichever comes first
    for text in (v4 + v6, v6 + v4):
        lists = rule_lists(rules(text))
        assert lists[Family.INET] == DEFAULT_RULES[Family.INET]
        assert [r.priority for r in lists[Family.INET6]] == [0, 100, 32766]
    addressed = "0:\tfrom all lookup local\n9:\tfrom 2001:db8::/32 lookup 7\n"
    lists = rule_lists(rules(v6.replace("100:", "50:") + addressed))
    assert [r.priority for r in lists[Family.INET6]] == [0, 9]
    assert [r.priority for r in lists[Family.INET]] == [0, 50, 32766]
    alone = rule_lists(rules(v6))
    assert alone[Family.INET] == alone[Family.INET6]
    with pytest.raises(RuleListError, match="3 rule lists"):
        rule_lists(rules(v4 + v6 + v4))


def test_routes_of_other_tables_and_the_local_table() -> None:
    routes = parse_routes(
        "default via 10.0.0.1 dev eth0\n"
        "default dev wg0 table 51820 scope link\n"
        "local default dev lo table 133 scope host\n"
        "broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.5\n"
        "local 10.0.0.5 dev eth0 table local proto kernel scope host src 10.0.0.5\n"
        "32766:\tfrom all lookup main\n")
    assert [(r.kind, r.table) for r in routes] == [
        ("unicast", "main"), ("unicast", "51820"), ("local", "133"), ("broadcast", "local"),
        ("local", "local")]
    host = Host((), routes)
    assert [r.interface for r in host.routes_for(Family.INET)] == ["eth0"]
    assert host.routes_for(Family.INET, "51820")[0].text() == "default dev wg0 table 51820"
    assert 0x0A0000FF in host.broadcast_addresses(Family.INET)
    local = host.local_addresses(Family.INET)
    assert 0x0A000005 in local and 0xCB007107 not in local  # table 133's route is not local


RULES = """*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
-A PREROUTING -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x539/0xffffffff
-A OUTPUT -p tcp -m tcp --dport 80 -j MARK --set-xmark 0x539/0xffffffff
COMMIT
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -p tcp -m tcp --dport 80 -j ACCEPT
COMMIT
"""

TPROXY = """0:\tfrom all lookup local
32765:\tfrom all fwmark 0x539 lookup 133
32766:\tfrom all lookup main
32767:\tfrom all lookup default
default via 10.0.0.1 dev eth0
10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.5
198.51.100.0/24 dev eth1 table 133
local default dev lo table 133 scope host
broadcast 10.0.0.255 dev eth0 table local proto kernel scope link src 10.0.0.5
local 10.0.0.5 dev eth0 table local proto kernel scope host src 10.0.0.5
"""


def run(spec: str, path: str = "forward", routes: str = TPROXY) -> TraceResult:
    return trace(Ruleset([parse_iptables(RULES)], host=Host.from_text(None, routes)),
                 parse_packet(spec), path)


def test_a_mark_sends_the_packet_to_the_host() -> None:
    """TPROXY's setup: the marked packet meets table 133's `local default` route."""
    result = run("tcp 192.0.2.9:4000 -> 203.0.113.7:80 iif=eth1 ctstate=NEW mark=0x0")
    (path,) = result.paths
    assert path.verdict == "ACCEPT" and path.state.path == "in"
    assert [(h.table, h.chain, h.rule) for h in path.hits] == [("mangle", "PREROUTING", 1),
                                                               ("filter", "INPUT", 1)]
    text = format_trace(result)
    assert ("routing: delivered locally (INPUT) by route local default dev lo table 133 "
            "(rule 32765: from all fwmark 0x539 lookup 133)") in text
    # more specific than the local route: table 133's own subnet is forwarded
    (other,) = run("tcp 192.0.2.9:4000 -> 198.51.100.7:80 iif=eth0 ctstate=NEW mark=0x0").paths
    assert other.state.current("oif").single_value() == "eth1"
    unmarked = run("tcp 192.0.2.9:4000 -> 203.0.113.7:81 iif=eth1 ctstate=NEW mark=0x0")
    assert "routing: forwarded by route default via 10.0.0.1 dev eth0, oif = eth0" in (
        format_trace(unmarked))


def test_open_packets_split_on_the_rules_selector() -> None:
    result = run("tcp 192.0.2.9 -> 203.0.113.7 iif=eth1 ctstate=NEW", path="forward")
    verdicts = {(p.verdict, p.state.path): p.conditions for p in result.paths}
    assert verdicts[("DROP", "in")] == ["dport ≠ 80 and mark = 0x539"]
    assert verdicts[("ACCEPT", "forward")] == ["dport ≠ 80 and mark ≠ 0x539"]
    assert verdicts[("ACCEPT", "in")] == ["dport = 80"]


def test_mangle_output_marks_route_again() -> None:
    """A local packet routed by main before OUTPUT, marked in mangle OUTPUT: routed again."""
    result = run("tcp 10.0.0.5:4000 -> 198.51.100.7:80 ctstate=NEW mark=0x0", path="out")
    (path,) = result.paths
    assert path.state.current("oif").single_value() == "eth1"  # POSTROUTING's
    assert "· routing: sent, oif = eth0" in format_trace(result)
    assert "routing again: mangle OUTPUT changed the mark; POSTROUTING sees oif = eth1" in (
        format_trace(result))
    # without rules of its own the host's routes depend on dst alone: no second routing
    plain = run("tcp 10.0.0.5:4000 -> 198.51.100.7:80 ctstate=NEW mark=0x0", path="out",
                routes="\n".join(TPROXY.splitlines()[4:]))
    assert "routing again" not in format_trace(plain)


def test_rules_that_drop_jump_and_throw() -> None:
    routes = ("0:\tfrom all lookup local\n"
              "10:\tfrom all fwmark 0x1 goto 30\n"
              "20:\tfrom all lookup 100\n"
              "30:\tfrom all fwmark 0x2 blackhole\n"
              "40:\tfrom all lookup 200 suppress_prefixlength 8\n"
              "32766:\tfrom all lookup main\n"
              "10.0.0.0/8 dev eth2 table 100\n"
              "throw 10.9.0.0/16 table 100\n"
              "10.0.0.0/8 dev eth3 table 200\n"
              "10.9.0.0/16 dev eth4 table 200\n"
              "default dev eth1\n")

    def where(dst: str, mark: int) -> str:
        (path,) = run(f"udp 192.0.2.9:4000 -> {dst}:53 iif=eth0 ctstate=NEW mark={mark:#x}",
                      routes=routes).paths
        return path.state.stopped or str(path.state.current("oif").single_value())

    assert where("10.1.0.1", 0) == "eth2"  # table 100
    assert where("10.9.0.1", 0) == "eth4"  # thrown by 100; 200's /16 is not suppressed
    assert where("10.1.0.1", 1) == "eth1"  # goto 30 skips 100; 200's /8 is suppressed: main
    assert where("10.1.0.1", 2) == "eth2"  # table 100 first
    assert where("172.16.0.1", 2) == "routing (the rule `30: from all fwmark 0x2 blackhole')"
    assert where("172.16.0.1", 0) == "eth1"


def test_a_default_route_through_a_device_takes_its_neighbours_family() -> None:
    routes = parse_routes("default dev wg0 table 51820 scope link\n"
                          "10.0.0.0/24 dev eth0\n"
                          "2001:db8::/64 dev eth0 proto kernel metric 256\n"
                          "local default dev lo table 133 metric 1024\n"
                          "default dev tun0 metric 1024 pref medium\n"
                          "default dev tun1 src 2001:db8::5\n")
    assert [r.family for r in routes] == [Family.INET, Family.INET, Family.INET6,
                                          Family.INET6, Family.INET6, Family.INET6]


def test_the_reverse_lookups_selector() -> None:
    """-m rpfilter's flow: from the packet's destination (none for multicast, broadcast and
    0/8 ones) to its source, in by lo, no protocol or output interface, the mark only with
    --validmark."""
    def reverse(text: str, validmark: bool = True) -> object:
        flow = ReverseFlow("lo", mark=validmark, zero_special=True)
        return rules(f"5:\tfrom all {text} lookup 7\n".replace("from all from", "from"))[
            0].reverse_selector(flow, TRUE)

    to = reverse("to 192.0.2.0/24")
    assert isinstance(to, Test) and to.field == "src"
    source = reverse("from 10.0.0.0/8")
    assert isinstance(source, Test) and source.field == "dst"
    assert 0xE0000001 not in source.values
    anywhere = reverse("from 0.0.0.0/1")  # holds 0.0.0.0: multicast destinations meet it
    assert isinstance(anywhere, Test) and 0xE0000001 in anywhere.values
    assert 0x01000000 in anywhere.values and 0x00000005 in anywhere.values
    assert reverse("iif lo") is TRUE and reverse("iif eth0") is FALSE
    assert reverse("oif eth0") is FALSE and reverse("ipproto tcp") is FALSE
    assert reverse("fwmark 0x1", validmark=False) is FALSE
    assert reverse("fwmark 0/0x1", validmark=False) is TRUE
    assert isinstance(reverse("fwmark 0x1"), Test)

    # fib_validate_source's flow: the output interface in, protocol and swapped ports
    validate = ReverseFlow("eth1", mark=False, ports=True)
    rule = rules("5:\tfrom all iif eth1 ipproto tcp sport 80 lookup 7\n")[0]
    selected = rule.reverse_selector(validate, TRUE)
    assert isinstance(selected, And)
    assert {p.field for p in selected.parts if isinstance(p, Test)} == {"proto"}
    assert "dport" in repr(selected)  # the rule's sport is the packet's dport
