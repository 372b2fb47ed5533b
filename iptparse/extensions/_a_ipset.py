"""What `-m set --match-set NAME DIRS` means for a packet: the kernel's set lookup as a predicate.

The kernel (xt_set.c, ip_set_core.c, the ip_set_*_kadt functions) builds one key from the packet
— per dimension the source or destination address, port, MAC or interface as the direction
flags say, or the mark — and looks it up with the set type's own algorithm. A concrete packet
asks the set's membership index exactly that (`Custom`, decided once the fields are known); an
abstract packet gets the exact set of packets that match, built on first need from the stored
entries (`Custom.expand`, see `_a_setexact`): for one address dimension an `IntSet` of exactly
the matching addresses, nomatch entries honoured as the kernel's most-specific-prefix-first
lookup does; for several dimensions an Or of boxes grouped by everything but one address
dimension. The port dimension reads different fields for different protocols, so the lookup is
split by protocol class first, limited to the protocols the set's entries have.

What the kernel reads, by dimension:
- address: src/dst of the IP header;
- port (hash:*,port*): the protocol and, for TCP/UDP/SCTP/UDPLITE, the port; for ICMP and
  ICMPv6 `type << 8 | code`; other protocols have port 0. A non-first fragment (any IPv6
  fragment) of a protocol with ports never matches;
- bitmap:port: TCP and UDP ports only;
- MAC: the Ethernet header, which only received packets have; an all-zero MAC never matches.
  Destination MACs are no packet field here: they are an assumption;
- interface (hash:net,iface): the input (src) or output (dst) interface; none, no match; entries
  added as `physdev:` are never found by iptables rules (the lookup never asks for bridge ports);
- mark (hash:ip,mark): the packet mark under the set's markmask, whatever the direction;
- list:set: any member set matching with the same flags (sets of a higher dimension than the
  flags give are skipped).
A set of the other family, or with more dimensions than the rule gives flags for, never matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain import IntSet, NameSet
from ..logic import FALSE, Assume, Custom, Not, Pred, Test
from ..nodes import Family
from ..semantics import CompileContext
from ._a_sem import invert_if
from ._a_setexact import WIDTHS, exact_membership, regions
from ._pred import conj, disj
from .set import SetMatch

__all__ = ["address_cover", "set_predicate"]

L4_PROTOCOLS = (6, 17, 132, 136)  # tcp udp sctp udplite: real ports
ICMP_PROTOCOLS = (1, 58)
_PROTO_TOP = 255
_SIDE_WORDS = {"ip": ("src", "dst"), "net": ("src", "dst"), "port": ("sport", "dport"),
               "bport": ("sport", "dport"), "mac": ("src MAC", "dst MAC"),
               "iface": ("iif", "oif"), "mark": ("mark", "mark")}


def set_predicate(options: SetMatch, ctx: CompileContext) -> Pred:
    """The whole match: membership (with its counter tests), negated by `!`."""
    sets: Mapping[str, Any] = ctx.sets
    ipset = sets.get(options.name)
    label = f"{','.join(options.dirs)} ∈ ipset {options.name}"
    if ipset is None:
        if sets:
            return _never(f"ipset {options.name} is not in the ipset dump: the kernel would "
                          "refuse the rule")
        return invert_if(options.invert, Assume(
            ctx.key("set"), "set", f"{label} (no ipset dump given)",
            f"{label.replace(' ∈ ', ' ∉ ')} (no ipset dump given)"))
    core = _membership(ipset, options.dirs, options.return_nomatch, ctx, sets)
    if (options.packets or options.bytes) and ipset.header.counters:
        core = conj(core, _counters(options, ctx))
    return invert_if(options.invert, core)


def _never(text: str) -> Pred:
    """A match that cannot hold, with the reason as its text."""
    return Custom((), lambda _values: False, "", "set", text, text)


def _counters(options: SetMatch, ctx: CompileContext) -> Pred:
    signs = {"eq": "=", "ne": "≠", "lt": "<", "gt": ">"}
    tests = [f"{kind} {signs[test.op]} {test.value}"
             for kind, test in (("packets", options.packets), ("bytes", options.bytes))
             if test is not None]
    counted = "with" if options.update_counters else "without"
    text = (f"ipset {options.name}: the matching entry's {' and '.join(tests)} ({counted} this "
            "packet)")
    return ctx.assume("set-counters", text, f"not ({text})")


# --- membership ----------------------------------------------------------------------------

def _membership(ipset: Any, dirs: Sequence[str], return_nomatch: bool, ctx: CompileContext,
                sets: Mapping[str, Any]) -> Pred:
    """ip_set_test(): does the set hold the key built from the packet?"""
    if ipset.type == "list:set":
        members: list[Pred] = []
        for name in ipset.index.order:
            member = sets.get(name)
            if member is None:
                members.append(Assume(ctx.key(f"set:{name}"), "set",
                                      f"{','.join(dirs)} ∈ ipset {name} (not in the dump)",
                                      f"{','.join(dirs)} ∉ ipset {name} (not in the dump)"))
            elif member.type != "list:set":
                members.append(_membership(member, dirs, return_nomatch, ctx, sets))
        return disj(*members)
    family = "inet6" if ctx.family is Family.INET6 else "inet"
    if ipset.family not in (None, family) and ipset.type != "bitmap:port":
        return FALSE
    dims = ipset.settype.dims
    if len(dirs) < len(dims):
        return FALSE
    reads = [_Read(dim, dirs[i] == "src") for i, dim in enumerate(dims)]
    noun = _noun(reads)
    size = len(ipset)
    label = f"{noun} ∈ ipset {ipset.name} ({size} member{'s' if size != 1 else ''})"
    guards: list[Pred] = []
    if any(r.dim == "mac" for r in reads):
        guards.append(Not(Test("iif", NameSet.single(""), "the packet was sent by this host",
                               "the packet was received (it has a MAC header)")))
        if any(r.dim == "mac" and not r.src for r in reads):
            return conj(*guards, Assume(ctx.key(f"set:{ipset.name}"), "set", label,
                                        _negated(label)))
        guards.append(Not(Test("src_mac", IntSet.single(0, (1 << 48) - 1))))
    for r in reads:
        if r.dim == "iface":
            guards.append(Not(Test(r.field, NameSet.single(""), f"no {r.field}",
                                   f"{r.field} is set")))
    alternatives = []
    for kind in _classes(reads, ctx.family, _protocols(ipset.index, dims)):
        lookup = _Lookup(ipset, reads, kind, return_nomatch, ctx, label)
        custom = Custom(lookup.fields(), lookup.decide, ctx.key(f"set:{ipset.name}"), "set",
                        label, _negated(label), lookup.exact)
        alternatives.append(conj(*kind.guards(), custom))
    return conj(*guards, disj(*alternatives))


def _negated(label: str) -> str:
    return label.replace(" ∈ ", " ∉ ", 1)


@dataclass(frozen=True, slots=True)
class _Read:
    """One dimension of the key and which side of the packet fills it."""

    dim: str
    src: bool

    @property
    def field(self) -> str:
        if self.dim in ("ip", "net"):
            return "src" if self.src else "dst"
        if self.dim in ("port", "bport"):
            return "sport" if self.src else "dport"
        if self.dim == "iface":
            return "iif" if self.src else "oif"
        if self.dim == "mac":
            return "src_mac"
        return "mark"


def _noun(reads: Sequence[_Read]) -> str:
    words = [_SIDE_WORDS[r.dim][0 if r.src else 1] for r in reads]
    return words[0] if len(words) == 1 else f"({', '.join(words)})"


@dataclass(frozen=True, slots=True)
class _Class:
    """Packets whose protocol makes the port dimension read the same fields."""

    kind: str  # "any" (no port dimension), "l4", "icmp", "other"
    protocols: tuple[int, ...] = ()
    fragments: bool = True  # whether non-first fragments may match

    def guards(self) -> list[Pred]:
        out: list[Pred] = []
        if self.kind != "any":
            out.append(Test("proto", IntSet.values(self.protocols, _PROTO_TOP)))
        if not self.fragments:
            out.append(Test("fragment", IntSet.single(0, 1)))
        return out


def _classes(reads: Sequence[_Read], family: Family, present: set[int]) -> list[_Class]:
    """The protocol classes a packet can fall in, limited to protocols some entry has."""
    dims = {r.dim for r in reads}
    if "bport" in dims:
        return [_Class("l4", (6, 17), fragments=False)]
    if "port" not in dims:
        return [_Class("any")]
    v6 = family is Family.INET6
    l4 = tuple(sorted(present & set(L4_PROTOCOLS)))
    other = tuple(sorted(present - set(L4_PROTOCOLS) - set(ICMP_PROTOCOLS)))
    out = [_Class("l4", l4, fragments=False)]
    if v6:
        out.append(_Class("icmp", tuple(sorted(present & set(ICMP_PROTOCOLS))), fragments=False))
    else:  # IPv4 refuses fragments for ICMP, not for ICMPv6 (ip_set_get_ip4_port)
        out += [_Class("icmp", (1,) if 1 in present else (), fragments=False),
                _Class("icmp", (58,) if 58 in present else ())]
    out.append(_Class("other", other, fragments=not v6))
    return [c for c in out if c.protocols]


def _protocols(index: Any, dims: Sequence[str]) -> set[int]:
    """The protocols of the port dimension of the stored entries."""
    if "port" not in dims:
        return set()
    at = sum(WIDTHS[d] for d in dims[:list(dims).index("port")])
    return {key[at] for key in index.slots}


class _Lookup:
    """The kernel's lookup for one protocol class: decided on known fields, or exact."""

    def __init__(self, ipset: Any, reads: Sequence[_Read], kind: _Class, return_nomatch: bool,
                 ctx: CompileContext, label: str) -> None:
        self.ipset = ipset
        self.reads = reads
        self.kind = kind
        self.return_nomatch = return_nomatch
        self.family = ctx.family
        self.label = label
        self.key = ctx.key(f"set:{ipset.name}")
        self._exact: Pred | None = None

    def fields(self) -> tuple[str, ...]:
        out: list[str] = []
        for r in self.reads:
            if r.dim == "port":
                out.append("proto")
                if self.kind.kind == "l4":
                    out.append(r.field)
                elif self.kind.kind == "icmp":
                    out += ["icmp_type", "icmp_code"]
            else:
                out.append(r.field)
        return tuple(out)

    def decide(self, values: tuple[int | str, ...]) -> bool:
        query: list[object] = []
        it = iter(values)
        for r in self.reads:
            if r.dim == "port":
                proto = next(it)
                if self.kind.kind == "l4":
                    port = next(it)
                elif self.kind.kind == "icmp":
                    kind, code = next(it), next(it)
                    assert isinstance(kind, int) and isinstance(code, int)
                    port = kind << 8 | code
                else:
                    port = 0
                query += [proto, port]
            elif r.dim == "bport":
                query += [None, next(it)]
            else:
                query.append(next(it))
        index = self.ipset.index
        return bool(index.contains(tuple(query), return_nomatch=self.return_nomatch,
                                   resolver=None))

    def exact(self) -> Pred:
        if self._exact is None:
            try:
                self._exact = exact_membership(
                    self.ipset.index, self.reads, self.kind.kind, self.kind.protocols,
                    self.return_nomatch, self.family, self.label)
            except ValueError:  # an address mask with too many holes to enumerate
                self._exact = Assume(self.key, "set", self.label, _negated(self.label))
        return self._exact


def address_cover(blocks: Sequence[tuple[IntSet, bool]], bits: int) -> IntSet:
    """The addresses whose most specific containing block is positive.

    Blocks are CIDR networks (any two are nested or disjoint), each positive or not (a
    nomatch entry): exactly what the kernel's lookup, trying the set's prefixes from the
    longest, decides for every address.
    """
    spans = [(b.ranges[0][0], b.ranges[0][1], positive) for b, positive in blocks]
    return IntSet([r for part, positive in regions(spans) if positive for r in part],
                  (1 << bits) - 1)
