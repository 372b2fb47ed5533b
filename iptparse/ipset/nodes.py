"""The typed AST of ipset dumps: sets, their create options, and their members.

A member is a tuple of typed parts, one per dimension of its set (hash:ip,port has an IpPart
and a PortPart), plus the per-entry options ipset prints after it. Parts hold what the text
said, already in ipset's canonical form where ipset itself canonicalizes while parsing (a
`/32` on an IPv4 address is the host; `10.1.2.3/8` is the network 10.0.0.0/8); what only the
kernel does when storing (netmask, ranges split into entries) is left to `normalize` and to
the membership index, so a restore file prints back the way it was written.

`IpSet` is not a dataclass: dumps of 200,000 members must parse in under a second, so members
read by the fast path are kept as text and turned into `Member` objects only when someone asks
for them. It is immutable all the same, and compares by value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, overload

from .settypes import SET_TYPES, SetType

if TYPE_CHECKING:
    from .index import MembershipIndex

__all__ = [
    "NO_OPTIONS",
    "EntryOptions",
    "Header",
    "IfacePart",
    "IpPart",
    "IpSet",
    "IpsetDump",
    "MacPart",
    "MarkPart",
    "Member",
    "Part",
    "PortPart",
    "SetPart",
]


@dataclass(frozen=True, slots=True)
class IpPart:
    """An address dimension: `value` with prefix length `cidr` (the host length when no
    prefix was written), or the range `value`-`last` when written FROM-TO."""

    value: int
    cidr: int
    last: int | None = None


@dataclass(frozen=True, slots=True)
class PortPart:
    """A port dimension. `proto` is None for bitmap:port, which does not store protocols;
    for ICMP and ICMPv6 `port` is `type << 8 | code`, the kernel's encoding."""

    proto: int | None
    port: int
    last: int | None = None


@dataclass(frozen=True, slots=True)
class MacPart:
    value: int


@dataclass(frozen=True, slots=True)
class IfacePart:
    """An interface name; `physdev` marks a bridge port (`physdev:eth0`)."""

    name: str
    physdev: bool = False


@dataclass(frozen=True, slots=True)
class MarkPart:
    value: int


@dataclass(frozen=True, slots=True)
class SetPart:
    """A list:set member: the name of another set."""

    name: str


Part = IpPart | PortPart | MacPart | IfacePart | MarkPart | SetPart


@dataclass(frozen=True, slots=True)
class EntryOptions:
    """The options printed after an entry. `timeout` is the remaining time ipset listed
    (members with a timeout are present); `skbmark` is (mark, mask), `skbprio` (major,
    minor)."""

    timeout: int | None = None
    nomatch: bool = False
    wildcard: bool = False
    packets: int | None = None
    bytes: int | None = None
    comment: str | None = None
    skbmark: tuple[int, int] | None = None
    skbprio: tuple[int, int] | None = None
    skbqueue: int | None = None


NO_OPTIONS = EntryOptions()


@dataclass(frozen=True, slots=True)
class Member:
    """One entry: its parts, one per dimension, and its options (read them as
    `member.timeout`, `member.nomatch`, ...). `line` is where it was read."""

    parts: tuple[Part, ...]
    options: EntryOptions = NO_OPTIONS
    line: int | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, *parts: Part, line: int | None = None, **options: Any) -> Member:
        """`Member.of(IpPart(...), timeout=5)`: parts and options in one call."""
        return cls(tuple(parts), EntryOptions(**options) if options else NO_OPTIONS, line)

    def with_options(self, **changes: Any) -> Member:
        return replace(self, options=replace(self.options, **changes))

    @property
    def timeout(self) -> int | None:
        return self.options.timeout

    @property
    def nomatch(self) -> bool:
        return self.options.nomatch

    @property
    def wildcard(self) -> bool:
        return self.options.wildcard

    @property
    def packets(self) -> int | None:
        return self.options.packets

    @property
    def bytes(self) -> int | None:
        return self.options.bytes

    @property
    def comment(self) -> str | None:
        return self.options.comment

    @property
    def skbmark(self) -> tuple[int, int] | None:
        return self.options.skbmark

    @property
    def skbprio(self) -> tuple[int, int] | None:
        return self.options.skbprio

    @property
    def skbqueue(self) -> int | None:
        return self.options.skbqueue


@dataclass(frozen=True, slots=True)
class Header:
    """Create options. None (or False) means not given; `normalize` fills in what the kernel
    would choose. `range` is (first, last) for bitmap types; `bitmask` an address mask."""

    family: str | None = None
    range: tuple[int, int] | None = None
    netmask: int | None = None
    bitmask: int | None = None
    markmask: int | None = None
    hashsize: int | None = None
    maxelem: int | None = None
    size: int | None = None
    timeout: int | None = None
    counters: bool = False
    comment: bool = False
    forceadd: bool = False
    skbinfo: bool = False
    bucketsize: int | None = None
    initval: int | None = None


class _LazyMembers:
    """Members the parser's fast path kept as plain numbers; decoded on first use."""

    __slots__ = ("decode", "raw")

    def __init__(self, raw: Sequence[Any], decode: Callable[[Any], Member]) -> None:
        self.raw = raw
        self.decode = decode

    def build(self) -> tuple[Member, ...]:
        return tuple(map(self.decode, self.raw))


_MEMBERS_UNSET: tuple[Member, ...] = ()


class IpSet:
    """One set: name, type, create options and members, plus what `ipset list` showed about
    it (`revision`, `size_in_memory`, `references`, `entries` = "Number of entries"), None
    when the text did not say.

    Membership: `contains(*values)` answers as the kernel's set match does for a packet
    with those values, `lookup(*values)` gives the member that decided, `test(text)` answers
    as `ipset test` does for an entry written as text (see iptparse.ipset.index).
    """

    __slots__ = ("_index", "_lazy", "_members", "entries", "header", "line", "name",
                 "references", "revision", "settype", "size_in_memory")

    name: str
    settype: SetType
    header: Header
    revision: int | None
    size_in_memory: int | None
    references: int | None
    entries: int | None
    line: int | None
    _members: tuple[Member, ...]
    _lazy: _LazyMembers | None
    _index: MembershipIndex | None

    def __init__(
        self,
        name: str,
        type: str,
        header: Header | None = None,
        members: Sequence[Member] = (),
        *,
        revision: int | None = None,
        size_in_memory: int | None = None,
        references: int | None = None,
        entries: int | None = None,
        line: int | None = None,
        _lazy: _LazyMembers | None = None,
    ) -> None:
        settype = SET_TYPES.get(type)
        if settype is None:
            raise ValueError(f"unknown set type {type!r}")
        init = object.__setattr__
        init(self, "name", name)
        init(self, "settype", settype)
        init(self, "header", header if header is not None else Header())
        init(self, "_members", tuple(members) if _lazy is None else _MEMBERS_UNSET)
        init(self, "_lazy", _lazy)
        init(self, "revision", revision)
        init(self, "size_in_memory", size_in_memory)
        init(self, "references", references)
        init(self, "entries", entries)
        init(self, "line", line)
        init(self, "_index", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"IpSet is immutable (cannot set {name!r}); use .replace()")

    @property
    def type(self) -> str:
        return self.settype.name

    @property
    def members(self) -> tuple[Member, ...]:
        lazy = self._lazy
        if lazy is not None:
            object.__setattr__(self, "_members", lazy.build())
            object.__setattr__(self, "_lazy", None)
        return self._members

    def raw_items(self) -> Sequence[Any] | None:
        """The parser's undecoded member list (Members and fast-path number tuples), or
        None once the members are decoded; for printers that can read the numbers."""
        lazy = self._lazy
        return lazy.raw if lazy is not None else None

    def __len__(self) -> int:
        """The number of members (without decoding lazily kept ones)."""
        lazy = self._lazy
        return len(lazy.raw) if lazy is not None else len(self._members)

    @property
    def family(self) -> str | None:
        """"inet" or "inet6"; None for family-less types (hash:mac, list:set)."""
        if not self.settype.families:
            return None
        return self.header.family or "inet"

    @property
    def family_name(self) -> str:
        """The family as ipset names it; "unspec" for hash:mac and list:set, which the kernel
        matches against packets of either family."""
        return self.family or "unspec"

    @property
    def dimension(self) -> int:
        return self.settype.dimension

    def replace(self, **changes: Any) -> IpSet:
        """A copy with some fields changed (`members`, `header`, `name`, `type`, ...)."""
        fields: dict[str, Any] = {
            "name": self.name, "type": self.type, "header": self.header,
            "members": None, "revision": self.revision, "size_in_memory": self.size_in_memory,
            "references": self.references, "entries": self.entries, "line": self.line,
        }
        fields.update(changes)
        lazy = None
        if fields["members"] is None:
            if self._lazy is not None and fields["type"] == self.type \
                    and fields["header"] == self.header:
                lazy = self._lazy
                fields["members"] = ()
            else:
                fields["members"] = self.members
        return IpSet(**fields, _lazy=lazy)

    def _key(self) -> tuple[object, ...]:
        return (self.name, self.type, self.header, self.members, self.revision,
                self.size_in_memory, self.references, self.entries)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IpSet):
            return NotImplemented
        return self is other or self._key() == other._key()

    def __hash__(self) -> int:
        return hash((self.name, self.type, self.header, self.members))

    def __repr__(self) -> str:
        return (f"IpSet(name={self.name!r}, type={self.type!r}, header={self.header!r}, "
                f"members=<{len(self)} member(s)>)")

    # membership -------------------------------------------------------------------------

    @property
    def index(self) -> MembershipIndex:
        """The membership index, built on first use (see iptparse.ipset.index)."""
        index = self._index
        if index is None:
            from .index import build_index

            index = build_index(self)
            object.__setattr__(self, "_index", index)
        return index

    def contains(self, *values: object, return_nomatch: bool = False,
                 resolver: Callable[[str], IpSet | None] | None = None) -> bool:
        """Whether a packet with these dimension values matches, as the kernel decides."""
        return self.index.contains(values, return_nomatch=return_nomatch, resolver=resolver)

    def lookup(self, *values: object) -> Member | None:
        """The member the kernel's lookup stops at for these values (a nomatch member
        included), or None."""
        return self.index.lookup(values)

    def test(self, entry: str) -> bool:
        """`ipset test SETNAME ENTRY` for this set: True when ipset says "is in set"."""
        from .testcmd import test_entry

        return test_entry(self, entry)

    def __contains__(self, value: object) -> bool:
        values = value if isinstance(value, tuple) else (value,)
        return self.index.contains(values, return_nomatch=False, resolver=None)


@dataclass(frozen=True, slots=True)
class IpsetDump(Sequence[IpSet]):
    """The sets of one dump, in order; `dump["name"]` and `dump.get("name")` find by name.

    `style` is "save" or "list" for the style the text was written in (None when built by
    hand); it is not part of equality.
    """

    sets: tuple[IpSet, ...] = ()
    style: str | None = field(default=None, compare=False)
    _by_name: dict[str, IpSet] = field(default_factory=dict, init=False, repr=False,
                                       compare=False, hash=False)

    def __post_init__(self) -> None:
        for s in self.sets:
            self._by_name.setdefault(s.name, s)

    @overload
    def __getitem__(self, key: int) -> IpSet: ...
    @overload
    def __getitem__(self, key: slice) -> Sequence[IpSet]: ...
    @overload
    def __getitem__(self, key: str) -> IpSet: ...

    def __getitem__(self, key: int | slice | str) -> IpSet | Sequence[IpSet]:
        if isinstance(key, str):
            return self._by_name[key]
        return self.sets[key]

    def get(self, name: str, default: IpSet | None = None) -> IpSet | None:
        return self._by_name.get(name, default)

    def __len__(self) -> int:
        return len(self.sets)

    def __iter__(self) -> Iterator[IpSet]:
        return iter(self.sets)

    def __contains__(self, item: object) -> bool:
        if isinstance(item, str):
            return item in self._by_name
        return item in self.sets

    def names(self) -> list[str]:
        return [s.name for s in self.sets]

    def with_set(self, ipset: IpSet) -> IpsetDump:
        """A copy with `ipset` replacing the set of the same name, or appended."""
        sets = [ipset if s.name == ipset.name else s for s in self.sets]
        if ipset.name not in self._by_name:
            sets.append(ipset)
        return replace(self, sets=tuple(sets))
