"""What targets do to a packet: traces on small rulesets, and the kernel lab as the judge.

Unit tests walk concrete packets (exact hits, verdicts and final field values) and abstract ones
(the conditions each path rests on; concrete packets drawn from a path's constraints must take
that very path; assumptions pinned one way or the other leave one path). Kernel tests load the
same rules into the lab's router and require its counters, delivery and the headers of the frame
it sent to equal one of the trace's paths (the only one, where nothing is assumed).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable, Mapping, Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet, NameSet, ValueSet
from iptparse.events import TargetApplied
from iptparse.extensions._d_sem import BitCube, masked_image, range_bits
from iptparse.fields import CT_STATES
from iptparse.host import MARTIAN, Host
from iptparse.ipset import parse_ipset
from iptparse.logic import BitsExpr
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import TCP_ACK, TCP_FIN, TCP_SYN, KernelPacket
from iptparse.sandbox.lab import KernelResult, Lab
from iptparse.trace import Alternative, PathResult, TraceResult, trace
from iptparse.verify.model import LabSetup, lab_host, model_packet

from ..conftest import require_kernel
from ._helpers import lab_counts, table, trace_counts

V4, V6 = Family.INET, Family.INET6


def ruleset(rules: str, family: Family = V4, *, host: Host | None = None,
            sets: str = "") -> Ruleset:
    dump = parse_ipset(sets) if sets else []
    return Ruleset([parse_iptables(rules, family=family)], host=host,
                   sets={s.name: s for s in dump})


def run(rules: str | Ruleset, spec: str | Packet, path: str = "forward", *,
        family: Family = V4, assumptions: Mapping[str, bool] | None = None) -> TraceResult:
    rs = rules if isinstance(rules, Ruleset) else ruleset(rules, family)
    packet = parse_packet(spec, family=family) if isinstance(spec, str) else spec
    return trace(rs, packet, path, assumptions=assumptions)


def only(result: TraceResult) -> PathResult:
    assert len(result.paths) == 1, [(p.verdict, p.conditions) for p in result.paths]
    return result.paths[0]


def hits(path: PathResult) -> list[tuple[str, str, int]]:
    return [(h.table, h.chain, h.rule) for h in path.hits]


def final(path: PathResult, name: str) -> int | str | None:
    """The field's value at the end of the path when it is exact, else None."""
    return path.state.current(name).single_value()


def values(path: PathResult, name: str) -> ValueSet:
    """The field's exact value set at the end of the path (`current` gives bit fields as one
    cube of known bits; a rewritten field is one variable whose set the box holds)."""
    target = path.state.env.get(name, name)
    if isinstance(target, BitsExpr):
        assert len(target.sources) == 1 and target.xor == 0, target
        target = target.sources[0][0]
    assert isinstance(target, str)
    return path.state.box.get(target)


def notes(path: PathResult) -> list[str]:
    return [s.note for s in path.steps if isinstance(s, TargetApplied) and s.note]


def addr(text: str) -> int:
    return int(ipaddress.ip_address(text))


# --- drawing concrete packets from a path's constraints -----------------------------------

def _pick(rng: random.Random, values: ValueSet) -> int | str:
    if isinstance(values, NameSet):
        name = values.example()
        assert name is not None
        return name
    if isinstance(values, BitSet):
        value, mask = rng.choice(values.cubes)
        return value | (rng.getrandbits(values.width) & ~mask)
    lo, hi = rng.choice(values.ranges)
    return rng.randint(lo, hi)


def drawn(alternative: Alternative, rng: random.Random, family: Family
          ) -> tuple[Packet, dict[str, bool]]:
    """A concrete input packet (and pinned assumptions) inside one alternative's box."""
    fields: dict[str, ValueSet] = {}
    pins: dict[str, bool] = {}
    for var, values in alternative.box.items():
        if var.startswith("?"):
            single = values.single_value()
            if single is not None:
                pins[var[1:]] = single == 1
        elif "@" not in var:
            value = _pick(rng, values)
            if isinstance(values, NameSet):
                fields[var] = NameSet.single(str(value))
            elif isinstance(values, BitSet):
                fields[var] = BitSet.single(int(value), values.width)
            else:
                fields[var] = IntSet.single(int(value), values.top)
    return Packet(fields, family), pins


def assert_draws_land(rs: Ruleset, result: TraceResult, rng: random.Random,
                      per_alternative: int = 4) -> int:
    """Every concrete packet drawn from a path's constraints takes exactly that path."""
    checked = 0
    for path in result.paths:
        for alternative in path.alternatives:
            for _ in range(per_alternative):
                packet, pins = drawn(alternative, rng, result.family)
                again = only(trace(rs, packet, result.path, assumptions=pins))
                assert (again.verdict, again.hits) == (path.verdict, path.hits), (
                    packet, pins, alternative.readable())
                checked += 1
    return checked


# --- MARK and CONNMARK ---------------------------------------------------------------------

MARKS = table("mangle", """\
-A PREROUTING -j MARK --set-xmark 0x10/0xff
-A PREROUTING -j MARK --or-mark 0x100
-A PREROUTING -j MARK --and-mark 0xffff0fff
-A PREROUTING -j MARK --xor-mark 0x11
-A PREROUTING -m mark --mark 0x101/0xf1ff
-A PREROUTING -m mark --mark 0xabc00000/0xfff00000
""")


def test_mark_arithmetic_on_a_known_mark() -> None:
    path = only(run(MARKS, "tcp 1.1.1.1:1 -> 2.2.2.2:2 mark=0xabc0f0ff"))
    # ((0xabc0f0ff & ~0xff) ^ 0x10 | 0x100) & 0xffff0fff ^ 0x11
    assert final(path, "mark") == 0xABC00101
    assert hits(path)[4:] == [("mangle", "PREROUTING", 5), ("mangle", "PREROUTING", 6)]
    assert notes(path)[:4] == ["mark = (mark & 0xffffff00) ^ 0x10", "mark |= 0x100",
                               "mark &= 0xffff0fff", "mark ^= 0x11"]


def test_mark_keeps_unknown_bits_tied_to_the_input() -> None:
    rs = ruleset(MARKS)
    result = run(rs, "tcp 1.1.1.1:1 -> 2.2.2.2:2")
    # rule 5 tests only bits the MARKs set (bits 0-8 and 12-15); rule 6 tests input bits
    assert {len(p.hits) for p in result.paths} == {5, 6}
    assert all(("mangle", "PREROUTING", 5) in hits(p) for p in result.paths)
    assert any("mark & 0xfff00000 = 0xabc00000" in c for p in result.paths
               for c in p.conditions)
    assert assert_draws_land(rs, result, random.Random(1)) >= 8


CONNMARKS = table("mangle", """\
-A PREROUTING -j CONNMARK --set-xmark 0x5/0xf
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff00 --ctmask 0xfff0
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xf0f
-A PREROUTING -m connmark --mark 0x1205
-A PREROUTING -m mark --mark 0x1005
""")


def test_connmark_set_save_restore_with_masks() -> None:
    path = only(run(CONNMARKS, "udp 1.1.1.1:1 -> 2.2.2.2:2 mark=0x12ab ctstate=NEW"))
    # a NEW connection starts with ctmark 0: set -> 0x5; save: (0x5 & ~0xfff0) ^ (0x12ab &
    # 0xff00) = 0x1205; restore: (0x12ab & ~0xff) ^ (0x1205 & 0xf0f) = 0x1005 (bits 8-11
    # were not cleared: the kernel XORs them)
    assert (final(path, "ctmark"), final(path, "mark")) == (0x1205, 0x1005)
    assert hits(path)[-2:] == [("mangle", "PREROUTING", 4), ("mangle", "PREROUTING", 5)]


def test_connmark_without_a_connection_does_nothing() -> None:
    for state in ("INVALID", "UNTRACKED"):
        path = only(run(CONNMARKS, f"udp 1.1.1.1:1 -> 2.2.2.2:2 mark=0x12ab ctstate={state} "
                                   "ctmark=0x7"))
        assert (final(path, "ctmark"), final(path, "mark")) == (0x7, 0x12AB)
        assert "no connection: CONNMARK does nothing" in notes(path)
    # in raw, before conntrack, no packet has a connection yet
    raw = table("raw", "-A PREROUTING -j CONNMARK --set-xmark 0x1/0xffffffff\n")
    raw += table("mangle", "-A PREROUTING -m connmark --mark 0x1\n")
    path = only(run(raw, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctmark=0"))
    assert hits(path) == [("raw", "PREROUTING", 1)]


def test_connmark_shifts_are_exact_for_known_marks() -> None:
    rules = table("mangle", """\
-A PREROUTING -j CONNMARK --set-xmark 0x3/0xf --left-shift-mark 4
-A PREROUTING -j CONNMARK --save-mark --nfmask 0xff00 --ctmask 0xff --right-shift-mark 8
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xf0000 --ctmask 0xf --left-shift-mark 16
""")
    path = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 mark=0xab00 ctstate=ESTABLISHED "
                           "ctmark=0x12345678"))
    # set: ((0x12345678 & ~0xf) ^ 0x3) << 4 = 0x23456730 (cut to 32 bits)
    # save: (0x23456730 & ~0xff) ^ ((0xab00 & 0xff00) >> 8) = 0x234567ab
    # restore: (0xab00 & ~0xf0000) ^ ((0x234567ab & 0xf) << 16) = 0xbab00
    assert (final(path, "ctmark"), final(path, "mark")) == (0x234567AB, 0xBAB00)


def test_connmark_shift_of_unknown_bits_keeps_what_is_known() -> None:
    rules = table("mangle", """\
-A PREROUTING -j CONNMARK --set-xmark 0x5/0xf --left-shift-mark 8
-A PREROUTING -m connmark --mark 0x500/0xfff
-A PREROUTING -m connmark --mark 0x10000/0x10000
""")
    result = run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED")
    # the low 12 bits are known after the shift (0x5 << 8, zeros shifted in): rule 2 always
    # matches; bit 16 came from an unknown bit and is a fresh unknown
    assert {tuple(hits(p)) for p in result.paths} == {
        (("mangle", "PREROUTING", 1), ("mangle", "PREROUTING", 2)),
        (("mangle", "PREROUTING", 1), ("mangle", "PREROUTING", 2),
         ("mangle", "PREROUTING", 3))}


# --- nat -----------------------------------------------------------------------------------

NAT = table("nat", """\
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.9.9.9:8080
-A PREROUTING -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.9.9.1-10.9.9.4:1000-2000
-A PREROUTING -p udp -j DNAT --to-destination 10.9.9.1-10.9.9.4:1000-2000 --random
-A POSTROUTING -o eth2 -p tcp -j SNAT --to-source 10.0.0.0-10.255.255.255:1000-2000
""") + table("filter", """\
-A FORWARD -m conntrack --ctstate DNAT --ctreplsrc 10.9.9.9 --ctreplsrcport 8080
-A FORWARD -m conntrack --ctstate SNAT
""")


def test_dnat_to_one_address_and_port_is_exact() -> None:
    path = only(run(NAT, "tcp 1.1.1.1:5000 -> 2.2.2.2:80 iif=eth0 oif=eth1 ctstate=NEW"))
    assert (final(path, "dst"), final(path, "dport")) == (addr("10.9.9.9"), 8080)
    # the connection is DNATed and its reply comes from the new address and port
    assert hits(path) == [("nat", "PREROUTING", 1), ("filter", "FORWARD", 1)]
    assert path.verdict == "ACCEPT" and "DNAT: dst = 10.9.9.9, dport = 8080" in notes(path)


def test_nat_ranges_keep_a_port_already_inside() -> None:
    inside = only(run(NAT, "tcp 1.1.1.1:5000 -> 2.2.2.2:81 iif=eth0 oif=eth1 ctstate=NEW"))
    assert inside.state.current("dst") == IntSet.range(addr("10.9.9.1"), addr("10.9.9.4"),
                                                       0xFFFFFFFF)
    assert inside.state.current("dport") == IntSet.range(1000, 2000, 0xFFFF)
    # --random picks a port even when the packet's is already in range
    rand = only(run(NAT, "udp 1.1.1.1:5000 -> 2.2.2.2:1500 iif=eth0 oif=eth1 ctstate=NEW"))
    assert rand.state.current("dport") == IntSet.range(1000, 2000, 0xFFFF)
    # the reply tuple follows the new destination, which cannot be 10.9.9.9
    assert hits(rand) == [("nat", "PREROUTING", 3)]


def test_snat_keeps_a_source_already_in_range() -> None:
    kept = only(run(NAT, "tcp 10.1.2.3:1500 -> 2.2.2.2:22 iif=eth0 oif=eth2 ctstate=NEW"))
    assert (final(kept, "src"), final(kept, "sport")) == (addr("10.1.2.3"), 1500)
    moved = only(run(NAT, "tcp 192.168.1.1:1500 -> 2.2.2.2:22 iif=eth0 oif=eth2 ctstate=NEW"))
    assert moved.state.current("src") == IntSet.prefix(addr("10.0.0.0"), 8, 32)
    assert final(moved, "sport") == 1500  # the port alone is already in range
    # FORWARD comes before POSTROUTING: the SNAT status is not set yet there
    assert hits(moved) == [("nat", "POSTROUTING", 1)]


def test_nat_only_sees_new_connections() -> None:
    result = run(NAT, "tcp 1.1.1.1:5000 -> 2.2.2.2:80 iif=eth0 oif=eth1 ctstate=ESTABLISHED")
    for path in result.paths:  # (forks on the conntrack match's unknown status and tuple)
        assert final(path, "dst") == addr("2.2.2.2")
        assert all(table == "filter" for table, _, _ in hits(path))


HOST = Host.from_text("eth0 192.168.1.1/24\neth0 192.168.1.2/24\neth1 203.0.113.5/24\n"
                      "lo 127.0.0.1/8\neth3 2001:db8::1/64\neth3 fe80::1/64\n")
MASQ = table("nat", "-A POSTROUTING -j MASQUERADE\n")


def test_masquerade_takes_the_output_interfaces_address() -> None:
    rs = ruleset(MASQ, host=HOST)
    out = only(run(rs, "tcp 10.0.0.1:5 -> 203.0.113.9:80 iif=eth0 ctstate=NEW"))
    assert final(out, "oif") == "eth1" and final(out, "src") == addr("203.0.113.5")
    # routed out of an interface without an address: another interface's global address
    lonely = ruleset(MASQ, host=Host.from_text("eth0 192.168.1.1/24\neth9 198.51.100.1/32\n",
                                               "default via 192.168.1.254 dev eth0\n"))
    path = only(run(lonely, "tcp 10.0.0.1:5 -> 8.8.8.8:80 iif=eth9 ctstate=NEW"))
    assert final(path, "src") == addr("192.168.1.1")


def test_random_source_rewrites_redraw_the_port_in_its_class() -> None:
    rules = table("nat", "-A POSTROUTING -p tcp -j MASQUERADE --random-fully\n"
                  "-A POSTROUTING -p udp -j SNAT --to-source 1.2.3.4 --random\n")
    rs = ruleset(rules, host=HOST)
    for spec, ports in (("tcp 10.0.0.1:40000 -> 203.0.113.9:80", (1024, 0xFFFF)),
                        ("tcp 10.0.0.1:80 -> 203.0.113.9:80", (1, 511)),
                        ("udp 10.0.0.1:1000 -> 203.0.113.9:80", (600, 1023))):
        path = only(run(rs, f"{spec} iif=eth0 ctstate=NEW"))
        assert path.state.current("sport") == IntSet.range(*ports, 0xFFFF), spec
    plain = only(run(ruleset(table("nat", "-A POSTROUTING -j MASQUERADE\n"), host=HOST),
                     "tcp 10.0.0.1:40000 -> 203.0.113.9:80 iif=eth0 ctstate=NEW"))
    assert final(plain, "sport") == 40000


def test_masquerade_without_any_address_drops() -> None:
    rs = ruleset(MASQ, host=Host.from_text("lo 127.0.0.1/8\n", "10.0.0.0/8 dev eth1\n"))
    assert only(run(rs, "tcp 1.1.1.1:5 -> 10.0.0.9:80 iif=eth0 ctstate=NEW")).verdict == "DROP"
    # a source of 0.0.0.0 is left alone, address or not (sent from this host: routing drops
    # one that comes in to be forwarded, a martian)
    zero = only(run(rs, "udp 0.0.0.0:68 -> 10.0.0.9:67 ctstate=NEW", "out"))
    assert zero.verdict == "ACCEPT" and final(zero, "src") == 0
    dropped = only(run(rs, "udp 0.0.0.0:68 -> 10.0.0.9:67 iif=eth0 ctstate=NEW"))
    assert dropped.verdict == "DROP" and dropped.state.stopped == MARTIAN


def test_masquerade_without_host_context_is_an_assumption() -> None:
    spec = "tcp 1.1.1.1:5 -> 2.2.2.2:80 iif=eth0 oif=eth1 ctstate=NEW"
    result = run(MASQ, spec)
    assert sorted((p.verdict, tuple(p.conditions)) for p in result.paths) == [
        ("ACCEPT", ("the host has an address to masquerade to",)),
        ("DROP", ("the host has no address to masquerade to",))]
    key = "masquerade@nat:POSTROUTING:1"
    accepted = only(run(MASQ, spec, assumptions={key: True}))
    assert accepted.verdict == "ACCEPT" and final(accepted, "src") is None
    assert only(run(MASQ, spec, assumptions={key: False})).verdict == "DROP"


REDIRECT = table("nat", """\
-A PREROUTING -p tcp -j REDIRECT --to-ports 3128
-A OUTPUT -p tcp -j REDIRECT --to-ports 3129
""")


def test_redirect_goes_to_the_input_interface_or_loopback() -> None:
    rs = ruleset(REDIRECT, host=HOST)
    path = only(run(rs, "tcp 10.0.0.1:5 -> 8.8.8.8:80 iif=eth0 ctstate=NEW", "in"))
    assert (final(path, "dst"), final(path, "dport")) == (addr("192.168.1.1"), 3128)
    # a local packet needs a route before OUTPUT (the host has none to 8.8.8.8); redirected,
    # it is routed again, out by lo, and comes in again on lo
    local = only(run(rs, "tcp 10.0.0.1:5 -> 203.0.113.9:80 ctstate=NEW", "out"))
    assert (final(local, "dst"), final(local, "dport")) == (addr("127.0.0.1"), 3129)
    assert (final(local, "iif"), final(local, "oif")) == ("lo", "")
    dropped = only(run(rs, "tcp 10.0.0.1:5 -> 8.8.8.8:80 iif=eth7 ctstate=NEW", "in"))
    assert dropped.verdict == "DROP" and hits(dropped) == [("nat", "PREROUTING", 1)]


def test_redirect_for_an_unknown_interface_forks_exactly() -> None:
    rs = ruleset(REDIRECT, host=HOST)
    result = run(rs, "tcp 10.0.0.1:5 -> 8.8.8.8:80 ctstate=NEW", "in")
    by_verdict = {p.verdict: p for p in result.paths}
    assert set(by_verdict) == {"ACCEPT", "DROP"}
    assert assert_draws_land(rs, result, random.Random(2)) >= 8


def test_redirect_ipv6_takes_an_address_of_the_destinations_scope() -> None:
    rs = ruleset(REDIRECT, V6, host=HOST)
    glob = only(run(rs, "tcp [2001:db8:5::1]:5 -> [2001:db8:9::1]:80 iif=eth3 ctstate=NEW",
                    "in", family=V6))
    assert final(glob, "dst") == addr("2001:db8::1")
    link = only(run(rs, "tcp [fe80::9]:5 -> [fe80::2]:80 iif=eth3 ctstate=NEW", "in",
                    family=V6))
    assert final(link, "dst") == addr("fe80::1")
    assert assert_draws_land(rs, run(rs, "tcp [fe80::9]:5 -> [fe80::2]:80 ctstate=NEW", "in",
                                     family=V6), random.Random(3)) >= 8


NETMAP = table("nat", """\
-A PREROUTING -d 192.168.0.0/16 -j NETMAP --to 10.20.0.0/16
-A POSTROUTING -s 10.20.0.0/16 -j NETMAP --to 172.16.0.0/16
-A PREROUTING -p udp -j mapper
-A mapper -j NETMAP --to 10.0.0.0/8
""")


def test_netmap_keeps_the_host_part() -> None:
    path = only(run(NETMAP, "tcp 10.20.3.4:5 -> 192.168.7.8:80 iif=eth0 oif=eth1 ctstate=NEW"))
    assert (final(path, "dst"), final(path, "src")) == (addr("10.20.7.8"), addr("172.16.3.4"))
    # an unknown address maps onto exactly the host parts it could have
    wide = only(run(NETMAP, "tcp 10.1.1.1:5 -> 192.168.7.0/24 iif=eth0 oif=eth1 ctstate=NEW"))
    assert wide.state.current("dst") == IntSet.prefix(addr("10.20.7.0"), 24, 32)


def test_netmap_in_a_user_chain_maps_as_its_hook_says() -> None:
    # `mapper` is reached from PREROUTING only, so NETMAP rewrites the destination there
    path = only(run(NETMAP, "udp 10.1.1.1:5 -> 10.2.2.2:80 iif=eth0 oif=eth1 ctstate=NEW"))
    assert hits(path)[-1] == ("nat", "mapper", 1)
    assert final(path, "dst") == addr("10.2.2.2")  # same host part inside 10.0.0.0/8


# --- verdicts ------------------------------------------------------------------------------

def test_reject_and_queue_end_the_walk() -> None:
    rules = table("filter", """\
-A FORWARD -p tcp -j REJECT --reject-with tcp-reset
-A FORWARD -p udp -j NFQUEUE --queue-num 3
-A FORWARD -p icmp -j NFQUEUE --queue-balance 2:5 --queue-bypass
-A FORWARD -j ACCEPT
""")
    reject = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"))
    assert reject.verdict == "REJECT" and "drop and answer with a TCP RST" in notes(reject)
    queued = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"))
    assert queued.verdict == "QUEUE" and "queue 3 (dropped when none listens)" in notes(
        queued)[-1]
    bypass = run(rules, "icmp 1.1.1.1 -> 2.2.2.2 iif=eth0 oif=eth1")
    assert sorted((p.verdict, len(p.hits)) for p in bypass.paths) == [("ACCEPT", 1),
                                                                     ("QUEUE", 1)]
    key = "nfqueue@filter:FORWARD:3"
    on = only(run(rules, "icmp 1.1.1.1 -> 2.2.2.2 iif=eth0 oif=eth1", assumptions={key: True}))
    assert on.verdict == "QUEUE"
    off = only(run(rules, "icmp 1.1.1.1 -> 2.2.2.2 iif=eth0 oif=eth1", assumptions={key: False}))
    # bypassed: this table is done (as if accepted), the next rule is never reached
    assert off.verdict == "ACCEPT" and hits(off) == [("filter", "FORWARD", 3)]


CONTINUING = {
    "LOG --log-prefix \"in: \" --log-level 6": "log to the kernel log (level 6) with prefix "
                                                  "'in: '",
    "NFLOG --nflog-group 5": "log to nflog group 5",
    "ULOG --ulog-nlgroup 2": "log to ULOG netlink group 2",
    "AUDIT --type drop": "audit record (type drop",
    "CHECKSUM --checksum-fill": "fill in a checksum",
    "IDLETIMER --timeout 10 --label t": "restart idle timer 't' (10 s)",
    "RATEEST --rateest-name r --rateest-interval 1s --rateest-ewmalog 8s":
        "count the packet in rate estimator r",
    "TEE --gateway 10.0.0.9": "send a copy to gateway 10.0.0.9",
    "SECMARK --selctx system_u:object_r:x_t:s0": "security mark to system_u",
    "CONNSECMARK --save": "packet's security mark to a new connection",
    "LED --led-trigger-id x": "LED trigger netfilter-x",
    "CLASSIFY --set-class 1:10": "priority = 1:10",
}


@pytest.mark.parametrize("target", sorted(CONTINUING))
def test_targets_that_let_the_packet_go_on(target: str) -> None:
    rules = table("mangle", f"-A FORWARD -j {target}\n-A FORWARD -j DROP\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"))
    assert path.verdict == "DROP" and hits(path) == [("mangle", "FORWARD", 1),
                                                    ("mangle", "FORWARD", 2)]
    assert any(CONTINUING[target] in n for n in notes(path)), notes(path)


def test_classify_sets_the_priority() -> None:
    rules = table("mangle", "-A POSTROUTING -j CLASSIFY --set-class 1:10\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"))
    assert final(path, "priority") == 0x10010


# --- conntrack templates -------------------------------------------------------------------

STATES = "".join(f"-A PREROUTING -m state --state {s}\n" for s in ("NEW", "INVALID",
                                                                   "UNTRACKED"))


def state_hits(path: PathResult, table_name: str) -> list[int]:
    return [rule for table_, _, rule in hits(path) if table_ == table_name]


def test_notrack_makes_the_packet_untracked() -> None:
    for target in ("NOTRACK", "CT --notrack"):
        rules = table("raw", f"-A PREROUTING -p udp -j {target}\n" + STATES)
        rules += table("mangle", STATES)
        path = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1 ctstate=NEW"))
        assert state_hits(path, "raw") == [1, 4] and state_hits(path, "mangle") == [3]
        assert final(path, "ctstate") == CT_STATES.index("UNTRACKED")


def test_a_ct_template_shows_new_in_raw_and_blocks_later_ct_rules() -> None:
    rules = table("raw", "-A PREROUTING -p udp -j CT --zone 7\n" + STATES
                  + "-A PREROUTING -j CT --notrack\n" + STATES)
    rules += table("mangle", STATES)
    udp = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1 ctstate=ESTABLISHED"))
    # the template reads NEW in raw; the later --notrack is ignored; conntrack then finds
    # the packet's own connection
    assert state_hits(udp, "raw") == [1, 2, 5, 6] and state_hits(udp, "mangle") == []
    assert final(udp, "ctzone") == 7 and final(udp, "ctstate") == CT_STATES.index(
        "ESTABLISHED")
    tcp = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1 ctstate=NEW"))
    assert state_hits(tcp, "raw") == [3, 5, 8] and state_hits(tcp, "mangle") == [3]


def test_ct_zone_from_the_mark_and_the_notes() -> None:
    rules = table("raw", "-A PREROUTING -p tcp -j CT --helper ftp --zone-orig mark "
                  "--ctevents new,destroy\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:21 mark=0x12345 iif=eth0 oif=eth1"))
    assert final(path, "ctzone") == 0x2345
    note = notes(path)[0]
    assert "helper ftp for a new connection" in note and "events destroy,new" in note
    assert "(orig direction only)" in note
    unknown = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:21 iif=eth0 oif=eth1"))
    assert unknown.state.current("ctzone") == IntSet.all(0xFFFF)


def test_trace_target_goes_on() -> None:
    rules = table("raw", "-A PREROUTING -j TRACE\n-A PREROUTING -j DROP\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"))
    assert path.verdict == "DROP" and "logs every rule" in notes(path)[0]


# --- header rewrites -----------------------------------------------------------------------

def test_ttl_and_hop_limit() -> None:
    rules = table("mangle", """\
-A PREROUTING -p tcp -j TTL --ttl-dec 5
-A PREROUTING -p udp -j TTL --ttl-inc 100
-A PREROUTING -p icmp -j TTL --ttl-set 9
""")
    for spec, ttl in (("tcp 1.1.1.1:1 -> 2.2.2.2:2 ttl=64", 59), ("tcp 1.1.1.1:1 -> 2.2.2.2:2 "
                      "ttl=3", 0), ("udp 1.1.1.1:1 -> 2.2.2.2:2 ttl=200", 255),
                      ("icmp 1.1.1.1 -> 2.2.2.2 ttl=1", 9)):
        assert final(only(run(rules, spec, "in")), "ttl") == ttl, spec
    # an unknown TTL: exactly the values the decrement can give (0 included)
    some = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 ttl=1-10,100", "in"))
    assert some.state.current("ttl") == IntSet([(0, 5), (95, 95)], 0xFF)
    # a test after the rewrite narrows the input TTL: after -5 then +2, "= 2" is an input
    # of 0-5 (the decrement stops at 0), and "> 254" none at all (at most 252 + 2)
    tested = ruleset(table("mangle", "-A PREROUTING -j TTL --ttl-dec 5\n"
                                     "-A PREROUTING -j TTL --ttl-inc 2\n")
                     + table("filter", "-A INPUT -m ttl --ttl-eq 2 -j DROP\n"
                                       "-A INPUT -m ttl --ttl-gt 254 -j REJECT\n"))
    result = run(tested, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0", "in")
    inputs = {p.verdict: p.alternatives[0].box.get("ttl") for p in result.paths}
    assert inputs == {"DROP": IntSet.range(0, 5, 255), "ACCEPT": IntSet.range(6, 255, 255)}
    hl = table("mangle", "-A PREROUTING -j HL --hl-dec 2\n")
    path = only(run(ruleset(hl, V6), "udp [2001:db8::99]:1 -> [2001:db8::2]:2 ttl=64", "in",
                    family=V6))
    assert final(path, "ttl") == 62 and notes(path) == ["hop limit -= 2 (stops at 0)"]


def test_tos_dscp_and_ecn() -> None:
    rules = table("mangle", """\
-A PREROUTING -p tcp -j TOS --set-tos 0x10/0x3f
-A PREROUTING -p udp -j DSCP --set-dscp-class EF
-A PREROUTING -p icmp -j ECN --ecn-ip-ect 2
-A PREROUTING -p tcp -j ECN --ecn-tcp-remove
""")
    tcp = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 tos=0xff tcp_flags=0xc2", "in"))
    assert (final(tcp, "tos"), final(tcp, "tcp_flags")) == (0xD0, 0x02)
    udp = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2 tos=0x01", "in"))
    assert final(udp, "tos") == 0xB9
    icmp = only(run(rules, "icmp 1.1.1.1 -> 2.2.2.2 tos=0x11", "in"))
    assert final(icmp, "tos") == 0x12
    # an unknown TOS keeps its ECN bits: four values
    some = only(run(rules, "udp 1.1.1.1:1 -> 2.2.2.2:2", "in"))
    assert some.state.current("tos") == IntSet.range(0xB8, 0xBB, 0xFF)
    # TCP flags are bits: the unknown ones stay tied to the input
    flags = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 tos=0", "in"))
    assert flags.state.current("tcp_flags") == BitSet.cube(0, 0xC0, 8)


@pytest.mark.parametrize(("rewrite", "test", "inputs"), [
    # (tos & 0xc0) ^ 0x10: "= 0x50" is an input whose top two bits are 01
    ("TOS --set-tos 0x10/0x3f", "tos --tos 0x50/0xff", IntSet.range(0x40, 0x7F, 0xFF)),
    ("TOS --set-tos 0x10/0x3f", "tos --tos 0x11/0xff", IntSet.empty(0xFF)),
    ("TOS --and-tos 0x0f", "tos --tos 0x03/0xff", IntSet.values(
        (v for v in range(256) if v & 0x0F == 0x03), 0xFF)),
    ("TOS --xor-tos 0x01", "tos --tos 0x20/0xff", IntSet.single(0x21, 0xFF)),
    # DSCP keeps the ECN bits, ECN keeps the code point: each test reads the other part
    ("DSCP --set-dscp 0x2e", "ecn --ecn-ip-ect 3", IntSet.values(
        (v for v in range(256) if v & 3 == 3), 0xFF)),
    ("ECN --ecn-ip-ect 2", "dscp --dscp 0x04", IntSet.range(0x10, 0x13, 0xFF)),
    ("ECN --ecn-ip-ect 2", "ecn --ecn-ip-ect 2", IntSet.all(0xFF)),
])
def test_a_test_after_a_tos_rewrite_narrows_the_input_tos(rewrite: str, test: str,
                                                        inputs: IntSet) -> None:
    """TOS, DSCP and ECN rewrite some bits of the byte and keep the others, so a later test
    decides on the TOS the packet came with, as for TTL --ttl-dec: the path's input constraint
    is exactly the packets that take it, with no value of the rewrite's own in between."""
    rules = ruleset(table("mangle", f"-A PREROUTING -j {rewrite}\n")
                    + table("filter", f"-A INPUT -m {test} -j DROP\n"))
    result = run(rules, "icmp 1.1.1.1 -> 2.2.2.2 iif=eth0", "in")
    dropped = [p for p in result.paths if p.verdict == "DROP"]
    if not inputs:
        assert [p.verdict for p in result.paths] == ["ACCEPT"]
        return
    assert len(dropped) == 1
    alternative, = dropped[0].alternatives
    assert alternative.box.get("tos") == inputs
    assert not any("@" in c.var for c in alternative.conditions)
    # and each packet drawn from either side goes its side's way
    for verdict, values in (("DROP", inputs), ("ACCEPT", inputs.complement())):
        for tos in list(values)[:3] + list(values)[-3:]:
            path = only(run(rules, f"icmp 1.1.1.1 -> 2.2.2.2 iif=eth0 tos={tos}", "in"))
            assert path.verdict == verdict, (rewrite, test, tos)


# --- conditional targets -------------------------------------------------------------------

def test_tproxy_needs_a_transparent_socket() -> None:
    rules = table("mangle", "-A PREROUTING -p tcp -j TPROXY --on-port 3129 --tproxy-mark "
                  "0x1/0x1\n-A PREROUTING -j DROP\n")
    spec = "tcp 1.1.1.1:1 -> 2.2.2.2:80 iif=eth0 mark=0x10"
    result = run(rules, spec, "in")
    assert sorted(p.verdict for p in result.paths) == ["ACCEPT", "DROP"]
    key = "tproxy@mangle:PREROUTING:1"
    taken = only(run(rules, spec, "in", assumptions={key: True}))
    assert (final(taken, "mark"), final(taken, "socket")) == (0x11, 1)
    assert hits(taken) == [("mangle", "PREROUTING", 1)]
    refused = only(run(rules, spec, "in", assumptions={key: False}))
    assert refused.verdict == "DROP" and hits(refused) == [("mangle", "PREROUTING", 1)]


SYNPROXY = table("filter", "-A FORWARD -p tcp -j SYNPROXY --mss 1460\n-A FORWARD -j DROP\n")


@pytest.mark.parametrize(("flags", "verdicts"), [
    ("0x02", ["STOLEN"]), ("0x12", ["DROP"]), ("0xca", ["STOLEN"]),  # SYN (+PSH/ECE/CWR)
    ("0x10", ["DROP", "STOLEN"]), ("0x18", ["DROP", "STOLEN"]),  # ACK: cookie or not
    ("0x11", ["DROP"]), ("0x04", ["DROP"]),  # FIN+ACK, RST: go on to the DROP rule
])
def test_synproxy_by_tcp_flags(flags: str, verdicts: list[str]) -> None:
    result = run(SYNPROXY, f"tcp 1.1.1.1:1 -> 2.2.2.2:80 iif=eth0 oif=eth1 tcp_flags={flags}")
    assert sorted(p.verdict for p in result.paths) == verdicts
    going_on = [p for p in result.paths if len(p.hits) == 2]
    assert len(going_on) == (1 if flags in ("0x12", "0x11", "0x04") else 0)


def test_synproxy_abstract_flags_fork_and_draws_land() -> None:
    rs = ruleset(SYNPROXY)
    result = run(rs, "tcp 1.1.1.1:1 -> 2.2.2.2:80 iif=eth0 oif=eth1")
    assert {p.verdict for p in result.paths} == {"STOLEN", "DROP"}
    assert assert_draws_land(rs, result, random.Random(4)) >= 12


# --- computed values -----------------------------------------------------------------------

HMARK = table("mangle", "-A PREROUTING -j HMARK --hmark-tuple src,dst,sport,dport,proto "
              "--hmark-rnd 0xcafe --hmark-mod 8 --hmark-offset 100\n"
              "-A FORWARD -j HMARK --hmark-tuple ct --hmark-rnd 1 --hmark-mod 3\n"
              # a rule that needs conntrack, so the kernel tracks connections at all
              "-A POSTROUTING -m conntrack --ctstate NEW\n")


def test_hmark_is_exact_for_a_known_tuple_and_a_range_otherwise() -> None:
    # the value the kernel gives this packet (the lab showed it; test_kernel_hmark checks more)
    path = only(run(HMARK, "tcp 10.0.0.1:1000 -> 10.0.2.2:80 iif=eth0 oif=eth1 ctstate=NEW",
                    "in"))
    assert final(path, "mark") == 103
    unknown = only(run(HMARK, "tcp 10.0.0.1 -> 10.0.2.2:80 iif=eth0 oif=eth1 ctstate=NEW",
                       "in"))
    marks = values(unknown, "mark")
    assert [v for v in range(256) if v in marks] == list(range(100, 108))
    # an ICMP error hashes the header it quotes: any node
    error = only(run(HMARK, "icmp 10.0.0.1 -> 10.0.2.2 icmp_type=3 icmp_code=1 iif=eth0 "
                     "ctstate=RELATED", "in"))
    assert values(error, "mark") == marks


def test_hmark_ct_without_a_connection_keeps_the_mark() -> None:
    rules = table("raw", "-A PREROUTING -j HMARK --hmark-tuple ct --hmark-rnd 1 "
                  "--hmark-mod 3\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 mark=0x77 iif=eth0 oif=eth1"))
    assert final(path, "mark") == 0x77 and "no connection" in notes(path)[0]
    forward = only(run(HMARK, "tcp 10.0.0.1:1000 -> 10.0.2.2:80 iif=eth0 oif=eth1 "
                       "ctstate=NEW"))
    assert final(forward, "mark") in (0, 1, 2)


NPT = table("mangle", """\
-A PREROUTING -j DNPT --src-pfx fd00:2::/56 --dst-pfx 2001:db8:bb00::/60
-A POSTROUTING -j SNPT --src-pfx fd00:3::/48 --dst-pfx 2001:db8:cc::/48
""")


def test_npt_maps_known_addresses_and_drops_when_no_word_adjusts() -> None:
    rs = ruleset(NPT, V6)
    # values the kernel gives (checked in test_kernel_npt)
    path = only(run(rs, "tcp [fd00:3::1]:1 -> [fd00:2:0:12:abcd::77]:2 iif=eth0 oif=eth1",
                    family=V6))
    assert final(path, "dst") == addr("2001:db8:bb00:2:c016::77")
    dropped = only(run(rs, "tcp [fd00:3::1]:1 -> [fd00:2:0:12:ffff:ffff:ffff:ffff]:2 iif=eth0 "
                       "oif=eth1", family=V6))
    assert dropped.verdict == "DROP"
    unknown = run(rs, "tcp fd00:3::1 -> fd00:2::/56 sport=1 dport=2 iif=eth0 oif=eth1",
                  family=V6)
    assert sorted(p.verdict for p in unknown.paths) == ["ACCEPT", "DROP"]
    mapped = next(p for p in unknown.paths if p.verdict == "ACCEPT")
    assert mapped.state.current("dst") == IntSet.prefix(addr("2001:db8:bb00::"), 60, 128)
    # SNPT up to /48 never drops: it adjusts word 3
    assert mapped.state.current("src").single_value() is not None


# --- TCP options ---------------------------------------------------------------------------

MSS = table("mangle", "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS --set-mss "
            "1200\n-A POSTROUTING -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS "
            "--clamp-mss-to-pmtu\n")


def test_tcpmss_only_lowers_an_existing_option() -> None:
    for mss, expected in ((1460, 1200), (1000, 1000)):
        path = only(run(MSS, f"tcp 1.1.1.1:1 -> 2.2.2.2:2 tcp_flags=0x02 tcp_options=0x4 "
                        f"tcp_mss={mss} iif=eth0 oif=eth1"))
        # the clamp then lowers it to an unknown path MTU less 40: at most what it was
        assert path.state.current("tcp_mss") == IntSet.range(0, expected, 0xFFFF)
    fragment = only(run(MSS, "tcp 1.1.1.1:1 -> 2.2.2.2:2 tcp_flags=0x02 fragment=1 "
                        "tcp_mss=1460 tcp_options=0x4 iif=eth0 oif=eth1"))
    assert final(fragment, "tcp_mss") == 1460


def test_tcpmss_adds_an_option_to_a_syn_without_one_when_it_has_room() -> None:
    rules = table("mangle", "-A FORWARD -p tcp -m tcp --tcp-flags SYN,RST SYN -j TCPMSS "
                  "--set-mss 1200\n")
    spec = "tcp 1.1.1.1:1 -> 2.2.2.2:2 tcp_flags=0x02 tcp_options=0 length=40 iif=eth0 oif=eth1"
    key = "tcpmss-add@mangle:FORWARD:1"
    added = only(run(rules, spec, assumptions={key: True}))
    assert (final(added, "tcp_mss"), final(added, "length")) == (536, 44)
    assert added.state.current("tcp_options") == BitSet.single(0x4, 256)
    kept = only(run(rules, spec, assumptions={key: False}))
    assert final(kept, "tcp_options") == 0 and final(kept, "length") == 40
    assert len(run(rules, spec).paths) == 1  # same hits and verdict: merged alternatives
    v6 = only(run(ruleset(rules, V6), "tcp [2001:db8::99]:1 -> [2001:db8::2]:2 tcp_flags=0x02 "
                  "tcp_options=0 iif=eth0 oif=eth1", family=V6, assumptions={key: True}))
    assert final(v6, "tcp_mss") == 1200  # IPv6's default MSS (1220) is larger


def test_tcpoptstrip_replaces_options_by_nops() -> None:
    rules = table("mangle", "-A PREROUTING -p tcp -j TCPOPTSTRIP --strip-options mss,sack\n")
    path = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 tcp_options=0x2c iif=eth0 oif=eth1"))
    assert final(path, "tcp_options") == 0x0A  # 2 and 5 gone, 3 kept, NOP present
    none = only(run(rules, "tcp 1.1.1.1:1 -> 2.2.2.2:2 tcp_options=0x8 iif=eth0 oif=eth1"))
    assert final(none, "tcp_options") == 0x8
    rs = ruleset(rules)
    unknown = run(rs, "tcp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1")
    assert assert_draws_land(rs, unknown, random.Random(5)) >= 4


# --- ipsets --------------------------------------------------------------------------------

SETS = """create marks hash:ip family inet skbinfo
add marks 10.0.0.1 skbmark 0x10/0xff skbprio 1:2
add marks 10.0.0.2 skbmark 0x20/0xff
create plain hash:ip family inet
add plain 10.0.0.3
"""


def test_set_target_changes_sets_and_maps_marks() -> None:
    rules = table("mangle", """\
-A FORWARD -j SET --add-set plain src --exist
-A FORWARD -j SET --map-set marks src --map-mark --map-prio
-A FORWARD -m set --match-set plain src
""")
    rs = ruleset(rules, sets=SETS)
    first = only(run(rs, "udp 10.0.0.1:1 -> 2.2.2.2:2 mark=0x1234 iif=eth0 oif=eth1"))
    # 10.0.0.1 was added to `plain`, and the third rule's lookup finds it
    # (tests/extensions/test_semantics_setupdate.py has the kernel's word on such changes)
    assert hits(first) == [("mangle", "FORWARD", 1), ("mangle", "FORWARD", 2),
                           ("mangle", "FORWARD", 3)]
    assert notes(first)[0] == "add src to ipset plain"
    assert values(first, "mark") == BitSet.single(0x1210, 32) | BitSet.single(0x1220, 32)
    assert values(first, "priority") == IntSet.values((0, 0x10002), 0xFFFFFFFF)
    other = only(run(rs, "udp 10.0.0.9:1 -> 2.2.2.2:2 mark=0x1234 iif=eth0 oif=eth1"))
    assert final(other, "mark") == 0x1234 and "nothing mapped" in notes(other)[1]


# --- CLUSTERIP -----------------------------------------------------------------------------

CLUSTERIP = table("filter", "-A INPUT -d 10.0.0.100 -j CLUSTERIP --new --hashmode sourceip "
                  "--clustermac 01:00:5E:00:00:20 --total-nodes 2 --local-node 1\n")


def test_clusterip_branches() -> None:
    key = "clusterip@filter:INPUT:1"
    spec = "tcp 1.1.1.1:1 -> 10.0.0.100:80 iif=eth0 ctstate={}"
    assert only(run(CLUSTERIP, spec.format("INVALID"), "in")).verdict == "DROP"
    new = only(run(CLUSTERIP, spec.format("NEW"), "in", assumptions={key: True}))
    assert new.verdict == "ACCEPT"
    assert values(new, "ctmark") == BitSet.single(1, 32) | BitSet.single(2, 32)
    assert final(new, "pkttype") == 0
    other = only(run(CLUSTERIP, spec.format("ESTABLISHED"), "in", assumptions={key: False}))
    assert other.verdict == "DROP"
    error = only(run(CLUSTERIP, "icmp 1.1.1.1 -> 10.0.0.100 icmp_type=3 iif=eth0 "
                     "ctstate=RELATED", "in"))
    assert error.verdict == "ACCEPT" and error.conditions == []


# --- many targets at once -------------------------------------------------------------------

MIXED = table("raw", """\
-A PREROUTING -p udp -m udp --dport 7 -j NOTRACK
-A PREROUTING -p tcp -m tcp --dport 8 -j CT --zone 3
""") + table("mangle", """\
-A PREROUTING -j CONNMARK --restore-mark --nfmask 0xff --ctmask 0xff
-A PREROUTING -m mark --mark 0x1/0x1 -j MARK --set-xmark 0x10/0x30
-A PREROUTING -p tcp -m tcp --dport 3000 -j TPROXY --on-port 3129 --tproxy-mark 0x100/0x100
-A PREROUTING -j CONNMARK --save-mark --mask 0x3f
-A FORWARD -p tcp -j TCPOPTSTRIP --strip-options sack-permitted
-A FORWARD -m mark --mark 0x10/0x30 -j DROP
-A FORWARD -m connmark --mark 0x0/0x1 -j ACCEPT
""") + table("filter", """\
-A FORWARD -p udp -j NFQUEUE --queue-num 1 --queue-bypass
-A FORWARD -p tcp -m tcp --tcp-option 4 -j REJECT
-A FORWARD -p tcp -j SYNPROXY
-A FORWARD -m state --state UNTRACKED -j DROP
""")


@pytest.mark.parametrize("spec", [
    "tcp 10.0.0.1 -> 10.0.0.2 iif=eth0 oif=eth1",
    "udp 10.0.0.1:5 -> 10.0.0.2 iif=eth0 oif=eth1",
    "10.0.0.1 -> 10.0.0.2 iif=eth0 oif=eth1 ctstate=NEW,ESTABLISHED",
])
def test_abstract_packets_through_many_targets(spec: str) -> None:
    rs = ruleset(MIXED)
    result = run(rs, spec)
    assert len(result.paths) > 3 and not result.truncated
    assert assert_draws_land(rs, result, random.Random(spec), per_alternative=2) > 20


# --- the value images, against brute force -------------------------------------------------

@given(st.lists(st.tuples(st.integers(0, 255), st.integers(0, 40)), min_size=1, max_size=4),
       st.integers(0, 255), st.integers(0, 8))
def test_masked_image_is_the_image(ranges: list[tuple[int, int]], network: int,
                                   host_bits: int) -> None:
    values = IntSet([(lo, min(lo + n, 255)) for lo, n in ranges], 255)
    span = (1 << host_bits) - 1
    expected = {(network & ~span & 255) | (v & span) for v in values}
    assert set(masked_image(values, network, host_bits, 8)) == expected


@given(st.integers(0, 255), st.integers(0, 255))
def test_range_bits_holds_exactly_the_range(lo: int, hi: int) -> None:
    bits = range_bits(lo, hi, 8)
    wanted = set(range(lo, hi + 1)) if lo <= hi else set(range(lo, 256)) | set(range(hi + 1))
    assert {v for v in range(256) if v in bits} == wanted


@given(st.integers(0, 255), st.integers(0, 255), st.integers(0, 7), st.booleans(),
       st.integers(0, 255))
def test_bit_cube_shift_and_and_keep_exactly_the_known_bits(value: int, mask: int, bits: int,
                                                            right: bool, constant: int) -> None:
    cube = BitCube(value, mask, 8)
    members = [x for x in range(256) if x & mask == value & mask]
    shifted = cube.and_(constant).shift(bits, right)

    def apply(x: int) -> int:
        x &= constant
        return (x >> bits if right else x << bits) & 0xFF

    images = {apply(x) for x in members}
    # every image is inside, and a bit is known exactly when all images agree on it
    assert all(x in shifted.bitset() for x in images)
    first = next(iter(images))
    agreed = 0xFF
    for x in images:
        agreed &= ~(x ^ first)
    assert shifted.mask == agreed & 0xFF


# --- the kernel as judge -------------------------------------------------------------------

def consistent(result: KernelResult, traced: TraceResult) -> list[PathResult]:
    """The trace's paths that give exactly the kernel's counters and delivery."""
    kernel = lab_counts(result)
    return [p for p in traced.paths if trace_counts(p) == kernel]


def assert_egress(result: KernelResult, path: PathResult) -> int:
    """The frame R sent carries values the path allows (exactly them where the path knows)."""
    checked = 0
    for egress in result.egress:
        frame = egress.decoded
        assert frame is not None
        seen: dict[str, int | None] = {"src": addr(frame.src), "dst": addr(frame.dst),
                                       "ttl": frame.ttl, "tos": frame.tos,
                                       "sport": frame.sport, "dport": frame.dport}
        for name, value in seen.items():
            if value is not None and (name not in ("sport", "dport") or frame.protocol in (
                    6, 17)):
                assert value in path.state.current(name), (name, value, egress)
                checked += 1
    return checked


def lab_run(rules: str, family: Family, path: str, packets: Sequence[KernelPacket], *,
            addresses: Iterable[tuple[str, str]] = (), pins: Mapping[str, bool] | None = None,
            exact: bool = True, extra: Mapping[int, Mapping[str, ValueSet]] | None = None,
            ) -> list[tuple[KernelResult, PathResult]]:
    """Each packet through the lab and through iptparse; the kernel's outcome must be one of
    the trace's paths (the only one when `exact`); returns the pairs."""
    require_kernel()
    dump = parse_iptables(rules, family=family)
    setup = LabSetup(tuple(addresses))
    out = []
    with Lab(rules, family, path=path, addresses=setup.addresses,  # type: ignore[arg-type]
             interfaces=["eth0", "eth1"]) as lab:
        for index, kp in enumerate(packets):
            result = lab.send(kp)
            model = model_packet(kp, path)
            if extra and index in extra:
                model = model.with_(**extra[index])
            traced = trace(Ruleset([dump], host=lab_host(kp, path, setup)), model, path,
                           assumptions=pins)
            matching = consistent(result, traced)
            assert matching, (kp, sorted(result.hits.items()), sorted(result.policies.items()),
                              result.delivered, [(p.verdict, hits(p), p.conditions)
                                                 for p in traced.paths])
            if exact:
                assert len(traced.paths) == 1, (kp, [p.conditions for p in traced.paths])
            assert_egress(result, matching[0])
            out.append((result, matching[0]))
    return out


def fwd(src: str = "10.0.1.1", dst: str = "10.0.2.2", **fields: object) -> KernelPacket:
    values: dict[str, object] = {"src": src, "dst": dst, "iif": "eth0", "oif": "eth1"}
    return KernelPacket(**(values | fields))  # type: ignore[arg-type]


def _random_masks(rng: random.Random) -> tuple[int, int]:
    mask = rng.choice((0xFFFFFFFF, 0xFF, 0xFF00FF00, rng.getrandbits(32), 0))
    return rng.getrandbits(32) & (mask if rng.random() < 0.7 else 0xFFFFFFFF), mask


@pytest.mark.kernel
def test_kernel_mark_and_connmark_with_random_masks() -> None:
    rng = random.Random(7)
    body = "".join(f"-A PREROUTING -p udp -m udp --dport {1000 + i} -j MARK --set-xmark "
                   f"{v:#x}/{m:#x}\n" for i, (v, m) in enumerate(
                       _random_masks(rng) for _ in range(6)))
    for op in ("CONNMARK --set-xmark {a:#x}/{b:#x}", "MARK --or-mark {a:#x}",
               "CONNMARK --save-mark --nfmask {a:#x} --ctmask {b:#x}", "MARK --and-mark {a:#x}",
               "CONNMARK --restore-mark --nfmask {a:#x} --ctmask {b:#x}",
               "MARK --xor-mark {a:#x}", "CONNMARK --save-mark --mask {a:#x}",
               "CONNMARK --restore-mark --nfmask {a:#x} --ctmask {b:#x} --left-shift-mark 3",
               "CONNMARK --set-xmark {a:#x}/{b:#x} --right-shift-mark 5"):
        a, b = _random_masks(rng)
        body += f"-A PREROUTING -j {op.format(a=a, b=b)}\n"
        for module in ("mark", "connmark"):  # two-bit tests: about one in four holds
            for _ in range(3):
                bits = 1 << rng.randrange(32) | 1 << rng.randrange(32)
                body += (f"-A PREROUTING -m {module} --mark {rng.getrandbits(32) & bits:#x}/"
                         f"{bits:#x}\n")
    packets = [fwd(protocol="udp", dport=1000 + i) for i in range(6)]
    pairs = lab_run(table("mangle", body), V4, "forward", packets)
    counted = [len(r.hits) for r, _ in pairs]
    assert min(counted) > 9 and max(counted) < 60  # the tests both held and failed


NAT_LAB = table("nat", """\
-A PREROUTING -p tcp -m tcp --dport 80 -j DNAT --to-destination 10.9.9.9:8080
-A PREROUTING -p udp -m udp --dport 81 -j DNAT --to-destination 10.9.9.1-10.9.9.4:1000-2000
-A PREROUTING -d 192.168.0.0/16 -j NETMAP --to 10.20.0.0/16
-A POSTROUTING -o eth1 -p tcp -j MASQUERADE
-A POSTROUTING -o eth1 -p udp -j SNAT --to-source 198.51.100.7:3000-3100
-A POSTROUTING -o eth2 -p udp -j MASQUERADE --to-ports 5000-5010
-A POSTROUTING -s 10.7.0.0/16 -j NETMAP --to 172.16.0.0/16
-A POSTROUTING -o eth4 -j MASQUERADE --random-fully
""") + table("filter", "-A FORWARD -m conntrack --ctstate DNAT --ctreplsrcport 8080\n")


@pytest.mark.kernel
def test_kernel_nat_rewrites() -> None:
    routes = (("10.9.9.0/24", "eth1"), ("10.20.0.0/16", "eth1"))
    packets = [
        fwd(dport=80, routes=routes),  # DNAT to one address and port, then MASQUERADE
        fwd(protocol="udp", dport=81, sport=3050, routes=routes),  # ranges; sport kept
        fwd(protocol="udp", dport=81, sport=4000, routes=routes),  # SNAT moves the port
        fwd(dst="192.168.3.4", dport=90, routes=routes),  # NETMAP, then MASQUERADE
        fwd(dst="10.3.3.3", oif="eth2", protocol="udp", sport=5005),  # eth2 has no address
        fwd(src="10.7.1.2", dst="10.3.3.3", oif="eth3", dport=90),  # NETMAP in POSTROUTING
        fwd(dst="10.3.3.3", oif="eth4", sport=700, dport=90),  # a port redrawn below 1024
    ]
    pairs = lab_run(NAT_LAB, V4, "forward", packets, addresses=[("eth1", "203.0.113.5/32")])
    first, second, third, netmap, fallback, source, redrawn = (p for _, p in pairs)
    assert (final(first, "dst"), final(first, "dport"), final(first, "src")) == (
        addr("10.9.9.9"), 8080, addr("203.0.113.5"))
    assert (final(second, "sport"), final(third, "src")) == (3050, addr("198.51.100.7"))
    assert second.state.current("dport") == IntSet.range(1000, 2000, 0xFFFF)
    assert final(third, "sport") is None and final(netmap, "dst") == addr("10.20.3.4")
    assert (final(fallback, "src"), final(fallback, "sport")) == (addr("203.0.113.5"), 5005)
    assert final(source, "src") == addr("172.16.1.2")
    assert redrawn.state.current("sport") == IntSet.range(600, 1023, 0xFFFF)


@pytest.mark.kernel
def test_kernel_redirect_and_its_drop() -> None:
    rules = table("nat", "-A PREROUTING -p tcp -j REDIRECT --to-ports 3128\n")
    rules += table("filter", "-A INPUT -p tcp -m tcp --dport 3128 -d 192.0.2.1\n")
    packets = [KernelPacket(src="10.0.1.1", dst="10.0.2.2", iif="eth0"),
               KernelPacket(src="10.0.1.1", dst="10.0.2.2", iif="eth1")]
    pairs = lab_run(rules, V4, "in", packets, addresses=[("eth0", "192.0.2.1/32")])
    assert [p.verdict for _, p in pairs] == ["ACCEPT", "DROP"]
    assert hits(pairs[0][1]) == [("nat", "PREROUTING", 1), ("filter", "INPUT", 1)]


VERDICTS = table("raw", "-A PREROUTING -j TRACE\n") + table("mangle", """\
-A PREROUTING -p tcp -m tcp --dport 3000 -j TPROXY --on-port 3129 --tproxy-mark 0x1/0x1
-A PREROUTING -j LOG --log-prefix "lab: "
-A PREROUTING -j NFLOG --nflog-group 9
-A FORWARD -j CHECKSUM --checksum-fill
-A FORWARD -j AUDIT --type accept
-A FORWARD -j IDLETIMER --timeout 100 --label labtimer
-A FORWARD -j RATEEST --rateest-name labrate --rateest-interval 1s --rateest-ewmalog 8s
""") + table("filter", """\
-A FORWARD -p tcp -m tcp --dport 4000 -j SYNPROXY --mss 1460 --wscale 7
-A FORWARD -p tcp -m tcp --dport 22 -j REJECT --reject-with tcp-reset
-A FORWARD -p udp -m udp --dport 53 -j REJECT
-A FORWARD -p udp -m udp --dport 54 -j NFQUEUE --queue-num 4
-A FORWARD -p udp -m udp --dport 55 -j NFQUEUE --queue-num 5 --queue-bypass
-A FORWARD -j ACCEPT
""")


@pytest.mark.kernel
def test_kernel_verdict_and_note_targets() -> None:
    pins = {"tproxy@mangle:PREROUTING:1": False, "nfqueue@filter:FORWARD:5": False,
            "synproxy@filter:FORWARD:1": False}
    packets = [fwd(dport=3000), fwd(dport=22), fwd(protocol="udp", dport=53),
               fwd(protocol="udp", dport=54), fwd(protocol="udp", dport=55),
               fwd(dport=4000), fwd(dport=4000, tcp_flags=TCP_ACK),
               fwd(dport=4000, tcp_flags=TCP_FIN | TCP_ACK), fwd(dport=5000)]
    pairs = lab_run(VERDICTS, V4, "forward", packets, pins=pins)
    assert [p.verdict for _, p in pairs] == ["DROP", "REJECT", "REJECT", "QUEUE", "ACCEPT",
                                            "STOLEN", "DROP", "ACCEPT", "ACCEPT"]


STATES_LAB = table("raw", """\
-A PREROUTING -p udp -j CT --zone 1
-A PREROUTING -p tcp -m tcp --dport 1 -j NOTRACK
-A PREROUTING -p tcp -m tcp --dport 2 -j CT --notrack
-A PREROUTING -p tcp -j CT --zone 2
""" + STATES) + table("mangle", STATES)


@pytest.mark.kernel
def test_kernel_notrack_and_templates() -> None:
    packets = [fwd(protocol="udp"), fwd(dport=1), fwd(dport=2), fwd(dport=3)]
    pairs = lab_run(STATES_LAB, V4, "forward", packets)
    assert [state_hits(p, "mangle") for _, p in pairs] == [[1], [3], [3], [1]]


HEADERS = table("mangle", """\
-A PREROUTING -p tcp -m tcp --dport 1 -j TTL --ttl-dec 10
-A PREROUTING -p tcp -m tcp --dport 2 -j TTL --ttl-inc 250
-A PREROUTING -p tcp -m tcp --dport 3 -j TTL --ttl-set 7
-A PREROUTING -p udp -m udp --dport 1 -j TOS --set-tos 0x10/0x3f
-A PREROUTING -p udp -m udp --dport 2 -j DSCP --set-dscp-class AF41
-A PREROUTING -p udp -m udp --dport 3 -j ECN --ecn-ip-ect 1
-A PREROUTING -p tcp -m tcp --dport 4 -j ECN --ecn-tcp-remove
-A PREROUTING -m ttl --ttl-eq 54
-A PREROUTING -m ttl --ttl-eq 255
-A PREROUTING -m tos --tos 0x10/0x3f
-A PREROUTING -m dscp --dscp-class AF41
-A PREROUTING -m ecn --ecn-ip-ect 1
-A PREROUTING -p tcp -m ecn --ecn-tcp-ece
-A PREROUTING -p tcp -m ecn --ecn-tcp-cwr
-A FORWARD -m ttl --ttl-eq 6
""")


@pytest.mark.kernel
def test_kernel_header_rewrites() -> None:
    packets = [fwd(dport=1), fwd(dport=2, ttl=10), fwd(dport=3), fwd(protocol="udp", dport=1,
               tos=0xC3), fwd(protocol="udp", dport=2, tos=0x03), fwd(protocol="udp",
               dport=3, tos=0xFE), fwd(dport=4, tcp_flags=TCP_SYN | 0xC0)]
    pairs = lab_run(HEADERS, V4, "forward", packets)
    # TTL 64 - 10 = 54; 10 + 250 stops at 255; set to 7, one less in FORWARD
    assert [final(p, "ttl") for _, p in pairs[:3]] == [53, 254, 6]
    # (0xc3 & ~0x3f) ^ 0x10; AF41 << 2 with ECN 3; ECN bits 2 -> 1
    assert [final(p, "tos") for _, p in pairs[3:6]] == [0xD0, 0x8B, 0xFD]
    hl = table("mangle", "-A PREROUTING -j HL --hl-set 3\n-A PREROUTING -j DSCP --set-dscp 9\n"
               "-A POSTROUTING -m hl --hl-eq 2\n-A POSTROUTING -m dscp --dscp 9\n")
    v6 = lab_run(hl, V6, "forward", [fwd("2001:db8::1", "2001:db8:1::1", tos=0x02)])
    assert len(v6[0][0].hits) == 4 and final(v6[0][1], "tos") == 0x26


@pytest.mark.kernel
def test_kernel_hmark() -> None:
    rules = table("mangle", "-A PREROUTING -j HMARK --hmark-tuple src,dst,sport,dport,proto "
                  "--hmark-rnd 0xcafe --hmark-mod 8 --hmark-offset 100\n"
                  + "".join(f"-A PREROUTING -m mark --mark {100 + i}\n" for i in range(8))
                  + "-A FORWARD -j HMARK --hmark-src-prefix 24 --hmark-dport-mask 0xff "
                  "--hmark-sport 0x1234 --hmark-proto-mask 0xff --hmark-rnd 0x12345678 "
                  "--hmark-mod 5 --hmark-offset 4294967294\n"
                  + "".join(f"-A FORWARD -m mark --mark {(0xFFFFFFFE + i) & 0xFFFFFFFF}\n"
                            for i in range(5)))
    packets = [fwd(f"10.0.{i}.{7 * i + 1}", protocol=proto, sport=1000 + 37 * i, dport=80 + i)
               for i in range(5) for proto in ("tcp", "udp")]
    packets.append(fwd(protocol="icmp", icmp_type=8))
    pairs = lab_run(rules, V4, "forward", packets)
    marks = [final(p, "mark") for _, p in pairs]
    # every mark was known exactly, and the kernel counted the very `--mark` rules they match
    assert None not in marks and len(set(marks)) > 2


@pytest.mark.kernel
def test_kernel_npt() -> None:
    rules = table("mangle", """\
-A PREROUTING -d fd00:1::/48 -j DNPT --src-pfx fd00:1::/48 --dst-pfx 2001:db8:aa::/48
-A PREROUTING -d fd00:2::/56 -j DNPT --src-pfx fd00:2::/56 --dst-pfx 2001:db8:bb00::/60
-A POSTROUTING -s fd00:3::/64 -j SNPT --src-pfx fd00:3::/64 --dst-pfx 2001:db8:cc:dd::/64
""")
    # (not a route back to 2001:db8::1: R's ICMPv6 error for the dropped packet stays home)
    routes = (("2001:db8:aa::/48", "eth1"), ("2001:db8:bb00::/40", "eth1"))
    packets = [fwd("2001:db8::1", dst, protocol="udp", routes=routes)
               for dst in ("fd00:1::5", "fd00:1:0:ffff::5", "fd00:2:0:12:abcd::77",
                           "fd00:2:0:12:ffff:ffff:ffff:fffe",
                           "fd00:2:0:12:ffff:ffff:ffff:ffff")]
    packets.append(fwd("fd00:3::1234:5678", "2001:db8:9::1"))
    pairs = lab_run(rules, V6, "forward", packets)
    assert [p.verdict for _, p in pairs] == ["ACCEPT"] * 4 + ["DROP", "ACCEPT"]
    assert all(final(p, "dst") is not None for _, p in pairs)


@pytest.mark.kernel
def test_kernel_tcp_option_rewrites() -> None:
    rules = table("mangle", """\
-A FORWARD -p tcp -m tcp --dport 1 -j TCPOPTSTRIP --strip-options mss,wscale
-A FORWARD -p tcp -m tcp --dport 2 --tcp-flags SYN,RST SYN -j TCPMSS --set-mss 1200
-A POSTROUTING -p tcp -m tcp --tcp-option 2
-A POSTROUTING -p tcp -m tcp --tcp-option 3
-A POSTROUTING -p tcp -m tcp --tcp-option 1
-A POSTROUTING -p tcp -m tcpmss --mss 1200
-A POSTROUTING -p tcp -m tcpmss --mss 536
""")
    mss, wscale, sack = b"\x02\x04\x05\xb4", b"\x03\x03\x07\x01", b"\x04\x02\x01\x01"
    packets = [fwd(dport=1, tcp_options=mss + wscale), fwd(dport=1, tcp_options=sack),
               fwd(dport=2, tcp_options=mss), fwd(dport=2, tcp_options=b"")]
    extra = {0: {"tcp_mss": IntSet.single(1460, 0xFFFF)},
             2: {"tcp_mss": IntSet.single(1460, 0xFFFF)}}
    pairs = lab_run(rules, V4, "forward", packets, extra=extra,
                    pins={"tcpmss-add@mangle:FORWARD:2": True})
    assert [sorted(r for t, c, r in hits(p) if c == "POSTROUTING") for _, p in pairs] == [
        [3], [3], [1, 4], [1, 5]]
