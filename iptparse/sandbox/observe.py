"""Reading what the kernel did with a packet: rule counters and the stack's own statistics.

Counters are never zeroed: each reading is compared with the one before it, so a packet costs
one `iptables-save -c` (zeroing would cost one `iptables -Z` per table on top). The difference
is the packet's own doing because nothing else moves these counters in the lab's router: it
has no addresses, sends no neighbour or multicast traffic, and cannot route replies anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from ..nodes import Family
from ..parser import parse_iptables

__all__ = ["CounterReader", "Snapshot", "in_delivers", "local_deliveries", "tx_packets"]

RuleKey = tuple[str, str, int]
PolicyKey = tuple[str, str]
K = TypeVar("K", RuleKey, PolicyKey)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Packet counters of every rule (numbered from 1 per chain) and builtin chain policy."""

    rules: dict[RuleKey, int]
    policies: dict[PolicyKey, int]

    def since(self, before: Snapshot) -> Snapshot:
        """What moved between `before` and this reading: only keys whose count grew."""
        return Snapshot(_grown(self.rules, before.rules), _grown(self.policies, before.policies))


class CounterReader:
    """Reads `iptables-save -c` output of one ruleset again and again.

    Where each counter belongs is learnt by parsing the text with `parse_iptables` (which keeps
    modules it does not know verbatim, so any ruleset reads); that costs about 0.1 ms a rule, too
    much to pay per packet. Later readings only pick the numbers off the lines, after checking
    that the text around them is the one already parsed.
    """

    def __init__(self, family: Family) -> None:
        self.family = family
        self._shape: list[str] | None = None
        self._places: dict[int, RuleKey | PolicyKey] = {}

    def read(self, text: str) -> Snapshot:
        shape: list[str] = []
        counts: dict[int, int] = {}
        for number, line in enumerate(text.splitlines(), 1):
            found = _RULE_COUNTERS.match(line) or _CHAIN_COUNTERS.match(line)
            if found:
                counts[number] = int(found["packets"])
                shape.append(line[:found.start("counters")] + line[found.end("counters"):])
            else:
                shape.append("#" if line.startswith("#") else line)  # dated headers
        if shape != self._shape:
            self._places = _places(text, self.family)
            self._shape = shape
        rules: dict[RuleKey, int] = {}
        policies: dict[PolicyKey, int] = {}
        for number, key in self._places.items():
            if len(key) == 3:
                rules[key] = counts[number]
            else:
                policies[key] = counts[number]
        return Snapshot(rules, policies)


_RULE_COUNTERS = re.compile(r"(?P<counters>\[(?P<packets>\d+):\d+\])[ \t]")
_CHAIN_COUNTERS = re.compile(r":\S+[ \t]+\S+[ \t]+(?P<counters>\[(?P<packets>\d+):\d+\])[ \t]*$")


def _places(text: str, family: Family) -> dict[int, RuleKey | PolicyKey]:
    """Line number of each rule's and builtin policy's counters in save output."""
    places: dict[int, RuleKey | PolicyKey] = {}
    for table in parse_iptables(text, family=family).tables:
        for chain in table.chains:
            if chain.builtin and chain.counters is not None and chain.span is not None:
                places[chain.span.line] = (table.name, chain.name)
            for number, rule in enumerate(chain.rules, 1):
                if rule.counters is not None and rule.span is not None:
                    places[rule.span.line] = (table.name, chain.name, number)
    return places


def _grown(after: dict[K, int], before: dict[K, int]) -> dict[K, int]:
    return {key: count - before.get(key, 0) for key, count in after.items()
            if count > before.get(key, 0)}


def in_delivers(snmp: str, family: Family, counter: str = "InDelivers") -> int:
    """InDelivers (or another Ip counter) of /proc/net/snmp (IPv4), or its Ip6 namesake in
    /proc/net/snmp6 (IPv6)."""
    if family is Family.INET6:
        for line in snmp.splitlines():
            name, _, value = line.partition(" ")
            if name == f"Ip6{counter}":
                return int(value)
        raise ValueError(f"no Ip6{counter} in snmp6")
    ip_lines = [line.split()[1:] for line in snmp.splitlines() if line.startswith("Ip:")]
    names, values = ip_lines[0], ip_lines[1]
    return int(values[names.index(counter)])


def local_deliveries(snmp: str, family: Family) -> int:
    """Packets that passed INPUT to the IP layer's local delivery: those it handed to a
    protocol (InDelivers) and those of a protocol it has no handler for (InUnknownProtos,
    counted there instead: SCTP, GRE, DCCP while their modules are not loaded)."""
    return in_delivers(snmp, family) + in_delivers(snmp, family, "InUnknownProtos")


def local_requests(snmp: str, family: Family) -> int:
    """Packets R itself sent (OutRequests): an ICMP error or a TCP reset it answered with."""
    return in_delivers(snmp, family, "OutRequests")


def tx_packets(dev: str) -> dict[str, int]:
    """Transmitted packets per interface, from /proc/net/dev."""
    counts: dict[str, int] = {}
    for line in dev.splitlines()[2:]:
        name, _, fields = line.partition(":")
        counts[name.strip()] = int(fields.split()[9])
    return counts
