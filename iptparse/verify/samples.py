"""Packets drawn from a ruleset itself, so that most of its rules are really hit.

Each packet has a focus: a rule reachable from a hook on the path (`in`: PREROUTING and
INPUT; `forward`: PREROUTING, FORWARD and POSTROUTING; `out`: OUTPUT and POSTROUTING). The
packet is wished to match the rules that jump down to the focus's chain and, four times in
five, the focus itself (else to fail it, which exercises negations and range ends). Wishes
come from the rules' predicates and from a few modules' typed options (see `hints`); fields
nobody wished for are drawn from what the ruleset tests elsewhere, or from everyday defaults.
One packet in five has no focus at all.

Destinations that DNAT rules rewrite to get routes (out of the packet's output interface, or
`nat0` on the `in` path) so that rewritten packets go somewhere; when the ruleset masquerades,
each output interface gets an address of its own (see `run.verify_dump` for IPv6).
Everything is deterministic for a seed.
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..describe import ip_ranges_to_cidrs
from ..domain import IntSet
from ..extensions.nat import NatTarget
from ..host import Host
from ..interp import HOOK_TABLES, PATHS
from ..logic import And, Pred
from ..nodes import Dump, Family, Table
from ..ruleset import Ruleset
from ..sandbox.frames import KernelPacket
from ..semantics import Effect, SetValue
from .draw import Pools, draw_packet
from .hints import Wish, merge, option_pred, tests_of, wish
from .model import LabSetup

__all__ = ["Sample", "Site", "sample_packets", "setup_for", "sites"]

#: Routes per packet towards DNAT destinations (the lab installs them one by one).
_MAX_ROUTES = 4
_NAT_INTERFACE = "nat0"


@dataclass(frozen=True)
class Site:
    """A rule as the sampler sees it: where it is, what it wishes, who jumps to its chain."""

    table: str
    chain: str
    number: int
    pred: Pred


@dataclass
class _Graph:
    """One table's jumps: chain → (caller chain, the jumping rule's site)."""

    callers: dict[str, list[tuple[str, Site]]] = field(default_factory=dict)
    roots: dict[str, set[str]] = field(default_factory=dict)  # chain → builtin chains above


@dataclass(frozen=True)
class Sample:
    """Packets for one lab, and the addresses the lab's router needs for them."""

    packets: tuple[KernelPacket, ...]
    setup: LabSetup


def _hooks(path: str) -> set[str]:
    return {h for h in PATHS[path] if h in HOOK_TABLES}


def _rule_pred(ruleset: Ruleset, family: Family, table: Table, chain: str, index: int,
               sets: Mapping[str, Any]) -> Pred:
    compiled_table = ruleset.table(family, table.name)
    assert compiled_table is not None
    compiled_chain = compiled_table.chain(chain)
    assert compiled_chain is not None
    compiled = compiled_table.rule(compiled_chain, index)
    parts = [c.pred for c in compiled.conditions]
    for match in compiled.rule.matches:
        extra = option_pred(match, family, sets)
        if extra is not None:
            parts.append(extra)
    return And(tuple(parts))


def sites(dump: Dump, sets: Mapping[str, Any], path: str
          ) -> tuple[list[Site], dict[str, _Graph], Pools, list[IntSet], bool]:
    """Every rule reachable on `path`, the jump graphs, the value pools, DNAT destinations,
    and whether any rule masquerades."""
    family = dump.family
    ruleset = Ruleset([dump], sets=sets, host=Host())
    hooks = _hooks(path)
    pools = Pools()
    found: list[Site] = []
    graphs: dict[str, _Graph] = {}
    nat: list[IntSet] = []
    masquerade = False
    seen_tables: set[str] = set()
    for table in reversed(dump.tables):  # the last block of a table wins, as in restore
        if table.name in seen_tables:
            continue
        seen_tables.add(table.name)
        chains = {c.name for c in table.chains}
        graph = _Graph()
        table_sites: list[Site] = []
        for chain in table.chains:
            for index, rule in enumerate(chain.rules):
                site = Site(table.name, chain.name, index + 1,
                            _rule_pred(ruleset, family, table, chain.name, index, sets))
                table_sites.append(site)
                for name, values in tests_of(site.pred):
                    pools.add(name, values)
                target = rule.target
                if target is None:
                    continue
                if target.options is None and target.name in chains:
                    graph.callers.setdefault(target.name, []).append((chain.name, site))
                masquerade |= target.name == "MASQUERADE"
                nat.extend(_nat_destinations(ruleset, family, table, chain.name, index,
                                             target.options))
        _fill_roots(graph, [c.name for c in table.chains if c.builtin])
        graphs[table.name] = graph
        found.extend(s for s in table_sites if graph.roots.get(s.chain, set()) & hooks)
    return found, graphs, pools, nat, masquerade


def _fill_roots(graph: _Graph, builtin: list[str]) -> None:
    """For every chain, the builtin chains it is reached from (jumps and gotos followed)."""
    callees: dict[str, set[str]] = {}
    for callee, callers in graph.callers.items():
        for caller, _ in callers:
            callees.setdefault(caller, set()).add(callee)
    for root in builtin:
        todo, seen = [root], {root}
        while todo:
            current = todo.pop()
            graph.roots.setdefault(current, set()).add(root)
            for callee in callees.get(current, ()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)


def _nat_destinations(ruleset: Ruleset, family: Family, table: Table, chain: str, index: int,
                      options: object) -> list[IntSet]:
    out: list[IntSet] = []
    top = (1 << family.bits) - 1
    found = table.chain(chain)
    assert found is not None
    target = found.rules[index].target
    if (isinstance(options, NatTarget) and options.addresses is not None
            and target is not None and target.name == "DNAT"):
        out.append(IntSet.range(*options.addresses, top))
    compiled_table = ruleset.table(family, table.name)
    assert compiled_table is not None
    compiled_chain = compiled_table.chain(chain)
    assert compiled_chain is not None
    action = compiled_table.rule(compiled_chain, index).action
    if isinstance(action, Effect):
        for change in action.changes:
            if isinstance(change, SetValue) and change.field == "dst":
                values = change.values
                if isinstance(values, IntSet):
                    out.append(values)
    return out


def _ancestry(rng: random.Random, graph: _Graph, site: Site, hooks: set[str]) -> Wish | None:
    """Wishes of a random chain of jumps from a hook on the path down to `site`'s chain."""
    out: Wish = {}
    chain, seen = site.chain, {site.chain}
    for _ in range(32):
        if chain in hooks and chain in graph.roots.get(chain, set()):
            return out
        callers = [(c, s) for c, s in graph.callers.get(chain, [])
                   if c not in seen and graph.roots.get(c, set()) & hooks]
        if not callers:
            return None
        chain, caller = rng.choice(callers)
        seen.add(chain)
        out = merge(out, wish(caller.pred, rng, True))
    return None


def _routes(rng: random.Random, destinations: list[IntSet], packet: KernelPacket, via: str
            ) -> tuple[tuple[str, str], ...]:
    """Routes towards DNAT destinations, none covering the source: R must have no way to
    send a reply (a TCP reset, an ICMP error), or the reply would move OUTPUT's counters."""
    family = packet.family
    src = ipaddress.ip_address(packet.src)
    routes: list[tuple[str, str]] = []
    for values in rng.sample(destinations, min(len(destinations), _MAX_ROUTES)):
        lo, hi = values.ranges[0]
        for address, length in ip_ranges_to_cidrs(lo, hi, family.bits)[:2]:
            net = ipaddress.ip_network((address, length)) if family is Family.INET else (
                ipaddress.IPv6Network((address, length)))
            if len(routes) < _MAX_ROUTES and net.prefixlen >= 8 and src not in net:
                routes.append((str(net), via))
    return tuple(routes)


def _oif_addresses(packets: list[KernelPacket], family: Family) -> tuple[tuple[str, str], ...]:
    """One host address per output interface, from 100.64.0.0/16 (fd64::/112 for IPv6)."""
    names = sorted({p.oif for p in packets if p.oif} | {i for p in packets for _, i in p.routes})
    out = []
    for number, name in enumerate(names, 1):
        address = (f"100.64.{number // 250}.{number % 250 + 1}/32" if family is Family.INET
                   else f"fd64::{number:x}/128")
        out.append((name, address))
    return tuple(out)


def _reserved(family: Family) -> IntSet:
    net = ipaddress.ip_network("100.64.0.0/16" if family is Family.INET else "fd64::/112")
    return IntSet.prefix(int(net.network_address), net.prefixlen, family.bits)


def sample_packets(dump: Dump, sets: Mapping[str, Any], path: str, count: int, seed: int
                   ) -> Sample:
    """`count` packets for `path` (see the module docstring); the same for the same seed."""
    rng = random.Random(f"{seed}:{path}:{dump.family.value}")
    family = dump.family
    found, graphs, pools, nat, masquerade = sites(dump, sets, path)
    reserved = _reserved(family)
    hooks = _hooks(path)
    packets: list[KernelPacket] = []
    for _ in range(count * 8):
        if len(packets) >= count:
            break
        wishes: Wish = {}
        if found and rng.random() < 0.8:
            site = rng.choice(found)
            above = _ancestry(rng, graphs[site.table], site, hooks)
            if above is None:
                continue
            wishes = merge(above, wish(site.pred, rng, rng.random() < 0.8))
        if path == "in":
            wishes.pop("oif", None)
        packet = draw_packet(rng, wishes, family, path, pools=pools, attempts=4)
        if packet is None or _hits_reserved(packet, reserved):
            continue
        if nat:
            via = packet.oif if packet.oif else _NAT_INTERFACE
            packet = replace(packet, routes=_routes(rng, nat, packet, via))
        packets.append(packet)
    setup = LabSetup(_oif_addresses(packets, family) if masquerade else ())
    return Sample(tuple(packets), setup)


def setup_for(dump: Dump, packets: Sequence[KernelPacket]) -> LabSetup:
    """The lab for packets the user gave: as for drawn packets, when the ruleset masquerades
    each output interface gets an address (without one, MASQUERADE drops every packet it
    sees, and the firewall's own decision would go unchecked); none when a packet's own
    address lies in the range those come from."""
    masquerades = any(rule.target is not None and rule.target.name == "MASQUERADE"
                      for table in dump.tables if table.name == "nat"
                      for chain in table.chains for rule in chain.rules)
    reserved = _reserved(dump.family)
    if not masquerades or any(_hits_reserved(p, reserved) for p in packets):
        return LabSetup()
    return LabSetup(_oif_addresses(list(packets), dump.family))


def _hits_reserved(packet: KernelPacket, reserved: IntSet) -> bool:
    return any(int(ipaddress.ip_address(a)) in reserved for a in (packet.src, packet.dst))
