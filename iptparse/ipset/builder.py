"""A set while a dump is being read, and the fast path's number crunching.

`SetBuilder` holds what the parser knows about one set so far: its header, its members
(Member objects, or plain (line, address, prefix) tuples from the fast path, None where one
was deleted) and the kernel storage model that refuses what ipset would refuse. `build`
turns it into the immutable IpSet, handing over the storage as the set's membership index
when nothing was deleted.
"""

from __future__ import annotations

import array
import functools
import operator
import re
import socket
import sys
from dataclasses import dataclass, field
from typing import Any

from .index import MembershipIndex
from .nodes import NO_OPTIONS, Header, IpPart, IpSet, Member, SetPart, _LazyMembers
from .settypes import SetType

__all__ = ["FAST_TERMINALS", "MASKS", "PREFIXES", "SetBuilder", "fast_patterns", "ipv4_values"]

#: The grammar's terminals the fast path is built from (tests/ipset/test_grammar.py keeps
#: them equal): an IPv4 address in numbers-and-dots form (inet_aton, which reads that form
#: exactly as ipset does, refuses what is not one), a prefix length, a set name.
FAST_TERMINALS = {
    "DOTTED": r"[0-9.]+",
    "PREFIX": r"[0-9]{1,2}",
    "SETNAME": r'[^\s"]{1,31}',
}
_DOTTED = FAST_TERMINALS["DOTTED"]
_PREFIX = FAST_TERMINALS["PREFIX"]
#: prefix lengths as ipset's strtoul reads them (base 0: "010" would be 8, "08" an error);
#: what is not here (08, 09, 33...) takes the general path for its error
PREFIXES = {"": 32, **{str(n): n for n in range(1, 33)}, "00": 0, "0": 0,
            **{f"0{n}": n for n in range(1, 8)}}
MASKS = [(0xFFFFFFFF << (32 - c)) & 0xFFFFFFFF for c in range(33)]
_first = operator.itemgetter(0)
_NATIVE_ORDER_SWAP = sys.byteorder == "little"
_U32_CODE = next(code for code in "IL" if array.array(code).itemsize == 4)


def ipv4_values(found: list[tuple[str, str]]) -> list[int]:
    """The addresses of a run as integers, converted in C; stops before the first address
    inet_aton refuses (the general path reports it)."""
    try:
        packed = b"".join(map(socket.inet_aton, map(_first, found)))
    except OSError:
        values = []
        for ip, _ in found:
            try:
                values.append(int.from_bytes(socket.inet_aton(ip), "big"))
            except OSError:
                break
        return values
    numbers = array.array(_U32_CODE)
    numbers.frombytes(packed)
    if _NATIVE_ORDER_SWAP:
        numbers.byteswap()
    return numbers.tolist()


@functools.lru_cache(maxsize=4)
def fast_patterns(named: bool, net: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """For the fast path: a run of `add NAME a.b.c.d[/n]` lines, all of one set (`named`; else
    member lines of a listing), and such a line with address and prefix captured. hash:ip
    takes no prefix (`/n` adds a whole range there).

    The set's name is matched once and back-referenced, not written into the pattern: a
    Calico node has thousands of sets, and compiling two patterns per set was most of the
    time its `ipset save` took to read."""
    member = "[0-9./]+" if net else _DOTTED
    run = rf"add (\S+) {member}\n(?:add \1 {member}\n)*" if named else rf"(?:{member}\n)+"
    captured = rf"({_DOTTED})(?:/({_PREFIX}))?" if net else rf"({_DOTTED})()"
    prefix = r"add \S+ " if named else ""
    return re.compile(run), re.compile(rf"^{prefix}{captured}$", re.M)


@dataclass
class SetBuilder:
    """A set while the text is being replayed."""

    name: str
    settype: SetType
    header: Header
    line: int
    index: MembershipIndex = field(init=False)
    items: list[Member | tuple[int, int, int] | None] = field(default_factory=list)
    deleted: bool = False
    revision: int | None = None
    size_in_memory: int | None = None
    references: int | None = None
    entries: int | None = None
    seen_fields: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.index = MembershipIndex(self.settype, self.header, self.member_at)

    def member_at(self, slot: int) -> Member:
        item = self.items[slot]
        assert item is not None
        return item if isinstance(item, Member) else _decode_net(item)

    @property
    def fast(self) -> bool:
        """Whether `a.b.c.d[/n]` lines of this set may take the fast path."""
        if self.header.family not in (None, "inet"):
            return False
        if self.settype.name == "hash:net":
            return True
        return self.settype.name == "hash:ip" and self.index.addr_mask == 0xFFFFFFFF

    def build(self, final: bool = True) -> IpSet:
        """The finished set; `final=False` for a snapshot while replaying (test, del)."""
        items: list[Any] = self.items
        if self.deleted or not final:
            items = [i for i in items if i is not None]
        if self.settype.name == "list:set":
            by_name = {}
            for item in items:
                assert isinstance(item, Member)
                part = item.parts[0]
                assert isinstance(part, SetPart)
                by_name[part.name] = item
            items = [by_name[n] for n in self.index.order]
        lazy = _LazyMembers(items, _decode_item)
        ipset = IpSet(self.name, self.settype.name, self.header, revision=self.revision,
                      size_in_memory=self.size_in_memory, references=self.references,
                      entries=self.entries, line=self.line, _lazy=lazy)
        if final and not self.deleted and self.settype.name != "list:set":
            self.index.member_at = lazy_member_at(ipset)
            self.index.maxelem = None
            object.__setattr__(ipset, "_index", self.index)
        return ipset


def _decode_net(item: tuple[int, int, int]) -> Member:
    return Member((IpPart(item[1], item[2]),), NO_OPTIONS, item[0])


def _decode_item(item: Member | tuple[int, int, int]) -> Member:
    return item if isinstance(item, Member) else _decode_net(item)


def lazy_member_at(ipset: IpSet) -> Any:
    """A slot reader for an index handed to a set: decode one member without decoding all."""

    def member_at(slot: int) -> Member:
        lazy = ipset._lazy
        if lazy is None:
            return ipset.members[slot]
        return lazy.decode(lazy.raw[slot])

    return member_at
