"""What ipset would print after restoring a dump: defaults filled in, entries as stored.

`parse_ipset` keeps a restore file as written; `canonical` gives the sets the kernel would
hold after `ipset restore` of it, in the form `ipset save` prints them:

* header: the family (inet unless said), hashsize rounded up to a power of two (at least 64,
  1024 when not given), maxelem 65536, bucketsize 12 (kept within 2..12 and even), markmask
  0xffffffff, list:set size 8 (at least 4); a netmask equal to the host length and
  `forceadd` are dropped because ipset 7.17 does not print them. A missing `initval` is
  random in the kernel and stays unknown (None).
* entries: ranges and CIDRs on host types become one entry per address, port or CIDR block,
  netmask / bitmask / markmask applied; entries of a set with timeout get its default
  timeout, with counters `packets 0 bytes 0`; empty skbinfo values are dropped.
* order: bitmap entries by address or port, as the kernel lists them; hash entries in the
  order they were added (the kernel's own order follows its hash and cannot be known);
  list:set in list order.
"""

from __future__ import annotations

from dataclasses import replace

from .index import MembershipIndex
from .nodes import Header, IpPart, IpSet, IpsetDump, Member, PortPart
from .settypes import SetType
from .values import host_bits

__all__ = ["canonical", "canonical_header", "canonical_set"]

_U32 = 0xFFFFFFFF


def canonical_header(settype: SetType, header: Header) -> Header:
    changes: dict[str, object] = {"forceadd": False}
    family = header.family or "inet"
    if settype.families:
        changes["family"] = family
    if settype.is_hash:
        size = header.hashsize if header.hashsize is not None else 1024
        rounded = 64
        while rounded < size:
            rounded <<= 1
        changes["hashsize"] = rounded
        changes["maxelem"] = header.maxelem if header.maxelem is not None else 65536
        bucket = header.bucketsize if header.bucketsize is not None else 12
        bucket = min(max(bucket, 2), 12)
        changes["bucketsize"] = bucket + (bucket & 1)
    if "markmask" in settype.options:
        changes["markmask"] = header.markmask if header.markmask is not None else _U32
    if settype.name == "list:set":
        changes["size"] = max(header.size if header.size is not None else 8, 4)
    if header.netmask is not None:
        limit = 32 if settype.is_bitmap else host_bits(family)
        if header.netmask == limit:
            changes["netmask"] = None
    return replace(header, **changes)  # type: ignore[arg-type]


def _entry_options(member: Member, header: Header) -> Member:
    changes: dict[str, object] = {}
    if header.timeout is not None and member.timeout is None:
        changes["timeout"] = header.timeout
    if header.counters:
        changes["packets"] = member.packets or 0
        changes["bytes"] = member.bytes or 0
    if member.skbmark is not None and member.skbmark == (0, 0):
        changes["skbmark"] = None
    if member.skbprio == (0, 0):
        changes["skbprio"] = None
    if member.skbqueue == 0:
        changes["skbqueue"] = None
    return member.with_options(**changes) if changes else member


def canonical_set(ipset: IpSet) -> IpSet:
    header = canonical_header(ipset.settype, ipset.header)
    index = MembershipIndex(ipset.settype, ipset.header, lambda slot: members[slot])
    index.maxelem = None
    members: list[Member] = []
    entries: dict[tuple[object, ...], Member] = {}
    for member in ipset.members:
        if ipset.type == "list:set":
            entries[(member.parts[0],)] = member
            continue
        for key, single in index.entries(member):
            if ipset.type == "bitmap:ip,mac":
                old = entries.get(key)
                if old is not None and len(old.parts) == 2 and len(single.parts) == 1:
                    continue  # re-adding without a MAC keeps the MAC
            entries[key] = single
    members = [_entry_options(m, header) for m in entries.values()]
    if ipset.settype.is_bitmap:
        members.sort(key=_bitmap_order)
    return ipset.replace(header=header, members=tuple(members))


def _bitmap_order(member: Member) -> int:
    part = member.parts[0]
    assert isinstance(part, IpPart | PortPart)
    return part.value if isinstance(part, IpPart) else part.port


def canonical(dump: IpsetDump) -> IpsetDump:
    """The dump as ipset would print it after restoring it (see the module docstring)."""
    return IpsetDump(tuple(canonical_set(s) for s in dump), dump.style)
