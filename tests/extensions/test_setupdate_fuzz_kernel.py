"""Random SET --add-set / --del-set and `-m set` rules against the kernel, one fresh lab each.

Each case draws a set (hash:ip with or without a netmask, hash:net, the port types, bitmaps,
hash:net,iface, a list:set; IPv4 or IPv6) with a few members from a small pool of addresses,
so that updates and lookups meet the members, nomatch entries and full sets; then 2-6 rules
that update the set or look into it, and one packet. The kernel's counters must be those of one
of iptparse's paths (one path unless a key was not known exactly, which concrete packets never
leave here except for the types iptparse does not update exactly). Fixed seeds; a longer run
of this generator is how the exact-element lookup of `_a_setupdate` was found wrong.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import replace

import pytest

from iptparse.domain import IntSet
from iptparse.errors import ParseError
from iptparse.ipset import parse_ipset
from iptparse.nodes import Family
from iptparse.parser import parse_iptables
from iptparse.ruleset import Ruleset
from iptparse.sandbox.frames import KernelPacket
from iptparse.sandbox.lab import Lab
from iptparse.trace import trace
from iptparse.verify.model import LabSetup, lab_host, model_packet

from ..conftest import require_kernel
from ._helpers import lab_counts, table, trace_counts

pytestmark = pytest.mark.kernel

POOL = {Family.INET: ("10.0.1.1", "10.0.1.2", "10.0.2.2", "10.0.2.9", "10.1.0.5", "192.168.1.1"),
        Family.INET6: ("fd00::1:1", "fd00::1:2", "fd00::2:2", "fd00::2:9", "fd00:1::5", "fd01::1")}
PREFIXES = {Family.INET: (8, 16, 24, 30, 32), Family.INET6: (64, 96, 120, 126, 128)}
TYPES = ("hash:ip", "hash:net", "hash:ip,port", "hash:net,port", "hash:ip,port,ip",
         "hash:ip,port,net", "bitmap:ip", "bitmap:port", "hash:net,iface", "list:set")
NOMATCH_TYPES = ("hash:net", "hash:net,port", "hash:ip,port,net", "hash:net,iface")
PORTS = (22, 80, 443)


class Draw:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.family = Family.INET6 if self.rng.random() < 0.4 else Family.INET
        self.pool = POOL[self.family]

    def address(self) -> str:
        return self.rng.choice(self.pool)

    def network(self) -> str:
        length = self.rng.choice(PREFIXES[self.family])
        return str(ipaddress.ip_network(f"{self.address()}/{length}", strict=False))

    def element(self, kind: str) -> str:
        icmp = "icmpv6:128/0" if self.family is Family.INET6 else "icmp:8/0"
        words = []
        for dim in kind.split(":")[1].split(","):
            if dim == "ip":
                words.append(self.address())
            elif dim == "net":
                words.append(self.network())
            elif dim == "port" and kind.startswith("bitmap"):
                words.append(str(self.rng.choice(PORTS)))
            elif dim == "port":
                words.append(self.rng.choice(("tcp:22", "tcp:80", "udp:80", "udp:53", icmp)))
            else:  # iface
                words.append(self.rng.choice(("eth0", "eth1", "eth+")))
        nomatch = kind in NOMATCH_TYPES and self.rng.random() < 0.3
        return ",".join(words) + (" nomatch" if nomatch else "")

    def set_lines(self, name: str, kind: str) -> list[str]:
        rng = self.rng
        if kind == "bitmap:ip":
            head = f"create {name} bitmap:ip range {rng.choice(('10.0.0.0/16', '10.0.2.0/24'))}"
        elif kind == "bitmap:port":
            head = f"create {name} bitmap:port range {rng.choice(('0-1000', '20-100'))}"
        else:
            head = f"create {name} {kind} family {self.family.value}"
            if kind == "hash:ip" and rng.random() < 0.3:
                head += f" netmask {rng.choice(PREFIXES[self.family][1:3])}"
            if rng.random() < 0.15:
                head += " maxelem 2"
        members: dict[str, str] = {}  # one per element: ipset refuses an element twice
        for _ in range(rng.randrange(0, 4)):
            element = self.element(kind)
            members.setdefault(element.split()[0], element)
        return [head, *(f"add {name} {m}" for m in members.values())]

    def case(self) -> tuple[str, str, KernelPacket]:
        rng = self.rng
        kinds = [t for t in TYPES if not (self.family is Family.INET6 and "bitmap" in t)]
        kind = rng.choice(kinds)
        if kind == "list:set":
            lines = [*self.set_lines("in1", rng.choice(("hash:ip", "hash:net"))),
                     "create s list:set", "add s in1"]
            dims = 1
        else:
            lines = self.set_lines("s", kind)
            dims = kind.count(",") + 1
        rules = []
        for _ in range(rng.randrange(2, 7)):
            flags = ",".join(rng.choice(("src", "dst")) for _ in range(dims))
            if rng.random() < 0.5:
                op = rng.choice(("add", "add", "del"))
                exist = " --exist" if op == "add" and rng.random() < 0.3 else ""
                rules.append(f"-A FORWARD -j SET --{op}-set s {flags}{exist}\n")
            else:
                bang = "! " if rng.random() < 0.2 else ""
                rules.append(f"-A FORWARD -m set {bang}--match-set s {flags}\n")
        v6 = self.family is Family.INET6
        protocol = rng.choice(("tcp", "udp", "icmpv6" if v6 else "icmp"))
        src, dst = self.address(), rng.choice(self.pool[:4])
        if src == dst:
            dst = self.pool[3] if src != self.pool[3] else self.pool[2]
        fields: dict[str, object] = {"src": src, "dst": dst, "protocol": protocol,
                                     "iif": "eth0", "oif": "eth1"}
        if protocol.startswith("icmp"):
            fields["icmp_type"] = 128 if v6 else 8
        else:
            fields["sport"] = rng.choice((*PORTS, 40000))
            fields["dport"] = rng.choice(PORTS)
        if rng.random() < 0.1:
            fields["frag_offset"] = 10
        packet = KernelPacket(**fields)  # type: ignore[arg-type]
        return "\n".join(lines) + "\n", table("filter", "".join(rules)), packet


#: about 0.2 s each; seed 123 fails with the lookup that found a host's network instead of the
#: element (an add to a hash:net holding a nomatch network around the host)
SEEDS = range(128)


@pytest.mark.parametrize("seed", SEEDS)
def test_random_set_updates_agree_with_the_kernel(seed: int) -> None:
    require_kernel()
    sets_text, rules, packet = Draw(seed).case()
    try:
        sets = {s.name: s for s in parse_ipset(sets_text)}
    except ParseError:
        pytest.skip("the drawn set is one ipset refuses too (a duplicate once masked, full)")
    family = packet.family
    model = model_packet(replace(packet, frag_offset=0), "forward")
    if packet.frag_offset:
        model = model.with_(fragment=IntSet.single(1, 1))
    ruleset = Ruleset([parse_iptables(rules, family=family)], sets=sets,
                      host=lab_host(packet, "forward", LabSetup()))
    result = trace(ruleset, model, "forward")
    with Lab(rules, family, path="forward", ipsets=sets_text,
             interfaces=["eth0", "eth1"]) as lab:
        kernel = lab_counts(lab.send(packet))
    paths = [(p.verdict, [(h.chain, h.rule) for h in p.hits], p.conditions)
             for p in result.paths]
    assert any(trace_counts(p) == kernel for p in result.paths), (sets_text, rules, packet,
                                                                    kernel, paths)
    if len(result.paths) > 1:  # only a change iptparse cannot follow exactly forks the walk
        assert all("changed" in c for p in result.paths for c in p.conditions), paths
