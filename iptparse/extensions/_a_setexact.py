"""The exact set of packets an ipset lookup accepts, as a predicate (for abstract packets).

Built once per rule and protocol class from the set's membership index (iptparse.ipset.index:
its stored keys are what the kernel stores, masks and ranges already applied). Entries become
boxes of per-field tests; boxes that differ only in one address dimension are merged into one
test on that address, and nomatch entries are honoured as the kernel's lookup does: the most
specific prefix that holds the address decides (for two net dimensions, the first dimension's
prefix first). Entries are kept as plain tuples while grouping; value sets are made only for
the final tests, so a set of 200,000 members costs one pass.

A dimension's tests are (field, spec) pairs: spec ("r", lo, hi) is a range, ("m", value, mask)
the values under a mask with holes, ("c", value, mask) a bit cube (marks).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Protocol

from ..domain import BitSet, IntSet, NameSet, ValueSet
from ..fields import field_spec
from ..logic import Not, Pred, Test
from ..nodes import Family
from ._pred import conj, disj

__all__ = ["Read", "exact_membership", "regions"]

Spec = tuple[Any, ...]
Atom = tuple[tuple[str, Spec], ...]

#: How many values of a stored key each kind of dimension takes (iptparse.ipset.index).
WIDTHS = {"ip": 1, "net": 2, "port": 2, "bport": 1, "mac": 1, "iface": 1, "mark": 1}


class Read(Protocol):
    """A key dimension and the packet field that fills it (see _a_ipset)."""

    @property
    def dim(self) -> str: ...

    @property
    def field(self) -> str: ...


def exact_membership(index: Any, reads: Sequence[Read], kind: str, protocols: Sequence[int],
                     return_nomatch: bool, family: Family, label: str) -> Pred:
    """Packets of protocol class `kind` ("any", "l4", "icmp", "other") the set accepts."""
    name = index.settype.name
    if name == "hash:net,iface":
        return _netiface(index, reads, return_nomatch, family)
    if name == "bitmap:ip,mac":
        return _ipmac(index, reads[0].field, family)
    net_dims = [i for i, r in enumerate(reads) if r.dim == "net"]
    entries: list[tuple[list[Atom], tuple[int, ...], bool]] = []
    for key, slot in index.slots.items():
        found = _atoms(index, reads, key, kind, protocols, family.bits)
        if found is not None:
            entries.append((*found, _positive(index, slot, return_nomatch)))
    if len(net_dims) == 2:
        return _rectangles(entries, net_dims, family)
    grouped = net_dims[0] if net_dims else next(
        (i for i, r in enumerate(reads) if r.dim in ("ip", "mac", "bport", "mark")), 0)
    groups: dict[tuple[Atom, ...], list[tuple[Spec, bool]]] = {}
    for atoms, _cidrs, positive in entries:
        rest = tuple(a for i, a in enumerate(atoms) if i != grouped)
        groups.setdefault(rest, []).append((atoms[grouped][0][1], positive))
    field = reads[grouped].field if grouped < len(reads) else ""
    single = len(reads) == 1
    alternatives: list[Pred] = []
    for rest, members in groups.items():
        values = _merge(field, members, bool(net_dims), family)
        if values.is_empty:
            continue
        head = Test(field, values, label if single else None,
                    label.replace(" ∈ ", " ∉ ", 1) if single else None)
        # the other dimensions first: a packet that knows them rules most groups out
        # without splitting on the address
        alternatives.append(conj(*(_test(f, s, family) for atom in rest for f, s in atom),
                                 head))
    return disj(*alternatives)


def _positive(index: Any, slot: int, return_nomatch: bool) -> bool:
    nomatch = slot in index.nomatch_slots
    if return_nomatch and index.settype.nomatch:
        return nomatch
    return not nomatch


def _mask(cidr: int, bits: int) -> int:
    return ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)


def _address(value: int, mask: int, bits: int) -> Spec:
    """{x : x & mask == value}: a range when the mask is a prefix."""
    full = (1 << bits) - 1
    free = full ^ (mask & full)
    if free & (free + 1) == 0:
        return ("r", value & mask, (value & mask) | free)
    return ("m", value & mask, mask & full)


def _atoms(index: Any, reads: Sequence[Read], key: tuple[Any, ...], kind: str,
           protocols: Sequence[int], bits: int) -> tuple[list[Atom], tuple[int, ...]] | None:
    """The tests each dimension of a stored key makes and its net prefix lengths; None when
    no packet of the protocol class can match the key."""
    out: list[Atom] = []
    cidrs: list[int] = []
    pos = 0
    for r in reads:
        part = key[pos:pos + WIDTHS[r.dim]]
        pos += WIDTHS[r.dim]
        if r.dim == "ip":
            spec = _address(part[0], index.addr_mask, bits)
            if index.settype.is_bitmap:
                lo, hi = max(spec[1], index.first), min(spec[2], index.last)
                if lo > hi:
                    return None
                spec = ("r", lo, hi)
            out.append(((r.field, spec),))
        elif r.dim == "net":
            mask = _mask(part[1], bits)
            if index.settype.name == "hash:net,net":
                mask &= index.addr_mask
            out.append(((r.field, _address(part[0], mask, bits)),))
            cidrs.append(part[1])
        elif r.dim == "port":
            proto, port = part
            if proto not in protocols:
                return None
            atom: Atom = (("proto", ("r", proto, proto)),)
            if kind == "l4":
                atom += ((r.field, ("r", port, port)),)
            elif kind == "icmp":
                atom += (("icmp_type", ("r", port >> 8, port >> 8)),
                         ("icmp_code", ("r", port & 0xFF, port & 0xFF)))
            elif port != 0:
                return None  # other protocols have no port: the kernel looks up port 0
            out.append(atom)
        elif r.dim in ("bport", "mac"):
            out.append(((r.field, ("r", part[0], part[0])),))
        else:  # mark, already under the markmask
            out.append(((r.field, ("c", part[0], index.mark_mask)),))
    return out, tuple(cidrs)


@functools.lru_cache(maxsize=4096)
def _values(field: str, spec: Spec, family: Family) -> ValueSet:
    top = field_spec(field).top(family)
    if spec[0] == "c":
        assert isinstance(top, BitSet)
        return BitSet.cube(spec[1], spec[2], top.width)
    assert isinstance(top, IntSet)
    if spec[0] == "m":
        return IntSet.masked(spec[1], spec[2], family.bits)
    return IntSet(((spec[1], spec[2]),), top.top, _normal=True)


def _test(field: str, spec: Spec, family: Family) -> Test:
    return Test(field, _values(field, spec, family))


def _merge(field: str, members: Sequence[tuple[Spec, bool]], nets: bool,
           family: Family) -> ValueSet:
    """The union of the positive members, or (net dimension) the addresses whose most
    specific member is positive."""
    if nets and not all(positive for _, positive in members):
        spans = [(spec[1], spec[2], positive) for spec, positive in members]
        return IntSet([r for part, positive in regions(spans) if positive for r in part],
                      (1 << family.bits) - 1)
    specs = [spec for spec, positive in members if positive]
    if specs and specs[0][0] == "c":
        result = _values(field, specs[0], family)
        for spec in specs[1:]:
            result = result | _values(field, spec, family)  # type: ignore[operator]
        return result
    universe = field_spec(field).top(family)
    assert isinstance(universe, IntSet)
    ranges: list[tuple[int, int]] = []
    for spec in specs:
        if spec[0] == "r":
            ranges.append((spec[1], spec[2]))
        else:
            ranges.extend(IntSet.masked(spec[1], spec[2], family.bits).ranges)
    return IntSet(ranges, universe.top)


def regions(spans: Sequence[tuple[int, int, Any]]) -> list[tuple[list[tuple[int, int]], Any]]:
    """For nested-or-disjoint ranges (CIDR blocks), each one's tag and the part of it that
    no more specific range covers: the addresses whose lookup ends at it."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i][0], -spans[i][1]))
    parts: list[list[tuple[int, int]]] = [[] for _ in spans]
    stack: list[int] = []
    pos = 0

    def settle(limit: int) -> None:
        nonlocal pos
        if stack and pos <= limit:
            parts[stack[-1]].append((pos, limit))
        pos = max(pos, limit + 1)

    for i in order:
        lo = spans[i][0]
        while stack and spans[stack[-1]][1] < lo:
            settle(spans[stack[-1]][1])
            stack.pop()
        if stack:
            settle(lo - 1)
        pos = lo
        stack.append(i)
    while stack:
        settle(spans[stack[-1]][1])
        stack.pop()
    return [(parts[i], span[2]) for i, span in enumerate(spans)]


def _rectangles(entries: Sequence[tuple[list[Atom], tuple[int, ...], bool]],
                net_dims: Sequence[int], family: Family) -> Pred:
    """Two net dimensions: the first entry found in (first prefix, second prefix) order,
    longest first, decides; a positive entry holds unless a negative one tried before it
    also contains the packet."""
    a, b = net_dims
    by_rest: dict[tuple[Atom, ...], list[tuple[list[Atom], tuple[int, ...], bool]]] = {}
    for atoms, cidrs, positive in entries:
        rest = tuple(x for i, x in enumerate(atoms) if i not in net_dims)
        by_rest.setdefault(rest, []).append((atoms, cidrs, positive))
    alternatives: list[Pred] = []
    for rest, members in by_rest.items():
        negatives = [(atoms, cidrs) for atoms, cidrs, positive in members if not positive]
        for atoms, cidrs, positive in members:
            if not positive:
                continue
            box = (atoms[a][0], atoms[b][0])
            shadows = [conj(_test(*n[a][0], family), _test(*n[b][0], family))
                       for n, n_cidrs in negatives if n_cidrs > cidrs
                       and _meets(n[a][0], box[0], family) and _meets(n[b][0], box[1], family)]
            alternatives.append(conj(*(_test(f, s, family) for atom in rest for f, s in atom),
                                     *(_test(f, s, family) for f, s in box),
                                     *(Not(s) for s in shadows)))
    return disj(*alternatives)


def _meets(x: tuple[str, Spec], y: tuple[str, Spec], family: Family) -> bool:
    both = _values(x[0], x[1], family) & _values(y[0], y[1], family)  # type: ignore[operator]
    return not both.is_empty


def _netiface(index: Any, reads: Sequence[Read], return_nomatch: bool,
              family: Family) -> Pred:
    """hash:net,iface: the most specific network stored (for any interface) decides alone;
    within it, the first entry whose interface (or wildcard prefix) matches the name.
    Entries added as `physdev:` are never looked up by iptables rules."""
    address, iface = reads[0].field, reads[1].field
    bits = family.bits
    spans = []
    for key, held in index.slots.items():
        if not key[2]:
            spec = _address(key[0], _mask(key[1], bits), bits)
            decision = tuple((n, w, _positive(index, slot, return_nomatch))
                             for n, w, slot in held)
            spans.append((spec[1], spec[2], decision))
    by_decision: dict[tuple[tuple[str, bool, bool], ...], list[tuple[int, int]]] = {}
    for region, decision in regions(spans):
        by_decision.setdefault(decision, []).extend(region)
    top = (1 << bits) - 1
    alternatives: list[Pred] = []
    for decision, region in by_decision.items():
        names = _first_match(iface, decision)
        if region:
            alternatives.append(conj(names, Test(address, IntSet(region, top))))
    return disj(*alternatives)


def _first_match(field: str, entries: Sequence[tuple[str, bool, bool]]) -> Pred:
    """The interface names whose first matching entry is positive."""
    alternatives: list[Pred] = []
    earlier: list[tuple[str, bool]] = []
    for name, wildcard, positive in entries:
        pattern = (name, wildcard)
        if positive:
            test = Test(field, NameSet([pattern]))
            alternatives.append(conj(test, Not(Test(field, NameSet(earlier))))
                                if earlier else test)
        earlier.append(pattern)
    return disj(*alternatives)


def _ipmac(index: Any, field: str, family: Family) -> Pred:
    """bitmap:ip,mac: an entry stored without a MAC matches any (the kernel fills it in)."""
    by_mac: dict[int | None, list[tuple[int, int]]] = {}
    for key, slot in index.slots.items():
        spec = _address(key[0], index.addr_mask, family.bits)
        lo, hi = max(spec[1], index.first), min(spec[2], index.last)
        member = index.member_at(slot)
        mac = member.parts[1].value if len(member.parts) > 1 else None
        if lo <= hi:
            by_mac.setdefault(mac, []).append((lo, hi))
    top = (1 << family.bits) - 1
    alternatives: list[Pred] = []
    for mac, ranges in by_mac.items():
        addresses = Test(field, IntSet(ranges, top))
        if mac is None:
            alternatives.append(addresses)
        else:
            alternatives.append(conj(Test("src_mac", IntSet.single(mac, (1 << 48) - 1)),
                                     addresses))
    return disj(*alternatives)
