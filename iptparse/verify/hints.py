"""What a rule looks for, as wished field values: the sampler's way of hitting rules.

The interpreter's predicates say exactly which packets a rule matches, but only for modules
whose semantics exist; for the others the sampler still wants packets that reach them (so the
kernel moves their counters and a later semantics has something to be checked against). So a
few modules' typed options are also read here, loosely: ipset members (address, port, and
which side of the packet each feeds), multiport ports, ICMP types, address ranges, lengths,
TTLs, TOS/DSCP values, conntrack's original addresses. These only steer sampling, never judge.

A wish is a mapping field → value set drawn from a predicate: `Test` gives its set (or the
complement when negated), `And` all its parts, `Or` one part at random; the conntrack tuple
fields of a new connection stand for the packet's own fields.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ..domain import IntSet, NameSet, ValueSet
from ..extensions.conntrack import ConntrackMatch
from ..extensions.icmp import IcmpMatch
from ..extensions.iprange import IPRangeMatch
from ..extensions.length import LengthMatch
from ..extensions.multiport import MultiportMatch
from ..extensions.sctp import SctpMatch
from ..extensions.set import SetMatch
from ..extensions.tos import DscpMatch, TosMatch
from ..extensions.ttl import TtlMatch, TtlOp
from ..fields import field_spec
from ..ipset import IpPart, PortPart
from ..logic import And, Not, Or, Pred, Test
from ..nodes import Family, Match

__all__ = ["Wish", "complement", "merge", "option_pred", "tests_of", "wish"]

Wish = dict[str, ValueSet]

#: A new connection's tuple is the packet's own: tests on it steer the packet's fields.
_CT_ALIASES = {"ctorigsrc": "src", "ctorigdst": "dst", "ctreplsrc": "dst", "ctrepldst": "src",
               "ctorigsrcport": "sport", "ctorigdstport": "dport", "ctreplsrcport": "dport",
               "ctrepldstport": "sport"}
#: Members of a set read for sampling (a huge set is sampled from its first members).
_SET_MEMBERS = 256


def _field(name: str) -> str:
    canonical = field_spec(name).name
    return _CT_ALIASES.get(canonical, canonical)


def complement(values: ValueSet) -> ValueSet:
    if isinstance(values, NameSet):
        if values.include is None:
            return NameSet((), ())
        return NameSet.all().without(values.include)
    return values.complement()


def merge(a: Mapping[str, ValueSet], b: Mapping[str, ValueSet]) -> Wish:
    """Both wishes; where they clash on a field, the first one's set."""
    out = dict(a)
    for name, values in b.items():
        if name in out:
            both = out[name] & values  # type: ignore[operator]
            if not both.is_empty:
                out[name] = both
        else:
            out[name] = values
    return out


def wish(pred: Pred, rng: random.Random, positive: bool = True) -> Wish:
    """Field sets under which `pred` holds (`positive`) or fails, as far as tests show."""
    if isinstance(pred, Test):
        try:
            name = _field(pred.field)
        except KeyError:
            return {}
        return {name: pred.values if positive else complement(pred.values)}
    if isinstance(pred, Not):
        return wish(pred.part, rng, not positive)
    if isinstance(pred, And | Or):
        conjunctive = isinstance(pred, And) == positive
        if not pred.parts:
            return {}
        if conjunctive:
            out: Wish = {}
            for part in pred.parts:
                out = merge(out, wish(part, rng, positive))
            return out
        return wish(rng.choice(pred.parts), rng, positive)
    return {}


def tests_of(pred: Pred) -> list[tuple[str, ValueSet]]:
    """Every (field, set) a predicate tests, for the pools."""
    if isinstance(pred, Test):
        try:
            return [(_field(pred.field), pred.values)]
        except KeyError:
            return []
    if isinstance(pred, Not):
        return tests_of(pred.part)
    if isinstance(pred, And | Or):
        return [t for part in pred.parts for t in tests_of(part)]
    return []


# --- typed options, loosely ------------------------------------------------------------------

def _test(name: str, values: ValueSet, invert: bool = False) -> Pred:
    test = Test(name, values)
    return Not(test) if invert else test


def _range(name: str, lo: int, hi: int, top: int, invert: bool = False) -> Pred:
    return _test(name, IntSet.range(lo, hi, top), invert)


def option_pred(match: Match, family: Family, sets: Mapping[str, Any]) -> Pred | None:
    """A sampling predicate for a match's typed options (see the module docstring)."""
    o = match.options
    top = (1 << family.bits) - 1
    if isinstance(o, MultiportMatch):
        ports = IntSet([(lo, hi) for lo, hi in o.ports], 0xFFFF)
        names = {"sports": ("sport",), "dports": ("dport",), "ports": ("sport", "dport")}
        tests = [_test(n, ports) for n in names[o.which]]
        return _maybe_not(Or(tuple(tests)), o.invert)
    if isinstance(o, SetMatch):
        return _set_pred(o, sets.get(o.name), family)
    if isinstance(o, IcmpMatch):
        return _maybe_not(And((_range("icmp_type", o.type, o.type, 255),
                               _range("icmp_code", o.codes[0], o.codes[1], 255))), o.invert)
    if isinstance(o, IPRangeMatch):
        parts = [_range(name, r[0], r[1], top, inv) for name, r, inv in (
            ("src", o.src, o.src_invert), ("dst", o.dst, o.dst_invert))
            if r is not None and r[0] <= r[1]]
        return And(tuple(parts))
    if isinstance(o, LengthMatch):
        return _range("length", o.lengths[0], o.lengths[1], 0xFFFF, o.invert)
    if isinstance(o, TtlMatch):
        return _ttl_pred(o)
    if isinstance(o, TosMatch):
        return _test("tos", IntSet.masked(o.value, o.mask, 8), o.invert)
    if isinstance(o, DscpMatch):
        return _test("tos", IntSet.masked(o.dscp << 2, 0xFC, 8), o.invert)
    if isinstance(o, SctpMatch):
        parts = [_range(name, r[0], r[1], 0xFFFF, inv) for name, r, inv in (
            ("sport", o.sport, o.sport_invert), ("dport", o.dport, o.dport_invert))
            if r is not None]
        return And(tuple(parts))
    if isinstance(o, ConntrackMatch):
        parts = []
        for name, address in (("src", o.origsrc), ("dst", o.origdst)):
            if address is not None:
                parts.append(_test(name, IntSet.masked(address.address, address.mask,
                                                       family.bits), address.invert))
        return And(tuple(parts))
    return None


def _maybe_not(pred: Pred, invert: bool) -> Pred:
    return Not(pred) if invert else pred


def _ttl_pred(o: TtlMatch) -> Pred:
    if o.op is TtlOp.EQ:
        return _range("ttl", o.value, o.value, 255)
    if o.op is TtlOp.NE:
        return _range("ttl", o.value, o.value, 255, True)
    if o.op is TtlOp.LT:
        return _range("ttl", 0, max(o.value - 1, 0), 255) if o.value else Or(())
    return _range("ttl", min(o.value + 1, 255), 255, 255) if o.value < 255 else Or(())


def _set_pred(o: SetMatch, ipset: Any, family: Family) -> Pred | None:
    """One alternative per member (nomatch ones too): its address and port parts on the sides
    `dirs` name."""
    if ipset is None or ipset.family not in (None, "inet6" if family is Family.INET6 else "inet"):
        return None
    bits = family.bits
    alternatives: list[Pred] = []
    for member in ipset.members[:_SET_MEMBERS]:
        # a nomatch member too: packets in the hole test what the set says there
        parts: list[Pred] = []
        for side, part in zip(o.dirs, member.parts, strict=False):
            if isinstance(part, IpPart):
                values = (IntSet.range(part.value, part.last, (1 << bits) - 1)
                          if part.last is not None else IntSet.prefix(part.value, part.cidr,
                                                                       bits))
                parts.append(Test(side, values))
            elif isinstance(part, PortPart):
                last = part.last if part.last is not None else part.port
                name = "sport" if side == "src" else "dport"
                parts.append(Test(name, IntSet.range(part.port, last, 0xFFFF)))
                if part.proto is not None:
                    parts.append(Test("proto", IntSet.single(part.proto, 255)))
        alternatives.append(And(tuple(parts)))
    if not alternatives:
        return None
    return _maybe_not(Or(tuple(alternatives)), o.invert)
