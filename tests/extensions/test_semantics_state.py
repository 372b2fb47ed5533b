"""Semantics of the connection-state, mark, counting and ipset matches.

multiport, state, conntrack, mark, connmark, set, comment, limit, hashlimit, recent, connlimit,
statistic, quota, helper, nfacct, connbytes, connlabel, rateest, cluster.

Unit tests walk concrete packets through small rulesets (exact hits and verdicts), abstract
packets (the forks and their conditions; a concrete packet drawn from every branch must land on
that branch), and pin assumptions. The kernel tests (`kernel` marker) send lab packets through
the same rulesets and require the kernel's counters to be the trace's only path, or one of its
paths where the module depends on state no dump shows.
"""

from __future__ import annotations

import random
from collections import Counter
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from iptparse.domain import BitSet, IntSet
from iptparse.errors import ParseError
from iptparse.extensions._a_ipset import address_cover
from iptparse.extensions.cluster import ClusterMatch, cluster_node
from iptparse.ipset import IpPart, IpSet, parse_ipset
from iptparse.logic import And, Box, Branch, Custom, Not, Or, Pred, split, visit_of
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.trace import TraceResult, trace

from ..conftest import PROJECT_CORPORA
from ..perf.test_trace_speed import _check
from . import _helpers
from ._helpers import hits, lab_counts, only, outcome, run, table, trace_counts

V4, V6 = Family.INET, Family.INET6
def forward(body: str, policy: str = "DROP") -> str:
    return table("filter", body, policy)


def ruleset(rules: str, sets: str = "", family: Family = V4) -> Ruleset:
    dump = parse_ipset(sets) if sets else []
    return Ruleset([parse_iptables(rules, family=family)], sets={s.name: s for s in dump})


def lands(rs: Ruleset, spec: str, path: str = "forward") -> TraceResult:
    """Trace an abstract packet, then check that a concrete packet drawn from each branch of
    each path (assumptions pinned as the branch took them) has that path as its only one."""
    return _helpers.lands(rs, parse_packet(spec), path)


def conditions(result: TraceResult) -> dict[tuple[int, ...], list[str]]:
    """FORWARD rules hit → the path's readable conditions."""
    return {tuple(n for _, c, n in outcome(p)[1] if c == "FORWARD"): p.conditions
            for p in result.paths}


# --- state and conntrack ---------------------------------------------------------------------

STATE = forward("-A FORWARD -m state --state RELATED,ESTABLISHED -j ACCEPT\n"
                "-A FORWARD -m state ! --state NEW -j DROP\n"
                "-A FORWARD -m conntrack --ctstate NEW -j ACCEPT\n")


@pytest.mark.parametrize(("state", "expected"), [
    ("NEW", [3]), ("ESTABLISHED", [1]), ("RELATED", [1]), ("INVALID", [2]), ("UNTRACKED", [2]),
])
def test_state_concrete(state: str, expected: list[int]) -> None:
    assert hits(ruleset(STATE), f"tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate={state}") == expected


def test_state_abstract_forks_on_every_state() -> None:
    result = lands(ruleset(STATE), "tcp 1.1.1.1:1 -> 2.2.2.2:2")
    assert conditions(result) == {(1,): ["ctstate ∈ {ESTABLISHED, RELATED}"],
                                  (2,): ["ctstate ∉ {NEW, ESTABLISHED, RELATED}"],
                                  (3,): ["ctstate = NEW"]}


def test_raw_table_sees_no_connection() -> None:
    rules = table("raw", "-A PREROUTING -m state --state INVALID\n"
                         "-A PREROUTING -m conntrack --ctstate NEW\n") + forward("")
    result = run(ruleset(rules), "tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=NEW")
    assert only(result)[1] == (("raw", "PREROUTING", 1),)


CONNTRACK = forward(
    "-A FORWARD -m conntrack --ctstate INVALID --ctproto udp -j DROP\n"
    "-A FORWARD -m conntrack --ctproto tcp --ctdir REPLY -j DROP\n"
    "-A FORWARD -p tcp -m conntrack --ctstate NEW --ctdir ORIGINAL --ctorigsrc 10.0.0.0/8 "
    "--ctrepldst 10.1.2.3 --ctorigdstport 80:90 --ctreplsrcport 85 -j ACCEPT\n"
    "-A FORWARD -m conntrack --ctstatus NONE -j DROP\n"
    "-A FORWARD -m conntrack --ctstate DNAT -j ACCEPT\n"
    "-A FORWARD -m conntrack ! --ctstatus ASSURED,CONFIRMED --ctexpire 10:20 -j DROP\n"
    "-A FORWARD -m conntrack --ctstate RELATED --ctproto tcp -j ACCEPT\n"
    "-A FORWARD -m conntrack --ctorigsrcport 9:8 -j ACCEPT\n"
    "-A FORWARD -m conntrack ! --ctorigsrcport 9:8 -j DROP\n", policy="ACCEPT")


@pytest.mark.parametrize(("spec", "expected"), [
    # no connection: a passed state test is the whole answer, the protocol is not looked at
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=INVALID", [1]),
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=UNTRACKED", []),
    # a new connection's tuples are the packet's own: original direction, reply reversed
    ("tcp 10.1.2.3:85 -> 2.2.2.2:85 ctstate=NEW", [3]),
    ("tcp 10.1.2.3:85 -> 2.2.2.2:91 ctstate=NEW ctexpire=0", [9]),
    ("tcp 10.1.2.4:85 -> 2.2.2.2:85 ctstate=NEW ctexpire=0", [9]),
    # DNAT is the connection's status bit
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctstatus=DNAT,ASSURED ctdir=ORIGINAL "
     "ctproto=6", [5]),
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctstatus=SEEN_REPLY ctexpire=15 "
     "ctdir=ORIGINAL", [6]),
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctstatus=SEEN_REPLY ctexpire=21 "
     "ctdir=ORIGINAL ctorigsrcport=1", [9]),
    ("tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctdir=REPLY", [2]),
    # an ICMP error RELATED to a TCP connection: --ctproto reads the connection's protocol
    ("icmp 1.1.1.1 -> 2.2.2.2 icmp_type=3 ctstate=RELATED ctdir=ORIGINAL ctstatus=ASSURED "
     "ctproto=6", [7]),
    ("icmp 1.1.1.1 -> 2.2.2.2 icmp_type=3 ctstate=RELATED ctdir=REPLY ctstatus=ASSURED "
     "ctproto=17 ctorigsrcport=5", [9]),
])
def test_conntrack_concrete(spec: str, expected: list[int]) -> None:
    assert hits(ruleset(CONNTRACK), spec) == expected


def test_conntrack_abstract_branches_land() -> None:
    rs = ruleset(CONNTRACK)
    lands(rs, "tcp 10.1.2.3 -> 2.2.2.2")
    result = lands(rs, "tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctdir=ORIGINAL "
                       "ctstatus=SEEN_REPLY")
    assert conditions(result)[(6,)] == ["ctexpire ∈ 10-20"]


def test_ctstate_snat_needs_a_connection_with_the_bit() -> None:
    rs = ruleset(forward("-A FORWARD -m conntrack --ctstate SNAT -j ACCEPT\n"))
    assert hits(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED ctstatus=SNAT") == [1]
    assert hits(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=NEW") == []
    result = lands(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED")
    assert conditions(result)[(1,)] == ["ctstatus has SNAT (the connection is source-NATed)"]


# --- mark and connmark -------------------------------------------------------------------------

MARKS = forward("-A FORWARD -m mark --mark 0x100/0xff00 -j ACCEPT\n"
                "-A FORWARD -m mark --mark 0x1/0x0 -j ACCEPT\n"
                "-A FORWARD -m mark ! --mark 0x1/0x0 -j DROP\n")


@pytest.mark.parametrize(("mark", "expected"), [
    ("0x100", [1]), ("0x1ff", [1]), ("0xf01ff", [1]), ("0x200", [3]), ("0x0", [3]),
])
def test_mark_concrete(mark: str, expected: list[int]) -> None:
    assert hits(ruleset(MARKS), f"udp 1.1.1.1:1 -> 2.2.2.2:2 mark={mark}") == expected


def test_mark_abstract() -> None:
    result = lands(ruleset(MARKS), "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert conditions(result) == {(1,): ["mark & 0xff00 = 0x100"],
                                  (3,): ["mark & 0xff00 ≠ 0x100"]}


CONNMARK = forward("-A FORWARD -m connmark ! --mark 0x0 -j DROP\n"
                   "-A FORWARD -m connmark --mark 0x0 -j ACCEPT\n", policy="ACCEPT")


@pytest.mark.parametrize(("extra", "expected"), [
    ("ctstate=NEW", [2]),  # a new connection's mark is zero
    ("ctstate=INVALID", []),  # no connection: neither rule, `!` or not
    ("ctstate=UNTRACKED", []),
    ("ctstate=ESTABLISHED ctmark=0x5", [1]),
    ("ctstate=RELATED ctmark=0", [2]),
])
def test_connmark_concrete(extra: str, expected: list[int]) -> None:
    assert hits(ruleset(CONNMARK), f"udp 1.1.1.1:1 -> 2.2.2.2:2 {extra}") == expected


def test_connmark_abstract() -> None:
    result = lands(ruleset(CONNMARK), "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert set(conditions(result)) == {(1,), (2,), ()}


# --- multiport, comment, nfacct, helper -----------------------------------------------------

MULTIPORT = forward("-A FORWARD -p tcp -m multiport --dports 22,80:90 -j ACCEPT\n"
                    "-A FORWARD -p udp -m multiport ! --ports 53,123 -j DROP\n"
                    "-A FORWARD -p tcp -m multiport --sports 7 -m comment --comment hi "
                    "-m nfacct --nfacct-name acc -j ACCEPT\n")


@pytest.mark.parametrize(("spec", "expected"), [
    ("tcp 1.1.1.1:5 -> 2.2.2.2:22", [1]), ("tcp 1.1.1.1:5 -> 2.2.2.2:85", [1]),
    ("tcp 1.1.1.1:7 -> 2.2.2.2:91", [3]), ("tcp 1.1.1.1:5 -> 2.2.2.2:91", []),
    ("udp 1.1.1.1:53 -> 2.2.2.2:9", []), ("udp 1.1.1.1:9 -> 2.2.2.2:123", []),
    ("udp 1.1.1.1:9 -> 2.2.2.2:9", [2]),
    # a non-first fragment never matches, not even the `!` rule
    ("udp 1.1.1.1:9 -> 2.2.2.2:9 fragment=1", []),
    ("tcp 1.1.1.1:5 -> 2.2.2.2:22 fragment=1", []),
])
def test_multiport_concrete(spec: str, expected: list[int]) -> None:
    assert hits(ruleset(MULTIPORT), spec) == expected


def test_multiport_abstract() -> None:
    result = lands(ruleset(MULTIPORT), "udp 1.1.1.1 -> 2.2.2.2")
    assert conditions(result)[(2,)] == ["sport ∉ {53, 123} and dport ∉ {53, 123}"]


HELPER = forward("-A FORWARD -m helper --helper ftp-21 -j ACCEPT\n"
                 "-A FORWARD -m helper --helper \"\" -j DROP\n"
                 "-A FORWARD -m helper ! --helper sip -j ACCEPT\n", policy="ACCEPT")


@pytest.mark.parametrize(("extra", "expected"), [
    ("ctstate=NEW", [3]),  # a NEW connection has no master
    ("ctstate=INVALID", [3]),  # nor does a packet without connection: `!` holds
    ("ctstate=RELATED cthelper=ftp", [1]),  # the kernel compares strlen(helper) bytes
    ("ctstate=ESTABLISHED cthelper=ftp-2", [1]),
    ("ctstate=ESTABLISHED cthelper=tftp", [2]),
    ("ctstate=RELATED cthelper=", [3]),
])
def test_helper_concrete(extra: str, expected: list[int]) -> None:
    assert hits(ruleset(HELPER), f"tcp 1.1.1.1:1 -> 2.2.2.2:2 {extra}") == expected


def test_helper_abstract() -> None:
    result = lands(ruleset(HELPER), "tcp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=RELATED")
    assert conditions(result)[(1,)] == [
        "the connection's master has helper ftp-21 (or a prefix of it)"]


# --- statistic -------------------------------------------------------------------------------

def test_statistic_random_uses_the_kernels_fixed_point() -> None:
    rs = ruleset(forward("-A FORWARD -m statistic --mode random --probability 0.25 -j ACCEPT\n"
                         "-A FORWARD -m statistic --mode random ! --probability 0.1 -j DROP\n"))
    result = lands(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2")
    shares = {outcome(p)[1]: p.probability for p in result.paths}
    first = Fraction(round(0.25 * 2**31), 2**31)
    tenth = Fraction(round(0.1 * 2**31), 2**31)
    assert shares == {(("filter", "FORWARD", 1),): first,
                      (("filter", "FORWARD", 2),): (1 - first) * (1 - tenth),
                      (): (1 - first) * tenth}
    pinned = run(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2",
                 assumptions={"statistic@filter:FORWARD:1": False,
                              "statistic@filter:FORWARD:2": True})
    assert only(pinned) == ("DROP", ())


#: chain R jumped to twice by FORWARD; chain M by mangle's FORWARD and POSTROUTING
TWICE = (table("mangle", "-A FORWARD -j M\n-A POSTROUTING -j M\n"
                         "-A M -m statistic --mode random --probability 0.25000000000\n")
         + table("filter", "-A FORWARD -j R\n-A FORWARD -j R\n"
                           "-A R -m statistic --mode random --probability 0.25000000000\n"))


def test_statistic_draws_anew_at_each_visit_of_its_rule() -> None:
    """xt_statistic draws at each evaluation: a rule met twice on one path (two jumps to its
    chain, or one from each of two hooks) draws twice, independently."""
    rs = ruleset(TWICE)
    spec = "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1"
    result = lands(rs, spec)
    quarter = Fraction(1, 4)
    counted: dict[tuple[int, int], Fraction] = Counter()  # type: ignore[assignment]
    for p in result.paths:
        draws = [h.chain for h in p.hits if h.chain in ("M", "R")]
        counted[draws.count("M"), draws.count("R")] += p.probability
    # each chain's rule: both visits, either one, or neither; the two chains independent
    two = {2: quarter**2, 1: 2 * quarter * (1 - quarter), 0: (1 - quarter)**2}
    assert len(result.paths) == 16
    assert counted == {(m, r): two[m] * two[r] for m in two for r in two}
    for p in result.paths:  # each rule's second draw says so: the texts are the first's
        (alternative,) = p.alternatives
        texts = [c.text for c in alternative.conditions]
        assert len(texts) == 4 and sum(t.endswith(" (draw 2)") for t in texts) == 2, texts
    assert _check(rs, parse_packet(spec), "forward")
    # the rule's pin decides every visit
    pinned = run(rs, spec, assumptions={"statistic@filter:R:1": True,
                                        "statistic@mangle:M:1": False})
    assert only(pinned)[1] == (("mangle", "FORWARD", 1), ("filter", "FORWARD", 1),
                               ("filter", "R", 1), ("filter", "FORWARD", 2), ("filter", "R", 1),
                               ("mangle", "POSTROUTING", 1))
    assert _check(rs, parse_packet(spec), "forward",
                  {"statistic@filter:R:1": True, "statistic@mangle:M:1": False})


@pytest.mark.parametrize(("match", "kind"), [
    ("-m limit --limit 1/hour --limit-burst 3", "limit"),
    ("-m hashlimit --hashlimit-upto 1/hour --hashlimit-name h", "hashlimit"),
    ("-m quota --quota 1000", "quota"),
    ("-m recent --update --seconds 60 --name r", "recent"),
    ("-m statistic --mode nth --every 2 --packet 0", "statistic"),
])
def test_state_a_match_changes_is_assumed_anew_at_each_visit(match: str, kind: str) -> None:
    """A limit takes a token each time its rule is evaluated (a quota its bytes, recent
    updates its list, nth moves its counter): the rule met twice on one path is two
    assumptions, each pinned by the rule's key and by its kind."""
    rs = ruleset(table("filter", f"-A FORWARD -j L\n-A FORWARD -j L\n-A L {match}\n"))
    spec = "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1 length=100"
    result = lands(rs, spec)
    visits = sorted(tuple(h.chain == "L" for h in p.hits) for p in result.paths)
    assert visits == sorted([(False, False), (False, True, False), (False, False, True),
                             (False, True, False, True)])
    for p in result.paths:
        (alternative,) = p.alternatives
        texts = [c.text for c in alternative.conditions]
        assert len(texts) == 2 and texts[1].endswith(" (check 2)"), texts
        assert {c.var for c in alternative.conditions} == {f"?{kind}@filter:L:1"}
    assert _check(rs, parse_packet(spec), "forward")
    key = f"{kind}@filter:L:1"
    for pins, hit in (({key: True}, 2), ({key: False}, 0), ({kind: True}, 2)):
        rules = only(run(rs, spec, assumptions=pins))[1]
        assert rules.count(("filter", "L", 1)) == hit, pins
        assert _check(rs, parse_packet(spec), "forward", pins)


@pytest.mark.parametrize(("first", "second", "kind"), [
    ("-m statistic --mode random --probability 0.50000000000",
     "-m statistic --mode random --probability 0.50000000000", "statistic"),
    ("-m statistic --mode nth --every 2 --packet 0",
     "-m statistic --mode nth --every 3 --packet 0", "statistic"),
    ("-m recent ! --rcheck --name A --mask 255.255.255.255 --rsource",
     "-m recent --rcheck --name B --mask 255.255.255.255 --rsource", "recent"),
    ("-m limit --limit 1/sec", "-m limit --limit 1/sec", "limit"),
    ("-m set ! --match-set A src", "-m set --match-set B dst", "set"),
    ("-m quota --quota 1000", "-m quota --quota 1000", "quota"),
    ("-m frobnicate --fast 1", "-m frobnicate --slow 2", "match:frobnicate"),  # not modelled
])
def test_two_matches_of_one_module_in_a_rule_are_assumed_apart(first: str, second: str,
                                                               kind: str) -> None:
    """The kernel evaluates each match of a rule on its own: two draws of one half match a
    quarter of packets, and `! --rcheck A` then `--rcheck B` matches a source in B only. A key
    shared by the two made one assumption of them, so the rule's second match was decided by
    its first (a rule that can match said never to, a draw of 1/2 for 1/4)."""
    rs = ruleset(table("filter", f"-A FORWARD {first} {second} -j DROP\n"))
    spec = "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1 length=100"
    result = lands(rs, spec)
    flags = {v for p in result.paths for a in p.alternatives for v in a.box.values
             if v.startswith("?")}
    assert {(visit_of(v) or (v[1:], 0))[0] for v in flags} == {
        f"{kind}@filter:FORWARD:1", f"{kind}#2@filter:FORWARD:1"}
    dropped = [p for p in result.paths if p.verdict == "DROP"]
    # both hold; the first fails; the first holds and the second fails
    assert len(dropped) == 1 and sum(len(p.alternatives) for p in result.paths) == 3
    if "random" in first:
        assert dropped[0].probability == Fraction(1, 4)
        assert dropped[0].conditions == [
            "statistic: random draw below 0.50000000000 holds and statistic: random draw "
            "below 0.50000000000 holds (statistic match 2)"]
    assert _check(rs, parse_packet(spec), "forward")
    for one, two, verdict in ((True, True, "DROP"), (True, False, "ACCEPT"),
                              (False, True, "ACCEPT")):
        pins = {f"{kind}@filter:FORWARD:1": one != ("!" in first),
                f"{kind}#2@filter:FORWARD:1": two}
        assert only(run(rs, spec, assumptions=pins))[0] == verdict, pins
        assert _check(rs, parse_packet(spec), "forward", pins)


def _endpoint_shares(result: TraceResult) -> dict[str, Fraction]:
    shares: dict[str, Fraction] = Counter()  # type: ignore[assignment]
    for p in result.paths:
        endpoint = next(h.chain for h in p.hits if h.chain.startswith("KUBE-SEP"))
        shares[endpoint] += p.probability
    return shares


def test_kube_proxy_endpoints_share_evenly() -> None:
    """Three endpoints as kube-proxy writes them: 1/3, then 1/2 of the rest, then the rest."""
    sep = "".join(f":KUBE-SEP-{n} - [0:0]\n" for n in "ABC")
    rules = ("*nat\n:PREROUTING ACCEPT [0:0]\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
             ":POSTROUTING ACCEPT [0:0]\n:KUBE-SVC-X - [0:0]\n" + sep +
             "-A PREROUTING -d 10.96.0.10/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-X\n"
             "-A KUBE-SVC-X -m comment --comment \"ns/svc -> 10.244.1.5:8080\" -m statistic "
             "--mode random --probability 0.33333333349 -j KUBE-SEP-A\n"
             "-A KUBE-SVC-X -m comment --comment \"ns/svc -> 10.244.2.7:8080\" -m statistic "
             "--mode random --probability 0.50000000000 -j KUBE-SEP-B\n"
             "-A KUBE-SVC-X -m comment --comment \"ns/svc -> 10.244.3.9:8080\" -j KUBE-SEP-C\n"
             "-A KUBE-SEP-A -p tcp -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 "
             "--rsource -j ACCEPT\n-A KUBE-SEP-B -j ACCEPT\n-A KUBE-SEP-C -j ACCEPT\n"
             # kube-proxy's DNAT rules need conntrack; without any, nat would see no packet
             "-A POSTROUTING -m conntrack --ctstate DNAT\nCOMMIT\n"
             + forward("", "ACCEPT"))
    result = run(ruleset(rules), "tcp 10.0.0.1:5 -> 10.96.0.10:80 ctstate=NEW")
    shares = _endpoint_shares(result)
    assert len(result.paths) == 3 and sum(shares.values()) == 1
    for endpoint in "ABC":
        assert abs(shares[f"KUBE-SEP-{endpoint}"] - Fraction(1, 3)) < Fraction(1, 10**9)


def test_kube_proxy_corpus_service_shares_evenly() -> None:
    """shop/frontend:http in the kube-proxy corpus: three endpoints, a third each."""
    path = PROJECT_CORPORA / "kube-proxy" / "iptables-save.txt"
    if not path.is_file():
        pytest.skip("corpora/kube-proxy is not present")
    rs = Ruleset([parse_iptables(path.read_text())])
    result = run(rs, "tcp 10.244.2.50:40000 -> 10.96.41.17:80 ctstate=NEW iif=cni0 "
                     "oif=cni0 mark=0")
    shares = _endpoint_shares(result)
    assert sum(shares.values()) == 1 and len(shares) == 3
    for share in shares.values():
        assert abs(share - Fraction(1, 3)) < Fraction(1, 10**9)


def test_statistic_nth_is_an_assumption() -> None:
    rs = ruleset(forward("-A FORWARD -m statistic --mode nth --every 3 --packet 1 -j ACCEPT\n"
                         "-A FORWARD -m statistic --mode nth ! --every 2 --packet 0 -j DROP\n"))
    result = lands(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert conditions(result)[(1,)] == [
        "statistic: this is the counter's packet 1 of every 3 at filter:FORWARD #1"]
    assert conditions(result)[(2,)] == [
        "statistic: this is not the counter's packet 1 of every 3 at filter:FORWARD #1 and "
        "statistic: this is not the counter's packet 0 of every 2 at filter:FORWARD #2"]


# --- assumption modules ----------------------------------------------------------------------

ASSUMED = forward(
    "-A FORWARD -m limit --limit 5/sec -j ACCEPT\n"
    "-A FORWARD -m hashlimit --hashlimit-above 10/sec --hashlimit-mode srcip "
    "--hashlimit-name hl -j DROP\n"
    "-A FORWARD -m recent --rcheck --seconds 60 --hitcount 3 --name SSH --rsource -j DROP\n"
    "-A FORWARD -m recent ! --remove --name X --rdest -j ACCEPT\n"
    "-A FORWARD -m connlimit --connlimit-upto 4 -j ACCEPT\n"
    "-A FORWARD -m quota ! --quota 100 -j DROP\n"
    "-A FORWARD -m connbytes --connbytes 10:20 --connbytes-dir both --connbytes-mode packets "
    "-j DROP\n"
    "-A FORWARD -m rateest --rateest RE1 --rateest-lt --rateest-bps 8bit -j ACCEPT\n")

KINDS = ["limit", "hashlimit", "recent", "recent", "connlimit", "quota", "connbytes", "rateest"]


def test_assumption_texts() -> None:
    result = lands(ruleset(ASSUMED), "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED length=50")
    texts = conditions(result)
    assert texts[(1,)] == ["limit 5/sec (burst 5) not exceeded at filter:FORWARD #1"]
    assert texts[(2,)] == ["limit 5/sec (burst 5) exceeded at filter:FORWARD #1 and hashlimit "
                           "hl: the bucket of srcip is over 10/sec, burst 5 at filter:FORWARD #2"]
    assert texts[(3,)][0].endswith(
        "src is in recent list SSH (seen at least 3 times in the last 60 s) at filter:FORWARD #3")
    assert texts[(4,)][0].endswith("dst is not in recent list X at filter:FORWARD #4")
    assert texts[(5,)][0].endswith("connlimit: src/32 has at most 4 connections")
    assert texts[(6,)][0].endswith(
        "quota: what is left of 100 bytes is less than the packet at filter:FORWARD #6")
    assert texts[(7,)][0].endswith("the connection's packet count (both) is within 10-20")
    assert texts[(8,)][0].endswith("rateest: RE1 bps < 8bit")


@pytest.mark.parametrize("rule", range(1, 9))
def test_assumptions_can_be_pinned(rule: int) -> None:
    """Pin rule N's assumption to take the rule, every earlier one to skip it."""
    negated = (2, 4, 5, 6)  # hashlimit-above, ! --remove, --connlimit-upto, ! --quota
    pins = {f"{KINDS[n - 1]}@filter:FORWARD:{n}": (n == rule) != (n in negated)
            for n in range(1, rule + 1)}
    result = run(ruleset(ASSUMED), "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED length=50",
                 assumptions=pins)
    assert only(result)[1] == (("filter", "FORWARD", rule),)


def test_quota_longer_than_the_budget_never_fits() -> None:
    rs = ruleset(forward("-A FORWARD -m quota --quota 100 -j ACCEPT\n"))
    assert only(run(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 length=101")) == ("DROP", ())
    assert len(run(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 length=100").paths) == 2


def test_recent_set_always_matches_and_connbytes_needs_a_connection() -> None:
    rs = ruleset(forward("-A FORWARD -m recent ! --set --name A -j DROP\n"
                         "-A FORWARD -m connbytes --connbytes 0: --connbytes-dir original "
                         "--connbytes-mode bytes -j DROP\n"
                         "-A FORWARD -m recent --set --name A -j ACCEPT\n"))
    assert hits(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=INVALID") == [3]


# --- connlabel and cluster -------------------------------------------------------------------

LABELS = forward("-A FORWARD -m connlabel --label 5 -j ACCEPT\n"
                 "-A FORWARD -m connlabel ! --label 6 -j DROP\n"
                 "-A FORWARD -m connlabel --label 7 --set -j ACCEPT\n")


@pytest.mark.parametrize(("extra", "expected"), [
    ("ctstate=INVALID", [2]),  # no connection: the `!` flag
    ("ctstate=ESTABLISHED ctlabels=0x20", [1]),
    ("ctstate=ESTABLISHED ctlabels=0x40", [3]),
    ("ctstate=NEW ctlabels=0", [2]),
])
def test_connlabel_concrete(extra: str, expected: list[int]) -> None:
    assert hits(ruleset(LABELS), f"udp 1.1.1.1:1 -> 2.2.2.2:2 {extra}") == expected


def test_connlabel_abstract() -> None:
    result = lands(ruleset(LABELS), "udp 1.1.1.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED")
    assert conditions(result)[(1,)] == ["connlabel 5 is set"]


CLUSTER = forward("-A FORWARD -m cluster --cluster-total-nodes 4 --cluster-local-nodemask 0x3 "
                  "--cluster-hash-seed 0xdeadbeef -j ACCEPT\n")


def test_cluster_new_connections_are_hashed() -> None:
    rs = ruleset(CLUSTER)
    options = ClusterMatch(4, 0x3, 0xDEADBEEF)
    for n in range(1, 40):
        src = f"10.0.{n}.{n}"
        ours = cluster_node((10 << 24) | (n << 8) | n, V4, options) < 2
        assert hits(rs, f"udp {src}:1 -> 2.2.2.2:2 ctstate=NEW") == ([1] if ours else [])
    assert hits(rs, "udp 10.0.0.1:1 -> 2.2.2.2:2 ctstate=INVALID") == []
    older = run(rs, "udp 10.0.0.1:1 -> 2.2.2.2:2 ctstate=ESTABLISHED")
    assert conditions(older)[(1,)] == [
        "cluster: the connection hashes to node 1,2 of 4"]


def test_cluster_ipv6_hashes_the_first_32_bits() -> None:
    options = ClusterMatch(5, 1, 7)
    base = 0x20010DB8 << 96
    assert len({cluster_node(base | n << 40 | n, V6, options) for n in range(50)}) == 1


# --- ipsets ------------------------------------------------------------------------------------

SETS = """create nets hash:net family inet counters
add nets 10.0.0.0/8 packets 5 bytes 100
add nets 10.1.0.0/16 nomatch packets 0 bytes 0
add nets 10.1.2.0/24 packets 0 bytes 0
create ipp hash:ip,port family inet
add ipp 192.168.1.1,tcp:80
add ipp 192.168.1.2,udp:53
add ipp 192.168.1.3,icmp:echo-request
add ipp 192.168.1.4,gre:0
create ports bitmap:port range 0-1024
add ports 80
create netport hash:net,port family inet
add netport 172.16.0.0/12,tcp:443
add netport 172.16.1.0/24,tcp:443 nomatch
create ipmac bitmap:ip,mac range 10.9.0.0/24
add ipmac 10.9.0.1,02:00:00:00:00:01
add ipmac 10.9.0.2
create nif hash:net,iface family inet
add nif 10.0.0.0/8,eth0
add nif 10.1.0.0/16,eth1
add nif 10.2.0.0/16,vethbad nomatch
add nif 10.2.0.0/16,veth wildcard
create lst list:set
add lst ipp
add lst ports
"""


def set_rules(*matches: str) -> str:
    return forward("".join(f"-A FORWARD {m} -j ACCEPT\n" for m in matches), policy="DROP")


@pytest.mark.parametrize(("match", "spec", "holds"), [
    ("-m set --match-set nets src", "udp 10.9.9.9:1 -> 2.2.2.2:2", True),
    ("-m set --match-set nets src", "udp 10.1.9.9:1 -> 2.2.2.2:2", False),  # nomatch /16
    ("-m set --match-set nets src", "udp 10.1.2.9:1 -> 2.2.2.2:2", True),  # /24 inside it
    ("-m set --match-set nets src --return-nomatch", "udp 10.1.9.9:1 -> 2.2.2.2:2", True),
    ("-m set --match-set nets src --return-nomatch", "udp 10.9.9.9:1 -> 2.2.2.2:2", False),
    ("-m set ! --match-set nets src", "udp 11.0.0.1:1 -> 2.2.2.2:2", True),
    ("-m set --match-set ipp dst,dst", "tcp 1.1.1.1:5 -> 192.168.1.1:80", True),
    ("-m set --match-set ipp dst,dst", "udp 1.1.1.1:5 -> 192.168.1.1:80", False),
    ("-m set --match-set ipp dst,src", "udp 1.1.1.1:53 -> 192.168.1.2:80", True),
    ("-m set --match-set ipp dst,dst", "icmp 1.1.1.1 -> 192.168.1.3 icmp_type=8 icmp_code=0",
     True),
    ("-m set --match-set ipp dst,dst", "icmp 1.1.1.1 -> 192.168.1.3 icmp_type=0 icmp_code=0",
     False),
    ("-m set --match-set ipp dst,dst", "gre 1.1.1.1 -> 192.168.1.4", True),
    ("-m set --match-set ipp dst,dst", "gre 1.1.1.1 -> 192.168.1.4 fragment=1", True),
    ("-m set --match-set ipp dst,dst", "tcp 1.1.1.1:5 -> 192.168.1.1:80 fragment=1", False),
    ("-m set --match-set ipp dst", "tcp 1.1.1.1:5 -> 192.168.1.1:80", False),  # too few flags
    ("-m set ! --match-set ipp dst", "tcp 1.1.1.1:5 -> 192.168.1.1:80", True),
    ("-m set --match-set ports dst", "tcp 1.1.1.1:5 -> 3.3.3.3:80", True),
    ("-m set --match-set ports dst", "sctp 1.1.1.1:5 -> 3.3.3.3:80", False),  # tcp/udp only
    ("-m set --match-set netport src,dst", "tcp 172.17.0.1:5 -> 3.3.3.3:443", True),
    ("-m set --match-set netport src,dst", "tcp 172.16.1.1:5 -> 3.3.3.3:443", False),
    ("-m set --match-set ipmac src,src", "udp 10.9.0.1:1 -> 2.2.2.2:2 iif=eth0 "
     "src_mac=02:00:00:00:00:01", True),
    ("-m set --match-set ipmac src,src", "udp 10.9.0.1:1 -> 2.2.2.2:2 iif=eth0 "
     "src_mac=02:00:00:00:00:02", False),
    ("-m set --match-set ipmac src,src", "udp 10.9.0.2:1 -> 2.2.2.2:2 iif=eth0 "
     "src_mac=02:00:00:00:00:02", True),  # stored without MAC: any MAC
    ("-m set --match-set nif src,src", "udp 10.9.0.1:1 -> 2.2.2.2:2 iif=eth0", True),
    # the /16 entry for eth1 decides alone: eth0's /8 is not tried
    ("-m set --match-set nif src,src", "udp 10.1.0.1:1 -> 2.2.2.2:2 iif=eth0", False),
    ("-m set --match-set nif src,dst", "udp 10.1.0.1:1 -> 2.2.2.2:2 iif=eth0 oif=eth1", True),
    ("-m set --match-set nif src,src", "udp 10.2.0.1:1 -> 2.2.2.2:2 iif=veth9", True),
    # the first entry whose name matches decides: vethbad's nomatch, added before veth*
    ("-m set --match-set nif src,src", "udp 10.2.0.1:1 -> 2.2.2.2:2 iif=vethbad", False),
    ("-m set --match-set lst dst,dst", "tcp 1.1.1.1:5 -> 3.3.3.3:80", True),  # via ports
    ("-m set --match-set lst dst,dst", "udp 1.1.1.1:5 -> 192.168.1.2:53", True),  # via ipp
    ("-m set --match-set lst dst", "udp 1.1.1.1:5 -> 192.168.1.2:53", False),
])
def test_set_concrete(match: str, spec: str, holds: bool) -> None:
    rs = ruleset(set_rules(match), SETS)
    assert hits(rs, spec) == ([1] if holds else [])


@pytest.mark.parametrize(("match", "spec"), [
    ("-m set --match-set nets src", "udp 10.0.0.0/7 -> 2.2.2.2"),
    ("-m set ! --match-set nets src --return-nomatch", "udp 10.0.0.0/7 -> 2.2.2.2"),
    ("-m set --match-set ipp dst,dst", "1.1.1.1 -> 192.168.1.0/29"),
    ("-m set --match-set ipp dst,src", "1.1.1.1 -> 192.168.1.0/29"),
    ("-m set --match-set ports src", "1.1.1.1 -> 3.3.3.3"),
    ("-m set --match-set netport src,dst", "tcp 172.16.0.0/15 -> 3.3.3.3"),
    ("-m set --match-set ipmac src,src", "udp 10.9.0.0/30 -> 2.2.2.2"),
    ("-m set --match-set nif src,src", "udp 10.0.0.0/6 -> 2.2.2.2"),
    ("-m set --match-set nif src,dst", "udp 10.2.0.0/24 -> 2.2.2.2 iif=eth0 oif=veth+"),
    ("-m set --match-set lst dst,dst", "1.1.1.1 -> 192.168.1.0/30"),
])
def test_set_abstract_branches_land(match: str, spec: str) -> None:
    lands(ruleset(set_rules(match), SETS), spec)


def test_set_texts() -> None:
    rs = ruleset(set_rules("-m set --match-set nets src"), SETS)
    result = run(rs, "udp 10.0.0.0/7 -> 2.2.2.2")
    assert conditions(result) == {(1,): ["src ∈ ipset nets (3 members)"],
                                  (): ["src ∉ ipset nets (3 members)"]}
    matched = next(p for p in result.paths if p.hits)
    covered = matched.alternatives[0].box.get("src")
    assert isinstance(covered, IntSet)
    assert len(covered) == (1 << 24) - (1 << 16) + (1 << 8)


def test_set_counters_are_an_assumption_only_with_counters() -> None:
    rs = ruleset(set_rules("-m set --match-set nets src --packets-gt 3",
                           "-m set --match-set ipp dst,dst --packets-gt 3"), SETS)
    result = run(rs, "udp 10.9.9.9:1 -> 192.168.1.2:53")
    assert conditions(result)[(1,)] == [
        "ipset nets: the matching entry's packets > 3 (with this packet)"]
    pinned = run(rs, "udp 10.9.9.9:1 -> 192.168.1.2:53",
                 assumptions={"set-counters@filter:FORWARD:1": False})
    assert only(pinned)[1] == (("filter", "FORWARD", 2),)  # ipp has no counters


def test_missing_sets() -> None:
    rules = set_rules("-m set ! --match-set gone src")
    assert hits(ruleset(rules, SETS), "udp 1.1.1.1:1 -> 2.2.2.2:2") == []
    result = run(ruleset(rules), "udp 1.1.1.1:1 -> 2.2.2.2:2")
    assert conditions(result) == {(1,): ["src ∉ ipset gone (no ipset dump given)"],
                                  (): ["src ∈ ipset gone (no ipset dump given)"]}


def test_set_of_the_other_family_never_matches() -> None:
    sets = "create six hash:ip family inet6\nadd six 2001:db8::1\n"
    assert hits(ruleset(set_rules("-m set ! --match-set six src"), sets),
                "udp 1.1.1.1:1 -> 2.2.2.2:2") == [1]


def test_mac_sets_need_a_received_packet() -> None:
    sets = "create macs hash:mac\nadd macs 02:00:00:00:00:07\n"
    rs = ruleset(set_rules("-m set --match-set macs src", "-m set --match-set macs dst"), sets)
    assert hits(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 src_mac=02:00:00:00:00:07") == [1]
    assert hits(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 src_mac=02:00:00:00:00:07", path="out") == []
    result = run(rs, "udp 1.1.1.1:1 -> 2.2.2.2:2 iif=eth0 src_mac=02:00:00:00:00:08")
    assert conditions(result)[(2,)] == ["dst MAC ∈ ipset macs (1 member)"]


def test_mark_sets_use_the_markmask() -> None:
    sets = ("create marks hash:ip,mark family inet markmask 0xff\n"
            "add marks 10.0.0.1,0x12\n")
    rs = ruleset(set_rules("-m set --match-set marks src,dst"), sets)
    assert hits(rs, "udp 10.0.0.1:1 -> 2.2.2.2:2 mark=0x3412") == [1]
    assert hits(rs, "udp 10.0.0.1:1 -> 2.2.2.2:2 mark=0x13") == []
    lands(rs, "udp 10.0.0.0/31 -> 2.2.2.2")


def test_two_net_dimensions_try_the_first_prefix_first() -> None:
    sets = ("create nn hash:net,net family inet\n"
            "add nn 10.0.0.0/8,20.0.0.0/8\n"
            "add nn 10.1.0.0/16,20.0.0.0/8 nomatch\n"
            "add nn 10.1.2.0/24,20.0.0.0/8\n"
            "add nn 10.1.0.0/16,20.2.0.0/16\n")
    rs = ruleset(set_rules("-m set --match-set nn src,dst"), sets)
    for src, dst, holds in (("10.9.0.1", "20.9.0.1", True), ("10.1.9.1", "20.9.0.1", False),
                            ("10.1.2.1", "20.9.0.1", True), ("10.1.9.1", "20.2.0.1", True)):
        assert hits(rs, f"udp {src}:1 -> {dst}:2") == ([1] if holds else []), (src, dst)
    lands(rs, "udp 10.0.0.0/14 -> 20.0.0.0/14")


# --- exactness of the set predicates, by property ----------------------------------------------

@st.composite
def net_sets(draw: Any) -> list[tuple[int, int, bool]]:
    """Up to 12 CIDR entries inside 10.0.0.0/16, some nomatch."""
    out = []
    for _ in range(draw(st.integers(1, 12))):
        cidr = draw(st.integers(16, 32))
        value = (10 << 24) | (draw(st.integers(0, 0xFFFF)) & ~((1 << (32 - cidr)) - 1))
        out.append((value, cidr, draw(st.booleans())))
    return out


def _loadable(create: str, adds: list[str]) -> IpSet:
    """The set with every `add` that ipset restore would accept (duplicates are refused)."""
    kept: list[str] = []
    for line in adds:
        try:
            parse_ipset("\n".join([create, *kept, line]) + "\n")
        except ParseError:
            continue
        kept.append(line)
    return parse_ipset("\n".join([create, *kept]) + "\n")["s"]


def _ip(value: int) -> str:
    return ".".join(str(value >> s & 0xFF) for s in (24, 16, 8, 0))


@settings(max_examples=60, deadline=None)
@given(net_sets(), st.booleans(), st.randoms(use_true_random=False))
def test_net_cover_is_the_kernels_lookup(entries: list[tuple[int, int, bool]],
                                         return_nomatch: bool, rng: random.Random) -> None:
    ipset = _loadable("create s hash:net family inet",
                      [f"add s {_ip(v)}/{c}{' nomatch' if n else ''}" for v, c, n in entries])
    blocks: list[tuple[IntSet, bool]] = []
    for member in ipset.members:
        (part,) = member.parts
        assert isinstance(part, IpPart)
        blocks.append((IntSet.prefix(part.value, part.cidr, 32),
                       member.nomatch if return_nomatch else not member.nomatch))
    cover = address_cover(blocks, 32)
    probes = [rng.randrange(10 << 24, (10 << 24) + (1 << 16)) for _ in range(200)]
    probes += [lo for b, _ in blocks for lo, _hi in b.ranges]
    for address in probes:
        assert (address in cover) == ipset.contains(address, return_nomatch=return_nomatch)


MULTI = [
    ("hash:ip,port", "{a},{p}"), ("hash:net,port", "{n},{p}"), ("hash:ip,port,ip", "{a},{p},{b}"),
    ("hash:ip,port,net", "{a},{p},{n2}"), ("hash:net,port,net", "{n},{p},{n2}"),
    ("hash:net,net", "{n},{n2}"), ("hash:net,iface", "{n},{i}"),
]


@pytest.mark.parametrize(("settype", "entry"), MULTI)
def test_multi_dimension_predicates_are_exact(settype: str, entry: str) -> None:
    """On concrete packets, the predicate built for abstract ones (every `Custom` replaced by
    its exact expansion) answers as the membership index does, and as the trace did."""
    rng = random.Random(settype)
    ports = ("tcp:80", "udp:53", "icmp:8/0", "tcp:443", "gre:0")
    lines = [f"create s {settype} family inet"]
    for _ in range(25):
        n = f"10.{rng.randrange(4)}.{rng.randrange(4)}.0/{rng.choice((16, 24, 30))}"
        n2 = f"20.0.{rng.randrange(4)}.0/{rng.choice((16, 24, 30))}"
        iface = rng.choice(("eth0", "eth1", "et", "veth"))
        wildcard = " wildcard" if settype == "hash:net,iface" and rng.random() < 0.5 else ""
        nomatch = " nomatch" if "net" in settype and rng.random() < 0.3 else ""
        text = entry.format(a=f"10.0.{rng.randrange(4)}.{rng.randrange(4)}", p=rng.choice(ports),
                            b=f"20.0.0.{rng.randrange(4)}", n=n, n2=n2, i=iface)
        lines.append(f"add s {text}{nomatch}{wildcard}")
    ipset = _loadable(lines[0], lines[1:])
    dirs = "src,src" if settype == "hash:net,iface" else "src,dst,dst"
    rs = Ruleset([parse_iptables(set_rules(f"-m set --match-set s {dirs}"))], sets={"s": ipset})
    filter_table = rs.table(V4, "filter")
    assert filter_table is not None
    chain = filter_table.chain("FORWARD")
    assert chain is not None
    pred = filter_table.rule(chain, 0).conditions[0].pred
    exact = _expanded(pred)
    matched = 0
    for _ in range(200):
        proto = rng.choice(("tcp", "udp", "icmp", "gre"))
        src = f"10.{rng.randrange(4)}.{rng.randrange(4)}.{rng.randrange(4)}"
        dst = f"20.0.{rng.randrange(4)}.{rng.randrange(4)}"
        spec = f"{proto} {src} -> {dst} iif={rng.choice(('eth0', 'eth1', 'etx', 'veth3'))}"
        if proto in ("tcp", "udp"):
            spec += f" sport={rng.choice((1, 53, 80))} dport={rng.choice((53, 80, 443))}"
        elif proto == "icmp":
            spec += f" icmp_type={rng.choice((0, 8))} icmp_code=0"
        packet = parse_packet(spec)
        box = Box(dict(packet.fields) | {"fragment": IntSet.single(0, 1)}, V4)
        decided = bool(split(pred, Branch(box), {})[0])
        assert bool(split(exact, Branch(box), {})[0]) == decided, spec
        assert hits(rs, spec) == ([1] if decided else [])
        matched += decided
    assert 0 < matched < 200  # both sides were exercised


def _expanded(pred: Pred) -> Pred:
    """`pred` with every Custom replaced by its exact expansion."""
    if isinstance(pred, Custom):
        assert pred.expand is not None
        return _expanded(pred.expand())
    if isinstance(pred, And):
        return And(tuple(_expanded(p) for p in pred.parts))
    if isinstance(pred, Or):
        return Or(tuple(_expanded(p) for p in pred.parts))
    if isinstance(pred, Not):
        return Not(_expanded(pred.part))
    return pred


# --- the kernel as oracle ----------------------------------------------------------------------

def _lab_packet(src: str, dst: str, **fields: Any) -> Any:
    from iptparse.sandbox.frames import KernelPacket
    from iptparse.verify.model import LAB_SRC_MAC

    values: dict[str, Any] = {"iif": "eth0", "oif": "eth1", "src_mac": LAB_SRC_MAC}
    return KernelPacket(src=src, dst=dst, **(values | fields))


def _model(packet: Any) -> Packet:
    """The lab packet as iptparse sees it; a connection the kernel just made has no labels."""
    from iptparse.verify.model import model_packet

    return model_packet(packet, "forward").with_(ctlabels=BitSet.single(0, 128))


def _exactly(rules: str, packets: list[Any], family: Family = V4, sets: str = ""
             ) -> set[tuple[str, str, int]]:
    """Every packet: the kernel's counters and delivery are the trace's only path. Returns
    the rules some packet hit (so a test can check that its packets reach every rule)."""
    from iptparse.sandbox.lab import Lab

    from ..conftest import require_kernel

    require_kernel()
    rs = ruleset(rules, sets, family)
    with Lab(rules, family, path="forward", ipsets=sets or None,
             interfaces=["eth0", "eth1"]) as lab:
        seen: set[tuple[str, str, int]] = set()
        for packet in packets:
            result = trace(rs, _model(packet), "forward")
            assert len(result.paths) == 1, (packet, [p.conditions for p in result.paths])
            observed = lab_counts(lab.send(packet))
            assert observed == trace_counts(result.paths[0]), packet
            seen |= set(observed[0])
    return seen


def _one_of(rules: str, packets: list[Any]) -> list[tuple[str, ...]]:
    """Every packet: some path of the trace gives the kernel's counters (guided search of
    iptparse.verify); returns each packet's assumptions on that path."""
    from iptparse.sandbox.lab import Lab
    from iptparse.verify.compare import AGREE, compare

    from ..conftest import require_kernel

    require_kernel()
    rs = ruleset(rules)
    taken = []
    with Lab(rules, V4, path="forward", interfaces=["eth0", "eth1"]) as lab:
        for packet in packets:
            comparison = compare(rs, packet, _model(packet), "forward", lab.send(packet))
            assert comparison.outcome == AGREE, (packet, comparison.reason)
            assert comparison.chosen is not None
            taken.append(comparison.chosen.assumptions)
    return taken


KERNEL_STATE = (
    table("raw", "-A PREROUTING -m conntrack --ctstate INVALID --ctproto udp\n"
                 "-A PREROUTING -m conntrack --ctproto tcp\n"
                 "-A PREROUTING -m state --state INVALID\n"
                 "-A PREROUTING -m connmark ! --mark 0x1\n"
                 "-A PREROUTING -m helper ! --helper ftp\n"
                 "-A PREROUTING -m connlabel ! --label 1\n"
                 "-A PREROUTING -m comment --comment raw\n")
    + table("mangle",
            "-A FORWARD -p tcp -m conntrack --ctstate NEW --ctdir ORIGINAL --ctorigsrc "
            "10.0.1.0/24 --ctrepldst 10.0.1.1 --ctorigdstport 80:90 --ctproto tcp\n"
            "-A FORWARD -m conntrack --ctdir REPLY\n"
            "-A FORWARD -m conntrack ! --ctstatus NONE\n"
            "-A FORWARD -m conntrack --ctstatus CONFIRMED\n"
            "-A FORWARD -m conntrack --ctstate DNAT\n"
            "-A FORWARD -m conntrack ! --ctstate SNAT,DNAT\n"
            "-A FORWARD -m connmark --mark 0x0\n"
            "-A FORWARD -m connmark ! --mark 0x0/0xff\n"
            "-A FORWARD -m mark --mark 0x0/0xffff0000\n"
            "-A FORWARD -m mark --mark 0x1/0x0\n"
            "-A FORWARD -m mark ! --mark 0x1/0x0\n"
            "-A FORWARD -m helper --helper \"\"\n"
            "-A FORWARD -p tcp -m multiport --dports 80,8000:8080\n"
            "-A FORWARD -p udp -m multiport ! --ports 53,123\n"
            "-A FORWARD -p tcp -m multiport --sports 40000\n"
            "-A FORWARD -m cluster --cluster-total-nodes 3 --cluster-local-node 2 "
            "--cluster-hash-seed 0x1234\n"
            "-A FORWARD -m cluster --cluster-total-nodes 3 ! --cluster-local-nodemask 5 "
            "--cluster-hash-seed 0x1234\n"
            "-A FORWARD -m statistic --mode random --probability 1\n"
            "-A FORWARD -m statistic --mode random --probability 0\n"
            "-A FORWARD -m statistic --mode random ! --probability 0\n"
            "-A FORWARD -m recent --set --name X\n"
            "-A FORWARD -m recent ! --set --name Y\n"
            "-A FORWARD -m connlabel --label 3\n"
            "-A FORWARD -m connlabel --label 2 --set\n")
    + forward("-A FORWARD -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
              "-A FORWARD -m state --state INVALID -j DROP\n"
              "-A FORWARD -p tcp -m multiport --dports 22 -j DROP\n"
              "-A FORWARD -j ACCEPT\n"))


@pytest.mark.kernel
def test_kernel_state_marks_and_stateless_modules() -> None:
    from iptparse.sandbox.frames import TCP_ACK, TCP_FIN, TCP_SYN

    packets = [
        _lab_packet("10.0.1.1", "10.0.2.2", dport=80),
        _lab_packet("10.0.1.1", "10.0.2.2", dport=22),
        _lab_packet("10.0.3.3", "10.0.2.2", sport=1234, dport=8080, tcp_flags=TCP_ACK),
        _lab_packet("10.0.1.1", "10.0.2.2", dport=80, tcp_flags=TCP_SYN | TCP_FIN),
        _lab_packet("10.0.1.5", "10.0.2.2", protocol="udp", sport=53, dport=5353),
        _lab_packet("10.0.1.5", "10.0.2.2", protocol="udp", sport=5000, dport=6000),
        _lab_packet("10.0.4.4", "10.0.2.2", protocol="icmp"),
        *(_lab_packet(f"10.0.5.{n}", "10.0.2.2", protocol="udp") for n in range(1, 9)),
    ]
    seen = _exactly(KERNEL_STATE, packets)
    mangle = {n for table_name, _, n in seen if table_name == "mangle"}
    assert mangle == set(range(1, 25)) - {2, 4, 5, 8, 10, 12, 19, 22, 23}


KERNEL_SETS = SETS.replace("02:00:00:00:00:01", "02:1a:b0:ff:00:01")


@pytest.mark.kernel
def test_kernel_ipv4_sets() -> None:
    rules = forward("".join(f"-A FORWARD -m set {m}\n" for m in (
        "--match-set nets src", "--match-set nets src --return-nomatch",
        "! --match-set nets src", "--match-set ipp dst,dst", "--match-set ipp dst,src",
        "--match-set ipp dst", "--match-set ports dst", "--match-set netport src,dst",
        "--match-set ipmac src,src", "--match-set nif src,src", "--match-set nif src,dst",
        "--match-set lst dst,dst", "--match-set lst dst")), policy="ACCEPT")
    packets = [
        _lab_packet("10.9.9.9", "3.3.3.3", protocol="udp"),
        _lab_packet("10.1.9.9", "3.3.3.3", protocol="udp"),
        _lab_packet("10.1.2.9", "3.3.3.3", dport=80),
        _lab_packet("11.0.0.1", "192.168.1.1", dport=80),
        _lab_packet("11.0.0.1", "192.168.1.1", protocol="udp", dport=80),
        _lab_packet("11.0.0.1", "192.168.1.2", protocol="udp", sport=53, dport=1),
        _lab_packet("11.0.0.1", "192.168.1.3", protocol="icmp", icmp_type=8),
        _lab_packet("11.0.0.1", "192.168.1.4", protocol="gre"),
        _lab_packet("172.17.0.1", "3.3.3.3", dport=443),
        _lab_packet("172.16.1.1", "3.3.3.3", dport=443),
        _lab_packet("10.9.0.1", "3.3.3.3", protocol="udp"),
        _lab_packet("10.9.0.2", "3.3.3.3", protocol="udp"),
        _lab_packet("10.1.0.1", "3.3.3.3", protocol="udp", iif="eth1", oif="eth0"),
        _lab_packet("10.1.0.1", "3.3.3.3", protocol="udp", iif="eth0", oif="eth1"),
        _lab_packet("10.2.0.1", "3.3.3.3", protocol="udp", iif="veth9", oif="eth1"),
        _lab_packet("10.2.0.1", "3.3.3.3", protocol="udp", iif="vethbad", oif="eth1"),
    ]
    seen = _exactly(rules, packets, sets=KERNEL_SETS)
    assert {n for _, _, n in seen} == set(range(1, 14)) - {6}  # `ipp dst`: too few flags


KERNEL_SETS6 = """create nets6 hash:net family inet6
add nets6 2001:db8::/32
add nets6 2001:db8:1::/48 nomatch
create ports bitmap:port range 0-1024
add ports 80
create nif6 hash:net,iface family inet6
add nif6 2001:db8::/32,eth0
add nif6 2001:db8:1::/48,eth1
create ipp6 hash:ip,port family inet6
add ipp6 2001:db8:99::1,ipv6-icmp:128/0
add ipp6 2001:db8:99::1,tcp:443
"""


@pytest.mark.kernel
def test_kernel_ipv6() -> None:
    rules = forward("-A FORWARD -m set --match-set nets6 src\n"
                    "-A FORWARD -m set --match-set ports dst\n"
                    "-A FORWARD -m set --match-set nif6 src,src\n"
                    "-A FORWARD -m set --match-set ipp6 dst,dst\n"
                    "-A FORWARD -m conntrack --ctstate NEW --ctorigsrc 2001:db8::/33 "
                    "--ctrepldst 2001:db8::1\n"
                    "-A FORWARD -m cluster --cluster-total-nodes 2 --cluster-local-node 1 "
                    "--cluster-hash-seed 0x9\n"
                    "-A FORWARD -p tcp -m multiport --ports 443\n"
                    "-A FORWARD -m state ! --state NEW\n", policy="ACCEPT")
    packets = [
        _lab_packet("2001:db8::1", "2001:db8:99::1", dport=80),
        _lab_packet("2001:db8:1::1", "2001:db8:99::1", dport=443),
        _lab_packet("2001:db8:1::1", "2001:db8:99::1", dport=443, iif="eth1", oif="eth0"),
        _lab_packet("2001:db9::1", "2001:db8:99::1", protocol="icmpv6"),
        _lab_packet("2002:db9::1", "2001:db8:99::1", protocol="udp", dport=81),
        _lab_packet("2001:db8:99::1", "2001:db8::5", dport=80, tcp_flags=0x03),
    ]
    seen = _exactly(rules, packets, V6, KERNEL_SETS6)
    assert {n for _, _, n in seen} == set(range(1, 9))


KERNEL_STATEFUL = table("mangle", "".join(f"-A FORWARD {m}\n" for m in (
    "-m limit --limit 1/hour --limit-burst 3",
    "-m hashlimit --hashlimit-upto 1/hour --hashlimit-burst 2 --hashlimit-mode srcip "
    "--hashlimit-name h1",
    "-m hashlimit --hashlimit-above 1/hour --hashlimit-burst 2 --hashlimit-mode srcip "
    "--hashlimit-name h2",
    "-m recent --rcheck --name R1",
    "-m recent --set --name R1",
    "-m recent --update --seconds 60 --hitcount 2 --name R1",
    "-m recent ! --remove --name R2",
    "-m connlimit --connlimit-above 0",
    "-m connlimit --connlimit-upto 0",
    "-m quota --quota 200",
    "-m quota ! --quota 200",
    "-m connbytes --connbytes 1:1 --connbytes-dir original --connbytes-mode packets",
    "-m statistic --mode nth --every 2 --packet 0",
    "-m statistic --mode random --probability 0.5",
))) + forward("", policy="ACCEPT")


def _kernel_hits(rules: str, count: int) -> list[Counter[tuple[str, str, int]]]:
    """`count` UDP packets from one source, one after the other: the rules each hit in the
    kernel, which must be the hits of some path of the trace."""
    from iptparse.sandbox.lab import Lab
    from iptparse.verify.compare import AGREE, compare

    from ..conftest import require_kernel

    require_kernel()
    rs = ruleset(rules)
    out = []
    with Lab(rules, V4, path="forward", interfaces=["eth0", "eth1"]) as lab:
        for n in range(count):
            packet = _lab_packet("10.0.0.1", "10.0.2.2", protocol="udp", sport=1000 + n)
            result = lab.send(packet)
            comparison = compare(rs, packet, _model(packet), "forward", result)
            assert comparison.outcome == AGREE, (packet, comparison.reason)
            out.append(lab_counts(result)[0])
    return out


@pytest.mark.kernel
def test_kernel_draws_anew_at_each_visit_of_a_statistic_rule() -> None:
    """The kernel's counters for a rule met twice per packet: a path of the trace each time,
    and among them the packets whose two draws differ (one visit matched), which a draw shared
    by the visits cannot give. 40 packets miss them with probability 0.625**40 per chain."""
    counts = _kernel_hits(TWICE, 40)
    assert 1 in {c["mangle", "M", 1] for c in counts}
    assert 1 in {c["filter", "R", 1] for c in counts}


@pytest.mark.kernel
def test_kernel_takes_a_token_at_each_visit_of_a_limit_rule() -> None:
    """Chains L (a limit of burst 3) and Q (a quota of 100 bytes) each entered twice per
    packet of 28 bytes: the first packet matches both visits, the second only the first (the
    third token, the last 44 bytes), the third neither. Each time the kernel's counters are a
    path of the trace, which a limit assumed once for both visits cannot give."""
    rules = table("filter", "-A FORWARD -j L\n-A FORWARD -j L\n-A FORWARD -j Q\n"
                            "-A FORWARD -j Q\n-A L -m limit --limit 1/hour --limit-burst 3\n"
                            "-A Q -m quota --quota 100\n")
    seen = [(c["filter", "L", 1], c["filter", "Q", 1]) for c in _kernel_hits(rules, 3)]
    assert seen == [(2, 2), (1, 1), (0, 0)]


@pytest.mark.kernel
def test_kernel_evaluates_each_recent_match_of_a_rule_on_its_own() -> None:
    """A source put in list B and in no list A: the kernel drops it by the rule that asks
    for both, which iptparse said could never match when the two matches shared a key."""
    rules = table("filter", "-A FORWARD -m recent --set --name B --mask 255.255.255.255 "
                            "--rsource\n-A FORWARD -m recent ! --rcheck --name A --mask "
                            "255.255.255.255 --rsource -m recent --rcheck --name B --mask "
                            "255.255.255.255 --rsource -j DROP\n")
    (counts,) = _kernel_hits(rules, 1)
    assert counts["filter", "FORWARD", 2] == 1


@pytest.mark.kernel
def test_kernel_stateful_modules_take_one_of_the_paths() -> None:
    packets = [_lab_packet(f"10.0.{n % 2}.1", "10.0.2.2", protocol="udp", length=n * 20)
               for n in range(6)]
    taken = _one_of(KERNEL_STATEFUL, packets)
    # the third packet from 10.0.0.1 onwards has seen the bucket of hashlimit h1 run dry
    assert any("hashlimit h1: the bucket of srcip is over 1/hour, burst 2" in text
               for text in taken[4])
