"""What SET --add-set / --del-set do to a set, for one packet: the kernel's kadt functions.

The kernel (xt_set.c set_target_v3 → ip_set_add / ip_set_del → the type's kadt) builds the
element from the packet as a `-m set` lookup builds its key (`_a_ipset`), with differences that
change what a later lookup finds:
- a net dimension takes the prefix length of the most specific network the set holds in that
  dimension (`INIT_CIDR(h->nets[0].cidr[n], HOST_MASK)`): a packet from 1.2.3.4 added to a
  hash:net holding 192.168.0.0/16 and 172.16.1.0/24 adds 1.2.3.0/24;
- an element already there is left as it is, unless --exist is given: then it is replaced, and
  a nomatch entry becomes one that matches;
- deleting an element that is not there changes nothing; neither does a packet whose key the
  type cannot form (a non-first fragment for a port, an address outside a bitmap's range, a
  set of the other family, fewer directions than dimensions), nor an add to a full set.
Checked against the kernel in tests/extensions/test_semantics_setupdate.py.

An update is applied exactly when every field its key reads is exact on the path. A key not
known exactly still tells what a later lookup of the same key finds, for the types whose
element is the key or its network (`SameKey`: an add makes it found, a delete gone). Otherwise,
and for a destination MAC, an interface dimension or a range entry only partly deleted,
`update_sets` gives None: the walk then treats the set's contents as unknown. A list:set
passes the update to its members in order, until one takes it without an error (an element
already there is one, without --exist).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..domain import IntSet
from ..ipset.index import DEFAULT_MAXELEM
from ..ipset.nodes import IpPart, IpSet, MacPart, MarkPart, Member, Part, PortPart
from ..ipset.testcmd import element_values
from ..ipset.values import host_bits
from ..logic import FALSE, TRUE, And, Not, Or, Pred, Test
from ..nodes import Family
from ..semantics import FieldReader, SameKey, SetsView
from ._a_ipset import ICMP_PROTOCOLS, L4_PROTOCOLS

__all__ = ["KernelUpdate", "update_sets"]

Op = Literal["add", "del"]


class _Unknown(Exception):
    """A key field is not exact, or the update is one iptparse does not model."""


class _NoChange(Exception):
    """The kernel's kadt refuses the key: the set stays as it is."""


@dataclass(frozen=True, slots=True)
class KernelUpdate:
    """`update_sets` with a rule's own arguments, as `SetUpdate.apply`: a value, so that a
    rule compiled again (against a path's sets) has an effect equal to the first."""

    op: Op
    name: str
    dirs: tuple[str, ...]
    exist: bool
    family: Family

    def __call__(self, sets: SetsView, read: FieldReader) -> SetsView | SameKey | None:
        return update_sets(self.op, self.name, self.dirs, self.exist, self.family, sets, read)


def update_sets(op: Op, name: str, dirs: Sequence[str], exist: bool, family: Family,
                sets: SetsView, read: FieldReader) -> SetsView | SameKey | None:
    """The sets after the update (`sets` itself when nothing changes); for a key not known
    exactly, what a lookup of the same key finds afterwards (`SameKey`), or None."""
    ipset = sets.get(name)
    if ipset is None:
        return sets  # no ipset dump, or a set it lacks: the rule's own note says so
    assert isinstance(ipset, IpSet)
    if ipset.type == "list:set":
        return _update_list(ipset, op, dirs, exist, family, sets, read)
    try:
        changed, _ = _update(ipset, op, dirs, exist, family, read)
    except _Unknown:
        return _same_key(ipset, op, tuple(dirs), family)
    return sets if changed is ipset else {**sets, name: changed}


def _update_list(ipset: IpSet, op: Op, dirs: Sequence[str], exist: bool, family: Family,
                 sets: SetsView, read: FieldReader) -> SetsView | None:
    """list:set (list_set_kadd / list_set_kdel): the member sets in order, until one takes
    the update without an error. An element already in a member is an error there without
    --exist, so the add goes on to the next member."""
    for name in ipset.index.order:
        member = sets.get(name)
        if member is None:
            return None  # the kernel has it; the dump does not say what it holds
        try:
            changed, done = _update(member, op, dirs, exist, family, read)
        except _Unknown:
            return None
        if done:
            return sets if changed is member else {**sets, name: changed}
    return sets


def _update(ipset: IpSet, op: Op, dirs: Sequence[str], exist: bool, family: Family,
            read: FieldReader) -> tuple[IpSet, bool]:
    """The set after the update, and whether the kernel reports success (a list:set stops
    at the first member that does)."""
    try:
        parts = _element(ipset, dirs, family, read)
    except _NoChange:
        return ipset, False
    return _added(ipset, parts, exist) if op == "add" else _deleted(ipset, parts)


#: the types whose element is the packet's key itself (no network of the set's choosing)
_EXACT_TYPES = ("hash:ip", "bitmap:ip", "hash:ip,port", "hash:ip,port,ip", "bitmap:port")
#: the types whose element is the key's network: found by a later lookup of that key, as
#: long as no nomatch entry can be more specific
_NET_TYPES = ("hash:net", "hash:net,port", "hash:ip,port,net")
_ICMP_FIELDS = ("icmp_type", "icmp_code")


def _same_key(ipset: IpSet, op: Op, dirs: tuple[str, ...], family: Family
              ) -> SameKey | None:
    """An update whose key is not exact: what a later lookup of that very key finds. An add
    makes it found unless the kernel refuses the element (outside a bitmap's range, hash:ip's
    null element, no port in the packet, a full set); a delete makes it gone (for the types
    whose element is the key itself). A network type holds the key's network, found unless
    a nomatch entry is more specific, so it is only this simple without nomatch entries."""
    settype = ipset.settype
    name = settype.name
    if name not in _EXACT_TYPES + _NET_TYPES:
        return None
    if name in _NET_TYPES and (op == "del" or ipset.index.nomatch_slots):
        return None  # (a delete takes the most specific network; a wider one may hold it)
    dirs = dirs[:settype.dimension]
    index = ipset.index
    bits = host_bits(ipset.family or "inet")
    fields: dict[str, None] = {}
    found: list[Pred] = []
    for dim, side in zip(settype.dims, dirs, strict=True):
        if dim in ("ip", "net"):
            fields[side] = None
            if name == "bitmap:ip":
                found.append(Test(side, IntSet.range(index.first, index.last, (1 << bits) - 1),
                                  f"{side} in the range of ipset {ipset.name}",
                                  f"{side} outside the range of ipset {ipset.name}"))
            elif name == "hash:ip":
                host = _contiguous_host(index.addr_mask, bits)
                if host is None:
                    return None  # a bitmask: the null element is not one range
                found.append(Not(Test(side, IntSet.range(0, host, (1 << bits) - 1))))
        else:  # port, bport
            port = "sport" if side == "src" else "dport"
            fields.update(dict.fromkeys(("proto", "fragment", port, *_ICMP_FIELDS)))
            found.append(_port_taken(dim, port, family, index))
    if op == "add":
        maxelem = ipset.header.maxelem if ipset.header.maxelem is not None else DEFAULT_MAXELEM
        if settype.is_hash and index.count >= maxelem:
            found = [FALSE]
    pred: Pred = TRUE if not found else found[0] if len(found) == 1 else And(tuple(found))
    return SameKey(op, dirs, tuple(fields), pred)


def _port_taken(dim: str, port: str, family: Family, index: Any) -> Pred:
    """Where the kernel forms the port part of a key (`_port`): bitmap:port takes TCP and
    UDP ports in its range of whole packets; the others every protocol but in a non-first
    fragment (of any IPv6 packet; of an IPv4 one with ports or ICMP), and IPv4 protocol 0."""
    whole = Test("fragment", IntSet.single(0, 1))
    if dim == "bport":
        return And((Test("proto", IntSet.values((6, 17), 255)), whole,
                    Test(port, IntSet.range(index.first, index.last, 0xFFFF))))
    if family is Family.INET6:
        return whole
    fragile = IntSet.values((*L4_PROTOCOLS, 1), 255)
    return And((Not(Test("proto", IntSet.single(0, 255))),
                Or((Not(Test("proto", fragile)), whole))))


def _contiguous_host(mask: int, bits: int) -> int | None:
    """The largest address a contiguous netmask maps to 0, None for a bitmask."""
    host = ~mask & ((1 << bits) - 1)
    return host if host & (host + 1) == 0 else None


def _exact(read: FieldReader, field: str) -> Any:
    value = read(field).single_value()
    if value is None:
        raise _Unknown
    return value


def _element(ipset: IpSet, dirs: Sequence[str], family: Family,
             read: FieldReader) -> tuple[Part, ...]:
    """The element kadt makes of the packet, as the ipset model stores one."""
    settype = ipset.settype
    if settype.name == "bitmap:ip,mac":
        raise _Unknown
    wanted = "inet6" if family is Family.INET6 else "inet"
    if ipset.family not in (None, wanted) and settype.name != "bitmap:port":
        raise _NoChange
    if len(dirs) < settype.dimension:
        raise _NoChange
    index = ipset.index
    bits = host_bits(ipset.family or wanted)
    parts: list[Part] = []
    net = 0
    for i, dim in enumerate(settype.dims):
        src = dirs[i] == "src"
        if dim in ("ip", "net"):
            value = _exact(read, "src" if src else "dst")
            cidr = bits
            if dim == "net":
                held = index.cidrs[net]
                net += 1
                cidr = max(held) if held else bits
                value &= ((1 << bits) - 1) ^ ((1 << (bits - cidr)) - 1)
            elif settype.is_bitmap and not index.first <= value <= index.last:
                raise _NoChange
            elif settype.name == "hash:ip" and value & index.addr_mask == 0:
                raise _NoChange  # a null element
            parts.append(IpPart(value, cidr))
        elif dim in ("port", "bport"):
            parts.append(_port(dim, src, family, read, index))
        elif dim == "mac":
            if not src:
                raise _Unknown  # the destination MAC is no packet field here
            if _exact(read, "iif") == "":
                raise _NoChange  # sent by this host: no MAC header
            mac = _exact(read, "src_mac")
            if mac == 0:
                raise _NoChange
            parts.append(MacPart(mac))
        elif dim == "mark":
            parts.append(MarkPart(_exact(read, "mark") & index.mark_mask))
        else:  # iface: physdev flags and unnamed interfaces are not modelled
            raise _Unknown
    return tuple(parts)


def _port(dim: str, src: bool, family: Family, read: FieldReader, index: Any) -> PortPart:
    """The port dimension as ip_set_get_ip_port reads it (see `_a_ipset._classes`)."""
    proto = _exact(read, "proto")
    fragment = _exact(read, "fragment")
    v6 = family is Family.INET6
    if dim == "bport":
        if proto not in (6, 17) or fragment:
            raise _NoChange
        port = _exact(read, "sport" if src else "dport")
        if not index.first <= port <= index.last:
            raise _NoChange
        return PortPart(None, port)
    if proto in L4_PROTOCOLS:
        if fragment:
            raise _NoChange
        return PortPart(proto, _exact(read, "sport" if src else "dport"))
    if proto in ICMP_PROTOCOLS:
        if fragment and (v6 or proto == 1):
            raise _NoChange
        return PortPart(proto, _exact(read, "icmp_type") << 8 | _exact(read, "icmp_code"))
    if (fragment and v6) or proto == 0:
        raise _NoChange
    return PortPart(proto, 0)


def _held(ipset: IpSet, parts: Sequence[Part]) -> Member | None:
    """The stored entry the kernel finds equal to the element, if any."""
    values, cidrs = element_values(ipset.settype, parts)
    index = ipset.index
    slot = index.find_slot(values, cidrs, exact=True) if index.net_dims else \
        index.find_slot(values)
    return None if slot is None else index.member_at(slot)


def _added(ipset: IpSet, parts: tuple[Part, ...], exist: bool) -> tuple[IpSet, bool]:
    found = _held(ipset, parts)
    if found is not None:
        if not exist:
            return ipset, False  # there already: an error (a nomatch entry stays one)
        if not found.nomatch:
            return ipset, True  # refreshed
        if _is_range(ipset, found):
            raise _Unknown
        members = tuple(found.with_options(nomatch=False) if m == found else m
                        for m in ipset.members)
        return ipset.replace(members=members), True
    index = ipset.index
    maxelem = ipset.header.maxelem if ipset.header.maxelem is not None else DEFAULT_MAXELEM
    if ipset.settype.is_hash and index.count >= maxelem:
        if ipset.header.forceadd:
            raise _Unknown  # the kernel evicts an element it picks at random
        return ipset, False
    return ipset.replace(members=(*ipset.members, Member(parts))), True


def _deleted(ipset: IpSet, parts: tuple[Part, ...]) -> tuple[IpSet, bool]:
    found = _held(ipset, parts)
    if found is None:
        return ipset, False
    if _is_range(ipset, found):
        raise _Unknown  # the kernel holds the range as several elements and deletes one
    return ipset.replace(members=tuple(m for m in ipset.members if m != found)), True


def _is_range(ipset: IpSet, member: Member) -> bool:
    """Whether the kernel holds the entry as several elements (a range, a network in an
    address dimension)."""
    bits = host_bits(ipset.family or "inet")
    return any((isinstance(p, IpPart | PortPart) and p.last is not None)
               or (isinstance(p, IpPart) and dim == "ip" and p.cidr < bits)
               for dim, p in zip(ipset.settype.dims, member.parts, strict=True))
