"""The set types ipset 7.17 knows: their dimensions, options, and the order ipset prints them.

Everything here was read off the installed tool (`ipset help TYPE`, `ipset help` for the
revisions) and checked against `ipset save`: the header options print in the order the help
lists them, which is why that order is data and not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ALIASES", "SET_TYPES", "Dim", "SetType", "lookup_type"]

#: What one dimension of an element holds.
#: ip: an address (IPv4 ranges and CIDRs allowed when adding); net: an address with a prefix;
#: port: protocol and port; bport: a bare port (bitmap:port); mac; iface; mark; set: a set name.
Dim = Literal["ip", "net", "port", "bport", "mac", "iface", "mark", "set"]

_HASH_TAIL = ("hashsize", "maxelem", "timeout", "counters", "comment", "forceadd", "skbinfo",
              "bucketsize", "initval")
_BITMAP_TAIL = ("timeout", "counters", "comment", "skbinfo")


@dataclass(frozen=True, slots=True)
class SetType:
    """One set type: `dims` in element order, `families` it may hold (empty: family-less,
    like hash:mac and list:set), `options` in print order, `revision` as ipset 7.17 reports
    it, and whether entries may carry `nomatch`."""

    name: str
    dims: tuple[Dim, ...]
    families: tuple[str, ...]
    options: tuple[str, ...]
    revision: int
    nomatch: bool = False

    @property
    def dimension(self) -> int:
        return len(self.dims)

    @property
    def is_hash(self) -> bool:
        return self.name.startswith("hash:")

    @property
    def is_bitmap(self) -> bool:
        return self.name.startswith("bitmap:")

    @property
    def net_dims(self) -> tuple[int, ...]:
        """Indexes of the dimensions matched by prefix (the kernel's cidr lists)."""
        return tuple(i for i, d in enumerate(self.dims) if d == "net")


_BOTH = ("inet", "inet6")

SET_TYPES: dict[str, SetType] = {t.name: t for t in (
    SetType("bitmap:ip", ("ip",), ("inet",), ("range", "netmask", *_BITMAP_TAIL), 3),
    SetType("bitmap:ip,mac", ("ip", "mac"), ("inet",), ("range", *_BITMAP_TAIL), 3),
    SetType("bitmap:port", ("bport",), ("inet",), ("range", *_BITMAP_TAIL), 3),
    SetType("hash:ip", ("ip",), _BOTH, ("family", "hashsize", "maxelem", "netmask", "bitmask",
                                        *_HASH_TAIL[2:]), 6),
    SetType("hash:mac", ("mac",), (), _HASH_TAIL, 1),
    SetType("hash:ip,mac", ("ip", "mac"), _BOTH, ("family", *_HASH_TAIL), 1),
    SetType("hash:ip,mark", ("ip", "mark"), _BOTH, ("family", "markmask", *_HASH_TAIL), 3),
    SetType("hash:ip,port", ("ip", "port"), _BOTH,
            ("family", *_HASH_TAIL, "netmask", "bitmask"), 7),
    SetType("hash:ip,port,ip", ("ip", "port", "ip"), _BOTH, ("family", *_HASH_TAIL), 6),
    SetType("hash:ip,port,net", ("ip", "port", "net"), _BOTH, ("family", *_HASH_TAIL), 8,
            nomatch=True),
    SetType("hash:net", ("net",), _BOTH, ("family", *_HASH_TAIL), 7, nomatch=True),
    SetType("hash:net,net", ("net", "net"), _BOTH,
            ("family", *_HASH_TAIL, "bitmask", "netmask"), 4, nomatch=True),
    SetType("hash:net,port", ("net", "port"), _BOTH, ("family", *_HASH_TAIL), 8, nomatch=True),
    SetType("hash:net,port,net", ("net", "port", "net"), _BOTH, ("family", *_HASH_TAIL), 3,
            nomatch=True),
    SetType("hash:net,iface", ("net", "iface"), _BOTH, ("family", *_HASH_TAIL), 8,
            nomatch=True),
    SetType("list:set", ("set",), (), ("size", *_BITMAP_TAIL), 3),
)}

#: Type names of ipset 4.x still accepted by `ipset create` (iptree/iptreemap are not).
ALIASES: dict[str, str] = {
    "ipmap": "bitmap:ip",
    "macipmap": "bitmap:ip,mac",
    "portmap": "bitmap:port",
    "iphash": "hash:ip",
    "nethash": "hash:net",
    "ipporthash": "hash:ip,port",
    "ipportiphash": "hash:ip,port,ip",
    "ipportnethash": "hash:ip,port,net",
    "setlist": "list:set",
}


def lookup_type(name: str) -> SetType | None:
    """The type of a TYPENAME word: exact names and the old aliases, as ipset matches them."""
    found = SET_TYPES.get(name)
    if found is None and name in ALIASES:
        found = SET_TYPES[ALIASES[name]]
    return found
