"""Helpers the extension semantics tests share: restore texts, traces, packets drawn from a
path's conditions, and the comparison of a trace with the kernel lab's counters.

Each test module keeps what is particular to it (how it builds rulesets, which rules it
counts); what is the same everywhere lives here, so every module checks a trace the same way.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from iptparse.domain import BitSet, IntSet, NameSet, ValueSet
from iptparse.fields import field_spec
from iptparse.nodes import BUILTIN_CHAINS, Family
from iptparse.packet import Packet, parse_packet
from iptparse.ruleset import Ruleset
from iptparse.trace import PathResult, TraceResult, trace

if TYPE_CHECKING:
    from iptparse.sandbox.lab import KernelResult

Hit = tuple[str, str, int]
Outcome = tuple[str, tuple[Hit, ...]]
Counts = tuple[Counter[Hit], Counter[tuple[str, str]], bool]


def table(name: str, body: str, policy: str = "ACCEPT") -> str:
    """A restore block: the table's builtin chains (FORWARD with `policy`, the others
    ACCEPT), the user chains `body` appends to, then `body` (`-A …` lines)."""
    builtin = BUILTIN_CHAINS[name]
    users = dict.fromkeys(c for c in re.findall(r"^-A (\S+)", body, re.M) if c not in builtin)
    head = "".join(f":{c} {policy if c == 'FORWARD' else 'ACCEPT'} [0:0]\n" for c in builtin)
    head += "".join(f":{c} - [0:0]\n" for c in users)
    return f"*{name}\n{head}{body}COMMIT\n"


def run(rs: Ruleset, spec: str | Packet, path: str = "forward",
        assumptions: Mapping[str, bool] | None = None) -> TraceResult:
    """Trace a packet (in text form or built) along `path`."""
    packet = parse_packet(spec) if isinstance(spec, str) else spec
    return trace(rs, packet, path, assumptions=assumptions)


def outcome(p: PathResult) -> Outcome:
    """A path's verdict and every rule it hit."""
    return p.verdict, tuple((h.table, h.chain, h.rule) for h in p.hits)


def only(result: TraceResult) -> Outcome:
    """The outcome of a trace that must have a single path."""
    assert len(result.paths) == 1, [(outcome(p), p.conditions) for p in result.paths]
    return outcome(result.paths[0])


def hits(rs: Ruleset, spec: str | Packet, path: str = "forward", chain: str = "FORWARD",
         assumptions: Mapping[str, bool] | None = None) -> list[int]:
    """The rules of `chain` a packet hits on its only path."""
    _, rules = only(run(rs, spec, path, assumptions))
    return [n for _, c, n in rules if c == chain]


def draw_single(values: ValueSet) -> ValueSet:
    """One value of a set (the smallest, or an example name), as a set of its own."""
    if isinstance(values, IntSet):
        return IntSet.single(values.min(), values.top)
    if isinstance(values, BitSet):
        return BitSet.single(values.min(), values.width)
    name = values.example()
    assert name is not None
    return NameSet.single(name)


def lands(rs: Ruleset, packet: Packet, path: str = "forward",
          key: Callable[[PathResult], object] = outcome) -> TraceResult:
    """Trace an abstract packet, then check that a concrete packet drawn from each branch of
    each path (assumptions pinned as the branch took them) has that path as its only one;
    `key` says what of a path must be the same."""
    result = trace(rs, packet, path)
    for p in result.paths:
        for alternative in p.alternatives:
            fields = dict(packet.fields)
            pinned: dict[str, bool] = {}
            for var, values in alternative.box.items():
                if var.startswith("?"):
                    pinned[var[1:]] = 1 in values
                elif "@" not in var:
                    fields[var] = draw_single(values)
            again = trace(rs, Packet(fields, packet.family), path, assumptions=pinned)
            assert len(again.paths) == 1, (alternative.readable(), again.paths)
            assert key(again.paths[0]) == key(p), alternative.readable()
    return result


def field_value(name: str, value: int | str | ValueSet, family: Family) -> ValueSet:
    """A packet field's value given as a number or name (a set is taken as it is)."""
    if not isinstance(value, (int, str)):
        return value
    return field_spec(name).single(value, family)


def trace_counts(p: PathResult) -> Counts:
    """What the lab would count for a path: rule hits, policies applied, delivery."""
    return (Counter((h.table, h.chain, h.rule) for h in p.hits),
            Counter((t, c) for t, c, _ in p.policies), p.verdict == "ACCEPT")


def lab_counts(result: KernelResult) -> Counts:
    """What the lab counted for a packet, comparable with trace_counts."""
    return Counter(result.hits), Counter(result.policies), result.delivered
