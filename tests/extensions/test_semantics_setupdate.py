"""SET --add-set / --del-set seen by a later `-m set` of the same walk (pathsets, _a_setupdate).

Each case runs through iptparse and, marked `kernel`, through a kernel lab with fresh sets:
the rules the packet hits must be the same, and so must the set's entries afterwards (what the
kernel added: a hash:net takes its most specific prefix length, an existing nomatch entry
stays one without --exist...).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

import pytest

from iptparse.concrete import evaluate
from iptparse.concrete_memo import evaluate as memo_evaluate
from iptparse.domain import IntSet
from iptparse.ipset import parse_ipset, render_ipset
from iptparse.ipset.nodes import IpsetDump
from iptparse.nodes import Family
from iptparse.packet import Packet, parse_packet
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import PathResult, TraceResult, trace
from iptparse.verify.draw import draw_from_box
from iptparse.verify.model import LabSetup, lab_host, model_packet

from ..conftest import require_kernel
from ._helpers import lab_counts, table, trace_counts


def fwd(**fields: object) -> KernelPacket:
    values: dict[str, object] = {"src": "10.0.1.1", "dst": "10.0.2.2", "iif": "eth0",
                                 "oif": "eth1"}
    return KernelPacket(**(values | fields))  # type: ignore[arg-type]


FORWARDED = fwd()


@dataclass(frozen=True)
class Case:
    name: str
    sets: str
    rules: str  # filter FORWARD rules, or whole tables when it starts with "*"
    hits: tuple[int, ...]  # the filter FORWARD rules the packet hits
    after: tuple[str, ...]  # the changed set's `add` lines afterwards
    packet: KernelPacket = FORWARDED
    watch: str = ""  # the set whose entries `after` lists (default: the first)

    @property
    def restore(self) -> str:
        return self.rules if self.rules.startswith("*") else table("filter", self.rules)

    @property
    def changed(self) -> str:
        return self.watch or self.sets.split()[1]


UDP = fwd(protocol="udp")
CASES = [
    Case("the packet that is added is dropped",
         "create scan hash:ip family inet\n",
         "-A FORWARD -p tcp -m tcp --dport 80 -j SET --add-set scan src\n"
         "-A FORWARD -m set --match-set scan src -j DROP\n", (1, 2), ("add scan 10.0.1.1",)),
    Case("a hash:net adds the network of its most specific prefix length",
         "create n hash:net family inet\nadd n 192.168.0.0/16\nadd n 172.16.1.0/24\n",
         "-A FORWARD -j SET --add-set n src\n-A FORWARD -m set --match-set n src\n"
         "-A FORWARD -m set --match-set n dst\n", (1, 2),
         ("add n 10.0.1.0/24", "add n 172.16.1.0/24", "add n 192.168.0.0/16")),
    Case("a deleted address is no longer found",
         "create h hash:ip family inet\nadd h 10.0.1.1\nadd h 10.0.2.2\n",
         "-A FORWARD -j SET --del-set h src\n-A FORWARD -m set --match-set h src\n"
         "-A FORWARD -m set --match-set h dst\n", (1, 3), ("add h 10.0.2.2",)),
    Case("a delete takes the most specific network only",
         "create n hash:net family inet\nadd n 10.0.0.0/8\nadd n 10.0.1.0/24\n",
         "-A FORWARD -j SET --del-set n src\n-A FORWARD -m set --match-set n src\n", (1, 2),
         ("add n 10.0.0.0/8",)),
    Case("a bitmap takes only addresses in its range",
         "create b bitmap:ip range 10.0.2.0/24\n",
         "-A FORWARD -j SET --add-set b src\n-A FORWARD -m set --match-set b src\n"
         "-A FORWARD -j SET --add-set b dst\n-A FORWARD -m set --match-set b dst\n",
         (1, 3, 4), ("add b 10.0.2.2",)),
    Case("an address and a port: the directions the rule gives",
         "create p hash:ip,port family inet\n",
         "-A FORWARD -j SET --add-set p src,dst\n-A FORWARD -m set --match-set p src,dst\n"
         "-A FORWARD -m set --match-set p src,src\n", (1, 2), ("add p 10.0.1.1,udp:80",), UDP),
    Case("a nomatch entry stays one unless --exist",
         "create n hash:net family inet\nadd n 10.0.0.0/8\nadd n 10.0.1.0/24 nomatch\n",
         "-A FORWARD -j SET --add-set n src\n-A FORWARD -m set --match-set n src\n"
         "-A FORWARD -j SET --add-set n src --exist\n-A FORWARD -m set --match-set n src\n",
         (1, 3, 4), ("add n 10.0.0.0/8", "add n 10.0.1.0/24")),
    Case("a full set takes nothing",
         "create f hash:ip family inet maxelem 1\nadd f 10.9.9.9\n",
         "-A FORWARD -j SET --add-set f src\n-A FORWARD -m set --match-set f src\n", (1,),
         ("add f 10.9.9.9",)),
    Case("no port in a non-first fragment: nothing added",
         "create p hash:ip,port family inet\n",
         "-A FORWARD -j SET --add-set p src,dst\n-A FORWARD -m set --match-set p src,dst\n",
         (1,), (), fwd(protocol="udp", frag_offset=10)),
    Case("a change in one table is seen in the next",
         "create scan hash:ip family inet\n",
         table("mangle", "-A PREROUTING -j SET --add-set scan src\n")
         + table("filter", "-A FORWARD -m set --match-set scan src -j DROP\n"), (1,),
         ("add scan 10.0.1.1",)),
    Case("an add compares the very element, not the network a host falls in",
         "create n hash:net family inet maxelem 2\nadd n 10.0.0.0/16 nomatch\n"
         "add n 10.0.1.1/32 nomatch\n",
         "-A FORWARD -j SET --add-set n src --exist\n-A FORWARD -m set --match-set n src\n",
         (1,), ("add n 10.0.0.0/16 nomatch", "add n 10.0.1.1 nomatch"),
         fwd(src="10.0.1.2")),
    Case("a delete of a host leaves the network it falls in",
         "create n hash:net family inet\nadd n 10.0.0.0/16\nadd n 192.168.1.1\n",
         "-A FORWARD -j SET --del-set n dst\n-A FORWARD -m set --match-set n dst\n", (1, 2),
         ("add n 10.0.0.0/16", "add n 192.168.1.1")),
    Case("a delete takes the network of the most specific prefix length, the only one here",
         "create n hash:net family inet\nadd n 10.0.0.0/16\n",
         "-A FORWARD -j SET --del-set n dst\n-A FORWARD -m set --match-set n dst\n", (1,), ()),
    Case("a list:set adds to the first member that takes the element",
         "create a bitmap:ip range 10.0.2.0/24\ncreate b hash:ip family inet\n"
         "create l list:set\nadd l a\nadd l b\n",
         "-A FORWARD -j SET --add-set l src\n-A FORWARD -m set --match-set b src\n"
         "-A FORWARD -m set --match-set l src\n-A FORWARD -m set --match-set a src\n",
         (1, 2, 3), ("add b 10.0.1.1",), watch="b"),
    Case("an element already in the first member goes on to the next",
         "create a hash:ip family inet\nadd a 10.0.1.1\ncreate b hash:ip family inet\n"
         "create l list:set\nadd l a\nadd l b\n",
         "-A FORWARD -j SET --add-set l src\n-A FORWARD -m set --match-set b src\n",
         (1, 2), ("add b 10.0.1.1",), watch="b"),
    Case("a list:set deletes from the first member that has the element",
         "create a hash:ip family inet\ncreate b hash:ip family inet\nadd b 10.0.1.1\n"
         "create c hash:ip family inet\nadd c 10.0.1.1\n"
         "create l list:set\nadd l a\nadd l b\nadd l c\n",
         "-A FORWARD -j SET --del-set l src\n-A FORWARD -m set --match-set b src\n"
         "-A FORWARD -m set --match-set c src\n", (1, 3), (), watch="b"),
    Case("deleted and added again in one walk",
         "create h hash:ip family inet\nadd h 10.0.1.1\n",
         "-A FORWARD -j SET --del-set h src\n-A FORWARD -m set --match-set h src\n"
         "-A FORWARD -j SET --add-set h src\n-A FORWARD -m set --match-set h src -j DROP\n",
         (1, 3, 4), ("add h 10.0.1.1",)),
]


def model(case: Case) -> tuple[Ruleset, TraceResult]:
    sets = parse_ipset(case.sets)
    ruleset = Ruleset([parse_iptables(case.restore)], sets={s.name: s for s in sets},
                      host=lab_host(case.packet, "forward", LabSetup()))
    return ruleset, trace(ruleset, packet_of(case), "forward")


def packet_of(case: Case) -> Packet:
    """The lab packet as iptparse reads it; a non-first fragment is the whole packet with
    `fragment=1` (the lab sends it as it is: no rule here makes conntrack reassemble it)."""
    if not case.packet.frag_offset:
        return model_packet(case.packet, "forward")
    whole = model_packet(replace(case.packet, frag_offset=0), "forward")
    return whole.with_(fragment=IntSet.single(1, 1))


def forward_hits(path: PathResult) -> tuple[int, ...]:
    return tuple(h.rule for h in path.hits if (h.table, h.chain) == ("filter", "FORWARD"))


def added_lines(path: PathResult, name: str) -> tuple[str, ...]:
    assert path.state.sets is not None
    text = render_ipset(IpsetDump((path.state.sets[name],)))
    return tuple(sorted(line for line in text.splitlines() if line.startswith("add ")))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_later_lookup_sees_the_change(case: Case) -> None:
    ruleset, result = model(case)
    assert len(result.paths) == 1, [p.conditions for p in result.paths]
    path = result.paths[0]
    assert forward_hits(path) == case.hits
    if path.state.sets is not None:
        assert added_lines(path, case.changed) == case.after
    else:  # nothing changed: the captured set is the answer
        assert case.after == tuple(sorted(
            line for line in render_ipset(parse_ipset(case.sets)).splitlines()
            if line.startswith("add ")))
    packet = packet_of(case)
    # the fast evaluators leave such walks to the interpreter; the stepping walk agrees
    assert evaluate(ruleset, packet, "forward") is None
    assert memo_evaluate(ruleset, packet, "forward") is None
    stepped = trace(ruleset, packet, "forward", steps=True)
    assert [forward_hits(p) for p in stepped.paths] == [case.hits]


@pytest.mark.kernel
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_kernel_agrees(case: Case) -> None:
    require_kernel()
    _, result = model(case)
    path, = result.paths
    with Lab(case.restore, Family.INET, path="forward", ipsets=case.sets,
             interfaces=["eth0", "eth1"]) as lab:
        kernel = lab.send(case.packet)
        saved = lab.router.run(["ipset", "save", case.changed]).stdout
    assert lab_counts(kernel) == trace_counts(path)
    assert tuple(sorted(line for line in saved.splitlines() if line.startswith("add "))) \
        == case.after


SCAN = ("create scan hash:ip family inet\nadd scan 10.9.9.9\n"
        "create all list:set\nadd all scan\n")


def abstract_cases() -> list[tuple[str, str, str, list[tuple[str, tuple[int, ...]]]]]:
    """(sets, FORWARD rules, packet, the outcomes) of walks whose key is not exact."""
    add = "-A FORWARD -p tcp -m tcp --dport 23 -j SET --add-set {} src\n"
    return [
        # the same address looked up: found, whatever it is
        (SCAN, add.format("scan") + "-A FORWARD -m set --match-set scan src -j DROP\n",
         "tcp 10.0.0.0/8:1 -> 10.0.2.2:23", [("DROP", (1, 2))]),
        (SCAN, add.format("scan") + "-A FORWARD -m set ! --match-set scan src -j DROP\n",
         "tcp 10.0.0.0/8:1 -> 10.0.2.2:23", [("ACCEPT", (1,))]),
        # hash:net without nomatch entries: its network holds it
        ("create n hash:net family inet\nadd n 192.168.0.0/16\n",
         add.format("n") + "-A FORWARD -m set --match-set n src -j DROP\n",
         "tcp 0.0.0.0/0:1 -> 10.0.2.2:23", [("DROP", (1, 2))]),
        # a bitmap takes what is in its range
        ("create b bitmap:ip range 10.0.0.0/24\n",
         add.format("b") + "-A FORWARD -m set --match-set b src -j DROP\n",
         "tcp 10.0.0.0/23:1 -> 10.0.2.2:23", [("ACCEPT", (1,)), ("DROP", (1, 2))]),
        # a full set takes nothing: the lookup is the captured set's
        ("create f hash:ip family inet maxelem 1\nadd f 10.0.0.7\n",
         add.format("f") + "-A FORWARD -m set --match-set f src -j DROP\n",
         "tcp 10.0.0.0/24:1 -> 10.0.2.2:23", [("ACCEPT", (1,)), ("DROP", (1, 2))]),
        # deleted: not found, though the set held some of these addresses
        (SCAN, "-A FORWARD -j SET --del-set scan src\n"
         "-A FORWARD -m set --match-set scan src -j DROP\n",
         "tcp 10.9.9.0/24:1 -> 10.0.2.2:23", [("ACCEPT", (1,))]),
        # an address and a port: found whatever the protocol, but IPv4's protocol 0
        ("create p hash:ip,port family inet\n",
         "-A FORWARD -j SET --add-set p src,dst\n"
         "-A FORWARD -m set --match-set p src,dst -j DROP\n",
         "10.0.0.0/24 -> 10.0.2.2", [("ACCEPT", (1,)), ("DROP", (1, 2))]),
        ("create p hash:ip,port family inet\nadd p 10.0.0.1,udp:53\n",
         "-A FORWARD -j SET --del-set p src,dst\n"
         "-A FORWARD -m set --match-set p src,dst -j DROP\n",
         "udp 10.0.0.0/30:1 -> 10.0.2.2", [("ACCEPT", (1,))]),
        # a bitmap of ports takes TCP and UDP ports in its range
        ("create b bitmap:port range 0-1000\n",
         "-A FORWARD -j SET --add-set b dst\n-A FORWARD -m set --match-set b dst -j DROP\n",
         "10.0.0.1 -> 10.0.2.2", [("ACCEPT", (1,)), ("DROP", (1, 2))]),
        # a network and a port, without nomatch entries
        ("create np hash:net,port family inet\nadd np 192.168.0.0/16,tcp:80\n",
         "-A FORWARD -j SET --add-set np src,dst\n"
         "-A FORWARD -m set --match-set np src,dst -j DROP\n",
         "tcp 10.0.0.0/8:1 -> 10.0.2.2", [("DROP", (1, 2))]),
    ]


@pytest.mark.parametrize("case", abstract_cases(), ids=range(len(abstract_cases())))
def test_the_same_key_looked_up_again(
        case: tuple[str, str, str, list[tuple[str, tuple[int, ...]]]]) -> None:
    """A key not known exactly, looked up again unchanged, is exact: packets drawn from each
    path, sent one by one (the concrete walk, which the kernel cases hold exact), take it."""
    sets, rules, spec, outcomes = case
    ruleset = Ruleset([parse_iptables(table("filter", rules))],
                      sets={s.name: s for s in parse_ipset(sets)})
    result = trace(ruleset, parse_packet(f"{spec} iif=eth0 oif=eth1"), "forward")
    assert sorted((p.verdict, forward_hits(p)) for p in result.paths) == outcomes
    rng = random.Random(sets + rules)
    checked = 0
    for path in result.paths:
        drawn = [p for _ in range(8)
                 if (p := draw_from_box(rng, path.alternatives[0].box, "forward")) is not None]
        checked += bool(drawn)  # (the lab sends no packet of protocol 0)
        for packet in drawn:
            concrete = trace(ruleset, model_packet(packet, "forward"), "forward")
            assert [(p.verdict, forward_hits(p)) for p in concrete.paths] == [
                (path.verdict, forward_hits(path))], packet
    unsendable = sum(any(c == "proto = 0" for c in p.conditions) for p in result.paths)
    assert checked == len(result.paths) - unsendable


def scan_ruleset(rules: str) -> Ruleset:
    return Ruleset([parse_iptables(table("filter", rules))],
                   sets={s.name: s for s in parse_ipset(SCAN)})


ABSTRACT = parse_packet("tcp 10.0.0.0/24:1 -> 10.0.2.2:23 iif=eth0 oif=eth1")


@pytest.mark.parametrize("lookup", ["-m set --match-set scan dst", "-m set --match-set all src"])
def test_another_key_after_a_change_not_known_exactly_is_an_assumption(lookup: str) -> None:
    """The destination looked up after the source went in (they may be equal), or a list:set
    holding the changed set: an assumption that names the change, which a pin decides; a
    packet the rule did not add sees the captured set."""
    rules = ("-A FORWARD -p tcp -m tcp --dport 23 -j SET --add-set scan src\n"
             f"-A FORWARD {lookup} -j DROP\n")
    ruleset = scan_ruleset(rules)
    result = trace(ruleset, ABSTRACT, "forward")
    assert sorted((p.verdict, forward_hits(p)) for p in result.paths) == [
        ("ACCEPT", (1,)), ("DROP", (1, 2))]
    texts = [c for p in result.paths for c in p.conditions]
    assert all("ipset scan changed: add src to ipset scan by filter:FORWARD:1" in t
               for t in texts), texts
    name = lookup.split()[3]
    pinned = trace(ruleset, ABSTRACT, "forward",
                   assumptions={f"set:{name}@filter:FORWARD:2": True})
    assert [(p.verdict, forward_hits(p)) for p in pinned.paths] == [("DROP", (1, 2))]
    other = trace(ruleset, parse_packet("tcp 10.0.0.0/24:1 -> 10.9.9.9:22 iif=eth0 oif=eth1"),
                  "forward")
    expected = [("DROP", (2,))] if "dst" in lookup else [("ACCEPT", ())]
    assert [(p.verdict, forward_hits(p)) for p in other.paths] == expected


def test_a_rewritten_field_is_another_key() -> None:
    """Added by destination before DNAT, looked up by destination after it: not the same
    key, so not known; looked up by source (never rewritten): found."""
    rules = (table("mangle", "-A PREROUTING -j SET --add-set scan dst\n"
                   "-A PREROUTING -j SET --add-set seen src\n")
             + table("nat", "-A PREROUTING -p tcp -j DNAT --to-destination 10.0.3.3\n")
             + table("filter", "-A FORWARD -m set --match-set scan dst -j DROP\n"
                     "-A FORWARD -m set --match-set seen src -j REJECT\n"))
    sets = SCAN + "create seen hash:ip family inet\n"
    ruleset = Ruleset([parse_iptables(rules)], sets={s.name: s for s in parse_ipset(sets)})
    result = trace(ruleset, parse_packet("tcp 10.0.0.0/24:1 -> 10.0.2.0/24:23 iif=eth0 oif=eth1 "
                                         "ctstate=NEW"), "forward")
    assert sorted((p.verdict, forward_hits(p)) for p in result.paths) == [
        ("DROP", (1,)), ("REJECT", (2,))]
    assert any("ipset scan changed" in c for p in result.paths for c in p.conditions)


def test_a_list_set_sees_its_members_change() -> None:
    """A concrete source added to `scan` is found through the list:set holding it."""
    ruleset = scan_ruleset("-A FORWARD -j SET --add-set scan src\n"
                           "-A FORWARD -m set --match-set all src -j DROP\n")
    result = trace(ruleset, parse_packet("tcp 10.0.1.1:1 -> 10.0.2.2:23 iif=eth0 oif=eth1"),
                   "forward")
    assert [(p.verdict, forward_hits(p)) for p in result.paths] == [("DROP", (1, 2))]
